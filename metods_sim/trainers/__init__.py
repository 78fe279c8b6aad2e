"""Trainers, registered by name: they turn a task, an agent and an initial genome into trained genomes."""
from .es import EpisodeProblem, ESTrainer, TrainResult, make_searcher
from .gradient import GradientTrainer

TRAINERS = {ESTrainer.kind: ESTrainer, GradientTrainer.kind: GradientTrainer}

__all__ = ["TRAINERS", "EpisodeProblem", "ESTrainer", "GradientTrainer", "TrainResult", "make_searcher"]
