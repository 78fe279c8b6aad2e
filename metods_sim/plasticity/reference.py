"""The MetODS read/write rule, written for reading: the reference the fast kernels are tested against.

Model document, section 1. At one time step, starting from v⁽⁰⁾ = f(o, a, r) and W⁽⁰⁾ = W_{t−1}, for s = 1..S:

    v⁽ˢ⁾ = Σ_{l<s} κ[s, l] v⁽ˡ⁾ + κ[s, s] tanh(W⁽ˢ⁻¹⁾ v⁽ˢ⁻¹⁾)
    W⁽ˢ⁾ = Σ_{l<s} β[s, l] W⁽ˡ⁾ + β[s, s] α ⊙ (v⁽ˢ⁻¹⁾ ⊗ u(v⁽ˢ⁻¹⁾))

Every array may carry the same leading batch dimensions, so this one function serves both a single agent and
the batched-NumPy baseline of the benchmarks. It takes NumPy arrays or torch tensors alike (only operators,
`tanh` and a matrix-vector product, picked by the argument's type), so the differentiable twin
(`agents.torch_twin`) runs this very function rather than a copy.
"""
from __future__ import annotations

import numpy as np

WRITES = ("vanilla", "linear", "mlp")


def write_vector(v, write="vanilla", proj=None):
    """u(v), the vector on the presynaptic side of the Hebbian write.

    v: (..., N). `vanilla`: u = v. `linear`: proj is L (..., N, N) and u = L v.
    `mlp`: proj is (U1 (..., H, N), U2 (..., N, H)) and u = U2 tanh(U1 v).
    """
    if write == "vanilla":
        return v
    if write == "linear":
        return matvec(proj, v)
    if write == "mlp":
        hidden, out = proj
        return matvec(out, tanh(matvec(hidden, v)))
    raise ValueError(f"unknown write variant {write!r}; expected one of {WRITES}")


def recursive_update(W, v0, alpha, kappa, beta, *, steps, write="vanilla", proj=None):
    """S recursive read/write passes of the dynamic layer.

    W, alpha: (..., N, N), indexed (post, pre). v0: (..., N).
    kappa, beta: (..., S+1, S+1); row s holds the coefficients of pass s, entries l = 0..s (row 0 unused).
    Returns (v_S (..., N), W_S (..., N, N)).
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    vs, Ws = [v0], [W]
    for s in range(1, steps + 1):
        prev = vs[s - 1]
        u = write_vector(prev, write, proj)
        v = kappa[..., s, s, None] * tanh(matvec(Ws[s - 1], prev))
        Wn = beta[..., s, s, None, None] * alpha * prev[..., :, None] * u[..., None, :]
        for l in range(s):
            v = v + kappa[..., s, l, None] * vs[l]
            Wn = Wn + beta[..., s, l, None, None] * Ws[l]
        vs.append(v)
        Ws.append(Wn)
    return vs[-1], Ws[-1]


def tanh(x):
    """np.tanh of an array, Tensor.tanh of a tensor (which keeps the autograd graph)."""
    return np.tanh(x) if isinstance(x, np.ndarray) else x.tanh()


def matvec(M, v):
    """M (..., i, j) · v (..., j) → (..., i), leading dimensions broadcast (one member over a batch)."""
    if isinstance(v, np.ndarray):
        return np.einsum("...ij,...j->...i", M, v)
    return (M @ v[..., None])[..., 0]
