"""Tasks, registered by name; the grid tasks are also Gymnasium environments (`metods_sim/<Id>-v0`), the MuJoCo
tasks are Gymnasium's own bodies (`locomotion`).

The MuJoCo and Meta-World task modules load when such a task kind is first asked for (TASKS["ant_dir"],
make_task, `from metods_sim.tasks import AntDir`), not when the package is imported."""
from collections.abc import MutableMapping
from importlib import import_module

from .base import Task
from .harlow import Harlow
from .harlow_simple import HarlowSimple
from .maze import Maze

# kind -> "module:Class" of the task modules loaded on demand (their kinds are the classes' `name`)
LAZY = {"ant_dir": "locomotion:AntDir", "cheetah_dir": "locomotion:CheetahDir", "cheetah_vel": "locomotion:CheetahVel",
        "metaworld": "metaworld:MetaWorld"}


class _Registry(MutableMapping):
    """{task kind: Task class}, resolving the heavy kinds' classes on first access; a new task registers with
    TASKS[cls.name] = cls."""

    def __init__(self, loaded: dict, lazy: dict):
        self._loaded, self._lazy = dict(loaded), dict(lazy)
        self._order = list(loaded) + [kind for kind in lazy if kind not in loaded]

    def __getitem__(self, kind):
        if kind not in self._loaded:
            if kind not in self._lazy:
                raise KeyError(kind)
            module, name = self._lazy[kind].split(":")
            self._loaded[kind] = getattr(import_module(f"{__name__}.{module}"), name)
        return self._loaded[kind]

    def __setitem__(self, kind, cls):
        self._loaded[kind] = cls
        if kind not in self._order:
            self._order.append(kind)

    def __delitem__(self, kind):
        self._loaded.pop(kind, None)
        self._lazy.pop(kind, None)
        self._order.remove(kind)

    def __iter__(self):
        return iter(self._order)

    def __len__(self):
        return len(self._order)

    def __contains__(self, kind):
        return kind in self._loaded or kind in self._lazy

    def __repr__(self):
        return f"TASKS({', '.join(self._order)})"


TASKS = _Registry({cls.name: cls for cls in (Harlow, HarlowSimple, Maze)}, LAZY)
GYM_IDS = {"harlow": "metods_sim/Harlow-v0", "harlow_simple": "metods_sim/HarlowSimple-v0",
           "maze": "metods_sim/Maze-v0"}
_CLASSES = {spec.split(":")[1]: kind for kind, spec in LAZY.items()}   # AntDir -> ant_dir, ...


def __getattr__(name):
    """AntDir, CheetahDir, CheetahVel, MetaWorld: loaded with their module on first use."""
    if name in _CLASSES:
        return TASKS[_CLASSES[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
