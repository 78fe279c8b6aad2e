"""Robot impairment: a trained agent evaluated with one actuator frozen (zero torque), each in turn, unseen in
training; its return normalised by the unimpaired return on the same episodes [paper: the retained share]. Where
standing still earns something (the Ant's survival bonus) or returns are negative (Cheetah-vel) that ratio flatters
or reads upside down, so the share of the unimpaired agent's gain over a motionless body (zero action) that it
keeps is reported beside it."""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import UserError
from ..protocol import parse
from .evaluate import evaluate


def impairment(path, *, episodes=None, seed=0, agent=None, command=None) -> xr.Dataset:
    """Returns a dataset over actuator: impaired_return (actuator, episode), unimpaired_return (episode),
    retained (actuator) = mean impaired / mean unimpaired return, and its mean over actuators, retained_mean;
    motionless_return (episode), the zero-action body's (any actuator frozen or not: zero torque either way), and
    retained_gain (actuator) = (impaired − motionless) / (unimpaired − motionless) mean returns, with its mean
    retained_gain_mean. Every condition runs the same episodes (the same seed)."""
    from ..results import open_results
    from ..tasks import TASKS

    kind = parse(open_results(path).attrs.get("protocol", "{}"), f"{path} (stored protocol)").get("task", {}).get(
        "kind")
    actuators = getattr(TASKS.get(kind), "actuators", None)
    if actuators is None:
        raise UserError(f"{path}: task.kind: expected a MuJoCo task (ant_dir, cheetah_dir, cheetah_vel) to "
                            f"impair, got {kind!r}")

    def returns(override):
        ds = evaluate(path, episodes=episodes, seed=seed, agent=agent, command=command, overrides=[override])
        return ds, ds.eval_return.values

    base, free = returns("task.impair.frozen=[]")
    impaired = np.stack([returns(f"task.impair.frozen=[{k}]")[1] for k in range(actuators)])
    still = returns("agent={kind: random, action: zero}")[1]
    retained = impaired.mean(axis=1) / free.mean()
    gain = (impaired.mean(axis=1) - still.mean()) / (free.mean() - still.mean())
    out = xr.Dataset({"impaired_return": (("actuator", "episode"), impaired), "unimpaired_return": ("episode", free),
                      "motionless_return": ("episode", still),
                      "retained": ("actuator", retained), "retained_mean": ((), retained.mean()),
                      "retained_gain": ("actuator", gain), "retained_gain_mean": ((), gain.mean())},
                     coords={"actuator": np.arange(actuators), "episode": np.arange(free.size)})
    out.attrs.update({k: v for k, v in base.attrs.items()})
    out.attrs["command"] = command or f"impair {path}"
    return out


def impairment_text(ds: xr.Dataset) -> str:
    lines = [f"unimpaired return {float(ds.unimpaired_return.mean()):.2f}, motionless (zero action) "
             f"{float(ds.motionless_return.mean()):.2f}, over {ds.sizes['episode']} episodes",
             "frozen actuator    return   retained   retained gain over motionless"]

    def row(name, impaired, retained, gain):
        return f"{name:>15}   {float(impaired):7.2f}   {float(retained):8.3f}   {float(gain):8.3f}"

    for k in ds.actuator.values:
        lines.append(row(k, ds.impaired_return.sel(actuator=k).mean(), ds.retained.sel(actuator=k),
                         ds.retained_gain.sel(actuator=k)))
    lines.append(row("mean", ds.impaired_return.mean(), ds.retained_mean, ds.retained_gain_mean))
    return "\n".join(lines)
