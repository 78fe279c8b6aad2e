"""One run, end to end: validated spec → task + agent + trainer → rollouts → dataset on disk; and its resumption
from a checkpoint. A protocol with a sweep is the sweep's (`experiments.sweep`; `experiments.run` dispatches)."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..agents import make_agent
from ..errors import UserError
from ..protocol import ProtocolError, dump, validate
from ..results import atomic_write, open_results, run_dataset, write, write_checkpoint
from ..results.checkpoint import NAME as CHECKPOINT
from ..rollout import ObservationStats, draw_episodes, rollout
from ..seeding import rng_for
from ..tasks import make_task
from . import provenance as record
from .workspace import OutputError, check_machine, check_unfinished, default_dir, prepare, read_run_checkpoint, unit, \
    why


def build(spec: dict):
    """Task, agent and trainer of a validated spec."""
    from ..trainers import TRAINERS   # here: the trainers load EvoTorch, and with it Ray, when a run starts

    check_machine(spec, spec["name"])
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    trainer = TRAINERS[spec["trainer"]["kind"]](spec["trainer"], task, agent, seed=spec["seed"])
    return task, agent, trainer


_BAR = "{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"


def run(spec: dict, *, out_dir=None, progress=True, command="", force=False) -> Path:
    """Train (ES or gradient: the same path), evaluate on held-out episodes, write DIR/results.nc; returns its
    path. Ctrl-C or SIGTERM during training ends it at the next iteration (generation or update) and still
    evaluates and writes; Ctrl-C during the evaluation writes the training alone. DIR/checkpoint.pkl is written
    every trainer.checkpoint_every iterations and when training stops, for `resume`. A DIR that already holds a
    run is refused unless `force`. One run: a protocol with a sweep goes to `experiments.run`."""
    out = Path(out_dir or spec["output"]["dir"] or default_dir(spec["name"]))
    task, agent, trainer = build(spec)
    initial = initial_genome(spec, agent)
    observations = initial_observations(spec, agent)
    prepare(out, spec, task, agent, existing="replace" if force else "refuse")
    atomic_write(out / "protocol.yaml", lambda tmp: Path(tmp).write_text(dump(spec)))
    about = dict(spec=spec, command=command, resumed=[], git_revision=record.git_revision())  # the code that starts
    return _train_and_write(out, about, task, agent, trainer, initial=initial,
                            observations=observations, progress=progress)


def initial_genome(spec: dict, agent) -> np.ndarray:
    """(size,) float64: the genome training starts from, the agent's initial one or the best genome of the run
    trainer.init_from names. An agent without parameters (random, a baseline put into a curriculum's protocol
    with --set) has nothing to start from: init_from is not read."""
    source = spec["trainer"]["init_from"]
    if not source or agent.layout.size == 0:
        return agent.initial(rng_for(spec["seed"], "init"))
    try:
        genome = open_results(source)["best_params"].values
    except (UserError, ProtocolError, KeyError) as error:
        why_not = error if isinstance(error, (UserError, ProtocolError)) else f"{source}: holds no best_params"
        raise UserError(f"trainer.init_from: expected a run's results.nc; {why_not}") from None
    if genome.size != agent.layout.size:
        raise UserError(f"trainer.init_from: expected a genome of {agent.layout.size} parameters (this protocol's "
                        f"agent on its task), {source} holds {genome.size}")
    return genome.astype(np.float64)


def initial_observations(spec: dict, agent) -> ObservationStats | None:
    """The observation statistics training starts from: those stored beside the best genome of the run
    trainer.init_from names, where it has them (its genome reads observations normalised by them), else None (none
    seen). A source trained with normalisation is refused for a protocol without."""
    source = spec["trainer"]["init_from"]
    if not source or agent.layout.size == 0:
        return None
    ds = open_results(source)   # initial_genome opened it first: a bad source has been refused already
    if "best_obs_mean" not in ds:
        return None
    if spec["trainer"]["observation_norm"] != "running":
        raise UserError(f"trainer.observation_norm: expected running with trainer.init_from {source} (its genome "
                        f"reads observations normalised by running statistics), got "
                        f"{spec['trainer']['observation_norm']}")
    return ObservationStats.of(ds["best_obs_mean"].attrs["count"], ds["best_obs_mean"].values,
                               ds["best_obs_std"].values)


def resume(run_dir, *, progress=True, command="") -> Path:
    """Continue the run in run_dir from its checkpoint; the dataset it writes equals, value for value, the one
    the run would have written had it never stopped (wall-clock attributes and coordinates aside)."""
    out = Path(run_dir)
    about = read_run_checkpoint(out)
    about["spec"] = spec = validate(about["spec"], f"{out / CHECKPOINT} (stored protocol)")
    check_unfinished(out)
    task, agent, trainer = build(spec)
    prepare(out, spec, task, agent, existing="keep")
    state = about.pop("trainer")
    about["resumed"] = about["resumed"] + [f"{unit(spec)} {about['generations']}: {command} "
                                           f"(git {record.git_revision()})"]
    return _train_and_write(out, about, task, agent, trainer, state=state, progress=progress)


def _train_and_write(out, about, task, agent, trainer, *, initial=None, observations=None, state=None,
                     progress=True) -> Path:
    spec = about["spec"]
    from ..trainers.cluster import NodeLost   # loaded with the trainer

    checkpoints = _Checkpoints(out, about)
    with _progress_bar(spec, progress) as show:
        try:
            result = trainer.train(initial, on_generation=show, state=state, checkpoint=checkpoints,
                                   observations=observations)
        except NodeLost as error:   # the trainer checkpointed the generation it could not finish
            saved = (f"python -m metods_sim resume {out} continues from {unit(spec)} {checkpoints.last}"
                     if checkpoints.last is not None else "no checkpoint was written: run it again")
            raise OutputError(f"{error}; {saved} (docs/cluster.md)") from None
    which = spec["evaluation"]["agent"]
    final = result.best if which == "best" else result.center
    try:
        test = draw_episodes(task, agent, rng_for(spec["seed"], "test"), spec["evaluation"]["episodes"])
        evaluation = rollout(agent, task, final, test, record=spec["recording"]["episodes"],
                             norm=result.normalisation(which))
        status = {"interrupted": "interrupted", "diverged": "diverged"}.get(result.stopped_by, "finished")
    except KeyboardInterrupt:
        evaluation, status = None, "interrupted"
    attrs = record.provenance(spec, about["command"], about.get("git_revision")) | dict(
        task_optimum=task.optimum, status=status, stopped_by=result.stopped_by,
        best_validation=result.best_validation, resumed="\n".join(about["resumed"]))
    ds = run_dataset(curve=result.curve, evaluation=evaluation, task=task, layout=agent.layout,
                     best=result.best, center=result.center, attrs=attrs,
                     rows=None if evaluation is None else test.data, observations=_observations(result))
    try:
        return write(ds, out / "results.nc")
    except (OSError, RuntimeError) as error:  # netCDF reports a full disk as RuntimeError('NetCDF: HDF error')
        saved = ("nor any checkpoint: make room and run it again" if checkpoints.last is None else
                 f"the checkpoint of {unit(spec)} {checkpoints.last} is in {out / CHECKPOINT}: make room, then run "
                 f"python -m metods_sim resume {out}")
        raise OutputError(f"{out / 'results.nc'}: cannot write the results ({why(error)}); {saved}") from None


def _observations(result) -> dict | None:
    """{best, center: (count, mean, std)}, the normalisation frozen beside each genome, for the dataset."""
    if result.observations is None:
        return None
    return {which: (stats.count,) + tuple(stats.normalisation()[:2])
            for which, stats in (("best", result.best_observations), ("center", result.observations))}


class _Checkpoints:
    """The trainer's checkpoint hook, writing DIR/checkpoint.pkl. A failed write (a full disk) warns once and
    training goes on: the previous checkpoint is intact, and the results may still fit at the end.
    last: the iterations done in the newest checkpoint on disk, None when there is none (the checkpoint's key
    is `generations` for every trainer, as the dataset's axis)."""

    def __init__(self, out: Path, about: dict):
        self.out, self.about, self.warned = out, about, False
        self.last = about.get("generations")

    def __call__(self, state, generations):
        try:
            write_checkpoint(self.out, **{**self.about, "generations": generations}, trainer=state)
            self.last = generations
        except OSError as error:
            if not self.warned:
                self.warned = True
                print(f"warning: {self.out / CHECKPOINT}: cannot write the checkpoint of {unit(self.about['spec'])} "
                      f"{generations} ({why(error)}); training goes on", file=sys.stderr)


@contextlib.contextmanager
def _progress_bar(spec, progress):
    """The on_generation hook: a bar of seconds with a time limit (so that its end and ETA mean something),
    else of environment steps with a budget of steps, else of iterations (generations or updates); a resumed
    run's bar starts where the run stopped."""
    from ..trainers import iterations

    limit, steps, name = 60 * spec["trainer"]["time_limit"], spec["trainer"]["env_steps"], unit(spec)[:3]
    total, bar_unit = (limit, "s") if limit else (steps, "step") if steps else (iterations(spec["trainer"]), name)
    with tqdm(total=total, desc=spec["name"], unit=bar_unit, unit_scale=bool(steps and not limit),
              disable=not progress, dynamic_ncols=True, bar_format=_BAR if limit else None) as bar:
        def show(i, status, result):
            done = status["wall_time"] if limit else status["env_steps"] if steps else i + 1
            bar.update(min(done, total) - bar.n)
            bar.set_postfix({name: i + 1, "fitness": f"{status['fitness_mean']:.3f}",
                             "best_val": f"{result.best_validation:.3f}"}, refresh=False)
        yield show
