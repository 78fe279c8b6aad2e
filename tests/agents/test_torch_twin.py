"""The PyTorch twin is the same agent as the Numba kernels: same genome, same episodes, same numbers."""
import numpy as np
import pytest
import torch

from metods_sim.agents import make_agent
from metods_sim.agents.torch_twin import recursive_update as torch_update
from metods_sim.plasticity import recursive_update
from metods_sim.rollout import Normalisation, draw_episodes, rollout
from metods_sim.rollout.twin import collect, replay
from metods_sim.tasks import make_task

from conftest import spec_for


def setup(kind="harlow", **changes):
    spec = spec_for(kind, **{"agent.dtype": "float64", **changes})
    task = make_task(spec["task"])
    return task, make_agent(spec["agent"], task)


def genomes_for(agent, rng, P, scale=0.1):
    # small perturbations of the starting rule: a strongly perturbed rule can be chaotic, and sums reassociated
    # 1e-16 apart then drift apart over an episode for reasons that are not bugs
    return agent.initial(rng) + rng.normal(0, scale, (P, agent.layout.size))


@pytest.mark.parametrize("write", ["vanilla", "linear", "mlp"])
@pytest.mark.parametrize("S", [1, 2, 4])
@pytest.mark.parametrize("action", ["greedy", "sample"])
def test_twin_equals_the_fused_numba_rollout_in_float64(write, S, action, rng):
    twin_equals_the_kernel(rng, **{"agent.write": write, "agent.steps": S, "agent.action": action})


@pytest.mark.parametrize("action", ["greedy", "sample"])
def test_with_normalised_observations_the_twin_equals_the_fused_rollout(action, rng):
    twin = twin_equals_the_kernel(rng, norm=True, **{"agent.action": action})
    assert np.abs(twin.x[..., :twin.obs_sum.shape[1]].numpy()).max() == 5.0   # the clip was exercised


def twin_equals_the_kernel(rng, norm=False, **changes):
    """3 genomes × 4 episodes of Harlow (N = 12) by the kernel and the twin (observations normalised with norm):
    the same returns, metrics, steps, observation sums, and member 0's W, v, value, action and reward."""
    task, agent = setup(**{"agent.neurons": 12, **changes})
    genomes = genomes_for(agent, rng, 3)
    episodes = draw_episodes(task, agent, rng, 4)
    norm = Normalisation(rng.uniform(-0.5, 0.5, task.obs_size), rng.uniform(0.1, 1.0, task.obs_size)) if norm else None
    fused = rollout(agent, task, genomes, episodes, record=4, norm=norm)
    twin = collect(agent, task, torch.as_tensor(genomes), episodes, greedy=agent.action == "greedy", keep=True,
                   norm=norm)
    np.testing.assert_allclose(twin.returns.reshape(3, 4), fused.returns, atol=1e-8, rtol=0)
    np.testing.assert_array_equal(twin.metrics.reshape(3, 4, -1), fused.metrics)
    np.testing.assert_array_equal(twin.steps.reshape(3, 4), fused.steps)
    np.testing.assert_array_equal(twin.obs_sum.reshape(fused.obs_sum.shape), fused.obs_sum)
    np.testing.assert_array_equal(twin.obs_sumsq.reshape(fused.obs_sumsq.shape), fused.obs_sumsq)
    live = twin.live[:, :4].T.numpy()                      # member 0's rows, (episode, time)
    T = live.shape[1]
    assert live.sum() == fused.steps[0].sum()
    for name, ours in (("W", twin.W), ("v", twin.v), ("value", twin.value), ("action", twin.action),
                       ("reward", twin.reward)):
        ours = ours[:, :4].transpose(0, 1).numpy()
        theirs = getattr(fused, name)[:, :T]
        np.testing.assert_allclose(ours[live], theirs[live], atol=1e-8, rtol=0, err_msg=name)
    assert np.abs(fused.W[:, :T][live]).max() > 1e-3      # W really was written
    return twin


def twin_W_is_the_kernels(task, agent, rng):
    """2 genomes × 3 episodes run fused and by the twin; asserts their W agree at every live step of member 0 and
    returns (fused, twin, that W (episode, time, post, pre) and its live mask)."""
    genomes = genomes_for(agent, rng, 2)
    episodes = draw_episodes(task, agent, rng, 3)
    fused = rollout(agent, task, genomes, episodes, record=3)
    twin = collect(agent, task, torch.as_tensor(genomes), episodes, greedy=True, keep=True)
    live = twin.live[:, :3].T.numpy()
    W = twin.W[:, :3].transpose(0, 1).numpy()
    np.testing.assert_allclose(W[live], fused.W[:, :live.shape[1]][live], atol=1e-8, rtol=0)
    return fused, twin, W, live


@pytest.mark.parametrize("changes", [{"agent.W0": "learned", "agent.plasticity": "none"},
                                     {"agent.W0": "sampled"}])
def test_twin_reads_every_genome_block_like_the_kernels(changes, rng):
    twin_W_is_the_kernels(*setup("harlow_simple", **changes), rng)


def test_twin_clips_W_like_the_kernels(rng):
    fused, twin, W, live = twin_W_is_the_kernels(*setup(**{"agent.W_clip": 0.02, "agent.neurons": 12}), rng)
    np.testing.assert_allclose(twin.returns.reshape(2, 3), fused.returns, atol=1e-8, rtol=0)
    assert np.abs(W[live]).max() == pytest.approx(0.02)   # the bound was reached, so the clip was exercised


@pytest.mark.parametrize("write", ["vanilla", "linear", "mlp"])
def test_the_torch_rule_is_the_reference_rule(write, rng):
    B, N, H, S = 5, 6, 4, 3
    W, v0, alpha = rng.normal(size=(B, N, N)), rng.normal(size=(B, N)), rng.normal(size=(B, N, N))
    kappa, beta = np.tril(rng.normal(size=(B, S + 1, S + 1))), np.tril(rng.normal(size=(B, S + 1, S + 1)))
    proj = {"vanilla": None, "linear": rng.normal(size=(B, N, N)),
            "mlp": (rng.normal(size=(B, H, N)), rng.normal(size=(B, N, H)))}[write]
    as_t = (lambda p: None if p is None else tuple(map(torch.as_tensor, p)) if isinstance(p, tuple)
            else torch.as_tensor(p))
    v, Wn = recursive_update(W, v0, alpha, kappa, beta, steps=S, write=write, proj=proj)
    tv, tW = torch_update(*map(torch.as_tensor, (W, v0, alpha, kappa, beta)), steps=S, write=write, proj=as_t(proj))
    np.testing.assert_allclose(tv.numpy(), v, atol=1e-12)
    np.testing.assert_allclose(tW.numpy(), Wn, atol=1e-12)


def test_replay_over_recorded_inputs_gives_the_same_logits_and_gradients_flow_to_every_block(rng):
    task, agent = setup(**{"agent.steps": 2, "agent.W0": "learned"})
    params = torch.as_tensor(genomes_for(agent, rng, 1)[0]).requires_grad_(True)
    episodes = draw_episodes(task, agent, rng, 3)
    run = collect(agent, task, params, episodes, greedy=False)
    logits, values, _ = replay(agent, params, episodes, run.x, run.live)
    torch.testing.assert_close(logits, run.logits)
    torch.testing.assert_close(values, run.value)
    # continuing from a W carried across a cut gives the same numbers as one pass
    first, _, W = replay(agent, params, episodes, run.x, run.live, stop=7)
    second, _, _ = replay(agent, params, episodes, run.x, run.live, start=7, W=W)
    torch.testing.assert_close(torch.cat([first, second]), logits)
    (values[run.live].sum() + torch.log_softmax(logits, -1)[..., 0][run.live].sum()).backward()
    grad = agent.layout.unpack(params.grad.numpy())
    for name in ("f.weight", "g.weight", "alpha", "kappa", "beta", "proj", "W0"):
        assert np.abs(grad[name]).max() > 0, name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_twin_runs_in_float32_and_float64(dtype, rng):
    task, agent = setup("harlow_simple")
    params = torch.as_tensor(genomes_for(agent, rng, 1), dtype=dtype)
    run = collect(agent, task, params, draw_episodes(task, agent, rng, 2), greedy=True)
    assert run.logits.dtype == dtype and torch.isfinite(run.logits).all()
