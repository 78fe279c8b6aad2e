"""Motor control on MuJoCo bodies: Gymnasium's Ant-v5 and HalfCheetah-v5 with a goal drawn per episode.

The bodies, their physics and their observations are Gymnasium's (its model files, frame skip, reset noise and
observation layout); what an episode rewards is the meta-RL task's:

    ant_dir      reward = d · v_xy − ctrl_cost Σa² − contact_cost Σ clip(cfrc_ext)² + healthy_reward
                 d = (cos θ, sin θ), θ ∈ {0, π} (forward/backward) or uniform; v_xy the torso's velocity as
                 Gymnasium's Ant-v5 measures it; the episode ends early when the torso leaves healthy_z
    cheetah_dir  reward = d · v_x − ctrl_cost Σa², d = ±1
    cheetah_vel  reward = −|v_x − v_goal| − ctrl_cost Σa², v_goal ~ U(velocity_min, velocity_max)

Every term is the one Gymnasium reports in `info` (x_velocity, y_velocity, reward_ctrl, reward_contact,
reward_survive); the tests run Gymnasium's environment beside ours on the same actions and compare.

Spaces: actions in [-1, 1]^nu (the actuators' control range: Ant 8, HalfCheetah 6); observations as Gymnasium's
(Ant: qpos[2:], qvel, clip(cfrc_ext[1:]) = 105 floats, 27 with contact_obs false; HalfCheetah: qpos[1:], qvel =
17), and with goal_obs shown or blank 3 more: the goal (goal_x, goal_y, goal_velocity), or zeros. Impairment: the actuators listed in impair.frozen get zero torque (their control is replaced by 0; the
control cost counts what was applied); the agent still sees the action it chose. Metric: the reward of every
step, (horizon,) per episode, so that the dataset holds the within-episode reward curve.

The task contract's two Numba functions (`tasks.base`, fused into the rollout kernel) step a body held as its
MuJoCo integration state (`metods_sim.tasks.physics`) in the episode's state, float64: the body, then
physics.MEMORY floats (the torso's last (x, y)). mj is the calling thread's row of Simulator.threads; reset
draws nothing (the row holds the reset noise); step writes metrics[t] = the step's reward.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from ..fields import Field, ProtocolError, choice, integer, number
from ..plasticity.jit import FUSED
from . import physics
from .base import Task
from .physics import CFRC_EXT, CTRL, DATA, MODEL, QPOS, QVEL, RESET, XPOS, doubles

# the config vector (`Locomotion.config`): these slots, then the frozen-actuator mask (nu,)
_SLOTS = ("frame_skip", "dt", "track_velocity", "ctrl_cost", "contact_cost", "contact_force", "healthy_reward",
          "terminate", "z_min", "z_max", "skip_qpos", "contact_obs", "torso_xpos", "nq", "nv", "nu", "nbody",
          "state_spec", "goal_obs")
(FRAME_SKIP, DT, TRACK_VELOCITY, CTRL_COST, CONTACT_COST, CONTACT_FORCE, HEALTHY_REWARD, TERMINATE, Z_MIN, Z_MAX,
 SKIP_QPOS, CONTACT_OBS, TORSO_XPOS, NQ, NV, NU, NBODY, STATE_SPEC, GOAL_OBS) = range(len(_SLOTS))
FROZEN = len(_SLOTS)
# an episode's row: the goal, then the reset noise added to qpos (nq) and qvel (nv)
GOAL_X, GOAL_Y, GOAL_VELOCITY, NOISE = range(4)
GOAL_OBS_KINDS = ("none", "shown", "blank")   # task.goal_obs, by its code in the config vector
GOALS = NOISE                                 # floats of the goal: the observation's goal slots


def gymnasium_asset(name: str) -> str:
    """The path of one of Gymnasium's MuJoCo model files."""
    try:
        import gymnasium
    except ImportError as error:
        raise physics.PhysicsError(f"cannot import Gymnasium ({error}); install it with pip install "
                                   f"'gymnasium[mujoco]'") from None
    return os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", name)


@dataclass(frozen=True)
class Locomotion(Task):
    """Base record of the MuJoCo tasks; the fields shared by all are the protocol's."""

    horizon: int
    ctrl_cost: float
    reset_noise: float
    frame_skip: int
    impair: dict
    goal_obs: str

    continuous: ClassVar[bool] = True
    engine: ClassVar[str] = "physics"
    state_dtype: ClassVar[type] = np.float64
    metric: ClassVar[str] = "reward"
    metric_dim: ClassVar[str] = "step"
    model_file: ClassVar[str]
    actuators: ClassVar[int]          # nu, known without loading the model (protocol checks)
    skip_qpos: ClassVar[int]          # leading qpos entries left out of the observation (the torso's position)
    torso_xpos: ClassVar[bool]        # torso position from the body's xpos (Ant-v5) or qpos[0] (HalfCheetah-v5)

    goal_kind: ClassVar[str] = "direction"

    @staticmethod
    def body_fields(ctrl_cost: float, ctrl_doc: str) -> dict:
        """The fields every MuJoCo task has."""
        return {
            "horizon": integer(200, "Steps per episode (each frame_skip MuJoCo steps) [paper: 200].", min=1),
            "ctrl_cost": number(ctrl_cost, "Weight of the control cost, ctrl_cost · Σ a² over the applied controls "
                                           + ctrl_doc, min=0),
            "reset_noise": number(0.1, "Scale s of Gymnasium's reset noise: qpos0 + U(-s, s), s · N(0, 1) "
                                       "velocities [Gymnasium: 0.1].", min=0),
            "frame_skip": integer(5, "MuJoCo steps of 0.01 s per environment step [Gymnasium: 5].", min=1),
            "impair": Field({"frozen": []}, "Robot impairment, {frozen: [k, ...]}: actuators (0-based; ant_dir "
                                            "0-7, cheetah 0-5) given zero torque, e.g. at evaluation: --set "
                                            "task.impair.frozen=[2] [paper: one actuator frozen at test time, "
                                            "unseen in training]; {frozen: []}: none.", "mapping"),
            "goal_obs": choice("none", "The episode's goal in the observation, for a curriculum [ours]: none "
                                       "(the task: the goal is never observed, only its reward tells it); "
                                       "shown (3 more floats: goal_x, goal_y, goal_velocity, so that a first "
                                       "stage learns every goal's gait as a function of an input); blank (the "
                                       "same 3 floats, always 0: the task again, with a genome of the shown "
                                       "stage's size, see trainer.init_from).", GOAL_OBS_KINDS),
        }

    @classmethod
    def check(cls, section, where):
        """task.impair checked against the body's actuators: {frozen: [k, ...]} with 0 <= k < actuators."""
        impair, actuators = section["impair"], cls.actuators
        for key in impair:
            if key != "frozen":
                raise ProtocolError(f"{where('task.impair.' + str(key))}: unknown key; expected frozen")
        frozen = impair.get("frozen", [])
        if not isinstance(frozen, list) or not all(isinstance(k, int) and not isinstance(k, bool) and
                                                   0 <= k < actuators for k in frozen):
            origin = where.origins.get("task.impair.frozen") or where.origins.get("task.impair") or \
                where.origins.get("task") or f"{where.source}: task.impair.frozen"
            raise ProtocolError(f"{origin}: expected a list of actuator indices in 0..{actuators - 1} "
                                f"({section['kind']} has {actuators} actuators), got {frozen!r}")
        section["impair"] = {"frozen": list(frozen)}
        return section

    @property
    def body_terms(self) -> dict:
        """What only the Ant has (AntDir overrides): contact forces observed and costed, a survival bonus, early
        termination outside a healthy height."""
        return dict(contact_obs=False, contact_cost=0.0, contact_force=1.0, healthy_reward=0.0, terminate=False,
                    z_min=-math.inf, z_max=math.inf)

    def simulator(self) -> physics.Simulator:
        return physics.simulator(gymnasium_asset(self.model_file))

    @property
    def n_actions(self) -> int:
        return self.actuators

    @property
    def obs_size(self) -> int:
        model = self.simulator().model
        return (model.nq - self.skip_qpos + model.nv + 6 * (model.nbody - 1) * self.body_terms["contact_obs"]
                + GOALS * (self.goal_obs != "none"))

    @property
    def state_size(self) -> int:
        return self.simulator().state_size + physics.MEMORY

    def engine_handles(self) -> tuple:
        sim = self.simulator()
        return sim.functions, sim.threads

    @property
    def max_steps(self) -> int:
        return self.horizon

    @property
    def n_metrics(self) -> int:
        return self.horizon

    @property
    def optimum(self) -> float:
        return math.nan   # unknown for a body

    @property
    def frozen(self) -> list:
        return list(self.impair.get("frozen", []))

    def config(self) -> np.ndarray:
        sim = self.simulator()
        m = sim.model
        slots = dict(self.body_terms, frame_skip=self.frame_skip, dt=m.opt.timestep * self.frame_skip,
                     track_velocity=self.goal_kind == "velocity", ctrl_cost=self.ctrl_cost,
                     skip_qpos=self.skip_qpos, torso_xpos=self.torso_xpos, nq=m.nq, nv=m.nv, nu=m.nu,
                     nbody=m.nbody, state_spec=sim.state_spec, goal_obs=GOAL_OBS_KINDS.index(self.goal_obs))
        mask = np.zeros(m.nu)
        mask[self.frozen] = 1.0
        return np.concatenate([np.array([float(slots[name]) for name in _SLOTS]), mask])

    def curves(self, metrics):
        """reward_curve: the reward of each step averaged over the episodes (an episode that ended early counts
        0 after its end)."""
        return {"reward_curve": metrics.mean(axis=0)}

    def episode_labels(self, data):
        """goal_x, goal_y (the rewarded direction) or goal_velocity of each episode."""
        if self.goal_kind == "velocity":
            return {"goal_velocity": data[:, 2]}
        return {"goal_x": data[:, 0], "goal_y": data[:, 1]}

    def goals(self, rng: np.random.Generator, episodes: int) -> np.ndarray:
        """(E, 3): goal_x, goal_y, goal_velocity of each episode."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, episodes: int) -> np.ndarray:
        """(E, 3 + nq + nv): the goal, then Gymnasium's reset noise, qpos + U(-s, s) and qvel + s·N(0, 1)."""
        m, s = self.simulator().model, self.reset_noise
        goals = self.goals(rng, episodes)
        qpos = rng.uniform(-s, s, (episodes, m.nq))
        qvel = s * rng.standard_normal((episodes, m.nv))
        return np.concatenate([goals, qpos, qvel], axis=1)

    def initial_state(self, row: np.ndarray):
        """(qpos, qvel) an episode starts from (Gymnasium's reset_model with the row's noise)."""
        m = self.simulator().model
        return m.qpos0 + row[NOISE:NOISE + m.nq], np.zeros(m.nv) + row[NOISE + m.nq:NOISE + m.nq + m.nv]

    @staticmethod
    @njit(**FUSED)
    def reset(cfg, row, functions, mj, state, obs):
        body, memory = physics.split(state)
        nq, nv = int(cfg[NQ]), int(cfg[NV])
        physics.call(functions[RESET], functions[MODEL], mj[DATA])
        qpos, qvel = doubles(mj[QPOS], nq), doubles(mj[QVEL], nv)
        for i in range(nq):
            qpos[i] += row[NOISE + i]
        for i in range(nv):
            qvel[i] += row[NOISE + nq + i]
        physics.forward(functions, mj)
        physics.save(functions, mj, body, int(cfg[STATE_SPEC]))
        memory[0], memory[1] = _torso(cfg, mj)
        _observe(cfg, row, mj, obs)

    @staticmethod
    @njit(**FUSED)
    def step(cfg, row, functions, mj, state, a, action, obs, metrics, t):
        body, memory = physics.split(state)
        nu = int(cfg[NU])
        physics.load(functions, mj, body, int(cfg[STATE_SPEC]))
        ctrl = doubles(mj[CTRL], nu)
        control = 0.0
        for i in range(nu):
            ctrl[i] = 0.0 if cfg[FROZEN + i] else action[i]
            control += ctrl[i] * ctrl[i]
        physics.step(functions, mj, int(cfg[FRAME_SKIP]))
        physics.save(functions, mj, body, int(cfg[STATE_SPEC]))
        x, y = _torso(cfg, mj)
        vx, vy = (x - memory[0]) / cfg[DT], (y - memory[1]) / cfg[DT]
        memory[0], memory[1] = x, y
        if cfg[TRACK_VELOCITY]:
            reward = -abs(vx - row[GOAL_VELOCITY])
        else:
            reward = row[GOAL_X] * vx + row[GOAL_Y] * vy
        healthy = _healthy(cfg, mj)
        reward += cfg[HEALTHY_REWARD] * healthy - cfg[CTRL_COST] * control - cfg[CONTACT_COST] * _contact(cfg, mj)
        _observe(cfg, row, mj, obs)
        metrics[t] = reward
        return reward, bool(cfg[TERMINATE]) and not healthy


@njit(inline="always", **FUSED)
def _torso(cfg, mj):
    """The torso's (x, y): body 1's xpos (Gymnasium's Ant-v5: kinematics of the last substep's start), or
    qpos[0] and 0 (HalfCheetah-v5)."""
    if cfg[TORSO_XPOS]:
        xpos = doubles(mj[XPOS], 3 * int(cfg[NBODY]))
        return xpos[3], xpos[4]
    return doubles(mj[QPOS], 1)[0], 0.0


@njit(inline="always", **FUSED)
def _healthy(cfg, mj):
    """Gymnasium's Ant is_healthy: every qpos and qvel finite and the torso's height in [z_min, z_max]."""
    qpos, qvel = doubles(mj[QPOS], int(cfg[NQ])), doubles(mj[QVEL], int(cfg[NV]))
    for value in qpos:
        if not math.isfinite(value):
            return False
    for value in qvel:
        if not math.isfinite(value):
            return False
    return not cfg[TORSO_XPOS] or cfg[Z_MIN] <= qpos[2] <= cfg[Z_MAX]


@njit(inline="always", **FUSED)
def _contact(cfg, mj):
    """Σ clip(cfrc_ext, ±contact_force)² over every body (Gymnasium's contact_cost before its weight)."""
    total = 0.0
    if cfg[CONTACT_COST]:
        bound = cfg[CONTACT_FORCE]
        for value in doubles(mj[CFRC_EXT], 6 * int(cfg[NBODY])):
            clipped = min(max(value, -bound), bound)
            total += clipped * clipped
    return total


@njit(inline="always", **FUSED)
def _observe(cfg, row, mj, obs):
    nq, nv, skip = int(cfg[NQ]), int(cfg[NV]), int(cfg[SKIP_QPOS])
    qpos, qvel = doubles(mj[QPOS], nq), doubles(mj[QVEL], nv)
    k = 0
    for i in range(skip, nq):
        obs[k] = qpos[i]
        k += 1
    for i in range(nv):
        obs[k] = qvel[i]
        k += 1
    if cfg[CONTACT_OBS]:
        bound = cfg[CONTACT_FORCE]
        forces = doubles(mj[CFRC_EXT], 6 * int(cfg[NBODY]))
        for i in range(6, forces.shape[0]):   # body 0, the world, left out as in Gymnasium
            obs[k] = min(max(forces[i], -bound), bound)
            k += 1
    if cfg[GOAL_OBS]:
        for i in range(GOALS):
            obs[k + i] = row[GOAL_X + i] if cfg[GOAL_OBS] == 1 else 0.0


def balanced_signs(rng: np.random.Generator, episodes: int) -> np.ndarray:
    """(E,) ±1, as many of each as E allows, in random order: every generation's shared episodes reward both
    directions equally, so that a member's fitness does not depend on which direction happened to be drawn more
    often (a policy that ignores the reward and runs one way would otherwise win whole generations)."""
    return rng.permutation(np.where(np.arange(episodes) % 2 == 0, 1.0, -1.0))


@dataclass(frozen=True)
class AntDir(Locomotion):
    """Gymnasium's Ant-v5 rewarded for moving along a direction drawn per episode."""

    directions: str
    contact_obs: bool
    contact_cost: float
    contact_force: float
    healthy_reward: float
    terminate: bool
    healthy_z_min: float
    healthy_z_max: float

    name = "ant_dir"
    FIELDS = {
        "directions": choice("forward_backward", "Rewarded direction drawn per episode: forward_backward (θ = 0 "
                                                 "or π [paper], as many of each in every set of episodes "
                                                 "[ours]), uniform (θ ~ U(0, 2π)), or forward (θ = 0 always: "
                                                 "plain locomotion, nothing to adapt to; a first curriculum "
                                                 "stage, see trainer.init_from).",
                             ("forward_backward", "uniform", "forward")),
        **Locomotion.body_fields(0.5, "[Gymnasium Ant-v5: 0.5]."),
        "contact_cost": number(5e-4, "Weight of the contact cost, Σ clip(cfrc_ext)² [Gymnasium Ant-v5: 5e-4].",
                               min=0),
        "contact_force": number(1.0, "Contact forces are clipped to ±contact_force, in the cost and the "
                                     "observation [Gymnasium Ant-v5: 1].", above=0),
        "contact_obs": Field(True, "The 78 clipped contact forces are part of the observation (105 floats; "
                                   "false: 27) [Gymnasium Ant-v5: true].", "bool"),
        "healthy_reward": number(1.0, "Survival bonus per step while the torso's height is in [healthy_z_min, "
                                      "healthy_z_max] [Gymnasium Ant-v5: 1].", min=0),
        "terminate": Field(True, "The episode ends when the torso's height leaves that range [Gymnasium "
                                 "Ant-v5: true].", "bool"),
        "healthy_z_min": number(0.2, "Lowest healthy torso height [Gymnasium Ant-v5: 0.2]."),
        "healthy_z_max": number(1.0, "Highest healthy torso height [Gymnasium Ant-v5: 1]."),
    }
    model_file = "ant.xml"
    actuators = 8
    skip_qpos = 2
    torso_xpos = True

    @property
    def body_terms(self):
        return dict(contact_obs=self.contact_obs, contact_cost=self.contact_cost, contact_force=self.contact_force,
                    healthy_reward=self.healthy_reward, terminate=self.terminate, z_min=self.healthy_z_min,
                    z_max=self.healthy_z_max)

    def goals(self, rng, episodes):
        if self.directions == "forward_backward":
            theta = np.pi * (balanced_signs(rng, episodes) < 0)
        elif self.directions == "uniform":
            theta = rng.uniform(0.0, 2 * np.pi, episodes)
        else:
            theta = np.zeros(episodes)
        return np.stack([np.cos(theta), np.sin(theta), np.zeros(episodes)], axis=1)


@dataclass(frozen=True)
class CheetahDir(Locomotion):
    """Gymnasium's HalfCheetah-v5 rewarded for running forward or backward, drawn per episode."""

    name = "cheetah_dir"
    FIELDS = {   # the direction, ±1, is drawn as ant_dir's forward_backward: as many of each
        **Locomotion.body_fields(0.05, "[meta-RL's usual 0.05; Gymnasium's default 0.1]."),
    }
    model_file = "half_cheetah.xml"
    actuators = 6
    skip_qpos = 1
    torso_xpos = False

    def goals(self, rng, episodes):
        sign = balanced_signs(rng, episodes)
        return np.stack([sign, np.zeros(episodes), np.zeros(episodes)], axis=1)


@dataclass(frozen=True)
class CheetahVel(CheetahDir):
    """Gymnasium's HalfCheetah-v5 rewarded for running at a velocity drawn per episode."""

    velocity_min: float
    velocity_max: float

    name = "cheetah_vel"
    FIELDS = {
        "velocity_min": number(0.0, "Lowest goal velocity, drawn per episode from U(velocity_min, velocity_max) "
                                    "[ours: the common meta-RL range 0-2 m/s]."),
        "velocity_max": number(2.0, "Highest goal velocity."),
        **Locomotion.body_fields(0.05, "[meta-RL's usual 0.05; Gymnasium's default 0.1]."),
    }
    goal_kind = "velocity"

    def goals(self, rng, episodes):
        velocity = rng.uniform(self.velocity_min, self.velocity_max, episodes)
        return np.stack([np.zeros(episodes), np.zeros(episodes), velocity], axis=1)
