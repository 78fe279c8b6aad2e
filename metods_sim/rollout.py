"""Fused episode rollouts: task and agent in one Numba call, parallel over population × episodes.

`rollout(agent, task, params, episodes)` runs every member of a population on every episode. One kernel is
compiled per (task class, agent class) and per float type: the task's three functions and the agent's four
(`metods_sim.agents.base`) are fused in; the agent's variants (MetODS's S, write, α, W0) are arguments. The agents
(member × episode pairs) run in blocks of `plasticity.kernel.LANES`, one SIMD lane each: the network steps every
lane of a block at once, the task steps each live lane. Blocks are spread over the threads (`prange`); buffers are
allocated once per block, before the time loop. A lane computes the same numbers whatever its block or position,
so a member scores the same alone or in a population, on any number of threads.
"""
from __future__ import annotations

import hashlib
import inspect
import math
import types
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from .plasticity.kernel import LANES
from .plasticity.jit import FUSED, JIT


class Episodes(NamedTuple):
    """Everything random about a set of episodes, drawn up front (common random numbers across a population).

    data: (E, D) float64, the task's rows; noise: (E, T) float64 uniforms for sampled actions;
    agent_noise: (E, ...) the agent's (`agent.episode_noise`: MetODS's W0 noise (E, N, N), else (E, 0)).
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
    an agent does not record), action, reward, value, obs; steps after an episode's end are left at zero."""

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


def draw_episodes(task, agent, rng: np.random.Generator, episodes: int) -> Episodes:
    """The task's rows, the action noise (uniforms (E, T) for sampled discrete actions; standard normals
    (E, T, n_actions) for a continuous task's Gaussian policy) and the agent's noise."""
    data = task.sample(rng, episodes)
    if task.continuous:
        noise = rng.standard_normal((episodes, task.max_steps, task.n_actions))
    else:
        noise = rng.random((episodes, task.max_steps))
    return Episodes(data, noise, agent.episode_noise(rng, episodes))


def rollout(agent, task, params, episodes: Episodes, *, record: int = 0) -> Rollouts:
    """Run genomes params (P, size) (or (size,)) on every episode. Returns Rollouts. A MuJoCo body runs in
    `rollout_physics`, a Meta-World task in `rollout_stepped` (task.engine), with the same contract."""
    if task.engine == "physics":
        from .rollout_physics import rollout_physics

        return rollout_physics(agent, task, params, episodes, record=record)
    if task.engine == "stepped":
        from .rollout_stepped import rollout_stepped

        return rollout_stepped(agent, task, params, episodes, record=record)
    arrays = agent.kernel_arrays(params)
    dtype = np.dtype(agent.dtype)
    P, E, T, M = _members(params), episodes.data.shape[0], task.max_steps, task.n_metrics
    returns = np.zeros((P, E))
    metrics = np.zeros((P, E, M))
    steps = np.zeros((P, E), dtype=np.int64)
    diverged = np.zeros((P, E), dtype=np.bool_)
    rec = _recording(agent, task, min(record, E), dtype)
    kernel = _kernel_for(type(task), type(agent))
    # a plain tuple: Numba pickles the argument types into the on-disk index that every (task, agent) kernel
    # shares (one source line), and an agent's NamedTuple class there would make the whole index unreadable
    # (ModuleNotFoundError) in a checkout where that agent's module is gone
    kernel(tuple(arrays), P, agent.action == "greedy", task.config(),
           np.ascontiguousarray(episodes.data), np.ascontiguousarray(episodes.noise),
           np.ascontiguousarray(episodes.agent_noise, dtype=dtype), task.max_steps, task.state_size, task.obs_size,
           task.n_actions, returns, metrics, steps, diverged, *rec)
    return _result(agent, returns, metrics, steps, diverged, rec)


def rollout_reference(agent, task, params, episodes: Episodes, *, record: int = 0) -> Rollouts:
    """The same rollouts in batched NumPy with the agents' reference steps (MetODS: `plasticity.recursive_update`),
    every member × episode at once, with the same contract as `rollout`: what the fused kernel is tested
    against, and the benchmarks' baseline."""
    from .tasks.batch import batched

    arrays = agent.kernel_arrays(params)
    dtype = np.dtype(agent.dtype)
    P, E, T = _members(params), episodes.data.shape[0], task.max_steps
    B, A, R = P * E, task.n_actions, min(record, E)
    member = np.repeat(np.arange(P), E)   # row b runs member b // E on episode b % E: member 0's rows come first
    a = {name: value[member] if isinstance(value, np.ndarray) else value for name, value in arrays._asdict().items()}
    data, noise = np.tile(episodes.data, (P, 1)), np.tile(episodes.noise, (P, 1))
    reset_all, observe_all, step_all = batched(type(task))
    cfg, states = task.config(), np.zeros((B, task.state_size), np.int64)
    obs, metrics = np.zeros((B, task.obs_size), dtype), np.zeros((B, task.n_metrics))
    rewards, done, steps = np.zeros(B), np.zeros(B, bool), np.zeros(B, np.int64)
    reset_all(cfg, data, states)
    agent_noise = np.asarray(episodes.agent_noise, dtype=dtype)
    state = agent.reference_start(a, np.tile(agent_noise, (P,) + (1,) * (agent_noise.ndim - 1)))
    prev_a, prev_r, total = np.zeros((B, A), dtype), np.zeros(B), np.zeros(B)
    rec = _recording(agent, task, R, dtype)
    for t in range(T):
        live = ~done
        observe_all(cfg, data, states, obs)
        x = np.concatenate([obs, prev_a, prev_r[:, None].astype(dtype)], axis=1)
        out, stepped, (W, v) = agent.reference_step(a, state, x)
        action = _choose_all(out[:, :A], noise[:, t], agent.action == "greedy")
        step_all(cfg, data, states, action, metrics, rewards, done)
        state = tuple(np.where(live.reshape((B,) + (1,) * (new.ndim - 1)), new, old)
                      for new, old in zip(stepped, state))
        for store, value in zip(rec, (W, v, action, rewards, out[:, A], obs)):
            if value is not None:
                store[live[:R], t] = value[:R][live[:R]]
        total += rewards
        steps += live
        prev_a = np.eye(A, dtype=dtype)[action]
        prev_r = rewards.copy()
        if done.all():
            break
    finite = np.ones(B, bool)
    for part in state:
        finite &= np.isfinite(part.reshape(B, -1)).all(axis=1)
    return _result(agent, total.reshape(P, E), metrics.reshape(P, E, -1), steps.reshape(P, E),
                   ~finite.reshape(P, E), rec)


def _members(params) -> int:
    return np.atleast_2d(np.asarray(params)).shape[0]


def _recording(agent, task, R, dtype):
    """The recording buffers, zeros: W, v (empty per step where the agent records none), action, reward, value,
    obs, over (episode, time)."""
    W_shape, v_shape = agent.record_shapes
    action = ((task.n_actions,), np.float64) if task.continuous else ((), np.int64)
    return tuple(np.zeros((R, task.max_steps) + shape, kind) for shape, kind in [
        (W_shape or (0, 0), dtype), (v_shape or (0,), dtype), action, ((), np.float64), ((), dtype),
        ((task.obs_size,), dtype)])


def _result(agent, returns, metrics, steps, diverged, rec) -> Rollouts:
    result = Rollouts(returns, metrics, steps, diverged=diverged)
    if rec[2].shape[0] == 0:
        return result
    kept = [None if shape is None else buffer for shape, buffer in zip(agent.record_shapes, rec[:2])]
    return result._replace(**dict(zip(Rollouts._fields[3:9], kept + list(rec[2:]))))


def _choose_all(logits, uniform, greedy):
    if greedy:
        return np.argmax(logits, axis=1)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((uniform[:, None] >= cdf).sum(axis=1), logits.shape[1] - 1)


_KERNELS = {}


def _kernel_for(task_cls, agent_cls, make=None):
    """The fused kernel of a task class and an agent class, compiled once per float type and cached on disk.

    Their functions reach the kernel as globals of its own copy of `_make_kernel`'s kernel, not as closure
    cells: Numba keys its disk cache on the pickled closure, and a pickled dispatcher differs in every process
    (the cache would never hit). The one closure cell is the fingerprint, so the key changes with the sources."""
    make = make or _make_kernel   # the template: this file's, or rollout_physics's for a MuJoCo body
    key = (task_cls, agent_cls, make)
    if key not in _KERNELS:
        template = make(_fingerprint(task_cls, agent_cls, make))
        namespace = dict(template.__globals__, task_reset=_inlined(task_cls.reset),
                         task_observe=_inlined(task_cls.observe), task_step=_inlined(task_cls.step),
                         agent_prepare=agent_cls.prepare, agent_act=agent_cls.act,
                         agent_finite=agent_cls.finite, agent_record=agent_cls.record)
        kernel = types.FunctionType(template.__code__, namespace, template.__name__, None, template.__closure__)
        kernel.__qualname__ = template.__qualname__
        _KERNELS[key] = njit(parallel=True, **JIT)(kernel)
    return _KERNELS[key]


def _inlined(function):
    """A copy of a task's Numba function that Numba inlines into the kernel. Called, it is passed per-lane views
    (data[e], state[lane]) whose reference counts Numba must keep at every call; inlined, it prunes them (the
    Harlow rollout ran about 10% faster). The agent's `act` stays a call: its `noalias` promise is an attribute of
    its own function. (A task that lacks one of the three, as a MuJoCo body lacks `observe`, passes None.)"""
    return function if function is None else njit(inline="always", **FUSED)(function.py_func)


def _fingerprint(task_cls, agent_cls, make=None) -> str:
    """Hash of the task's and agent's identities and of every source file that can be fused into their kernel:
    this file, the rule's package, the task's package and the agent's (a task or agent may call helpers of
    another's module). Numba keys its on-disk cache on the kernel's own bytecode only, so without this an edited
    task, agent or rule would silently run from a stale cache, and two pairs would share one entry."""
    from . import plasticity

    folders = {Path(plasticity.__file__).parent, Path(inspect.getsourcefile(task_cls)).parent,
               Path(inspect.getsourcefile(agent_cls)).parent}
    template = Path(inspect.getsourcefile(make or _make_kernel))
    files = [Path(__file__)] + ([template] if template != Path(__file__) else []) + \
        sorted(f for folder in folders for f in folder.glob("*.py"))
    identity = "|".join(f"{cls.__module__}.{cls.__qualname__}" for cls in (task_cls, agent_cls)).encode()
    return hashlib.sha256(identity + b"".join(f.read_bytes() for f in files)).hexdigest()


def _make_kernel(fingerprint):
    """The kernel's Python function, with free names task_reset, task_observe, task_step, agent_prepare,
    agent_act, agent_finite, agent_record bound by `_kernel_for`."""

    def kernel(arrays, P, greedy, cfg, data, noise, agent_noise, T, state_size, obs_size, A,
               returns, metrics, n_steps, diverged, rec_W, rec_v, rec_a, rec_r, rec_value, rec_obs):
        E = data.shape[0]
        R = rec_a.shape[0]
        dt = rec_value.dtype              # the agent's float type
        if T < 0:
            raise ValueError(fingerprint)  # makes the fingerprint part of the cache key
        agents = P * E                    # agent k runs member k // E on episode k % E
        for block in prange((agents + LANES - 1) // LANES):
            member, episode, done = _block_lanes(block, agents, E, LANES)
            state = agent_prepare(arrays, member, episode, agent_noise)
            x = np.zeros((obs_size + A + 1, LANES), dt)
            out = np.empty((A + 1, LANES), dt)
            obs = np.zeros((LANES, obs_size), dt)
            task_state = np.zeros((LANES, state_size), np.int64)
            total = np.zeros(LANES)
            taken = np.zeros(LANES, np.int64)
            bad = np.zeros(LANES, np.bool_)
            for lane in range(LANES):
                task_reset(cfg, data[episode[lane]], task_state[lane])
            t = 0
            while t < T and not done.all():
                for lane in range(LANES):
                    if not done[lane]:
                        task_observe(cfg, data[episode[lane]], task_state[lane], obs[lane])
                        for j in range(obs_size):
                            x[j, lane] = obs[lane, j]
                agent_act(state, x, out)
                for lane in range(LANES):
                    if done[lane]:
                        continue
                    p, e = member[lane], episode[lane]
                    a = _choose(out, lane, A, greedy, noise[e, t] if not greedy else 0.0)
                    r, finished = task_step(cfg, data[e], task_state[lane], a, metrics[p, e])
                    total[lane] += r
                    taken[lane] = t + 1
                    done[lane] = finished
                    if finished:  # the lane's state steps on with the block's: judge it now
                        bad[lane] = not agent_finite(state, lane)
                    if p == 0 and e < R:
                        agent_record(state, lane, rec_W[e, t], rec_v[e, t])
                        _record(out, obs, lane, e, t, a, r, A, rec_a, rec_r, rec_value, rec_obs)
                    for j in range(A):
                        x[obs_size + j, lane] = 0.0
                    x[obs_size + a, lane] = 1.0
                    x[obs_size + A, lane] = r
                t += 1
            for lane in range(min(LANES, agents - block * LANES)):
                returns[member[lane], episode[lane]] = total[lane]
                n_steps[member[lane], episode[lane]] = taken[lane]
                diverged[member[lane], episode[lane]] = bad[lane] if done[lane] else not agent_finite(state, lane)

    return kernel


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
def _record(out, obs, lane, e, t, a, r, A, rec_a, rec_r, rec_value, rec_obs):
    rec_a[e, t] = a
    rec_r[e, t] = r
    rec_value[e, t] = out[A, lane]
    for j in range(obs.shape[1]):
        rec_obs[e, t, j] = obs[lane, j]


@njit(inline="always", **JIT)
def _choose(out, lane, A, greedy, uniform):
    """Argmax of the logits out[:A, lane], or a sample from their softmax with the given uniform draw."""
    best = 0
    for i in range(1, A):
        if out[i, lane] > out[best, lane]:
            best = i
    if greedy:
        return best
    z = 0.0
    for i in range(A):
        z += math.exp(out[i, lane] - out[best, lane])
    acc = 0.0
    for i in range(A):
        acc += math.exp(out[i, lane] - out[best, lane]) / z
        if uniform < acc:
            return i
    return A - 1
