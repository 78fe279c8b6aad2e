"""What every rollout engine shares: the episodes drawn up front, the result, the recording buffers, and the
network's input x_t = [o_t, a_{t−1}, r_{t−1}] (a_{t−1} one-hot on a discrete task, the action vector on a
continuous one; zeros at t = 0; o_t normalised when the rollout is given a `normalise.Normalisation`)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..tasks.batch import batched


class Episodes(NamedTuple):
    """Everything random about a set of episodes, drawn up front (common random numbers across a population).

    data: (E, D) float64, the task's rows; noise: (E, T) float64 uniforms for sampled actions, or on a continuous
    task (E, T, n_actions) standard normals for the Gaussian policy; agent_noise: (E, ...) the agent's
    (`agent.episode_noise`: MetODS's W0 noise (E, N, N), else (E, 0)).
    """

    data: np.ndarray
    noise: np.ndarray
    agent_noise: np.ndarray


class Rollouts(NamedTuple):
    """returns: (P, E) float64; metrics: (P, E, M) float64; steps: (P, E) int64 environment steps taken;
    diverged: (P, E) bool, the episode ended with a non-finite agent state (MetODS: W overflowed or became NaN; no
    operation of the rule turns a non-finite weight finite again, so the episode's end is the one place to look).
    With record > 0, for member 0 and the first `record` episodes, over (episode, time): W (…, post, pre) and
    v (…, neuron) as the agent records them (`agent.record_shapes`; MetODS: W_t and v_S, rl2: v = h; None for what
    an agent does not record), action, reward, value, obs (the task's o_t, before any normalisation); steps after
    an episode's end are left at zero. obs_sum, obs_sumsq: (P, E, obs_size) float64, the sums of the raw o_t fed to
    the agent over each episode's steps and of their squares (their count is steps), from which a trainer keeps
    its running observation statistics (`normalise.ObservationStats`)."""

    returns: np.ndarray
    metrics: np.ndarray
    steps: np.ndarray
    W: np.ndarray | None = None
    v: np.ndarray | None = None
    action: np.ndarray | None = None
    reward: np.ndarray | None = None
    value: np.ndarray | None = None
    obs: np.ndarray | None = None
    diverged: np.ndarray | None = None
    obs_sum: np.ndarray | None = None
    obs_sumsq: np.ndarray | None = None


def draw_episodes(task, agent, rng: np.random.Generator, episodes: int) -> Episodes:
    """The task's rows, the action noise (uniforms (E, T) for sampled discrete actions; standard normals
    (E, T, n_actions) for a continuous task's Gaussian policy) and the agent's noise."""
    data = task.sample(rng, episodes)
    if task.continuous:
        noise = rng.standard_normal((episodes, task.max_steps, task.n_actions))
    else:
        noise = rng.random((episodes, task.max_steps))
    return Episodes(data, noise, agent.episode_noise(rng, episodes))


def members(params) -> int:
    return np.atleast_2d(np.asarray(params)).shape[0]


def recording(agent, task, R, dtype, norm=None):
    """The recording buffers, zeros: W, v (empty per step where the agent records none), action, reward, value,
    obs, over (episode, time). obs holds the raw o_t, in the agent's float type, or in float64 with norm (the
    twin's replay then normalises exactly the numbers the engine normalised)."""
    W_shape, v_shape = agent.record_shapes
    action = ((task.n_actions,), np.float64) if task.continuous else ((), np.int64)
    return tuple(np.zeros((R, task.max_steps) + shape, kind) for shape, kind in [
        (W_shape or (0, 0), dtype), (v_shape or (0,), dtype), action, ((), np.float64), ((), dtype),
        ((task.obs_size,), dtype if norm is None else np.float64)])


def result(agent, returns, metrics, steps, diverged, rec, obs_sum, obs_sumsq) -> Rollouts:
    """The Rollouts of an engine's outputs, with the recording where one was asked for."""
    out = Rollouts(returns, metrics, steps, diverged=diverged, obs_sum=obs_sum, obs_sumsq=obs_sumsq)
    if rec[2].shape[0] == 0:
        return out
    kept = [None if shape is None else buffer for shape, buffer in zip(agent.record_shapes, rec[:2])]
    return out._replace(**dict(zip(Rollouts._fields[3:9], kept + list(rec[2:]))))


def rows(arrays, P: int, E: int, episodes: Episodes):
    """Member arrays and episodes spread over B = P·E rows: row b runs member b // E on episode b % E (member 0's
    rows first, as the kernel's agents). Returns ({name: per-row array or setting}, data (B, D), noise (B, T, ...),
    agent noise (B, ...))."""
    member = np.repeat(np.arange(P), E)
    a = {name: value[member] if isinstance(value, np.ndarray) else value for name, value in arrays._asdict().items()}
    tile = (lambda x: np.tile(x, (P,) + (1,) * (x.ndim - 1)))
    return a, tile(episodes.data), tile(episodes.noise), tile(np.asarray(episodes.agent_noise))


def all_finite(state, B: int) -> np.ndarray:
    """(B,) bool: every array of a batched agent state (a tuple of (B, ...) arrays) is finite in that row."""
    finite = np.ones(B, bool)
    for part in state:
        finite &= np.isfinite(part.reshape(B, -1)).all(axis=1)
    return finite


def choose_all(logits, uniform, greedy):
    """(B,) actions from logits (B, A): argmax, or a sample from their softmax with each row's uniform draw (the
    kernel's choice, in NumPy)."""
    if greedy:
        return np.argmax(logits, axis=1)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((uniform[:, None] >= cdf).sum(axis=1), logits.shape[1] - 1)


class Lockstep:
    """B episodes of a task written in Numba alone (a discrete one), stepped together one step at a time from
    Python, where the network runs outside the kernel (the NumPy reference, the torch twin): the task's own
    functions batched (`tasks.batch`), and the kernel's bookkeeping: x_t, returns, steps taken."""

    def __init__(self, task, data: np.ndarray):
        B, A = data.shape[0], task.n_actions
        self.task, self.data, self.cfg = task, data, task.config()
        self.states = np.zeros((B, task.state_size), task.state_dtype)
        self.obs = np.zeros((B, task.obs_size))
        self.metrics = np.zeros((B, task.n_metrics))
        self.rewards, self.done = np.zeros(B), np.zeros(B, bool)
        self.total, self.steps = np.zeros(B), np.zeros(B, np.int64)
        self.previous = np.zeros((B, A + 1))     # a_{t−1} one-hot, r_{t−1}
        self.obs_sum, self.obs_sumsq = np.zeros((B, task.obs_size)), np.zeros((B, task.obs_size))
        self._reset_all, self._step_all = batched(type(task))
        self._reset_all(self.cfg, data, self.states, self.obs)

    def inputs(self, norm=None) -> np.ndarray:
        """x_t (B, d_in) float64: the observation (normalised by norm when given), the previous action one-hot and
        the previous reward."""
        return np.concatenate([self.obs if norm is None else norm.apply(self.obs), self.previous], axis=1)

    def step(self, actions: np.ndarray, t: int) -> np.ndarray:
        """Every live episode takes its action (B,) int; episodes already done get reward 0. Returns the rows that
        were live."""
        live = ~self.done
        A = self.task.n_actions
        self.obs_sum[live] += self.obs[live]          # the o_t the live rows were fed
        self.obs_sumsq[live] += self.obs[live] ** 2
        onehot = np.eye(A)[actions]
        self._step_all(self.cfg, self.data, self.states, actions, onehot, self.metrics, self.rewards, self.done,
                       self.obs, t)
        self.total += self.rewards
        self.steps += live
        self.previous[:, :A] = onehot
        self.previous[:, A] = self.rewards
        return live
