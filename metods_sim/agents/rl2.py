"""The RL² baseline: a GRU whose hidden state is the agent's only memory within an episode.

Input at step t: x = [o_t, one-hot a_{t−1}, r_{t−1}], d_in = obs_size + n_actions + 1; h_0 = 0 every episode.
The cell is PyTorch's `torch.nn.GRUCell` (gates r, z, n in that order, σ the logistic function):
    r = σ(W_ir x + b_ir + W_hr h + b_hr)
    z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    h' = (1 − z) ⊙ n + z ⊙ h
    [logits, value] = g.weight h' + g.bias                         g.weight (n_actions + 1, H)

Genome blocks (in vector order), named as GRUCell's parameters: gru.weight_ih (3H, d_in), gru.weight_hh (3H, H),
gru.bias_ih (3H,), gru.bias_hh (3H,), g.weight, g.bias. A recorded step stores v = h' (no W).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from ..plasticity.activation import sigma
from ..plasticity.jit import FUSED
from ..plasticity.kernel import LANES
from ..fields import integer
from .base import BASELINE_FIELDS, Baseline
from .lanes import dense, dense_rows, finite_rows, gather, gather_bias


class GRUArrays(NamedTuple):
    weight_ih: np.ndarray  # (P, 3H, d_in)
    weight_hh: np.ndarray  # (P, 3H, H)
    bias_ih: np.ndarray    # (P, 3H)
    bias_hh: np.ndarray    # (P, 3H)
    g_weight: np.ndarray   # (P, A+1, H)
    g_bias: np.ndarray     # (P, A+1)


class _Block(NamedTuple):
    wih: np.ndarray
    whh: np.ndarray
    bih: np.ndarray
    bhh: np.ndarray
    gw: np.ndarray
    gb: np.ndarray
    h: np.ndarray    # (H, LANES)
    gi: np.ndarray   # (3H, LANES): W_i x + b_i
    gh: np.ndarray   # (3H, LANES): W_h h + b_h


@dataclass(frozen=True)
class RL2(Baseline):
    kind = "rl2"
    FIELDS = {
        "hidden": integer(12, "H, units of the GRU (PyTorch's GRUCell) that sees [o, one-hot a, r] [paper: RL² is "
                              "a GRU; ours: 12 gives 1,420 parameters on harlow, as many as the default MetODS "
                              "agent's 1,412].", min=1),
        **BASELINE_FIELDS,
    }
    ARRAYS = GRUArrays

    def blocks(self) -> tuple:
        """The GRU's weights and biases (zero biases: every gate starts half open), then the readout g."""
        H, A = self.hidden, self.n_actions
        return (("gru.weight_ih", (3 * H, self.inputs)), ("gru.weight_hh", (3 * H, H)),
                ("gru.bias_ih", (3 * H,)), ("gru.bias_hh", (3 * H,)), ("g.weight", (A + 1, H)), ("g.bias", (A + 1,)))

    def reference_start(self, a, noise):
        return (np.zeros((noise.shape[0], self.hidden), dtype=self.dtype),)

    def reference_step(self, a, state, x):
        H, (h,) = self.hidden, state
        gi = dense_rows(a["weight_ih"], a["bias_ih"], x)
        gh = dense_rows(a["weight_hh"], a["bias_hh"], h)
        r = 1.0 / (1.0 + np.exp(-(gi[:, :H] + gh[:, :H])))
        z = 1.0 / (1.0 + np.exp(-(gi[:, H:2 * H] + gh[:, H:2 * H])))
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h = ((1 - z) * n + z * h).astype(self.dtype)
        return dense_rows(a["g_weight"], a["g_bias"], h), (h,), (None, h)

    @staticmethod
    @njit(**FUSED)
    def prepare(arrays, member, episode, noise):
        weight_ih, weight_hh, bias_ih, bias_hh, g_weight, g_bias = arrays
        dt, H3 = weight_ih.dtype, weight_ih.shape[1]
        return _Block(gather(weight_ih, member, dt), gather(weight_hh, member, dt),
                      gather_bias(bias_ih, member, dt), gather_bias(bias_hh, member, dt),
                      gather(g_weight, member, dt), gather_bias(g_bias, member, dt),
                      np.zeros((H3 // 3, LANES), dt), np.empty((H3, LANES), dt), np.empty((H3, LANES), dt))

    @staticmethod
    @njit(**FUSED)
    def act(s, x, out):
        H = s.h.shape[0]
        half, one = s.h.dtype.type(0.5), s.h.dtype.type(1)
        dense(s.wih, s.bih, x, s.gi, False)
        dense(s.whh, s.bhh, s.h, s.gh, False)
        for i in range(H):
            for k in range(LANES):
                # σ(y) = (1 + tanh(y/2)) / 2: float32 kernels get the vectorised tanh of `sigma`
                r = half + half * sigma(half * (s.gi[i, k] + s.gh[i, k]))
                z = half + half * sigma(half * (s.gi[H + i, k] + s.gh[H + i, k]))
                n = sigma(s.gi[2 * H + i, k] + r * s.gh[2 * H + i, k])
                s.h[i, k] = (one - z) * n + z * s.h[i, k]
        dense(s.gw, s.gb, s.h, out, False)

    @staticmethod
    @njit(**FUSED)
    def finite(s, lane):
        return finite_rows(s.h, lane)
