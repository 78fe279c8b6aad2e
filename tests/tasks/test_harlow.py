"""Harlow: a hand-written one-shot learner reaches the optimum; what the agent sees and what it is paid."""
import gymnasium
import numpy as np
import pytest

import metods_sim  # noqa: F401
from metods_sim.tasks import GYM_IDS


class OneShotLearner:
    """Remembers which pattern paid after the first choice and goes to it ever after; otherwise picks left."""

    def __init__(self, task):
        self.K = task.pattern_size
        self.D = getattr(task, "distance", 0)
        self.good = None
        self.pending = None

    def act(self, obs, track):
        K = self.K
        left, right = obs[:K], obs[K:2 * K]
        if track:
            pos = int(np.argmax(obs[2 * K: 2 * K + 2 * self.D + 1])) - self.D
            if obs[-1] == 1:  # fixation cue: go to the centre
                return 1 - int(np.sign(pos))
        shown = [left.any(), right.any()]
        if all(shown):
            side = 0 if self.good is None or np.array_equal(left, self.good) else 1
            self.pending = (left.copy(), right.copy(), side)
            return (0 if side == 0 else 2) if track else side
        return 1 if track else 0  # feedback step: the action is ignored

    def learn(self, reward):
        if self.pending is not None and self.good is None and reward != 0 and abs(reward) >= 1:
            left, right, side = self.pending
            chosen, other = (left, right) if side == 0 else (right, left)
            self.good = chosen if reward > 0 else other


def play(kind, episodes=1000, seed=0, **fields):
    env = gymnasium.make(GYM_IDS[kind], **fields)
    task = env.unwrapped.task
    returns, correct = [], []
    for e in range(episodes):
        obs, info = env.reset(seed=seed + e)
        learner, total, done = OneShotLearner(task), 0.0, False
        while not done:
            obs, r, term, trunc, info = env.step(learner.act(obs, kind == "harlow"))
            learner.learn(r)
            total += r
            done = term or trunc
        returns.append(total)
        correct.append(info["metrics"])
    return np.array(returns), np.array(correct), task


@pytest.mark.parametrize("kind", ["harlow", "harlow_simple"])
@pytest.mark.parametrize("distance", [1, 3])
def test_a_one_shot_learner_reaches_the_optimum(kind, distance):
    returns, correct, task = play(kind, **({"distance": distance} if kind == "harlow" else {}))
    assert correct[:, 1:].mean() == 1.0
    assert 0.45 < correct[:, 0].mean() < 0.55          # the first presentation is a coin flip
    assert returns.mean() == pytest.approx(task.optimum, abs=0.1)


def test_harlow_optimum_is_6_2_with_the_defaults():
    _, _, task = play("harlow", episodes=1)
    assert task.optimum == pytest.approx(6.2)


def test_presentations_not_reached_before_the_step_limit_count_as_not_chosen():
    returns, correct, task = play("harlow", episodes=50, distance=2, step_limit=12)
    # 4 steps for the first presentation, 5 for each next: only two choices fit in 12 steps
    assert correct[:, 2:].sum() == 0
    assert correct[:, 1].mean() == 1.0


def test_harlow_rewards_fixation_and_choices():
    env = gymnasium.make(GYM_IDS["harlow"], distance=2)
    obs, _ = env.reset(seed=3)
    task = env.unwrapped.task
    K, D = task.pattern_size, task.distance
    assert obs[-1] == 1 and not obs[:2 * K].any()           # fixation: cue on, no object
    obs, r, *_ = env.step(1)                                # stay on the centre
    assert r == pytest.approx(0.2)
    assert obs[:K].any() and obs[K:2 * K].any() and obs[-1] == 0
    obs, r, *_ = env.step(2)                                # one step right: not there yet
    assert r == 0 and obs[2 * K + D + 1] == 1
    obs, r, term, *_ = env.step(2)                          # reach the right object
    assert r in (1.0, -1.0) and not term
    assert obs[K:2 * K].any() and not obs[:K].any()         # feedback: only the chosen object in view
    obs, r, *_ = env.step(0)                                # feedback step ignores the action
    assert r == 0 and obs[-1] == 1 and obs[2 * K + 2 * D] == 1


def test_objects_are_new_and_distinct_every_episode():
    from metods_sim.tasks.harlow import sample_objects

    data = sample_objects(np.random.default_rng(0), 5000, presentations=6, pattern_size=3)
    good, bad, sides = data[:, :3], data[:, 3:6], data[:, 6:]
    assert not np.any(np.all(good == bad, axis=1))
    assert len({tuple(row) for row in good}) == 8               # all 2**3 patterns occur
    assert set(np.unique(sides)) == {-1.0, 1.0}
    assert abs(sides.mean()) < 0.05
