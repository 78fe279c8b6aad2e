"""Intervals between maze rewards on a small synthetic evaluation with known answers."""
import numpy as np
import xarray as xr

from metods_sim.analysis import find_intervals


def test_intervals_between_finds_are_counted_over_the_episodes_that_made_them():
    steps = np.array([[10, 14, 20, 0], [30, 0, 0, 0], [0, 0, 0, 0], [20, 22, 0, 0]], dtype=float)
    ds = xr.Dataset({"eval_find_step": (("episode", "find"), steps)}, coords={"find": [1, 2, 3, 4]})
    out = find_intervals(ds, finds=3)
    np.testing.assert_array_equal(out["episodes"], [3, 2, 1])
    np.testing.assert_allclose(out["mean"], [20.0, 3.0, 6.0])
    np.testing.assert_allclose(out["sem"][:2], [10.0 / np.sqrt(3), np.std([4, 2], ddof=1) / np.sqrt(2)])
    assert np.isnan(out["sem"][2])


def test_among_keeps_the_same_episodes_for_every_interval():
    steps = np.array([[10, 14, 20, 0], [30, 0, 0, 0], [0, 0, 0, 0], [20, 22, 0, 0]], dtype=float)
    ds = xr.Dataset({"eval_find_step": (("episode", "find"), steps)}, coords={"find": [1, 2, 3, 4]})
    out = find_intervals(ds, among=2)
    np.testing.assert_array_equal(out["episodes"], [2, 2])
    np.testing.assert_allclose(out["mean"], [15.0, 3.0])
