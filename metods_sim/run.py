"""One run, end to end: validated spec → task + agent + trainer → rollouts → dataset on disk."""
from __future__ import annotations

import contextlib
import datetime
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numba
import numpy as np
import yaml
from tqdm.auto import tqdm

from . import __version__
from .agents import make_agent
from .protocol import ProtocolError, dump, validate
from .results import atomic_write, load, open_results, read_checkpoint, run_dataset, write, write_checkpoint
from .results.checkpoint import NAME as CHECKPOINT
from .rollout import draw_episodes, rollout
from .seeding import rng_for
from .tasks import make_task
from .trainers import TRAINERS, iterations
from .trainers.cluster import NodeLost


def check_machine(spec: dict, source: str) -> None:
    """Refuse, with a ProtocolError, what a valid protocol asks but this machine cannot run."""
    if spec["trainer"]["device"] == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ProtocolError(f"{source}: trainer.device: expected cpu on this machine (torch sees no CUDA GPU), "
                                f"got 'cuda'")


def build(spec: dict):
    """Task, agent and trainer of a validated spec."""
    check_machine(spec, spec["name"])
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    trainer = TRAINERS[spec["trainer"]["kind"]](spec["trainer"], task, agent, seed=spec["seed"])
    return task, agent, trainer


_BAR = "{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"


class OutputError(RuntimeError):
    """The results could not be written after training, or a Ray node was lost during it (the checkpoint holds the
    run); str(error) is the one line shown to the user."""


def default_dir(name: str) -> Path:
    """runs/<name>/<time>, with a suffix when a run started in the same second already took it."""
    base = Path("runs") / name / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def run(spec: dict, *, out_dir=None, progress=True, command="", force=False) -> Path:
    """Train (ES or gradient: the same path), evaluate on held-out episodes, write DIR/results.nc; returns its
    path. Ctrl-C or SIGTERM during training ends it at the next iteration (generation or update) and still
    evaluates and writes; Ctrl-C during the evaluation writes the training alone. DIR/checkpoint.pkl is written
    every trainer.checkpoint_every iterations and when training stops, for `resume`. A DIR that already holds a
    run is refused unless `force`. A protocol with a sweep runs each of its runs in a directory under DIR
    (`metods_sim.sweep`)."""
    out = Path(out_dir or spec["output"]["dir"] or default_dir(spec["name"]))
    if spec["sweep"]:
        from .sweep import run_sweep

        return run_sweep(spec, out, progress=progress, command=command, force=force)
    task, agent, trainer = build(spec)
    initial = initial_genome(spec, agent)
    prepare(out, spec, task, agent, existing="replace" if force else "refuse")
    atomic_write(out / "protocol.yaml", lambda tmp: Path(tmp).write_text(dump(spec)))
    about = dict(spec=spec, command=command, resumed=[], git_revision=git_revision())   # the code that starts
    return _train_and_write(out, about, task, agent, trainer, initial=initial, progress=progress)


def initial_genome(spec: dict, agent) -> np.ndarray:
    """(size,) float64: the genome training starts from, the agent's initial one or the best genome of the run
    trainer.init_from names. An agent without parameters (random, a baseline put into a curriculum's protocol
    with --set) has nothing to start from: init_from is not read."""
    source = spec["trainer"]["init_from"]
    if not source or agent.layout.size == 0:
        return agent.initial(rng_for(spec["seed"], "init"))
    try:
        genome = open_results(source)["best_params"].values
    except (ProtocolError, KeyError) as error:
        why = error if isinstance(error, ProtocolError) else f"{source}: holds no best_params"
        raise ProtocolError(f"trainer.init_from: expected a run's results.nc; {why}") from None
    if genome.size != agent.layout.size:
        raise ProtocolError(f"trainer.init_from: expected a genome of {agent.layout.size} parameters (this protocol's "
                            f"agent on its task), {source} holds {genome.size}")
    return genome.astype(np.float64)


def resume(run_dir, *, progress=True, command="") -> Path:
    """Continue the run in run_dir from its checkpoint; the dataset it writes equals, value for value, the one
    the run would have written had it never stopped (wall-clock attributes and coordinates aside)."""
    out = Path(run_dir)
    if not (out / CHECKPOINT).exists() and (out / "protocol.yaml").exists():
        spec = validate(yaml.safe_load((out / "protocol.yaml").read_text()), f"{out / 'protocol.yaml'}")
        if spec["sweep"]:
            from .sweep import run_sweep

            _check_unfinished(out)
            return run_sweep(spec, out, progress=progress, command=command, resuming=True)
    about = _read_checkpoint(out)
    about["spec"] = spec = validate(about["spec"], f"{out / CHECKPOINT} (stored protocol)")
    _check_unfinished(out)
    task, agent, trainer = build(spec)
    prepare(out, spec, task, agent, existing="keep")
    state = about.pop("trainer")
    about["resumed"] = about["resumed"] + [f"{_unit(spec)} {about['generations']}: {command} (git {git_revision()})"]
    return _train_and_write(out, about, task, agent, trainer, state=state, progress=progress)


def _train_and_write(out, about, task, agent, trainer, *, initial=None, state=None, progress=True) -> Path:
    spec = about["spec"]
    checkpoints = _Checkpoints(out, about)
    with _progress_bar(spec, progress) as show:
        try:
            result = trainer.train(initial, on_generation=show, state=state, checkpoint=checkpoints)
        except NodeLost as error:   # the trainer checkpointed the generation it could not finish
            saved = (f"python -m metods_sim resume {out} continues from {_unit(spec)} {checkpoints.last}"
                     if checkpoints.last is not None else "no checkpoint was written: run it again")
            raise OutputError(f"{error}; {saved} (docs/cluster.md)") from None
    final = result.best if spec["evaluation"]["agent"] == "best" else result.center
    try:
        test = draw_episodes(task, agent, rng_for(spec["seed"], "test"), spec["evaluation"]["episodes"])
        evaluation = rollout(agent, task, final, test, record=spec["recording"]["episodes"])
        status = {"interrupted": "interrupted", "diverged": "diverged"}.get(result.stopped_by, "finished")
    except KeyboardInterrupt:
        evaluation, status = None, "interrupted"
    attrs = provenance(spec, about["command"], about.get("git_revision")) | dict(
        task_optimum=task.optimum, status=status, stopped_by=result.stopped_by,
        best_validation=result.best_validation, resumed="\n".join(about["resumed"]))
    ds = run_dataset(curve=result.curve, evaluation=evaluation, task=task, layout=agent.layout,
                     best=result.best, center=result.center, attrs=attrs,
                     rows=None if evaluation is None else test.data)
    try:
        return write(ds, out / "results.nc")
    except (OSError, RuntimeError) as error:  # netCDF reports a full disk as RuntimeError('NetCDF: HDF error')
        saved = ("nor any checkpoint: make room and run it again" if checkpoints.last is None else
                 f"the checkpoint of {_unit(spec)} {checkpoints.last} is in {out / CHECKPOINT}: make room, then run "
                 f"python -m metods_sim resume {out}")
        raise OutputError(f"{out / 'results.nc'}: cannot write the results ({_why(error)}); {saved}") from None


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
                print(f"warning: {self.out / CHECKPOINT}: cannot write the checkpoint of {_unit(self.about['spec'])} "
                      f"{generations} ({_why(error)}); training goes on", file=sys.stderr)


@contextlib.contextmanager
def _progress_bar(spec, progress):
    """The on_generation hook: a bar of seconds with a time limit (so that its end and ETA mean something),
    else of iterations (generations or updates); a resumed run's bar starts where the run stopped."""
    limit, unit = 60 * spec["trainer"]["time_limit"], _unit(spec)[:3]
    with tqdm(total=limit or iterations(spec["trainer"]), desc=spec["name"], unit="s" if limit else unit,
              disable=not progress, dynamic_ncols=True, bar_format=_BAR if limit else None) as bar:
        def show(i, status, result):
            bar.update((min(status["wall_time"], limit) if limit else i + 1) - bar.n)
            bar.set_postfix({unit: i + 1, "fitness": f"{status['fitness_mean']:.3f}",
                             "best_val": f"{result.best_validation:.3f}"}, refresh=False)
        yield show


def _unit(spec: dict) -> str:
    """What one iteration of the spec's trainer is called: generation (ES) or update (gradient)."""
    return TRAINERS[spec["trainer"]["kind"]].ITERATIONS[:-1]


def prepare(out: Path, spec: dict, task, agent, *, existing: str = "refuse") -> None:
    """Refuse, with a ProtocolError and before any training, a run directory that cannot be written, lacks the
    space the run needs, or holds a run already when `existing` is "refuse" ("replace": delete that run, for
    --force; "keep": for resume)."""
    held = [out / name for name in ("results.nc", CHECKPOINT) if (out / name).exists()]
    if held and existing == "refuse":
        raise ProtocolError(f"{out}: holds a run already ({', '.join(p.name for p in held)}); choose another "
                            f"--out, pass --force to replace it, or continue it with python -m metods_sim resume "
                            f"{out}")
    _check_writable(out, bytes_needed(spec, task, agent))
    if existing == "replace":
        for path in held:
            path.unlink()
    for leftover in out.glob(".*.part"):  # the temporary file of a write that a kill cut short
        leftover.unlink()


def prepare_sweep(out: Path, spec: dict, *, existing: str) -> None:
    """`prepare` for a sweep's directory: the same refusals, room for all its runs; "replace" deletes the
    gathered results and the run directories a sweep writes (NN-name/seed-N), nothing else."""
    from .protocol.sweep import runs
    from .sweep import run_dir

    plan = list(runs(spec))
    names = list(spec["sweep"]["variants"])
    dirs = [run_dir(out, names.index(name), name, seed) for name, seed, _ in plan]
    held = [p for p in [out / "results.nc"] + dirs if p.exists()]
    if held and existing == "refuse":
        raise ProtocolError(f"{out}: holds a sweep already ({held[0].relative_to(out)}); choose another --out, "
                            f"pass --force to replace it, or continue it with python -m metods_sim resume {out}")
    need = sum(bytes_needed(sub, make_task(sub["task"]), make_agent(sub["agent"], make_task(sub["task"])))
               for _, _, sub in plan)
    _check_writable(out, need)
    if existing == "replace":
        for path in held:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def bytes_needed(spec: dict, task, agent) -> int:
    """An upper estimate of what a run writes: results.nc plus two checkpoints (a new one is written beside the
    old before replacing it). Float64 throughout; MetODS's recorded W dominates."""
    t, size, R = spec["trainer"], agent.layout.size, min(spec["recording"]["episodes"], spec["evaluation"]["episodes"])
    trainer = TRAINERS[t["kind"]]
    curve = len(trainer.CURVE) * iterations(t)
    per_step = sum(int(np.prod(shape or 0)) for shape in agent.record_shapes) + task.obs_size + 4
    results = curve + spec["evaluation"]["episodes"] * (3 + task.n_metrics) + R * task.max_steps * per_step
    checkpoint = curve + trainer.state_floats(t, size)
    return 8 * (results + 2 * size + 2 * checkpoint) + 2**20


def _check_writable(out: Path, need: int) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise ProtocolError(f"{out}: cannot write the run directory ({_why(error)})") from None
    free = shutil.disk_usage(out).free
    if free < need:
        raise ProtocolError(f"{out}: the run needs about {_size(need)} for its results and checkpoints, "
                            f"{_size(free)} free")


def _why(error) -> str:
    return getattr(error, "strerror", None) or str(error)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000


def _read_checkpoint(out: Path) -> dict:
    try:
        return read_checkpoint(out)
    except FileNotFoundError:
        if not out.is_dir():
            raise ProtocolError(f"{out}: no such run directory") from None
        raise ProtocolError(f"{out}: no {CHECKPOINT} to resume from (a run writes one every "
                            f"trainer.checkpoint_every generations or updates and when training stops)") from None
    except (OSError, ValueError) as error:
        raise ProtocolError(f"{out / CHECKPOINT}: cannot resume from it ({error})") from None


def _check_unfinished(out: Path) -> None:
    """A run that finished (or stopped because it diverged) has nothing left to do."""
    try:
        status = load(out / "results.nc").attrs.get("status")
    except (OSError, ValueError):
        return  # no results yet (killed), or unreadable: resuming writes them anew
    if status != "interrupted":
        raise ProtocolError(f"{out}: the run is over (results.nc has status {status}); nothing to resume")


def provenance(spec: dict, command: str = "", revision: str | None = None) -> dict:
    """Everything needed to know how a dataset was made, as netCDF-safe attributes. revision: the git revision
    of the code as the work began (the checkout may have moved on during a long run), else read now."""
    import evotorch
    import torch
    import xarray

    versions = {"metods_sim": __version__, "python": platform.python_version(), "numpy": np.__version__,
                "numba": numba.__version__, "evotorch": evotorch.__version__, "torch": torch.__version__,
                "xarray": xarray.__version__}
    versions = {k: str(v) for k, v in versions.items()}
    return dict(protocol=dump(spec), seed=int(spec["seed"]), versions=yaml.safe_dump(versions),
                git_revision=revision or git_revision(), numba_threading_layer=threading_layer(),
                numba_threads=numba.get_num_threads(), machine=f"{platform.machine()}, {numba.config.NUMBA_NUM_THREADS} cores",
                created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                command=command)


def git_revision() -> str:
    """HEAD of the checkout holding this package, with -dirty when it has uncommitted changes; 'unknown'
    outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev.stdout.strip() + ("-dirty" if dirty else "")


def threading_layer() -> str:
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel region has run yet in this process
        return "not initialised"
