"""The headline numbers of a run or evaluation dataset."""
from __future__ import annotations

import numpy as np
import xarray as xr
import yaml


def correct_by_trial(ds: xr.Dataset) -> xr.DataArray:
    """Share of test episodes in which the rewarded object was chosen, per presentation (trial)."""
    return ds["eval_correct"].mean("episode")


def later_correct(ds: xr.Dataset, first: int = 2) -> float:
    """Share of correct choices over presentations first..last (the one-shot score; presentation 1 is a coin
    flip)."""
    return float(ds["eval_correct"].sel(trial=slice(first, None)).mean())


def summary(ds: xr.Dataset) -> dict:
    out = {"status": ds.attrs.get("status", "unknown")}
    if "generation" in ds.dims:
        out.update(generations=int(ds.sizes["generation"]), env_steps=int(ds["env_steps"].values[-1])
                   if ds.sizes["generation"] else 0,
                   wall_time=float(ds["wall_time"].values[-1]) if ds.sizes["generation"] else 0.0)
    if "eval_return" in ds:
        returns = ds["eval_return"].values
        out.update(episodes=int(returns.size), return_mean=float(returns.mean()),
                   return_sem=float(returns.std(ddof=1) / np.sqrt(returns.size)) if returns.size > 1 else 0.0)
        out["return_std"] = float(returns.std(ddof=1)) if returns.size > 1 else 0.0
        if np.isfinite(float(ds.attrs.get("task_optimum", np.nan))):
            out["optimum"] = float(ds.attrs["task_optimum"])
            out["return_ratio"] = out["return_mean"] / out["optimum"]
    if "eval_correct" in ds:
        out["correct_by_trial"] = [float(x) for x in correct_by_trial(ds).values]
        if ds.sizes["trial"] > 1:
            out["correct_later"] = later_correct(ds)
    if "eval_first_reward" in ds:
        first = ds["eval_first_reward"].values
        out.update(first_reward_mean=float(first.mean()), first_reward_std=float(first.std(ddof=1))
                   if first.size > 1 else 0.0, success=float(ds["eval_success"].mean()))
    if "eval_success_rate" in ds:   # Meta-World: success per rollout
        out["success_by_rollout"] = [float(x) for x in ds["eval_success"].mean("episode").values]
        if "env_name" in ds.coords and np.unique(ds["env_name"].values).size > 1:   # ML10: which environments
            by = ds["eval_success_rate"].groupby("env_name").mean()
            out["success_by_environment"] = {str(k): float(v) for k, v in zip(by["env_name"].values, by.values)}
    return out


def sweep_text(ds: xr.Dataset) -> str:
    """The final evaluation of each variant of a sweep dataset (variant, seed, episode), a line each."""
    from .curves import ablation_table

    table = ablation_table(ds)
    seeds = ds.sizes.get("seed", 1)
    lines = [f"status: {ds.attrs.get('status', 'unknown')}; {ds.sizes['variant']} variants × {seeds} seeds, "
             f"held-out return mean ± s.e.m. over {'seeds' if seeds > 1 else 'episodes'}"]
    width = max(len(str(v)) for v in table["variant"].values)
    for i, name in enumerate(table["variant"].values):
        row = table.isel(variant=i)
        line = f"  {str(name):<{width}}  return {float(row['return_mean']):8.3f} ± {float(row['return_sem']):.3f}"
        if "correct_later" in row:
            line += f"  correct on presentations 2+ {float(row['correct_later']):.1%}"
        if "first_reward" in row:
            line += f"  first reward {float(row['first_reward']):5.1f}  success {float(row['success']):.1%}"
        lines.append(line)
    return "\n".join(lines)


# what each trainer kind's iterations are called (its class's ITERATIONS; the test of the layering checks they
# agree): analysis reads datasets and does not import the simulator that made them
ITERATIONS = {"es": "generations", "gradient": "updates", "pearl": "iterations"}


def iterations_name(ds: xr.Dataset) -> str:
    """What one step of the dataset's generation axis is: an ES generation or a gradient update (the stored
    protocol's trainer.kind); generations when the dataset holds no protocol."""
    try:
        kind = yaml.safe_load(ds.attrs["protocol"])["trainer"]["kind"]
    except (KeyError, TypeError, yaml.YAMLError):
        return "generations"
    return ITERATIONS.get(kind, "generations")


def summary_text(ds: xr.Dataset) -> str:
    if "variant" in ds.dims:
        return sweep_text(ds)
    s = summary(ds)
    lines = [f"status: {s['status']}"]
    if "generations" in s:
        stopped = f", stopped: {ds.attrs['stopped_by'].replace('_', ' ')}" if ds.attrs.get("stopped_by") else ""
        lines.append(f"training: {s['generations']} {iterations_name(ds)}, {s['env_steps']:,} environment steps, "
                     f"{s['wall_time'] / 60:.1f} min{stopped}")
    if "return_mean" in s:
        line = f"held-out return: {s['return_mean']:.3f} ± {s['return_sem']:.3f} (s.e.m.) over {s['episodes']} episodes"
        if "optimum" in s:
            line += f", {s['return_ratio']:.1%} of the optimum {s['optimum']:.2f}"
        lines.append(line)
    if "first_reward_mean" in s:
        lines.append(f"first reward at step {s['first_reward_mean']:.1f} ± {s['first_reward_std']:.1f} (std), "
                     f"success {s['success']:.1%}, return {s['return_mean']:.1f} ± {s['return_std']:.1f} (std)")
    if "correct_by_trial" in s:
        lines.append("rewarded object chosen, by presentation: " +
                     " ".join(f"{x:.1%}" for x in s["correct_by_trial"]))
        if "correct_later" in s:
            lines.append(f"rewarded object chosen on presentations 2+: {s['correct_later']:.1%}")
    if "success_by_rollout" in s:
        lines.append("success, by rollout: " + " ".join(f"{x:.1%}" for x in s["success_by_rollout"]))
    if "success_by_environment" in s:
        lines.append("success, by environment: " + ", ".join(f"{k} {x:.1%}"
                                                             for k, x in s["success_by_environment"].items()))
    return "\n".join(lines)
