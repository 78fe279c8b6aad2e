"""Trainers, registered by name: they turn a task, an agent and an initial genome into trained genomes.

Every trainer runs `loop.train_loop` and so keeps one contract: `train(initial, on_generation, state=,
checkpoint=)`, a TrainResult whose curve has the keys CURVE, its iterations counted by the protocol field named
ITERATIONS, DIVERGED the message of a run that stopped diverged, and state_floats(trainer, size, task) the size of
a checkpoint's state.
"""
from .es import ESTrainer
from .gradient import GradientTrainer
from .loop import TrainResult
from .pearl import PEARLTrainer

TRAINERS = {ESTrainer.kind: ESTrainer, GradientTrainer.kind: GradientTrainer, PEARLTrainer.kind: PEARLTrainer}


def __getattr__(name):
    """EpisodeProblem and make_searcher load EvoTorch (and Ray): on first use."""
    if name in ("EpisodeProblem", "make_searcher"):
        from . import search

        return getattr(search, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def iterations(trainer: dict) -> int:
    """The iterations a protocol's trainer section asks for at most: ES generations, gradient updates or PEARL
    iterations, each one step of the dataset's generation axis."""
    return trainer[TRAINERS[trainer["kind"]].ITERATIONS]


__all__ = ["TRAINERS", "EpisodeProblem", "ESTrainer", "GradientTrainer", "PEARLTrainer", "TrainResult",
           "iterations", "make_searcher"]
