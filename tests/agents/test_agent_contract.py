"""Every registered agent honours the contract of metods_sim.agents.base; the baselines do what they say."""
import numpy as np
import pytest

from metods_sim.agents import AGENTS, make_agent
from metods_sim.protocol import ProtocolError, defaults
from metods_sim.protocol.schema import AGENTS as AGENT_FIELDS
from metods_sim.rollout import draw_episodes, rollout
from metods_sim.tasks import TASKS, make_task
from metods_sim.trainers import ESTrainer



def accepts(kind, task_kind) -> bool:
    """Whether a protocol may put the agent on the task (pearl refuses discrete actions)."""
    try:
        defaults(task=task_kind, agent=kind)
    except ProtocolError:
        return False
    return True


CASES = [(kind, task) for kind in sorted(AGENTS) for task in sorted(TASKS) if accepts(kind, task)]


def agent_for(kind, task_kind="harlow", **fields):
    spec = defaults(task=task_kind, agent=kind)
    task = make_task(spec["task"])
    return make_agent({**spec["agent"], **fields}, task), task


def test_every_agent_has_its_fields_in_the_schema():
    assert set(AGENTS) == set(AGENT_FIELDS)
    for kind, cls in AGENTS.items():
        assert cls.kind == kind
        assert {"action", "dtype"} <= set(AGENT_FIELDS[kind])
        assert all(field.doc for field in AGENT_FIELDS[kind].values())


@pytest.mark.parametrize("kind,task_kind", CASES)
def test_genome_layout_and_kernel_arrays_agree(kind, task_kind, rng):
    agent, task = agent_for(kind, task_kind)
    genome = agent.initial(rng)
    assert genome.shape == (agent.layout.size,) and np.isfinite(genome).all()
    assert agent.layout.names().shape == agent.layout.blocks().shape == (agent.layout.size,)
    genomes = genome + rng.normal(0, 0.1, (3, agent.layout.size))
    np.testing.assert_array_equal(agent.layout.pack(agent.layout.unpack(genomes)).reshape(3, -1), genomes)
    for value in agent.kernel_arrays(genomes):
        if isinstance(value, np.ndarray):
            assert value.shape[0] == 3 and value.dtype == np.float32 and value.flags.c_contiguous
    assert agent.inputs == task.obs_size + task.n_actions + 1


# pearl's actor has a σ of each state, not a learned log_std block (its kernel Gaussian is off: agents/pearl.py)
@pytest.mark.parametrize("kind", sorted(set(AGENTS) - {"random", "pearl"}))
def test_a_continuous_policy_starts_at_the_protocols_sigma(kind, rng):
    agent, _ = agent_for(kind, "cheetah_dir", init_log_std=-1.5)
    assert agent.log_std(agent.initial(rng)).tolist() == [[-1.5] * 6]
    discrete, _ = agent_for(kind, "harlow", init_log_std=-1.5)   # no Gaussian, no log_std block
    assert discrete.initial(rng).shape == agent_for(kind, "harlow")[0].initial(rng).shape


@pytest.mark.parametrize("kind", sorted(AGENTS))
def test_a_rollout_records_what_record_shapes_says(kind, rng):
    agent, task = agent_for(kind, "harlow_simple" if accepts(kind, "harlow_simple") else "cheetah_dir")
    out = rollout(agent, task, agent.initial(rng), draw_episodes(task, agent, rng, 3), record=2)
    for recorded, shape in zip((out.W, out.v), agent.record_shapes):
        assert recorded is None if shape is None else recorded.shape == (2, task.max_steps) + shape
    assert out.value.shape == out.action.shape[:2] == (2, task.max_steps)
    assert not out.diverged.any()


def test_the_random_agent_acts_uniformly_from_the_episode_noise(rng):
    agent, task = agent_for("random", "harlow")
    assert agent.layout.size == 0
    episodes = draw_episodes(task, agent, rng, 400)
    out = rollout(agent, task, agent.initial(rng), episodes, record=400)
    live = np.arange(task.max_steps) < out.steps[0][:, None]
    counts = np.bincount(out.action[live], minlength=task.n_actions)
    assert counts.min() > 0.9 * counts.mean()
    np.testing.assert_array_equal(out.returns, rollout(agent, task, np.zeros((2, 0)), episodes).returns[:1])
    again = rollout(agent, task, agent.initial(rng), episodes._replace(noise=rng.random(episodes.noise.shape)))
    assert not np.array_equal(out.returns, again.returns)
    with pytest.raises(ValueError, match="layout expects 0"):
        agent.kernel_arrays(np.zeros(3))


def test_the_random_agent_is_evaluated_untrained(rng):
    agent, task = agent_for("random", "harlow_simple")
    spec = defaults(task="harlow_simple", agent="random")
    trainer = ESTrainer({**spec["trainer"], "eval_episodes": 64}, task, agent, seed=0)
    result = trainer.train(agent.initial(rng), checkpoint=lambda *a: pytest.fail("no checkpoint expected"))
    assert result.stopped_by == "no_parameters" and result.generations == 0 and result.done
    assert result.best.shape == (0,) and np.isfinite(result.best_validation)


def test_the_feedforward_agent_has_no_memory(rng):
    """Two episodes that end with the same input give the same output, whatever came before."""
    agent, task = agent_for("feedforward", "harlow_simple", dtype="float64")
    a = {name: np.repeat(value, 2, axis=0) for name, value in agent.kernel_arrays(agent.initial(rng))._asdict().items()}
    x = rng.normal(size=(2, agent.inputs))
    _, state, _ = agent.reference_step(a, agent.reference_start(a, np.zeros((2, 0))), x)
    out, _, (_, h) = agent.reference_step(a, state, x[[1, 1]])
    assert state == () and np.array_equal(out[0], out[1]) and np.array_equal(h[0], h[1])
