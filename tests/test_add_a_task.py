"""A task is one file plus one registry line: a toy two-armed bandit, registered at test time, gets its fields in
the schema, in `fields` and in validation (its own cross-field rule included), and runs through protocol →
rollout → dataset with no other edit."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from numba import njit

from metods_sim.agents import make_agent
from metods_sim.cli import fields_text
from metods_sim.fields import ProtocolError, integer, number
from metods_sim.plasticity.jit import JIT
from metods_sim.protocol import parse, validate
from metods_sim.results.dataset import evaluation_dataset, load, write
from metods_sim.rollout import draw_episodes, rollout
from metods_sim.tasks import TASKS, Task, make_task
from metods_sim.tasks.env import TaskEnv

_TRIALS, _GOOD, _BAD = range(3)


@dataclass(frozen=True)
class Bandit(Task):
    """Two arms, one rewarded per episode (drawn up front); the observation is a constant 1."""

    trials: int
    good_reward: float
    bad_reward: float

    name = "toy"
    FIELDS = {
        "trials": integer(5, "Pulls per episode.", min=1),
        "good_reward": number(1.0, "Reward of the episode's rewarded arm."),
        "bad_reward": number(0.0, "Reward of the other arm."),
    }
    metric = "correct"
    metric_dim = "trial"

    @classmethod
    def check(cls, section, where):
        if section["bad_reward"] >= section["good_reward"]:
            raise ProtocolError(f"{where('task.bad_reward')}: expected less than task.good_reward, "
                                f"got {section['bad_reward']}")
        return section

    n_actions = property(lambda self: 2)
    obs_size = property(lambda self: 1)
    state_size = property(lambda self: 1)
    n_metrics = property(lambda self: self.trials)
    max_steps = property(lambda self: self.trials)
    optimum = property(lambda self: (self.trials - 1) * self.good_reward + (self.good_reward + self.bad_reward) / 2)

    def config(self):
        return np.array([self.trials, self.good_reward, self.bad_reward], dtype=np.float64)

    def sample(self, rng, episodes):
        return rng.integers(0, 2, (episodes, 1)).astype(np.float64)

    @staticmethod
    @njit(**JIT)
    def reset(cfg, data, functions, mj, state, obs):
        state[:] = 0
        obs[0] = 1.0

    @staticmethod
    @njit(**JIT)
    def step(cfg, data, functions, mj, state, a, action, obs, metrics, t):
        state[0] = t + 1
        done = state[0] >= int(cfg[_TRIALS])
        if a == int(data[0]):
            metrics[t] = 1.0
            return cfg[_GOOD], done
        return cfg[_BAD], done


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(TASKS, Bandit.name, Bandit)   # the one registry line
    return Bandit


def test_a_registered_task_is_in_the_schema_and_fields(toy):
    text = fields_text()
    assert "task (kind: toy)" in text and "task.good_reward: 1.0  (a number)" in text
    spec = validate(parse("task: {kind: toy, trials: 3}\n", "p.yaml"), "p.yaml")
    assert spec["task"] == {"kind": "toy", "trials": 3, "good_reward": 1.0, "bad_reward": 0.0}


def test_a_registered_task_is_validated_by_its_fields_and_check(toy):
    with pytest.raises(ProtocolError, match=r"^p.yaml: task.trials: expected an integer >= 1, got 0$"):
        validate(parse("task: {kind: toy, trials: 0}\n", "p.yaml"), "p.yaml")
    with pytest.raises(ProtocolError, match=r"^p.yaml: task.arms: unknown key \(for task.kind toy\); expected one "
                                            r"of kind, trials, good_reward, bad_reward$"):
        validate(parse("task: {kind: toy, arms: 3}\n", "p.yaml"), "p.yaml")
    with pytest.raises(ProtocolError, match=r"^p.yaml: task.bad_reward: expected less than task.good_reward, "
                                            r"got 2.0$"):
        validate(parse("task: {kind: toy, bad_reward: 2}\n", "p.yaml"), "p.yaml")
    with pytest.raises(ValueError, match=r"^metods_sim task toy: task.bad_reward: expected less than"):
        TaskEnv("toy", bad_reward=2.0)


def test_a_registered_task_runs_through_rollout_to_a_dataset(toy, tmp_path):
    spec = validate(parse("task: {kind: toy, trials: 4}\nagent: {kind: metods, neurons: 4, steps: 1}\n", "p.yaml"),
                    "p.yaml")
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    rng = np.random.default_rng(0)
    params = agent.initial(rng)
    result = rollout(agent, task, params[None], draw_episodes(task, agent, rng, 6))
    assert result.returns.shape == (1, 6) and result.metrics.shape == (1, 6, 4)
    correct = result.metrics[0].sum(axis=1)
    assert np.allclose(result.returns[0], correct * 1.0)   # good_reward 1, bad_reward 0
    ds = evaluation_dataset(result, task)
    back = load(write(ds, tmp_path / "results.nc"))
    assert back["eval_correct"].dims == ("episode", "trial")
    np.testing.assert_allclose(back["eval_return"].values, result.returns[0])
