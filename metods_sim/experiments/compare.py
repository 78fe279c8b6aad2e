"""Several trainers on one task and agent, or several agents (the meta-RL families) on one task, several seeds
each, into one dataset with `trainer` (or `agent`) and `seed` dims.

A comparison file names run protocols and seeds:

    name: compare_harlow
    protocols: [harlow.yaml, harlow_gradient.yaml]   # paths relative to this file
    seeds: [0, 1, 2]
    set: [trainer.time_limit=3]                      # --set overrides applied to every run (the budget)

The protocols must agree on the task and the evaluation, so that a seed gives every run the same held-out
episodes. Where they also agree on the agent, the comparison is of trainers: its rows are the trainer kinds (dim
`trainer`), and a seed gives every trainer the same initial parameters. Otherwise it is of agents (dim `agent`):
its rows are the agent kinds, or `<agent kind>-<trainer kind>` where one agent kind comes with several trainers.
Every run is an ordinary run (its own results.nc under DIR/<row>-seed<k>/). The combined dataset, DIR/compare.nc,
holds the curves (row, seed, generation; NaN past a run's end), the held-out evaluation (row, seed, episode[,
trial | rollout]) and, for a comparison of trainers, the trained genomes (trainer, seed, param).
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
    """The comparison file with its protocols loaded: {name, seeds, dim: "trainer" | "agent", specs: {row: spec}}."""
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
    loaded = [(name, load(path.parent / name, list(raw.get("set", [])) + list(overrides)))
              for name in raw["protocols"]]
    first_name, first = loaded[0]
    for name, spec in loaded[1:]:
        for section in ("task", "evaluation"):
            if spec[section] != first[section]:
                raise UserError(f"{path}: protocols: {name} differs from {first_name} in its {section} section; "
                                f"expected the same {section} for every run")
    dim = "trainer" if all(spec["agent"] == first["agent"] for _, spec in loaded) else "agent"
    rows = [_row(spec, dim, loaded) for _, spec in loaded]
    for (name, spec), row in zip(loaded, rows):
        if rows.count(row) > 1:
            raise UserError(f"{path}: protocols: expected one protocol per {dim} kind, got two of kind {row}")
    specs = dict(zip(rows, (spec for _, spec in loaded)))
    return dict(name=raw.get("name") or path.stem, seeds=raw["seeds"], dim=dim, specs=specs)


def _row(spec, dim, loaded) -> str:
    """A run's label: its trainer kind, its agent kind, or both where one agent kind has several trainers."""
    agent, trainer = spec["agent"]["kind"], spec["trainer"]["kind"]
    if dim == "trainer":
        return trainer
    trainers = {other["trainer"]["kind"] for _, other in loaded if other["agent"]["kind"] == agent}
    return agent if len(trainers) == 1 else f"{agent}-{trainer}"


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
    for row, spec in comparison["specs"].items():
        for seed in comparison["seeds"]:
            one = run({**spec, "seed": seed}, out_dir=out / f"{row}-seed{seed}", progress=progress, command=command)
            runs[row, seed] = xr.open_dataset(one).load()
            if runs[row, seed].attrs["status"] == "interrupted":
                raise ComparisonStopped(f"{one.parent}: interrupted; the runs after it were not started and "
                                        f"{out / 'compare.nc'} was not written (python -m metods_sim resume "
                                        f"{one.parent} continues this run)")
    return write(combine(runs, comparison), out / "compare.nc")


# what every run of one comparison shares (one process, one checkout), carried into compare.nc
PROVENANCE = ("command", "git_revision", "versions", "machine", "numba_threading_layer", "numba_threads")


def combine(runs: dict, comparison: dict) -> xr.Dataset:
    """{(row, seed): run dataset} → one dataset over (row, seed, ...), the row dim named by comparison["dim"]
    ("trainer" or "agent"; genomes are kept only when every row has the same agent)."""
    dim = comparison.get("dim", "trainer")

    def slim(ds):
        keep = [name for name in ds.data_vars if (name in KEEP and not (dim == "agent" and "param" in ds[name].dims))
                or name.startswith("eval_")]
        return ds[keep].reset_coords(["env_steps", "wall_time"])

    kinds, seeds = list(comparison["specs"]), comparison["seeds"]
    by_row = [xr.concat([slim(runs[k, s]) for s in seeds], dim="seed", join="outer", combine_attrs="drop")
              for k in kinds]
    ds = xr.concat(by_row, dim=dim, join="outer", combine_attrs="drop")
    ds = ds.assign_coords({dim: kinds, "seed": seeds}).set_coords(["env_steps", "wall_time"])
    first = runs[kinds[0], seeds[0]]
    ds.attrs.update(name=comparison["name"], task_optimum=first.attrs["task_optimum"],
                    protocols="\n---\n".join(runs[k, seeds[0]].attrs["protocol"] for k in kinds),
                    **{key: first.attrs[key] for key in PROVENANCE if key in first.attrs})
    return ds
