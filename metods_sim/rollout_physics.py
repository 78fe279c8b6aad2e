"""Rollouts on MuJoCo bodies: physics and network in one Numba call, parallel over population × episodes.

The contract and the result are `metods_sim.rollout`'s (`rollout` sends a continuous task here). The agents run in
blocks of LANES as there (fewer agents than threads × LANES: part-filled blocks, one per thread); between two
network steps of a block, each live lane's body takes its physics step through MuJoCo's C functions called from
the kernel (`metods_sim.tasks.physics`), in the MjData of the thread running the block. Everything is allocated
per block before the time loop; no Python runs per member or per step.

The policy is a Gaussian: action = clip(mean + exp(log_std) · ε, -1, 1), mean = out[:A] of the network, ε the
episode's standard normals (`Episodes.noise`, (E, T, A)); greedy: action = clip(mean, -1, 1). The agent sees its
previous action vector and reward, x = [o_t, a_{t−1}, r_{t−1}]. The task writes metrics[p, e] (a body's: the
reward of each step).
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import get_thread_id, prange

from .plasticity.kernel import LANES
from .rollout import Rollouts, _block_lanes, _kernel_for, _members, _recording, _result
from .tasks.physics import MEMORY


def rollout_physics(agent, task, params, episodes, *, record: int = 0) -> Rollouts:
    """Run genomes params (P, size) (or (size,)) on every episode of a MuJoCo task. Returns Rollouts."""
    arrays = agent.kernel_arrays(params)
    dtype = np.dtype(agent.dtype)
    P, E, T = _members(params), episodes.data.shape[0], task.max_steps
    returns, metrics = np.zeros((P, E)), np.zeros((P, E, task.n_metrics))
    steps, diverged = np.zeros((P, E), dtype=np.int64), np.zeros((P, E), dtype=np.bool_)
    rec = _recording(agent, task, min(record, E), dtype)
    sim = task.simulator()
    kernel = _kernel_for(type(task), type(agent), _make_kernel)
    # few agents (a Meta-World population: 16) spread over the threads in part-filled blocks: the bodies' physics,
    # not the 64-lane network step, is the cost here
    per_block = max(1, min(LANES, -(-P * E // numba.get_num_threads())))
    kernel(tuple(arrays), P, per_block, agent.action != "sample", task.config(), np.ascontiguousarray(episodes.data),
           np.ascontiguousarray(episodes.noise), np.ascontiguousarray(episodes.agent_noise, dtype=dtype),
           agent.log_std(params), sim.functions, sim.threads, T, sim.state_size, task.obs_size, task.n_actions,
           returns, metrics, steps, diverged, *rec)
    return _result(agent, returns, metrics, steps, diverged, rec)


def _make_kernel(fingerprint):
    """The kernel's Python function, with free names task_reset, task_step, agent_prepare, agent_act,
    agent_finite, agent_record bound by `rollout._kernel_for`."""

    def kernel(arrays, P, per_block, greedy, cfg, data, noise, agent_noise, log_std, functions, threads, T, state_size,
               obs_size, A, returns, metrics, n_steps, diverged, rec_W, rec_v, rec_a, rec_r, rec_value, rec_obs):
        E = data.shape[0]
        R = rec_a.shape[0]
        dt = rec_value.dtype              # the agent's float type
        if T < 0:
            raise ValueError(fingerprint)  # makes the fingerprint part of the cache key
        agents = P * E                    # agent k runs member k // E on episode k % E
        for block in prange((agents + per_block - 1) // per_block):
            member, episode, done = _block_lanes(block, agents, E, per_block)
            state = agent_prepare(arrays, member, episode, agent_noise)
            x = np.zeros((obs_size + A + 1, LANES), dt)
            out = np.empty((A + 1, LANES), dt)
            obs = np.zeros((LANES, obs_size))
            bodies = np.zeros((LANES, state_size))
            memory = np.zeros((LANES, MEMORY))
            action = np.zeros(A)
            total = np.zeros(LANES)
            taken = np.zeros(LANES, np.int64)
            bad = np.zeros(LANES, np.bool_)
            mj = threads[get_thread_id()]   # this thread's MjData, for every lane of the block
            for lane in range(LANES):
                if not done[lane]:
                    task_reset(cfg, data[episode[lane]], functions, mj, bodies[lane], memory[lane], obs[lane])
            t = 0
            while t < T and not done.all():
                for lane in range(LANES):
                    if not done[lane]:
                        for j in range(obs_size):
                            x[j, lane] = obs[lane, j]
                agent_act(state, x, out)
                for lane in range(LANES):
                    if done[lane]:
                        continue
                    p, e = member[lane], episode[lane]
                    for i in range(A):
                        a = out[i, lane] if greedy else out[i, lane] + math.exp(log_std[p, i]) * noise[e, t, i]
                        # a diverged network (its W non-finite: worst fitness anyway) must not feed MuJoCo NaN
                        action[i] = min(max(a, -1.0), 1.0) if math.isfinite(a) else 0.0
                    r, finished = task_step(cfg, data[e], functions, mj, bodies[lane], memory[lane], action,
                                            obs[lane], metrics[p, e], t)
                    total[lane] += r
                    taken[lane] = t + 1
                    done[lane] = finished
                    if finished:  # the lane's state steps on with the block's: judge it now
                        bad[lane] = not agent_finite(state, lane)
                    if p == 0 and e < R:
                        agent_record(state, lane, rec_W[e, t], rec_v[e, t])
                        for i in range(A):
                            rec_a[e, t, i] = action[i]
                        rec_r[e, t] = r
                        rec_value[e, t] = out[A, lane]
                        for j in range(obs_size):
                            rec_obs[e, t, j] = x[j, lane]
                    for i in range(A):
                        x[obs_size + i, lane] = action[i]
                    x[obs_size + A, lane] = r
                t += 1
            for lane in range(min(per_block, agents - block * per_block)):
                returns[member[lane], episode[lane]] = total[lane]
                n_steps[member[lane], episode[lane]] = taken[lane]
                diverged[member[lane], episode[lane]] = bad[lane] if done[lane] else not agent_finite(state, lane)

    return kernel
