"""Learning curves and ablation tables on small synthetic datasets with known answers."""
import numpy as np
import pytest
import xarray as xr

from metods_sim.analysis import ablation_effects, ablation_table, learning_curve

NAN = np.nan


def run(center, fitness, steps):
    return xr.Dataset({"center_return": ("generation", center), "fitness_mean": ("generation", fitness)},
                      coords={"generation": np.arange(len(center)), "env_steps": ("generation", steps)})


@pytest.fixture
def runs():
    """Two seeds; the second stopped one generation earlier (padded with NaN by concat)."""
    a = run([0.0, NAN, 2.0, NAN, 4.0], [0.0, 1.0, 2.0, 3.0, 4.0], [10, 20, 30, 40, 50])
    b = run([2.0, NAN, 4.0, NAN], [1.0, 2.0, 3.0, 4.0], [12, 22, 32, 42])
    return xr.concat([a, b], "seed", join="outer")


def test_one_run_has_no_spread_and_keeps_the_measured_generations():
    curve = learning_curve(run([1.0, NAN, 3.0], [0.0, 1.0, 2.0], [5, 10, 15]))
    assert curve["generation"].values.tolist() == [0, 2]
    assert curve["env_steps"].values.tolist() == [5, 15]
    np.testing.assert_array_equal(curve["low"], curve["mean"])
    np.testing.assert_array_equal(curve["high"], [1.0, 3.0])


def test_mean_and_spread_over_seeds(runs):
    curve = learning_curve(runs, spread="std")
    assert curve["generation"].values.tolist() == [0, 2, 4]
    np.testing.assert_allclose(curve["mean"], [1.0, 3.0, 4.0])
    np.testing.assert_allclose(curve["high"] - curve["mean"], [np.sqrt(2), np.sqrt(2), 0.0])
    assert curve["seeds"].values.tolist() == [2, 2, 1]
    np.testing.assert_allclose(curve["env_steps"], [11, 31, 50])
    sem = learning_curve(runs, spread="sem")
    np.testing.assert_allclose(sem["mean"] - sem["low"], [1.0, 1.0, 0.0])
    full = learning_curve(runs, "fitness_mean", spread="range")
    np.testing.assert_allclose(full["low"], [0, 1, 2, 3, 4])
    np.testing.assert_allclose(full["high"], [1, 2, 3, 4, 4])


def test_other_dims_are_kept(runs):
    both = xr.concat([runs, runs + 10], "trainer").assign_coords(trainer=["es", "gradient"])
    curve = learning_curve(both)
    assert curve["mean"].dims == ("trainer", "generation")
    np.testing.assert_allclose(curve["mean"].sel(trainer="gradient") - curve["mean"].sel(trainer="es"), 10.0)


def test_unknown_spread_is_refused(runs):
    with pytest.raises(ValueError, match="spread: expected one of std, sem, range"):
        learning_curve(runs, spread="iqr")


def test_ablation_table_over_variants_and_seeds():
    returns = np.array([[[1.0, 3.0], [3.0, 5.0]],      # variant a: seed means 2 and 4
                        [[6.0, 6.0], [6.0, 6.0]]])     # variant b
    correct = np.zeros((2, 2, 2, 3))
    correct[0, :, :, 1:] = 0.5
    correct[1, :, :, 1:] = 1.0
    ds = xr.Dataset({"eval_return": (("variant", "seed", "episode"), returns),
                     "eval_correct": (("variant", "seed", "episode", "trial"), correct)},
                    coords={"variant": ["a", "b"], "trial": [1, 2, 3]}, attrs={"task_optimum": 8.0})
    table = ablation_table(ds)
    np.testing.assert_allclose(table["return_mean"], [3.0, 6.0])
    np.testing.assert_allclose(table["return_sem"], [1.0, 0.0])   # std of (2, 4) over sqrt(2) seeds
    np.testing.assert_allclose(table["return_ratio"], [3 / 8, 6 / 8])
    np.testing.assert_allclose(table["correct_later"], [0.5, 1.0])
    one_seed = ablation_table(ds.isel(seed=0))
    np.testing.assert_allclose(one_seed["return_sem"], [np.sqrt(2) / np.sqrt(2), 0.0])


def test_an_ablation_effect_is_one_variants_return_minus_anothers_with_their_sems_combined():
    returns = np.array([[4.0, 6.0, 5.0, 5.0],          # full: mean 5, std sqrt(2/3)
                        [1.0, 1.0, 1.0, 1.0],          # without α: mean 1, std 0
                        [2.0, 4.0, 2.0, 4.0]])         # S=1: mean 3, std sqrt(4/3)
    ds = xr.Dataset({"eval_return": (("variant", "episode"), returns)},
                    coords={"variant": ["full", "no alpha", "S=1"]})
    effects = ablation_effects(ds, {"α": ("full", "no alpha"), "S": ("full", "S=1")})
    assert list(effects["effect"].values) == ["α", "S"]
    np.testing.assert_allclose(effects["size"], [4.0, 2.0])
    np.testing.assert_allclose(effects["sem"], [np.sqrt(2 / 3) / 2, np.sqrt(2 / 3 / 4 + 4 / 3 / 4)])
    assert list(effects["without"].values) == ["no alpha", "S=1"]
