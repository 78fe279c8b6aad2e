"""Meta-training by evolution strategies through EvoTorch.

`EpisodeProblem` only scores a batch: every genome of the batch runs the same `episodes` episodes of the current
generation (common random numbers) in one fused rollout, and its fitness is its mean return. `ESTrainer` takes
one searcher step per generation inside the loop every trainer shares (`loop.train_loop`): the search centre
evaluated on the held-out validation episodes every `eval_every` generations, a status dict per generation handed
to the caller's hook, its whole state handed to the caller's checkpoint hook every `checkpoint_every` generations
and when it stops (Ctrl-C and SIGTERM end the loop at a generation boundary), and `train(state=...)` continuing
from such a state exactly as if it had never stopped. A member whose fast weights diverge gets the worst fitness,
-inf; a generation whose whole population diverged stops the run. With trainer.observation_norm running, every member
of a generation is fed the observations normalised by the statistics frozen before it (`problem.norm`), and the
observations its rollouts saw are merged into them after it (`TrainResult.observations`, in the checkpoint).
"""
from __future__ import annotations

import io
import pickle
import time

import numpy as np
import torch

from ..seeding import rng_for
from ..fields import ProtocolError, choice, integer, number
from . import cluster
from .loop import ENV_STEPS, INIT_FROM, OBSERVATION_NORM, TARGET, TIME_LIMIT, Trainer, TrainResult, fitness_status


class ESTrainer(Trainer):
    kind = "es"
    FIELDS = {
        "algorithm": choice("pgpe", "EvoTorch search algorithm.", ("pgpe", "snes", "xnes", "cmaes", "cem")),
        "generations": integer(3000, "Generations at most.", min=1),
        "time_limit": TIME_LIMIT,
        "env_steps": ENV_STEPS,
        "popsize": integer(256, "Population size (pgpe samples symmetric pairs: must be even).", min=2),
        "episodes": integer(8, "Episodes per member per generation; every member sees the same ones.", min=1),
        "stdev_init": number(0.05, "Initial standard deviation of the search distribution.", above=0),
        "center_lr": number(0.01, "Centre learning rate (pgpe, snes, xnes).", above=0),
        "stdev_lr": number(0.1, "Standard-deviation learning rate (pgpe, snes, xnes).", above=0),
        "optimizer": choice("clipup", "Optimizer of the pgpe centre.", ("clipup", "adam", "sgd")),
        "max_speed": number(0.02, "ClipUp maximum speed (pgpe with clipup).", above=0),
        "parenthood_ratio": number(0.25, "Share of the population that are parents (cem).", above=0, max=1),
        "eval_every": integer(25, "Generations between evaluations of the search centre on held-out episodes.",
                              min=1),
        "eval_episodes": integer(512, "Held-out episodes of each centre evaluation (the validation set).", min=1),
        "checkpoint_every": integer(100, "Generations between checkpoints (DIR/checkpoint.pkl, from which `python "
                                         "-m metods_sim resume DIR` continues); one is also written when training "
                                         "stops. 0: only then.", min=0),
        "device": choice("cpu", "Device of the ES arithmetic (rollouts always run on the CPU).", ("cpu", "cuda")),
        "num_actors": integer(0, "Ray actors evaluating the population (EvoTorch's mechanism); 0: this process.",
                              min=0),
        "init_from": INIT_FROM,
        "observation_norm": OBSERVATION_NORM,
        "action_noise": number(0.0, "On a continuous task (MuJoCo, Meta-World): the standard deviation σ of "
                                    "Gaussian noise added to every action of the training rollouts, action = "
                                    "clip(mean + σ ε, -1, 1), so that a member's fitness is earned under perturbed "
                                    "motor commands; validation, the final evaluation and `evaluate`/`impair` act "
                                    "as agent.action says (greedy: the mean). In training the genome's log_std "
                                    "block is not read (σ is this one). 0: none [ours: a robustness lever].",
                               min=0),
    } | TARGET

    @classmethod
    def check(cls, section, where, *, agent):
        """Rules across the `trainer` section's fields (each passed its own check) and the `agent` section."""
        if section["algorithm"] == "pgpe" and section["popsize"] % 2:
            raise ProtocolError(f"{where('trainer.popsize')}: expected an even number with algorithm pgpe (it "
                                f"samples symmetric pairs), got {section['popsize']}")
        if section["num_actors"] and section["device"] != "cpu":
            raise ProtocolError(f"{where('trainer.device')}: expected cpu when trainer.num_actors > 0 (EvoTorch's "
                                f"Ray actors run on the CPU), got {section['device']}")
        return section

    ITERATIONS = "generations"   # the protocol field counting this trainer's iterations
    DIVERGED = ("every member of generation {} diverged (non-finite fast weights W); the dataset holds the run "
                "until then. Bound W with agent.W_clip, or lower trainer.stdev_init or trainer.center_lr")

    def __init__(self, trainer: dict, task, agent, *, seed: int):
        super().__init__(trainer, task, agent, seed=seed)
        # join the Ray cluster (RAY_ADDRESS) now, before the run writes anything: one that does not answer is bad input
        if trainer["action_noise"] and not task.continuous:
            raise ProtocolError(f"trainer.action_noise: expected 0 on task {task.name}, whose actions are discrete "
                                f"(noise is added to continuous actions), got {trainer['action_noise']}")
        self.actors = cluster.connect(trainer["num_actors"]) if trainer["num_actors"] else 0

    @staticmethod
    def state_floats(trainer: dict, size: int, task=None) -> int:
        """About how many floats a checkpoint's searcher holds: the population, a few vectors of the
        distribution and its optimizer, and xnes's full size × size matrix."""
        covariance = size if trainer["algorithm"] == "xnes" else 0
        return size * (trainer["popsize"] + 16 + covariance)

    def train(self, initial=None, on_generation=None, *, state=None, checkpoint=None, observations=None) -> TrainResult:
        from . import search   # EvoTorch, and with it Ray: loaded when a run trains, not with the protocol

        """Meta-train from the genome `initial` (and, with observation_norm running, the statistics
        `observations`: none seen when None), or continue from `state`, a state this trainer handed to
        `checkpoint`: checkpoint(state, generations done) is called every trainer.checkpoint_every generations
        and once more when training stops, unless a second Ctrl-C stopped it halfway through a generation."""
        if self.agent.layout.size == 0:
            return self._nothing_to_train(initial, observations)
        t = self.trainer
        problem = self._problem()
        if state is None:
            torch.manual_seed(int(rng_for(self.seed, "search").integers(2**31)))
            searcher = search.make_searcher(t, problem, initial)
            result = self.start(initial, observations)
        else:
            searcher, result = _thaw(state, problem)

        def generation(g):
            problem.generation = g
            problem.norm, problem.seen = result.normalisation(), []
            before = _freeze(searcher, problem, result) if self.actors >= 2 else None
            try:
                searcher.step()
            except Exception as error:
                if not cluster.lost(error):
                    raise
                if checkpoint:   # the state before this generation: resuming runs it again, whole
                    checkpoint(before, g)
                raise cluster.NodeLost(f"a Ray node was lost during {self.ITERATIONS[:-1]} {g} "
                                       f"({cluster.first_line(error)})") from None
            if result.observations is not None and problem.seen:   # this generation's observations, for the next
                result.observations = result.observations.merged(*(np.concatenate(part) for part in
                                                                   zip(*problem.seen)))
            center = searcher.status["center"].detach().cpu().numpy().astype(np.float64)
            evals = searcher.population.evals[:, 0].detach().cpu().numpy()
            status = fitness_status(evals) | dict(env_steps=problem.env_steps)
            return center, status, status["diverged"] == len(evals)   # the whole population diverged

        try:
            return self.loop(generation, result, lambda: _freeze(searcher, problem, result), on_generation,
                             checkpoint)
        finally:
            cluster.release(problem)   # their CPUs, for the next run of a sweep

    def _problem(self):
        """The problem, its Ray actors started; when a node dies as they start (one that Ray had not yet marked
        dead), they start again on the nodes left."""
        from . import search

        t = self.trainer
        for attempt in range(5):
            problem = search.EpisodeProblem(self.task, self.agent, episodes=t["episodes"], seed=self.seed,
                                            device=t["device"], num_actors=self.actors,
                                            action_noise=t["action_noise"])
            if self.actors < 2:   # EvoTorch runs a single actor's work in this process
                return problem
            try:
                # start the Ray actors now: their start-up draws from torch's global RNG, which must not shift the
                # searcher's samples (a run with actors equals the same run without)
                cluster.place(problem)
                return problem
            except cluster.NodeLost:
                if attempt == 4:
                    raise
                time.sleep(5)   # for Ray to count the node out
                self.actors = cluster.connect(t["num_actors"])

    def _nothing_to_train(self, initial, observations) -> TrainResult:
        """An agent without parameters (random) has no search space (and EvoTorch cannot search a 0-length
        vector): no generation runs, and no checkpoint is written; its genome is scored on the validation
        episodes, so that best_validation means what it means for a trained agent."""
        result = self.start(np.zeros(0) if initial is None else initial, observations)
        result.best_validation = self.validate(result.center, result.observations)
        result.stopped_by = "no_parameters"
        return result


# The searcher is pickled whole (its distribution, its optimizer's state such as ClipUp's velocity, CMA-ES's
# paths, ...), which works for every EvoTorch algorithm alike; its problem is left out as a reference and
# replaced by the resumed run's own, which holds the task, the agent and maybe Ray actors, none of them state.
class _Pickler(pickle.Pickler):
    def __init__(self, file, problem):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.problem = problem

    def persistent_id(self, obj):
        return "problem" if obj is self.problem else None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, problem):
        super().__init__(file)
        self.problem = problem

    def persistent_load(self, pid):
        return self.problem


def _freeze(searcher, problem, result) -> bytes:
    """The trainer's state as one immutable snapshot: searcher, torch's RNG, the result so far."""
    buffer = io.BytesIO()
    _Pickler(buffer, problem).dump((searcher, torch.get_rng_state(), result))
    return buffer.getvalue()


def _thaw(state: bytes, problem):
    searcher, torch_rng, result = _Unpickler(io.BytesIO(state), problem).load()
    torch.set_rng_state(torch_rng)
    problem.env_steps = result.env_steps
    return searcher, result
