"""PEARL's posterior is the closed-form product of Gaussians, in NumPy, in torch and in the fused kernel's running
sums; z is sampled once per rollout from it; the fused kernel acts as the NumPy reference step does (stepping
Meta-World's own environment), and the trainer's torch networks are the genome the rollouts act with."""
import numpy as np
import pytest
import torch

from metods_sim.agents import make_agent
from metods_sim.agents.pearl import mlp, network, posterior
from metods_sim.protocol import ProtocolError, defaults, validate
from metods_sim.rollout import draw_episodes, rollout
from metods_sim.rollout.stepped import rollout_stepped
from metods_sim.tasks import make_task
from metods_sim.trainers.sac import PEARLNetworks, product_of_gaussians

SMALL = {"latent": 3, "hidden": 16, "encoder_hidden": 16, "dtype": "float64"}


def pearl(rollouts=3, rollout_steps=10, **fields):
    spec = defaults(task="metaworld", agent="pearl")
    spec["task"].update(env_name="push-v3", rollouts=rollouts, rollout_steps=rollout_steps)
    spec["agent"].update({**SMALL, **fields})
    spec = validate(spec, "<test>")
    task = make_task(spec["task"])
    return make_agent(spec["agent"], task), task


def log_normal(z, mu, var):
    return -0.5 * ((z - mu) ** 2 / var + np.log(2 * np.pi * var))


@pytest.mark.parametrize("n", [1, 2, 7])
def test_the_posterior_is_the_closed_form_product_of_gaussians(n, rng):
    mu, var = rng.normal(size=(4, n, 5)), rng.uniform(0.05, 3.0, (4, n, 5))
    mean, variance = posterior(mu, var)
    # the closed form: 1/σ² = Σ 1/σ_i², μ = σ² Σ μ_i/σ_i²
    np.testing.assert_allclose(1 / variance, (1 / var).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(mean, variance * (mu / var).sum(axis=1), rtol=1e-12)
    # ... is the product of the densities: Σ_i log N(z; μ_i, σ_i²) − log N(z; μ, σ²) does not depend on z
    z = rng.normal(size=(6, 4, 1, 5)) * 3
    gap = log_normal(z, mu, var).sum(axis=2) - log_normal(z[:, :, 0], mean, variance)
    np.testing.assert_allclose(gap, np.broadcast_to(gap[:1], gap.shape), atol=1e-9)
    # ... whatever the order of the factors, and in the trainer's torch as in NumPy
    order = rng.permutation(n)
    np.testing.assert_allclose(posterior(mu[:, order], var[:, order])[0], mean, rtol=1e-12)
    torch_mean, torch_var = product_of_gaussians(torch.tensor(mu), torch.tensor(var))
    np.testing.assert_allclose(torch_mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(torch_var.numpy(), variance, rtol=1e-12)


def test_z_is_drawn_once_per_rollout_from_the_posterior_of_the_episode_so_far(rng):
    """The kernel's running sums give the posterior of every transition (o, a, r) before the rollout."""
    agent, task = pearl()
    genome = agent.initial(rng) + rng.normal(0, 0.1, agent.layout.size)
    episodes = draw_episodes(task, agent, rng, 2)
    out = rollout(agent, task, genome, episodes, record=2)
    T, L = task.rollout_steps, agent.latent
    z = out.v                                                    # (episode, time, L)
    for r in range(task.rollouts):                               # one z per rollout
        np.testing.assert_array_equal(z[:, r * T:(r + 1) * T], np.repeat(z[:, r * T:r * T + 1], T, axis=1))
    np.testing.assert_array_equal(z[:, 0], episodes.agent_noise[:, 0, :L])   # the prior's draw at t = 0
    a = {name: value[0] for name, value in agent.kernel_arrays(genome)._asdict().items()
         if isinstance(value, np.ndarray)}
    encoder = [w[None] for w in network(a, "encoder")]
    for r in (1, 2):
        t = r * T
        context = np.concatenate([out.obs[:, :t], out.action[:, :t], out.reward[:, :t, None]], axis=2)
        mu, var = agent.encode([np.repeat(w, 2 * t, axis=0) for w in encoder], context.reshape(-1, agent.inputs))
        mean, variance = posterior(mu.reshape(2, t, L), var.reshape(2, t, L))
        np.testing.assert_allclose(z[:, t], mean + np.sqrt(variance) * episodes.agent_noise[:, t, :L], rtol=1e-9)


@pytest.mark.parametrize("action", ["greedy", "sample"])
def test_the_fused_rollout_acts_as_the_reference_step_in_meta_worlds_environment(action, rng):
    agent, task = pearl(action=action)
    genomes = agent.initial(rng) + rng.normal(0, 0.1, (2, agent.layout.size))
    episodes = draw_episodes(task, agent, rng, 3)
    fused = rollout(agent, task, genomes, episodes, record=3)
    stepped = rollout_stepped(agent, task, genomes, episodes, record=3)
    np.testing.assert_allclose(fused.returns, stepped.returns, rtol=1e-9)
    np.testing.assert_allclose(fused.action, stepped.action, atol=1e-10)
    np.testing.assert_allclose(fused.v, stepped.v, atol=1e-10)
    assert np.abs(fused.action).max() < 1 and not fused.diverged.any()
    greedy_again = rollout(agent, task, genomes, episodes._replace(noise=0 * episodes.noise), record=3)
    np.testing.assert_array_equal(greedy_again.action, fused.action)   # the kernel's own Gaussian is off


def test_the_trainers_networks_are_the_genome_the_rollouts_act_with(rng):
    agent, task = pearl()
    genome = agent.initial(rng) + rng.normal(0, 0.1, agent.layout.size)
    nets = PEARLNetworks(agent)
    nets.load_genome(genome)
    np.testing.assert_array_equal(nets.genome(), genome)
    a = {name: value for name, value in agent.kernel_arrays(genome)._asdict().items() if isinstance(value, np.ndarray)}
    obs_z = rng.normal(size=(1, agent.obs_size + agent.latent))
    np.testing.assert_allclose(nets.policy(torch.tensor(obs_z)).detach().numpy(), mlp(network(a, "policy"), obs_z),
                               rtol=1e-12)
    c = rng.normal(size=(1, 6, agent.inputs))
    mean, variance = nets.posterior(torch.tensor(c))
    expected = posterior(*agent.encode([w.repeat(6, axis=0) for w in network(a, "encoder")], c[0]))
    np.testing.assert_allclose(mean.detach().numpy()[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(variance.detach().numpy()[0], expected[1], rtol=1e-12)


def test_pearl_needs_a_continuous_task_and_its_own_trainer():
    with pytest.raises(ProtocolError, match="agent.kind: expected a task with continuous actions .* got task.kind "
                                            "harlow"):
        defaults(task="harlow", agent="pearl")
    for trainer in ("es", "gradient"):
        with pytest.raises(ProtocolError, match=f"trainer.kind: expected pearl with agent.kind pearl .* got {trainer}"):
            defaults(task="metaworld", agent="pearl", trainer=trainer)
    with pytest.raises(ProtocolError, match="trainer.kind: expected es .* with agent.kind metods .* got pearl"):
        defaults(task="metaworld", agent="metods", trainer="pearl")
