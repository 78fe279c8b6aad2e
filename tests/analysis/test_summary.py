"""Summaries on small synthetic datasets with known answers."""
import numpy as np
import pytest
import xarray as xr

from metods_sim.analysis import correct_by_trial, later_correct, summary, summary_text


@pytest.fixture
def ds():
    correct = np.array([[0, 1, 1, 1], [1, 1, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]], dtype=float)
    return xr.Dataset(
        {"eval_return": ("episode", [1.0, 2.0, 3.0, 4.0]), "eval_correct": (("episode", "trial"), correct),
         "fitness_mean": ("generation", [0.0, 1.0])},
        coords={"trial": [1, 2, 3, 4], "env_steps": ("generation", [10, 30]),
                "wall_time": ("generation", [60.0, 120.0])},
        attrs={"task_optimum": 5.0, "status": "finished"})


def test_correct_by_trial(ds):
    np.testing.assert_allclose(correct_by_trial(ds).values, [0.5, 1.0, 0.75, 0.75])


def test_later_correct_skips_the_first_presentation(ds):
    assert later_correct(ds) == pytest.approx(10 / 12)
    assert later_correct(ds, first=4) == pytest.approx(0.75)


def test_summary(ds):
    s = summary(ds)
    assert s["return_mean"] == 2.5 and s["return_ratio"] == 0.5
    assert s["return_sem"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2)
    assert s["generations"] == 2 and s["env_steps"] == 30 and s["wall_time"] == 120.0
    text = summary_text(ds)
    assert "2.500" in text and "50.0% of the optimum 5.00" in text and "83.3%" in text and "2.0 min" in text


def test_a_gradient_run_counts_updates(ds):
    assert "training: 2 generations," in summary_text(ds)
    ds.attrs["protocol"] = "trainer: {kind: gradient}"
    assert "training: 2 updates," in summary_text(ds)


def test_the_summary_says_why_training_stopped(ds):
    ds.attrs["stopped_by"] = "solved"
    assert "2.0 min, stopped: solved" in summary_text(ds)
    ds.attrs["stopped_by"] = "time_limit"
    assert "2.0 min, stopped: time limit" in summary_text(ds)
