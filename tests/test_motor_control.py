"""A motor-control run end to end on a tiny budget: the shipped protocol trains, evaluates and writes the
within-episode reward curve; the impairment table; bad input (an actuator that does not exist, a broken
MuJoCo) is one line and exit status 2."""
import os
import subprocess
import sys

import numpy as np
import pytest

from metods_sim.experiments.evaluate import evaluate
from metods_sim.experiments.impairment import impairment, impairment_text
from metods_sim.protocol import load
from metods_sim.results import load as load_results
from metods_sim.experiments import run

from conftest import ROOT, cli

TINY = ["trainer.generations=2", "trainer.time_limit=0", "trainer.popsize=4", "trainer.episodes=2",
        "task.horizon=25", "trainer.eval_every=1", "trainer.eval_episodes=2", "evaluation.episodes=3",
        "recording.episodes=2"]


@pytest.fixture(scope="module")
def cheetah_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cheetah")
    return run(load(ROOT / "protocols" / "cheetah_dir.yaml", TINY), out_dir=out, progress=False)


def test_a_cheetah_run_stores_the_reward_of_every_step(cheetah_run):
    ds = load_results(cheetah_run)
    assert ds.attrs["status"] == "finished" and ds.sizes["generation"] == 2
    assert ds.eval_reward.dims == ("episode", "step") and ds.sizes["step"] == 25
    np.testing.assert_allclose(ds.eval_reward.sum("step"), ds.eval_return)
    np.testing.assert_allclose(ds.eval_reward_curve, ds.eval_reward.mean("episode"))
    assert ds.action.dims == ("sample", "time", "actuator") and ds.sizes["actuator"] == 6
    assert np.abs(ds.action).max() <= 1.0
    assert "ctrl_cost: 0.05" in ds.attrs["protocol"] and "frozen: []" in ds.attrs["protocol"]
    assert list(ds.param_name.values[-6:]) == ["log_std"] * 6


def test_the_impairment_table_freezes_each_actuator_in_turn(cheetah_run):
    table = impairment(cheetah_run, episodes=2)
    assert table.impaired_return.shape == (6, 2) and table.unimpaired_return.shape == (2,)
    np.testing.assert_allclose(table.retained, table.impaired_return.mean("episode") / table.unimpaired_return.mean())
    assert float(table.retained_mean) == pytest.approx(float(table.retained.mean()))
    assert np.ptp(table.impaired_return.mean("episode").values) > 0      # each actuator matters differently
    all_frozen = evaluate(cheetah_run, episodes=2, overrides=["task.impair.frozen=[0, 1, 2, 3, 4, 5]"])
    np.testing.assert_allclose(table.motionless_return, all_frozen.eval_return, rtol=1e-12)
    gain = (table.impaired_return.mean("episode") - table.motionless_return.mean()) / (
        table.unimpaired_return.mean() - table.motionless_return.mean())
    np.testing.assert_allclose(table.retained_gain, gain)
    assert "retained gain over motionless" in impairment_text(table)
    out = cli("evaluate", cheetah_run, "--episodes", "2", "--set", "task.impair.frozen=[6]")
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr
    assert "--set task.impair.frozen=[6]: expected a list of actuator indices in 0..5 (cheetah_dir has 6 " \
           "actuators), got [6]" in out.stderr


def test_a_normalised_cheetah_run_stores_its_statistics_evaluates_with_them_and_resumes_to_the_same_dataset(
        tmp_path, monkeypatch):
    """trainer.observation_norm running, ES: the statistics beside each genome; `evaluate` on the run's own test
    episodes gives its held-out evaluation exactly (and without the statistics, not); a run resumed from its
    checkpoint of generation 1 writes the same dataset."""
    import metods_sim.experiments.evaluate as evaluating
    from metods_sim.experiments import resume
    from metods_sim.results import write_checkpoint
    from metods_sim.seeding import rng_for
    from test_run import assert_same_dataset, run_keeping_checkpoints

    spec = load(ROOT / "protocols" / "cheetah_dir.yaml", TINY + ["trainer.generations=3", "trainer.checkpoint_every=1",
                                                                 "trainer.observation_norm=running"])
    ds, kept = run_keeping_checkpoints(spec, tmp_path / "alone", monkeypatch)
    for which in ("best", "center"):
        assert ds[f"{which}_obs_mean"].dims == ("obs",) and ds.sizes["obs"] == 17
        assert ds[f"{which}_obs_mean"].attrs["count"] > 0 and (ds[f"{which}_obs_std"] > 0).all()
    assert ds.center_obs_mean.attrs["count"] == 3 * 4 * 2 * 25   # 3 generations, 4 members x 2 episodes x 25 steps
    # the run's own test episodes, through evaluate
    monkeypatch.setattr(evaluating, "rng_for", lambda seed, name: rng_for(seed, "test"))
    again = evaluate(tmp_path / "alone", episodes=3)
    np.testing.assert_array_equal(again.eval_return, ds.eval_return)
    monkeypatch.setattr(evaluating, "stored_normalisation", lambda ds, which: None)
    assert not np.allclose(evaluate(tmp_path / "alone", episodes=3).eval_return, ds.eval_return)
    # resumed from generation 1
    (tmp_path / "resumed").mkdir()
    write_checkpoint(tmp_path / "resumed", **kept[1])
    assert_same_dataset(load_results(resume(tmp_path / "resumed", progress=False)), ds)


def test_a_broken_mujoco_is_one_line_and_exit_status_2(tmp_path):
    broken = tmp_path / "site" / "mujoco"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('libmujoco.so.3.3.0: cannot open shared object file')\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{ROOT}"}
    out = subprocess.run([sys.executable, "-m", "metods_sim", str(ROOT / "protocols" / "ant_dir.yaml"), "--out",
                          str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.strip() == ("error: cannot import MuJoCo (libmujoco.so.3.3.0: cannot open shared object "
                                  "file); install it with pip install mujoco==3.3.0")
