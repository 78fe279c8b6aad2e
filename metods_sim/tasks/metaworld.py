"""Meta-World ML1 and ML10 (Sawyer arm, MuJoCo): an adaptation episode is `rollouts` rollouts of `rollout_steps`
steps of one task (one goal of ML1's environment, or one of ML10's environments with its goal), the agent's
state (MetODS's W) carried from one rollout to the next; a rollout succeeds when Meta-World's success flag is
set at any of its steps [paper: 10 rollouts × 500 steps].

Spaces: Meta-World's, 39 observation floats, 4 actions in [-1, 1]. Metric: success of each rollout,
(rollouts,) per episode; episode stats: success_rate (share of successful rollouts) and final_success (the last
rollout's). Return: Meta-World's reward summed over every step of every rollout.

Engines. The environments of `sawyer.ENVIRONMENTS` (ML10's fifteen, train and test) run in the rollout kernel
(`metods_sim.rollout`): Meta-World's models, reset states and step, observation and reward rewritten in Numba
(`metods_sim.tasks.sawyer`, tested against Meta-World's environments on the same actions), one kernel call mixing
the split's environments. A task runs there when every environment of its split (ML1: its one) is in that table;
any other (the rest of ML1) is stepped by Meta-World's own environments, one per agent, in
`metods_sim.rollout.stepped` (the network for all agents in one batched NumPy call per step): far slower. An
episode's row starts with the index of its task in the split's task list (the fused engine's row then holds its
model and the task's start, `sawyer.task_row`).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import UserError
from ..fields import Field, ProtocolError, choice, integer
from . import physics, sawyer
from .base import Task


class MetaWorldError(UserError):
    """Meta-World is missing or does not know the task: one line, exit status 2."""


def metaworld_module():
    try:
        import metaworld
    except ImportError as error:
        raise MetaWorldError(f"cannot import Meta-World ({error}); install it with pip install metaworld==3.1.1") \
            from None
    return metaworld


@functools.lru_cache(maxsize=None)
def benchmark(kind: str, env_name: str, seed: int):
    """Meta-World's benchmark object (its task lists are drawn from `seed`)."""
    metaworld = metaworld_module()
    if kind == "ML10":
        return metaworld.ML10(seed=seed)
    try:
        return metaworld.ML1(env_name, seed=seed)
    except (ValueError, KeyError, AssertionError):
        names = sorted(metaworld.ML1.ENV_NAMES) if hasattr(metaworld.ML1, "ENV_NAMES") else []
        raise MetaWorldError(f"task.env_name: unknown Meta-World environment {env_name!r}"
                             + (f"; expected one of {', '.join(names[:6])}, ..." if names else "")) from None


def known_environment(env_name: str) -> bool:
    """Whether Meta-World's ML1 knows env_name."""
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS   # noqa: imported only once Meta-World imports

    return env_name in ALL_V3_ENVIRONMENTS


@dataclass(frozen=True)
class MetaWorld(Task):
    benchmark: str
    env_name: str
    split: str
    rollouts: int
    rollout_steps: int
    benchmark_seed: int
    goal_obs: str

    name = "metaworld"
    FIELDS = {
        "benchmark": choice("ML1", "Meta-World benchmark: ML1 (one environment, its goals vary) or ML10 (10 "
                                   "training, 5 test environments) [paper].", ("ML1", "ML10")),
        "env_name": Field("reach-v3", "ML1's environment, e.g. reach-v3, push-v3 [paper]; unused by ML10.", "str"),
        "split": choice("train", "Tasks episodes are drawn from: the benchmark's train or test tasks.",
                        ("train", "test")),
        "rollouts": integer(10, "Rollouts per adaptation episode, W carried from one to the next [paper: 10].",
                            min=1),
        "rollout_steps": integer(500, "Steps per rollout [paper and Meta-World: 500].", min=1, max=500),
        "benchmark_seed": integer(0, "Seed of Meta-World's benchmark (its lists of tasks) [ours].", min=0),
        "goal_obs": choice("blank", "The observation's last 3 floats, the goal, for a curriculum [ours]: blank "
                                    "(zeros: the task, ML1 and ML10 hide the goal [Meta-World]); shown (the "
                                    "task's target position, as Meta-World's fully observable environments give "
                                    "it, so that a first stage learns to reach any goal as a function of an input).",
                           ("blank", "shown")),
    }

    @classmethod
    def check(cls, section, where):
        if section["benchmark"] == "ML1":
            metaworld_module()   # missing: one line naming the install
            if not known_environment(section["env_name"]):
                raise ProtocolError(f"{where('task.env_name')}: expected a Meta-World ML1 environment such as "
                                    f"reach-v3 or push-v3, got {section['env_name']!r}")
        return section
    metric = "success"
    metric_dim = "rollout"
    continuous: ClassVar[bool] = True
    state_dtype: ClassVar[type] = np.float64
    reset = staticmethod(sawyer.reset)    # the fused engine's (physics) functions
    step = staticmethod(sawyer.step)

    @property
    def engine(self) -> str:
        fused = all(name in sawyer.ENVIRONMENTS for name in self._tasks()[0])
        return "physics" if fused else "stepped"

    def _tasks(self):
        b = benchmark(self.benchmark, self.env_name, self.benchmark_seed)
        classes = b.train_classes if self.split == "train" else b.test_classes
        return classes, (b.train_tasks if self.split == "train" else b.test_tasks)

    @property
    def n_actions(self) -> int:
        return 4

    @property
    def obs_size(self) -> int:
        return 39

    @property
    def state_size(self) -> int:
        return self.fused().models.state_size + physics.MEMORY if self.engine == "physics" else 0

    def engine_handles(self) -> tuple:
        return np.zeros(1, np.int64), self.fused().models.threads   # each model's functions are in its block

    def fused(self) -> _Fused:
        """The fused engine's environments, models and rows for this task's benchmark and split."""
        return _fused(self.benchmark, self.env_name if self.benchmark == "ML1" else "", self.benchmark_seed, self.split)

    @property
    def max_steps(self) -> int:
        return self.rollouts * self.rollout_steps

    @property
    def n_metrics(self) -> int:
        return self.rollouts

    @property
    def rollout_length(self) -> int:
        return self.rollout_steps

    @property
    def optimum(self) -> float:
        return math.nan

    def config(self) -> np.ndarray:
        if self.engine == "stepped":
            return np.zeros(0)
        fused = self.fused()
        return np.stack([sawyer.config_vector(name, env, rollouts=self.rollouts, rollout_steps=self.rollout_steps,
                                              state_spec=fused.models.state_spec, at=fused.at,
                                              goal_shown=self.goal_obs == "shown")
                         for name, env in zip(fused.names, fused.envs)])

    def sample(self, rng, episodes):
        """(E, D): the index of each episode's task in the split's task list, drawn uniformly, then (fused engine)
        the task's start (`sawyer.task_row`)."""
        index = rng.integers(0, len(self._tasks()[1]), episodes)
        if self.engine == "stepped":
            return index[:, None].astype(np.float64)
        return self.fused().rows(self._tasks()[1])[index]

    def episode_stats(self, metrics):
        return {"success_rate": metrics.mean(axis=-1), "final_success": metrics[..., -1]}

    def episode_labels(self, data):
        """env_name of each episode (E,): the Meta-World environment of its task (ML10 mixes them), so that
        success can be split by environment."""
        tasks = self._tasks()[1]
        return {"env_name": np.array([tasks[int(i)].env_name for i in data[:, 0]])}

    def environments(self, rows) -> list:
        """One Meta-World environment per row, set to the row's task (environments are cached per class and
        reused: building one compiles its MuJoCo model)."""
        classes, tasks = self._tasks()
        used, envs = {}, []
        for row in rows:
            task = tasks[int(row[0])]
            n = used.get(task.env_name, 0)
            pool = _POOL.setdefault(task.env_name, [])
            if n == len(pool):
                pool.append(classes[task.env_name]())
            env = pool[n]
            used[task.env_name] = n + 1
            env.set_task(task)
            _observe_goal(env, self.goal_obs == "shown")
            env.max_path_length = self.rollout_steps
            envs.append(env)
        return envs


def _observe_goal(env, shown: bool):
    """Meta-World's observability of the goal, its observation space recomputed (set_task deletes the cached one
    whenever a task changes observability, and fails where none is cached)."""
    env.__dict__.pop("sawyer_observation_space", None)
    env._partially_observable = not shown
    env.sawyer_observation_space


_POOL: dict = {}


class _Fused:
    """The environments of a benchmark's split (ML1: its one), whose models the fused kernel simulates (a copy per
    thread, `physics.models_for`), and the rows of the split's tasks (each reset once by Meta-World itself)."""

    def __init__(self, kind: str, env_name: str, seed: int, split: str):
        b = benchmark(kind, env_name, seed)
        classes = b.train_classes if split == "train" else b.test_classes
        self.names = list(classes)
        self.envs = [classes[name]() for name in self.names]
        self.models = physics.models_for([env.model for env in self.envs])
        self.at = sawyer.layout([env.model for env in self.envs], self.models.state_spec)
        self._rows = None

    def rows(self, tasks) -> np.ndarray:
        """(len(tasks), D) the rows of `tasks`, the split's task list."""
        if self._rows is None:
            rows = []
            for index, task in enumerate(tasks):
                model = self.names.index(task.env_name)
                self.envs[model].set_task(task)
                rows.append(sawyer.task_row(task.env_name, self.envs[model], index, model, self.models.state_spec,
                                            self.at))
            self._rows = np.stack(rows)
        return self._rows


@functools.lru_cache(maxsize=None)
def _fused(kind: str, env_name: str, seed: int, split: str) -> _Fused:
    return _Fused(kind, env_name, seed, split)
