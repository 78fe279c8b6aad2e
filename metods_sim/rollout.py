"""Fused episode rollouts: task and agent in one Numba call, parallel over population × episodes.

`rollout(agent, task, params, episodes)` runs every member of a population on every episode. One kernel is
compiled per task (its three functions are fused in) and per float type; the agent's variants (S, write, α, W0)
are arguments. The agents (member × episode pairs) run in blocks of `plasticity.kernel.LANES`, one SIMD lane each:
the network steps every lane of a block at once, the task steps each live lane. Blocks are spread over the
threads (`prange`); buffers are allocated once per block, before the time loop. A lane computes the same numbers
whatever its block or position, so a member scores the same alone or in a population, on any number of threads.
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

from .plasticity.kernel import LANES, expand_beta, matvec, recursive_step
from .plasticity.activation import sigma
from .plasticity.jit import JIT


class Episodes(NamedTuple):
    """Everything random about a set of episodes, drawn up front (common random numbers across a population).

    data: (E, D) float64, the task's rows; noise: (E, T) float64 uniforms for sampled actions;
    W0_noise: (E, N, N) added to W0 (zeros unless W0 = sampled).
    """

    data: np.ndarray
    noise: np.ndarray
    W0_noise: np.ndarray


class Rollouts(NamedTuple):
    """returns: (P, E) float64; metrics: (P, E, M) float64; steps: (P, E) int64 environment steps taken;
    diverged: (P, E) bool, the episode ended with a non-finite fast weight (W overflowed or became NaN; no
    operation of the rule turns a non-finite weight finite again, so the episode's end is the one place to look).
    With record > 0, for member 0 and the first `record` episodes, over (episode, time): W (…, post, pre),
    v (…, neuron) = v_S, action, reward, value, obs; steps after an episode's end are left at zero."""

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
    data = task.sample(rng, episodes)
    noise = rng.random((episodes, task.max_steps))
    N = agent.neurons
    W0_noise = np.zeros((episodes, N, N), dtype=agent.dtype)
    if agent.W0 == "sampled":
        W0_noise[:] = rng.normal(0.0, agent.W0_std, (episodes, N, N))
    return Episodes(data, noise, W0_noise)


def rollout(agent, task, params, episodes: Episodes, *, record: int = 0) -> Rollouts:
    """Run genomes params (P, size) (or (size,)) on every episode. Returns Rollouts."""
    arrays = agent.kernel_arrays(params)
    dtype = arrays.f_weight.dtype
    P, E, T, M = arrays.f_weight.shape[0], episodes.data.shape[0], task.max_steps, task.n_metrics
    N = agent.neurons
    returns = np.zeros((P, E))
    metrics = np.zeros((P, E, M))
    steps = np.zeros((P, E), dtype=np.int64)
    diverged = np.zeros((P, E), dtype=np.bool_)
    R = min(record, E)
    rec = (np.zeros((R, T, N, N), dtype), np.zeros((R, T, N), dtype), np.zeros((R, T), np.int64),
           np.zeros((R, T)), np.zeros((R, T), dtype), np.zeros((R, T, task.obs_size), dtype))
    kernel = _kernel_for(type(task))
    kernel(*arrays, agent.steps, agent.write_code, agent.action == "greedy", dtype.type(agent.W_clip),
           task.config(),
           np.ascontiguousarray(episodes.data), np.ascontiguousarray(episodes.noise),
           np.ascontiguousarray(episodes.W0_noise, dtype=dtype), task.max_steps, task.state_size, task.obs_size,
           returns, metrics, steps, diverged, *rec)
    if R == 0:
        return Rollouts(returns, metrics, steps, diverged=diverged)
    return Rollouts(returns, metrics, steps, *rec, diverged=diverged)


def rollout_reference(agent, task, params, episodes: Episodes, *, record: int = 0) -> Rollouts:
    """The same rollouts in batched NumPy with the reference rule (`plasticity.recursive_update`), every
    member × episode at once, with the same contract as `rollout`: what the fused kernel is tested against,
    and the benchmarks' baseline."""
    from .plasticity import recursive_update
    from .tasks.batch import batched

    arrays = agent.kernel_arrays(params)
    P, E, T = arrays.f_weight.shape[0], episodes.data.shape[0], task.max_steps
    B, A, N, R = P * E, task.n_actions, agent.neurons, min(record, E)
    member = np.repeat(np.arange(P), E)   # row b runs member b // E on episode b % E: member 0's rows come first
    a = {name: value[member] for name, value in arrays._asdict().items()}
    proj = {"vanilla": None, "linear": a["L"], "mlp": (a["U1"], a["U2"])}[agent.write]
    data, noise = np.tile(episodes.data, (P, 1)), np.tile(episodes.noise, (P, 1))
    reset_all, observe_all, step_all = batched(type(task))
    cfg, states = task.config(), np.zeros((B, task.state_size), np.int64)
    obs, metrics = np.zeros((B, task.obs_size), a["W0"].dtype), np.zeros((B, task.n_metrics))
    rewards, done, steps = np.zeros(B), np.zeros(B, bool), np.zeros(B, np.int64)
    reset_all(cfg, data, states)
    W = a["W0"] + np.tile(episodes.W0_noise, (P, 1, 1))
    prev_a, prev_r, total = np.zeros((B, A), W.dtype), np.zeros(B), np.zeros(B)
    rec = tuple(np.zeros((R, T) + shape, dtype) for shape, dtype in [
        ((N, N), W.dtype), ((N,), W.dtype), ((), np.int64), ((), np.float64), ((), W.dtype),
        ((task.obs_size,), W.dtype)])
    for t in range(T):
        live = ~done
        observe_all(cfg, data, states, obs)
        x = np.concatenate([obs, prev_a, prev_r[:, None].astype(W.dtype)], axis=1)
        v0 = np.tanh(np.einsum("bij,bj->bi", a["f_weight"], x) + a["f_bias"])
        v, W_next = recursive_update(W, v0, a["alpha"], a["kappa"], a["beta"], steps=agent.steps,
                                     write=agent.write, proj=proj)
        out = np.einsum("bij,bj->bi", a["g_weight"], v) + a["g_bias"]
        action = _choose_all(out[:, :A], noise[:, t], agent.action == "greedy")
        step_all(cfg, data, states, action, metrics, rewards, done)
        if agent.W_clip:
            W_next = _clip_all(W_next, agent.W_clip)
        W = np.where(live[:, None, None], W_next, W)
        for store, value in zip(rec, (W_next, v, action, rewards, out[:, A], obs)):
            store[live[:R], t] = value[:R][live[:R]]
        total += rewards
        steps += live
        prev_a = np.eye(A, dtype=W.dtype)[action]
        prev_r = rewards.copy()
        if done.all():
            break
    result = Rollouts(total.reshape(P, E), metrics.reshape(P, E, -1), steps.reshape(P, E),
                      diverged=~np.isfinite(W).all(axis=(1, 2)).reshape(P, E))
    return result._replace(**dict(zip(Rollouts._fields[3:9], rec))) if R else result


def _clip_all(W, bound):
    # comparisons, as in the kernel's _clip: NaN stays NaN
    return np.where(W > bound, bound, np.where(W < -bound, -bound, W)).astype(W.dtype)


def _choose_all(logits, uniform, greedy):
    if greedy:
        return np.argmax(logits, axis=1)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((uniform[:, None] >= cdf).sum(axis=1), logits.shape[1] - 1)


_KERNELS = {}


def _kernel_for(task_cls):
    """The fused kernel of a task class, compiled once per float type and cached on disk.

    The task's functions reach the kernel as globals of its own copy of `_make_kernel`'s kernel, not as closure
    cells: Numba keys its disk cache on the pickled closure, and a pickled dispatcher differs in every process
    (the cache would never hit). The one closure cell is the fingerprint, so the key changes with the sources."""
    if task_cls not in _KERNELS:
        template = _make_kernel(_fingerprint(task_cls))
        namespace = dict(globals(), task_reset=task_cls.reset, task_observe=task_cls.observe,
                         task_step=task_cls.step)
        kernel = types.FunctionType(template.__code__, namespace, template.__name__, None, template.__closure__)
        kernel.__qualname__ = template.__qualname__
        _KERNELS[task_cls] = njit(parallel=True, **JIT)(kernel)
    return _KERNELS[task_cls]


def _fingerprint(task_cls) -> str:
    """Hash of the task's identity and of every source file that can be fused into its kernel: this file, the
    rule's package and the task's package (a task may call helpers of another task's module). Numba keys its
    on-disk cache on the kernel's own bytecode only, so without this an edited task or rule would silently run
    from a stale cache, and two tasks would share one entry."""
    from . import plasticity

    folders = {Path(plasticity.__file__).parent, Path(inspect.getsourcefile(task_cls)).parent}
    files = [Path(__file__)] + sorted(f for folder in folders for f in folder.glob("*.py"))
    identity = f"{task_cls.__module__}.{task_cls.__qualname__}".encode()
    return hashlib.sha256(identity + b"".join(f.read_bytes() for f in files)).hexdigest()


def _make_kernel(fingerprint):
    """The kernel's Python function, with free names task_reset, task_observe, task_step bound by `_kernel_for`."""

    def kernel(f_weight, f_bias, g_weight, g_bias, alpha, kappa, beta, L, U1, U2, W0,
               steps, write, greedy, W_clip, cfg, data, noise, W0_noise, T, state_size, obs_size,
               returns, metrics, n_steps, diverged, rec_W, rec_v, rec_a, rec_r, rec_value, rec_obs):
        P, N, d_in = f_weight.shape
        A = g_weight.shape[1] - 1
        E = data.shape[0]
        R = rec_W.shape[0]
        H = max(U1.shape[1], 1)
        S1 = steps + 1
        dt = f_weight.dtype
        if T < 0:
            raise ValueError(fingerprint)  # makes the fingerprint part of the cache key
        agents = P * E                    # agent k runs member k // E on episode k % E
        for block in prange((agents + LANES - 1) // LANES):
            member = np.empty(LANES, np.int64)
            episode = np.empty(LANES, np.int64)
            done = np.empty(LANES, np.bool_)
            for lane in range(LANES):
                k = min(block * LANES + lane, agents - 1)   # padding lanes repeat the last agent, never step
                member[lane], episode[lane] = k // E, k % E
                done[lane] = block * LANES + lane >= agents
            fw, fb = _gather(f_weight, member, dt), _gather(f_bias.reshape((P, N, 1)), member, dt)
            gw, gb = _gather(g_weight, member, dt), _gather(g_bias.reshape((P, A + 1, 1)), member, dt)
            al, ka = _gather(alpha, member, dt), _gather(kappa, member, dt)
            Lb, U1b, U2b = _gather(L, member, dt), _gather(U1, member, dt), _gather(U2, member, dt)
            W = _gather(W0, member, dt)
            c = np.zeros((S1, LANES), dt)
            d = np.zeros((S1, S1, LANES), dt)
            for lane in range(LANES):
                expand_beta(beta[member[lane]], c, d, lane, steps)
                for i in range(N):
                    for j in range(N):
                        W[i, j, lane] += W0_noise[episode[lane], i, j]
            vs = np.zeros((S1, N, LANES), dt)
            us = np.zeros((S1, N, LANES), dt)
            scratch = (np.empty((N, LANES), dt), np.empty((S1, N, LANES), dt), np.empty((S1, LANES), dt),
                       np.empty((H, LANES), dt), np.empty((S1, N, LANES), dt))
            x = np.zeros((d_in, LANES), dt)
            out = np.empty((A + 1, LANES), dt)
            obs = np.zeros((LANES, obs_size), dt)
            state = np.zeros((LANES, state_size), np.int64)
            total = np.zeros(LANES)
            taken = np.zeros(LANES, np.int64)
            bad = np.zeros(LANES, np.bool_)
            for lane in range(LANES):
                task_reset(cfg, data[episode[lane]], state[lane])
            t = 0
            while t < T and not done.all():
                for lane in range(LANES):
                    if not done[lane]:
                        task_observe(cfg, data[episode[lane]], state[lane], obs[lane])
                        for j in range(obs_size):
                            x[j, lane] = obs[lane, j]
                matvec(fw, x, vs[0])
                for i in range(N):
                    for lane in range(LANES):
                        vs[0, i, lane] = sigma(vs[0, i, lane] + fb[i, 0, lane])
                recursive_step(W, vs, us, al, ka, c, d, steps, write, Lb, U1b, U2b, scratch)
                if W_clip > 0:
                    _clip(W, W_clip)
                matvec(gw, vs[steps], out)
                for i in range(A + 1):
                    for lane in range(LANES):
                        out[i, lane] += gb[i, 0, lane]
                for lane in range(LANES):
                    if done[lane]:
                        continue
                    p, e = member[lane], episode[lane]
                    a = _choose(out, lane, A, greedy, noise[e, t] if not greedy else 0.0)
                    r, finished = task_step(cfg, data[e], state[lane], a, metrics[p, e])
                    total[lane] += r
                    taken[lane] = t + 1
                    done[lane] = finished
                    if finished:  # the lane's W steps on with the block's: judge it now
                        bad[lane] = not _finite(W, lane)
                    if p == 0 and e < R:
                        _record(W, vs[steps], out, obs, lane, e, t, a, r, A, rec_W, rec_v, rec_a, rec_r,
                                rec_value, rec_obs)
                    for j in range(A):
                        x[obs_size + j, lane] = 0.0
                    x[obs_size + a, lane] = 1.0
                    x[obs_size + A, lane] = r
                t += 1
            for lane in range(min(LANES, agents - block * LANES)):
                returns[member[lane], episode[lane]] = total[lane]
                n_steps[member[lane], episode[lane]] = taken[lane]
                diverged[member[lane], episode[lane]] = bad[lane] if done[lane] else not _finite(W, lane)

    return kernel


@njit(**JIT)
def _gather(src, member, dt):
    """src (P, a, b) → (a, b, lanes): lane l holds src[member[l]]. (The lane count comes from `member`, not from
    LANES: Numba's disk cache would not see a change of another module's constant.)"""
    out = np.empty((src.shape[1], src.shape[2], member.shape[0]), dt)
    for lane in range(member.shape[0]):
        m = src[member[lane]]
        for i in range(src.shape[1]):
            for j in range(src.shape[2]):
                out[i, j, lane] = m[i, j]
    return out


@njit(inline="always", **JIT)
def _record(W, v, out, obs, lane, e, t, a, r, A, rec_W, rec_v, rec_a, rec_r, rec_value, rec_obs):
    for i in range(W.shape[0]):
        rec_v[e, t, i] = v[i, lane]
        for j in range(W.shape[1]):
            rec_W[e, t, i, j] = W[i, j, lane]
    rec_a[e, t] = a
    rec_r[e, t] = r
    rec_value[e, t] = out[A, lane]
    for j in range(obs.shape[1]):
        rec_obs[e, t, j] = obs[lane, j]


@njit(inline="always", **JIT)
def _clip(W, bound):
    """agent.W_clip: every fast weight into [-bound, bound]. Written with comparisons so that NaN stays NaN
    (min/max would turn it into a bound) and is still reported as divergence."""
    flat = W.ravel()
    for k in range(flat.size):
        if flat[k] > bound:
            flat[k] = bound
        elif flat[k] < -bound:
            flat[k] = -bound


@njit(inline="always", **JIT)
def _finite(W, lane):
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            if not math.isfinite(W[i, j, lane]):
                return False
    return True


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
