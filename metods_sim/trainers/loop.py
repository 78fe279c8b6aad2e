"""The loop every trainer shares, so that ES and gradient training keep one contract: validation every few
iterations, best snapshot, curve, time limit, status hook, checkpoints, stopping where the state is whole
(Ctrl-C, SIGTERM), stopping on divergence, and continuing from a checkpoint exactly as if never stopped.

An iteration is a generation (ES) or a parameter update (gradient); the dataset calls both `generation`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..fields import Field, choice, integer, number
from ..rollout import ObservationStats, draw_episodes, rollout
from ..rollout.normalise import CLIP, EPSILON
from ..seeding import rng_for
from .stopping import StopRequests

# The fields every trainer has, read by `train_loop` and the run (each trainer's `FIELDS` and
# `check(section, where, *, agent)` are beside its class).
TIME_LIMIT = number(0.0, "Minutes of training at most (0: no limit); the run then evaluates and writes as usual.",
                    min=0)
ENV_STEPS = integer(0, "Environment steps of training at most (0: no limit): training stops after the iteration "
                      "that reaches it (stopped_by: env_steps), then evaluates and writes as usual. The budget in "
                      "the paper's unit, the same for agents whose episodes end early (a body that falls) and "
                      "those whose episodes run their whole horizon; with it, set the iteration count above what "
                      "the budget needs [ours].", min=0)
INIT_FROM = Field("", "A run's results.nc (or its directory; relative to the working directory) whose best genome "
                     "training starts from, e.g. a run on an easier variant of the task (a curriculum); the agent "
                     "and task must give genomes of the same size; a run trained with observation_norm running hands on its "
                     "observation statistics too (and needs running here). Empty: the agent's initial genome "
                     "(agent.init_*) [ours]. Not read for an agent without parameters (random).", "str")

OBSERVATION_NORM = choice(
    "none", f"Observation normalisation. none: the agent is fed the task's observation o_t as it is. running: in its "
            f"input x = [o_t, a_{{t−1}}, r_{{t−1}}], o_t (never the action or reward) is replaced by clip((o_t − μ)/σ, "
            f"−{CLIP:g}, {CLIP:g}), μ and σ² = var + {EPSILON:g} the running mean and variance, per entry, of every "
            f"observation the training rollouts fed so far (float64; before the first generation μ = 0, σ = 1): the "
            f"standard lever of ES on locomotion [Salimans et al. 2017; ARS], where o's entries differ in scale by "
            f"orders of magnitude. A generation (update) uses the statistics frozen before it, every member alike, "
            f"and its observations are merged in after it. Validation, the final evaluation and `evaluate` use the "
            f"statistics frozen with the genome they score (checkpoint; dataset best_obs_mean/std, "
            f"center_obs_mean/std) and never update them [ours: the variance floor {EPSILON:g} and the clip at "
            f"{CLIP:g} of Salimans et al.'s code; every observation counted, not a sample of them].",
    ("none", "running"))

# Stopping when solved, a field pair every trainer has.
TARGET = {
    "target": number(0.97, "Stop when solved: training ends once the validation return has stayed at or above "
                           "target × the task's optimum for target_evaluations evaluations in a row (the dataset's "
                           "stopped_by: solved); the time limit stays as the backstop. 0: never. A task without a "
                           "known optimum (maze, bodies, Meta-World) never stops this way [ours].", min=0),
    "target_evaluations": integer(5, "Evaluations in a row at or above the target that stop the run [ours].",
                                  min=1),
}

CURVE = ("fitness_mean", "fitness_max", "fitness_min", "center_return", "diverged", "env_steps", "wall_time")


@dataclass
class TrainResult:
    """Per iteration: fitness mean/max/min over the training episodes' scores that stayed finite, validation
    return of the centre (NaN between evaluations, -inf when the centre diverged), what diverged (ES: members;
    gradient: 1 when the update did), environment steps and wall seconds so far. center: the search centre or
    the trained parameters; best: the centre snapshot with the best validation return. stopped_by: '' while
    training, then generations, time_limit, solved (the target was held), interrupted or diverged; no_parameters
    when there was nothing to train (no iteration ran). With trainer.observation_norm running, observations: the
    running statistics of every observation seen so far (`rollout.ObservationStats`), those the next iteration,
    the centre's validation and its final evaluation use; best_observations: those the best snapshot was
    validated with. None without."""

    curve: dict = field(default_factory=lambda: {k: [] for k in CURVE})
    center: np.ndarray | None = None
    best: np.ndarray | None = None
    best_validation: float = -np.inf
    stopped_by: str = ""
    observations: ObservationStats | None = None
    best_observations: ObservationStats | None = None

    def normalisation(self, which: str = "center"):
        """The transform frozen for the centre or the best snapshot (`rollout.Normalisation`); None without."""
        stats = self.observations if which == "center" else self.best_observations
        return None if stats is None else stats.normalisation()

    @property
    def generations(self) -> int:
        return len(self.curve["fitness_mean"])

    @property
    def wall_time(self) -> float:
        return self.curve["wall_time"][-1] if self.generations else 0.0

    @property
    def interrupted(self) -> bool:
        return self.stopped_by == "interrupted"

    @property
    def done(self) -> bool:
        """Training is over for good: a resumed run goes straight to the evaluation."""
        return self.stopped_by not in ("", "interrupted")

    @property
    def env_steps(self) -> int:
        return self.curve["env_steps"][-1] if self.generations else 0


class Trainer:
    """What every trainer shares: the validation set, drawn once from the seed's own stream, and the score of a
    genome on it, the same fused Numba rollout whatever trained the genome, so that an ES centre and gradient
    parameters are judged alike; and `loop`, which runs the trainer's iterations in `train_loop`."""

    CURVE = CURVE
    ITERATIONS: str   # the protocol field counting the trainer's iterations (generations, updates)

    def __init__(self, trainer: dict, task, agent, *, seed: int):
        self.trainer, self.task, self.agent, self.seed = trainer, task, agent, seed
        self.validation = draw_episodes(task, agent, rng_for(seed, "validation"), trainer["eval_episodes"])

    def start(self, initial, observations=None) -> TrainResult:
        """The result before the first iteration: centre and best at the genome `initial`; with
        observation_norm running, the statistics `observations` (a curriculum's source run's), or none seen."""
        genome = np.asarray(initial, dtype=np.float64)
        if self.trainer["observation_norm"] == "running" and observations is None:
            observations = ObservationStats.start(self.task.obs_size)
        elif self.trainer["observation_norm"] != "running":
            observations = None
        return TrainResult(center=genome, best=genome, observations=observations, best_observations=observations)

    def validate(self, genome, observations: ObservationStats | None = None) -> float:
        """Mean validation return by the fused kernel (-inf when W diverged), the observations normalised by the
        statistics `observations` when given."""
        norm = None if observations is None else observations.normalisation()
        return float(fitness(rollout(self.agent, self.task, genome, self.validation, norm=norm))[0])

    def loop(self, step, result: TrainResult, freeze, on_generation=None, checkpoint=None) -> TrainResult:
        """`train_loop` over this trainer's iterations, validated on its validation set with the statistics
        frozen so far."""
        return train_loop(step, result, settings=self.trainer, iterations=self.trainer[self.ITERATIONS],
                          unit=self.ITERATIONS[:-1], freeze=freeze,
                          validate=lambda genome: self.validate(genome, result.observations),
                          optimum=self.task.optimum, on_generation=on_generation, checkpoint=checkpoint)


def fitness_status(scores) -> dict:
    """fitness_mean/max/min over the finite scores, and how many were not finite (diverged)."""
    scores = np.asarray(scores)
    finite = scores[np.isfinite(scores)]
    stats = (finite.mean(), finite.max(), finite.min()) if finite.size else (np.nan,) * 3
    return dict(zip(("fitness_mean", "fitness_max", "fitness_min"), map(float, stats)),
                diverged=int(scores.size - finite.size))


def train_loop(step, result: TrainResult, *, settings: dict, iterations: int, unit: str, validate, freeze,
               optimum: float, on_generation=None, checkpoint=None) -> TrainResult:
    """Run iterations result.generations .. iterations-1 and return result.

    step(i) → (centre after iteration i (size,) float64, status with fitness_mean, fitness_max, fitness_min,
    diverged and env_steps (so far), lost: True when nothing trainable is left and training must stop).
    validate(centre) → validation return. freeze() → the trainer's whole state, for checkpoint(state, iterations
    done), called every settings["checkpoint_every"] iterations and once more when training stops, unless a
    second Ctrl-C stopped it halfway through an iteration. settings also gives time_limit, eval_every, target
    and target_evaluations (with the task's optimum, NaN when unknown: when the run is solved); unit names an
    iteration to the user."""
    if result.done:
        return result
    result.stopped_by = ""
    with StopRequests(unit) as stop:
        try:
            _iterate(step, result, settings, iterations, validate, freeze, on_generation, checkpoint, stop,
                     _target(settings, optimum))
        except KeyboardInterrupt:  # a second Ctrl-C, halfway through an iteration: no whole state to save
            result.stopped_by = "interrupted"
            return result
    if checkpoint:
        checkpoint(freeze(), result.generations)
    return result


def _target(settings: dict, optimum: float):
    """The validation return that counts as solved, target × optimum; None when the run never stops so (target 0,
    or a task without a known optimum)."""
    return settings["target"] * optimum if settings["target"] and np.isfinite(optimum) else None


def _held(validations: list, target: float, needed: int) -> bool:
    """Whether the last `needed` evaluations of the curve (NaN between evaluations; -inf, a diverged centre,
    counts as below) all reached target. Read off the curve, so that a resumed run counts the evaluations before
    its checkpoint; walked from the end, so that a long run does not rescan its whole curve."""
    count = 0
    for value in reversed(validations):
        if np.isnan(value):
            continue
        if value < target:
            return False
        count += 1
        if count == needed:
            return True
    return False


def _iterate(step, result, settings, iterations, validate, freeze, on_generation, checkpoint, stop, target):
    limit, every = 60 * settings["time_limit"], settings["checkpoint_every"]
    start = time.perf_counter() - result.wall_time  # a resumed run gets what is left of the time limit
    for i in range(result.generations, iterations):
        result.center, status, lost = step(i)
        out_of_time = limit and time.perf_counter() - start >= limit
        out_of_steps = settings["env_steps"] and status["env_steps"] >= settings["env_steps"]
        validation = np.nan
        if i % settings["eval_every"] == 0 or i == iterations - 1 or out_of_time or out_of_steps:
            validation = validate(result.center)
            if validation > result.best_validation:
                result.best, result.best_validation = result.center, validation
                result.best_observations = result.observations
        status = status | dict(center_return=validation, wall_time=time.perf_counter() - start)
        for key in CURVE:
            result.curve[key].append(status[key])
        if on_generation:
            on_generation(i, status, result)
        solved = (target is not None and not np.isnan(validation)
                  and _held(result.curve["center_return"], target, settings["target_evaluations"]))
        result.stopped_by = ("diverged" if lost else "solved" if solved else "time_limit" if out_of_time else
                             "env_steps" if out_of_steps else "interrupted" if stop.requested else "")
        if result.stopped_by:
            return
        if checkpoint and every and (i + 1) % every == 0:
            checkpoint(freeze(), result.generations)
    result.stopped_by = "generations"


def fitness(result) -> np.ndarray:
    """Mean return per member, and -inf, the worst, for a member whose W diverged in any episode: its returns
    come from saturated or NaN activations and must not steer the search."""
    mean = result.returns.mean(axis=1)
    return np.where(result.diverged.any(axis=1) | ~np.isfinite(mean), -np.inf, mean)
