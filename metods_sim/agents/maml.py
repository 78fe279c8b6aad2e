"""The MAML baseline (Finn et al. 2017, as the MetODS paper ran it): a 3-layer MLP whose parameters are adapted
within the episode by policy-gradient steps; the genome is where adaptation starts, θ.

Input at step t: x = [o_t, a_{t−1}, r_{t−1}] (a_{t−1} one-hot, or the action vector on a continuous task).
    h1 = tanh(f1.weight x + f1.bias)                                f1.weight (H, d_in)
    h  = tanh(f2.weight h1 + f2.bias)                               f2.weight (H, H)
    [logits, value] = g.weight h + g.bias                           g.weight (n_actions + 1, H)

Adaptation. At every step t = K, 2K, … (K = adapt_every), before acting, one REINFORCE step on the window of the
K steps t' = t−K … t−1 that the current parameters acted:
    θ ← θ + inner_lr · Σ_t' ∇_θ log π_θ(a_t' | x_t') · (G_t' − b)
    G_t' = Σ_{t'≤s<t} inner_gamma^(s−t') r_s    (the return-to-go, cut at the window's end)
    b = mean of G_t' over the window
The pair (a_t', r_t') of step t' is read from the next input x_{t'+1} (where the task writes them), so the window
of step t closes with x_t itself. log π is the policy the kernel acts with: the softmax of the logits on a
discrete task (also under action: greedy, whose argmax acts), the Gaussian N(mean, exp(log_std)²) on a
continuous one, evaluated at the clipped action the task received. The gradient is first-order and hand-written
(backprop through the three layers); the value row and log_std are not adapted. On a continuous task under
action: greedy the action is the clipped mean, whose score (a − mean)/σ² vanishes inside [-1, 1]: there the
agent adapts only with action: sample.

Genome blocks (in vector order): f1.weight, f1.bias, f2.weight, f2.bias, g.weight, g.bias (θ), then log_std on a
continuous task. The per-episode state is the adapted copy of θ, the window's inputs (x_t' at row t' mod K:
actions and rewards come with them) and the step t; a recorded step stores v = h (no W).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from ..fields import integer, number
from ..plasticity.jit import FUSED
from ..plasticity.kernel import LANES
from .base import BASELINE_FIELDS, Baseline
from .lanes import dense, dense_rows, gather, gather_bias


class MAMLArrays(NamedTuple):
    f1_weight: np.ndarray  # (P, H, d_in)
    f1_bias: np.ndarray    # (P, H)
    f2_weight: np.ndarray  # (P, H, H)
    f2_bias: np.ndarray    # (P, H)
    g_weight: np.ndarray   # (P, A+1, H)
    g_bias: np.ndarray     # (P, A+1)
    inv_var: np.ndarray    # (P, A): exp(−2 log_std), the Gaussian's 1/σ² (ones on a discrete task)
    adapt_every: int       # K
    inner_lr: float        # in the agent's float type
    inner_gamma: float     # in the agent's float type
    continuous: bool


class _Net(NamedTuple):
    """The MLP's parameters per lane, weights (fan_out, fan_in, LANES) and biases (fan_out, 1, LANES)."""
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    w3: np.ndarray
    b3: np.ndarray


class _Block(NamedTuple):
    theta: _Net          # the lanes' adapted parameters
    step: _Net           # the update being summed over the window
    inv_var: np.ndarray  # (A, 1, LANES)
    xs: np.ndarray       # (K, d_in, LANES), x_t' at row t' mod K: the window's inputs
    h1: np.ndarray       # (H, LANES)
    h: np.ndarray        # (H, LANES), this step's last hidden layer
    o: np.ndarray        # (A+1, LANES), scratch: the window's outputs, then its errors at the output
    d1: np.ndarray       # (H, LANES), errors at the hidden layers' inputs
    d2: np.ndarray
    ret: np.ndarray      # (K, LANES), G_t'
    clock: np.ndarray    # (1,) int64, t
    settings: tuple      # (inner_lr, inner_gamma, continuous)


@dataclass(frozen=True)
class MAML(Baseline):
    adapt_every: int
    inner_lr: float
    inner_gamma: float

    kind = "maml"
    FIELDS = {
        "hidden": integer(26, "H, tanh units of each of the MLP's two hidden layers (3 weight layers) on [o, "
                              "a_{t−1}, r_{t−1}] [paper: MAML is a 3-layer MLP; ours: 26 gives 1,227 parameters "
                              "on the maze, as many as the maze's MetODS agent's 1,233].", min=1),
        "adapt_every": integer(50, "K: a REINFORCE step on θ at every t = K, 2K, … of the episode, before acting, "
                                   "on the window of the K steps since the previous one: each step learns from the "
                                   "current parameters' own actions, as MAML's inner loop does, and the window "
                                   "needs no buffer longer than K [paper: Ant-dir, one step at t = 100 of 200; "
                                   "ours: 50, once halfway through the maze's 100 steps].", min=1),
        "inner_lr": number(0.01, "Step size of the within-episode step θ ← θ + inner_lr Σ_t' ∇_θ log "
                                 "π(a_t'|x_t') (G_t' − b), a sum over the window, b its mean return-to-go; fixed, "
                                 "not learned [ours: 0.01 moves the maze's hidden units by about a tenth at the "
                                 "first step from the initial genome].", min=0),
        "inner_gamma": number(0.99, "Discount of the return-to-go G_t' in the window of an adaptation step [ours: "
                                    "0.99, the usual discount].", min=0, max=1),
        **BASELINE_FIELDS,
    }
    ARRAYS = MAMLArrays

    def blocks(self) -> tuple:
        H, A = self.hidden, self.n_actions
        return (("f1.weight", (H, self.inputs)), ("f1.bias", (H,)), ("f2.weight", (H, H)), ("f2.bias", (H,)),
                ("g.weight", (A + 1, H)), ("g.bias", (A + 1,)))

    def kernel_arrays(self, params: np.ndarray) -> MAMLArrays:
        dtype = np.dtype(self.dtype)
        parts = self.layout.contiguous(params, dtype)
        return MAMLArrays(*(parts[name] for name, _ in self.blocks()),
                          np.exp(-2.0 * self.log_std(params)).astype(dtype), self.adapt_every,
                          dtype.type(self.inner_lr), dtype.type(self.inner_gamma), self.continuous)

    # ---- NumPy, B rows at once ----

    def reference_start(self, a, noise):
        """(θ's six blocks (B, …), the window's inputs xs (B, K, d_in), h (B, H), t (B,) int64): the kernel's
        state, row by row."""
        B = noise.shape[0]
        return (*(a[name.replace(".", "_")] for name, _ in self.blocks()),
                np.zeros((B, self.adapt_every, self.inputs), self.dtype), np.zeros((B, self.hidden), self.dtype),
                np.zeros(B, np.int64))

    def reference_step(self, a, state, x):
        *theta, xs, h, t = state
        adapt = (t > 0) & (t % self.adapt_every == 0)
        if adapt.any():
            theta = [np.where(adapt.reshape((-1,) + (1,) * (p.ndim - 1)), p + d, p)
                     for p, d in zip(theta, self.window_step(a, theta, xs, x))]
        xs = xs.copy()
        xs[np.arange(len(t)), t % self.adapt_every] = x
        w1, b1, w2, b2, w3, b3 = theta
        h = np.tanh(dense_rows(w2, b2, np.tanh(dense_rows(w1, b1, x))))
        return dense_rows(w3, b3, h), (*theta, xs, h, t + 1), (None, h)

    def window_step(self, a, theta, xs, x):
        """inner_lr · Σ_t' ∇_θ log π(a_t' | x_t') (G_t' − b) over a full window xs (B, K, d_in) closed by x
        (B, d_in): [Δf1.weight, Δf1.bias, …, Δg.bias], each (B, *shape)."""
        w1, b1, w2, b2, w3, b3 = theta
        A, first = self.n_actions, self.obs_size
        after = np.concatenate([xs[:, 1:], x[:, None]], axis=1)       # x_{t'+1}: holds a_t', r_t'
        h1 = np.tanh(np.einsum("bij,bkj->bki", w1, xs) + b1[:, None])
        h = np.tanh(np.einsum("bij,bkj->bki", w2, h1) + b2[:, None])
        out = np.einsum("bij,bkj->bki", w3, h) + b3[:, None]
        ret = np.zeros(after.shape[:2], after.dtype)
        acc = np.zeros(after.shape[0], after.dtype)
        for k in reversed(range(after.shape[1])):
            acc = after[:, k, -1] + self.inner_gamma * acc
            ret[:, k] = acc
        weight = self.inner_lr * (ret - ret.mean(axis=1, keepdims=True))
        taken, head = after[..., first:first + A], out[..., :A]
        if self.continuous:
            score = (taken - head) * a["inv_var"][:, None]
        else:
            p = np.exp(head - head.max(axis=-1, keepdims=True))
            score = taken - p / p.sum(axis=-1, keepdims=True)
        d3 = np.concatenate([weight[..., None] * score, np.zeros_like(out[..., A:])], axis=-1)
        d2 = np.einsum("bij,bki->bkj", w3, d3) * (1 - h * h)
        d1 = np.einsum("bij,bki->bkj", w2, d2) * (1 - h1 * h1)
        outer = lambda d, u: np.einsum("bki,bkj->bij", d, u)
        return [outer(d1, xs), d1.sum(1), outer(d2, h1), d2.sum(1), outer(d3, h), d3.sum(1)]

    # ---- Numba, LANES agents at once ----

    @staticmethod
    @njit(**FUSED)
    def prepare(arrays, member, episode, noise):
        f1_weight, f1_bias, f2_weight, f2_bias, g_weight, g_bias, inv_var, K, lr, gamma, continuous = arrays
        dt = f1_weight.dtype
        theta = _Net(gather(f1_weight, member, dt), gather_bias(f1_bias, member, dt),
                     gather(f2_weight, member, dt), gather_bias(f2_bias, member, dt),
                     gather(g_weight, member, dt), gather_bias(g_bias, member, dt))
        step = _Net(np.zeros_like(theta.w1), np.zeros_like(theta.b1), np.zeros_like(theta.w2),
                    np.zeros_like(theta.b2), np.zeros_like(theta.w3), np.zeros_like(theta.b3))
        H, d_in, A1 = f1_weight.shape[1], f1_weight.shape[2], g_weight.shape[1]
        return _Block(theta, step, gather_bias(inv_var, member, dt), np.zeros((K, d_in, LANES), dt),
                      np.empty((H, LANES), dt), np.empty((H, LANES), dt), np.empty((A1, LANES), dt),
                      np.empty((H, LANES), dt), np.empty((H, LANES), dt), np.empty((K, LANES), dt),
                      np.zeros(1, np.int64), (lr, gamma, continuous))

    @staticmethod
    @njit(**FUSED)
    def act(s, x, out):
        t, K = s.clock[0], s.xs.shape[0]
        if t > 0 and t % K == 0:
            _adapt(s, x)
        s.xs[t % K, :, :] = x
        _forward(s.theta, x, s.h1, s.h, out)
        s.clock[0] = t + 1

    @staticmethod
    @njit(**FUSED)
    def finite(s, lane):
        for p in s.theta:
            for i in range(p.shape[0]):
                for j in range(p.shape[1]):
                    if not math.isfinite(p[i, j, lane]):
                        return False
        return True


@njit(inline="always", **FUSED)
def _forward(net, x, h1, h, out):
    dense(net.w1, net.b1, x, h1, True)
    dense(net.w2, net.b2, h1, h, True)
    dense(net.w3, net.b3, h, out, False)


@njit(**FUSED)
def _adapt(s, x):
    """θ += inner_lr Σ_t' ∇ log π(a_t' | x_t') (G_t' − b) over the window in s.xs, closed by x (the module's
    docstring); every lane at once."""
    lr, gamma, continuous = s.settings
    K, d_in, A = s.xs.shape[0], s.xs.shape[1], s.o.shape[0] - 1
    first = d_in - A - 1                           # where a_{t−1} starts in x
    base = np.zeros(LANES, s.ret.dtype)
    for k in range(LANES):                         # G_t' from the rewards r_t' = x_{t'+1}[−1]
        acc = x[d_in - 1, k]
        s.ret[K - 1, k] = acc
        for i in range(K - 2, -1, -1):
            acc = s.xs[i + 1, d_in - 1, k] + gamma * acc
            s.ret[i, k] = acc
        for i in range(K):
            base[k] += s.ret[i, k]
        base[k] /= K
    for p in s.step:
        p[:] = 0
    for i in range(K):
        after = x if i == K - 1 else s.xs[i + 1]
        _forward(s.theta, s.xs[i], s.h1, s.h, s.o)
        for k in range(LANES):                     # s.o ← the error at the output: lr (G − b) ∇_out log π
            weight = lr * (s.ret[i, k] - base[k])
            if continuous:
                for j in range(A):
                    s.o[j, k] = weight * (after[first + j, k] - s.o[j, k]) * s.inv_var[j, 0, k]
            else:
                top = s.o[0, k]
                for j in range(1, A):
                    top = max(top, s.o[j, k])
                z = 0.0
                for j in range(A):
                    z += math.exp(s.o[j, k] - top)
                for j in range(A):
                    s.o[j, k] = weight * (after[first + j, k] - math.exp(s.o[j, k] - top) / z)
            s.o[A, k] = 0                          # the value is not adapted
        _accumulate(s.step.w3, s.step.b3, s.o, s.h)
        _backward(s.theta.w3, s.o, s.h, s.d2)
        _accumulate(s.step.w2, s.step.b2, s.d2, s.h1)
        _backward(s.theta.w2, s.d2, s.h1, s.d1)
        _accumulate(s.step.w1, s.step.b1, s.d1, s.xs[i])
    for p, d in zip(s.theta, s.step):
        p[:] += d    # in place: Numba rebinds `p += d` on a tuple's element to a new array


@njit(inline="always", **FUSED)
def _accumulate(gw, gb, delta, u):
    """gw += delta ⊗ u, gb += delta, lane by lane: gw (R, C, LANES), gb (R, 1, LANES), delta (R, LANES),
    u (C, LANES)."""
    for i in range(gw.shape[0]):
        for j in range(gw.shape[1]):
            for k in range(LANES):
                gw[i, j, k] += delta[i, k] * u[j, k]
        for k in range(LANES):
            gb[i, 0, k] += delta[i, k]


@njit(inline="always", **FUSED)
def _backward(w, delta, h, out):
    """out = (wᵀ delta) ⊙ (1 − h²): the error at the input of the tanh layer h that w reads; w (R, C, LANES),
    delta (R, LANES), h and out (C, LANES)."""
    for j in range(w.shape[1]):
        for k in range(LANES):
            out[j, k] = 0
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            for k in range(LANES):
                out[j, k] += w[i, j, k] * delta[i, k]
    for j in range(w.shape[1]):
        for k in range(LANES):
            out[j, k] *= 1 - h[j, k] * h[j, k]
