"""Atomic files: a reader sees either no file or the whole file, never half of one, whatever kills the writer."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path, write_to) -> Path:
    """Call write_to(temporary path) in path's directory, flush it to the disk, then rename it over path.
    A failure (a full disk, a kill) leaves path as it was: the old file or none."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        write_to(tmp)
        _flush(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp made it private; a run's files are as readable as any other
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _flush(path):
    # without fsync a power cut after the rename can leave a renamed but empty file
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
