"""The simplified two-choice Harlow task: no track, the fast smoke test of the whole pipeline.

Each presentation is two steps. Choice step: both objects in view (left pattern, right pattern); action 0 picks
the left one, 1 the right one, and the reward (`correct_reward` for the episode's rewarded object, `wrong_reward`
for the other) arrives. Feedback step: only the chosen object stays in view, in its slot, while its reward is at
the agent's input; the action is ignored. Sides are drawn at random for each presentation, and the two ±1
patterns are new every episode.

Observation (obs_size = 2·pattern_size + 1): left pattern, right pattern, feedback cue.
Metric `correct` (trial = presentation). Optimum expected return:
(presentations − 1)·correct_reward + (correct_reward + wrong_reward)/2 (= 5.0 with the defaults).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..fields import integer, number
from ..plasticity.jit import JIT
from .base import Task, numba_contract
from .harlow import rewarded_side, sample_objects, show_object

_PRES, _K, _GOOD_R, _BAD_R = range(4)
_FEEDBACK, _TRIAL, _CHOSEN = range(3)


@dataclass(frozen=True)
class HarlowSimple(Task):
    presentations: int
    pattern_size: int
    correct_reward: float
    wrong_reward: float

    name = "harlow_simple"
    FIELDS = {
        "presentations": integer(6, "Presentations per episode, two steps each (choice, feedback).", min=1),
        "pattern_size": integer(8, "Length of the random ±1 object patterns [ours].", min=1),
        "correct_reward": number(1.0, "Reward for choosing the episode's rewarded object."),
        "wrong_reward": number(-1.0, "Reward for choosing the other object."),
    }
    metric = "correct"
    metric_dim = "trial"

    n_actions = property(lambda self: 2)
    obs_size = property(lambda self: 2 * self.pattern_size + 1)
    state_size = property(lambda self: 3)
    n_metrics = property(lambda self: self.presentations)
    max_steps = property(lambda self: 2 * self.presentations)

    @property
    def optimum(self):
        return (self.presentations - 1) * self.correct_reward + 0.5 * (self.correct_reward + self.wrong_reward)

    def config(self):
        return np.array([self.presentations, self.pattern_size, self.correct_reward, self.wrong_reward],
                        dtype=np.float64)

    def sample(self, rng, episodes):
        return sample_objects(rng, episodes, self.presentations, self.pattern_size)


@njit(inline="always", **JIT)
def _start(cfg, data, state):
    state[:] = 0

@njit(inline="always", **JIT)
def _observe(cfg, data, state, obs):
    K = int(cfg[_K])
    obs[:] = 0.0
    if state[_TRIAL] >= int(cfg[_PRES]):   # after the last feedback (Gymnasium's final observation): blank
        return
    good = rewarded_side(data, K, state[_TRIAL])
    if state[_FEEDBACK] == 0:
        show_object(data, 0, K, obs, 0 if good < 0 else K)
        show_object(data, 1, K, obs, K if good < 0 else 0)
    else:
        chosen = state[_CHOSEN]
        show_object(data, 0 if chosen == good else 1, K, obs, 0 if chosen < 0 else K)
        obs[2 * K] = 1.0


@njit(inline="always", **JIT)
def _step(cfg, data, state, action, metrics):
    K = int(cfg[_K])
    if state[_FEEDBACK] == 1:
        state[_FEEDBACK] = 0
        state[_TRIAL] += 1
        return 0.0, state[_TRIAL] >= int(cfg[_PRES])
    side = 1 if action == 1 else -1
    state[_CHOSEN] = side
    state[_FEEDBACK] = 1
    if side == rewarded_side(data, K, state[_TRIAL]):
        metrics[state[_TRIAL]] = 1.0
        return cfg[_GOOD_R], False
    return cfg[_BAD_R], False


HarlowSimple.reset, HarlowSimple.step = numba_contract(_start, _observe, _step)
