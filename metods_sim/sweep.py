"""A sweep, end to end: every (variant, seed) of a protocol's `sweep` section run as a complete run in its own
directory, DIR/<variant>/seed-<n>/, then gathered into DIR/results.nc with `variant` and `seed` dims.

Runs go one after another (each uses every core). Ctrl-C stops the current run (it writes what it has, as any
run does) and the sweep with it; the gathered dataset is still written, with status interrupted, and
`python -m metods_sim resume DIR` continues: finished runs are kept, a stopped run resumes from its
checkpoint, the rest start.
"""
from __future__ import annotations

import re
from pathlib import Path

from .protocol import dump
from .protocol.sweep import runs
from .results import atomic_write, load, sweep_dataset, write
from .results.checkpoint import NAME as CHECKPOINT


def run_dir(out: Path, index: int, name: str, seed: int) -> Path:
    slug = re.sub(r"[^A-Za-z0-9=.+-]+", "-", name).strip("-") or "variant"
    return out / f"{index:02d}-{slug}" / f"seed-{seed}"


def run_sweep(spec: dict, out: Path, *, progress=True, command="", force=False, resuming=False) -> Path:
    """Run (or, resuming, finish) every run of the sweep; returns DIR/results.nc."""
    from .run import git_revision, prepare_sweep, resume, run

    revision = git_revision()   # the code as the sweep begins, whatever the checkout holds by its end
    prepare_sweep(out, spec, existing="keep" if resuming else "replace" if force else "refuse")
    atomic_write(out / "protocol.yaml", lambda tmp: Path(tmp).write_text(dump(spec)))
    names = list(spec["sweep"]["variants"])
    plan = list(runs(spec))
    done, stopped = {}, False
    for k, (name, seed, sub) in enumerate(plan):
        where = run_dir(out, names.index(name), name, seed)
        sub["name"] = f"{spec['name']} [{k + 1}/{len(plan)} {name}, seed {seed}]"
        status = _status(where)
        if status not in ("finished", "diverged"):
            if (where / CHECKPOINT).exists() and resuming:
                path = resume(where, progress=progress, command=command)
            else:
                path = run(sub, out_dir=where, progress=progress, command=command, force=True)
            status = load(path).attrs.get("status")
        done[(name, seed)] = load(where / "results.nc")
        if status == "interrupted":
            stopped = True
            break
    seeds = spec["sweep"].get("seeds") or [spec["seed"]]
    from .run import provenance

    attrs = provenance(spec, command, revision) | dict(status="interrupted" if stopped else "finished",
                                             task_optimum=done[next(iter(done))].attrs.get("task_optimum", "nan"))
    return write(sweep_dataset(done, spec["sweep"]["variants"], seeds, attrs), out / "results.nc")


def _status(where: Path) -> str | None:
    try:
        return load(where / "results.nc").attrs.get("status")
    except (OSError, ValueError):
        return None
