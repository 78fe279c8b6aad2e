"""A sweep, end to end: every (variant, seed) of a protocol's `sweep` section run as a complete run in its own
directory, DIR/<variant>/seed-<n>/, then gathered into DIR/results.nc with `variant` and `seed` dims.

Runs go one after another (each uses every core). Ctrl-C stops the current run (it writes what it has, as any
run does) and the sweep with it; the gathered dataset is still written, with status interrupted, and
`python -m metods_sim resume DIR` continues: finished runs are kept, a stopped run resumes from its
checkpoint, the rest start.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from ..agents import make_agent
from ..errors import UserError
from ..protocol import dump, validate
from ..protocol import runs
from ..results import atomic_write, load, sweep_dataset, write
from ..results.checkpoint import NAME as CHECKPOINT
from ..tasks import make_task
from . import provenance as record
from .run import resume, run
from .workspace import bytes_needed, check_unfinished, check_writable, default_dir, run_dir, status_of


def run_protocol(spec: dict, *, out_dir=None, progress=True, command="", force=False) -> Path:
    """Run a validated protocol into DIR (out_dir, else output.dir, else runs/<name>/<time>); returns the path of
    DIR/results.nc. A protocol with a sweep runs each of its runs in a directory under DIR (`run_sweep`); any
    other, one run (`run.run`, which says what Ctrl-C, checkpoints and --force do)."""
    out = Path(out_dir or spec["output"]["dir"] or default_dir(spec["name"]))
    if spec["sweep"]:
        return run_sweep(spec, out, progress=progress, command=command, force=force)
    return run(spec, out_dir=out, progress=progress, command=command, force=force)


def resume_directory(run_dir, *, progress=True, command="") -> Path:
    """Continue the run, or the sweep, in run_dir (`run.resume`; a sweep: its finished runs are kept, a stopped
    one resumes, the rest start)."""
    out = Path(run_dir)
    if not (out / CHECKPOINT).exists() and (out / "protocol.yaml").exists():
        spec = validate(yaml.safe_load((out / "protocol.yaml").read_text()), f"{out / 'protocol.yaml'}")
        if spec["sweep"]:
            check_unfinished(out)
            return run_sweep(spec, out, progress=progress, command=command, resuming=True)
    return resume(out, progress=progress, command=command)


def run_sweep(spec: dict, out: Path, *, progress=True, command="", force=False, resuming=False) -> Path:
    """Run (or, resuming, finish) every run of the sweep; returns DIR/results.nc."""
    revision = record.git_revision()   # the code as the sweep begins, whatever the checkout holds by its end
    prepare_sweep(out, spec, existing="keep" if resuming else "replace" if force else "refuse")
    atomic_write(out / "protocol.yaml", lambda tmp: Path(tmp).write_text(dump(spec)))
    names = list(spec["sweep"]["variants"])
    plan = list(runs(spec))
    done, stopped = {}, False
    for k, (name, seed, sub) in enumerate(plan):
        where = run_dir(out, names.index(name), name, seed)
        sub["name"] = f"{spec['name']} [{k + 1}/{len(plan)} {name}, seed {seed}]"
        status = status_of(where)
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
    attrs = record.provenance(spec, command, revision) | dict(
        status="interrupted" if stopped else "finished",
        task_optimum=done[next(iter(done))].attrs.get("task_optimum", "nan"))
    return write(sweep_dataset(done, spec["sweep"]["variants"], seeds, attrs), out / "results.nc")


def prepare_sweep(out: Path, spec: dict, *, existing: str) -> None:
    """`workspace.prepare` for a sweep's directory: the same refusals, room for all its runs; "replace" deletes
    the gathered results and the run directories a sweep writes (NN-name/seed-N), nothing else."""
    plan = list(runs(spec))
    names = list(spec["sweep"]["variants"])
    dirs = [run_dir(out, names.index(name), name, seed) for name, seed, _ in plan]
    held = [p for p in [out / "results.nc"] + dirs if p.exists()]
    if held and existing == "refuse":
        raise UserError(f"{out}: holds a sweep already ({held[0].relative_to(out)}); choose another --out, "
                        f"pass --force to replace it, or continue it with python -m metods_sim resume {out}")
    need = sum(bytes_needed(sub, make_task(sub["task"]), make_agent(sub["agent"], make_task(sub["task"])))
               for _, _, sub in plan)
    check_writable(out, need)
    if existing == "replace":
        for path in held:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
