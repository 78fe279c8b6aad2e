"""Training curves with their spread over seeds, and tables over the variants of a sweep."""
from __future__ import annotations

import numpy as np
import xarray as xr

SPREADS = ("std", "sem", "range")


def learning_curve(ds: xr.Dataset, variable: str = "center_return", spread: str = "std") -> xr.Dataset:
    """One training variable over generations, averaged over seeds with its spread.

    ds: a run dataset (generation), or several runs stacked along a `seed` dim (xr.concat(runs, "seed",
    join="outer"): shorter runs padded with NaN); other dims, e.g. `trainer` or `variant`, are kept. Generations where the variable is
    NaN everywhere are dropped (center_return is measured every trainer.eval_every generations).
    Returns a Dataset over generation (and the kept dims): mean, low and high (mean ± std, mean ± s.e.m., or min
    and max over seeds, by `spread`; low = high = mean with one seed), seeds (how many had a value), and the
    coordinate env_steps (averaged over seeds).
    """
    if spread not in SPREADS:
        raise ValueError(f"spread: expected one of {', '.join(SPREADS)}, got {spread!r}")
    values = ds[variable] if "seed" in ds[variable].dims else ds[variable].expand_dims("seed")
    seeds = values.count("seed")
    mean = values.mean("seed")
    if spread == "range":
        low, high = values.min("seed"), values.max("seed")
    else:
        width = values.std("seed", ddof=1) if values.sizes["seed"] > 1 else xr.zeros_like(mean)
        width = (width / np.sqrt(seeds) if spread == "sem" else width).fillna(0.0)
        low, high = mean - width, mean + width
    steps = ds["env_steps"].mean("seed") if "seed" in ds["env_steps"].dims else ds["env_steps"]
    curve = xr.Dataset({"mean": mean, "low": low, "high": high, "seeds": seeds}).assign_coords(env_steps=steps)
    measured = (seeds > 0).any([d for d in seeds.dims if d != "generation"])
    curve = curve.isel(generation=measured.values)
    curve.attrs.update(variable=variable, spread=spread)
    return curve


def ablation_table(ds: xr.Dataset, dim: str = "variant", first: int = 2) -> xr.Dataset:
    """The final evaluation of each variant of a sweep, one row per entry of `dim`.

    ds: eval_return (dim, [seed,] episode) and, for Harlow, eval_correct (dim, [seed,] episode, trial).
    Returns a Dataset over dim: return_mean; return_sem, over seeds when there is a seed dim (the spread between
    runs) when there are several seeds, else over episodes; return_ratio (of attrs task_optimum, when present); correct_later, the share of
    correct choices on presentations first..last; for the maze, first_reward (mean step) and success (share).
    """
    returns = ds["eval_return"]
    if "seed" in returns.dims and returns.sizes["seed"] == 1:
        returns = returns.squeeze("seed", drop=True)
    if "seed" in returns.dims:
        per_seed = returns.mean("episode")
        mean, n, sd = per_seed.mean("seed"), per_seed.count("seed"), per_seed.std("seed", ddof=1)
    else:
        mean, n, sd = returns.mean("episode"), returns.count("episode"), returns.std("episode", ddof=1)
    table = xr.Dataset({"return_mean": mean, "return_sem": sd / np.sqrt(n)})
    if np.isfinite(float(ds.attrs.get("task_optimum", np.nan))):
        table["return_ratio"] = mean / float(ds.attrs["task_optimum"])
    for stat in ("first_reward", "success"):
        if f"eval_{stat}" in ds:
            table[stat] = ds[f"eval_{stat}"].mean([d for d in ds[f"eval_{stat}"].dims if d != dim])
    if "eval_correct" in ds:
        others = [d for d in ds["eval_correct"].dims if d != dim]
        table["correct_later"] = ds["eval_correct"].sel(trial=slice(first, None)).mean(others)
    return table


def ablation_effects(ds: xr.Dataset, effects: dict[str, tuple[str, str]], dim: str = "variant") -> xr.Dataset:
    """The size of each named effect of a sweep: the held-out return of one variant minus another's.

    effects: {name: (with, without)}, two entries of `dim` each, e.g. {"α": ("linear S=4", "linear S=4, no
    alpha")}. Returns a Dataset over `effect`: size (return of `with` minus `without`), sem (the two rows'
    s.e.m. of `ablation_table` combined as independent, sqrt(a² + b²)), with and without (the variants). With
    one seed the s.e.m. is over held-out episodes: it measures the evaluation's noise, not the spread between
    training runs."""
    table = ablation_table(ds, dim=dim)
    names = list(effects)
    pick = lambda k: table.sel({dim: [effects[n][k] for n in names]})        # noqa: E731
    a, b = pick(0), pick(1)
    size = a["return_mean"].values - b["return_mean"].values
    sem = np.hypot(a["return_sem"].values, b["return_sem"].values)
    return xr.Dataset({"size": ("effect", size), "sem": ("effect", sem),
                       "with": ("effect", [effects[n][0] for n in names]),
                       "without": ("effect", [effects[n][1] for n in names])}, coords={"effect": names})

def comparison_rows(ds: xr.Dataset) -> str:
    """The row dim of a `python -m metods_sim compare` dataset: "trainer" (one agent) or "agent" (families)."""
    return "trainer" if "trainer" in ds.dims else "agent"


def comparison_table(ds: xr.Dataset, share: float = 0.95) -> xr.Dataset:
    """The rows of a comparison (`python -m metods_sim compare`) side by side: one per trainer, or per agent.

    ds: eval_* (row, seed, episode[, trial | rollout]), env_steps and wall_time (row, seed, generation; NaN past a
    run's end), for a comparison of trainers best_params (trainer, seed, param) with coordinate param_name; the
    row dim is `comparison_rows(ds)`. Returns ablation_table's columns
    plus env_steps and wall_time (s) at the end of training; env_steps_to and wall_time_to, where the validation
    return first reached `share` × the task optimum (mean over the seeds that reached it; reached: how many did);
    and the mean learned alpha, kappa, beta entries (averaged over seeds; kappa and beta over `coef`, their
    vector order s = 1..S, l = 0..s).
    """
    table = ablation_table(ds, comparison_rows(ds))
    for name in ("env_steps", "wall_time"):
        table[name] = ds[name].max("generation").mean("seed")
    if "task_optimum" in ds.attrs:
        above = ds["center_return"] >= share * float(ds.attrs["task_optimum"])
        first = above.argmax("generation")
        table["reached"] = above.any("generation").sum("seed")
        for name in ("env_steps", "wall_time"):
            table[f"{name}_to"] = ds[name].isel(generation=first).where(above.any("generation")).mean("seed")
    if "best_params" not in ds:
        return table
    names = ds["param_name"].values
    params = ds["best_params"].mean("seed")
    if (names == "alpha").any():
        table["alpha_mean"] = params.isel(param=names == "alpha").mean("param")
    for name in ("kappa", "beta"):
        table[name] = params.isel(param=names == name).rename(param="coef").drop_vars(["coef", "param_block",
                                                                                        "param_name"],
                                                                                       errors="ignore")
    return table
