"""Re-evaluate a trained agent from its dataset on fresh episodes, optionally on a changed task."""
from __future__ import annotations

from pathlib import Path

from ..agents import make_agent
from ..errors import UserError
from ..protocol import apply_override, parse, validate
from ..results import evaluation_dataset, open_results
from ..rollout import Normalisation, draw_episodes, rollout
from ..seeding import rng_for
from ..tasks import make_task
from .provenance import provenance


def evaluate(path, *, episodes=None, overrides=(), seed=0, agent=None, record=0, command=None):
    """Returns an xarray.Dataset with eval_return, eval_steps and eval_<metric> over fresh test episodes (the
    observations normalised as the run froze them beside the genome, where it did), and, with record > 0, the
    recorded behaviour (W, activation, action, reward, value, observation over sample, time) of the first
    `record` of them."""
    path = Path(path)
    ds = open_results(path)
    if "protocol" not in ds.attrs or "best_params" not in ds:
        raise UserError(f"{path}: not a metods_sim results dataset (no protocol attribute or best_params)")
    raw = parse(ds.attrs["protocol"], f"{path} (stored protocol)")
    origins = {apply_override(raw, item): f"--set {item}" for item in overrides}   # errors name the option
    spec = validate(raw, f"{path} (stored protocol with --set)", origins)
    task = make_task(spec["task"])
    brain = make_agent(spec["agent"], task)
    which = agent or spec["evaluation"]["agent"]
    genome = ds[f"{which}_params"].values
    if brain.layout.size == 0:   # a parameter-free baseline put in by --set agent=...: the stored genome is not its
        genome = genome[:0]
    if genome.size != brain.layout.size:
        raise UserError(f"{path}: the stored agent has {genome.size} parameters but the changed task needs "
                            f"{brain.layout.size}; only change task fields that keep the observation and actions")
    norm = stored_normalisation(ds, which)   # the statistics the run froze beside the genome
    if norm is not None and norm.mean.size != task.obs_size:
        raise UserError(f"{path}: the stored agent reads {norm.mean.size} normalised observations but the changed "
                        f"task gives {task.obs_size}; only change task fields that keep the observation and actions")
    n = episodes or spec["evaluation"]["episodes"]
    episodes = draw_episodes(task, brain, rng_for(seed, "reevaluate"), n)
    result = rollout(brain, task, genome, episodes, record=record, norm=norm)
    out = evaluation_dataset(result, task, episodes.data)
    out.attrs.update(provenance(spec, command=command or f"evaluate {path}"))
    out.attrs.update(task_optimum=task.optimum, evaluated_agent=which, source=str(path),
                     source_git_revision=ds.attrs.get("git_revision", "unknown"), status="finished")
    return out


def stored_normalisation(ds, which: str) -> Normalisation | None:
    """The observation normalisation a run's dataset stores beside its `which` (best, center) genome; None where
    it stores none (observation_norm none)."""
    if f"{which}_obs_mean" not in ds:
        return None
    return Normalisation(ds[f"{which}_obs_mean"].values, ds[f"{which}_obs_std"].values)
