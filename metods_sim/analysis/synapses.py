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


def choices(ds: xr.Dataset) -> xr.Dataset:
    """The object choices of each recorded episode, in order: the steps whose reward is the protocol's
    task.correct_reward or task.wrong_reward (read from the protocol in ds.attrs).

    Returns a Dataset over (sample, choice), choice = 1, 2, ...: `time` (the step of the choice; -1 where the
    episode made fewer choices) and `reward` (NaN there).
    """
    task = choice_rewards(ds)
    chosen = (ds["reward"].isin([task["correct_reward"], task["wrong_reward"]]) & live(ds)).values
    # stable sort puts each episode's choice steps first, in time order
    order = np.argsort(~chosen, axis=1, kind="stable")[:, : max(1, int(chosen.sum(1).max()))]
    made = np.take_along_axis(chosen, order, axis=1)
    time = xr.DataArray(np.where(made, order, -1), dims=("sample", "choice"),
                        coords={"sample": ds["sample"], "choice": np.arange(1, order.shape[1] + 1)})
    reward = ds["reward"].isel(time=time.clip(0)).where(time >= 0).drop_vars("time")
    return xr.Dataset({"time": time, "reward": reward})


def first_outcome(ds: xr.Dataset) -> xr.Dataset:
    """The first object choice of each recorded episode.

    Returns a Dataset over sample: `reward` (the reward it brought: the protocol's task.correct_reward or
    task.wrong_reward; NaN when no object was chosen), `time` (the step it came at; -1 when none) and `outcome`
    ("rewarded" / "unrewarded" / "none").
    """
    first = choices(ds).sel(choice=1, drop=True)
    rewarded = first["reward"] == choice_rewards(ds)["correct_reward"]
    outcome = xr.where(rewarded, "rewarded", xr.where(first["time"] >= 0, "unrewarded", "none"))
    return first.assign(outcome=outcome)


def choice_rewards(ds: xr.Dataset) -> dict:
    """{"correct_reward": ..., "wrong_reward": ...} of the Harlow protocol in ds.attrs; ValueError otherwise."""
    task = _protocol(ds).get("task", {})
    if not {"correct_reward", "wrong_reward"} <= set(task):
        raise ValueError("dataset attrs: expected a protocol whose task has correct_reward and wrong_reward "
                         "(a Harlow task)")
    return {key: float(task[key]) for key in ("correct_reward", "wrong_reward")}


def align(da: xr.DataArray, at: xr.DataArray, lags) -> xr.DataArray:
    """Re-index da (sample, time, ...) on lag = time − at for the given lags: at (sample[, event]) gives
    (sample[, event], lag, ...). Steps outside the recording, and events with at < 0 (none), are NaN; after an
    episode's end da is whatever the recording holds there."""
    lag = xr.DataArray(np.asarray(lags), dims="lag", coords={"lag": np.asarray(lags)})
    time = at + lag
    inside = (time >= 0) & (time < da.sizes["time"]) & (at >= 0)
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


def weight_change_by_reward(ds: xr.Dataset, top: float = 0.1) -> xr.Dataset:
    """Σ|ΔW| per step grouped by the reward input of that step (`reward_input`), over the live steps with a known
    Σ|ΔW|. Returns a Dataset over `reward` (its distinct values): mean, sem, steps (how many, and steps_share of
    all), share (of all the synaptic change written), and top_share: among the `top` fraction of steps with the
    largest Σ|ΔW|, the share that had this reward input (compare with steps_share)."""
    change = weight_change(ds)
    known = change.notnull().values
    c, r = change.values[known], reward_input(ds).values[known]
    rewards, group = np.unique(r, return_inverse=True)
    steps = np.bincount(group, minlength=len(rewards))
    total = np.bincount(group, weights=c, minlength=len(rewards))
    mean = total / steps
    spread = np.sqrt(np.bincount(group, weights=(c - mean[group]) ** 2) / np.maximum(steps - 1, 1))
    sem = np.where(steps > 1, spread / np.sqrt(steps), np.nan)
    largest = np.argsort(c, kind="stable")[::-1][: max(1, int(round(top * c.size)))]
    top_share = np.bincount(group[largest], minlength=len(rewards)) / largest.size
    return xr.Dataset({"mean": ("reward", mean), "sem": ("reward", sem), "steps": ("reward", steps),
                       "steps_share": ("reward", steps / c.size), "share": ("reward", total / c.sum()),
                       "top_share": ("reward", top_share)}, coords={"reward": rewards}, attrs={"top": top})


def separation(values: xr.DataArray, group: xr.DataArray) -> xr.DataArray:
    """d′ of two groups of samples: |mean₁ − mean₂| / pooled standard deviation, for every entry of the other
    dims. values (sample, ...) (NaN ignored); group (sample) holding exactly two distinct labels."""
    labels = np.unique(group.values)
    if labels.size != 2:
        raise ValueError(f"group: expected exactly two distinct labels, got {labels.tolist()}")
    a, b = (values.where(group == label) for label in labels)
    na, nb = a.count("sample"), b.count("sample")
    pooled = np.sqrt(((na - 1) * a.var("sample", ddof=1) + (nb - 1) * b.var("sample", ddof=1)) / (na + nb - 2))
    gap = abs(a.mean("sample") - b.mean("sample"))
    # identical samples leave rounding noise in both gap and spread: no separation to speak of
    return (gap / pooled).where(pooled > 1e-9 * (1 + abs(values).max("sample")))


def decoding(values: xr.DataArray, group: xr.DataArray, features) -> xr.DataArray:
    """How well `features` of values tell two groups of samples apart: leave-one-out nearest-centroid accuracy
    (a tie counts one half; 0.5 = chance with balanced groups), for every entry of the remaining dims. values (sample, ...) without NaN
    in the features; group (sample) with exactly two distinct labels; features: dim name(s), e.g. ("post", "pre")."""
    labels = np.unique(group.values)
    if labels.size != 2:
        raise ValueError(f"group: expected exactly two distinct labels, got {labels.tolist()}")
    features = [features] if isinstance(features, str) else list(features)
    mine = group == labels[0]
    sums = [values.where(mine == own).sum("sample") for own in (True, False)]
    sizes = [int(mine.sum()), int((~mine).sum())]
    # each sample's own group centroid is taken without it (leave one out)
    own = xr.where(mine, (sums[0] - values) / (sizes[0] - 1), (sums[1] - values) / (sizes[1] - 1))
    other = xr.where(mine, sums[1] / sizes[1], sums[0] / sizes[0])
    to_own, to_other = ((values - own) ** 2).sum(features), ((values - other) ** 2).sum(features)
    return ((to_own < to_other) + 0.5 * (to_own == to_other)).mean("sample")


def outcome_decoding(ds: xr.Dataset, offsets=(0, 1, 2)) -> xr.DataArray:
    """Is the first choice's outcome held in W, at the same phase of every presentation? (offset, choice): the
    `decoding` accuracy of the first outcome from the whole of W at `offset` steps after each object choice,
    over the recorded episodes that made a first choice, for the choices all of them made; NaN where a step is
    past some episode's end."""
    first = first_outcome(ds)
    chose = first["outcome"] != "none"
    made, outcome = choices(ds).where(chose, drop=True), first["outcome"].where(chose, drop=True)
    made = made.isel(choice=slice(0, int((made["time"] >= 0).sum("choice").min()))).astype(int)
    W = ds["W"].where(live(ds)).sel(sample=made["sample"]).astype(np.float64)
    at = align(W, made["time"], list(offsets)).rename(lag="offset")   # (sample, choice, offset, post, pre)
    accuracy = decoding(at, outcome, ("post", "pre")).where(at.notnull().all(("sample", "post", "pre")))
    return accuracy.transpose("offset", "choice")


def _protocol(ds: xr.Dataset) -> dict:
    try:
        return yaml.safe_load(ds.attrs["protocol"]) or {}
    except (KeyError, yaml.YAMLError):
        raise ValueError("dataset attrs: expected `protocol`, the run's protocol as YAML, as every run and "
                         "evaluation dataset holds") from None
