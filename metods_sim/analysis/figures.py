"""The standard figures of a dataset, as matplotlib Figures (no pyplot state: they render headless and show in a
notebook as they are). `standard_figures(ds)` gives every figure the dataset has the variables for; `python -m
metods_sim plot RESULTS.nc` writes them as PNG and PDF."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..results.atomic import atomic_write as atomic
from .curves import ablation_table, comparison_rows, learning_curve
from .maze import find_intervals
from .motor import reward_curve
from .summary import correct_by_trial
from .synapses import (align, choice_rewards, choices, episode_energy, first_outcome, outcome_decoding, reward_input,
                       separation, weight_change, weight_pca)

OUTCOME_COLORS = {"rewarded": "#1b7837", "unrewarded": "#c51b7d"}
OUTCOME_LABELS = {"rewarded": "first choice rewarded", "unrewarded": "first choice unrewarded"}
PCA_LAGS = range(-1, 9)   # the first six with data are drawn (a task without fixation has no step before)


def _figure(width=6.4, height=4.0, **subplots):
    figure = Figure(figsize=(width, height), layout="constrained", dpi=110)
    return figure, figure.subplots(**subplots)


def learning_curve_figure(ds: xr.Dataset) -> Figure:
    """Return per episode over environment steps: the search centre on the validation episodes and the mean of
    the population, each with its spread over seeds when ds has a seed dim; the task's optimum dashed. With one
    more dim, e.g. `trainer` (ES against gradient) or `variant`, one search-centre curve per entry of it."""
    extra = [d for d in ds["center_return"].dims if d not in ("generation", "seed")]
    if len(extra) > 1:
        raise ValueError(f"center_return: expected at most one dim besides generation and seed, got {extra}")
    if extra:
        curves = [(f"{extra[0]} {value}", f"C{i}", learning_curve(ds.isel({extra[0]: i}), "center_return"))
                  for i, value in enumerate(ds[extra[0]].values)]
    else:
        curves = [("population mean (training episodes)", "0.7", learning_curve(ds, "fitness_mean")),
                  ("search centre (validation episodes)", "C0", learning_curve(ds, "center_return"))]
    figure, ax = _figure()
    for label, color, curve in curves:
        thin = curve.attrs["variable"] == "fitness_mean"   # noisy, drawn behind
        ax.plot(curve["env_steps"], curve["mean"], color=color, lw=0.8 if thin else 1.5, label=label)
        if int(curve["seeds"].max()) > 1:
            ax.fill_between(curve["env_steps"], curve["low"], curve["high"], color=color, alpha=0.25, lw=0)
    if np.isfinite(float(ds.attrs.get("task_optimum", np.nan))):
        ax.axhline(float(ds.attrs["task_optimum"]), color="k", ls="--", lw=0.8,
                   label=f"optimum ({float(ds.attrs['task_optimum']):g})")
    ax.set(xlabel="environment steps", ylabel="return per episode (sum of rewards)", title="Meta-training")
    if extra:   # one curve per variant: the legend goes below the axes, where it hides no curve
        figure.set_figheight(4.0 + 0.22 * (len(curves) + 1) / 2)
        figure.legend(loc="outside lower center", ncols=2, fontsize=8)
    else:
        ax.legend(loc="lower right")
    return figure


def correct_figure(ds: xr.Dataset) -> Figure:
    """Share of held-out episodes in which the rewarded object was chosen, per presentation, with 95% binomial
    intervals; chance (50%) dashed."""
    figure, ax = _figure(5.0, 3.6)
    share = correct_by_trial(ds)
    n = ds.sizes["episode"]
    half = 1.96 * np.sqrt(share * (1 - share) / n)
    ax.errorbar(share["trial"], 100 * share, yerr=100 * half, marker="o", capsize=3,
                label=f"agent ({n:,} held-out episodes)")
    ax.axhline(50, color="k", ls="--", lw=0.8, label="chance")
    ax.set(xlabel="presentation", ylabel="rewarded object chosen (% of episodes)", ylim=(0, 105),
           xticks=share["trial"].values, title="One-shot learning")
    ax.legend(loc="lower right")
    return figure


def _by_outcome(ds: xr.Dataset):
    """(outcome name, boolean over sample) for the two first-choice outcomes present in the recording."""
    first = first_outcome(ds)
    return first, [(name, (first["outcome"] == name).values) for name in OUTCOME_COLORS
                   if (first["outcome"] == name).any()]


def _lag_title(lag: int) -> str:
    return {0: "first choice", 1: "+1 (its reward is input)"}.get(
        lag, f"{lag:+d} step{'s' * (abs(lag) > 1)}".replace("-", "−"))


def pca_figure(ds: xr.Dataset, lags=PCA_LAGS, panels: int = 6) -> Figure:
    """W_t projected on the first two principal components of W (pooled over every recorded episode and step),
    one panel per step relative to the first choice (the first `panels` of `lags` with data), each episode
    coloured by that choice's outcome; d′ is the separation of the two outcomes along PC 1."""
    pca = weight_pca(ds)
    first, groups = _by_outcome(ds)
    score = align(pca["score"], first["time"], list(lags))
    lags = [int(lag) for lag in score["lag"].values if score.sel(lag=lag).notnull().any()][:panels]
    explained = 100 * pca["explained"].values
    chose = first["outcome"] != "none"
    d = separation(score.sel(component=1).where(chose, drop=True), first["outcome"].where(chose, drop=True)) \
        if len(groups) == 2 else None
    figure, axes = _figure(7.2, 4.8, nrows=2, ncols=(len(lags) + 1) // 2, sharex=True, sharey=True)
    for ax, lag in zip(axes.flat, lags):
        for name, chosen in groups:
            point = score.sel(lag=lag).isel(sample=chosen)
            ax.scatter(point.sel(component=1), point.sel(component=2), s=9, alpha=0.7, lw=0,
                       color=OUTCOME_COLORS[name], label=f"{OUTCOME_LABELS[name]} ({int(chosen.sum())})")
        spread = "" if d is None or np.isnan(d.sel(lag=lag)) else f", d′ {float(d.sel(lag=lag)):.1f}"
        ax.set_title(_lag_title(lag) + spread, fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel(f"PC 1 of W ({explained[0]:.0f}% var.)")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"PC 2 of W ({explained[1]:.0f}% var.)")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=2, markerscale=2)
    figure.suptitle(f"Dynamic weights W around the first choice, by its outcome ({ds.sizes['sample']} episodes)",
                    fontsize=10)
    return figure


def outcome_in_weights_figure(ds: xr.Dataset, offsets=(0, 1, 2)) -> Figure:
    """How well the whole of W tells the first choice's outcome, at the same phase of every presentation: the step
    of its choice and the steps after it, by leave-one-out nearest-centroid decoding over the recorded episodes."""
    accuracy = outcome_decoding(ds, offsets)
    episodes = int((first_outcome(ds)["outcome"] != "none").sum())
    figure, ax = _figure(5.6, 3.8)
    for offset, marker in zip(offsets, "osd"):
        label = "at the choice" if offset == 0 else f"{offset} step{'s' * (offset > 1)} after it"
        ax.plot(accuracy["choice"], 100 * accuracy.sel(offset=offset), marker=marker, label=label)
    ax.axhline(50, color="k", ls="--", lw=0.8, label="chance")
    ax.set(xlabel="presentation (its object choice)", ylabel="first outcome decoded from W (% of episodes)",
           ylim=(0, 105), xticks=accuracy["choice"].values,
           title=f"Is the first outcome held in W? ({episodes} episodes)")
    figure.legend(loc="outside lower center", ncols=4, fontsize=8)
    return figure


def _mean_band(ax, values: xr.DataArray, chosen, name):
    group = values.isel(sample=chosen)
    mean, sem = group.mean("sample"), group.std("sample", ddof=1) / np.sqrt(group.count("sample"))
    ax.plot(values["lag"], mean, color=OUTCOME_COLORS[name], marker=".",
            label=f"{OUTCOME_LABELS[name]} ({int(chosen.sum())})")
    ax.fill_between(values["lag"], mean - sem, mean + sem, color=OUTCOME_COLORS[name], alpha=0.25, lw=0)


def energy_figure(ds: xr.Dataset, lags=range(-2, 9)) -> Figure:
    """Hopfield energy E_W(v, v) = −vᵀWv of the network's state under the weights it has just written, over steps
    relative to the first choice's outcome: mean ± s.e.m. over the episodes of each outcome."""
    first, groups = _by_outcome(ds)
    energy = align(episode_energy(ds), first["time"], list(lags))
    figure, ax = _figure(6.4, 3.8)
    for name, chosen in groups:
        _mean_band(ax, energy, chosen, name)
    ax.axvline(0, color="k", lw=0.8, ls=":")
    ax.set(xlabel="steps after the first choice (its reward is input at +1)",
           ylabel="energy −vₜᵀWₜvₜ (dimensionless)",
           title="Hopfield energy of the state under the written weights")
    figure.legend(loc="outside lower center", ncols=2)
    return figure


def weight_change_figure(ds: xr.Dataset, lags=range(-2, 4)) -> Figure:
    """Σ|ΔW| per step against the reward the agent receives at that step (the previous step's reward): its
    distribution for each reward value over every recorded step (left), and its mean ± s.e.m. around every
    object choice, by that choice's reward (right)."""
    change, reward = weight_change(ds), reward_input(ds)
    known = change.notnull().values
    rewards = np.unique(reward.values[known])
    figure, (left, right) = _figure(8.4, 3.9, ncols=2, width_ratios=(1, 1.3))
    left.boxplot([change.values[known & (reward.values == r)] for r in rewards], showfliers=False, showmeans=True,
                 meanprops=dict(marker="^", markerfacecolor="C3", markeredgecolor="C3", label="mean"),
                 medianprops=dict(color="C0", label="median"))
    left.set_xticks(np.arange(1, len(rewards) + 1), [f"{r:g}".replace("-", "−") for r in rewards])
    left.set(xlabel="reward input at the step", ylabel="Σ|ΔW| written at the step (dimensionless)",
             title="Every recorded step")
    made = choices(ds)
    around = align(change, made["time"], list(lags))   # (sample, choice, lag)
    task = choice_rewards(ds)
    for value, name in ((task["correct_reward"], "rewarded"), (task["wrong_reward"], "unrewarded")):
        group = around.where(made["reward"] == value).stack(event=("sample", "choice"))
        mean, n = group.mean("event"), group.count("event")
        sem = group.std("event", ddof=1) / np.sqrt(n)
        right.errorbar(around["lag"], mean, yerr=sem, marker="o", capsize=3, color=OUTCOME_COLORS[name],
                       label=f"{name} choices ({int(n.max())})")
    right.axvspan(0.6, 1.4, color="0.85", lw=0, label="its reward is input")
    right.set(xlabel="steps after an object choice", ylabel="Σ|ΔW| (dimensionless)", xticks=list(lags),
              title="Around every object choice")
    boxes, box_labels = left.get_legend_handles_labels()
    lines, line_labels = right.get_legend_handles_labels()
    # below both panels, where no data is; the boxes give one mean and one median entry each: keep one
    figure.legend(boxes[:2] + lines, box_labels[:2] + line_labels, loc="outside lower center", ncols=5, fontsize=8)
    return figure


def find_intervals_figure(ds: xr.Dataset, among=(2, 3, 4)) -> Figure:
    """Maze: steps to the first target reward, then between successive rewards, mean ± s.e.m. over the held-out
    episodes that made at least k rewards, one line per k (the same episodes along a line). After a reward the
    agent is teleported: an agent that remembers the target's place goes back faster than it first found it
    (a falling line); an explorer without that memory takes as long each time (a flat line)."""
    figure, ax = _figure(5.4, 3.8)
    for i, k in enumerate(among):
        found = find_intervals(ds, among=k)
        n = int(found["episodes"].min())
        if n < 2:
            continue
        ax.errorbar(found["find"] + 0.06 * (i - 1), found["mean"], yerr=found["sem"], marker="o", capsize=3,
                    color=f"C{i}", label=f"episodes with ≥ {k} rewards ({n})")
    ax.set(xlabel="target reward", ylabel="steps since the previous reward (or start)",
           xticks=list(range(1, max(among) + 1)), title="Returns to the target")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower left", fontsize=8)
    return figure


def ablation_figure(ds: xr.Dataset) -> Figure:
    """A sweep's held-out return per variant, mean ± s.e.m. (over seeds when there are several, else over
    episodes), one horizontal bar each, the first variant on top."""
    table = ablation_table(ds)
    names = [str(v) for v in table["variant"].values]
    figure, ax = _figure(6.0, 1.2 + 0.45 * len(names))
    rows = np.arange(len(names))[::-1]
    over = "seeds" if ds.sizes.get("seed", 1) > 1 else "held-out episodes"
    seeds = ds.sizes.get("seed", 1)
    ax.barh(rows, table["return_mean"], xerr=table["return_sem"], capsize=3, color="C0",
            label=f"trained agent, {seeds} seed{'s' if seeds > 1 else ''} each ({ds.sizes['episode']:,} held-out "
                  f"episodes)")
    ax.set_yticks(rows, names)
    ax.set(xlabel="held-out return per episode", ylabel="variant", title=f"Ablation (mean ± s.e.m. over {over})")
    figure.set_figheight(figure.get_figheight() + 0.4)
    figure.legend(loc="outside lower center", fontsize=8)
    return figure


def comparison_figure(ds: xr.Dataset) -> Figure:
    """Trainers or agents side by side (a `python -m metods_sim compare` dataset): validation return over
    environment steps and over wall time, mean over seeds with its spread; the held-out one-shot score per
    presentation (Harlow) or success per rollout (Meta-World)."""
    figure, axes = _figure(13.0, 3.8, ncols=3)
    dim = comparison_rows(ds)
    for i, trainer in enumerate(ds[dim].values):
        one = ds.sel({dim: trainer})
        curve = learning_curve(one, "center_return")
        clock = one["wall_time"].mean("seed").sel(generation=curve["generation"])
        for ax, x in zip(axes[:2], (curve["env_steps"], clock / 60)):
            ax.plot(x, curve["mean"], color=f"C{i}", label=str(trainer))
            ax.fill_between(x, curve["low"], curve["high"], color=f"C{i}", alpha=0.25, lw=0)
        for name, axis in (("eval_correct", "trial"), ("eval_success", "rollout")):
            if name in one and axis in one[name].dims:
                share = one[name].mean(("seed", "episode"))
                axes[2].plot(share[axis], 100 * share, marker="o", color=f"C{i}", label=str(trainer))
    for ax, xlabel in zip(axes[:2], ("environment steps", "wall time (min)")):
        ax.set(xlabel=xlabel, ylabel="validation return per episode", xscale="log" if "steps" in xlabel else "linear")
        if "task_optimum" in ds.attrs:
            ax.axhline(float(ds.attrs["task_optimum"]), color="k", ls="--", lw=0.8)
        ax.legend(loc="upper left")
    if "eval_correct" in ds:
        axes[2].axhline(50, color="k", ls="--", lw=0.8)
        axes[2].set(xlabel="presentation", ylabel="rewarded object chosen (%)")
    else:
        axes[2].set(xlabel="rollout", ylabel="successful rollouts (%)")
    axes[2].set(ylim=(0, 105), title="held-out episodes, mean over seeds")
    axes[2].legend(loc="lower right")
    return figure


def reward_curve_figure(ds: xr.Dataset) -> Figure:
    """Reward per time step within the test episodes, mean ± s.e.m. over episodes, one curve per goal rewarded
    (forward/backward) where the dataset labels it: the paper's online-adaptation figure."""
    curve = reward_curve(ds)
    figure, ax = _figure()
    for i, goal in enumerate(curve["goal"].values):
        one = curve.sel(goal=goal)
        label = "all test episodes" if curve.attrs["by"] == "all episodes" else f"{curve.attrs['by']} = {goal:g}"
        ax.plot(one["step"], one["mean"], color=f"C{i}", label=f"{label} ({int(one['episodes'])} episodes)")
        ax.fill_between(one["step"], one["mean"] - one["sem"], one["mean"] + one["sem"], color=f"C{i}", alpha=0.25,
                        lw=0)
    ax.axhline(0, color="k", lw=0.6)
    ax.set(xlabel="time step within the episode", ylabel="reward per step (mean ± s.e.m.)",
           title="Adaptation within an episode")
    ax.legend(loc="lower right", fontsize=8)
    return figure


def impairment_figure(ds: xr.Dataset) -> Figure:
    """`python -m metods_sim impair --out` dataset: per frozen actuator, the return retained (impaired /
    unimpaired) and the share of the gain over a motionless body kept; their means dashed."""
    figure, ax = _figure()
    k = ds["actuator"].values
    for i, (name, label) in enumerate((("retained", "impaired / unimpaired return"),
                                       ("retained_gain", "share of the gain over motionless kept"))):
        ax.bar(k + (i - 0.5) * 0.4, ds[name], width=0.4, color=f"C{i}", label=label)
        ax.axhline(float(ds[f"{name}_mean"]), color=f"C{i}", ls="--", lw=1,
                   label=f"mean over actuators: {float(ds[f'{name}_mean']):.2f}")
    ax.axhline(0, color="k", lw=0.6)
    ax.set(xlabel="frozen actuator (zero torque)", ylabel="share kept", xticks=k,
           title="Robot impairment")
    figure.set_figheight(figure.get_figheight() + 0.5)
    figure.legend(loc="outside lower center", ncols=2, fontsize=8)
    return figure


RECORDING = ("W", "activation", "reward", "sample_length")
FIGURES = {  # name: (figure, variables it needs, what else: object choices, both first-choice outcomes, a sweep,
             # a comparison, one run)
    "learning_curve": (learning_curve_figure, ("fitness_mean", "center_return", "env_steps"), None),
    "ablation": (ablation_figure, ("eval_return", "variant"), "sweep"),
    "correct_by_presentation": (correct_figure, ("eval_correct",), "one run"),
    "find_intervals": (find_intervals_figure, ("eval_find_step",), "one run"),
    "reward_curve": (reward_curve_figure, ("eval_reward",), "one run"),
    "impairment": (impairment_figure, ("retained", "retained_gain"), None),
    "comparison": (comparison_figure, ("center_return", "wall_time", "seed"), "comparison"),
    "weight_pca": (pca_figure, RECORDING, "outcomes"),
    "first_outcome_in_W": (outcome_in_weights_figure, RECORDING, "outcomes"),
    "energy": (energy_figure, RECORDING, "outcomes"),
    "weight_change": (weight_change_figure, RECORDING, "choices"),
}


def standard_figures(ds: xr.Dataset) -> dict[str, Figure]:
    """{name: Figure} for every standard figure that ds has what it needs for: its variables, not empty (an
    untrained agent has no generation; only MetODS records W), and for the figures of the recording a Harlow
    protocol in ds.attrs and recorded object choices (the outcome figures: at least two recorded episodes of each
    first-choice outcome)."""
    counts = _first_outcomes(ds)
    compared = "trainer" in ds.dims or "agent" in ds.dims
    several = "variant" in ds.dims or compared   # a sweep or a comparison: figures of one run skip it
    met = {None: True, "choices": sum(counts.values()) > 0, "outcomes": min(counts.values(), default=0) >= 2,
           "sweep": "variant" in ds.dims, "comparison": compared, "one run": not several}
    return {name: make(ds) for name, (make, needs, extra) in FIGURES.items()
            if met[extra] and all(v in ds.variables and ds[v].size for v in needs)}


def _first_outcomes(ds: xr.Dataset) -> dict:
    """{outcome: recorded episodes} of the first choice; empty without a recording or a Harlow protocol."""
    if not all(v in ds.variables for v in RECORDING):
        return {}
    try:
        outcome = first_outcome(ds)["outcome"]
    except ValueError:   # no protocol, or not a Harlow task
        return {}
    return {name: int((outcome == name).sum()) for name in OUTCOME_COLORS}


def save(figure: Figure, path) -> list[Path]:
    """Write path.png and path.pdf atomically (a reader never sees half a file)."""
    path = Path(path)
    return [atomic(path.with_suffix(suffix), lambda tmp, fmt=suffix[1:]: figure.savefig(tmp, format=fmt))
            for suffix in (".png", ".pdf")]
