"""The task contract.

A task is described by a small frozen record built from the protocol's `task` section, and executed by three
Numba functions that know one episode at a time; `metods_sim.rollout` fuses them with an agent and batches them
over population × episodes, and `metods_sim.tasks.env.TaskEnv` wraps the same three functions as a Gymnasium
environment. The dynamics are written once.

Per episode, everything random about the task (object patterns, sides, maze layouts…) is drawn up front by
`sample` into one float64 row, so that every member of an ES population can face the same episodes (common random
numbers) and a rollout is a pure function of (parameters, rows).

    cfg   = task.config()                     float64 (C,)     the task's numbers, from the protocol
    data  = task.sample(rng, episodes)        float64 (E, D)   one row per episode
    state = np.zeros(task.state_size, int64)  per-episode integer state
    reset(cfg, data[e], state)
    observe(cfg, data[e], state, obs)         writes obs, float (obs_size,)
    reward, done = step(cfg, data[e], state, action, metrics[e])
                                              metrics: float (n_metrics,), written by the task (e.g. `correct`)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..fields import Field


@dataclass(frozen=True)
class Task:
    """Base record; subclasses are dataclasses whose fields are the protocol's `task` keys."""

    name: ClassVar[str]
    continuous: ClassVar[bool] = False   # actions are vectors in [-1, 1]^n_actions (the MuJoCo bodies)
    engine: ClassVar[str] = "fused"      # what runs its rollouts: fused (rollout.py), physics (rollout_physics.py),
                                         # stepped (rollout_stepped.py: environments stepped in Python)
    metric: ClassVar[str]        # name of the per-episode metric vector, e.g. "correct"
    metric_dim: ClassVar[str]    # its dimension in the dataset, e.g. "trial"
    FIELDS: ClassVar[dict[str, Field]] = {}   # the protocol's `task` keys: default, check, doc (`metods_sim.fields`)

    @classmethod
    def check(cls, section: dict, where) -> dict:
        """Rules across this task's fields, on a section whose fields each passed their own check; raises
        ProtocolError naming the key through `where(key path)`. Returns the section, normalised."""
        return section

    @property
    def n_actions(self) -> int:
        raise NotImplementedError

    @property
    def obs_size(self) -> int:
        raise NotImplementedError

    @property
    def state_size(self) -> int:
        raise NotImplementedError

    @property
    def n_metrics(self) -> int:
        raise NotImplementedError

    @property
    def max_steps(self) -> int:
        raise NotImplementedError

    @property
    def optimum(self) -> float:
        """Best expected return of an agent that must learn within the episode."""
        raise NotImplementedError

    def config(self) -> np.ndarray:
        raise NotImplementedError

    def episode_stats(self, metrics: np.ndarray) -> dict:
        """Named per-episode summaries of the metric vector (…, n_metrics) → {name: (…)}, stored beside it as
        eval_<name> (e.g. the maze's first reward step and success); none by default."""
        return {}

    def episode_labels(self, data: np.ndarray) -> dict:
        """Named per-episode facts of the task's rows (E, D) → {name: (E,)}, stored as coordinates of the test
        episodes (e.g. a MuJoCo task's goal, so that returns can be split by the direction rewarded); none by
        default."""
        return {}

    def curves(self, metrics: np.ndarray) -> dict:
        """Named curves over the metric dimension from the metric vectors of the test episodes (E, n_metrics) →
        {name: (n_metrics,)}, stored as eval_<name> (e.g. a MuJoCo task's within-episode reward curve); none by
        default."""
        return {}

    def sample(self, rng: np.random.Generator, episodes: int) -> np.ndarray:
        raise NotImplementedError

    # the three Numba functions, set as staticmethods by each task
    reset = observe = step = None
