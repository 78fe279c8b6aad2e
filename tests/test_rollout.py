"""The fused rollout equals the batched-NumPy reference rollout built on the agents' reference steps, the
observations normalised or not, and sums the raw observations it fed."""
import numpy as np
import pytest

from metods_sim.agents import AGENTS, make_agent
from metods_sim.protocol import defaults
from metods_sim.rollout import Normalisation, draw_episodes, rollout, rollout_reference
from metods_sim.tasks import make_task

from conftest import spec_for


CASES = [("harlow", dict()), ("harlow_simple", dict()),
         ("harlow", {"agent.write": "vanilla", "agent.steps": 1, "agent.action": "sample"}),
         ("harlow", {"agent.write": "mlp", "agent.steps": 2, "agent.W0": "sampled", "agent.plasticity": "none"}),
         ("harlow_simple", {"agent.W0": "learned", "agent.action": "sample"}),
         ("harlow", {"agent.W_clip": 0.5})]
# (pearl acts on continuous tasks only: tests/agents/test_pearl_agent.py checks its kernel against its reference step)
CASES += [(task, {"agent.kind": kind, **action}) for kind in sorted(AGENTS) if kind not in ("metods", "pearl")
          for task in ("harlow", "harlow_simple") for action in ({}, {"agent.action": "sample"})
          if kind != "random" or action]
CASES += [("harlow_simple", {"agent.kind": "maml", "agent.adapt_every": 4, "agent.action": "sample"})]  # 2 updates


def agent_spec(task, **changes):
    """spec_for with an agent section of agent.kind's defaults (other kinds accept other fields)."""
    kind = changes.pop("agent.kind", "metods")
    spec = spec_for(task, **changes)
    spec["agent"] = {**defaults(task=task, agent=kind)["agent"], **{k.split(".")[1]: v for k, v in changes.items()
                                                         if k.startswith("agent.")}}
    return spec


def a_normalisation(rng, O):
    """Statistics that move every entry and clip some (a Harlow entry of -1 with mean 0.5 and σ 0.1 becomes -15)."""
    return Normalisation(rng.uniform(-0.5, 0.5, O), rng.uniform(0.1, 1.0, O))


def fused_and_reference(kind, changes, rng, norm=None):
    """3 genomes near the agent's start, 4 episodes, by the kernel and by the reference; asserts they agree."""
    spec = agent_spec(kind, **{"agent.dtype": "float64", **changes})
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    # small perturbations: a strongly perturbed rule can be chaotic, and reassociated sums (1e-16 apart) then
    # drift apart over an episode for reasons that are not bugs
    genomes = agent.initial(rng) + rng.normal(0, 0.1, (3, agent.layout.size))
    episodes = draw_episodes(task, agent, rng, 4)
    norm = norm and norm(rng, task.obs_size)
    fused = rollout(agent, task, genomes, episodes, record=4, norm=norm)
    ref = rollout_reference(agent, task, genomes, episodes, record=4, norm=norm)
    np.testing.assert_allclose(fused.returns, ref.returns, atol=1e-10, rtol=0)
    np.testing.assert_array_equal(fused.metrics, ref.metrics)
    np.testing.assert_array_equal(fused.steps, ref.steps)
    np.testing.assert_array_equal(fused.diverged, ref.diverged)
    for name, shape in zip(("W", "v"), agent.record_shapes):
        assert (getattr(fused, name) is None) == (getattr(ref, name) is None) == (shape is None)
    for name in ("W", "v", "value", "obs", "obs_sum", "obs_sumsq"):    # member 0, every episode, every step
        if getattr(fused, name) is not None:
            np.testing.assert_allclose(getattr(fused, name), getattr(ref, name), atol=1e-10, rtol=1e-10)
    for name in ("action", "reward"):
        np.testing.assert_array_equal(getattr(fused, name), getattr(ref, name))
    assert fused.metrics.any() or kind == "harlow"
    return task, agent, genomes, episodes, fused


@pytest.mark.parametrize("kind,changes", CASES)
def test_fused_rollout_equals_the_numpy_reference_in_float64(kind, changes, rng):
    fused_and_reference(kind, changes, rng)


@pytest.mark.parametrize("kind,changes", [("harlow", {}), ("harlow_simple", {"agent.write": "mlp"}),
                                          ("harlow_simple", {"agent.kind": "rl2", "agent.action": "sample"})])
def test_with_normalised_observations_the_fused_rollout_equals_the_numpy_reference(kind, changes, rng):
    task, agent, genomes, episodes, fused = fused_and_reference(kind, changes, rng, norm=a_normalisation)
    plain = rollout(agent, task, genomes, episodes, record=4)
    assert not np.allclose(fused.value, plain.value)            # the agent was fed something else
    np.testing.assert_array_equal(fused.obs[:, 0], plain.obs[:, 0])   # the recording holds the raw o_0


def test_with_observation_norm_none_the_kernel_feeds_o_as_it_is(rng):
    """The identity transform (μ 0, σ 1, no clip) feeds the same numbers as no transform: bit for bit."""
    spec = spec_for("harlow_simple", **{"agent.W0": "sampled"})
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    genomes = agent.initial(rng) + rng.normal(0, 0.3, (4, agent.layout.size))
    episodes = draw_episodes(task, agent, rng, 6)
    plain = rollout(agent, task, genomes, episodes, record=6)
    identity = Normalisation(np.zeros(task.obs_size), np.ones(task.obs_size), np.inf)
    same = rollout(agent, task, genomes, episodes, record=6, norm=identity)
    for name in ("returns", "metrics", "steps", "W", "v", "value", "action", "obs_sum", "obs_sumsq"):
        np.testing.assert_array_equal(getattr(same, name), getattr(plain, name), err_msg=name)
    np.testing.assert_array_equal(same.obs, plain.obs.astype(np.float64))


@pytest.mark.parametrize("kind,changes", [("harlow", {}),
                                          ("cheetah_dir", {"task.horizon": 20, "agent.neurons": 6})])
def test_the_rollout_sums_the_raw_observations_it_fed(kind, changes, rng):
    """Per member × episode, over the steps taken (Harlow's episodes end at different steps): NumPy's sums of the
    observations the same rollout recorded, for member 0, and for member 1 run alone."""
    spec = spec_for(kind, **{"agent.dtype": "float64", **changes})
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    genomes = agent.initial(rng) + rng.normal(0, 0.3, (2, agent.layout.size))
    episodes = draw_episodes(task, agent, rng, 5)
    norm = a_normalisation(rng, task.obs_size)
    together = rollout(agent, task, genomes, episodes, record=5, norm=norm)
    alone = rollout(agent, task, genomes[1], episodes, record=5, norm=norm)
    for member, out in ((0, together), (1, alone)):
        live = np.arange(task.max_steps)[None, :] < out.steps[0][:, None]          # (episode, time)
        obs = np.where(live[..., None], out.obs, 0.0)
        np.testing.assert_allclose(together.obs_sum[member], obs.sum(1), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(together.obs_sumsq[member], (obs ** 2).sum(1), rtol=1e-12, atol=1e-12)
    assert kind != "harlow" or len(set(together.steps.ravel())) > 1
    assert np.abs(together.obs_sum).min() > 0 or kind == "harlow"


@pytest.mark.parametrize("kind", ["metods", "rl2", "feedforward"])
def test_float32_rollout_tracks_the_float64_one(kind, rng):
    spec = agent_spec("harlow_simple", **{"agent.kind": kind})
    task = make_task(spec["task"])
    agents = {dt: make_agent({**spec["agent"], "dtype": dt}, task) for dt in ("float32", "float64")}
    genomes = agents["float64"].initial(rng) + rng.normal(0, 0.1, (8, agents["float64"].layout.size))
    episodes = draw_episodes(task, agents["float64"], rng, 16)
    r32 = rollout(agents["float32"], task, genomes, episodes, record=16)
    r64 = rollout(agents["float64"], task, genomes, episodes, record=16)
    name = "W" if kind == "metods" else "v"   # at the first step, before any choice can differ
    assert np.abs(getattr(r32, name)[:, 0] - getattr(r64, name)[:, 0]).max() < 1e-5
    assert (r32.returns == r64.returns).mean() > 0.9   # a near-tie in the logits may flip a greedy choice


# Harlow, or for pearl (continuous actions only) two short Meta-World rollouts
ALONE = {"pearl": ("metaworld", {"task.rollouts": 2, "task.rollout_steps": 10})}


@pytest.mark.parametrize("kind", sorted(AGENTS))
def test_a_member_scores_the_same_alone_or_in_a_population(kind, rng):
    task_kind, changes = ALONE.get(kind, ("harlow", {}))
    spec = agent_spec(task_kind, **{"agent.kind": kind, **changes})
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    genomes = agent.initial(rng) + rng.normal(0, 0.3, (16, agent.layout.size))
    episodes = draw_episodes(task, agent, rng, 8)
    together = rollout(agent, task, genomes, episodes)
    alone = rollout(agent, task, genomes[5], episodes)
    np.testing.assert_array_equal(together.returns[5], alone.returns[0])
    np.testing.assert_array_equal(together.metrics[5], alone.metrics[0])


def test_recording_is_padded_after_the_episode_ends(rng):
    spec = spec_for("harlow_simple")
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    out = rollout(agent, task, agent.initial(rng), draw_episodes(task, agent, rng, 3), record=2)
    assert out.W.shape == (2, task.max_steps, agent.neurons, agent.neurons)
    assert out.obs.shape == (2, task.max_steps, task.obs_size)
    assert np.all(out.steps == task.max_steps)   # the simple task always runs to its end


def with_carry(agent, genome, carry):
    """genome with every beta[s, s-1] = carry: each pass multiplies W by it, so W grows as carry**(S T)."""
    rows, cols = agent.triangle()
    parts = {name: value[0] for name, value in agent.layout.unpack(genome[None]).items()}
    parts["beta"] = np.where(cols == rows - 1, carry, parts["beta"])
    return agent.layout.pack(parts)


def test_a_member_whose_fast_weights_overflow_is_reported_and_W_clip_bounds_them(rng):
    spec = spec_for("harlow_simple", **{"agent.steps": 2})
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    sane = agent.initial(rng)
    genomes = np.stack([with_carry(agent, sane, 100.0), sane])   # 100**24 overflows float32
    episodes = draw_episodes(task, agent, rng, 4)
    out = rollout(agent, task, genomes, episodes, record=1)
    assert out.diverged.tolist() == [[True] * 4, [False] * 4]
    assert not np.isfinite(out.W[0, -1]).all()
    assert np.isfinite(out.returns).all()   # saturated activations still act: returns alone cannot tell
    clipped = make_agent({**spec["agent"], "W_clip": 10.0}, task)
    out = rollout(clipped, task, genomes, episodes, record=1)
    assert not out.diverged.any()
    assert np.abs(out.W).max() == pytest.approx(10.0)
    assert out.returns[1] == pytest.approx(rollout(agent, task, sane, episodes).returns[0])  # |W| < 10 there


def test_the_kernel_cache_key_names_the_task_and_the_agent_and_their_sources(tmp_path, monkeypatch):
    from metods_sim.rollout import kernel as module
    from metods_sim.agents import RL2, MetODS
    from metods_sim.tasks import Harlow, HarlowSimple

    keys = {module._fingerprint(task, agent) for task in (Harlow, HarlowSimple) for agent in (MetODS, RL2)}
    assert len(keys) == 4
    read = []
    original = type(tmp_path).read_bytes
    monkeypatch.setattr(type(tmp_path), "read_bytes", lambda self: read.append(self.name) or original(self))
    module._fingerprint(HarlowSimple, RL2)
    assert {"episodes.py", "kernel.py", "harlow_simple.py", "harlow.py", "rl2.py", "lanes.py", "metods.py"} <= set(read)
