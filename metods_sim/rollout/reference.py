"""The same rollouts in batched NumPy with the agents' reference steps (MetODS: `plasticity.recursive_update`),
every member × episode at once, with the contract of `rollout`: what the fused kernel is tested against, and the
benchmarks' baseline. Tasks written in Numba alone (the discrete ones)."""
from __future__ import annotations

import numpy as np

from .episodes import Lockstep, Rollouts, all_finite, choose_all, members, recording, result, rows


def rollout_reference(agent, task, params, episodes, *, record: int = 0, norm=None) -> Rollouts:
    dtype = np.dtype(agent.dtype)
    P, E = members(params), episodes.data.shape[0]
    B, R = P * E, min(record, E)
    a, data, noise, agent_noise = rows(agent.kernel_arrays(params), P, E, episodes)
    episode = Lockstep(task, data)
    state = agent.reference_start(a, agent_noise.astype(dtype))
    rec = recording(agent, task, R, dtype, norm)
    for t in range(task.max_steps):
        x = episode.inputs(norm).astype(dtype)
        obs = episode.obs.astype(rec[5].dtype)
        out, stepped, (W, v) = agent.reference_step(a, state, x)
        action = choose_all(out[:, :task.n_actions], noise[:, t], agent.action == "greedy")
        live = episode.step(action, t)
        state = tuple(np.where(live.reshape((B,) + (1,) * (new.ndim - 1)), new, old)
                      for new, old in zip(stepped, state))
        for store, value in zip(rec, (W, v, action, episode.rewards, out[:, task.n_actions], obs)):
            if value is not None:
                store[live[:R], t] = value[:R][live[:R]]
        if episode.done.all():
            break
    return result(agent, episode.total.reshape(P, E), episode.metrics.reshape(P, E, -1), episode.steps.reshape(P, E),
                  ~all_finite(state, B).reshape(P, E), rec, episode.obs_sum.reshape(P, E, -1),
                  episode.obs_sumsq.reshape(P, E, -1))
