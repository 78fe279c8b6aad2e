"""What the dynamic synapses do, read from a recorded sample (model document, section 3, Harlow analyses).

Every function takes a dataset with a recording, W (sample, time, post, pre), activation (sample, time, neuron)
= v_S, reward (sample, time) and sample_length (sample), as a run or `evaluate --record N` writes it. Steps at
or after an episode's length are padding (zeros) and are left out or returned as NaN.
"""
from __future__ import annotations

import numpy as np
import xarray as xr
import yaml


def live(ds: xr.Dataset) -> xr.DataArray:
    """(sample, time) True on the steps an episode actually ran."""
    return ds["time"] < ds["sample_length"]


def first_outcome(ds: xr.Dataset) -> xr.Dataset:
    """The first object choice of each recorded episode.

    Returns a Dataset over sample: `reward` (the reward it brought: the protocol's task.correct_reward or
    task.wrong_reward; NaN when no object was chosen), `time` (the step it came at; -1 when none) and `outcome`
    ("rewarded" / "unrewarded" / "none"). The choice rewards are read from the protocol in ds.attrs.
    """
    task = _task_of(ds)
    choice = ds["reward"].isin([task["correct_reward"], task["wrong_reward"]]) & live(ds)
    chose = choice.any("time")
    time = choice.argmax("time").where(chose, -1)
    reward = ds["reward"].isel(time=time.clip(0)).where(chose).drop_vars("time")
    outcome = xr.where(reward == task["correct_reward"], "rewarded", xr.where(chose, "unrewarded", "none"))
    return xr.Dataset({"reward": reward, "time": time, "outcome": outcome})


def _task_of(ds: xr.Dataset) -> dict:
    task = _protocol(ds).get("task", {})
    if not {"correct_reward", "wrong_reward"} <= set(task):
        raise ValueError("dataset attrs: expected a protocol whose task has correct_reward and wrong_reward "
                         "(a Harlow task)")
    return {key: float(task[key]) for key in ("correct_reward", "wrong_reward")}


def align(da: xr.DataArray, at: xr.DataArray, lags) -> xr.DataArray:
    """Re-index da (sample, time, ...) on lag = time − at[sample] for the given lags: (sample, lag, ...).
    Steps outside the recording are NaN (after the episode's end da is whatever the recording holds)."""
    lag = xr.DataArray(np.asarray(lags), dims="lag", coords={"lag": np.asarray(lags)})
    time = at + lag
    inside = (time >= 0) & (time < da.sizes["time"])
    return da.isel(time=time.clip(0, da.sizes["time"] - 1)).where(inside).drop_vars("time", errors="ignore")


def weight_pca(ds: xr.Dataset, components: int = 2) -> xr.Dataset:
    """PCA of the dynamic weights W_t, pooled over recorded episodes and their live steps.

    Returns a Dataset: score (sample, time, component), the projection of W_t − mean (NaN after an episode's
    end); loading (component, post, pre), unit-norm, each signed so that its largest entry is positive;
    explained (component), the share of the variance; mean (post, pre).
    """
    W = ds["W"].stack(synapse=("post", "pre")).astype(np.float64)
    X = W.where(live(ds)).stack(step=("sample", "time")).dropna("step").transpose("step", "synapse")
    mean = X.mean("step")
    _, singular, Vt = np.linalg.svd((X - mean).values, full_matrices=False)
    Vt = Vt[:components] * np.sign(Vt[np.arange(components), np.abs(Vt[:components]).argmax(1)])[:, None]
    loading = xr.DataArray(Vt, dims=("component", "synapse"),
                           coords={"component": np.arange(1, components + 1), "synapse": W["synapse"]})
    score = xr.dot(W - mean, loading, dim="synapse").where(live(ds)).transpose("sample", "time", "component")
    explained = singular[:components] ** 2 / np.sum(singular ** 2)
    return xr.Dataset({"score": score, "loading": loading.unstack("synapse"),
                       "explained": ("component", explained), "mean": mean.unstack("synapse")})


def hopfield_energy(W: xr.DataArray, v1: xr.DataArray, v2: xr.DataArray | None = None) -> xr.DataArray:
    """E_W(v₁, v₂) = −v₁ᵀ W v₂. W (..., post, pre), v1 and v2 (..., neuron), broadcast over the other dims;
    v2 defaults to v1 (the energy of one state)."""
    v2 = v1 if v2 is None else v2
    return -xr.dot(v1.rename(neuron="post"), W, v2.rename(neuron="pre"), dim=("post", "pre"))


def episode_energy(ds: xr.Dataset) -> xr.DataArray:
    """(sample, time) E_{W_t}(v_t, v_t): the energy of the network's state under the weights it has just written,
    NaN after an episode's end."""
    return hopfield_energy(ds["W"].astype(np.float64), ds["activation"].astype(np.float64)).where(live(ds))


def weight_change(ds: xr.Dataset) -> xr.DataArray:
    """(sample, time) Σ|ΔW_t| = Σ_ij |W_t − W_{t−1}|_ij, the total synaptic change written at step t; NaN after
    an episode's end, and at t = 0 unless the protocol's W₀ is zeros (a learned or sampled W₀ is not recorded)."""
    W = ds["W"].astype(np.float64)
    start = abs(W.isel(time=[0])).sum(("post", "pre"))
    if _protocol(ds).get("agent", {}).get("W0") != "zeros":
        start = start * np.nan
    return xr.concat([start, abs(W.diff("time", label="upper")).sum(("post", "pre"))], "time").where(live(ds))


def reward_input(ds: xr.Dataset) -> xr.DataArray:
    """(sample, time) the reward the agent receives as input at step t: the reward of step t−1 (0 at t = 0),
    which enters through f with the observation. The write at step t can depend on this one, not on reward t."""
    return ds["reward"].shift(time=1, fill_value=0.0)


def weight_change_by_reward(ds: xr.Dataset) -> xr.Dataset:
    """Σ|ΔW| per step grouped by the reward input of that step (`reward_input`), over the live steps with a known
    Σ|ΔW|. Returns a Dataset over `reward` (its distinct values): mean, sem and steps (how many), and share, the
    fraction of all the synaptic change that was written at steps with that reward input."""
    change = weight_change(ds)
    known = change.notnull().values
    c, r = change.values[known], reward_input(ds).values[known]
    rewards, group = np.unique(r, return_inverse=True)
    steps = np.bincount(group)
    total = np.bincount(group, weights=c)
    mean = total / steps
    spread = np.sqrt(np.bincount(group, weights=(c - mean[group]) ** 2) / np.maximum(steps - 1, 1))
    sem = np.where(steps > 1, spread / np.sqrt(steps), np.nan)
    return xr.Dataset({"mean": ("reward", mean), "sem": ("reward", sem), "steps": ("reward", steps),
                       "share": ("reward", total / c.sum())}, coords={"reward": rewards})


def _protocol(ds: xr.Dataset) -> dict:
    try:
        return yaml.safe_load(ds.attrs["protocol"]) or {}
    except (KeyError, yaml.YAMLError):
        raise ValueError("dataset attrs: expected `protocol`, the run's protocol as YAML, as every run and "
                         "evaluation dataset holds") from None
