"""Meta-training by evolution strategies through EvoTorch.

`EpisodeProblem` only scores a batch: every genome of the batch runs the same `episodes` episodes of the current
generation (common random numbers) in one fused rollout, and its fitness is its mean return. `ESTrainer` owns the
loop: one searcher step per generation, the search centre evaluated on the held-out validation episodes every
`eval_every` generations, a status dict per generation handed to the caller's hook, Ctrl-C ending the loop cleanly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from evotorch import Problem
from evotorch.algorithms import CEM, CMAES, PGPE, SNES, XNES

from ..rollout import draw_episodes, rollout
from ..seeding import rng_for


class EpisodeProblem(Problem):
    """Fitness of a genome = its mean return over the generation's shared episodes."""

    def __init__(self, task, agent, *, episodes, seed, device="cpu", num_actors=0):
        self.task, self.agent, self.episodes, self.run_seed = task, agent, episodes, seed
        self.generation = 0
        self.env_steps = 0
        super().__init__("max", solution_length=agent.layout.size, initial_bounds=(-1.0, 1.0),
                         dtype=torch.float32, device=device, num_actors=num_actors or None)

    def _evaluate_batch(self, batch):
        genomes = batch.values.detach().cpu().numpy().astype(np.float64)  # values are read-only: copy
        shared = draw_episodes(self.task, self.agent, rng_for(self.run_seed, "train", self.generation), self.episodes)
        result = rollout(self.agent, self.task, genomes, shared)
        self.env_steps += int(result.steps.sum())
        batch.set_evals(torch.as_tensor(result.returns.mean(axis=1), dtype=torch.float32, device=batch.device))

    # Ray actors hold copies of the problem: send them the generation, collect their step counts.
    def _make_sync_data_for_actors(self):
        return self.generation

    def _use_sync_data_from_main(self, generation):
        self.generation = generation
        self.env_steps = 0

    def _make_sync_data_for_main(self):
        return self.env_steps

    def _use_sync_data_from_actors(self, received):
        self.env_steps += int(sum(received))


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


@dataclass
class TrainResult:
    """Per generation: fitness mean/max/min, centre validation return (NaN between evaluations), environment
    steps and wall seconds so far. center: the final search centre; best: the centre snapshot with the best
    validation return. interrupted: the loop was ended by Ctrl-C."""

    curve: dict = field(default_factory=lambda: {k: [] for k in ESTrainer.CURVE})
    center: np.ndarray | None = None
    best: np.ndarray | None = None
    best_validation: float = -np.inf
    interrupted: bool = False
    stopped_by: str = "generations"


class ESTrainer:
    kind = "es"
    CURVE = ("fitness_mean", "fitness_max", "fitness_min", "center_return", "env_steps", "wall_time")

    def __init__(self, trainer: dict, task, agent, *, seed: int):
        self.trainer, self.task, self.agent, self.seed = trainer, task, agent, seed
        self.validation = draw_episodes(task, agent, rng_for(seed, "validation"), trainer["eval_episodes"])

    def validate(self, genome) -> float:
        return float(rollout(self.agent, self.task, genome, self.validation).returns.mean())

    def train(self, initial: np.ndarray, on_generation=None) -> TrainResult:
        t = self.trainer
        problem = EpisodeProblem(self.task, self.agent, episodes=t["episodes"], seed=self.seed,
                                 device=t["device"], num_actors=t["num_actors"])
        if t["num_actors"]:
            # start the Ray actors now: their start-up draws from torch's global RNG, which must not shift the
            # searcher's samples (a run with actors equals the same run without)
            problem.all_remote_problems()
        torch.manual_seed(int(rng_for(self.seed, "search").integers(2**31)))
        searcher = make_searcher(t, problem, initial)
        result, start = TrainResult(), time.perf_counter()
        result.center = result.best = np.asarray(initial, dtype=np.float64)
        try:
            for generation in range(t["generations"]):
                problem.generation = generation
                searcher.step()
                center = searcher.status["center"].detach().cpu().numpy().astype(np.float64)
                result.center = center
                last = generation == t["generations"] - 1
                out_of_time = t["time_limit"] and time.perf_counter() - start >= 60 * t["time_limit"]
                validation = np.nan
                if generation % t["eval_every"] == 0 or last or out_of_time:
                    validation = self.validate(center)
                    if validation > result.best_validation:
                        result.best, result.best_validation = center, validation
                evals = searcher.population.evals[:, 0].detach().cpu().numpy()
                status = dict(fitness_mean=float(evals.mean()), fitness_max=float(evals.max()),
                              fitness_min=float(evals.min()), center_return=validation,
                              env_steps=problem.env_steps, wall_time=time.perf_counter() - start)
                for key in self.CURVE:
                    result.curve[key].append(status[key])
                if on_generation:
                    on_generation(generation, status, result)
                if out_of_time:
                    result.stopped_by = "time_limit"
                    break
        except KeyboardInterrupt:
            result.interrupted, result.stopped_by = True, "interrupted"
        return result
