"""The dataset of a run.

    generation                     fitness_mean, fitness_max, fitness_min (over the members that did not
                                   diverge), center_return (NaN between centre evaluations, -inf when the
                                   centre diverged), diverged (members whose state, MetODS's W, became
                                   non-finite); coordinates env_steps, wall_time (s); no generation for
                                   an agent without parameters (random)
    episode                        eval_return, eval_steps, eval_diverged (0/1); eval_<metric> (episode,
                                   <metric_dim>), e.g. eval_correct (episode, trial) for Harlow, eval_reward
                                   (episode, step) on a MuJoCo task, and its mean over episodes,
                                   eval_reward_curve (step); the task's episode_stats, e.g.
                                   eval_first_reward, eval_success (episode) for the maze; the task's
                                   episode_labels as coordinates, e.g. goal_x, goal_y or goal_velocity
                                   (episode) on a MuJoCo task, env_name (episode) on Meta-World
    sample, time[, post, pre]      W (sample, time, post, pre), activation (sample, time, neuron) = v_S,
                                   action (sample, time[, actuator]), reward, value, observation (sample,
                                   time, obs) for the first
                                   `recording.episodes` test episodes; sample_length = steps each took.
                                   W only for MetODS; activation is h for rl2 and feedforward (maml:
                                   its last hidden layer), absent for random
    param                          best_params, center_params; coordinates param_block (f, g, alpha, kappa, beta,
                                   proj, W0 for MetODS; gru, g for rl2; f1, f2, g for maml) and param_name
                                   (f.weight, ...); empty for the random agent
    obs                            with trainer.observation_norm running: best_obs_mean, best_obs_std,
                                   center_obs_mean, center_obs_std, the observation normalisation frozen beside
                                   each genome (what its validation used and `evaluate` applies); attribute
                                   count: the observations they were gathered from
    attrs                          protocol (YAML), seed, versions (YAML), git_revision, numba_threading_layer,
                                   task_optimum, status, stopped_by, created, command, resumed
netCDF attributes hold no dicts, None or bools: configuration is stored as YAML text.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from .atomic import atomic_write


def run_dataset(*, curve: dict, evaluation, task, layout, best, center, attrs: dict, rows=None,
                observations=None) -> xr.Dataset:
    """curve: {name: (G,)} with env_steps and wall_time among them; evaluation: Rollouts of one agent on the test
    episodes, with its recorded sample when it has one, or None (a run interrupted before it); rows: the test
    episodes' task rows (E, D); best/center: (size,) genomes; observations: {"best": (count, mean, std), "center":
    ...} the observation normalisation beside each genome, or None (observation_norm none)."""
    G = len(curve["fitness_mean"])
    ds = xr.Dataset(coords={"generation": np.arange(G),
                            "env_steps": ("generation", np.asarray(curve["env_steps"], dtype=np.int64)),
                            "wall_time": ("generation", np.asarray(curve["wall_time"], dtype=np.float64))})
    for name in ("fitness_mean", "fitness_max", "fitness_min", "center_return"):
        ds[name] = ("generation", np.asarray(curve[name], dtype=np.float64))
    ds["diverged"] = ("generation", np.asarray(curve["diverged"], dtype=np.int64))
    ds["wall_time"].attrs["units"] = "s"
    ds["center_return"].attrs["description"] = "mean return of the search centre on the validation episodes"
    if evaluation is not None:
        ds = ds.merge(evaluation_dataset(evaluation, task, rows))
    ds = ds.assign_coords(param=np.arange(layout.size), param_block=("param", layout.blocks()),
                          param_name=("param", layout.names()))
    ds["best_params"] = ("param", np.asarray(best, dtype=np.float64))
    ds["center_params"] = ("param", np.asarray(center, dtype=np.float64))
    for which, (count, mean, std) in (observations or {}).items():
        ds[f"{which}_obs_mean"] = ("obs", np.asarray(mean, dtype=np.float64), {"count": float(count)})
        ds[f"{which}_obs_std"] = ("obs", np.asarray(std, dtype=np.float64), {"count": float(count)})
    ds.attrs.update(attrs)
    return ds


def evaluation_dataset(evaluation, task, rows=None) -> xr.Dataset:
    """eval_return (episode), eval_steps (episode), eval_<metric> (episode, <metric_dim>) of one agent, and its
    recorded sample (W, activation, ...) when the rollout recorded one; with the episodes' task rows (E, D), the
    task's episode_labels as coordinates along episode."""
    E = evaluation.returns.shape[1]
    ds = xr.Dataset(coords={"episode": np.arange(E), task.metric_dim: np.arange(1, task.n_metrics + 1)})
    if rows is not None:
        ds = ds.assign_coords({name: ("episode", values) for name, values in task.episode_labels(rows).items()})
    ds["eval_return"] = ("episode", evaluation.returns[0])
    ds["eval_steps"] = ("episode", evaluation.steps[0])
    ds["eval_diverged"] = ("episode", evaluation.diverged[0].astype(np.int8))  # netCDF has no booleans
    ds[f"eval_{task.metric}"] = (("episode", task.metric_dim), evaluation.metrics[0])
    for name, values in task.episode_stats(evaluation.metrics[0]).items():
        ds[f"eval_{name}"] = ("episode", values)
    for name, values in task.curves(evaluation.metrics[0]).items():
        ds[f"eval_{name}"] = (task.metric_dim, values)
    return ds if evaluation.action is None else ds.merge(_recording(evaluation))


def _recording(rec) -> xr.Dataset:
    """W and activation only for an agent that records them (W: MetODS)."""
    dims = ("sample", "time")
    ds = xr.Dataset(coords={"sample": np.arange(rec.action.shape[0]), "time": np.arange(rec.action.shape[1])})
    if rec.W is not None:
        ds["W"] = (dims + ("post", "pre"), rec.W)
    if rec.v is not None:
        ds["activation"] = (dims + ("neuron",), rec.v)
    ds["action"] = (dims + ("actuator",) * (rec.action.ndim - 2), rec.action)   # a vector on a MuJoCo task
    ds["reward"] = (dims, rec.reward)
    ds["value"] = (dims, rec.value)
    ds["observation"] = (dims + ("obs",), rec.obs)
    ds["sample_length"] = ("sample", rec.steps[0, : rec.action.shape[0]])
    return ds


def write(ds: xr.Dataset, path) -> Path:
    """Write atomically: a reader sees either no file or the whole file, never half of one."""
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4", encoding=_compressed(ds)))


def _compressed(ds: xr.Dataset) -> dict:
    """zlib for every numeric variable: a recorded W is zero after its episode's end (60-step buffers, ~20-step
    Harlow episodes), so compression makes a recording of a hundred episodes small enough to ship."""
    return {name: {"zlib": True, "complevel": 4, "shuffle": True}
            for name, var in ds.variables.items() if var.dtype.kind in "biuf" and var.ndim > 0}


def open_results(path) -> xr.Dataset:
    """`load`, for paths given on the command line: a missing or unreadable file is a UserError (one line
    naming it, exit status 2), not a traceback."""
    from ..errors import UserError

    try:
        return load(path)
    except (FileNotFoundError, OSError, ValueError) as error:
        raise UserError(f"{path}: cannot open as a results dataset ({error.__class__.__name__})") from None


def load(path) -> xr.Dataset:
    """Open a run's results.nc (or the run directory holding it) fully into memory."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.nc"
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()


def sweep_dataset(runs: dict, variants: dict, seeds: list, attrs: dict) -> xr.Dataset:
    """One dataset over (variant, seed) from the run datasets {(variant, seed): ds} of a sweep (a run not there
    yet, e.g. after Ctrl-C, is all NaN). Kept: the training curve (generation; env_steps and wall_time become
    (variant, seed, generation) coordinates, shorter runs padded with NaN) and the final evaluation (episode);
    genomes and recordings differ in shape between variants and stay in each run's own results.nc.
    variants: {name: {key.path: value}}, stored as the coordinate variant_changes (YAML text)."""
    kept = [_evaluation_and_curve(runs[key]) if key in runs else None for key in
            [(v, s) for v in variants for s in seeds]]
    template = next(ds for ds in kept if ds is not None)
    filled = [ds if ds is not None else xr.full_like(template, np.nan).isel(generation=slice(0, 0))
              for ds in kept]
    rows = [xr.concat(filled[i * len(seeds):(i + 1) * len(seeds)], "seed", join="outer")
            for i in range(len(variants))]
    ds = xr.concat(rows, "variant", join="outer")
    ds = ds.assign_coords(variant=list(variants), seed=list(seeds),
                          variant_changes=("variant", [_yaml(c) for c in variants.values()]))
    ds["run_status"] = (("variant", "seed"), np.array([[runs[(v, s)].attrs.get("status", "unknown")
                                                        if (v, s) in runs else "not run" for s in seeds]
                                                       for v in variants], dtype=object))
    ds.attrs.update(attrs)
    return ds


def _evaluation_and_curve(ds: xr.Dataset) -> xr.Dataset:
    names = [n for n, v in ds.data_vars.items() if set(v.dims) <= {"generation", "episode"} | _metric_dims(ds)]
    out = ds[names].reset_coords(["env_steps", "wall_time"])
    return out.set_coords(["env_steps", "wall_time"]).drop_attrs()


def _metric_dims(ds):
    return {d for d in ds.dims if d not in ("generation", "episode", "param", "sample", "time", "post", "pre",
                                            "neuron", "obs")}


def _yaml(changes: dict) -> str:
    import yaml

    return yaml.safe_dump(changes, default_flow_style=True).strip() if changes else "{}"
