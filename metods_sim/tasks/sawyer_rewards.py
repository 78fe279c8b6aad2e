"""The rewards and success flags of the fused Meta-World environments, in Numba: each environment's
`compute_reward` (reward_function_version v2) and `evaluate_state`, term for term and in Meta-World's order of
operations, so that they agree with Meta-World's to rounding (tests/tasks/test_metaworld.py).

Each function is reward, success = f(c, row, d, action, obs): c the model's config row (`sawyer_slots`), row the
episode's, d the thread's MjData (`physics`: its arrays' addresses), obs the observation just computed (clipped, as
Meta-World passes it). `reward(...)` picks the episode's environment by the config's REWARD.
"""
from __future__ import annotations

import math

from numba import njit

from ..plasticity.jit import FUSED
from .physics import QPOS, SITE_XPOS, XPOS, doubles
from .sawyer_slots import (EXTRA, HAND_INIT, JOINT, LEFT_EFFECTOR, LEFTPAD, NBODY, NSITE, OBJ_INIT, REWARD,
                           RIGHT_EFFECTOR, RIGHTPAD, SITE0, TARGET, TCP_INIT)

NAMES = ("reach-v3", "push-v3", "pick-place-v3", "door-open-v3", "drawer-close-v3", "button-press-topdown-v3",
         "peg-insert-side-v3", "window-open-v3", "sweep-v3", "basketball-v3", "drawer-open-v3", "door-close-v3",
         "shelf-place-v3", "sweep-into-v3", "lever-pull-v3")
(REACH, PUSH, PICK_PLACE, DOOR_OPEN, DRAWER_CLOSE, BUTTON_TOPDOWN, PEG_INSERT_SIDE, WINDOW_OPEN, SWEEP, BASKETBALL,
 DRAWER_OPEN, DOOR_CLOSE, SHELF_PLACE, SWEEP_INTO, LEVER_PULL) = range(len(NAMES))
GAUSSIAN_SCALE = math.sqrt(-2.0 * math.log(0.1))   # reward_utils' gaussian sigmoid, value 0.1 at the margin


@njit(inline="always", **FUSED)
def tolerance(x, lower, upper, margin):
    """Meta-World's reward_utils.tolerance with the long-tail sigmoid (value 0.1 at the margin)."""
    if lower <= x <= upper:
        return 1.0
    if margin == 0.0:
        return 0.0
    d = (lower - x if x < lower else x - upper) / margin
    return 1.0 / ((d * 3.0) ** 2 + 1.0)   # 3 = sqrt(1 / 0.1 - 1)


@njit(inline="always", **FUSED)
def gaussian(x, lower, upper, margin):
    """reward_utils.tolerance with the gaussian sigmoid."""
    if lower <= x <= upper:
        return 1.0
    if margin == 0.0:
        return 0.0
    d = (lower - x if x < lower else x - upper) / margin
    return math.exp(-0.5 * (d * GAUSSIAN_SCALE) ** 2)


@njit(inline="always", **FUSED)
def hamacher(a, b):
    denominator = a + b - a * b
    return a * b / denominator if denominator > 0.0 else 0.0


@njit(inline="always", **FUSED)
def norm3(x, y, z):
    return math.sqrt(x * x + y * y + z * z)


@njit(inline="always", **FUSED)
def between(a, b):
    """‖a − b‖ of two 3-vectors."""
    return norm3(a[0] - b[0], a[1] - b[1], a[2] - b[2])


@njit(inline="always", **FUSED)
def scaled(a, b, scale):
    """‖(a − b) · scale‖."""
    return norm3((a[0] - b[0]) * scale[0], (a[1] - b[1]) * scale[1], (a[2] - b[2]) * scale[2])


@njit(inline="always", **FUSED)
def xz(a, b):
    return math.sqrt((a[0] - b[0]) ** 2 + (a[2] - b[2]) ** 2)


@njit(inline="always", **FUSED)
def tcp_center(c, d):
    sites = doubles(d[SITE_XPOS], 3 * int(c[NSITE]))
    r, l = 3 * int(c[RIGHT_EFFECTOR]), 3 * int(c[LEFT_EFFECTOR])
    return ((sites[r] + sites[l]) / 2.0, (sites[r + 1] + sites[l + 1]) / 2.0, (sites[r + 2] + sites[l + 2]) / 2.0)


@njit(inline="always", **FUSED)
def site(c, d, k):
    """The position of the environment's k-th reward site (SITE0 + k)."""
    at = 3 * int(c[SITE0 + k])
    sites = doubles(d[SITE_XPOS], 3 * int(c[NSITE]))
    return sites[at], sites[at + 1], sites[at + 2]


@njit(inline="always", **FUSED)
def pads_y(c, d):
    xpos = doubles(d[XPOS], 3 * int(c[NBODY]))
    return xpos[3 * int(c[LEFTPAD]) + 1], xpos[3 * int(c[RIGHTPAD]) + 1]


@njit(inline="always", **FUSED)
def joint(c, d):
    """The qpos of the environment's reward joint (JOINT: its address in qpos)."""
    return doubles(d[QPOS], int(c[JOINT]) + 1)[int(c[JOINT])]


@njit(**FUSED)
def caging(c, row, d, action, obj, tcp, obj_radius, pad_success, xz_thresh, high_density):
    """SawyerXYZEnv._gripper_caging_reward (desired_gripper_effort 1, no medium density)."""
    obj_init, tcp_init = row[OBJ_INIT:OBJ_INIT + 3], row[TCP_INIT:TCP_INIT + 3]
    left, right = pads_y(c, d)
    sides = (tolerance(abs(left - obj[1]), obj_radius, pad_success, abs(abs(left - obj_init[1]) - pad_success)),
             tolerance(abs(right - obj[1]), obj_radius, pad_success, abs(abs(right - obj_init[1]) - pad_success)))
    caging_y = hamacher(sides[0], sides[1])
    caging_xz = tolerance(xz(tcp, obj), 0.0, xz_thresh, xz(obj_init, tcp_init) - xz_thresh)
    cage = hamacher(caging_y, caging_xz)
    gripping = min(max(0.0, action[3]), 1.0) if cage > 0.97 else 0.0
    grasp = hamacher(cage, gripping)
    return (grasp + cage) / 2.0 if high_density else grasp


@njit(**FUSED)
def y_caging(c, row, d, obj, obj_radius, grip_margin):
    """The y caging and gripping of pick-place's, sweep's and sweep-into's own _gripper_caging_reward. Their margins
    compare the object with `init_left_pad` and `init_right_pad`, which are views of MjData's body positions
    (gymnasium's get_body_com): the pads' current positions."""
    left, right = pads_y(c, d)
    to_left, to_right = left - obj[1], obj[1] - right
    right_margin = abs(abs(obj[1] - right) - 0.05)
    left_margin = abs(abs(obj[1] - left) - 0.05)
    caged = hamacher(tolerance(to_left, obj_radius, 0.05, left_margin),
                     tolerance(to_right, obj_radius, 0.05, right_margin))
    gripped = hamacher(tolerance(to_left, obj_radius, grip_margin, left_margin),
                       tolerance(to_right, obj_radius, grip_margin, right_margin))
    return caged, gripped


@njit(**FUSED)
def _reach(c, row, d, action, obs):
    target = row[TARGET:TARGET + 3]
    to_target = between(tcp_center(c, d), target)
    margin = between(c[HAND_INIT:HAND_INIT + 3], target)
    return 10.0 * tolerance(to_target, 0.0, 0.05, margin), to_target <= 0.05


@njit(**FUSED)
def _push(c, row, d, action, obs):
    tcp, obj, target, obj_init = tcp_center(c, d), obs[4:7], row[TARGET:TARGET + 3], row[OBJ_INIT:OBJ_INIT + 3]
    to_obj, obj_to_target = between(obj, tcp), between(obj, target)
    in_place = tolerance(obj_to_target, 0.0, 0.05, between(obj_init, target))
    reward = 2.0 * caging(c, row, d, action, obj, tcp, 0.015, 0.05, 0.005, True)
    if to_obj < 0.02 and obs[3] > 0.0:
        reward += 1.0 + reward + 5.0 * in_place
    if obj_to_target < 0.05:
        reward = 10.0
    return reward, obj_to_target <= 0.05


@njit(**FUSED)
def _pick_place(c, row, d, action, obs):
    tcp, obj, target, obj_init = tcp_center(c, d), obs[4:7], row[TARGET:TARGET + 3], row[OBJ_INIT:OBJ_INIT + 3]
    obj_to_target, tcp_to_obj = between(obj, target), between(obj, tcp)
    in_place = tolerance(obj_to_target, 0.0, 0.05, between(obj_init, target))
    caged, _ = y_caging(c, row, d, obj, 0.015, 0.05)
    cage = hamacher(caged, tolerance(xz(tcp, obj), 0.0, 0.005, xz(obj_init, row[TCP_INIT:TCP_INIT + 3]) - 0.005))
    gripping = min(max(0.0, action[3]), 1.0) if cage > 0.97 else 0.0
    grasped = (hamacher(cage, gripping) + cage) / 2.0
    reward = hamacher(grasped, in_place)
    if tcp_to_obj < 0.02 and obs[3] > 0.0 and obj[2] - 0.01 > obj_init[2]:
        reward += 1.0 + 5.0 * in_place
    if obj_to_target < 0.05:
        reward = 10.0
    return reward, obj_to_target <= 0.07


@njit(**FUSED)
def _door_open(c, row, d, action, obs):
    theta = joint(c, d)
    grab = (min(max(action[3], -1.0), 1.0) + 1.0) / 2.0
    hand, door = obs[:3], (obs[4] + -0.05, obs[5] + 0.0, obs[6] + 0.0)
    radius = math.sqrt((hand[0] - door[0]) ** 2 + (hand[1] - door[1]) ** 2)
    floor = 0.0 if radius <= 0.12 else 0.04 * math.log(radius - 0.12) + 0.4
    above_floor = 1.0 if hand[2] >= floor else tolerance(floor - hand[2], 0.0, 0.01, floor / 2.0)
    in_place = tolerance(norm3(hand[0] - door[0] - 0.05, hand[1] - door[1] - 0.03, hand[2] - door[2] - -0.01),
                         0.0, 0.12 / 2.0, 0.5)
    ready = hamacher(above_floor, in_place)
    opened = 0.2 * (1.0 if theta < -math.pi / 90.0 else 0.0) + 0.8 * tolerance(
        math.pi / 2.0 + math.pi / 6 - -theta, 0.0, 0.5, math.pi / 3.0)
    reward = 2.0 * hamacher(ready, grab) + 8.0 * opened
    success = abs(obs[4] - row[TARGET]) <= 0.08
    return (10.0 if success else reward), success


@njit(**FUSED)
def _drawer_close(c, row, d, action, obs):
    tcp, obj, target, obj_init = tcp_center(c, d), obs[4:7], row[TARGET:TARGET + 3], row[OBJ_INIT:OBJ_INIT + 3]
    target_to_obj = between(obj, target)
    in_place = tolerance(target_to_obj, 0.0, 0.05, abs(between(obj_init, target) - 0.05))
    tcp_to_obj_init = between(obj_init, row[TCP_INIT:TCP_INIT + 3])
    reach = gaussian(between(obj, tcp), 0.0, 0.005, abs(tcp_to_obj_init - 0.005))
    reach = hamacher(reach, min(max(0.0, action[3]), 1.0))
    reward = hamacher(reach, in_place)
    success = target_to_obj <= 0.05 + 0.015
    return (1.0 if success else reward) * 10.0, success


@njit(**FUSED)
def _button_topdown(c, row, d, action, obs):
    tcp, obj, target = tcp_center(c, d), obs[4:7], row[TARGET:TARGET + 3]
    tcp_to_obj = between(obj, tcp)
    obj_to_target = abs(target[2] - obj[2])
    near = tolerance(tcp_to_obj, 0.0, 0.01, between(obj, row[TCP_INIT:TCP_INIT + 3]))
    pressed = tolerance(obj_to_target, 0.0, 0.005, row[EXTRA])
    reward = 5.0 * hamacher(1.0 - obs[3], near)
    if tcp_to_obj <= 0.03:
        reward += 5.0 * pressed
    return reward, obj_to_target <= 0.024


@njit(inline="always", **FUSED)
def _in_range(a, b, c):
    return b <= a <= c if c >= b else c <= a <= b


@njit(**FUSED)
def _prism(curr, zero, one):
    """reward_utils.rect_prism_tolerance."""
    if _in_range(curr[0], zero[0], one[0]) and _in_range(curr[1], zero[1], one[1]) and \
            _in_range(curr[2], zero[2], one[2]):
        return ((curr[0] - zero[0]) / (one[0] - zero[0]) * ((curr[1] - zero[1]) / (one[1] - zero[1]))
                * ((curr[2] - zero[2]) / (one[2] - zero[2])))
    return 1.0


@njit(**FUSED)
def _peg_insert_side(c, row, d, action, obs):
    """Reward sites: pegHead, then the two collision boxes' bottom-right and top-left corners."""
    tcp, obj, target, obj_init = tcp_center(c, d), obs[4:7], row[TARGET:TARGET + 3], row[OBJ_INIT:OBJ_INIT + 3]
    head, scale = site(c, d, 0), (1.0, 2.0, 2.0)
    tcp_to_obj = between(obj, tcp)
    obj_to_target = scaled(head, target, scale)
    in_place = tolerance(obj_to_target, 0.0, 0.07, scaled(row[EXTRA:EXTRA + 3], target, scale))
    boxes = hamacher(_prism(head, site(c, d, 3), site(c, d, 4)), _prism(head, site(c, d, 1), site(c, d, 2)))
    in_place = hamacher(in_place, boxes)
    grasped = caging(c, row, d, action, obj, tcp, 0.0075, 0.03, 0.005, True)
    lifted = tcp_to_obj < 0.08 and obs[3] > 0.0 and obj[2] - 0.01 > obj_init[2]
    reward = hamacher(1.0 if lifted else grasped, in_place)
    if lifted:
        reward += 1.0 + 5 * in_place
    if obj_to_target <= 0.07:
        reward = 10.0
    return reward, obj_to_target <= 0.07


@njit(**FUSED)
def _window_open(c, row, d, action, obs):
    tcp, obj, target = tcp_center(c, d), obs[4:7], row[TARGET:TARGET + 3]
    target_to_obj = abs(obj[0] - target[0])
    in_place = tolerance(target_to_obj, 0.0, 0.05, abs(abs(row[OBJ_INIT] - target[0]) - 0.05))
    tcp_to_obj_init = between(row[EXTRA:EXTRA + 3], row[TCP_INIT:TCP_INIT + 3])
    reach = tolerance(between(obj, tcp), 0.0, 0.02, abs(tcp_to_obj_init - 0.02))
    return 10.0 * hamacher(reach, in_place), target_to_obj <= 0.05


@njit(**FUSED)
def _sweep(c, row, d, action, obs, grip_margin, xz_margin, flat_target):
    """sweep-v3 (grip margin obj_radius + 0.01, x-z margin 0.005) and sweep-into-v3 (+ 0.005, 0.01, its target at
    the object's height)."""
    tcp, obj, obj_init = tcp_center(c, d), obs[4:7], row[OBJ_INIT:OBJ_INIT + 3]
    target = (row[TARGET], row[TARGET + 1], obj[2] if flat_target else row[TARGET + 2])
    obj_to_target = between(obj, target)
    in_place = tolerance(obj_to_target, 0.0, 0.05, between(obj_init, target))
    caged, gripped = y_caging(c, row, d, obj, 0.02, grip_margin)
    cage = hamacher(caged, tolerance(xz(tcp, obj), 0.0, xz_margin,
                                     xz(obj_init, row[TCP_INIT:TCP_INIT + 3]) - xz_margin))
    grasped = (cage + (gripped if cage > 0.95 else 0.0)) / 2.0
    reward = 2 * grasped + 6 * hamacher(grasped, in_place)
    if obj_to_target < 0.05:
        reward = 10.0
    return reward, obj_to_target <= 0.05


@njit(**FUSED)
def _basketball(c, row, d, action, obs):
    tcp, obj, obj_init = tcp_center(c, d), obs[4:7], row[OBJ_INIT:OBJ_INIT + 3]
    target, scale = (row[TARGET], row[TARGET + 1], 0.3), (1.0, 1.0, 2.0)
    target_to_obj = scaled(obj, target, scale)
    in_place = tolerance(target_to_obj, 0.0, 0.08, scaled(obj_init, target, scale))
    tcp_to_obj = between(obj, tcp)
    grasped = caging(c, row, d, action, obj, tcp, 0.025, 0.06, 0.005, True)
    lifted = tcp_to_obj < 0.035 and obs[3] > 0.0 and obj[2] - 0.01 > obj_init[2]
    reward = hamacher(1.0 if lifted else grasped, in_place)
    if lifted:
        reward += 1.0 + 5.0 * in_place
    if target_to_obj < 0.08:
        reward = 10.0
    return reward, target_to_obj <= 0.08


@njit(**FUSED)
def _drawer_open(c, row, d, action, obs):
    gripper, handle, target = obs[:3], obs[4:7], row[TARGET:TARGET + 3]
    handle_error = between(handle, target)
    opening = tolerance(handle_error, 0.0, 0.02, 0.2)
    handle_init = (target[0] + 0.0, target[1] + 0.2, target[2] + 0.0)
    scale = (3.0, 3.0, 1.0)
    caged = tolerance(scaled(handle, gripper, scale), 0.0, 0.01,
                      scaled(handle_init, row[TCP_INIT:TCP_INIT + 3], scale))
    return (caged + opening) * 5.0, handle_error <= 0.03


@njit(**FUSED)
def _door_close(c, row, d, action, obs):
    tcp, obj, target = tcp_center(c, d), obs[4:7], row[TARGET:TARGET + 3]
    obj_to_target = between(obj, target)
    in_place = gaussian(obj_to_target, 0.0, 0.05, between(row[OBJ_INIT:OBJ_INIT + 3], target))
    hand_in_place = gaussian(between(tcp, target), 0.0, 0.25 * 0.05, between(c[HAND_INIT:HAND_INIT + 3], obj) + 0.1)
    reward = 3 * hand_in_place + 6 * in_place
    if obj_to_target < 0.05:
        reward = 10.0
    return reward, obj_to_target <= 0.08


@njit(**FUSED)
def _shelf_place(c, row, d, action, obs):
    tcp, obj, target, obj_init = tcp_center(c, d), obs[4:7], row[TARGET:TARGET + 3], row[OBJ_INIT:OBJ_INIT + 3]
    obj_to_target, tcp_to_obj = between(obj, target), between(obj, tcp)
    in_place = tolerance(obj_to_target, 0.0, 0.05, between(obj_init, target))
    reward = hamacher(caging(c, row, d, action, obj, tcp, 0.02, 0.05, 0.01, False), in_place)
    below = 0.0 < obj[2] < 0.24 and target[0] - 0.15 < obj[0] < target[0] + 0.15
    if below and target[1] - 3 * 0.05 < obj[1] < target[1]:
        loss = hamacher((obj[1] - (target[1] - 3 * 0.05)) / (3 * 0.05), (0.24 - obj[2]) / 0.24)
        in_place = min(max(in_place - loss, 0.0), 1.0)
    if below and obj[1] > target[1]:
        in_place = 0.0
    if tcp_to_obj < 0.025 and obs[3] > 0.0 and obj[2] - 0.01 > obj_init[2]:
        reward += 1.0 + 5.0 * in_place
    if obj_to_target < 0.05:
        reward = 10.0
    return reward, obj_to_target <= 0.07


@njit(**FUSED)
def _lever_pull(c, row, d, action, obs):
    gripper, lever, target, lever_init = obs[:3], obs[4:7], row[TARGET:TARGET + 3], row[EXTRA:EXTRA + 3]
    tcp_init, scale = row[TCP_INIT:TCP_INIT + 3], (4.0, 1.0, 4.0)
    shoulder = (gripper[0] + 0.0, gripper[1] + 0.055, gripper[2] + 0.07)
    shoulder_init = (tcp_init[0] + 0.0, tcp_init[1] + 0.055, tcp_init[2] + 0.07)
    ready = tolerance(scaled(shoulder, lever, scale), 0.0, 0.02, scaled(shoulder_init, lever_init, scale))
    lever_error = abs(-joint(c, d) - math.pi / 2.0)
    in_place = tolerance(between(lever, target), 0.0, 0.04, between(lever_init, target))
    return 10.0 * hamacher(ready, in_place), lever_error <= math.pi / 24


@njit(**FUSED)
def reward(c, row, d, action, obs):
    """(reward, success) of the state the thread's MjData holds, for the model's environment."""
    which = int(c[REWARD])
    if which == REACH:
        r, s = _reach(c, row, d, action, obs)
    elif which == PUSH:
        r, s = _push(c, row, d, action, obs)
    elif which == PICK_PLACE:
        r, s = _pick_place(c, row, d, action, obs)
    elif which == DOOR_OPEN:
        r, s = _door_open(c, row, d, action, obs)
    elif which == DRAWER_CLOSE:
        r, s = _drawer_close(c, row, d, action, obs)
    elif which == BUTTON_TOPDOWN:
        r, s = _button_topdown(c, row, d, action, obs)
    elif which == PEG_INSERT_SIDE:
        r, s = _peg_insert_side(c, row, d, action, obs)
    elif which == WINDOW_OPEN:
        r, s = _window_open(c, row, d, action, obs)
    elif which == SWEEP:
        r, s = _sweep(c, row, d, action, obs, 0.02 + 0.01, 0.005, False)
    elif which == BASKETBALL:
        r, s = _basketball(c, row, d, action, obs)
    elif which == DRAWER_OPEN:
        r, s = _drawer_open(c, row, d, action, obs)
    elif which == DOOR_CLOSE:
        r, s = _door_close(c, row, d, action, obs)
    elif which == SHELF_PLACE:
        r, s = _shelf_place(c, row, d, action, obs)
    elif which == SWEEP_INTO:
        r, s = _sweep(c, row, d, action, obs, 0.02 + 0.005, 0.01, True)
    else:
        r, s = _lever_pull(c, row, d, action, obs)
    return float(r), 1.0 if s else 0.0
