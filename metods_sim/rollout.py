"""Fused episode rollouts: task and agent in one Numba call, parallel over population × episodes.

`rollout(agent, task, params, episodes)` runs every member of a population on every episode. One kernel is
compiled per task (its three functions are fused in) and per float type; the agent's variants (S, write, α, W0)
are arguments. Buffers are allocated once per episode, before the time loop.
"""
from __future__ import annotations

import hashlib
import inspect
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from .plasticity import recursive_step
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
    if task_cls not in _KERNELS:
        _KERNELS[task_cls] = _make_kernel(task_cls.reset, task_cls.observe, task_cls.step,
                                          _fingerprint(task_cls))
    return _KERNELS[task_cls]


def _fingerprint(task_cls) -> str:
    """Hash of every source file that can be fused into a task's kernel: this file, the rule's package and the
    task's package (a task may call helpers of another task's module). Numba keys its on-disk cache on the
    kernel's own file and pickles the fused functions by name only, so without this an edited task or rule
    would silently run from a stale cache."""
    from . import plasticity

    folders = {Path(plasticity.__file__).parent, Path(inspect.getsourcefile(task_cls)).parent}
    files = [Path(__file__)] + sorted(f for folder in folders for f in folder.glob("*.py"))
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()


def _make_kernel(task_reset, task_observe, task_step, fingerprint):
    @njit(parallel=True, **JIT)
    def kernel(f_weight, f_bias, g_weight, g_bias, alpha, kappa, beta, L, U1, U2, W0,
               steps, write, greedy, W_clip, cfg, data, noise, W0_noise, T, state_size, obs_size,
               returns, metrics, n_steps, diverged, rec_W, rec_v, rec_a, rec_r, rec_value, rec_obs):
        P, N, d_in = f_weight.shape
        A = g_weight.shape[1] - 1
        E = data.shape[0]
        R = rec_W.shape[0]
        H = max(U1.shape[1], 1)
        dt = f_weight.dtype
        if T < 0:
            raise ValueError(fingerprint)  # makes the fingerprint part of the cache key
        for k in prange(P * E):
            p, e = k // E, k % E
            Ws = np.empty((steps + 1, N, N), dt)
            vs = np.empty((steps + 1, N), dt)
            u = np.empty(N, dt)
            hidden = np.empty(H, dt)
            x = np.zeros(d_in, dt)
            out = np.empty(A + 1, dt)
            state = np.zeros(state_size, np.int64)
            obs = x[:obs_size]
            Ws[0] = W0[p] + W0_noise[e]
            task_reset(cfg, data[e], state)
            total = 0.0
            t = 0
            while t < T:
                task_observe(cfg, data[e], state, obs)
                v0 = vs[0]
                _affine(f_weight[p], f_bias[p], x, v0)
                for i in range(N):
                    v0[i] = sigma(v0[i])
                recursive_step(Ws, vs, u, hidden, alpha[p], kappa[p], beta[p], steps, write, L[p], U1[p], U2[p])
                if W_clip > 0:
                    _clip(Ws[steps], W_clip)
                _affine(g_weight[p], g_bias[p], vs[steps], out)
                a = _choose(out, A, greedy, noise[e, t] if not greedy else 0.0)
                r, done = task_step(cfg, data[e], state, a, metrics[p, e])
                total += r
                if p == 0 and e < R:
                    rec_W[e, t] = Ws[steps]
                    rec_v[e, t] = vs[steps]
                    rec_a[e, t] = a
                    rec_r[e, t] = r
                    rec_value[e, t] = out[A]
                    rec_obs[e, t] = obs
                Ws[0] = Ws[steps]
                for j in range(A):
                    x[obs_size + j] = 0.0
                x[obs_size + a] = 1.0
                x[obs_size + A] = r
                t += 1
                if done:
                    break
            returns[p, e] = total
            n_steps[p, e] = t
            diverged[p, e] = not _finite(Ws[0])

    return kernel


@njit(inline="always", **JIT)
def _affine(weight, bias, v, out):
    """out = weight v + bias: f before its tanh, or g's action logits then value."""
    for i in range(weight.shape[0]):
        acc = bias[i]
        for j in range(weight.shape[1]):
            acc += weight[i, j] * v[j]
        out[i] = acc


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
def _finite(W):
    flat = W.ravel()
    for k in range(flat.size):
        if not math.isfinite(flat[k]):
            return False
    return True


@njit(inline="always", **JIT)
def _choose(out, A, greedy, uniform):
    """Argmax of the logits out[:A], or a sample from their softmax with the given uniform draw."""
    best = 0
    for i in range(1, A):
        if out[i] > out[best]:
            best = i
    if greedy:
        return best
    z = 0.0
    for i in range(A):
        z += math.exp(out[i] - out[best])
    acc = 0.0
    for i in range(A):
        acc += math.exp(out[i] - out[best]) / z
        if uniform < acc:
            return i
    return A - 1
