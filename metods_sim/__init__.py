"""metods-sim: meta-reinforcement learning with self-modifying synapses (MetODS, NeurIPS 2022).

    python -m metods_sim protocols/harlow.yaml          # train, evaluate, write runs/harlow/<time>/results.nc
    ds = metods_sim.load("runs/harlow/<time>")          # an xarray.Dataset
"""
from .version import __version__  # noqa: F401

from . import tasks as _tasks  # noqa: E402,F401  registers the Gymnasium environments (metods_sim/Harlow-v0, ...)


def load(path):
    """Open a run's dataset (a results.nc file or the run directory holding it) as an xarray.Dataset."""
    from .results import load as _load

    return _load(path)
