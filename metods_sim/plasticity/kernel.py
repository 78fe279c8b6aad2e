"""The MetODS rule as a Numba kernel: one time step of one agent, in place, allocation-free.

It is called from inside the fused episode rollouts (`metods_sim.rollout`), so it never allocates: the caller
owns every buffer. Variants come from arguments (`write` code, kappa/beta rows), never from a second kernel.
"""
from __future__ import annotations

from numba import njit

from .activation import sigma
from .jit import JIT

VANILLA, LINEAR, MLP = 0, 1, 2
WRITE_CODES = {"vanilla": VANILLA, "linear": LINEAR, "mlp": MLP}


@njit(**JIT)
def recursive_step(Ws, vs, u, hidden, alpha, kappa, beta, steps, write, L, U1, U2):
    """One time step of the dynamic layer.

    Ws: (S+1, N, N) scratch; Ws[0] holds W_{t-1} on entry, Ws[steps] holds W_t on return.
    vs: (S+1, N) scratch; vs[0] holds v0 on entry, vs[steps] holds v_S on return.
    u: (N,) and hidden: (H,) scratch for the write vector.
    alpha: (N, N); kappa, beta: (S+1, S+1) lower-triangular; write: a code of WRITE_CODES;
    L: (N, N) for `linear`; U1: (H, N), U2: (N, H) for `mlp` (any shape when unused).
    """
    N = vs.shape[1]
    zero = vs.dtype.type(0)
    for s in range(1, steps + 1):
        prev = vs[s - 1]
        _write_vector(prev, u, hidden, write, L, U1, U2)
        W_prev = Ws[s - 1]
        for i in range(N):
            acc = zero
            for j in range(N):
                acc += W_prev[i, j] * prev[j]
            val = kappa[s, s] * sigma(acc)
            for l in range(s):
                val += kappa[s, l] * vs[l, i]
            vs[s, i] = val
        # W⁽ˢ⁾ = Σ_{l<s} β[s,l] W⁽ˡ⁾ over flat N² loops (rows of N = 20 are too short to vectorize well)
        W_new = Ws[s].ravel()
        b = beta[s, 0]
        W_l = Ws[0].ravel()
        for k in range(N * N):
            W_new[k] = b * W_l[k]
        for l in range(1, s):
            b = beta[s, l]
            W_l = Ws[l].ravel()
            for k in range(N * N):
                W_new[k] += b * W_l[k]
        # … + β[s,s] α ⊙ (v⁽ˢ⁻¹⁾ ⊗ u)
        b = beta[s, s]
        for i in range(N):
            post = b * prev[i]
            for j in range(N):
                W_new[i * N + j] += post * alpha[i, j] * u[j]


@njit(inline="always", **JIT)
def _write_vector(v, u, hidden, write, L, U1, U2):
    N = v.shape[0]
    zero = v.dtype.type(0)
    if write == VANILLA:
        for j in range(N):
            u[j] = v[j]
    elif write == LINEAR:
        for i in range(N):
            acc = zero
            for j in range(N):
                acc += L[i, j] * v[j]
            u[i] = acc
    else:
        H = U1.shape[0]
        for h in range(H):
            acc = zero
            for j in range(N):
                acc += U1[h, j] * v[j]
            hidden[h] = sigma(acc)
        for i in range(N):
            acc = zero
            for h in range(H):
                acc += U2[i, h] * hidden[h]
            u[i] = acc
