"""Runs on disk: one netCDF dataset per run and the checkpoint to continue it, both written atomically."""
from .atomic import atomic_write
from .checkpoint import read_checkpoint, write_checkpoint
from .dataset import evaluation_dataset, load, open_results, run_dataset, sweep_dataset, write

__all__ = ["atomic_write", "evaluation_dataset", "load", "open_results", "read_checkpoint", "run_dataset", "sweep_dataset", "write",
           "write_checkpoint"]
