"""Motor control: the reward per time step within test episodes, split by the goal rewarded (the paper's
online-adaptation figure), from a run's `eval_reward (episode, step)` and its episodes' goal coordinates."""
from __future__ import annotations

import numpy as np
import xarray as xr

GOALS = ("goal_x", "goal_velocity")   # the episode coordinates a locomotion task labels its goals with


def reward_curve(ds: xr.Dataset, by: str | None = "auto") -> xr.Dataset:
    """Mean, s.e.m. (goal, step) and episodes (goal) of the reward per step over test episodes, one row per value
    of the episode coordinate `by` ("auto": a goal coordinate with at most 8 values, each held by several
    episodes, such as goal_x of forward/backward; None, or no such coordinate: all episodes in one row, goal
    "all"). A step after its episode ended (the body fell) counts as 0, as it does in the return."""
    reward = ds["eval_reward"]
    if by == "auto":
        by = next((name for name in GOALS if name in reward.coords and _few(reward[name].to_series())), None)
    goal = reward[by] if by else xr.full_like(reward["episode"], "all", dtype=object)
    groups = reward.assign_coords(goal=("episode", goal.values)).groupby("goal")
    count = groups.count("episode").max("step")
    return xr.Dataset({"mean": groups.mean("episode"), "sem": groups.std("episode") / np.sqrt(count),
                       "episodes": count}, attrs={"by": by or "all episodes"})


def _few(goals) -> bool:
    """Whether the goals are a few values drawn again and again (forward/backward), not draws from a range."""
    counts = goals.value_counts()
    return len(counts) <= 8 and counts.min() >= 2
