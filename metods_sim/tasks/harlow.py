"""Harlow's one-shot learning task on a 1-D track (model document, section 3).

Track: positions −D..D, the agent starts at the centre. Actions: 0 = left, 1 = stay, 2 = right.
Each presentation has three phases:
- fixation: no object in view, the fixation cue is on; arriving at (or staying on) the centre gives
  `fixation_reward` and shows the objects;
- choice: the episode's two objects appear at −D and +D, sides drawn at random for each presentation; reaching
  one ends the choice with `correct_reward` for the episode's rewarded object and `wrong_reward` for the other;
- feedback: one step during which the chosen object stays in view while its reward arrives at the agent's input;
  the action is ignored.
The episode ends after the last presentation's feedback, or at `step_limit`.

Observation (obs_size = 2·pattern_size + 2·D + 2): left object pattern, right object pattern (zeros when not in
view), one-hot position, fixation cue. Object patterns are random ±1 vectors, two distinct new ones per episode.
Metric `correct` (trial = presentation): 1 when the rewarded object was chosen; a presentation not reached before
the step limit counts as not chosen. Optimum expected return: presentations·fixation_reward + (presentations−1)
·correct_reward + (correct_reward + wrong_reward)/2 (= 6.2 with the defaults).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..fields import integer, number
from ..plasticity.jit import JIT
from .base import Task, numba_contract

FIXATION, CHOICE, FEEDBACK = 0, 1, 2
# cfg layout
_PRES, _K, _D, _FIX_R, _GOOD_R, _BAD_R = range(6)
# state layout
_PHASE, _POS, _TRIAL, _CHOSEN = range(4)


def sample_objects(rng, episodes, presentations, pattern_size):
    """Per episode: rewarded pattern, other pattern (distinct, ±1), then the rewarded object's side (±1) for each
    presentation. Shape (episodes, 2·pattern_size + presentations)."""
    patterns = rng.choice([-1.0, 1.0], size=(episodes, 2, pattern_size))
    same = np.all(patterns[:, 0] == patterns[:, 1], axis=1)
    while same.any():
        patterns[same, 1] = rng.choice([-1.0, 1.0], size=(int(same.sum()), pattern_size))
        same = np.all(patterns[:, 0] == patterns[:, 1], axis=1)
    sides = rng.choice([-1.0, 1.0], size=(episodes, presentations))
    return np.concatenate([patterns.reshape(episodes, -1), sides], axis=1)


@njit(**JIT)
def show_object(data, which, K, obs, offset):
    """Copy object `which` (0 rewarded, 1 other) into obs[offset:offset+K]."""
    for k in range(K):
        obs[offset + k] = data[which * K + k]


@njit(**JIT)
def rewarded_side(data, K, trial):
    """Side (−1 left, +1 right) of the rewarded object at presentation `trial`."""
    return int(data[2 * K + trial])


@dataclass(frozen=True)
class Harlow(Task):
    presentations: int
    pattern_size: int
    distance: int
    fixation_reward: float
    correct_reward: float
    wrong_reward: float
    step_limit: int

    name = "harlow"
    FIELDS = {
        "presentations": integer(6, "Presentations per episode (the first is a coin flip) [ours: 6 fits the "
                                    "paper's optimum of 6.2].", min=1),
        "pattern_size": integer(8, "Length of the random ±1 object patterns [ours].", min=1),
        "distance": integer(1, "Steps from the centre to each object on the 1-D track [ours: 1; 2 wants "
                               "agent.init_kappa_skip: 1, protocols/harlow_distance2.yaml].", min=1),
        "fixation_reward": number(0.2, "Reward for reaching the centre during fixation [figure].", min=0),
        "correct_reward": number(1.0, "Reward for choosing the episode's rewarded object [figure]."),
        "wrong_reward": number(-1.0, "Reward for choosing the other object [figure]."),
        "step_limit": integer(60, "Steps per episode at most; unreached presentations count as not chosen [ours: "
                                  "3.3x the 18 steps an optimal agent needs with distance 1].", min=1),
    }
    metric = "correct"
    metric_dim = "trial"

    n_actions = property(lambda self: 3)
    obs_size = property(lambda self: 2 * self.pattern_size + 2 * self.distance + 2)
    state_size = property(lambda self: 4)
    n_metrics = property(lambda self: self.presentations)
    max_steps = property(lambda self: self.step_limit)

    @property
    def optimum(self):
        return (self.presentations * self.fixation_reward + (self.presentations - 1) * self.correct_reward
                + 0.5 * (self.correct_reward + self.wrong_reward))

    def config(self):
        return np.array([self.presentations, self.pattern_size, self.distance, self.fixation_reward,
                         self.correct_reward, self.wrong_reward], dtype=np.float64)

    def sample(self, rng, episodes):
        return sample_objects(rng, episodes, self.presentations, self.pattern_size)


@njit(inline="always", **JIT)
def _start(cfg, data, state):
    state[_PHASE] = FIXATION
    state[_POS] = 0
    state[_TRIAL] = 0
    state[_CHOSEN] = 0

@njit(inline="always", **JIT)
def _observe(cfg, data, state, obs):
    K, D = int(cfg[_K]), int(cfg[_D])
    obs[:] = 0.0
    phase = state[_PHASE]
    if phase == CHOICE:
        good = rewarded_side(data, K, state[_TRIAL])
        show_object(data, 0, K, obs, 0 if good < 0 else K)
        show_object(data, 1, K, obs, K if good < 0 else 0)
    elif phase == FEEDBACK:
        chosen = state[_CHOSEN]
        good = rewarded_side(data, K, state[_TRIAL])
        show_object(data, 0 if chosen == good else 1, K, obs, 0 if chosen < 0 else K)
    obs[2 * K + state[_POS] + D] = 1.0
    if phase == FIXATION:
        obs[2 * K + 2 * D + 1] = 1.0


@njit(inline="always", **JIT)
def _step(cfg, data, state, action, metrics):
    K, D = int(cfg[_K]), int(cfg[_D])
    phase = state[_PHASE]
    if phase == FEEDBACK:
        state[_TRIAL] += 1
        state[_PHASE] = FIXATION
        return 0.0, state[_TRIAL] >= int(cfg[_PRES])
    pos = min(max(state[_POS] + action - 1, -D), D)
    state[_POS] = pos
    if phase == FIXATION:
        if pos == 0:
            state[_PHASE] = CHOICE
            return cfg[_FIX_R], False
        return 0.0, False
    if pos == D or pos == -D:
        side = 1 if pos > 0 else -1
        state[_CHOSEN] = side
        state[_PHASE] = FEEDBACK
        if side == rewarded_side(data, K, state[_TRIAL]):
            metrics[state[_TRIAL]] = 1.0
            return cfg[_GOOD_R], False
        return cfg[_BAD_R], False
    return 0.0, False


Harlow.reset, Harlow.step = numba_contract(_start, _observe, _step)
