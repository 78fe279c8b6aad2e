"""The maze's exploration and exploitation, from the find_step metric of an evaluation."""
from __future__ import annotations

import numpy as np
import xarray as xr


def find_intervals(ds: xr.Dataset, finds: int = 6, among: int = 0) -> xr.Dataset:
    """Steps from one target reward to the next: interval k = find_step[k] − find_step[k−1] (find_step[0] = 0,
    so interval 1 is the first reward's step), over the episodes that made at least k finds — or, with
    among > 0, over the episodes that made at least `among` finds, for k = 1..among (the same episodes for
    every k: without it, later intervals come from ever luckier episodes and shrink by selection alone).

    ds: eval_find_step (…, episode, find), 0 where a find did not happen. Returns a Dataset over find = 1..finds:
    mean, sem (over episodes) and episodes (how many made that find). An agent that remembers where the
    target is returns to it faster than it first found it: later intervals shorter than the first; a
    memoryless explorer's intervals stay alike."""
    steps = ds["eval_find_step"].isel(find=slice(0, among or finds))
    if among:
        steps = steps.where(steps.isel(find=among - 1) > 0, 0.0)
    found = steps > 0
    previous = steps.shift(find=1, fill_value=0.0)
    interval = (steps - previous).where(found)
    others = [d for d in interval.dims if d != "find"]
    n = found.sum(others)
    mean = interval.mean(others)
    sem = interval.std(others, ddof=1) / np.sqrt(n.where(n > 0))
    return xr.Dataset({"mean": mean, "sem": sem, "episodes": n})
