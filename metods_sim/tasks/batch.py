"""Any task written in Numba alone stepped over a batch of episodes in one jitted call: its two functions (the
task contract, `tasks.base`), looped in Numba.

Used where the agent is not fused into the kernel: the NumPy reference rollout and the torch twin
(`rollout.episodes.Lockstep`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..plasticity.jit import JIT

_BATCHED = {}


def batched(task_cls):
    """(reset_all, step_all) for a task class.

    reset_all(cfg, data (B, D), states (B, state_size), obs (B, obs_size) out)
    step_all(cfg, data, states, actions (B,) int, vectors (B, A) their one-hot, metrics (B, M), rewards (B,) out,
             done (B,) bool in/out, obs, t): episodes already done are left alone and get reward 0.
    """
    if task_cls not in _BATCHED:
        _BATCHED[task_cls] = _make(task_cls.reset, task_cls.step)
    return _BATCHED[task_cls]


def _make(reset, step):
    @njit(**JIT)
    def reset_all(cfg, data, states, obs):
        functions, mj = np.zeros(0, np.int64), np.zeros(0, np.int64)   # no engine outside Numba
        for b in range(data.shape[0]):
            reset(cfg, data[b], functions, mj, states[b], obs[b])

    @njit(**JIT)
    def step_all(cfg, data, states, actions, vectors, metrics, rewards, done, obs, t):
        functions, mj = np.zeros(0, np.int64), np.zeros(0, np.int64)
        for b in range(data.shape[0]):
            rewards[b] = 0.0
            if not done[b]:
                rewards[b], done[b] = step(cfg, data[b], functions, mj, states[b], actions[b], vectors[b],
                                           obs[b], metrics[b], t)

    return reset_all, step_all
