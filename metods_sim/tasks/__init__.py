"""Tasks, registered by name; the grid tasks are also Gymnasium environments (`metods_sim/<Id>-v0`), the MuJoCo
tasks are Gymnasium's own bodies (`locomotion`)."""
from .base import Task
from .harlow import Harlow
from .harlow_simple import HarlowSimple
from .locomotion import AntDir, CheetahDir, CheetahVel
from .maze import Maze
from .metaworld import MetaWorld

TASKS = {cls.name: cls for cls in (Harlow, HarlowSimple, Maze, AntDir, CheetahDir, CheetahVel, MetaWorld)}
GYM_IDS = {"harlow": "metods_sim/Harlow-v0", "harlow_simple": "metods_sim/HarlowSimple-v0",
           "maze": "metods_sim/Maze-v0"}


def make_task(section: dict) -> Task:
    """The task of a validated spec's `task` section (every field present)."""
    fields = dict(section)
    return TASKS[fields.pop("kind")](**fields)


def _register_gymnasium():
    import gymnasium

    for kind, env_id in GYM_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point="metods_sim.tasks.env:TaskEnv", kwargs={"kind": kind})


_register_gymnasium()

__all__ = ["TASKS", "GYM_IDS", "Task", "AntDir", "CheetahDir", "CheetahVel", "Harlow", "HarlowSimple", "Maze",
           "MetaWorld", "make_task"]
