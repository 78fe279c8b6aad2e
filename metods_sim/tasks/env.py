"""Any registered task as a Gymnasium environment, running the task's own Numba functions one step at a time."""
from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces


class TaskEnv(gymnasium.Env):
    """`gymnasium.make("metods_sim/Harlow-v0", **task_fields)`.

    Observation: the task's observation vector, float32 (obs_size,), values in [−1, 1]; the agent adds the previous
    action and reward itself. Action: Discrete(n_actions). Reward: the task's. `terminated` when the task ends
    the episode, `truncated` at the task's step limit. `info["metrics"]`: the task's per-episode metric vector
    (e.g. `correct` per presentation) as it stands.
    """

    metadata = {"render_modes": []}

    def __init__(self, kind: str, **fields):
        from ..fields import ProtocolError, Where, kinded
        from . import TASKS, make_task

        where = Where(f"metods_sim task {kind}")
        try:   # the task's own fields and rules, as a protocol's `task` section
            section = kinded("task", TASKS, "harlow", "task", {"kind": kind, **fields}, where)
            section = TASKS[kind].check(section, where)
        except ProtocolError as error:
            raise ValueError(str(error)) from None
        self.task = make_task(section)
        self._cfg = self.task.config()
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(self.task.obs_size,), dtype=np.float32)
        self.action_space = spaces.Discrete(self.task.n_actions)
        self._functions, threads = self.task.engine_handles()
        self._mj = threads[0]
        self._state = np.zeros(self.task.state_size, dtype=self.task.state_dtype)
        self._obs = np.zeros(self.task.obs_size)
        self._action = np.zeros(self.task.n_actions)
        self._metrics = np.zeros(self.task.n_metrics, dtype=np.float32)
        self._data = None
        self._t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._data = self.task.sample(self.np_random, 1)[0]
        self._metrics[:] = 0.0
        self._t = 0
        self.task.reset(self._cfg, self._data, self._functions, self._mj, self._state, self._obs)
        return self._obs.astype(np.float32), {"metrics": self._metrics.copy()}

    def step(self, action):
        if self._data is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        self._action[:] = 0.0
        self._action[int(action)] = 1.0
        reward, terminated = self.task.step(self._cfg, self._data, self._functions, self._mj, self._state,
                                            int(action), self._action, self._obs, self._metrics, self._t)
        self._t += 1
        truncated = not terminated and self._t >= self.task.max_steps
        return (self._obs.astype(np.float32), float(reward), bool(terminated), truncated,
                {"metrics": self._metrics.copy()})
