"""The reward curve of motor-control test episodes, on small datasets with known answers."""
import numpy as np
import pytest
import xarray as xr

from metods_sim.analysis import reward_curve


def episodes(rewards, **goals):
    """eval_reward (episode, step) with the given goal coordinates on episode."""
    rewards = np.asarray(rewards, dtype=float)
    coords = {"episode": np.arange(len(rewards)), "step": np.arange(1, rewards.shape[1] + 1),
              **{name: ("episode", values) for name, values in goals.items()}}
    return xr.Dataset({"eval_reward": (("episode", "step"), rewards)}, coords=coords)


def test_the_curve_splits_the_episodes_by_the_direction_rewarded():
    ds = episodes([[1, 2, 3], [3, 2, 1], [-1, 0, 0], [-1, -2, 0]], goal_x=[1.0, 1.0, -1.0, -1.0],
                  goal_y=[0.0, 0.0, 0.0, 0.0])
    curve = reward_curve(ds)
    assert curve.attrs["by"] == "goal_x" and curve["episodes"].values.tolist() == [2, 2]
    np.testing.assert_array_equal(curve["mean"].sel(goal=1.0), [2, 2, 2])
    np.testing.assert_array_equal(curve["mean"].sel(goal=-1.0), [-1, -1, 0])
    assert curve["sem"].sel(goal=1.0, step=1) == pytest.approx(np.std([1, 3], ddof=0) / np.sqrt(2))


def test_goals_drawn_from_a_range_are_not_split_and_a_fallen_body_earns_zero():
    ds = episodes([[1, 1, 0], [3, 1, 1]], goal_velocity=[0.37, 1.52])   # the first fell after step 2
    curve = reward_curve(ds)
    assert curve["goal"].values.tolist() == ["all"] and curve.attrs["by"] == "all episodes"
    np.testing.assert_array_equal(curve["mean"].sel(goal="all"), [2, 1, 0.5])


def test_any_episode_coordinate_can_split_the_curve():
    curve = reward_curve(episodes([[1, 1], [2, 2]], goal_velocity=[0.5, 1.5]), by="goal_velocity")
    assert curve["goal"].values.tolist() == [0.5, 1.5]
