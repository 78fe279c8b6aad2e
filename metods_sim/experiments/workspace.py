"""A run's directory on disk: where it goes, whether it can be written and has room, what it holds already
(a run, a checkpoint, a finished run), and the checks of this machine a protocol needs before anything starts."""
from __future__ import annotations

import datetime
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..results import load, read_checkpoint
from ..results.checkpoint import NAME as CHECKPOINT


class OutputError(RuntimeError):
    """The results could not be written after training, or a Ray node was lost during it (the checkpoint holds the
    run); str(error) is the one line shown to the user."""


def check_machine(spec: dict, source: str) -> None:
    """Refuse, with a UserError, what a valid protocol asks but this machine cannot run."""
    if spec["trainer"].get("device") == "cuda":   # (the pearl trainer has no device field: it runs on the CPU)
        import torch

        if not torch.cuda.is_available():
            raise UserError(f"{source}: trainer.device: expected cpu on this machine (torch sees no CUDA GPU), "
                            f"got 'cuda'")


def default_dir(name: str) -> Path:
    """runs/<name>/<time>, with a suffix when a run started in the same second already took it."""
    base = Path("runs") / name / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def run_dir(out: Path, index: int, name: str, seed: int) -> Path:
    """The directory of one run of a sweep: DIR/NN-variant/seed-N."""
    slug = re.sub(r"[^A-Za-z0-9=.+-]+", "-", name).strip("-") or "variant"
    return out / f"{index:02d}-{slug}" / f"seed-{seed}"


def unit(spec: dict) -> str:
    """What one iteration of the spec's trainer is called: generation (ES) or update (gradient)."""
    from ..trainers import TRAINERS   # here: the trainers load EvoTorch, and with it Ray

    return TRAINERS[spec["trainer"]["kind"]].ITERATIONS[:-1]


def prepare(out: Path, spec: dict, task, agent, *, existing: str = "refuse") -> None:
    """Refuse, with a UserError and before any training, a run directory that cannot be written, lacks the
    space the run needs, or holds a run already when `existing` is "refuse" ("replace": delete that run, for
    --force; "keep": for resume)."""
    held = [out / name for name in ("results.nc", CHECKPOINT) if (out / name).exists()]
    if held and existing == "refuse":
        raise UserError(f"{out}: holds a run already ({', '.join(p.name for p in held)}); choose another "
                        f"--out, pass --force to replace it, or continue it with python -m metods_sim resume "
                        f"{out}")
    check_writable(out, bytes_needed(spec, task, agent))
    if existing == "replace":
        for path in held:
            path.unlink()
    for leftover in out.glob(".*.part"):  # the temporary file of a write that a kill cut short
        leftover.unlink()


def bytes_needed(spec: dict, task, agent) -> int:
    """An upper estimate of what a run writes: results.nc plus two checkpoints (a new one is written beside the
    old before replacing it). Float64 throughout; MetODS's recorded W dominates."""
    from ..trainers import TRAINERS, iterations

    t, size, R = spec["trainer"], agent.layout.size, min(spec["recording"]["episodes"], spec["evaluation"]["episodes"])
    trainer = TRAINERS[t["kind"]]
    curve = len(trainer.CURVE) * iterations(t)
    per_step = sum(int(np.prod(shape or 0)) for shape in agent.record_shapes) + task.obs_size + 4
    results = curve + spec["evaluation"]["episodes"] * (3 + task.n_metrics) + R * task.max_steps * per_step
    checkpoint = curve + trainer.state_floats(t, size, task)
    return 8 * (results + 2 * size + 2 * checkpoint) + 2**20


def check_writable(out: Path, need: int) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise UserError(f"{out}: cannot write the run directory ({why(error)})") from None
    free = shutil.disk_usage(out).free
    if free < need:
        raise UserError(f"{out}: the run needs about {size(need)} for its results and checkpoints, "
                        f"{size(free)} free")


def why(error) -> str:
    return getattr(error, "strerror", None) or str(error)


def size(n: int) -> str:
    for name in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or name == "TB":
            return f"{n:.0f} {name}" if name == "B" else f"{n:.1f} {name}"
        n /= 1000


def read_run_checkpoint(out: Path) -> dict:
    """DIR/checkpoint.pkl, or a UserError saying why there is none to resume from."""
    try:
        return read_checkpoint(out)
    except FileNotFoundError:
        if not out.is_dir():
            raise UserError(f"{out}: no such run directory") from None
        raise UserError(f"{out}: no {CHECKPOINT} to resume from (a run writes one every "
                        f"trainer.checkpoint_every generations or updates and when training stops)") from None
    except (OSError, ValueError) as error:
        raise UserError(f"{out / CHECKPOINT}: cannot resume from it ({error})") from None


def check_unfinished(out: Path) -> None:
    """A run that finished (or stopped because it diverged) has nothing left to do."""
    try:
        status = load(out / "results.nc").attrs.get("status")
    except (OSError, ValueError):
        return  # no results yet (killed), or unreadable: resuming writes them anew
    if status != "interrupted":
        raise UserError(f"{out}: the run is over (results.nc has status {status}); nothing to resume")


def status_of(where: Path) -> str | None:
    """The status attribute of DIR/results.nc; None where there is none or it cannot be read."""
    try:
        return load(where / "results.nc").attrs.get("status")
    except (OSError, ValueError):
        return None
