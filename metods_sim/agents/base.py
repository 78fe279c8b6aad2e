"""The agent contract.

An agent is a small frozen record built from the protocol's `agent` section and sized for a task; its network
step is a set of Numba functions that `metods_sim.rollout` fuses with the task's, as globals of one kernel per
(task class, agent class), and a NumPy step that `rollout_reference` batches. Every agent sees, at step t,
x = [o_t, one-hot a_{t−1}, r_{t−1}] (d_in = obs_size + n_actions + 1) and answers out = [logits, value]
(n_actions + 1); the kernel picks the action and steps the task. On a continuous task (`continuous`: the
MuJoCo bodies) a_{t−1} is the action vector itself and out = [mean, value]: the policy is a Gaussian with that
mean and the learned standard deviations exp(log_std), a block at the end of the genome (`action_entries`).

    params = agent.initial(rng)                  float64 (size,)   the starting genome (agent.layout names it)
    arrays = agent.kernel_arrays(params)         a NamedTuple: arrays with a leading population axis P, and the
                                                 settings the step needs (ints, floats)
    noise  = agent.episode_noise(rng, E)         (E, ...) what is random about an episode for the agent (MetODS's
                                                 sampled W0), drawn up front like the task's rows
Numba, for a block of LANES agents (lanes on the last axis of every buffer):
    state = prepare(arrays, member, episode, noise)   arrays: kernel_arrays as a plain tuple (rollout/kernel.py says
                                                       why); member, episode: int64 (LANES,). Returns the block's
                                                       parameters gathered per lane and its per-episode state,
                                                       allocated once
    act(state, x, out)                           x (d_in, LANES) → out (A+1, LANES); advances the state one step
    ok = finite(state, lane)                     False once the lane's state overflowed or became NaN (diverged)
    record(state, lane, W, v)                    after act: what a recorded step stores, into W (record_shapes[0])
                                                 and v (record_shapes[1]), views of that lane's step
NumPy, for B rows at once (a: the kernel arrays indexed by row, settings as they are):
    state = agent.reference_start(a, noise)      a tuple of (B, ...) arrays, the per-episode state
    out, state, (W, v) = agent.reference_step(a, state, x)   x (B, d_in) → out (B, A+1); W, v as record() writes
                                                 them (None where record_shapes has None)
    record_shapes = (W shape or None, v shape or None)       per step; None: the agent records none

The state tuples of prepare and reference_start hold the same quantities, so that `finite` judges what
`rollout_reference` checks (every state array finite).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numba import njit

from ..fields import Field, choice, number
from ..plasticity.jit import FUSED
from .layout import Layout

# Fields several agents share.
INIT_LOG_STD = number(0.0, "On a continuous task (MuJoCo, Meta-World): the starting log standard deviation of "
                           "every action of the Gaussian policy, σ = exp(init_log_std), the genome's log_std block. "
                           "The gradient trainer learns it from there; ES scores the mean action (action: greedy), "
                           "so there it only matters for action: sample. Unused on a discrete task [ours: 0, σ = 1].")
ACTION = choice("greedy", "Action selection from the logits: greedy (argmax) or sample (softmax) [ours: greedy "
                          "under ES, less fitness noise]. On a MuJoCo task the network's outputs are the mean "
                          "of a Gaussian with learned log_std: greedy takes the mean, sample draws; either is "
                          "clipped to [-1, 1].", ("greedy", "sample"))
DTYPE = choice("float32", "Float type of the rollout kernels (float64 for checks).", ("float32", "float64"))
# the fields a baseline network (rl2, feedforward) has after its size, in this order
BASELINE_FIELDS = {"action": ACTION, "dtype": DTYPE,
                   "init_std": number(1.0, "Initial weights ~ N(0, init_std²/fan_in), biases 0 [ours].", min=0),
                   "init_log_std": INIT_LOG_STD}


@dataclass(frozen=True)
class Agent:
    """Base record; subclasses are dataclasses whose fields are the protocol's `agent` keys."""

    obs_size: int
    n_actions: int
    continuous: bool = field(default=False, kw_only=True)   # the task's actions are vectors (`Task.continuous`)
    # the task's episode length T and the steps between its resets within an episode (Meta-World's rollouts;
    # `Task.rollout_length`), for an agent whose state follows them (PEARL samples z once per rollout)
    max_steps: int = field(default=0, kw_only=True)
    rollout_steps: int = field(default=0, kw_only=True)

    kind: ClassVar[str]
    trainer: ClassVar[str] = ""   # the one trainer kind that trains this agent (pearl: its SAC); "": any accepting it
    FIELDS: ClassVar[dict[str, Field]] = {}   # the protocol's `agent` keys: default, check, doc (`metods_sim.fields`)

    @classmethod
    def check(cls, section: dict, where, *, task) -> dict:
        """Rules across this agent's fields and the task's class `task`, on a section whose fields each passed
        their own check; raises ProtocolError naming the key through `where(key path)`."""
        return section

    @property
    def inputs(self) -> int:
        """d_in: observation, previous action (one-hot, or the vector), previous reward."""
        return self.obs_size + self.n_actions + 1

    def action_entries(self) -> list:
        """The layout entries of the action distribution: log_std (n_actions,) for a continuous task, else none
        (so that a discrete task's genome is what it always was)."""
        return [("log_std", (self.n_actions,))] if self.continuous else []

    def pack_initial(self, parts: dict) -> np.ndarray:
        """The starting genome (size,) from its parts {name: array}, the Gaussian's log_std block (a continuous
        task's) set to the protocol's init_log_std."""
        if "log_std" in parts:
            parts["log_std"][:] = self.init_log_std
        return self.layout.pack(parts)

    def log_std(self, params) -> np.ndarray:
        """(P, n_actions) log standard deviations of the Gaussian policy; zeros (σ = 1) without a log_std block."""
        params = np.atleast_2d(np.asarray(params, dtype=np.float64))
        if "log_std" not in dict(self.layout.entries):
            return np.zeros((params.shape[0], self.n_actions))
        return np.ascontiguousarray(self.layout.unpack(params)["log_std"])

    def episode_noise(self, rng: np.random.Generator, episodes: int) -> np.ndarray:
        """None by default: (E, 0), and no draw from rng."""
        return np.zeros((episodes, 0), dtype=self.dtype)

    def reference_start(self, a: dict, noise: np.ndarray) -> tuple:
        return ()

    # the four Numba functions, set as staticmethods by each agent
    prepare = act = finite = record = None


@njit(**FUSED)
def always_finite(state, lane):
    """`finite` of an agent whose state cannot diverge (none, or bounded by construction)."""
    return True


@njit(**FUSED)
def record_nothing(state, lane, W, v):
    """`record` of an agent with record_shapes (None, None)."""


@njit(**FUSED)
def record_hidden(state, lane, W, v):
    """`record` of a baseline: v = h, the lane's hidden units (state.h, (H, LANES))."""
    for i in range(state.h.shape[0]):
        v[i] = state.h[i, lane]


@dataclass(frozen=True)
class Baseline(Agent):
    """A baseline network (rl2, feedforward): H hidden units h, its only memory if any, read out as [logits,
    value] = g.weight h + g.bias; a recorded step stores v = h (no W). Its genome is the network's `blocks`, then
    the action distribution's (`action_entries`)."""

    hidden: int
    action: str
    dtype: str
    init_std: float
    init_log_std: float

    ARRAYS: ClassVar[type]   # the NamedTuple kernel_arrays returns: one array per block, in `blocks` order

    def blocks(self) -> tuple:
        """((name, shape), ...), the network's parameters in vector order; a weight's shape is (fan_out, fan_in)."""
        raise NotImplementedError

    @property
    def layout(self) -> Layout:
        return Layout(self.blocks() + tuple(self.action_entries()))

    @property
    def record_shapes(self):
        return None, (self.hidden,)

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        """Weights ~ N(0, init_std²/fan_in), drawn in vector order; biases 0."""
        parts = {name: np.zeros(shape) for name, shape, _ in self.layout.slices()}
        for name, shape in self.blocks():
            if len(shape) == 2:   # a weight (fan_out, fan_in); a bias is a vector
                parts[name] = rng.normal(0.0, self.init_std / np.sqrt(shape[1]), shape)
        return self.pack_initial(parts)

    def kernel_arrays(self, params: np.ndarray):
        parts = self.layout.contiguous(params, self.dtype)
        return self.ARRAYS(*(parts[name] for name, _ in self.blocks()))

    record = staticmethod(record_hidden)
