"""Meta-World's Sawyer arm stepped inside the fused physics kernel: ML10's fifteen environments (its ten training
and five test environments, reach-v3 and push-v3 among them) without Python per step.

Meta-World computes its observations, rewards and success flags in Python, which caps a population's rollouts at
about 500 steps per second per core here. For the environments of `ENVIRONMENTS`, the one table of fused
environments, this module does in Numba what Meta-World's `SawyerXYZEnv.step` does, on the very MjModels Meta-World
environments built (they edit their weld constraints after loading the XML):

    mocap_pos ← clip(mocap_pos + action[:3] · action_scale, mocap_low, mocap_high), mocap_quat ← (1, 0, 1, 0)
    ctrl ← (action[3], −action[3]); mj_step × frame_skip; mj_forward
    frame = [hand xpos (3), clip(|rightclaw − leftclaw| / 0.1, 0, 1), object position (3) and quaternion (4),
             0 (7)]              (the table says where each environment's object position and quaternion come from)
    obs = clip([frame, previous frame, goal (3): 0, hidden as ML1 and ML10 hide it, or the target (goal_obs: shown)],
               observation space)
    reward, success: the environment's `compute_reward` (reward_function_version v2) and `evaluate_state`
                     (`sawyer_rewards`)

One kernel call mixes environments: the task's config has one row per model, an episode's row names its model,
and each thread holds a copy of every model with an MjData of it (`physics.models_for`). A task's reset is
Meta-World's own: `task_row` resets a real environment on each task once and keeps the model's body and site
positions that its reset moved (set into the thread's copy before each step), its MuJoCo integration state, the
first frame it observed and the numbers its reward reads (`sawyer_slots`), so that an episode's row holds
everything. tests/tasks/test_metaworld.py steps Meta-World's environment beside this one on the same actions
(random, and Meta-World's scripted policies) and compares observations, rewards and success flags.

The functions follow `metods_sim.tasks.locomotion`'s contract (reset / step on a body held as its integration
state); step also ends a rollout: after its last step the arm is reset to the task's start (the agent's state
carries on) and metrics[rollout] holds whether the rollout succeeded at any step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from numba import njit

from ..plasticity.jit import FUSED
from . import physics
from .physics import BODY_POS, CTRL, GEOM_XMAT, GEOM_XPOS, MOCAP_POS, MOCAP_QUAT, SITE_POS, SITE_XMAT, SITE_XPOS, \
    XPOS, XQUAT, doubles
from .sawyer_rewards import NAMES, reward
from .sawyer_slots import (_SLOTS, ACTION_SCALE, BODY, BODY_POS_AT, BODY_QUAT, FIRST, FRAME, FRAME_SKIP, GEOM,
                           GEOM_QUAT, GOAL_SHOWN, HAND, HAND_HIGH, HAND_LOW, HEAD, LEFTCLAW, MOCAP_HIGH, MOCAP_LOW,
                           MODEL, NBODY, NGEOM, NO_QUAT, NSITE, POS_ID, POS_KIND, POS_OFFSET, QUAT_ID, QUAT_KIND,
                           RIGHTCLAW, ROLLOUT_STEPS, ROLLOUTS, SITE, SITE_POS_AT, SITE_QUAT, STATE_AT, STATE_SPEC,
                           TARGET)


@dataclass(frozen=True)
class Fused:
    """A fused environment: where its observation's object comes from, and what its reward reads beyond the arm."""
    pos: tuple                     # (kind, name) or (kind, name, offset): the object's position, kind body/geom/site
    quat: tuple = ()               # (kind, name): body (its xquat), geom or site (its xmat); () zeros
    sites: tuple = ()              # the sites the reward reads (SITE0, SITE1, ...)
    joint: str = ""                # the joint whose position the reward reads
    extra: Callable = None         # env → up to 3 numbers its reset leaves for the reward (EXTRA)


ENVIRONMENTS = {
    "reach-v3": Fused(("body", "obj"), ("geom", "objGeom")),
    "push-v3": Fused(("body", "obj"), ("geom", "objGeom")),
    "pick-place-v3": Fused(("body", "obj"), ("geom", "objGeom")),
    "door-open-v3": Fused(("geom", "handle"), ("geom", "handle"), joint="doorjoint"),
    "drawer-close-v3": Fused(("body", "drawer_link", (0.0, -0.16, 0.05))),
    "button-press-topdown-v3": Fused(("body", "button", (0.0, 0.0, 0.193)), ("body", "button"),
                                     extra=lambda env: (env._obj_to_target_init,)),
    "peg-insert-side-v3": Fused(("site", "pegGrasp"), ("site", "pegGrasp"),
                                sites=("pegHead", "bottom_right_corner_collision_box_1",
                                       "top_left_corner_collision_box_1", "bottom_right_corner_collision_box_2",
                                       "top_left_corner_collision_box_2"), extra=lambda env: env.peg_head_pos_init),
    "window-open-v3": Fused(("site", "handleOpenStart"), extra=lambda env: env.window_handle_pos_init),
    "sweep-v3": Fused(("body", "obj"), ("body", "obj")),
    "basketball-v3": Fused(("body", "bsktball"), ("body", "bsktball")),
    "drawer-open-v3": Fused(("body", "drawer_link", (0.0, -0.16, 0.0)), ("body", "drawer_link")),
    "door-close-v3": Fused(("geom", "handle"), ("geom", "handle")),
    "shelf-place-v3": Fused(("body", "obj"), ("geom", "objGeom")),
    "sweep-into-v3": Fused(("body", "obj"), ("geom", "objGeom")),
    "lever-pull-v3": Fused(("site", "leverStart"), ("geom", "objGeom"), joint="LeverAxis",
                           extra=lambda env: env._lever_pos_init),
}
assert set(ENVIRONMENTS) <= set(NAMES)
FUSED_ENVIRONMENTS = tuple(ENVIRONMENTS)
_KINDS = {"body": BODY, "geom": GEOM, "site": SITE}
_QUATS = {"body": BODY_QUAT, "geom": GEOM_QUAT, "site": SITE_QUAT}


def layout(models, state_spec: int) -> tuple:
    """(body_pos_at, site_pos_at, state_at, width) of the rows of a task mixing these MjModels."""
    import mujoco

    body_pos_at = HEAD
    site_pos_at = body_pos_at + 3 * max(m.nbody for m in models)
    state_at = site_pos_at + 3 * max(m.nsite for m in models)
    return body_pos_at, site_pos_at, state_at, state_at + max(mujoco.mj_stateSize(m, state_spec) for m in models)


def config_vector(env_name: str, env, *, rollouts: int, rollout_steps: int, state_spec: int, at: tuple,
                  goal_shown: bool = False) -> np.ndarray:
    """One model's config row (`sawyer_slots`) for Meta-World environment `env` of env_name (any task set: only
    its constants are read); at: the rows' `layout`; goal_shown: the observation's last 3 floats hold the task's
    target, as Meta-World's fully observable environments do, instead of ML1's and ML10's zeros."""
    model, fused = env.model, ENVIRONMENTS[env_name]

    def ident(kind, name):
        return getattr(model, kind)(name).id

    sites = [ident("site", name) for name in fused.sites] + [0] * (5 - len(fused.sites))
    slots = dict(frame_skip=env.frame_skip, action_scale=env.action_scale, state_spec=state_spec,
                 rollouts=rollouts, rollout_steps=rollout_steps, reward=NAMES.index(env_name),
                 nbody=model.nbody, nsite=model.nsite, ngeom=model.ngeom,
                 hand=ident("body", "hand"), rightclaw=ident("body", "rightclaw"), leftclaw=ident("body", "leftclaw"),
                 leftpad=ident("body", "leftpad"), rightpad=ident("body", "rightpad"),
                 right_effector=ident("site", "rightEndEffector"), left_effector=ident("site", "leftEndEffector"),
                 pos_kind=_KINDS[fused.pos[0]], pos_id=ident(fused.pos[0], fused.pos[1]),
                 quat_kind=_QUATS[fused.quat[0]] if fused.quat else NO_QUAT,
                 quat_id=ident(*fused.quat) if fused.quat else 0,
                 joint=model.jnt_qposadr[ident("joint", fused.joint)] if fused.joint else 0,
                 **{f"site{k}": site for k, site in enumerate(sites)},
                 body_pos_at=at[0], site_pos_at=at[1], state_at=at[2], goal_shown=goal_shown)
    space = env._HAND_SPACE
    offset = fused.pos[2] if len(fused.pos) > 2 else (0.0, 0.0, 0.0)
    vectors = [offset, env.mocap_low, env.mocap_high, space.low, space.high, env.hand_init_pos]
    return np.concatenate([[float(slots[name]) for name in _SLOTS], *[np.asarray(v, float) for v in vectors]])


def task_row(env_name: str, env, index: int, model: int, state_spec: int, at: tuple) -> np.ndarray:
    """The row of a Meta-World environment whose task is set: reset it as Meta-World does and keep what follows
    (`sawyer_slots`; at: the rows' `layout`)."""
    import mujoco

    first = env.reset()[0][:FRAME]
    extra = np.zeros(3)
    if ENVIRONMENTS[env_name].extra is not None:
        values = np.asarray(ENVIRONMENTS[env_name].extra(env), float)
        extra[:len(values)] = values
    row = np.zeros(at[3])
    row[:HEAD] = np.concatenate([[index, model], env._target_pos, env.obj_init_pos, env.init_tcp, extra, first])
    body_pos, site_pos = env.model.body_pos.ravel(), env.model.site_pos.ravel()
    row[at[0]:at[0] + body_pos.size] = body_pos
    row[at[1]:at[1] + site_pos.size] = site_pos
    state = row[at[2]:at[2] + mujoco.mj_stateSize(env.model, state_spec)]
    mujoco.mj_getState(env.model, env.data, state, state_spec)
    return row


@njit(**FUSED)
def reset(cfg, row, functions, mj, state, obs):
    m = int(row[MODEL])
    c = cfg[m]
    f, d, arrays = physics.block(mj, m)
    body, _ = physics.split(state)
    _start(c, row, f, d, arrays, body)
    for i in range(FRAME):
        obs[i] = row[FIRST + i]
        obs[FRAME + i] = row[FIRST + i]    # Meta-World's reset observation: the frame twice, not clipped
    shown = c[GOAL_SHOWN] != 0.0
    for i in range(2 * FRAME, obs.shape[0]):
        obs[i] = row[TARGET + i - 2 * FRAME] if shown else 0.0   # within Meta-World's goal space: never clipped


@njit(**FUSED)
def step(cfg, row, functions, mj, state, a, action, obs, metrics, t):
    m = int(row[MODEL])
    c = cfg[m]
    f, d, arrays = physics.block(mj, m)
    body, _ = physics.split(state)
    spec = int(c[STATE_SPEC])
    _model(c, row, arrays)   # another episode may have set the thread's copy of the model
    physics.load(f, d, body, spec)
    mocap, quat, ctrl = doubles(d[MOCAP_POS], 3), doubles(d[MOCAP_QUAT], 4), doubles(d[CTRL], 2)
    for i in range(3):
        moved = _moved(mocap[i], min(max(action[i], -1.0), 1.0), c[ACTION_SCALE])
        mocap[i] = min(max(moved, c[MOCAP_LOW + i]), c[MOCAP_HIGH + i])
    quat[0], quat[1], quat[2], quat[3] = 1.0, 0.0, 1.0, 0.0
    ctrl[0], ctrl[1] = action[3], -action[3]
    for _ in range(int(c[FRAME_SKIP])):
        physics.call(f[physics.STEP], f[physics.MODEL], d[physics.DATA])
    physics.forward(f, d)
    physics.save(f, d, body, spec)
    for i in range(FRAME):
        obs[FRAME + i] = obs[i]
    _frame(c, d, obs)
    for base in (0, FRAME):
        for i in range(3):
            obs[base + i] = min(max(obs[base + i], c[HAND_LOW + i]), c[HAND_HIGH + i])
        obs[base + 3] = min(max(obs[base + 3], -1.0), 1.0)
    r, success = reward(c, row, d, action, obs)
    steps = int(c[ROLLOUT_STEPS])
    rollout = t // steps
    metrics[rollout] = max(metrics[rollout], success)
    if (t + 1) % steps == 0 and rollout + 1 < int(c[ROLLOUTS]):
        reset(cfg, row, functions, mj, state, obs)   # the next rollout: the arm starts over
    return r, False


@njit(**{**FUSED, "fastmath": False})
def _moved(position, action, scale):
    """position + action · scale rounded twice, as NumPy does: the kernel's `contract` would fuse it into one
    multiply-add, and the contacts that follow amplify a last-bit difference in the arm's target (seen growing to
    1e-3 in 100 steps)."""
    return position + action * scale


@njit(inline="always", **FUSED)
def _model(c, row, arrays):
    """The task's body and site positions (the row's) → the thread's copy of the model."""
    for array, at, n in ((arrays[BODY_POS], int(c[BODY_POS_AT]), 3 * int(c[NBODY])),
                         (arrays[SITE_POS], int(c[SITE_POS_AT]), 3 * int(c[NSITE]))):
        values = doubles(array, n)
        for i in range(n):
            values[i] = row[at + i]


@njit(inline="always", **FUSED)
def _start(c, row, f, d, arrays, body):
    """The task's start (the row's) → body and the thread's model and MjData, positions computed."""
    _model(c, row, arrays)
    at = int(c[STATE_AT])
    for i in range(body.shape[0]):
        body[i] = row[at + i]
    physics.load(f, d, body, int(c[STATE_SPEC]))
    physics.forward(f, d)


@njit(inline="always", **FUSED)
def _frame(c, d, obs):
    """obs[:18] ← the current frame (Meta-World's _get_curr_obs_combined_no_goal)."""
    xpos = doubles(d[XPOS], 3 * int(c[NBODY]))
    hand, right, left = int(c[HAND]), int(c[RIGHTCLAW]), int(c[LEFTCLAW])
    apart = 0.0
    for i in range(3):
        obs[i] = xpos[3 * hand + i]
        apart += (xpos[3 * right + i] - xpos[3 * left + i]) ** 2
    obs[3] = min(max(math.sqrt(apart) / 0.1, 0.0), 1.0)
    kind, at = int(c[POS_KIND]), 3 * int(c[POS_ID])
    if kind == GEOM:
        source = doubles(d[GEOM_XPOS], 3 * int(c[NGEOM]))
    elif kind == SITE:
        source = doubles(d[SITE_XPOS], 3 * int(c[NSITE]))
    else:
        source = xpos
    for i in range(3):
        obs[4 + i] = source[at + i] + c[POS_OFFSET + i]
    kind, at = int(c[QUAT_KIND]), int(c[QUAT_ID])
    for i in range(7, FRAME):
        obs[i] = 0.0
    if kind == BODY_QUAT:
        quats = doubles(d[XQUAT], 4 * int(c[NBODY]))
        for i in range(4):
            obs[7 + i] = quats[4 * at + i]
    elif kind == GEOM_QUAT:
        _quaternion(doubles(d[GEOM_XMAT], 9 * int(c[NGEOM]))[9 * at:9 * at + 9], obs[7:11])
    elif kind == SITE_QUAT:
        _quaternion(doubles(d[SITE_XMAT], 9 * int(c[NSITE]))[9 * at:9 * at + 9], obs[7:11])


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
