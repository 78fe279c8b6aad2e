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
    W0 (N, N)                          only with W0 = learned,
    log_std (n_actions,)               only on a continuous task: the Gaussian policy's σ = exp(log_std).
W is per-episode state, never part of the genome: it starts at W0 (zeros, learned, or zeros plus
N(0, W0_std²) noise drawn per episode, `episode_noise`) and is rewritten every step. A recorded step stores W_t
and v_S.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from ..plasticity import WRITE_CODES, recursive_step, recursive_update
from ..plasticity.jit import FUSED, NOALIAS
from ..plasticity.kernel import LANES, expand_beta
from ..fields import choice, integer, number
from .base import ACTION, DTYPE, INIT_LOG_STD, Agent
from .lanes import dense, dense_rows, gather, gather_bias
from .layout import Layout


class KernelArrays(NamedTuple):
    """The genome unpacked for the rollout kernels (every array has a leading population axis P), and the
    settings of the step."""

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
    steps: int            # S
    write: int            # a code of WRITE_CODES
    W_clip: float         # in the agent's float type


class _Block(NamedTuple):
    """A block's lanes: parameters gathered per lane, (…, LANES); the fast weights; buffers of the passes."""

    fw: np.ndarray
    fb: np.ndarray
    gw: np.ndarray
    gb: np.ndarray
    alpha: np.ndarray
    kappa: np.ndarray
    c: np.ndarray
    d: np.ndarray
    L: np.ndarray
    U1: np.ndarray
    U2: np.ndarray
    W: np.ndarray          # (N, N, LANES), W_t
    vs: np.ndarray         # (S+1, N, LANES), v⁽⁰⁾..v⁽ˢ⁾ of the last step
    us: np.ndarray
    scratch: tuple
    steps: int
    write: int
    W_clip: float


@dataclass(frozen=True)
class MetODS(Agent):
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
    init_log_std: float
    init_alpha: float
    init_beta: float
    init_kappa_skip: float

    kind = "metods"
    FIELDS = {
        "neurons": integer(20, "N, neurons of the dynamic layer [paper: 20 solve Harlow].", min=1),
        "steps": integer(4, "S, recursive read/write passes per time step [paper: S = 4 best].", min=1),
        "write": choice("linear", "Write vector u(v): vanilla u = v, linear u = L v, mlp u = U2 tanh(U1 v) "
                                  "[paper].", ("vanilla", "linear", "mlp")),
        "mlp_hidden": integer(20, "Hidden units of the mlp write vector [ours].", min=1),
        "plasticity": choice("elementwise", "alpha: elementwise = learned N×N per-synapse plasticity [paper]; "
                                            "none = all ones [ours, the ablation].", ("elementwise", "none")),
        "W0": choice("zeros", "Initial fast weights each episode: zeros, learned (in the genome), or sampled "
                              "(N(0, W0_std²) per episode) [paper lists all three; ours: zeros].",
                     ("zeros", "learned", "sampled")),
        "W0_std": number(0.1, "Standard deviation of W0 when sampled.", min=0),
        "action": ACTION,
        "W_clip": number(0.0, "Bound on every fast weight: after each time step W is clipped to [-W_clip, W_clip] "
                              "(0: no bound) [ours]. Unbounded, a rule whose W overflows or becomes NaN makes that "
                              "member diverge: it gets the worst fitness.", min=0),
        "dtype": DTYPE,
        "init_std": number(1.0, "Initial f and g weights ~ N(0, init_std²/fan_in) [ours].", min=0),
        "init_log_std": INIT_LOG_STD,
        "init_alpha": number(1.0, "Initial value of every alpha entry [ours]."),
        "init_beta": number(0.1, "Initial write coefficients beta[s, s]; beta[s, s-1] = kappa[s, s] = 1, the "
                                 "rest 0: each pass starts as a plain Hebbian accumulation [ours]."),
        "init_kappa_skip": number(0.0, "Initial kappa[s, s-1]: how much of the previous pass each pass carries "
                                       "forward besides its read (v⁽ˢ⁾ = skip·v⁽ˢ⁻¹⁾ + tanh(W v⁽ˢ⁻¹⁾)) [ours]."),
    }

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
        return Layout(tuple(entries + self.action_entries()))

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
        parts["kappa"][:] = np.where(rows == cols, 1.0, np.where(cols == rows - 1, self.init_kappa_skip, 0.0))
        parts["beta"][:] = np.where(rows == cols, self.init_beta, (cols == rows - 1).astype(float))
        if "proj" in parts:
            parts["proj"] = np.eye(N)
        if "proj.hidden" in parts:
            parts["proj.hidden"] = rng.normal(0.0, 1.0 / np.sqrt(N), (H, N))
            parts["proj.out"] = rng.normal(0.0, 1.0 / np.sqrt(H), (N, H))
        return self.pack_initial(parts)

    def kernel_arrays(self, params: np.ndarray) -> KernelArrays:
        """(P, size) genomes → contiguous per-member arrays for the rollout kernels."""
        dtype = np.dtype(self.dtype)
        parts = self.layout.contiguous(params, dtype)
        P, N, S = parts["f.bias"].shape[0], self.neurons, self.steps
        rows, cols = self.triangle()

        def lower(coef):
            full = np.zeros((P, S + 1, S + 1), dtype=dtype)
            full[:, rows, cols] = coef
            return full

        empty = np.zeros((P, 0, 0), dtype=dtype)
        return KernelArrays(
            f_weight=parts["f.weight"], f_bias=parts["f.bias"], g_weight=parts["g.weight"], g_bias=parts["g.bias"],
            alpha=parts["alpha"] if "alpha" in parts else np.ones((P, N, N), dtype=dtype),
            kappa=lower(parts["kappa"]), beta=lower(parts["beta"]),
            L=parts.get("proj", empty), U1=parts.get("proj.hidden", empty), U2=parts.get("proj.out", empty),
            W0=parts["W0"] if "W0" in parts else np.zeros((P, N, N), dtype=dtype),
            steps=S, write=self.write_code, W_clip=dtype.type(self.W_clip),
        )

    @property
    def write_code(self) -> int:
        return WRITE_CODES[self.write]

    @property
    def record_shapes(self):
        return (self.neurons, self.neurons), (self.neurons,)

    def episode_noise(self, rng, episodes):
        """W0 noise (E, N, N): N(0, W0_std²) with W0 = sampled, else zeros (and no draw)."""
        N = self.neurons
        noise = np.zeros((episodes, N, N), dtype=self.dtype)
        if self.W0 == "sampled":
            noise[:] = rng.normal(0.0, self.W0_std, (episodes, N, N))
        return noise

    def reference_start(self, a, noise):
        return (a["W0"] + noise,)

    def reference_step(self, a, state, x):
        """The reference rule (`plasticity.recursive_update`) on every row."""
        proj = {"vanilla": None, "linear": a["L"], "mlp": (a["U1"], a["U2"])}[self.write]
        v0 = np.tanh(dense_rows(a["f_weight"], a["f_bias"], x))
        v, W = recursive_update(state[0], v0, a["alpha"], a["kappa"], a["beta"], steps=self.steps,
                                write=self.write, proj=proj)
        if self.W_clip:   # comparisons, as in the kernel's _clip: NaN stays NaN
            W = np.where(W > self.W_clip, self.W_clip, np.where(W < -self.W_clip, -self.W_clip, W)).astype(W.dtype)
        return dense_rows(a["g_weight"], a["g_bias"], v), (W,), (W, v)

    @staticmethod
    @njit(**FUSED)
    def prepare(arrays, member, episode, noise):
        f_weight, f_bias, g_weight, g_bias, alpha, kappa, beta, L, U1, U2, W0, steps, write, W_clip = arrays
        dt = f_weight.dtype
        N, S1, H = f_weight.shape[1], steps + 1, max(U1.shape[1], 1)
        W = gather(W0, member, dt)
        c = np.zeros((S1, LANES), dt)
        d = np.zeros((S1, S1, LANES), dt)
        for lane in range(LANES):
            expand_beta(beta[member[lane]], c, d, lane, steps)
            for i in range(N):
                for j in range(N):
                    W[i, j, lane] += noise[episode[lane], i, j]
        scratch = (np.empty((N, LANES), dt), np.empty((S1, N, LANES), dt), np.empty((S1, LANES), dt),
                   np.empty((H, LANES), dt), np.empty((S1, N, LANES), dt))
        return _Block(gather(f_weight, member, dt), gather_bias(f_bias, member, dt),
                      gather(g_weight, member, dt), gather_bias(g_bias, member, dt),
                      gather(alpha, member, dt), gather(kappa, member, dt), c, d,
                      gather(L, member, dt), gather(U1, member, dt), gather(U2, member, dt),
                      W, np.zeros((S1, N, LANES), dt), np.zeros((S1, N, LANES), dt), scratch, steps, write, W_clip)

    @staticmethod
    @njit(**FUSED, **NOALIAS)
    def act(s, x, out):
        dense(s.fw, s.fb, x, s.vs[0], True)
        recursive_step(s.W, s.vs, s.us, s.alpha, s.kappa, s.c, s.d, s.steps, s.write, s.L, s.U1, s.U2, s.scratch)
        if s.W_clip > 0:
            _clip(s.W, s.W_clip)
        dense(s.gw, s.gb, s.vs[s.steps], out, False)

    @staticmethod
    @njit(**FUSED)
    def finite(s, lane):
        for i in range(s.W.shape[0]):
            for j in range(s.W.shape[1]):
                if not math.isfinite(s.W[i, j, lane]):
                    return False
        return True

    @staticmethod
    @njit(**FUSED)
    def record(s, lane, W, v):
        for i in range(s.W.shape[0]):
            v[i] = s.vs[s.steps, i, lane]
            for j in range(s.W.shape[1]):
                W[i, j] = s.W[i, j, lane]


@njit(inline="always", **FUSED)
def _clip(W, bound):
    """agent.W_clip: every fast weight into [-bound, bound]. Written with comparisons so that NaN stays NaN
    (min/max would turn it into a bound) and is still reported as divergence."""
    flat = W.ravel()
    for k in range(flat.size):
        if flat[k] > bound:
            flat[k] = bound
        elif flat[k] < -bound:
            flat[k] = -bound
