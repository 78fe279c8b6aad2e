"""Where the fused Sawyer arm (`sawyer`) keeps its numbers: the slots of one model's config vector and of an
episode's row.

The config (`MetaWorld.config`) is float64 (models, CONFIG_SIZE): one row per Meta-World environment the task
mixes (its constants, the MuJoCo ids its observation and reward read), then six 3-vectors. An episode's row
names its task and model, holds what Meta-World's reset left for the reward (target, object and gripper start,
EXTRA: up to 3 more of the environment's own) and the first frame it observed, then, from the offsets its config
gives, the task's model body and site positions (Meta-World moves bodies per task) and its start state (MuJoCo's
integration state), each padded to the largest of the task's models.
"""
_SLOTS = ("frame_skip", "action_scale", "state_spec", "rollouts", "rollout_steps", "reward", "nbody", "nsite",
          "ngeom", "hand", "rightclaw", "leftclaw", "leftpad", "rightpad", "right_effector", "left_effector",
          "pos_kind", "pos_id", "quat_kind", "quat_id", "joint", "site0", "site1", "site2", "site3", "site4",
          "body_pos_at", "site_pos_at", "state_at", "goal_shown")
(FRAME_SKIP, ACTION_SCALE, STATE_SPEC, ROLLOUTS, ROLLOUT_STEPS, REWARD, NBODY, NSITE, NGEOM, HAND, RIGHTCLAW,
 LEFTCLAW, LEFTPAD, RIGHTPAD, RIGHT_EFFECTOR, LEFT_EFFECTOR, POS_KIND, POS_ID, QUAT_KIND, QUAT_ID, JOINT, SITE0,
 SITE1, SITE2, SITE3, SITE4, BODY_POS_AT, SITE_POS_AT, STATE_AT, GOAL_SHOWN) = range(len(_SLOTS))
# then 3 floats each: the object's offset in the observation, mocap_low, mocap_high, the observation's hand_low,
# hand_high, and hand_init
POS_OFFSET = len(_SLOTS)
MOCAP_LOW, MOCAP_HIGH, HAND_LOW, HAND_HIGH, HAND_INIT = (POS_OFFSET + 3 * k for k in range(1, 6))
CONFIG_SIZE = HAND_INIT + 3

FRAME = 18         # floats of one frame of the observation
# an episode's row, before the model's positions and the start state: ..., then the first frame Meta-World's
# reset observed (its reset observes some moved bodies before it recomputes their positions)
TASK, MODEL, TARGET, OBJ_INIT, TCP_INIT, EXTRA, FIRST = 0, 1, 2, 5, 8, 11, 14
HEAD = FIRST + FRAME

# where the observation's object comes from (POS_KIND: an id's xpos; QUAT_KIND: none is zeros, body its xquat,
# geom and site their xmat as SciPy's quaternion)
BODY, GEOM, SITE = range(3)
NO_QUAT, BODY_QUAT, GEOM_QUAT, SITE_QUAT = range(4)
