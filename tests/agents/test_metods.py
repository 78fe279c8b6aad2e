"""The genome layout: named blocks, round trips, and the documented starting rule."""
import numpy as np
import pytest

from metods_sim.agents import make_agent
from metods_sim.plasticity import recursive_update
from metods_sim.tasks import make_task

from conftest import spec_for


def agent_for(**changes):
    spec = spec_for("harlow", **changes)
    task = make_task(spec["task"])
    return make_agent(spec["agent"], task), task


@pytest.mark.parametrize("S", [1, 2, 4])
def test_kappa_and_beta_have_S_S_plus_3_over_2_entries(S):
    agent, _ = agent_for(**{"agent.steps": S})
    shapes = dict(agent.layout.entries)
    assert shapes["kappa"] == shapes["beta"] == (S * (S + 3) // 2,)


@pytest.mark.parametrize("write,plasticity,W0,blocks", [
    ("linear", "elementwise", "zeros", ["f", "g", "alpha", "kappa", "beta", "proj"]),
    ("vanilla", "none", "learned", ["f", "g", "kappa", "beta", "W0"]),
    ("mlp", "elementwise", "sampled", ["f", "g", "alpha", "kappa", "beta", "proj"]),
])
def test_blocks_follow_the_variant(write, plasticity, W0, blocks):
    agent, task = agent_for(**{"agent.write": write, "agent.plasticity": plasticity, "agent.W0": W0})
    assert list(dict.fromkeys(agent.layout.blocks())) == blocks
    N = agent.neurons
    shapes = dict(agent.layout.entries)
    assert shapes["f.weight"] == (N, task.obs_size + task.n_actions + 1)
    assert shapes["g.weight"] == (task.n_actions + 1, N)
    assert len(agent.layout.names()) == agent.layout.size


def test_pack_inverts_unpack(rng):
    agent, _ = agent_for(**{"agent.write": "mlp", "agent.W0": "learned"})
    genomes = rng.normal(size=(3, agent.layout.size))
    np.testing.assert_array_equal(agent.layout.pack(agent.layout.unpack(genomes)), genomes)
    with pytest.raises(ValueError, match="layout expects"):
        agent.layout.unpack(genomes[:, :-1])


def test_initial_rule_is_a_plain_hebbian_accumulation(rng):
    agent, _ = agent_for(**{"agent.steps": 2, "agent.init_beta": 0.25, "agent.dtype": "float64"})
    arrays = agent.kernel_arrays(agent.initial(rng))
    N = agent.neurons
    W, v0 = rng.normal(size=(N, N)), rng.normal(size=N)
    v, Wn = recursive_update(W, v0, arrays.alpha[0], arrays.kappa[0], arrays.beta[0], steps=2, write="linear",
                             proj=arrays.L[0])
    v1 = np.tanh(W @ v0)
    W1 = W + 0.25 * np.outer(v0, v0)
    np.testing.assert_allclose(v, np.tanh(W1 @ v1))
    np.testing.assert_allclose(Wn, W1 + 0.25 * np.outer(v1, v1))


def test_init_kappa_skip_carries_each_pass_forward_beside_its_read(rng):
    agent, _ = agent_for(**{"agent.steps": 2, "agent.init_beta": 0.25, "agent.init_kappa_skip": 0.5,
                            "agent.dtype": "float64"})
    arrays = agent.kernel_arrays(agent.initial(rng))
    N = agent.neurons
    W, v0 = rng.normal(size=(N, N)), rng.normal(size=N)
    v, Wn = recursive_update(W, v0, arrays.alpha[0], arrays.kappa[0], arrays.beta[0], steps=2, write="linear",
                             proj=arrays.L[0])
    v1 = 0.5 * v0 + np.tanh(W @ v0)
    W1 = W + 0.25 * np.outer(v0, v0)
    np.testing.assert_allclose(v, 0.5 * v1 + np.tanh(W1 @ v1))
    np.testing.assert_allclose(Wn, W1 + 0.25 * np.outer(v1, v1))


def test_kernel_arrays_expand_the_triangles(rng):
    agent, _ = agent_for(**{"agent.steps": 3})
    genome = rng.normal(size=agent.layout.size)
    arrays = agent.kernel_arrays(genome)
    kappa = agent.layout.unpack(genome)["kappa"]
    full = arrays.kappa[0]
    assert full[0].sum() == 0 and np.all(np.triu(full, 1) == 0)
    np.testing.assert_allclose(full[1, :2], kappa[:2], rtol=1e-6)
    np.testing.assert_allclose(full[3, :4], kappa[5:9], rtol=1e-6)
    assert arrays.alpha.dtype == np.float32
