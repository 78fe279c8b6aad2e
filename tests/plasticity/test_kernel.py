"""The Numba kernel equals the reference: 1e-10 in float64, float32 within its precision."""
import numpy as np
import pytest

from metods_sim.plasticity import WRITE_CODES, recursive_step, recursive_update
from metods_sim.plasticity.activation import sigma, tanh_rational


def random_case(rng, N, S, H, dtype):
    return dict(W=rng.normal(0, 0.5, (N, N)), v0=rng.normal(size=N), alpha=rng.normal(size=(N, N)),
                kappa=np.tril(rng.normal(size=(S + 1, S + 1))), beta=np.tril(rng.normal(0, 0.5, (S + 1, S + 1))),
                L=rng.normal(0, 0.5, (N, N)), U1=rng.normal(0, 0.5, (H, N)), U2=rng.normal(0, 0.5, (N, H)))


def run_kernel(case, S, write, dtype, time_steps=1):
    """Apply the kernel `time_steps` times, feeding W_t back as W⁽⁰⁾ like the rollouts do."""
    N, H = case["W"].shape[0], case["U1"].shape[0]
    c = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in case.items()}
    Ws, vs = np.zeros((S + 1, N, N), dtype), np.zeros((S + 1, N), dtype)
    Ws[0] = c["W"]
    for _ in range(time_steps):
        vs[0] = c["v0"]
        recursive_step(Ws, vs, np.zeros(N, dtype), np.zeros(H, dtype), c["alpha"], c["kappa"], c["beta"], S,
                       WRITE_CODES[write], c["L"], c["U1"], c["U2"])
        Ws[0] = Ws[S]
    return vs[S].copy(), Ws[S].copy()


def run_reference(case, S, write, time_steps=1):
    proj = {"vanilla": None, "linear": case["L"], "mlp": (case["U1"], case["U2"])}[write]
    W = case["W"]
    for _ in range(time_steps):
        v, W = recursive_update(W, case["v0"], case["alpha"], case["kappa"], case["beta"], steps=S, write=write,
                                proj=proj)
    return v, W


@pytest.mark.parametrize("write", ["vanilla", "linear", "mlp"])
@pytest.mark.parametrize("S", [1, 2, 4])
def test_float64_kernel_equals_reference(rng, S, write):
    case = random_case(rng, N=20, S=S, H=7, dtype=np.float64)
    v, W = run_kernel(case, S, write, np.float64, time_steps=3)
    v_ref, W_ref = run_reference(case, S, write, time_steps=3)
    np.testing.assert_allclose(v, v_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(W, W_ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("write", ["vanilla", "linear", "mlp"])
def test_float32_kernel_is_close_to_reference(rng, write):
    S = 4
    case = random_case(rng, N=20, S=S, H=7, dtype=np.float32)
    case["kappa"] *= 0.5
    case["beta"] *= 0.5
    v, W = run_kernel(case, S, write, np.float32)
    v_ref, W_ref = run_reference(case, S, write)
    scale = max(1.0, np.abs(W_ref).max())
    np.testing.assert_allclose(v, v_ref, atol=1e-4 * scale)
    np.testing.assert_allclose(W, W_ref, atol=1e-4 * scale)


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
