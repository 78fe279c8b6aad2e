"""Several trainers on one task and agent, several seeds each, into one dataset with `trainer` and `seed` dims.

A comparison file names run protocols and seeds:

    name: compare_harlow
    protocols: [harlow.yaml, harlow_gradient.yaml]   # paths relative to this file; one trainer kind each
    seeds: [0, 1, 2]
    set: [trainer.time_limit=3]                      # --set overrides applied to every run (the budget)

Every run is an ordinary run (its own results.nc under DIR/<trainer kind>-seed<k>/); the protocols must agree on
the task and the agent, so that a seed gives every trainer the same initial parameters and the same held-out
episodes. The combined dataset, DIR/compare.nc, holds the curves (trainer, seed, generation; NaN past a run's
end), the held-out evaluation (trainer, seed, episode[, trial]) and the trained genomes (trainer, seed, param).
"""
from __future__ import annotations

import datetime
from pathlib import Path

import xarray as xr

from ..errors import UserError
from ..protocol import load, parse

KEEP = ("fitness_mean", "fitness_max", "fitness_min", "center_return", "eval_return", "eval_steps",
        "best_params", "center_params")


def read_comparison(path, overrides=()) -> dict:
    """The comparison file with its protocols loaded: {name, seeds, specs: {trainer kind: spec}}."""
    path = Path(path)
    try:
        raw = parse(path.read_text(), str(path))
    except OSError:
        raise UserError(f"{path}: no such comparison file") from None
    unknown = set(raw) - {"name", "protocols", "seeds", "set"}
    if unknown:
        raise UserError(f"{path}: {sorted(unknown)[0]}: unknown key; expected one of name, protocols, seeds, set")
    for key, kind in (("protocols", str), ("seeds", int), ("set", str)):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value) \
                or (key != "set" and not value):
            what = {"protocols": "a non-empty list of protocol files", "seeds": "a non-empty list of integers",
                    "set": "a list of KEY.PATH=VALUE overrides"}[key]
            raise UserError(f"{path}: {key}: expected {what}, got {value!r}")
    specs = {}
    for name in raw["protocols"]:
        spec = load(path.parent / name, list(raw.get("set", [])) + list(overrides))
        first = next(iter(specs.values()), spec)
        for section in ("task", "agent"):
            if spec[section] != first[section]:
                raise UserError(f"{path}: protocols: {name} differs from {raw['protocols'][0]} in its {section} "
                                    f"section; expected the same {section} for every trainer")
        kind = spec["trainer"]["kind"]
        if kind in specs:
            raise UserError(f"{path}: protocols: expected one protocol per trainer kind, got two of kind {kind}")
        specs[kind] = spec
    return dict(name=raw.get("name") or path.stem, seeds=raw["seeds"], specs=specs)


class ComparisonStopped(RuntimeError):
    """A run of the comparison was stopped (Ctrl-C, SIGTERM); str(error) is the one line shown to the user."""


def compare(path, *, out_dir=None, overrides=(), progress=True, command="") -> Path:
    """Run every protocol × seed of a comparison file and write DIR/compare.nc; returns its path. A run stopped
    by Ctrl-C or SIGTERM still writes its own dataset and checkpoint, then the comparison stops there
    (ComparisonStopped): its trainers would otherwise be compared on unequal budgets."""
    from ..results import write
    from .sweep import run_protocol as run

    comparison = read_comparison(path, overrides)
    out = Path(out_dir or Path("runs") / comparison["name"] / datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    runs = {}
    for kind, spec in comparison["specs"].items():
        for seed in comparison["seeds"]:
            one = run({**spec, "seed": seed}, out_dir=out / f"{kind}-seed{seed}", progress=progress, command=command)
            runs[kind, seed] = xr.open_dataset(one).load()
            if runs[kind, seed].attrs["status"] == "interrupted":
                raise ComparisonStopped(f"{one.parent}: interrupted; the runs after it were not started and "
                                        f"{out / 'compare.nc'} was not written (python -m metods_sim resume "
                                        f"{one.parent} continues this run)")
    return write(combine(runs, comparison), out / "compare.nc")


# what every run of one comparison shares (one process, one checkout), carried into compare.nc
PROVENANCE = ("command", "git_revision", "versions", "machine", "numba_threading_layer", "numba_threads")


def combine(runs: dict, comparison: dict) -> xr.Dataset:
    """{(trainer kind, seed): run dataset} → one dataset over (trainer, seed, ...)."""
    def slim(ds):
        keep = [name for name in ds.data_vars if name in KEEP or name.startswith("eval_")]
        return ds[keep].reset_coords(["env_steps", "wall_time"])

    kinds, seeds = list(comparison["specs"]), comparison["seeds"]
    by_trainer = [xr.concat([slim(runs[k, s]) for s in seeds], dim="seed", join="outer", combine_attrs="drop")
                  for k in kinds]
    ds = xr.concat(by_trainer, dim="trainer", join="outer", combine_attrs="drop")
    ds = ds.assign_coords(trainer=kinds, seed=seeds).set_coords(["env_steps", "wall_time"])
    first = runs[kinds[0], seeds[0]]
    ds.attrs.update(name=comparison["name"], task_optimum=first.attrs["task_optimum"],
                    protocols="\n---\n".join(runs[k, seeds[0]].attrs["protocol"] for k in kinds),
                    **{key: first.attrs[key] for key in PROVENANCE if key in first.attrs})
    return ds
