"""The Numba kernel equals the reference in every SIMD lane: 1e-10 in float64, float32 within its precision."""
import numpy as np
import pytest

from metods_sim.plasticity import WRITE_CODES, recursive_step, recursive_update
from metods_sim.plasticity.kernel import LANES, expand_beta
from metods_sim.plasticity.activation import sigma, tanh_rational


def random_case(rng, N, S, H, dtype):
    return dict(W=rng.normal(0, 0.5, (N, N)), v0=rng.normal(size=N), alpha=rng.normal(size=(N, N)),
                kappa=np.tril(rng.normal(size=(S + 1, S + 1))), beta=np.tril(rng.normal(0, 0.5, (S + 1, S + 1))),
                L=rng.normal(0, 0.5, (N, N)), U1=rng.normal(0, 0.5, (H, N)), U2=rng.normal(0, 0.5, (N, H)))


def to_lanes(cases, key, dtype):
    """Stack one array per agent on a last axis of LANES agents."""
    return np.ascontiguousarray(np.stack([case[key] for case in cases], axis=-1), dtype=dtype)


def run_kernel(cases, S, write, dtype, time_steps=1):
    """Apply the kernel `time_steps` times to LANES agents (one case each), feeding W_t back like the rollouts.
    Returns v_S (LANES, N) and W_S (LANES, N, N)."""
    assert len(cases) == LANES
    N, H = cases[0]["W"].shape[0], cases[0]["U1"].shape[0]
    lanes = {key: to_lanes(cases, key, dtype) for key in cases[0]}
    c, d = np.zeros((S + 1, LANES), dtype), np.zeros((S + 1, S + 1, LANES), dtype)
    for lane, case in enumerate(cases):
        expand_beta(np.ascontiguousarray(case["beta"], dtype=dtype), c, d, lane, S)
    W, vs, us = lanes["W"], np.zeros((S + 1, N, LANES), dtype), np.zeros((S + 1, N, LANES), dtype)
    scratch = (np.zeros((N, LANES), dtype), np.zeros((S + 1, N, LANES), dtype), np.zeros((S + 1, LANES), dtype),
               np.zeros((H, LANES), dtype), np.zeros((S + 1, N, LANES), dtype))
    for _ in range(time_steps):
        vs[0] = lanes["v0"]
        recursive_step(W, vs, us, lanes["alpha"], lanes["kappa"], c, d, S, WRITE_CODES[write], lanes["L"],
                       lanes["U1"], lanes["U2"], scratch)
    return np.moveaxis(vs[S], -1, 0), np.moveaxis(W, -1, 0)


def run_reference(case, S, write, time_steps=1):
    proj = {"vanilla": None, "linear": case["L"], "mlp": (case["U1"], case["U2"])}[write]
    W = case["W"]
    for _ in range(time_steps):
        v, W = recursive_update(W, case["v0"], case["alpha"], case["kappa"], case["beta"], steps=S, write=write,
                                proj=proj)
    return v, W


def assert_every_lane_matches(cases, S, write, dtype, atol, time_steps=1):
    v, W = run_kernel(cases, S, write, dtype, time_steps)
    for lane, case in enumerate(cases):
        v_ref, W_ref = run_reference(case, S, write, time_steps)
        scale = max(1.0, np.abs(W_ref).max())
        np.testing.assert_allclose(v[lane], v_ref, rtol=0, atol=atol * scale)
        np.testing.assert_allclose(W[lane], W_ref, rtol=0, atol=atol * scale)


@pytest.mark.parametrize("write", ["vanilla", "linear", "mlp"])
@pytest.mark.parametrize("S", [1, 2, 4])
def test_float64_kernel_equals_reference_in_every_lane(rng, S, write):
    cases = [random_case(rng, N=20, S=S, H=7, dtype=np.float64) for _ in range(LANES)]
    assert_every_lane_matches(cases, S, write, np.float64, atol=1e-10, time_steps=3)


@pytest.mark.parametrize("write", ["vanilla", "linear", "mlp"])
def test_float32_kernel_is_close_to_reference(rng, write):
    S = 4
    cases = [random_case(rng, N=20, S=S, H=7, dtype=np.float32) for _ in range(LANES)]
    for case in cases:
        case["kappa"] *= 0.5
        case["beta"] *= 0.5
    assert_every_lane_matches(cases, S, write, np.float32, atol=1e-4)


def test_expanded_coefficients_rebuild_the_recursion(rng):
    """W⁽ˢ⁾ = c[s] W⁽⁰⁾ + Σ_m d[s, m] H_m for symbols W⁽⁰⁾, H_1..H_S, checked by substituting basis vectors."""
    S = 4
    beta = np.tril(rng.normal(size=(S + 1, S + 1)))
    c, d = np.zeros((S + 1, LANES)), np.zeros((S + 1, S + 1, LANES))
    expand_beta(beta, c, d, 3, S)
    # symbolic W's as coefficient vectors over (W⁽⁰⁾, H_1, ..., H_S)
    Ws = [np.eye(S + 1)[0]]
    for s in range(1, S + 1):
        Ws.append(sum(beta[s, l] * Ws[l] for l in range(s)) + beta[s, s] * np.eye(S + 1)[s])
    for s in range(S + 1):
        np.testing.assert_allclose(c[s, 3], Ws[s][0])
        np.testing.assert_allclose(d[s, 1:s + 1, 3], Ws[s][1:s + 1])


def test_float32_tanh_is_accurate_to_4e_7():
    from numba import njit

    @njit
    def apply(x, out):
        for i in range(x.shape[0]):
            out[i] = sigma(x[i])

    x = np.linspace(-12, 12, 400_001).astype(np.float32)
    out = np.empty_like(x)
    apply(x, out)
    assert out.dtype == np.float32
    assert np.abs(out.astype(np.float64) - np.tanh(x.astype(np.float64))).max() < 4e-7
    assert tanh_rational(np.float32(0.0)) == 0.0
