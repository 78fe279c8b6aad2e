"""The PEARL baseline (Rakelly et al. 2019): a probabilistic context encoder and a tanh-Gaussian actor conditioned
on a latent task variable z sampled from the encoder's posterior, meta-trained off-policy by SAC
(`trainers.pearl`, the only trainer of this agent). Here is its acting side, which the rollouts run: the genome
holds the encoder and the actor; SAC's critics live in the trainer.

Context. Each transition c_n = (o_n, a_n, r_n) (PEARL's default: no next observation) is encoded to a Gaussian
factor Ψ(z | c_n) = N(μ_n, σ_n²), [μ_n, s_n] = encoder(c_n), σ_n² = max(softplus(s_n), 1e-7). The posterior is their
product (permutation-invariant, PEARL's `_product_of_gaussians`), the prior N(0, I) when there is no context:
    1/σ² = Σ_n 1/σ_n²,   μ = σ² Σ_n μ_n / σ_n²                    (per latent dimension)
so the two sums are all the agent carries: the step t input x_t = [o_t, a_{t−1}, r_{t−1}] and the o_{t−1} it kept
give c_{t−1}, added to the sums before acting.

Meta-test, PEARL's Algorithm 2: z is sampled once per rollout (temporally extended exploration, posterior
sampling), at the rollout's first step, from the posterior of every transition of the episode so far (the
prior N(0, I) at t = 0); the posterior is updated between rollouts, not within one. Meta-World's episode of
`rollouts` rollouts is PEARL's meta-test over as many trajectories (a task whose episode is one rollout samples z
from the prior alone). z = μ + σ ε_k with ε_k the episode's normals (noise (E, T, latent + A): ε_k at row
t = k·rollout_steps, the action's normals at every row), drawn up front like every random number of an episode.

Actor: [m, l] = policy([o_t, z]), l clamped to [-20, 2]; action = tanh(m) (action: greedy, PEARL's deterministic
evaluation) or tanh(m + exp(l) ε_t) (action: sample, how the trainer collects data). The kernel's own Gaussian is
switched off (`log_std` is -inf: σ = 0): the actor's σ depends on the state, so the agent draws its own sample.
out = [action, 0]: PEARL's value lives in the trainer (V(o, z)), so the recorded value is 0.

Networks: ReLU MLPs of three hidden layers as PEARL's (`encoder_hidden` and `hidden` units; PEARL: 200 and 300).
Genome blocks (in vector order, as torch.nn.Linear names its weights (fan_out, fan_in)): encoder.0 ... encoder.3
(weight, bias), policy.0 ... policy.3. A recorded step stores v = z (no W). Continuous tasks only.

Routes. The fused Meta-World environments (ML10's fifteen: `tasks.sawyer.ENVIRONMENTS`) run the Numba act below
in the rollout kernel, as every other agent; any other (the rest of ML1) runs `reference_step` in
`rollout.stepped`. The trainer
collects episodes through the same `rollout` with recording (as the gradient trainer's `rollout.twin.collect`),
so training, validation and `evaluate` act by one policy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np
from numba import njit

from ..fields import ProtocolError, choice, integer, number
from ..plasticity.jit import FUSED
from ..plasticity.kernel import LANES
from .base import DTYPE, Agent
from .lanes import dense, dense_rows, finite_rows, gather, gather_bias
from .layout import Layout

LAYERS = 4            # weight layers of each network: three hidden layers, as PEARL's
VAR_MIN = 1e-7        # PEARL's floor of a factor's variance
LOG_STD = (-20.0, 2.0)   # PEARL's (rlkit's) clamp of the actor's log standard deviation


NETWORKS = ("encoder", "policy")
# the kernel arrays: each network's weights (P, fan_out, fan_in) and biases (P, fan_out), layer by layer, then the
# settings; flat, so that the rollouts can index every array by member (`episodes.rows`)
PEARLArrays = NamedTuple("PEARLArrays", [(f"{net}_{i}_{kind}", np.ndarray) for net in NETWORKS for i in range(LAYERS)
                                         for kind in ("weight", "bias")] + [("rollout_steps", int), ("sample", bool)])


class _Block(NamedTuple):
    enc: tuple          # the encoder's weights (R, C, LANES) and biases (R, 1, LANES), per lane
    pol: tuple
    noise: np.ndarray   # (E, T, L + A) the episodes' normals
    episode: np.ndarray  # (LANES,) int64
    prev: np.ndarray    # (O, LANES) o_{t−1}
    prec: np.ndarray    # (L, LANES) Σ 1/σ_n²
    wmean: np.ndarray   # (L, LANES) Σ μ_n/σ_n²
    z: np.ndarray       # (L, LANES)
    c: np.ndarray       # (d_in, LANES) a transition c_{t−1}, then the actor's input [o_t, z] in its first rows
    h1: np.ndarray      # (max hidden, LANES) scratch
    h2: np.ndarray
    e: np.ndarray       # (2L, LANES) the encoder's output
    head: np.ndarray    # (2A, LANES) the actor's output
    clock: np.ndarray   # (1,) int64, t
    settings: tuple     # (rollout_steps, sample)


@dataclass(frozen=True)
class PEARL(Agent):
    latent: int
    hidden: int
    encoder_hidden: int
    action: str
    dtype: str
    init_std: float

    kind = "pearl"
    trainer: ClassVar[str] = "pearl"
    FIELDS = {
        "latent": integer(5, "L, size of the latent task variable z [PEARL's code: 5].", min=1),
        "hidden": integer(64, "Units of each of the actor's three hidden ReLU layers on [o, z] (and of the "
                              "critics' in the trainer) [PEARL's code: 300; ours: 64, sized for a CPU: 11,720 "
                              "actor parameters on Meta-World].", min=1),
        "encoder_hidden": integer(64, "Units of each of the context encoder's three hidden ReLU layers on a "
                                      "transition (o, a, r) [PEARL's code: 200; ours: 64, sized for a CPU: 11,850 "
                                      "parameters on Meta-World].", min=1),
        "action": choice("greedy", "greedy: tanh of the actor's mean, PEARL's deterministic evaluation [paper]; "
                                   "sample: tanh of a draw from the actor's Gaussian (the trainer collects its "
                                   "data so whatever this says). z is sampled from the posterior either way.",
                         ("greedy", "sample")),
        "dtype": DTYPE,
        "init_std": number(1.0, "Initial weights ~ N(0, init_std²/fan_in), biases 0 [ours: as the other "
                                "baselines; PyTorch's default is uniform of the same order].", min=0),
    }

    @classmethod
    def check(cls, section, where, *, task):
        if not task.continuous:
            raise ProtocolError(f"{where('agent.kind')}: expected a task with continuous actions (metaworld, the "
                                f"MuJoCo bodies) for pearl (its actor is SAC's tanh-Gaussian), got task.kind "
                                f"{task.name}")
        return section

    def __post_init__(self):
        if self.max_steps <= 0 or self.rollout_steps <= 0:
            raise ValueError("PEARL needs the task's max_steps and rollout_steps (make_agent passes them)")

    @property
    def context_size(self) -> int:
        """d_c: a transition (o, a, r), the size of x_t."""
        return self.inputs

    def networks(self) -> dict:
        """{network: ((fan_out, fan_in) of each of its LAYERS weights)}."""
        L, H, Eh, A = self.latent, self.hidden, self.encoder_hidden, self.n_actions
        return {"encoder": ((Eh, self.context_size), (Eh, Eh), (Eh, Eh), (2 * L, Eh)),
                "policy": ((H, self.obs_size + L), (H, H), (H, H), (2 * A, H))}

    @property
    def layout(self) -> Layout:
        return Layout(tuple(entry for net, shapes in self.networks().items() for i, shape in enumerate(shapes)
                            for entry in ((f"{net}.{i}.weight", shape), (f"{net}.{i}.bias", shape[:1]))))

    @property
    def record_shapes(self):
        return None, (self.latent,)

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        """Weights ~ N(0, init_std²/fan_in), drawn in vector order; biases 0."""
        parts = {name: (rng.normal(0.0, self.init_std / np.sqrt(shape[1]), shape) if len(shape) == 2
                        else np.zeros(shape)) for name, shape, _ in self.layout.slices()}
        return self.layout.pack(parts)

    def log_std(self, params) -> np.ndarray:
        """-inf: the kernel's state-independent Gaussian is off (σ = 0); the actor samples its own (module doc)."""
        return np.full((np.atleast_2d(params).shape[0], self.n_actions), -np.inf)

    def episode_noise(self, rng, episodes):
        """(E, T, L + A) standard normals: z's at each rollout's first row, the actor's at every row."""
        return rng.standard_normal((episodes, self.max_steps, self.latent + self.n_actions)).astype(self.dtype)

    def kernel_arrays(self, params: np.ndarray) -> PEARLArrays:
        parts = self.layout.contiguous(params, self.dtype)
        return PEARLArrays(*(parts[name] for name, _ in self.layout.entries), self.rollout_steps,
                           self.action == "sample")

    # ---- NumPy, B rows at once ----

    def reference_start(self, a, noise):
        """(o_{t−1} (B, O), Σ 1/σ² (B, L), Σ μ/σ² (B, L), z (B, L), t (B,) int64, the rows' noise (B, T, L + A))."""
        B, L, dt = noise.shape[0], self.latent, self.dtype
        return (np.zeros((B, self.obs_size), dt), np.zeros((B, L), dt), np.zeros((B, L), dt), np.zeros((B, L), dt),
                np.zeros(B, np.int64), noise)

    def reference_step(self, a, state, x):
        prev, prec, wmean, z, t, noise = state
        O, L, A = self.obs_size, self.latent, self.n_actions
        t0 = int(t[0])   # every row steps together
        if t0 > 0:
            mu, var = self.encode(network(a, "encoder"), np.concatenate([prev, x[:, O:]], axis=1))
            prec, wmean = prec + 1 / var, wmean + mu / var
        if t0 % a["rollout_steps"] == 0:
            eps = noise[:, t0, :L]
            z = eps if t0 == 0 else (wmean / prec + np.sqrt(1 / prec) * eps).astype(self.dtype)
        head = mlp(network(a, "policy"), np.concatenate([x[:, :O], z], axis=1))
        mean = head[:, :A]
        if a["sample"]:
            mean = mean + np.exp(np.clip(head[:, A:], *LOG_STD)) * noise[:, t0, L:]
        out = np.concatenate([np.tanh(mean), np.zeros((x.shape[0], 1), self.dtype)], axis=1)
        return out.astype(self.dtype), (x[:, :O].copy(), prec, wmean, z, t + 1, noise), (None, z)

    def encode(self, encoder, c):
        """The Gaussian factor of each transition c (B, d_c): μ (B, L), σ² (B, L)."""
        e = mlp(encoder, c)
        return e[:, :self.latent], np.maximum(softplus(e[:, self.latent:]), VAR_MIN).astype(e.dtype)

    # ---- Numba, LANES agents at once ----

    @staticmethod
    @njit(**FUSED)
    def prepare(arrays, member, episode, noise):
        a, dt = arrays, arrays[0].dtype
        enc = (gather(a[0], member, dt), gather_bias(a[1], member, dt), gather(a[2], member, dt),
               gather_bias(a[3], member, dt), gather(a[4], member, dt), gather_bias(a[5], member, dt),
               gather(a[6], member, dt), gather_bias(a[7], member, dt))
        pol = (gather(a[8], member, dt), gather_bias(a[9], member, dt), gather(a[10], member, dt),
               gather_bias(a[11], member, dt), gather(a[12], member, dt), gather_bias(a[13], member, dt),
               gather(a[14], member, dt), gather_bias(a[15], member, dt))
        rollout_steps, sample = a[16], a[17]
        L2, d_c = a[6].shape[1], a[0].shape[2]
        A2, O = a[14].shape[1], a[8].shape[2] - L2 // 2
        width = max(a[0].shape[1], a[8].shape[1])
        return _Block(enc, pol, noise, episode, np.zeros((O, LANES), dt), np.zeros((L2 // 2, LANES), dt),
                      np.zeros((L2 // 2, LANES), dt), np.zeros((L2 // 2, LANES), dt), np.zeros((d_c, LANES), dt),
                      np.zeros((width, LANES), dt), np.zeros((width, LANES), dt), np.zeros((L2, LANES), dt),
                      np.zeros((A2, LANES), dt), np.zeros(1, np.int64), (rollout_steps, sample))

    @staticmethod
    @njit(**FUSED)
    def act(s, x, out):
        t = s.clock[0]
        O, L, A = s.prev.shape[0], s.z.shape[0], s.head.shape[0] // 2
        rollout_steps, sample = s.settings
        if t > 0:   # c_{t−1} = [o_{t−1}, a_{t−1}, r_{t−1}] joins the posterior's sums
            for k in range(LANES):
                for j in range(O):
                    s.c[j, k] = s.prev[j, k]
                for j in range(O, x.shape[0]):
                    s.c[j, k] = x[j, k]
            _mlp(s.enc, s.c, s.h1, s.h2, s.e)
            for i in range(L):
                for k in range(LANES):
                    var = max(_softplus(s.e[L + i, k]), VAR_MIN)
                    s.prec[i, k] += 1.0 / var
                    s.wmean[i, k] += s.e[i, k] / var
        if t % rollout_steps == 0:   # a rollout starts: z ~ the posterior (the prior at t = 0)
            for k in range(LANES):
                for i in range(L):
                    eps = s.noise[s.episode[k], t, i]
                    if t == 0:
                        s.z[i, k] = eps
                    else:
                        s.z[i, k] = s.wmean[i, k] / s.prec[i, k] + math.sqrt(1.0 / s.prec[i, k]) * eps
        for k in range(LANES):
            for j in range(O):
                s.prev[j, k] = x[j, k]
                s.c[j, k] = x[j, k]
            for i in range(L):
                s.c[O + i, k] = s.z[i, k]
        _mlp(s.pol, s.c[:O + L], s.h1, s.h2, s.head)
        for k in range(LANES):
            for i in range(A):
                m = s.head[i, k]
                if sample:
                    log_std = min(max(s.head[A + i, k], LOG_STD[0]), LOG_STD[1])
                    m += math.exp(log_std) * s.noise[s.episode[k], t, L + i]
                out[i, k] = math.tanh(m)
            out[A, k] = 0.0
        s.clock[0] = t + 1

    @staticmethod
    @njit(**FUSED)
    def finite(s, lane):
        return finite_rows(s.prec, lane) and finite_rows(s.wmean, lane) and finite_rows(s.z, lane)

    @staticmethod
    @njit(**FUSED)
    def record(s, lane, W, v):
        for i in range(s.z.shape[0]):
            v[i] = s.z[i, lane]


@njit(inline="always", **FUSED)
def _softplus(y):
    return math.log1p(math.exp(-abs(y))) + max(y, 0.0)


@njit(inline="always", **FUSED)
def _relu(h, rows):
    for i in range(rows):
        for k in range(LANES):
            h[i, k] = max(h[i, k], 0.0)


@njit(**FUSED)
def _mlp(net, x, h1, h2, out):
    """out = the network net (4 ReLU-linked layers, lane arrays) on x; h1, h2 scratch of at least its width."""
    H = net[0].shape[0]
    a, b = h1[:H], h2[:H]
    dense(net[0], net[1], x, a, False)
    _relu(a, H)
    dense(net[2], net[3], a, b, False)
    _relu(b, H)
    dense(net[4], net[5], b, a, False)
    _relu(a, H)
    dense(net[6], net[7], a, out, False)


def softplus(y):
    """log(1 + e^y), stable: the kernel's formula."""
    return np.log1p(np.exp(-np.abs(y))) + np.maximum(y, 0)


def mlp(net, x):
    """A network (weight, bias, ... per row: (B, fan_out, fan_in), (B, fan_out)) on x (B, fan_in), ReLU between
    layers."""
    for i in range(0, len(net), 2):
        x = dense_rows(net[i], net[i + 1], x)
        if i + 2 < len(net):
            x = np.maximum(x, 0)
    return x


def network(a, name):
    """The per-row arrays of one network of kernel arrays a ({field: array}): (weight, bias, ...) in layer order."""
    return tuple(a[f"{name}_{i}_{kind}"] for i in range(LAYERS) for kind in ("weight", "bias"))


def posterior(mu, var):
    """The product of Gaussian factors N(mu_n, var_n) over axis -2 (n): (μ, σ²), each (..., L):
    1/σ² = Σ_n 1/var_n, μ = σ² Σ_n mu_n/var_n."""
    var_post = 1 / (1 / var).sum(axis=-2)
    return var_post * (mu / var).sum(axis=-2), var_post
