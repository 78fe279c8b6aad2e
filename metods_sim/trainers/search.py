"""The EvoTorch side of ES (`trainers.es`): the Problem that scores a batch of genomes, and the searchers.

Kept apart so that EvoTorch, which imports Ray, loads when an ES run trains, not with the protocol's schema.
"""
from __future__ import annotations

import dataclasses
import math

import numba
import numpy as np
import torch
from evotorch import Problem
from evotorch.algorithms import CEM, CMAES, PGPE, SNES, XNES

from ..rollout import draw_episodes, rollout
from ..seeding import rng_for
from . import cluster
from .loop import fitness


class EpisodeProblem(Problem):
    """Fitness of a genome = its mean return over the generation's shared episodes, the observations normalised
    by `norm` when set (`rollout.Normalisation`, the generation's, set by the trainer); seen: [(steps, obs_sum,
    obs_sumsq)] of each batch evaluated since, per member × episode, for the trainer's running statistics. With
    action_noise σ > 0 the members act by sampling N(mean, σ²) (trainer.action_noise), whatever their log_std."""

    def __init__(self, task, agent, *, episodes, seed, device="cpu", num_actors=0, action_noise=0.0):
        self.task, self.agent, self.episodes, self.run_seed = task, agent, episodes, seed
        self.action_noise = action_noise
        self.generation = 0
        self.env_steps = 0
        self.threads = 0   # Numba threads of an actor (cluster.threads_per_actor); 0: as they are
        self.norm, self.seen = None, []
        # store_solution_stats off: EvoTorch's best-so-far bookkeeping fails on a population that is all -inf
        # (all diverged), and the best genome of a run is chosen on the validation episodes anyway
        super().__init__("max", solution_length=agent.layout.size, initial_bounds=(-1.0, 1.0),
                         dtype=torch.float32, device=device, num_actors=num_actors or None,
                         actor_config=cluster.ACTOR if num_actors else None, store_solution_stats=False)

    def _evaluate_batch(self, batch):
        if self.threads:
            numba.set_num_threads(self.threads)   # per calling thread, so at every call
        genomes = batch.values.detach().cpu().numpy().astype(np.float64)  # values are read-only: copy
        shared = draw_episodes(self.task, self.agent, rng_for(self.run_seed, "train", self.generation), self.episodes)
        agent = self.agent
        if self.action_noise:
            agent.layout.unpack(genomes)["log_std"][:] = math.log(self.action_noise)
            agent = dataclasses.replace(agent, action="sample")
        result = rollout(agent, self.task, genomes, shared, norm=self.norm)
        self.env_steps += int(result.steps.sum())
        if self.norm is not None:
            self.seen.append((result.steps, result.obs_sum, result.obs_sumsq))
        batch.set_evals(torch.as_tensor(fitness(result), dtype=torch.float32, device=batch.device))

    # Ray actors hold copies of the problem: send them the generation and its normalisation, collect their step
    # counts and the observations they saw.
    def _make_sync_data_for_actors(self):
        return self.generation, self.norm

    def _use_sync_data_from_main(self, received):
        self.generation, self.norm = received
        self.env_steps, self.seen = 0, []

    def _make_sync_data_for_main(self):
        return self.env_steps, self.seen

    def _use_sync_data_from_actors(self, received):
        for steps, seen in received:
            self.env_steps += int(steps)
            self.seen += seen

    # called on the actors by ESTrainer.train
    def ray_node(self):
        return cluster.node_id()

    def use_threads(self, per_node):
        self.threads = min(per_node[cluster.node_id()], numba.config.NUMBA_NUM_THREADS)
        numba.set_num_threads(self.threads)
        return numba.get_num_threads()


def make_searcher(trainer: dict, problem, center):
    """The EvoTorch searcher named by trainer.algorithm, starting at `center`."""
    name, t = trainer["algorithm"], trainer
    center = torch.as_tensor(center, dtype=torch.float32)
    if name == "pgpe":
        optimizer_config = {"max_speed": t["max_speed"]} if t["optimizer"] == "clipup" else None
        return PGPE(problem, popsize=t["popsize"], center_learning_rate=t["center_lr"],
                    stdev_learning_rate=t["stdev_lr"], stdev_init=t["stdev_init"], center_init=center,
                    optimizer=t["optimizer"], optimizer_config=optimizer_config, ranking_method="centered")
    if name in ("snes", "xnes"):
        cls = SNES if name == "snes" else XNES
        return cls(problem, popsize=t["popsize"], center_learning_rate=t["center_lr"],
                   stdev_learning_rate=t["stdev_lr"], stdev_init=t["stdev_init"], center_init=center)
    if name == "cmaes":
        return CMAES(problem, popsize=t["popsize"], stdev_init=t["stdev_init"], center_init=center,
                     separable=True)
    if name == "cem":
        return CEM(problem, popsize=t["popsize"], parenthood_ratio=t["parenthood_ratio"],
                   stdev_init=t["stdev_init"], center_init=center)
    raise ValueError(f"unknown ES algorithm {name!r}")
