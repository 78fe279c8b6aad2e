"""Every protocol field, its default, its check and its meaning, assembled: each task, agent and trainer declares
its own (`FIELDS` and `check` beside its class, registered in TASKS, AGENTS, TRAINERS); the sections that belong
to no class (the top level, evaluation, recording, output) are declared here. `Field` and its constructors are in
`metods_sim.fields`.

Tags in the docs follow the model document: [paper] stated in the paper, [ours] our choice where it is silent.
"""
from __future__ import annotations

from collections.abc import Mapping

from ..agents import AGENTS as AGENT_CLASSES
from ..fields import Field, choice, integer
from ..tasks import TASKS as TASK_CLASSES
from ..trainers import TRAINERS as TRAINER_CLASSES


class Kinds(Mapping):
    """{kind: its fields} of a registry of classes ({kind: class with FIELDS}), read live: a class registered
    later (TASKS[cls.name] = cls) is in the schema, in `fields` and validated, with no other edit."""

    def __init__(self, registry: dict):
        self.registry = registry

    def __getitem__(self, kind):
        return self.registry[kind].FIELDS

    def __iter__(self):
        return iter(self.registry)

    def __len__(self):
        return len(self.registry)


TOP = {
    "name": Field("", "Protocol name, used in the default output path; empty: the protocol file's name.", "str"),
    "seed": integer(0, "Seed of everything random in the run (initial genome, ES noise, every episode).", min=0),
    "sweep": Field({}, "Many runs of this protocol in one dataset with variant and seed dims: seeds: [0, 1], "
                       "key.path: [values] (a grid axis), variants: {name: {key.path: value}} (named variants); "
                       "{}: one run. Each run gets its own directory DIR/<variant>/seed-<n>/ and the whole "
                       "trainer budget (time_limit is per run). See docs/protocol.md.", "mapping"),
}

TASKS = Kinds(TASK_CLASSES)
AGENTS = Kinds(AGENT_CLASSES)
TRAINERS = Kinds(TRAINER_CLASSES)

EVALUATION = {
    "episodes": integer(1000, "Held-out episodes of the final evaluation (the test set).", min=1),
    "agent": choice("best", "Agent evaluated at the end: best = the centre snapshot with the highest validation "
                            "return, center = the final search centre.", ("best", "center")),
}

RECORDING = {
    "episodes": integer(8, "Test episodes whose W, activations, actions and rewards are stored.", min=0),
}

OUTPUT = {
    "dir": Field("", "Run directory; empty: runs/<name>/<timestamp>/. Holds results.nc.", "str"),
}

SECTIONS = {"task": TASKS, "agent": AGENTS, "trainer": TRAINERS,
            "evaluation": EVALUATION, "recording": RECORDING, "output": OUTPUT}
KINDED = {"task": ("harlow", "task"), "agent": ("metods", "agent"), "trainer": ("es", "trainer")}
CLASSES = {"task": TASK_CLASSES, "agent": AGENT_CLASSES, "trainer": TRAINER_CLASSES}   # of the kinded sections
