"""The MetODS agent: f (embedding), the dynamic layer, g (policy logits and value), as a genome layout.

Input to f at step t: x = [o_t, one-hot a_{t−1}, r_{t−1}], d_in = obs_size + n_actions + 1.
    v⁽⁰⁾ = tanh(f.weight x + f.bias)                                 f.weight (N, d_in)
    (v_S, W_t) = S recursive read/write passes from W_{t−1}             see metods_sim.plasticity
    [logits, value] = g.weight v_S + g.bias                           g.weight (n_actions + 1, N)

Genome blocks (in vector order; `metods_sim.agents.layout.Layout`):
    f.weight, f.bias, g.weight, g.bias,
    alpha (N, N)                       only with plasticity = elementwise (`none`: α = 1),
    kappa, beta (S(S+3)/2,) each       the free entries of the (S+1)×(S+1) lower triangles, rows s = 1..S,
    proj (N, N)                        only with write = linear (u = L v),
    proj.hidden (H, N), proj.out (N, H) only with write = mlp (u = U2 tanh(U1 v)),
    W0 (N, N)                          only with W0 = learned.
W is per-episode state, never part of the genome: it starts at W0 (zeros, learned, or zeros plus
N(0, W0_std²) noise drawn per episode) and is rewritten every step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..plasticity import WRITE_CODES
from .layout import Layout


class KernelArrays(NamedTuple):
    """The genome unpacked for the rollout kernels; every array has a leading population axis P."""

    f_weight: np.ndarray  # (P, N, d_in)
    f_bias: np.ndarray    # (P, N)
    g_weight: np.ndarray  # (P, A+1, N)
    g_bias: np.ndarray    # (P, A+1)
    alpha: np.ndarray     # (P, N, N)
    kappa: np.ndarray     # (P, S+1, S+1)
    beta: np.ndarray      # (P, S+1, S+1)
    L: np.ndarray         # (P, N, N) or (P, 0, 0)
    U1: np.ndarray        # (P, H, N) or (P, 0, 0)
    U2: np.ndarray        # (P, N, H) or (P, 0, 0)
    W0: np.ndarray        # (P, N, N)


@dataclass(frozen=True)
class MetODS:
    obs_size: int
    n_actions: int
    neurons: int
    steps: int
    write: str
    mlp_hidden: int
    plasticity: str
    W0: str
    W0_std: float
    W_clip: float
    action: str
    dtype: str
    init_std: float
    init_alpha: float
    init_beta: float

    kind = "metods"

    @property
    def inputs(self) -> int:
        return self.obs_size + self.n_actions + 1

    @property
    def layout(self) -> Layout:
        N, S, H, A = self.neurons, self.steps, self.mlp_hidden, self.n_actions
        n_coef = S * (S + 3) // 2
        entries = [("f.weight", (N, self.inputs)), ("f.bias", (N,)), ("g.weight", (A + 1, N)), ("g.bias", (A + 1,))]
        if self.plasticity == "elementwise":
            entries.append(("alpha", (N, N)))
        entries += [("kappa", (n_coef,)), ("beta", (n_coef,))]
        if self.write == "linear":
            entries.append(("proj", (N, N)))
        elif self.write == "mlp":
            entries += [("proj.hidden", (H, N)), ("proj.out", (N, H))]
        if self.W0 == "learned":
            entries.append(("W0", (N, N)))
        return Layout(tuple(entries))

    def triangle(self):
        """(rows, cols) of the free kappa/beta entries, in vector order: s = 1..S, l = 0..s."""
        rows, cols = zip(*[(s, l) for s in range(1, self.steps + 1) for l in range(s + 1)])
        return np.array(rows), np.array(cols)

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        """The starting genome: random f and g, α = init_alpha, κ/β a plain accumulation
        W⁽ˢ⁾ = W⁽ˢ⁻¹⁾ + init_beta · α ⊙ v uᵀ with v⁽ˢ⁾ = tanh(W⁽ˢ⁻¹⁾ v⁽ˢ⁻¹⁾), L = I (linear starts as vanilla)."""
        N, H = self.neurons, self.mlp_hidden
        parts = {}
        for name, shape, _ in self.layout.slices():
            parts[name] = np.zeros(shape)
        parts["f.weight"] = rng.normal(0.0, self.init_std / np.sqrt(self.inputs), (N, self.inputs))
        parts["g.weight"] = rng.normal(0.0, self.init_std / np.sqrt(N), (self.n_actions + 1, N))
        if "alpha" in parts:
            parts["alpha"][:] = self.init_alpha
        rows, cols = self.triangle()
        parts["kappa"][:] = (rows == cols)
        parts["beta"][:] = np.where(rows == cols, self.init_beta, (cols == rows - 1).astype(float))
        if "proj" in parts:
            parts["proj"] = np.eye(N)
        if "proj.hidden" in parts:
            parts["proj.hidden"] = rng.normal(0.0, 1.0 / np.sqrt(N), (H, N))
            parts["proj.out"] = rng.normal(0.0, 1.0 / np.sqrt(H), (N, H))
        return self.layout.pack(parts)

    def kernel_arrays(self, params: np.ndarray) -> KernelArrays:
        """(P, size) genomes → contiguous per-member arrays for the rollout kernels."""
        dtype = np.dtype(self.dtype)
        params = np.atleast_2d(np.asarray(params, dtype=dtype))
        P, N, S = params.shape[0], self.neurons, self.steps
        parts = self.layout.unpack(params)
        rows, cols = self.triangle()

        def lower(coef):
            full = np.zeros((P, S + 1, S + 1), dtype=dtype)
            full[:, rows, cols] = coef
            return full

        empty = np.zeros((P, 0, 0), dtype=dtype)
        ones = np.ones((P, N, N), dtype=dtype)
        c = np.ascontiguousarray
        return KernelArrays(
            f_weight=c(parts["f.weight"]), f_bias=c(parts["f.bias"]),
            g_weight=c(parts["g.weight"]), g_bias=c(parts["g.bias"]),
            alpha=c(parts["alpha"]) if "alpha" in parts else ones,
            kappa=lower(parts["kappa"]), beta=lower(parts["beta"]),
            L=c(parts["proj"]) if "proj" in parts else empty,
            U1=c(parts["proj.hidden"]) if "proj.hidden" in parts else empty,
            U2=c(parts["proj.out"]) if "proj.out" in parts else empty,
            W0=c(parts["W0"]) if "W0" in parts else np.zeros((P, N, N), dtype=dtype),
        )

    @property
    def write_code(self) -> int:
        return WRITE_CODES[self.write]
