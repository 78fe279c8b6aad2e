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


@pytest.mark.parametrize("env_name, engine", [("reach-v3", "physics"), ("push-v3", "physics"),
                                              ("pick-place-v3", "stepped")])
def test_the_state_carries_across_rollouts_and_everything_is_meta_worlds(env_name, engine):
    agent, task = setup(env_name=env_name, rollouts=2, rollout_steps=12)
    assert task.engine == engine
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
    observations, rewards, success = [], [], [0.0, 0.0]
    for r in range(2):
        observations.append(env.reset()[0])
        for t in range(T):
            obs, reward, _, _, info = env.step(out.action[0, r * T + t])
            observations.append(obs)
            rewards.append(reward)
            success[r] = max(success[r], float(info["success"]))
    seen = np.delete(np.array(observations), [T, 2 * T + 1], axis=0)     # what the agent saw at each step
    np.testing.assert_allclose(out.obs[0], seen, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.reward[0], rewards, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(out.metrics[0, 0], success)
    assert out.returns[0, 0] == pytest.approx(sum(rewards))
    ds = evaluation_dataset(out, task)
    assert ds.eval_success.dims == ("episode", "rollout") and ds.eval_success_rate.shape == (2,)
    assert "success, by rollout: " in summary_text(ds)


def test_the_fused_arm_reaches_its_goal_where_meta_worlds_does():
    """Steer the fused reach's functions and Meta-World's environment with the same scripted actions (toward the
    hidden target, which the row holds): the same observations and rewards, and success at the same steps."""
    from metods_sim.tasks import sawyer

    agent, task = setup(env_name="reach-v3", rollouts=1, rollout_steps=150)
    episodes = draw_episodes(task, agent, np.random.default_rng(1), 1)
    row, cfg, sim = episodes.data[0], task.config(), task.simulator()
    target = row[sawyer.TARGET:sawyer.TARGET + 3]
    state, obs, metrics = np.zeros(task.state_size), np.zeros(39), np.zeros(1)
    task.reset(cfg, row, sim.functions, sim.threads[0], state, obs)
    env = task.environments(episodes.data)[0]
    np.testing.assert_allclose(obs, env.reset()[0], atol=1e-12)
    success = []
    for t in range(150):
        action = np.append(np.clip((target - obs[:3]) * 20, -1, 1), 0.0)
        expected, reward, _, _, info = env.step(action)
        got, _ = task.step(cfg, row, sim.functions, sim.threads[0], state, 0, action, obs, metrics, t)
        np.testing.assert_allclose(obs, expected, atol=1e-12)
        assert got == pytest.approx(reward, abs=1e-12)
        success.append(info["success"])
    assert success[0] == 0.0 and max(success) == 1.0 and metrics[0] == 1.0


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
