"""A sweep: every (variant, seed) is the run that variant would be alone, gathered into one dataset with variant
and seed dims; stopped, it resumes where it stopped."""
import numpy as np
import pytest
import xarray as xr

import metods_sim
from metods_sim.analysis import ablation_table
from metods_sim.protocol import load
from metods_sim.protocol import runs
from metods_sim.experiments import resume, run

from conftest import ROOT

PROTOCOL = ROOT / "protocols" / "harlow_simple.yaml"
SMALL = ["trainer.generations=4", "trainer.time_limit=0", "trainer.popsize=8", "trainer.episodes=2",
         "trainer.eval_every=2", "trainer.eval_episodes=8", "evaluation.episodes=16", "recording.episodes=1",
         "agent.neurons=6"]
SWEEP = ["sweep.seeds=[3, 4]", "sweep.agent.steps=[1, 2]", "sweep.variants={plastic: {}, fixed: "
                                                           "{agent.plasticity: none}}"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    spec = load(PROTOCOL, SMALL + SWEEP)
    return spec, out, metods_sim.load(run(spec, out_dir=out, progress=False))


def test_variants_are_the_product_of_the_grid_and_the_named_variants_and_every_seed_runs(swept):
    spec, _, ds = swept
    assert list(ds["variant"].values) == ["steps=1 plastic", "steps=1 fixed", "steps=2 plastic", "steps=2 fixed"]
    assert list(ds["seed"].values) == [3, 4]
    assert ds["eval_return"].dims == ("variant", "seed", "episode")
    assert ds["center_return"].dims == ("variant", "seed", "generation")
    assert (ds["run_status"] == "finished").all()
    assert ds.attrs["status"] == "finished"
    seeds = {(name, seed): sub for name, seed, sub in runs(spec)}
    assert seeds[("steps=2 fixed", 4)]["agent"]["plasticity"] == "none"
    assert seeds[("steps=2 fixed", 4)]["agent"]["steps"] == 2 and seeds[("steps=2 fixed", 4)]["seed"] == 4


def test_each_run_of_a_sweep_is_the_run_its_variant_would_be_alone(swept, tmp_path):
    _, _, ds = swept
    alone = metods_sim.load(run(load(PROTOCOL, SMALL + ["agent.steps=2", "agent.plasticity=none"], seed=4),
                                out_dir=tmp_path, progress=False))
    cell = ds.sel(variant="steps=2 fixed", seed=4)
    np.testing.assert_array_equal(cell["eval_return"].values, alone["eval_return"].values)
    np.testing.assert_array_equal(cell["fitness_mean"].values, alone["fitness_mean"].values)
    assert not np.array_equal(ds["eval_return"].sel(variant="steps=1 plastic", seed=3).values,
                              ds["eval_return"].sel(variant="steps=2 fixed", seed=4).values)


def test_a_stopped_sweep_resumes_to_the_same_dataset(swept, tmp_path):
    spec, out, ds = swept
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "results.nc").unlink()                                        # killed while in its third run:
    shutil.rmtree(copy / "02-steps=2-plastic" / "seed-4")                 # one run never started,
    (copy / "02-steps=2-plastic" / "seed-3" / "results.nc").unlink()     # one stopped at its checkpoint
    again = metods_sim.load(resume(copy, progress=False))
    keep = [n for n in ds.data_vars] + ["env_steps"]
    xr.testing.assert_equal(ds[keep].drop_vars("wall_time"), again[keep].drop_vars("wall_time"))
    assert again.attrs["status"] == "finished" and again.attrs["protocol"] == ds.attrs["protocol"]


def test_the_ablation_table_has_a_row_per_variant(swept):
    _, _, ds = swept
    table = ablation_table(ds)
    assert list(table["variant"].values) == list(ds["variant"].values)
    np.testing.assert_allclose(table["return_mean"].values, ds["eval_return"].mean(["seed", "episode"]).values)
