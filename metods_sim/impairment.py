"""Robot impairment: a trained agent evaluated with one actuator frozen (zero torque), each in turn, unseen in
training; its return normalised by the unimpaired return on the same episodes [paper: the retained share]."""
from __future__ import annotations

import numpy as np
import xarray as xr

from .evaluate import evaluate
from .protocol import ProtocolError, parse


def impairment(path, *, episodes=None, seed=0, agent=None, command=None) -> xr.Dataset:
    """Returns a dataset over actuator: impaired_return (actuator, episode), unimpaired_return (episode),
    retained (actuator) = mean impaired / mean unimpaired return, and its mean over actuators, retained_mean.
    Every condition runs the same episodes (the same seed)."""
    from .results import open_results
    from .tasks import TASKS

    kind = parse(open_results(path).attrs.get("protocol", "{}"), f"{path} (stored protocol)").get("task", {}).get(
        "kind")
    actuators = getattr(TASKS.get(kind), "actuators", None)
    if actuators is None:
        raise ProtocolError(f"{path}: task.kind: expected a MuJoCo task (ant_dir, cheetah_dir, cheetah_vel) to "
                            f"impair, got {kind!r}")

    def returns(frozen):
        ds = evaluate(path, episodes=episodes, seed=seed, agent=agent, command=command,
                      overrides=[f"task.impair.frozen={frozen}"])
        return ds, ds.eval_return.values

    base, free = returns([])
    impaired = np.stack([returns([k])[1] for k in range(actuators)])
    retained = impaired.mean(axis=1) / free.mean()
    out = xr.Dataset({"impaired_return": (("actuator", "episode"), impaired), "unimpaired_return": ("episode", free),
                      "retained": ("actuator", retained), "retained_mean": ((), retained.mean())},
                     coords={"actuator": np.arange(actuators), "episode": np.arange(free.size)})
    out.attrs.update({k: v for k, v in base.attrs.items()})
    out.attrs["command"] = command or f"impair {path}"
    return out


def impairment_text(ds: xr.Dataset) -> str:
    lines = [f"unimpaired return {float(ds.unimpaired_return.mean()):.2f} over {ds.sizes['episode']} episodes",
             "frozen actuator   return   retained"]
    for k in ds.actuator.values:
        lines.append(f"{k:>15d}   {float(ds.impaired_return.sel(actuator=k).mean()):6.2f}   "
                     f"{float(ds.retained.sel(actuator=k)):8.3f}")
    lines.append(f"{'mean':>15s}   {float(ds.impaired_return.mean()):6.2f}   {float(ds.retained_mean):8.3f}")
    return "\n".join(lines)
