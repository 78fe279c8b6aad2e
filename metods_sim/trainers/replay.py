"""PEARL's replay, per task: what SAC learns from and the recent context the encoder is trained on.

Off-policy meta-RL keeps the data of every task apart: a critic batch and the context that infers its z must
come from the same task. `TaskReplay` holds, per task (the index of the task in the split's list, an episode's
row[0]):
    transitions  (o, a, r, o') rows, at most `capacity` per task, the oldest overwritten    (PEARL's replay buffer)
    context      (o, a, r) rows of the task's latest adaptation episode    (PEARL's encoder buffer: its sampler
                 S_c draws from the most recently collected data of the task, paper section 4.3)
Rows are float32 arrays, so that a checkpoint pickles them as they are.
"""
from __future__ import annotations

import numpy as np


class Ring:
    """At most `capacity` rows of `width` floats; grows by doubling until full, then overwrites the oldest."""

    def __init__(self, width: int, capacity: int):
        self.data = np.zeros((0, width), np.float32)
        self.capacity, self.size, self.head = capacity, 0, 0

    def add(self, rows: np.ndarray) -> None:
        rows = rows[-self.capacity:]
        n = len(rows)
        if self.size + n > len(self.data) and len(self.data) < self.capacity:
            grown = np.zeros((min(self.capacity, max(self.size + n, 2 * len(self.data))), self.data.shape[1]),
                             np.float32)
            grown[:self.size] = self.data[:self.size]
            self.data = grown
        at = (self.head + np.arange(n)) % self.capacity
        self.data[at] = rows
        self.head = (self.head + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n rows drawn uniformly, with replacement."""
        return self.data[rng.integers(0, self.size, n)]


class TaskReplay:
    """The transitions and the latest context of every task seen (module doc)."""

    def __init__(self, obs_size: int, n_actions: int, capacity: int):
        self.obs_size, self.n_actions, self.capacity = obs_size, n_actions, capacity
        self.transitions: dict[int, Ring] = {}
        self.context: dict[int, np.ndarray] = {}

    @property
    def tasks(self) -> np.ndarray:
        """The indices of the tasks that have data, sorted."""
        return np.array(sorted(self.transitions), dtype=np.int64)

    def add_episode(self, task: int, obs, action, reward, rollout_steps: int) -> None:
        """One recorded adaptation episode of `task`: obs (T, O), action (T, A), reward (T,). A rollout's last step
        has no next observation (the arm was reset in its place), so it joins the context but not the
        transitions."""
        T = len(reward)
        context = np.concatenate([obs, action, reward[:, None]], axis=1).astype(np.float32)
        t = np.arange(T - 1)
        t = t[(t + 1) % rollout_steps != 0]
        rows = np.concatenate([context[t], obs[t + 1]], axis=1)
        self.transitions.setdefault(task, Ring(rows.shape[1], self.capacity)).add(rows)
        self.context[task] = context

    def batch(self, rng: np.random.Generator, tasks, size: int) -> dict:
        """size transitions of each task of `tasks`: {obs, action, reward, next_obs}, each (M, size, ·)."""
        rows = np.stack([self.transitions[int(k)].sample(rng, size) for k in tasks])
        O, A = self.obs_size, self.n_actions
        return dict(obs=rows[..., :O], action=rows[..., O:O + A], reward=rows[..., O + A],
                    next_obs=rows[..., O + A + 1:])

    def contexts(self, rng: np.random.Generator, tasks, size: int) -> np.ndarray:
        """(M, size, d_c): size transitions (o, a, r) of each task's latest episode, drawn with replacement."""
        return np.stack([self.context[int(k)][rng.integers(0, len(self.context[int(k)]), size)] for k in tasks])
