"""The MuJoCo tasks are Gymnasium's bodies: the same observations, and rewards built from the terms Gymnasium
reports in `info`, step for step on the same actions; an impaired actuator applies no torque."""
import gymnasium
import mujoco
import numpy as np
import pytest

from metods_sim.agents import make_agent
from metods_sim.protocol import ProtocolError, defaults, validate
from metods_sim.results import evaluation_dataset
from metods_sim.rollout import draw_episodes, rollout
from metods_sim.tasks import make_task

GYMNASIUM = {"ant_dir": "Ant-v5", "cheetah_dir": "HalfCheetah-v5", "cheetah_vel": "HalfCheetah-v5"}


def random_agent(kind, action="sample", **task_fields):
    spec = defaults(task=kind, agent="random")
    spec["task"].update(task_fields)
    spec["agent"].update(action=action, dtype="float64")
    task = make_task(validate(spec, "<test>")["task"])
    return make_agent(spec["agent"], task), task


def gymnasium_env(task):
    kwargs = dict(ctrl_cost_weight=task.ctrl_cost, reset_noise_scale=task.reset_noise, frame_skip=task.frame_skip)
    if task.name == "ant_dir":
        kwargs.update(contact_cost_weight=task.contact_cost, healthy_reward=task.healthy_reward,
                      healthy_z_range=(task.healthy_z_min, task.healthy_z_max),
                      contact_force_range=(-task.contact_force, task.contact_force),
                      terminate_when_unhealthy=task.terminate, include_cfrc_ext_in_observation=task.contact_obs)
    return gymnasium.make(GYMNASIUM[task.name], **kwargs).unwrapped


def replay(task, row, actions):
    """Gymnasium's environment from the episode's start on the given actions: its observations before each
    step, the reward our task defines computed from Gymnasium's info, and whether it terminated."""
    env = gymnasium_env(task)
    env.reset(seed=0)
    mujoco.mj_resetData(env.model, env.data)   # Gymnasium's reset, with the episode's own noise
    env.set_state(*task.initial_state(row))
    obs, observed, rewards = env._get_obs(), [], []
    for action in actions:
        observed.append(obs)
        obs, _, terminated, _, info = env.step(action)
        if task.name == "cheetah_vel":
            forward = -abs(info["x_velocity"] - row[2])
        else:
            forward = row[0] * info["x_velocity"] + row[1] * info.get("y_velocity", 0.0)
        rewards.append(forward + info["reward_ctrl"] + info.get("reward_contact", 0.0) +
                       info.get("reward_survive", 0.0))
        if terminated:
            break
    return np.array(observed), np.array(rewards), terminated


@pytest.mark.parametrize("kind,fields", [("ant_dir", {"directions": "uniform"}), ("cheetah_dir", {}),
                                         ("cheetah_vel", {"horizon": 80})])
def test_observations_and_rewards_are_gymnasiums_step_for_step(kind, fields, rng):
    agent, task = random_agent(kind, **fields)
    episodes = draw_episodes(task, agent, rng, 3)
    out = rollout(agent, task, np.zeros((1, 0)), episodes, record=3)
    for e in range(3):
        T = out.steps[0, e]
        observed, rewards, terminated = replay(task, episodes.data[e], out.action[e, :T])
        assert len(rewards) == T and terminated == (T < task.horizon)
        np.testing.assert_array_equal(out.obs[e, :T], observed)       # the same physics, bit for bit
        np.testing.assert_allclose(out.reward[e, :T], rewards, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(out.metrics[0, e, :T], rewards, rtol=1e-12, atol=1e-12)
        assert out.returns[0, e] == pytest.approx(rewards.sum())
    assert np.ptp(out.returns) > 0
    if kind == "ant_dir":
        assert (out.steps[0] < task.horizon).any(), "random torques topple the Ant: early ends are exercised"
        assert np.abs(episodes.data[:, 1]).max() > 0.1, "uniform directions reward sideways motion too"


def test_each_set_of_episodes_rewards_both_directions_equally(rng):
    for kind in ("ant_dir", "cheetah_dir"):
        agent, task = random_agent(kind)
        goals = draw_episodes(task, agent, rng, 8).data[:, 0]
        assert sorted(goals.round(12)) == [-1.0] * 4 + [1.0] * 4 and not np.array_equal(
            goals, draw_episodes(task, agent, rng, 8).data[:, 0])


def test_forward_directions_reward_plain_forward_motion(rng):
    agent, task = random_agent("ant_dir", directions="forward")
    np.testing.assert_array_equal(draw_episodes(task, agent, rng, 5).data[:, :3], [[1.0, 0.0, 0.0]] * 5)


def test_the_dataset_labels_each_test_episode_with_its_goal(rng):
    agent, task = random_agent("cheetah_dir", horizon=20)
    episodes = draw_episodes(task, agent, rng, 6)
    ds = evaluation_dataset(rollout(agent, task, np.zeros((1, 0)), episodes), task, episodes.data)
    np.testing.assert_array_equal(ds.goal_x, episodes.data[:, 0])
    by_direction = ds.eval_return.groupby("goal_x").mean()            # a return split by the direction rewarded
    assert list(by_direction.goal_x) == [-1.0, 1.0] and by_direction[0] != by_direction[1]
    agent, task = random_agent("cheetah_vel", horizon=20, velocity_min=0.5, velocity_max=2.0)
    episodes = draw_episodes(task, agent, rng, 6)
    ds = evaluation_dataset(rollout(agent, task, np.zeros((1, 0)), episodes), task, episodes.data)
    assert "goal_x" not in ds.coords and ((0.5 <= ds.goal_velocity) & (ds.goal_velocity <= 2.0)).all()


def test_a_shown_goal_is_appended_to_gymnasiums_observation_and_a_blank_one_is_zeros(rng):
    _, hidden = random_agent("ant_dir", horizon=20, contact_obs=False)
    agent, shown = random_agent("ant_dir", horizon=20, contact_obs=False, goal_obs="shown")
    _, blank = random_agent("ant_dir", horizon=20, contact_obs=False, goal_obs="blank")
    assert shown.obs_size == blank.obs_size == hidden.obs_size + 3
    episodes = draw_episodes(shown, agent, rng, 4)
    runs = {task.goal_obs: rollout(agent, task, np.zeros((1, 0)), episodes, record=4) for task in (hidden, shown,
                                                                                                     blank)}
    np.testing.assert_array_equal(runs["shown"].obs[..., :-3], runs["none"].obs)   # the same body, the same steps
    np.testing.assert_array_equal(runs["blank"].obs[..., :-3], runs["none"].obs)
    np.testing.assert_array_equal(runs["shown"].returns, runs["none"].returns)
    T = runs["none"].steps[0].min()
    np.testing.assert_array_equal(runs["shown"].obs[:, :T, -3:], np.repeat(episodes.data[:, None, :3], T, axis=1))
    assert (runs["blank"].obs[..., -3:] == 0).all()


def test_a_frozen_actuator_applies_no_torque():
    agent, task = random_agent("cheetah_dir", horizon=50)
    impaired = make_task({**defaults(task="cheetah_dir")["task"], "horizon": 50, "impair": {"frozen": [2]}})
    episodes = draw_episodes(task, agent, np.random.default_rng(0), 2)
    free = rollout(agent, task, np.zeros((1, 0)), episodes, record=2)
    frozen = rollout(agent, impaired, np.zeros((1, 0)), episodes, record=2)
    np.testing.assert_array_equal(free.action, frozen.action)       # the agent acts the same; its body does not
    applied = frozen.action[0].copy()
    applied[:, 2] = 0.0
    observed, rewards, _ = replay(task, episodes.data[0], applied)
    np.testing.assert_array_equal(frozen.obs[0], observed)
    np.testing.assert_allclose(frozen.reward[0], rewards, rtol=1e-12, atol=1e-12)
    assert not np.allclose(free.returns, frozen.returns)


def test_the_gaussian_policy_and_the_baselines():
    agent, task = random_agent("cheetah_dir", horizon=20)
    episodes = draw_episodes(task, agent, np.random.default_rng(0), 2)
    sampled = rollout(agent, task, np.zeros((1, 0)), episodes, record=2)
    np.testing.assert_array_equal(sampled.action, np.clip(episodes.noise, -1, 1))   # σ = 1, mean 0
    zero, _ = random_agent("cheetah_dir", action="zero", horizon=20)
    still = rollout(zero, task, np.zeros((1, 0)), episodes, record=2)
    assert not still.action.any() and (still.reward <= 0.5).all()
    spec = defaults(task="cheetah_dir")
    metods = make_agent({**spec["agent"], "dtype": "float64"}, task)
    names = [name for name, _ in metods.layout.entries]
    assert names[-1] == "log_std" and metods.inputs == task.obs_size + task.n_actions + 1
    episodes = draw_episodes(task, metods, np.random.default_rng(0), 2)
    genome = metods.initial(np.random.default_rng(0))
    genome[-task.n_actions:] = -40.0                                   # σ ≈ 0: sampling is the mean
    greedy = rollout(metods, task, genome, episodes, record=2)
    near_mean = rollout(make_agent({**spec["agent"], "dtype": "float64", "action": "sample"}, task), task, genome,
                        episodes, record=2)
    np.testing.assert_allclose(near_mean.action, greedy.action, atol=1e-12)
    assert np.abs(greedy.action).max() <= 1.0 and np.ptp(greedy.action) > 0


@pytest.mark.parametrize("impair,expected", [
    ({"frozen": [8]}, "task.impair.frozen: expected a list of actuator indices in 0..7 (ant_dir has 8 actuators), "
                      "got [8]"),
    ({"frozen": [-1]}, "in 0..7"),
    ({"frozen": 3}, "got 3"),
    ({"frozn": [1]}, "task.impair.frozn: unknown key; expected frozen"),
])
def test_impairments_name_existing_actuators(impair, expected):
    with pytest.raises(ProtocolError, match=expected.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]").replace(".", r"\.")):
        validate({"task": {"kind": "ant_dir", "impair": impair}}, "p.yaml")
    assert validate({"task": {"kind": "ant_dir", "impair": {}}}, "p.yaml")["task"]["impair"] == {"frozen": []}
