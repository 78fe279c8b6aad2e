"""Meta-World's Sawyer arm stepped inside the fused physics kernel: reach-v3 and push-v3 without Python per step.

Meta-World computes its observations, rewards and success flags in Python, which caps a population's rollouts at
about 500 steps per second per core here. For the ML1 environments listed in `FUSED`, this module does in Numba
what Meta-World's `SawyerXYZEnv.step` does, on the very MjModel a Meta-World environment built (it edits its
weld constraints after loading the XML):

    mocap_pos ← clip(mocap_pos + action[:3] · action_scale, mocap_low, mocap_high), mocap_quat ← (1, 0, 1, 0)
    ctrl ← (action[3], −action[3]); mj_step × frame_skip; mj_forward
    frame = [hand xpos (3), clip(|rightclaw − leftclaw| / 0.1, 0, 1), obj xpos (3), obj quaternion (4), 0 (7)]
    obs = clip([frame, previous frame, 0 (3: the goal, hidden in ML1)], observation space)
    reward, success: the environment's `compute_reward` (reward_function_version v2) and `evaluate_state`

A task's reset is Meta-World's own: `Sawyer.rows` resets a real environment on each task once and keeps its
MuJoCo integration state with the numbers its reward reads (target, object start, gripper start), so that an
episode's row holds everything. tests/tasks/test_metaworld.py steps Meta-World's environment beside this one on
the same actions and compares observations, rewards and success flags.

The functions follow `metods_sim.tasks.locomotion`'s contract (reset / step on a body held as its integration
state); step also ends a rollout: after its last step the arm is reset to the task's start (the agent's state
carries on) and metrics[rollout] holds whether the rollout succeeded at any step.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..plasticity.jit import FUSED
from . import physics
from .physics import CTRL, GEOM_XMAT, MOCAP_POS, MOCAP_QUAT, SITE_XPOS, XPOS, doubles

REACH, PUSH = range(2)
REWARDS = {"reach-v3": REACH, "push-v3": PUSH}   # the ML1 environments this module steps, and their rewards
FUSED_ENVIRONMENTS = tuple(REWARDS)

# the config vector (`config_vector`, via `MetaWorld.config`)
_SLOTS = ("frame_skip", "action_scale", "state_spec", "rollouts", "rollout_steps", "reward", "nbody", "nsite",
          "ngeom", "hand", "rightclaw", "leftclaw", "obj", "leftpad", "rightpad", "right_effector",
          "left_effector", "obj_geom")
(FRAME_SKIP, ACTION_SCALE, STATE_SPEC, ROLLOUTS, ROLLOUT_STEPS, REWARD, NBODY, NSITE, NGEOM, HAND, RIGHTCLAW,
 LEFTCLAW, OBJ, LEFTPAD, RIGHTPAD, RIGHT_EFFECTOR, LEFT_EFFECTOR, OBJ_GEOM) = range(len(_SLOTS))
MOCAP_LOW = len(_SLOTS)             # then 3 floats each: mocap_low, mocap_high, hand_low, hand_high (the
MOCAP_HIGH, HAND_LOW, HAND_HIGH, HAND_INIT = (MOCAP_LOW + 3 * k for k in range(1, 5))   # observation's), hand_init
CONFIG_SIZE = HAND_INIT + 3
# an episode's row: the task's index, its target, the object's and the gripper's start, then its start state
TASK, TARGET, OBJ_INIT, TCP_INIT, STATE = 0, 1, 4, 7, 10
FRAME = 18         # floats of one frame of the observation
TARGET_RADIUS = 0.05


def config_vector(env_name: str, env, *, rollouts: int, rollout_steps: int, state_spec: int) -> np.ndarray:
    """The config vector for Meta-World environment `env` of ML1's env_name (any task set: only its constants
    are read)."""
    model = env.model
    ids = dict(hand=("body", "hand"), rightclaw=("body", "rightclaw"), leftclaw=("body", "leftclaw"),
               obj=("body", "obj"), leftpad=("body", "leftpad"), rightpad=("body", "rightpad"),
               right_effector=("site", "rightEndEffector"), left_effector=("site", "leftEndEffector"),
               obj_geom=("geom", "objGeom"))
    slots = dict(frame_skip=env.frame_skip, action_scale=env.action_scale, state_spec=state_spec,
                 rollouts=rollouts, rollout_steps=rollout_steps, reward=REWARDS[env_name],
                 nbody=model.nbody, nsite=model.nsite, ngeom=model.ngeom,
                 **{slot: getattr(model, kind)(obj).id for slot, (kind, obj) in ids.items()})
    space = env._HAND_SPACE
    vectors = [env.mocap_low, env.mocap_high, space.low, space.high, env.hand_init_pos]
    return np.concatenate([[float(slots[name]) for name in _SLOTS], *[np.asarray(v, float) for v in vectors]])


def task_row(env, index: int, state_spec: int) -> np.ndarray:
    """The row of a Meta-World environment whose task is set: reset it as Meta-World does and keep what follows."""
    import mujoco

    env.reset()
    state = np.empty(mujoco.mj_stateSize(env.model, state_spec))
    mujoco.mj_getState(env.model, env.data, state, state_spec)
    return np.concatenate([[index], env._target_pos, env.obj_init_pos, env.init_tcp, state])


@njit(**FUSED)
def reset(cfg, row, functions, mj, state, obs):
    body, _ = physics.split(state)
    _start(cfg, row, functions, mj, body)
    _frame(cfg, mj, obs)
    for i in range(FRAME):
        obs[FRAME + i] = obs[i]    # Meta-World's reset observation: the frame twice, not clipped
    for i in range(2 * FRAME, obs.shape[0]):
        obs[i] = 0.0


@njit(**FUSED)
def step(cfg, row, functions, mj, state, a, action, obs, metrics, t):
    body, _ = physics.split(state)
    spec = int(cfg[STATE_SPEC])
    physics.load(functions, mj, body, spec)
    mocap, quat, ctrl = doubles(mj[MOCAP_POS], 3), doubles(mj[MOCAP_QUAT], 4), doubles(mj[CTRL], 2)
    for i in range(3):
        moved = mocap[i] + min(max(action[i], -1.0), 1.0) * cfg[ACTION_SCALE]
        mocap[i] = min(max(moved, cfg[MOCAP_LOW + i]), cfg[MOCAP_HIGH + i])
    quat[0], quat[1], quat[2], quat[3] = 1.0, 0.0, 1.0, 0.0
    ctrl[0], ctrl[1] = action[3], -action[3]
    for _ in range(int(cfg[FRAME_SKIP])):
        physics.call(functions[physics.STEP], functions[physics.MODEL], mj[physics.DATA])
    physics.forward(functions, mj)
    physics.save(functions, mj, body, spec)
    for i in range(FRAME):
        obs[FRAME + i] = obs[i]
    _frame(cfg, mj, obs)
    for base in (0, FRAME):
        for i in range(3):
            obs[base + i] = min(max(obs[base + i], cfg[HAND_LOW + i]), cfg[HAND_HIGH + i])
        obs[base + 3] = min(max(obs[base + 3], -1.0), 1.0)
    reward, success = _reward(cfg, row, mj, action, obs)
    steps = int(cfg[ROLLOUT_STEPS])
    rollout = t // steps
    metrics[rollout] = max(metrics[rollout], success)
    if (t + 1) % steps == 0 and rollout + 1 < int(cfg[ROLLOUTS]):
        reset(cfg, row, functions, mj, state, obs)   # the next rollout: the arm starts over
    return reward, False


@njit(inline="always", **FUSED)
def _start(cfg, row, functions, mj, body):
    """The task's start state (the row's) → body and the thread's MjData, positions computed."""
    for i in range(body.shape[0]):
        body[i] = row[STATE + i]
    physics.load(functions, mj, body, int(cfg[STATE_SPEC]))
    physics.forward(functions, mj)


@njit(inline="always", **FUSED)
def _frame(cfg, mj, obs):
    """obs[:18] ← the current frame (Meta-World's _get_curr_obs_combined_no_goal)."""
    xpos = doubles(mj[XPOS], 3 * int(cfg[NBODY]))
    hand, right, left, obj = int(cfg[HAND]), int(cfg[RIGHTCLAW]), int(cfg[LEFTCLAW]), int(cfg[OBJ])
    apart = 0.0
    for i in range(3):
        obs[i] = xpos[3 * hand + i]
        apart += (xpos[3 * right + i] - xpos[3 * left + i]) ** 2
        obs[4 + i] = xpos[3 * obj + i]
    obs[3] = min(max(math.sqrt(apart) / 0.1, 0.0), 1.0)
    xmat = doubles(mj[GEOM_XMAT], 9 * int(cfg[NGEOM]))
    _quaternion(xmat[9 * int(cfg[OBJ_GEOM]):9 * int(cfg[OBJ_GEOM]) + 9], obs[7:11])
    for i in range(11, FRAME):
        obs[i] = 0.0


@njit(inline="always", **FUSED)
def _quaternion(m, q):
    """q (x, y, z, w) ← the rotation matrix m (row-major 9), as SciPy's Rotation.from_matrix(m).as_quat()."""
    trace = m[0] + m[4] + m[8]
    choice, best = 3, trace
    for i in range(3):
        if m[4 * i] > best:
            choice, best = i, m[4 * i]
    if choice == 3:
        q[0], q[1], q[2], q[3] = m[7] - m[5], m[2] - m[6], m[3] - m[1], 1.0 + trace
    else:
        i = choice
        j = (i + 1) % 3
        k = (j + 1) % 3
        q[i] = 1.0 - trace + 2.0 * m[4 * i]
        q[j] = m[3 * j + i] + m[3 * i + j]
        q[k] = m[3 * k + i] + m[3 * i + k]
        q[3] = m[3 * k + j] - m[3 * j + k]
    norm = math.sqrt(q[0] ** 2 + q[1] ** 2 + q[2] ** 2 + q[3] ** 2)
    for i in range(4):
        q[i] /= norm


@njit(inline="always", **FUSED)
def _tolerance(x, lower, upper, margin):
    """Meta-World's reward_utils.tolerance with the long-tail sigmoid (value 0.1 at the margin)."""
    if lower <= x <= upper:
        return 1.0
    if margin == 0.0:
        return 0.0
    d = (lower - x if x < lower else x - upper) / margin
    return 1.0 / ((d * 3.0) ** 2 + 1.0)   # 3 = sqrt(1 / 0.1 - 1)


@njit(inline="always", **FUSED)
def _hamacher(a, b):
    denominator = a + b - a * b
    return a * b / denominator if denominator > 0.0 else 0.0


@njit(inline="always", **FUSED)
def _distance(a, b, axes):
    total = 0.0
    for i in axes:
        total += (a[i] - b[i]) ** 2
    return math.sqrt(total)


@njit(inline="always", **FUSED)
def _reward(cfg, row, mj, action, obs):
    """(reward, success) of the state the thread's MjData holds, as the environment's compute_reward (v2)."""
    sites = doubles(mj[SITE_XPOS], 3 * int(cfg[NSITE]))
    right, left = int(cfg[RIGHT_EFFECTOR]), int(cfg[LEFT_EFFECTOR])
    tcp = ((sites[3 * right] + sites[3 * left]) / 2.0, (sites[3 * right + 1] + sites[3 * left + 1]) / 2.0,
           (sites[3 * right + 2] + sites[3 * left + 2]) / 2.0)
    target, xyz = row[TARGET:TARGET + 3], (0, 1, 2)
    if cfg[REWARD] == REACH:
        to_target = _distance(tcp, target, xyz)
        margin = _distance(cfg[HAND_INIT:HAND_INIT + 3], target, xyz)
        return 10.0 * _tolerance(to_target, 0.0, TARGET_RADIUS, margin), 1.0 if to_target <= TARGET_RADIUS else 0.0
    obj, obj_init = obs[4:7], row[OBJ_INIT:OBJ_INIT + 3]
    to_obj, obj_to_target = _distance(obj, tcp, xyz), _distance(obj, target, xyz)
    in_place = _tolerance(obj_to_target, 0.0, TARGET_RADIUS, _distance(obj_init, target, xyz))
    grasped = _caging(cfg, row, mj, action, obj, tcp)
    reward = 2.0 * grasped
    if to_obj < 0.02 and obs[3] > 0.0:
        reward += 1.0 + reward + 5.0 * in_place
    if obj_to_target < TARGET_RADIUS:
        reward = 10.0
    return reward, 1.0 if obj_to_target <= TARGET_RADIUS else 0.0


@njit(inline="always", **FUSED)
def _caging(cfg, row, mj, action, obj, tcp):
    """Meta-World's _gripper_caging_reward as push-v3 calls it (obj_radius 0.015, pad_success_thresh 0.05,
    xz_thresh 0.005, high_density)."""
    xpos = doubles(mj[XPOS], 3 * int(cfg[NBODY]))
    obj_init, tcp_init = row[OBJ_INIT:OBJ_INIT + 3], row[TCP_INIT:TCP_INIT + 3]
    caging_y = 1.0
    for k, pad in enumerate((int(cfg[LEFTPAD]), int(cfg[RIGHTPAD]))):
        pad_y = xpos[3 * pad + 1]
        margin = abs(abs(pad_y - obj_init[1]) - 0.05)
        side = _tolerance(abs(pad_y - obj[1]), 0.015, 0.05, margin)
        caging_y = side if k == 0 else _hamacher(caging_y, side)
    xz = (0, 2)
    caging_xz = _tolerance(_distance(tcp, obj, xz), 0.0, 0.005, _distance(obj_init, tcp_init, xz) - 0.005)
    caging = _hamacher(caging_y, caging_xz)
    gripping = min(max(0.0, action[3]), 1.0) if caging > 0.97 else 0.0
    return (_hamacher(caging, gripping) + caging) / 2.0
