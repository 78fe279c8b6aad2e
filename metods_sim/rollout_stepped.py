"""Rollouts on environments stepped in Python (Meta-World: its rewards and success flags are Python code): one
environment per agent, the network of every agent in one batched NumPy call per step (the agents' reference
steps, `agent.reference_step`), with the contract and result of `metods_sim.rollout`.

An episode is task.rollouts rollouts of task.rollout_steps steps; the environment is reset at each rollout's
start and the agent's state (MetODS's W) and its previous action and reward carry on. metrics[p, e, r] = 1 when
rollout r succeeded (Meta-World's info["success"] at any of its steps). The Gaussian policy is the one of
`rollout_physics`: clip(mean + exp(log_std) ε, -1, 1), or clip(mean) when greedy.
"""
from __future__ import annotations

import numpy as np

from .rollout import Rollouts, _members, _recording, _result


def rollout_stepped(agent, task, params, episodes, *, record: int = 0) -> Rollouts:
    arrays = agent.kernel_arrays(params)
    dtype = np.dtype(agent.dtype)
    P, E, A = _members(params), episodes.data.shape[0], task.n_actions
    B, R = P * E, min(record, E)
    member = np.repeat(np.arange(P), E)   # row b runs member b // E on episode b % E, as rollout_reference
    a = {name: value[member] if isinstance(value, np.ndarray) else value for name, value in arrays._asdict().items()}
    noise = np.tile(episodes.noise, (P, 1, 1))
    sigma = np.exp(agent.log_std(params))[member]
    agent_noise = np.asarray(episodes.agent_noise, dtype=dtype)
    state = agent.reference_start(a, np.tile(agent_noise, (P,) + (1,) * (agent_noise.ndim - 1)))
    envs = task.environments(np.tile(episodes.data, (P, 1)))
    prev_a, prev_r = np.zeros((B, A), dtype), np.zeros(B)
    total, metrics, rewards = np.zeros(B), np.zeros((B, task.rollouts)), np.zeros(B)
    rec = _recording(agent, task, R, dtype)
    greedy = agent.action != "sample"
    for r in range(task.rollouts):
        obs = np.stack([env.reset()[0] for env in envs]).astype(dtype)
        for step in range(task.rollout_steps):
            t = r * task.rollout_steps + step
            x = np.concatenate([obs, prev_a, prev_r[:, None].astype(dtype)], axis=1)
            out, state, (W, v) = agent.reference_step(a, state, x)
            mean = out[:, :A].astype(np.float64)
            action = mean if greedy else mean + sigma * noise[:, t]
            action = np.clip(np.where(np.isfinite(action), action, 0.0), -1.0, 1.0)
            for b, env in enumerate(envs):
                o, rewards[b], _, _, info = env.step(action[b])
                obs[b] = o
                metrics[b, r] = max(metrics[b, r], float(info["success"]))
            for store, value in zip(rec, (W, v, action, rewards, out[:, A], x[:, :task.obs_size])):
                if value is not None:
                    store[:R, t] = value[:R]
            total += rewards
            prev_a, prev_r = action.astype(dtype), rewards.copy()
    finite = np.ones(B, bool)
    for part in state:
        finite &= np.isfinite(part.reshape(B, -1)).all(axis=1)
    steps = np.full((P, E), task.max_steps, dtype=np.int64)
    return _result(agent, total.reshape(P, E), metrics.reshape(P, E, -1), steps, ~finite.reshape(P, E), rec)
