"""The episode loop: task and agent fused in one Numba call, parallel over population × episodes.

One kernel is compiled per (task class, agent class) and per float type, from one template: the task's two
functions (`tasks.base`: reset and step, whatever steps the environment, Numba alone or MuJoCo called from it),
the agent's four (`agents.base`) and the policy of the task's action space (a softmax choice on a discrete task,
a Gaussian on a continuous one) are fused in; the agent's variants (MetODS's S, write, α, W0) are arguments. The
agents (member × episode pairs) run in blocks of at most `plasticity.kernel.LANES`, one SIMD lane each: the
network steps every lane of a block at once, the task steps each live lane, in the MjData of the thread running
the block where it has a body. Blocks are spread over the threads (`prange`); buffers are allocated once per
block, before the time loop. A lane computes the same numbers whatever its block or position, so a member scores
the same alone or in a population, on any number of threads.

Policies. Discrete: a = argmax of the logits out[:A], or a sample from their softmax with the episode's uniform
(`Episodes.noise[e, t]`); the action vector is a's one-hot. Continuous: action = clip(mean + exp(log_std) · ε,
-1, 1), mean = out[:A], ε the episode's standard normals (E, T, A); greedy: clip(mean, -1, 1).

Observations. The agent is fed o_t, or with a normalisation (`normalise.Normalisation`: mean, std, clip; empty
arrays for none) clip((o_t − mean)/std, −clip, clip), in float64 and then cast as `Normalisation.apply` does; the
raw o_t is recorded, and summed with its square per member × episode into obs_sum, obs_sumsq (outputs allocated
before the call: the time loop allocates nothing).
"""
from __future__ import annotations

import hashlib
import inspect
import math
import types
from pathlib import Path

import numba
import numpy as np
from numba import get_thread_id, njit, prange

from ..plasticity.jit import FUSED, JIT
from ..plasticity.kernel import LANES
from .episodes import members, recording, result


def rollout_fused(agent, task, params, episodes, *, record: int = 0, norm=None):
    """Run genomes params (P, size) (or (size,)) on every episode, in the kernel, the observations normalised by
    norm (`normalise.Normalisation`) when given. Returns Rollouts."""
    arrays = agent.kernel_arrays(params)
    dtype = np.dtype(agent.dtype)
    P, E, O = members(params), episodes.data.shape[0], task.obs_size
    returns, metrics = np.zeros((P, E)), np.zeros((P, E, task.n_metrics))
    steps, diverged = np.zeros((P, E), dtype=np.int64), np.zeros((P, E), dtype=np.bool_)
    obs_sum, obs_sumsq = np.zeros((P, E, O)), np.zeros((P, E, O))
    # no norm: empty arrays, which the kernel reads as "feed o as it is" (bit for bit what it always fed)
    mean, std, clip = (np.zeros(0), np.zeros(0), 0.0) if norm is None else (
        np.ascontiguousarray(norm.mean, np.float64), np.ascontiguousarray(norm.std, np.float64), float(norm.clip))
    rec = recording(agent, task, min(record, E), dtype, norm)
    functions, threads = task.engine_handles()
    # few agents (a Meta-World population: 16) spread over the threads in part-filled blocks: a body's physics,
    # not the 64-lane network step, is then the cost
    per_block = max(1, min(LANES, -(-P * E // numba.get_num_threads())))
    # arrays as a plain tuple: Numba pickles the argument types into the on-disk index that every (task, agent)
    # kernel shares (one source line), and an agent's NamedTuple class there would make the whole index
    # unreadable (ModuleNotFoundError) in a checkout where that agent's module is gone
    kernel_for(type(task), type(agent))(
        tuple(arrays), P, per_block, agent.action != "sample", task.config(), np.ascontiguousarray(episodes.data),
        np.ascontiguousarray(episodes.noise), np.ascontiguousarray(episodes.agent_noise, dtype=dtype),
        agent.log_std(params), functions, threads, task.max_steps, np.zeros((0, task.state_size), task.state_dtype),
        task.obs_size, task.n_actions, mean, std, clip, returns, metrics, steps, diverged, obs_sum, obs_sumsq,
        *rec)
    return result(agent, returns, metrics, steps, diverged, rec, obs_sum, obs_sumsq)


def _make_kernel(fingerprint):
    """The kernel's Python function, with free names task_reset, task_step, policy_act, policy_record,
    agent_prepare, agent_act, agent_finite, agent_record bound by `kernel_for`."""

    def kernel(arrays, P, per_block, greedy, cfg, data, noise, agent_noise, log_std, functions, threads, T, state0,
               obs_size, A, norm_mean, norm_std, clip, returns, metrics, n_steps, diverged, obs_sum, obs_sumsq, rec_W,
               rec_v, rec_a, rec_r, rec_value, rec_obs):
        E = data.shape[0]
        normalise = norm_mean.shape[0] > 0
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
            task_state = np.zeros((LANES, state0.shape[1]), state0.dtype)
            action = np.zeros(A)
            total = np.zeros(LANES)
            taken = np.zeros(LANES, np.int64)
            bad = np.zeros(LANES, np.bool_)
            mj = threads[get_thread_id()]   # this thread's engine (a body's MjData), for every lane of the block
            for lane in range(LANES):
                if not done[lane]:
                    task_reset(cfg, data[episode[lane]], functions, mj, task_state[lane], obs[lane])
            t = 0
            while t < T and not done.all():
                for lane in range(LANES):
                    if not done[lane]:
                        p, e = member[lane], episode[lane]
                        for j in range(obs_size):   # the raw o summed; the agent sees it normalised
                            o = obs[lane, j]
                            obs_sum[p, e, j] += o
                            obs_sumsq[p, e, j] += o * o
                            if p == 0 and e < R:
                                rec_obs[e, t, j] = o
                            if normalise:
                                o = min(max((o - norm_mean[j]) / norm_std[j], -clip), clip)
                            x[j, lane] = o
                agent_act(state, x, out)
                for lane in range(LANES):
                    if done[lane]:
                        continue
                    p, e = member[lane], episode[lane]
                    a = policy_act(out, lane, A, greedy, noise[e, t], log_std[p], action)
                    r, finished = task_step(cfg, data[e], functions, mj, task_state[lane], a, action, obs[lane],
                                            metrics[p, e], t)
                    total[lane] += r
                    taken[lane] = t + 1
                    done[lane] = finished
                    if finished:  # the lane's state steps on with the block's: judge it now
                        bad[lane] = not agent_finite(state, lane)
                    if p == 0 and e < R:
                        agent_record(state, lane, rec_W[e, t], rec_v[e, t])
                        policy_record(rec_a, e, t, a, action)
                        rec_r[e, t] = r
                        rec_value[e, t] = out[A, lane]
                    for i in range(A):
                        x[obs_size + i, lane] = action[i]
                    x[obs_size + A, lane] = r
                t += 1
            for lane in range(min(per_block, agents - block * per_block)):
                returns[member[lane], episode[lane]] = total[lane]
                n_steps[member[lane], episode[lane]] = taken[lane]
                diverged[member[lane], episode[lane]] = bad[lane] if done[lane] else not agent_finite(state, lane)

    return kernel


_KERNELS = {}


def kernel_for(task_cls, agent_cls):
    """The fused kernel of a task class and an agent class, compiled once per float type and cached on disk.

    Their functions reach the kernel as globals of its own copy of `_make_kernel`'s kernel, not as closure
    cells: Numba keys its disk cache on the pickled closure, and a pickled dispatcher differs in every process
    (the cache would never hit). The one closure cell is the fingerprint, so the key changes with the sources."""
    key = (task_cls, agent_cls)
    if key not in _KERNELS:
        template = _make_kernel(_fingerprint(task_cls, agent_cls))
        act, rec = (_continuous, _record_vector) if task_cls.continuous else (_discrete, _record_index)
        namespace = dict(template.__globals__, task_reset=_inlined(task_cls.reset), task_step=_inlined(task_cls.step),
                         policy_act=act, policy_record=rec, agent_prepare=agent_cls.prepare,
                         agent_act=agent_cls.act, agent_finite=agent_cls.finite, agent_record=agent_cls.record)
        kernel = types.FunctionType(template.__code__, namespace, template.__name__, None, template.__closure__)
        kernel.__qualname__ = template.__qualname__
        _KERNELS[key] = njit(parallel=True, **JIT)(kernel)
    return _KERNELS[key]


def _inlined(function):
    """A copy of a task's Numba function that Numba inlines into the kernel. Called, it is passed per-lane views
    (data[e], state[lane]) whose reference counts Numba must keep at every call; inlined, it prunes them (the
    Harlow rollout ran about 10% faster). The agent's `act` stays a call: its `noalias` promise is an attribute of
    its own function."""
    return njit(inline="always", **FUSED)(function.py_func)


def _fingerprint(task_cls, agent_cls) -> str:
    """Hash of the task's and agent's identities and of every source file that can be fused into their kernel:
    this package, the rule's package, the task's package and the agent's (a task or agent may call helpers of
    another's module). Numba keys its on-disk cache on the kernel's own bytecode only, so without this an edited
    task, agent or rule would silently run from a stale cache, and two pairs would share one entry."""
    from .. import plasticity

    folders = {Path(__file__).parent, Path(plasticity.__file__).parent, Path(inspect.getsourcefile(task_cls)).parent,
               Path(inspect.getsourcefile(agent_cls)).parent}
    files = sorted(f for folder in folders for f in folder.glob("*.py"))
    identity = "|".join(f"{cls.__module__}.{cls.__qualname__}" for cls in (task_cls, agent_cls)).encode()
    return hashlib.sha256(identity + b"".join(f.read_bytes() for f in files)).hexdigest()


@njit(inline="always", **JIT)
def _block_lanes(block, agents, E, per_block):
    """member, episode (int64) and done (bool) of the LANES lanes of a block holding per_block ≤ LANES agents:
    agent k = block·per_block + lane runs member k // E on episode k % E; padding lanes (past per_block or the
    last agent) repeat an agent and start done (never step)."""
    member = np.empty(LANES, np.int64)
    episode = np.empty(LANES, np.int64)
    done = np.empty(LANES, np.bool_)
    for lane in range(LANES):
        k = min(block * per_block + min(lane, per_block - 1), agents - 1)
        member[lane], episode[lane] = k // E, k % E
        done[lane] = lane >= per_block or block * per_block + lane >= agents
    return member, episode, done


@njit(inline="always", **JIT)
def _discrete(out, lane, A, greedy, uniform, log_std, action):
    """Argmax of the logits out[:A, lane], or a sample from their softmax with the given uniform draw; its
    one-hot → action."""
    best = 0
    for i in range(1, A):
        if out[i, lane] > out[best, lane]:
            best = i
    a = best
    if not greedy:
        z = 0.0
        for i in range(A):
            z += math.exp(out[i, lane] - out[best, lane])
        acc = 0.0
        a = A - 1
        for i in range(A):
            acc += math.exp(out[i, lane] - out[best, lane]) / z
            if uniform < acc:
                a = i
                break
    for i in range(A):
        action[i] = 0.0
    action[a] = 1.0
    return a


@njit(inline="always", **JIT)
def _continuous(out, lane, A, greedy, normal, log_std, action):
    """clip(mean + exp(log_std) · ε, -1, 1) (greedy: clip(mean)) → action; the index is 0."""
    for i in range(A):
        a = out[i, lane] if greedy else out[i, lane] + math.exp(log_std[i]) * normal[i]
        # a diverged network (its W non-finite: worst fitness anyway) must not feed the task NaN
        action[i] = min(max(a, -1.0), 1.0) if math.isfinite(a) else 0.0
    return 0


@njit(inline="always", **JIT)
def _record_index(rec_a, e, t, a, action):
    rec_a[e, t] = a


@njit(inline="always", **JIT)
def _record_vector(rec_a, e, t, a, action):
    for i in range(action.shape[0]):
        rec_a[e, t, i] = action[i]
