"""Runs as xarray datasets on disk: one netCDF file per run, written atomically."""
from .dataset import evaluation_dataset, load, open_results, run_dataset, write

__all__ = ["evaluation_dataset", "load", "open_results", "run_dataset", "write"]
