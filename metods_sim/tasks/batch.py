"""Any task stepped over a batch of episodes in one jitted call: the same three functions, looped in Numba.

Used where the agent is not fused into the kernel: the NumPy reference rollout (tests, benchmark baseline).
"""
from __future__ import annotations

from numba import njit

from ..plasticity.jit import JIT

_BATCHED = {}


def batched(task_cls):
    """(reset_all, observe_all, step_all) for a task class.

    reset_all(cfg, data (B, D), states (B, state_size))
    observe_all(cfg, data, states, obs (B, obs_size))
    step_all(cfg, data, states, actions (B,), metrics (B, M), rewards (B,) out, done (B,) bool in/out):
        episodes already done are left alone and get reward 0.
    """
    if task_cls not in _BATCHED:
        _BATCHED[task_cls] = _make(task_cls.reset, task_cls.observe, task_cls.step)
    return _BATCHED[task_cls]


def _make(reset, observe, step):
    @njit(**JIT)
    def reset_all(cfg, data, states):
        for b in range(data.shape[0]):
            reset(cfg, data[b], states[b])

    @njit(**JIT)
    def observe_all(cfg, data, states, obs):
        for b in range(data.shape[0]):
            observe(cfg, data[b], states[b], obs[b])

    @njit(**JIT)
    def step_all(cfg, data, states, actions, metrics, rewards, done):
        for b in range(data.shape[0]):
            rewards[b] = 0.0
            if not done[b]:
                rewards[b], done[b] = step(cfg, data[b], states[b], actions[b], metrics[b])

    return reset_all, observe_all, step_all
