"""Rollouts on environments stepped in Python (Meta-World: its rewards and success flags are Python code): one
environment per agent, the network of every agent in one batched NumPy call per step (the agents' reference
steps, `agent.reference_step`), with the contract and result of `rollout`.

An episode is task.rollouts rollouts of task.rollout_steps steps; the environment is reset at each rollout's
start and the agent's state (MetODS's W) and its previous action and reward carry on. metrics[p, e, r] = 1 when
rollout r succeeded (Meta-World's info["success"] at any of its steps). The Gaussian policy is the kernel's:
clip(mean + exp(log_std) ε, -1, 1), or clip(mean) when greedy.
"""
from __future__ import annotations

import numpy as np

from .episodes import Rollouts, all_finite, members, recording, result, rows


def rollout_stepped(agent, task, params, episodes, *, record: int = 0, norm=None) -> Rollouts:
    dtype = np.dtype(agent.dtype)
    P, E, A = members(params), episodes.data.shape[0], task.n_actions
    B, R = P * E, min(record, E)
    a, data, noise, agent_noise = rows(agent.kernel_arrays(params), P, E, episodes)
    sigma = np.repeat(np.exp(agent.log_std(params)), E, axis=0)
    state = agent.reference_start(a, agent_noise.astype(dtype))
    envs = task.environments(data)
    prev_a, prev_r = np.zeros((B, A), dtype), np.zeros(B)
    total, metrics, rewards = np.zeros(B), np.zeros((B, task.rollouts)), np.zeros(B)
    obs_sum, obs_sumsq = np.zeros((B, task.obs_size)), np.zeros((B, task.obs_size))
    rec = recording(agent, task, R, dtype, norm)
    greedy = agent.action != "sample"
    for r in range(task.rollouts):
        obs = np.stack([env.reset()[0] for env in envs]).astype(np.float64)
        for step in range(task.rollout_steps):
            t = r * task.rollout_steps + step
            fed = obs.astype(rec[5].dtype)   # recorded raw, as every engine records o_t
            obs_sum += obs
            obs_sumsq += obs ** 2
            seen = obs if norm is None else norm.apply(obs)
            x = np.concatenate([seen.astype(dtype), prev_a, prev_r[:, None].astype(dtype)], axis=1)
            out, state, (W, v) = agent.reference_step(a, state, x)
            mean = out[:, :A].astype(np.float64)
            action = mean if greedy else mean + sigma * noise[:, t]
            action = np.clip(np.where(np.isfinite(action), action, 0.0), -1.0, 1.0)
            for b, env in enumerate(envs):
                o, rewards[b], _, _, info = env.step(action[b])
                obs[b] = o
                metrics[b, r] = max(metrics[b, r], float(info["success"]))
            for store, value in zip(rec, (W, v, action, rewards, out[:, A], fed)):
                if value is not None:
                    store[:R, t] = value[:R]
            total += rewards
            prev_a, prev_r = action.astype(dtype), rewards.copy()
    steps = np.full((P, E), task.max_steps, dtype=np.int64)
    return result(agent, total.reshape(P, E), metrics.reshape(P, E, -1), steps, ~all_finite(state, B).reshape(P, E),
                  rec, obs_sum.reshape(P, E, -1), obs_sumsq.reshape(P, E, -1))
