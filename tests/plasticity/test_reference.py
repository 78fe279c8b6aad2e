"""The reference rule against cases worked out by hand."""
import numpy as np
import pytest

from metods_sim.plasticity import recursive_update, write_vector


def accumulation_coefficients(S, b):
    """kappa[s,s] = 1, beta[s,s-1] = 1, beta[s,s] = b: each pass reads, then adds b·α⊙v uᵀ to the previous W."""
    kappa, beta = np.zeros((S + 1, S + 1)), np.zeros((S + 1, S + 1))
    for s in range(1, S + 1):
        kappa[s, s] = 1.0
        beta[s, s - 1], beta[s, s] = 1.0, b
    return kappa, beta


def test_one_pass_is_a_per_synapse_hebbian_accumulation(rng):
    N = 5
    W, alpha, v0 = rng.normal(size=(N, N)), rng.normal(size=(N, N)), rng.normal(size=N)
    kappa, beta = accumulation_coefficients(1, 0.3)
    v1, W1 = recursive_update(W, v0, alpha, kappa, beta, steps=1)
    np.testing.assert_allclose(v1, np.tanh(W @ v0))
    np.testing.assert_allclose(W1, W + 0.3 * alpha * np.outer(v0, v0))
    # entry by entry: synapse (post i, pre j) grows by b·α_ij·v_i·v_j
    assert W1[1, 3] == pytest.approx(W[1, 3] + 0.3 * alpha[1, 3] * v0[1] * v0[3])


def test_copy_coefficients_leave_v_and_W_unchanged(rng):
    N, S = 6, 4
    W, alpha, v0 = rng.normal(size=(N, N)), rng.normal(size=(N, N)), rng.normal(size=N)
    kappa, beta = np.zeros((S + 1, S + 1)), np.zeros((S + 1, S + 1))
    for s in range(1, S + 1):
        kappa[s, s - 1] = beta[s, s - 1] = 1.0
    v, Wn = recursive_update(W, v0, alpha, kappa, beta, steps=S)
    np.testing.assert_array_equal(v, v0)
    np.testing.assert_array_equal(Wn, W)


def test_write_uses_the_previous_pass_and_sums_every_earlier_W(rng):
    N, S = 4, 2
    W, alpha, v0 = rng.normal(size=(N, N)), rng.normal(size=(N, N)), rng.normal(size=N)
    kappa, beta = np.tril(rng.normal(size=(3, 3))), np.tril(rng.normal(size=(3, 3)))
    L = rng.normal(size=(N, N))
    v1 = kappa[1, 0] * v0 + kappa[1, 1] * np.tanh(W @ v0)
    W1 = beta[1, 0] * W + beta[1, 1] * alpha * np.outer(v0, L @ v0)
    v2 = kappa[2, 0] * v0 + kappa[2, 1] * v1 + kappa[2, 2] * np.tanh(W1 @ v1)
    W2 = beta[2, 0] * W + beta[2, 1] * W1 + beta[2, 2] * alpha * np.outer(v1, L @ v1)
    v, Wn = recursive_update(W, v0, alpha, kappa, beta, steps=S, write="linear", proj=L)
    np.testing.assert_allclose(v, v2)
    np.testing.assert_allclose(Wn, W2)


def test_write_vectors(rng):
    v, L = rng.normal(size=3), rng.normal(size=(3, 3))
    U1, U2 = rng.normal(size=(5, 3)), rng.normal(size=(3, 5))
    np.testing.assert_array_equal(write_vector(v), v)
    np.testing.assert_allclose(write_vector(v, "linear", L), L @ v)
    np.testing.assert_allclose(write_vector(v, "mlp", (U1, U2)), U2 @ np.tanh(U1 @ v))
    with pytest.raises(ValueError, match="unknown write variant"):
        write_vector(v, "cubic")


def test_batched_inputs_match_one_agent_at_a_time(rng):
    B, N, S = 3, 5, 2
    W, alpha, v0 = rng.normal(size=(B, N, N)), rng.normal(size=(B, N, N)), rng.normal(size=(B, N))
    kappa, beta = np.tril(rng.normal(size=(B, S + 1, S + 1))), np.tril(rng.normal(size=(B, S + 1, S + 1)))
    L = rng.normal(size=(B, N, N))
    v, Wn = recursive_update(W, v0, alpha, kappa, beta, steps=S, write="linear", proj=L)
    for b in range(B):
        vb, Wb = recursive_update(W[b], v0[b], alpha[b], kappa[b], beta[b], steps=S, write="linear", proj=L[b])
        np.testing.assert_allclose(v[b], vb)
        np.testing.assert_allclose(Wn[b], Wb)


def test_zero_steps_is_refused(rng):
    with pytest.raises(ValueError, match="steps"):
        recursive_update(np.zeros((2, 2)), np.zeros(2), np.ones((2, 2)), np.zeros((1, 1)), np.zeros((1, 1)), steps=0)
