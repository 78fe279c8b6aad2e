"""The MetODS rule as a Numba kernel: one time step of LANES agents at once, in place, allocation-free.

Layout: every array carries the agents on its last axis, `LANES` of them (W[i, j, l] is synapse (post i, pre j) of
agent l), so that every loop of the rule ends in a loop over agents of a fixed, compile-time length: LLVM turns it
into whole SIMD vectors with no remainder and no horizontal sums. Rows of N = 20 neurons per agent are too short
for that: the same rollout with one agent per loop ran 2-3 times slower (README, "Speed"). LANES is 64: 128
measured no faster, and 32 or 16 five times slower (single-threaded, with the `noalias` promise of jit.py; why
was not looked into).

The passes never materialise W⁽¹⁾..W⁽ˢ⁻¹⁾. The recursion of the model document is linear in the W's, so

    W⁽ˢ⁾ = c[s] W⁽⁰⁾ + α ⊙ Σ_{m=1..s} d[s, m] v⁽ᵐ⁻¹⁾ ⊗ u⁽ᵐ⁾,      u⁽ᵐ⁾ = u(v⁽ᵐ⁻¹⁾)

with c[0] = 1, c[s] = Σ_{l<s} β[s, l] c[l], d[s, s] = β[s, s], d[s, m] = Σ_{m≤l<s} β[s, l] d[l, m] (`expand_beta`).
A read W⁽ˢ⁻¹⁾ z then costs one product with W⁽⁰⁾ and one with α per earlier write, and W_t is written once, at
the end. It is the same function of the inputs as `recursive_update` (tests: 1e-10 in float64).
"""
from __future__ import annotations

from numba import njit

from .activation import sigma
from .jit import JIT, NOALIAS

VANILLA, LINEAR, MLP = 0, 1, 2
WRITE_CODES = {"vanilla": VANILLA, "linear": LINEAR, "mlp": MLP}
LANES = 64   # agents per SIMD block: 8 AVX2 vectors of float32


@njit(**JIT)
def expand_beta(beta, c, d, lane, steps):
    """Coefficients of W⁽ˢ⁾ in W⁽⁰⁾ and in the writes, for one agent.

    beta: (S+1, S+1) lower-triangular, that agent's β; writes c[:, lane] (S+1, LANES) and d[:, :, lane]
    (S+1, S+1, LANES), entries m = 1..s of row s.
    """
    c[0, lane] = 1.0
    for s in range(1, steps + 1):
        acc = 0.0
        for l in range(s):
            acc += beta[s, l] * c[l, lane]
        c[s, lane] = acc
        for m in range(1, s + 1):
            acc = beta[s, s] if m == s else 0.0
            for l in range(m, s):
                acc += beta[s, l] * d[l, m, lane]
            d[s, m, lane] = acc


@njit(**JIT, **NOALIAS)
def recursive_step(W, vs, us, alpha, kappa, c, d, steps, write, L, U1, U2, scratch):
    """One time step of the dynamic layer for LANES agents.

    W: (N, N, LANES), W_{t-1} on entry, W_t on return. vs: (S+1, N, LANES), vs[0] holds v0 on entry, vs[s] holds
    v⁽ˢ⁾ on return. us: (S+1, N, LANES) receives the write vectors u⁽ˢ⁾.
    alpha: (N, N, LANES); kappa: (S+1, S+1, LANES); c, d from `expand_beta`; write: a code of WRITE_CODES;
    L: (N, N, LANES) for `linear`; U1: (H, N, LANES), U2: (N, H, LANES) for `mlp` (any shape when unused).
    scratch: (acc (N, LANES), Y (S+1, N, LANES), Q (S+1, LANES), hidden (H, LANES), Pv (S+1, N, LANES)).
    No array that the step writes (W, vs, us, scratch) may overlap another argument (`jit.NOALIAS`).
    """
    acc, Y, Q, hidden, Pv = scratch
    N = W.shape[0]
    for s in range(1, steps + 1):
        _write_vector(vs, us, s, write, L, U1, U2, hidden)
        _read(W, vs, us, alpha, c, d, s, acc, Y, Q)
        for i in range(N):
            for k in range(LANES):
                vs[s, i, k] = kappa[s, s, k] * sigma(acc[i, k])
            for l in range(s):
                for k in range(LANES):
                    vs[s, i, k] += kappa[s, l, k] * vs[l, i, k]
    _write(W, vs, us, alpha, c, d, steps, Pv, acc)


@njit(inline="always", **JIT)
def _read(W, vs, us, alpha, c, d, s, acc, Y, Q):
    """acc = W⁽ˢ⁻¹⁾ v⁽ˢ⁻¹⁾ = c[s-1] W⁽⁰⁾ z + Σ_{m<s} d[s-1, m] v⁽ᵐ⁻¹⁾ ⊙ (α (u⁽ᵐ⁾ ⊙ z)), z = v⁽ˢ⁻¹⁾."""
    N = W.shape[0]
    zero = W.dtype.type(0)
    matvec(W, vs[s - 1], acc)
    for i in range(N):
        for k in range(LANES):
            acc[i, k] *= c[s - 1, k]
    for m in range(1, s):
        for j in range(N):
            for k in range(LANES):
                Y[m, j, k] = us[m, j, k] * vs[s - 1, j, k]
    for i in range(N):
        for m in range(1, s):
            for k in range(LANES):
                Q[m, k] = zero
        for j in range(N):   # α read once for every earlier write
            for m in range(1, s):
                for k in range(LANES):
                    Q[m, k] += alpha[i, j, k] * Y[m, j, k]
        for m in range(1, s):
            for k in range(LANES):
                acc[i, k] += d[s - 1, m, k] * vs[m - 1, i, k] * Q[m, k]


@njit(inline="always", **JIT)
def _write(W, vs, us, alpha, c, d, steps, Pv, T):
    """W ← W⁽ˢ⁾ = c[S] W⁽⁰⁾ + α ⊙ Σ_m (d[S, m] v⁽ᵐ⁻¹⁾) ⊗ u⁽ᵐ⁾. Row by row, the sum of the writes first goes to T
    (N, LANES), which stays in L1, so that W and α are each read once."""
    N = W.shape[0]
    zero = W.dtype.type(0)
    for m in range(1, steps + 1):
        for i in range(N):
            for k in range(LANES):
                Pv[m, i, k] = d[steps, m, k] * vs[m - 1, i, k]
    for i in range(N):
        for j in range(N):
            for k in range(LANES):
                T[j, k] = zero
        for m in range(1, steps + 1):
            for j in range(N):
                for k in range(LANES):
                    T[j, k] += Pv[m, i, k] * us[m, j, k]
        for j in range(N):
            for k in range(LANES):
                W[i, j, k] = c[steps, k] * W[i, j, k] + alpha[i, j, k] * T[j, k]


@njit(inline="always", **JIT)
def _write_vector(vs, us, s, write, L, U1, U2, hidden):
    """us[s] = u(vs[s-1]): the vector itself, L v, or U2 tanh(U1 v)."""
    N = vs.shape[1]
    if write == VANILLA:
        for j in range(N):
            for k in range(LANES):
                us[s, j, k] = vs[s - 1, j, k]
    elif write == LINEAR:
        matvec(L, vs[s - 1], us[s])
    else:
        matvec(U1, vs[s - 1], hidden)
        for h in range(hidden.shape[0]):
            for k in range(LANES):
                hidden[h, k] = sigma(hidden[h, k])
        matvec(U2, hidden, us[s])


@njit(**JIT, **NOALIAS)
def matvec(M, x, out):
    """out[i] = Σ_j M[i, j] x[j], lane by lane. M: (R, C, LANES), x: (C, LANES), out: (R, LANES), apart from
    both (`jit.NOALIAS`: a function of its own, not inlined by Numba, so that LLVM sees the promise)."""
    zero = out.dtype.type(0)
    for i in range(M.shape[0]):
        for k in range(LANES):
            out[i, k] = zero
        for j in range(M.shape[1]):
            for k in range(LANES):
                out[i, k] += M[i, j, k] * x[j, k]
