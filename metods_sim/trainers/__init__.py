"""Trainers, registered by name: they turn a task, an agent and an initial genome into trained genomes."""
from .es import EpisodeProblem, ESTrainer, TrainResult, make_searcher

TRAINERS = {ESTrainer.kind: ESTrainer}

__all__ = ["TRAINERS", "EpisodeProblem", "ESTrainer", "TrainResult", "make_searcher"]
