"""How a dataset was made, as netCDF-safe attributes: the protocol, the git revision read when the work began,
package versions, the machine."""
from __future__ import annotations

import datetime
import platform
import subprocess
from pathlib import Path

import numba
import numpy as np
import yaml

from ..protocol import dump
from ..version import __version__


def provenance(spec: dict, command: str = "", revision: str | None = None) -> dict:
    """Everything needed to know how a dataset was made, as netCDF-safe attributes. revision: the git revision
    of the code as the work began (the checkout may have moved on during a long run), else read now."""
    import evotorch
    import torch
    import xarray

    versions = {"metods_sim": __version__, "python": platform.python_version(), "numpy": np.__version__,
                "numba": numba.__version__, "evotorch": evotorch.__version__, "torch": torch.__version__,
                "xarray": xarray.__version__}
    versions = {k: str(v) for k, v in versions.items()}
    return dict(protocol=dump(spec), seed=int(spec["seed"]), versions=yaml.safe_dump(versions),
                git_revision=revision or git_revision(), numba_threading_layer=threading_layer(),
                numba_threads=numba.get_num_threads(), machine=machine(),
                created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                command=command)


def machine() -> str:
    return f"{platform.machine()}, {numba.config.NUMBA_NUM_THREADS} cores"


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
