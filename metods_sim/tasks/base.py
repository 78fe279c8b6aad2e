"""The task contract.

A task is described by a small frozen record built from the protocol's `task` section, and executed by two Numba
functions that know one episode at a time, Gymnasium's reset and step: `metods_sim.rollout` fuses them with an
agent into one kernel and batches them over population × episodes, and `metods_sim.tasks.env.TaskEnv` wraps the
same two functions as a Gymnasium environment. The dynamics are written once.

Per episode, everything random about the task (object patterns, sides, maze layouts, a body's reset noise…) is
drawn up front by `sample` into one float64 row, so that every member of an ES population can face the same
episodes (common random numbers) and a rollout is a pure function of (parameters, rows).

    cfg   = task.config()                          float64 (C,)     the task's numbers, from the protocol
    data  = task.sample(rng, episodes)             float64 (E, D)   one row per episode
    functions, threads = task.engine_handles()     int64 (F,), (threads, H): what the functions need to reach an
                                                   engine outside Numba (a MuJoCo body: the library's functions
                                                   and each thread's MjData, `tasks.physics`); empty otherwise
    state = np.zeros(task.state_size, task.state_dtype)   the episode's state (a grid position, a body)
    reset(cfg, data[e], functions, threads[thread], state, obs)            writes the first observation
    reward, done = step(cfg, data[e], functions, threads[thread], state, a, action, obs, metrics[e], t)
        a: the action's index (discrete tasks), action: float64 (n_actions,) the action vector (one-hot of a on
        a discrete task; a continuous task's, clipped to [-1, 1]); obs: float64 (obs_size,), written with the
        observation after the step; metrics: float64 (n_metrics,), written by the task (e.g. `correct`);
        t: the step's index in the episode

A task whose environment cannot run in Numba (Meta-World's environments other than the fused ones) says
`engine = "stepped"` and gives `environments(rows)`: Gymnasium environments stepped from Python.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np
from numba import njit

from ..fields import Field
from ..plasticity.jit import JIT


@dataclass(frozen=True)
class Task:
    """Base record; subclasses are dataclasses whose fields are the protocol's `task` keys."""

    name: ClassVar[str]
    continuous: ClassVar[bool] = False   # actions are vectors in [-1, 1]^n_actions (the MuJoCo bodies)
    engine: ClassVar[str] = "fused"      # what steps it: fused (its Numba functions, in the rollout kernel),
                                         # physics (the same, with MuJoCo called from them), stepped (Python)
    state_dtype: ClassVar[type] = np.int64   # of the per-episode state (a body's: float64)
    metric: ClassVar[str]        # name of the per-episode metric vector, e.g. "correct"
    metric_dim: ClassVar[str]    # its dimension in the dataset, e.g. "trial"
    FIELDS: ClassVar[dict[str, Field]] = {}   # the protocol's `task` keys: default, check, doc (`metods_sim.fields`)

    @classmethod
    def check(cls, section: dict, where) -> dict:
        """Rules across this task's fields, on a section whose fields each passed their own check; raises
        ProtocolError naming the key through `where(key path)`. Returns the section, normalised."""
        return section

    @property
    def n_actions(self) -> int:
        raise NotImplementedError

    @property
    def obs_size(self) -> int:
        raise NotImplementedError

    @property
    def state_size(self) -> int:
        raise NotImplementedError

    @property
    def n_metrics(self) -> int:
        raise NotImplementedError

    @property
    def max_steps(self) -> int:
        raise NotImplementedError

    @property
    def rollout_length(self) -> int:
        """Steps between the environment's resets within an episode (Meta-World: rollout_steps): an agent that
        works rollout by rollout (PEARL) reads it; max_steps for a task whose episode is one rollout."""
        return self.max_steps

    @property
    def optimum(self) -> float:
        """Best expected return of an agent that must learn within the episode."""
        raise NotImplementedError

    def config(self) -> np.ndarray:
        raise NotImplementedError

    def episode_stats(self, metrics: np.ndarray) -> dict:
        """Named per-episode summaries of the metric vector (…, n_metrics) → {name: (…)}, stored beside it as
        eval_<name> (e.g. the maze's first reward step and success); none by default."""
        return {}

    def episode_labels(self, data: np.ndarray) -> dict:
        """Named per-episode facts of the task's rows (E, D) → {name: (E,)}, stored as coordinates of the test
        episodes (e.g. a MuJoCo task's goal, so that returns can be split by the direction rewarded); none by
        default."""
        return {}

    def curves(self, metrics: np.ndarray) -> dict:
        """Named curves over the metric dimension from the metric vectors of the test episodes (E, n_metrics) →
        {name: (n_metrics,)}, stored as eval_<name> (e.g. a MuJoCo task's within-episode reward curve); none by
        default."""
        return {}

    def sample(self, rng: np.random.Generator, episodes: int) -> np.ndarray:
        raise NotImplementedError

    def engine_handles(self) -> tuple:
        """(functions, threads): none for a task written in Numba alone (one empty row per Numba thread)."""
        return np.zeros(0, np.int64), np.zeros((numba.config.NUMBA_NUM_THREADS, 0), np.int64)

    # the two Numba functions, set as staticmethods by each task
    reset = step = None


def numba_contract(start, observe, move):
    """(reset, step) of the contract, as staticmethods, for a task written in Numba alone as three functions of its
    own state: start(cfg, data, state), observe(cfg, data, state, obs), reward, done = move(cfg, data, state, a,
    metrics). The observation follows every reset and step (the kernel reads it before the next step)."""

    @njit(**JIT)
    def reset(cfg, data, functions, mj, state, obs):
        start(cfg, data, state)
        observe(cfg, data, state, obs)

    @njit(**JIT)
    def step(cfg, data, functions, mj, state, a, action, obs, metrics, t):
        reward, done = move(cfg, data, state, a, metrics)
        observe(cfg, data, state, obs)
        return reward, done

    return staticmethod(reset), staticmethod(step)
