"""One run, end to end: validated spec → task + agent + trainer → rollouts → dataset on disk."""
from __future__ import annotations

import datetime
import platform
import subprocess
from pathlib import Path

import numba
import numpy as np
import yaml
from tqdm.auto import tqdm

from . import __version__
from .agents import make_agent
from .protocol import ProtocolError, dump
from .results import run_dataset, write
from .rollout import draw_episodes, rollout
from .seeding import rng_for
from .tasks import make_task
from .trainers import TRAINERS


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


def default_dir(name: str) -> Path:
    return Path("runs") / name / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def run(spec: dict, *, out_dir=None, progress=True, command="") -> Path:
    """Train, evaluate on held-out episodes, write DIR/results.nc; returns its path. Ctrl-C during training ends
    it early and still evaluates and writes; Ctrl-C during the evaluation writes the training alone."""
    task, agent, trainer = build(spec)
    out = Path(out_dir or spec["output"]["dir"] or default_dir(spec["name"]))
    out.mkdir(parents=True, exist_ok=True)
    (out / "protocol.yaml").write_text(dump(spec))
    initial = agent.initial(rng_for(spec["seed"], "init"))
    t = spec["trainer"]
    limit = 60 * t["time_limit"]
    iterations = t["generations"] if "generations" in t else t["updates"]   # ES generations, gradient updates
    # with a time limit the bar counts seconds, so that its end and its ETA mean something
    with tqdm(total=limit or iterations, desc=spec["name"], unit="s" if limit else "gen",
              disable=not progress, dynamic_ncols=True, bar_format=_BAR if limit else None) as bar:
        def show(generation, status, result):
            bar.update(min(status["wall_time"], limit) - bar.n if limit else 1)
            bar.set_postfix(gen=generation + 1, fitness=f"{status['fitness_mean']:.3f}",
                            best_val=f"{result.best_validation:.3f}", refresh=False)
        result = trainer.train(initial, on_generation=show)
    final = result.best if spec["evaluation"]["agent"] == "best" else result.center
    try:
        test = draw_episodes(task, agent, rng_for(spec["seed"], "test"), spec["evaluation"]["episodes"])
        evaluation = rollout(agent, task, final, test, record=spec["recording"]["episodes"])
        status = "interrupted" if result.interrupted else "finished"
    except KeyboardInterrupt:
        evaluation, status = None, "interrupted"
    attrs = provenance(spec, command) | dict(task_optimum=task.optimum, status=status, stopped_by=result.stopped_by,
                                             best_validation=result.best_validation)
    ds = run_dataset(curve=result.curve, evaluation=evaluation, task=task, layout=agent.layout,
                     best=result.best, center=result.center, attrs=attrs)
    return write(ds, out / "results.nc")


def provenance(spec: dict, command: str = "") -> dict:
    """Everything needed to know how a dataset was made, as netCDF-safe attributes."""
    import evotorch
    import torch
    import xarray

    versions = {"metods_sim": __version__, "python": platform.python_version(), "numpy": np.__version__,
                "numba": numba.__version__, "evotorch": evotorch.__version__, "torch": torch.__version__,
                "xarray": xarray.__version__}
    versions = {k: str(v) for k, v in versions.items()}
    return dict(protocol=dump(spec), seed=int(spec["seed"]), versions=yaml.safe_dump(versions),
                git_revision=git_revision(), numba_threading_layer=threading_layer(),
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
