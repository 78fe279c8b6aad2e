"""The standard figures, drawn from the shipped datasets and checked as a reader would look at them: every axis
with tick labels has a label, every figure a legend, and no two pieces of text overlap or leave the figure."""
import itertools

import numpy as np
import pytest
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg

import metods_sim
from metods_sim.analysis.figures import FIGURES, save, standard_figures

from conftest import ROOT
from synthetic_recording import ds  # noqa: F401  (the fixture)


def texts(figure):
    """(window extent, what) of every piece of text the figure draws, a legend counted as one box."""
    FigureCanvasAgg(figure).draw()
    renderer = figure.canvas.get_renderer()
    legends = [a.get_legend() for a in figure.axes if a.get_legend()] + list(figure.legends)
    drawn = [figure._suptitle] + [t for ax in figure.axes for t in axes_texts(ax)]
    boxes = [(legend.get_window_extent(renderer), "legend") for legend in legends]
    return boxes + [(t.get_window_extent(renderer), t.get_text()) for t in drawn
                    if t is not None and t.get_visible() and t.get_text().strip()]


def axes_texts(ax):
    """Titles, axis labels, offset texts, free texts and the tick labels of ticks inside the view."""
    out = [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
    for axis in (ax.xaxis, ax.yaxis):
        if not axis.get_visible():
            continue
        low, high = sorted(axis.get_view_interval())
        slack = 1e-9 * (high - low)
        out += [axis.offsetText] + [label for tick in axis.get_major_ticks()
                                    if low - slack <= tick.get_loc() <= high + slack
                                    for label in (tick.label1, tick.label2)]
    return out


def assert_readable(figure, name):
    boxes = texts(figure)
    width, height = figure.bbox.width, figure.bbox.height
    for box, what in boxes:
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, \
            f"{name}: {what!r} leaves the figure"
    for (a, what_a), (b, what_b) in itertools.combinations(boxes, 2):
        overlap = min(a.x1, b.x1) - max(a.x0, b.x0), min(a.y1, b.y1) - max(a.y0, b.y0)
        assert min(overlap) <= 1, f"{name}: {what_a!r} overlaps {what_b!r}"
    for ax in figure.axes:
        for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
            ticks = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
            if axis.get_visible() and ticks:
                assert label.strip(), f"{name}: an axis with tick labels has no label"
    assert any(a.get_legend() for a in figure.axes) or figure.legends, f"{name}: no legend"


@pytest.fixture(scope="module")
def shipped():
    return {path.stem: metods_sim.load(path) for path in (ROOT / "data").glob("*.nc")}


def comparison_of(run):
    """A `compare` dataset's shape from one shipped run: two trainers × two seeds (shifted copies)."""
    keep = run[["fitness_mean", "center_return", "eval_return", "eval_correct"]].reset_coords(["wall_time"])
    seeds = xr.concat([keep, keep.isel(generation=slice(0, 3000))], "seed", join="outer")
    both = xr.concat([seeds, seeds.assign(center_return=seeds.center_return - 1)], "trainer")
    return both.assign_coords(trainer=["es", "gradient"], seed=[0, 1]).set_coords("wall_time")


def test_every_standard_figure_of_the_shipped_datasets_is_readable(shipped):
    drawn = {}
    for stem, data in {**shipped, "comparison": comparison_of(shipped["harlow"])}.items():
        for name, figure in standard_figures(data).items():
            assert_readable(figure, f"{stem}/{name}")
            drawn.setdefault(name, stem)
    assert set(drawn) == set(FIGURES), "some standard figure is drawn from no shipped dataset"


def test_spread_over_seeds_is_drawn(shipped):
    run = shipped["harlow"][["fitness_mean", "center_return"]].isel(generation=slice(0, 400))
    seeds = xr.concat([run, run + 0.5], "seed")
    figure = standard_figures(seeds)["learning_curve"]
    assert_readable(figure, "learning curve over 2 seeds")
    assert len(figure.axes[0].collections) == 2   # one band per curve


def test_one_centre_curve_per_trainer(shipped):
    run = shipped["harlow"][["fitness_mean", "center_return"]].isel(generation=slice(0, 400))
    both = xr.concat([run, (run - 1.0).assign_coords(env_steps=run["env_steps"] * 3)], "trainer")
    figure = standard_figures(both.assign_coords(trainer=["es", "gradient"]))["learning_curve"]
    assert_readable(figure, "ES against gradient")
    lines = [line for line in figure.axes[0].get_lines() if line.get_label().startswith("trainer")]
    assert [line.get_label() for line in lines] == ["trainer es", "trainer gradient"]
    np.testing.assert_allclose(lines[1].get_xdata(), 3 * lines[0].get_xdata())
    np.testing.assert_allclose(lines[1].get_ydata(), lines[0].get_ydata() - 1.0)
    with pytest.raises(ValueError, match="at most one dim besides generation and seed"):
        standard_figures(xr.concat([both, both], "variant"))


def test_a_dataset_without_a_recording_gets_the_curve_and_the_score(shipped):
    run = shipped["harlow"].drop_vars(["W", "activation", "action", "reward", "value", "observation"])
    assert set(standard_figures(run)) == {"learning_curve", "correct_by_presentation"}


def test_a_recording_without_both_outcomes_gets_no_outcome_figure(ds):
    assert set(standard_figures(ds)) == {"weight_change"}        # one rewarded first choice only
    assert standard_figures(ds.assign_attrs(protocol="task: {kind: maze}\n")) == {}
    assert standard_figures(ds.drop_attrs()) == {}


def test_save_writes_png_and_pdf(ds, tmp_path):
    paths = save(standard_figures(ds)["weight_change"], tmp_path / "weight_change")
    assert [p.name for p in paths] == ["weight_change.png", "weight_change.pdf"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weight_change.pdf", "weight_change.png"]


def test_the_checker_sees_overlap_a_missing_label_and_no_legend():
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3, 2), layout="constrained")
    ax = figure.subplots()
    ax.plot([0, 1], [0, 1], label="line")
    ax.set(xlabel="x (s)", ylabel="y (m)")
    ax.legend()
    assert_readable(figure, "clean")
    ax.set_ylabel("")
    with pytest.raises(AssertionError, match="has no label"):
        assert_readable(figure, "unlabelled")
    ax.set_ylabel("y (m)")
    ax.set_title("a title long enough to run past the right edge of this small figure")
    with pytest.raises(AssertionError, match="leaves the figure"):
        assert_readable(figure, "long title")
    ax.set_title("")
    ax.text(0.5, 0.5, "here", transform=ax.transAxes)
    ax.text(0.52, 0.5, "there", transform=ax.transAxes)
    with pytest.raises(AssertionError, match="overlaps"):
        assert_readable(figure, "crowded")
    ax.texts[1].remove()
    ax.get_legend().remove()
    with pytest.raises(AssertionError, match="no legend"):
        assert_readable(figure, "no legend")
