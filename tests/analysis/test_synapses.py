"""The synapse analyses on a small synthetic recording whose answers are known by construction."""
import numpy as np
import pytest
import xarray as xr

from metods_sim.analysis import (align, choice_rewards, choices, decoding, episode_energy, first_outcome,
                                 hopfield_energy, outcome_decoding, reward_input, separation, weight_change,
                                 weight_change_by_reward, weight_pca)

from synthetic_recording import LENGTH, REWARDS, D, ds, recording  # noqa: F401  (ds: the fixture)


def test_first_outcome(ds):
    first = first_outcome(ds)
    assert first["time"].values.tolist() == [2, 1, -1, 2]
    np.testing.assert_array_equal(first["reward"], [1.0, -1.0, np.nan, -1.0])
    assert first["outcome"].values.tolist() == ["rewarded", "unrewarded", "none", "unrewarded"]


def test_first_outcome_needs_the_choice_rewards(ds):
    assert choice_rewards(ds) == {"correct_reward": 1.0, "wrong_reward": -1.0}
    with pytest.raises(ValueError, match="correct_reward and wrong_reward"):
        first_outcome(ds.assign_attrs(protocol="task: {kind: maze}\n"))
    with pytest.raises(ValueError, match="expected `protocol`"):
        first_outcome(ds.drop_attrs())


def test_align_reindexes_on_the_lag_from_an_event(ds):
    da = ds["time"] * 10 + ds["sample"]
    out = align(da, xr.DataArray([2, 1, 0, 5], dims="sample"), [-1, 0, 1])
    assert out.dims == ("sample", "lag") and out["lag"].values.tolist() == [-1, 0, 1]
    np.testing.assert_array_equal(out, [[10, 20, 30], [1, 11, 21], [np.nan, 2, 12], [43, 53, np.nan]])
    events = align(da, xr.DataArray([[2, -1], [1, 4], [0, 0], [-1, -1]], dims=("sample", "event")), [0, 1])
    assert events.dims == ("sample", "event", "lag")
    np.testing.assert_array_equal(events, [[[20, 30], [np.nan, np.nan]], [[11, 21], [41, 51]], [[2, 12], [2, 12]],
                                           [[np.nan, np.nan], [np.nan, np.nan]]])


def test_weight_pca_finds_the_one_direction(ds):
    pca = weight_pca(ds)
    np.testing.assert_allclose(pca["loading"].sel(component=1), D / np.linalg.norm(D), atol=1e-6)
    np.testing.assert_allclose(pca["explained"], [1.0, 0.0], atol=1e-9)
    a = ds.attrs["a"]
    live = np.arange(6)[None] < LENGTH[:, None]
    expected = np.where(live, (a - a[live].mean()) * np.linalg.norm(D), np.nan)
    np.testing.assert_allclose(pca["score"].sel(component=1), expected, atol=1e-5)
    np.testing.assert_allclose(pca["mean"], a[live].mean() * D, atol=1e-5)


def test_hopfield_energy_is_minus_v1_W_v2():
    W = xr.DataArray([[1.0, 2.0], [3.0, 4.0]], dims=("post", "pre"))
    e1, e2 = (xr.DataArray(x, dims="neuron") for x in ([1.0, 0.0], [0.0, 1.0]))
    assert float(hopfield_energy(W, e1, e2)) == -2.0   # −W[post 0, pre 1]
    assert float(hopfield_energy(W, e2, e1)) == -3.0
    assert float(hopfield_energy(W, e1 + e2)) == -10.0
    stacked = hopfield_energy(xr.concat([W, 2 * W], "sample"), e1, e2)
    assert stacked.dims == ("sample",) and stacked.values.tolist() == [-2.0, -4.0]


def test_episode_energy(ds):
    live = np.arange(6)[None] < LENGTH[:, None]
    np.testing.assert_allclose(episode_energy(ds), np.where(live, -ds.attrs["a"], np.nan))  # −v W v = −a·D[0, 0]


def test_weight_change_and_the_reward_it_is_paired_with(ds):
    np.testing.assert_array_equal(reward_input(ds)[:, 0], 0.0)
    np.testing.assert_array_equal(reward_input(ds)[:, 1:], REWARDS[:, :-1])
    live = np.arange(6)[None] < LENGTH[:, None]
    expected = np.where(reward_input(ds) != 0, 4.5, 1.5)   # Σ|Δa·D| = 1.5|Δa|
    np.testing.assert_allclose(weight_change(ds), np.where(live, expected, np.nan))
    unknown_start = weight_change(ds.assign_attrs(protocol="agent: {W0: learned}\n"))
    assert np.isnan(unknown_start[:, 0]).all() and np.isfinite(unknown_start[:, 1:3]).all()


def test_weight_change_by_reward(ds):
    table = weight_change_by_reward(ds)
    assert table["reward"].values.tolist() == [-1.0, 0.0, 0.2, 1.0]
    np.testing.assert_allclose(table["mean"], [4.5, 1.5, 4.5, 4.5])
    assert table["steps"].values.tolist() == [2, 10, 4, 2]
    np.testing.assert_allclose(table["sem"], 0.0)
    np.testing.assert_allclose(table["share"], np.array([12, 20, 24, 12]) / 68)
    np.testing.assert_allclose(table["steps_share"], np.array([2, 10, 4, 2]) / 18)
    # the 8 largest of the 18 steps (top 0.45) are exactly the 8 with a non-zero reward input
    np.testing.assert_allclose(weight_change_by_reward(ds, top=8 / 18)["top_share"], np.array([2, 0, 4, 2]) / 8)


def test_separation_is_d_prime():
    values = xr.DataArray([[0.0, 5.0], [2.0, 5.0], [4.0, 6.0], [6.0, 4.0]], dims=("sample", "lag"))
    group = xr.DataArray(["a", "a", "b", "b"], dims="sample")
    # lag 0: means 1 and 5, both variances 2 → d′ = 4 / √2; lag 1: means 5 and 5 → 0
    np.testing.assert_allclose(separation(values, group), [4 / np.sqrt(2), 0.0])
    with pytest.raises(ValueError, match="exactly two distinct labels"):
        separation(values, xr.DataArray(["a", "b", "c", "c"], dims="sample"))


def test_choices_in_order(ds):
    made = choices(ds)
    assert made["choice"].values.tolist() == [1, 2]
    assert made["time"].values.tolist() == [[2, -1], [1, 4], [-1, -1], [2, -1]]
    np.testing.assert_array_equal(made["reward"], [[1.0, np.nan], [-1.0, 1.0], [np.nan, np.nan], [-1.0, np.nan]])


def test_separation_is_nan_without_spread():
    values = xr.DataArray([1.0, 1.0, 1.0, 1.0], dims="sample") / 3
    assert np.isnan(separation(values, xr.DataArray(["a", "a", "b", "b"], dims="sample")))


def test_decoding_by_leave_one_out_nearest_centroid():
    group = xr.DataArray(["a", "a", "a", "b", "b", "b"], dims="sample")
    # feature set 0: two clean clusters; feature set 1: sample 0 sits on the other cluster, so it alone is
    # misclassified once left out
    x = np.array([[[0.0, 0.0], [5.0, 5.0]], [[0.1, 0.0], [0.0, 0.1]], [[0.0, 0.1], [0.1, 0.0]],
                  [[5.0, 5.0], [5.0, 5.1]], [[5.1, 5.0], [5.1, 5.0]], [[5.0, 5.1], [5.0, 5.0]]])
    values = xr.DataArray(x, dims=("sample", "set", "feature"))
    np.testing.assert_allclose(decoding(values, group, "feature"), [1.0, 5 / 6])
    with pytest.raises(ValueError, match="exactly two distinct labels"):
        decoding(values, group.where(group == "a", "c").where(np.arange(6) != 5, "d"), "feature")


def test_outcome_decoding_at_the_same_phase_of_every_presentation():
    """Two choices per episode (t = 1 and 4); W carries the sign of the first outcome from t = 2 on, so it can
    be decoded one step after the first choice and at the second, not at the first (W identical: a tie)."""
    rewards = np.array([[0.2, first, 0.0, 0.2, 1.0, 0.0] for first in (1.0, 1.0, -1.0, -1.0)])
    a = np.array([[0, 0, sign, sign, sign, sign] for sign in (1.0, 1.1, -1.0, -1.2)])
    accuracy = outcome_decoding(recording(a, rewards, np.array([6, 6, 6, 6])), offsets=(0, 1, 2))
    assert accuracy.dims == ("offset", "choice")
    np.testing.assert_array_equal(accuracy, [[0.5, 1.0], [1.0, 1.0], [1.0, np.nan]])   # t = 6: past the end
