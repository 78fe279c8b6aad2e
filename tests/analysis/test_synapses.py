"""The synapse analyses on a small synthetic recording whose answers are known by construction."""
import numpy as np
import pytest
import xarray as xr

from metods_sim.analysis import (align, episode_energy, first_outcome, hopfield_energy, reward_input, weight_change,
                                 weight_change_by_reward, weight_pca)

REWARDS = np.array([[0.0, 0.2, 1.0, 0.0, 0.0, 0.0],    # first choice rewarded at t = 2; length 4
                    [0.2, -1.0, 0.0, 0.2, 1.0, 0.0],   # unrewarded at t = 1; length 6
                    [0.0, 0.0, 0.0, 0.0, 1.0, 0.0],    # the 1.0 comes after the end (length 3): no choice
                    [0.2, 0.0, -1.0, 0.0, 0.2, 0.0]])  # unrewarded at t = 2; length 5
LENGTH = np.array([4, 6, 3, 5])
D = np.array([[1.0, 0.0], [0.0, -0.5]])  # the only direction W moves in


@pytest.fixture
def ds():
    """W_t = a_t·D, where a grows by 3 at steps whose reward input is non-zero and by 1 elsewhere (from W₀ = 0);
    activation v_t = (1, 0); recording padded with zeros after each episode's length."""
    reward_in = np.concatenate([np.zeros((4, 1)), REWARDS[:, :-1]], axis=1)
    a = np.cumsum(np.where(reward_in != 0, 3.0, 1.0), axis=1)
    live = np.arange(6)[None] < LENGTH[:, None]
    W = (a * live)[..., None, None] * D
    v = np.zeros((4, 6, 2))
    v[..., 0] = live
    return xr.Dataset({"W": (("sample", "time", "post", "pre"), W.astype(np.float32)),
                       "activation": (("sample", "time", "neuron"), v.astype(np.float32)),
                       "reward": (("sample", "time"), REWARDS), "sample_length": ("sample", LENGTH)},
                      coords={"sample": np.arange(4), "time": np.arange(6)},
                      attrs={"protocol": "task: {correct_reward: 1.0, wrong_reward: -1.0}\nagent: {W0: zeros}\n",
                             "a": a})


def test_first_outcome(ds):
    first = first_outcome(ds)
    assert first["time"].values.tolist() == [2, 1, -1, 2]
    np.testing.assert_array_equal(first["reward"], [1.0, -1.0, np.nan, -1.0])
    assert first["outcome"].values.tolist() == ["rewarded", "unrewarded", "none", "unrewarded"]


def test_first_outcome_needs_the_choice_rewards(ds):
    with pytest.raises(ValueError, match="correct_reward and wrong_reward"):
        first_outcome(ds.assign_attrs(protocol="task: {kind: maze}\n"))
    with pytest.raises(ValueError, match="expected `protocol`"):
        first_outcome(ds.drop_attrs())


def test_align_reindexes_on_the_lag_from_an_event(ds):
    da = ds["time"] * 10 + ds["sample"]
    out = align(da, xr.DataArray([2, 1, 0, 5], dims="sample"), [-1, 0, 1])
    assert out.dims == ("sample", "lag") and out["lag"].values.tolist() == [-1, 0, 1]
    np.testing.assert_array_equal(out, [[10, 20, 30], [1, 11, 21], [np.nan, 2, 12], [43, 53, np.nan]])


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
