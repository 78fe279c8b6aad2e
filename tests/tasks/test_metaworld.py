"""Meta-World adaptation episodes: rollouts of one task with the agent's state carried across them, Meta-World's
own rewards and success flags."""
import numpy as np
import pytest

from metods_sim.agents import make_agent
from metods_sim.analysis import summary_text
from metods_sim.protocol import ProtocolError, defaults, validate
from metods_sim.results import evaluation_dataset
from metods_sim.rollout import draw_episodes, rollout
from metods_sim.tasks import make_task


def setup(agent="metods", **task_fields):
    spec = defaults(task="metaworld", agent=agent)
    spec["task"].update(task_fields)
    spec["agent"]["dtype"] = "float64"
    spec = validate(spec, "<test>")
    task = make_task(spec["task"])
    return make_agent(spec["agent"], task), task


def test_the_state_carries_across_rollouts_and_success_is_meta_worlds():
    agent, task = setup(rollouts=2, rollout_steps=12)
    rng = np.random.default_rng(0)
    episodes = draw_episodes(task, agent, rng, 2)
    genome = agent.initial(rng)
    out = rollout(agent, task, genome, episodes, record=2)
    T = task.rollout_steps
    assert out.metrics.shape == (1, 2, 2) and set(np.unique(out.metrics)) <= {0.0, 1.0}
    np.testing.assert_array_equal(out.obs[0, T], out.obs[0, 0])           # the arm starts over ...
    assert not np.allclose(out.W[0, T], out.W[0, 0])                      # ... the synapses do not
    assert not np.allclose(out.action[0, T], out.action[0, 0])
    env = task.environments(episodes.data[:1])[0]                         # replay in Meta-World itself
    rewards, success = [], [0.0, 0.0]
    for r in range(2):
        env.reset()
        for t in range(T):
            _, reward, _, _, info = env.step(out.action[0, r * T + t])
            rewards.append(reward)
            success[r] = max(success[r], float(info["success"]))
    np.testing.assert_allclose(out.reward[0], rewards, rtol=1e-12)
    np.testing.assert_array_equal(out.metrics[0, 0], success)
    assert out.returns[0, 0] == pytest.approx(sum(rewards))
    ds = evaluation_dataset(out, task)
    assert ds.eval_success.dims == ("episode", "rollout") and ds.eval_success_rate.shape == (2,)
    assert "success, by rollout: " in summary_text(ds)


def test_ml10_draws_its_environments_and_splits():
    agent, task = setup(agent="random", benchmark="ML10", split="test", rollouts=1, rollout_steps=3)
    episodes = draw_episodes(task, agent, np.random.default_rng(0), 6)
    names = {task._tasks()[1][int(row[0])].env_name for row in episodes.data}
    assert len(names) > 1 and names <= {"drawer-open-v3", "door-close-v3", "shelf-place-v3", "sweep-into-v3",
                                        "lever-pull-v3"}
    out = rollout(agent, task, np.zeros((1, 0)), episodes)
    assert out.returns.shape == (1, 6) and np.isfinite(out.returns).all()


def test_an_unknown_environment_is_one_line():
    with pytest.raises(ProtocolError, match=r"p.yaml: task.env_name: expected a Meta-World ML1 environment such "
                                            r"as reach-v3 or push-v3, got 'reach-v9'"):
        validate({"task": {"kind": "metaworld", "env_name": "reach-v9"}}, "p.yaml")
