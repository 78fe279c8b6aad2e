"""A memoryless baseline: one tanh hidden layer on the step's input, no state carried between steps.

Input at step t: x = [o_t, one-hot a_{t−1}, r_{t−1}], d_in = obs_size + n_actions + 1. It sees the last action
and reward but keeps nothing older: what an agent gains from memory shows against it.
    h = tanh(f.weight x + f.bias)                                    f.weight (H, d_in)
    [logits, value] = g.weight h + g.bias                            g.weight (n_actions + 1, H)

Genome blocks (in vector order): f.weight, f.bias, g.weight, g.bias. A recorded step stores v = h (no W).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from ..plasticity.jit import FUSED
from ..plasticity.kernel import LANES
from ..fields import integer
from .base import BASELINE_FIELDS, Baseline, always_finite
from .lanes import dense, dense_rows, gather, gather_bias


class DenseArrays(NamedTuple):
    f_weight: np.ndarray  # (P, H, d_in)
    f_bias: np.ndarray    # (P, H)
    g_weight: np.ndarray  # (P, A+1, H)
    g_bias: np.ndarray    # (P, A+1)


class _Block(NamedTuple):
    fw: np.ndarray
    fb: np.ndarray
    gw: np.ndarray
    gb: np.ndarray
    h: np.ndarray   # (H, LANES), this step's hidden layer


@dataclass(frozen=True)
class Feedforward(Baseline):
    kind = "feedforward"
    FIELDS = {
        "hidden": integer(48, "H, tanh units of the one hidden layer on [o, one-hot a, r], no memory across steps "
                              "[ours: 48 gives 1,396 parameters on harlow, as many as the default MetODS agent's "
                              "1,412].", min=1),
        **BASELINE_FIELDS,
    }
    ARRAYS = DenseArrays

    def blocks(self) -> tuple:
        H, A = self.hidden, self.n_actions
        return ("f.weight", (H, self.inputs)), ("f.bias", (H,)), ("g.weight", (A + 1, H)), ("g.bias", (A + 1,))

    def reference_step(self, a, state, x):
        h = np.tanh(dense_rows(a["f_weight"], a["f_bias"], x))
        return dense_rows(a["g_weight"], a["g_bias"], h), (), (None, h)

    @staticmethod
    @njit(**FUSED)
    def prepare(arrays, member, episode, noise):
        f_weight, f_bias, g_weight, g_bias = arrays
        dt = f_weight.dtype
        return _Block(gather(f_weight, member, dt), gather_bias(f_bias, member, dt),
                      gather(g_weight, member, dt), gather_bias(g_bias, member, dt),
                      np.empty((f_weight.shape[1], LANES), dt))

    @staticmethod
    @njit(**FUSED)
    def act(s, x, out):
        dense(s.fw, s.fb, x, s.h, True)
        dense(s.gw, s.gb, s.h, out, False)

    finite = staticmethod(always_finite)
