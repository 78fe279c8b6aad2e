"""A whole run through the command line, on a tiny budget: the dataset on disk, re-evaluation, Ctrl-C."""
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import xarray as xr
import yaml

import metods_sim
from metods_sim.results import read_checkpoint, write

from conftest import ROOT, cli

TINY = ["--set", "trainer.generations=4", "--set", "trainer.popsize=8", "--set", "trainer.episodes=2",
        "--set", "trainer.eval_every=2", "--set", "trainer.eval_episodes=16", "--set", "evaluation.episodes=50",
        "--set", "recording.episodes=3", "--quiet"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    done = cli(ROOT / "protocols" / "harlow.yaml", *TINY, "--out", out)
    assert done.returncode == 0, done.stderr
    return out, done


def test_the_run_writes_one_dataset_with_everything(tiny_run):
    out, done = tiny_run
    assert f"wrote {out / 'results.nc'}" in done.stdout
    assert "held-out return" in done.stdout and "presentations 2+" in done.stdout
    ds = xr.open_dataset(out / "results.nc")
    assert ds.sizes["generation"] == 4 and ds.sizes["episode"] == 50 and ds.sizes["trial"] == 6
    for name in ("fitness_mean", "fitness_max", "fitness_min", "center_return"):
        assert ds[name].dims == ("generation",)
    assert np.all(np.diff(ds["env_steps"].values) > 0) and np.all(np.diff(ds["wall_time"].values) > 0)
    assert np.isfinite(ds["center_return"].values).tolist() == [True, False, True, True]
    assert ds["fitness_max"].values.min() >= ds["fitness_min"].values.max() - 100  # sane ordering below
    assert np.all(ds["fitness_max"] >= ds["fitness_mean"]) and np.all(ds["fitness_mean"] >= ds["fitness_min"])
    assert ds["eval_correct"].dims == ("episode", "trial")
    assert set(np.unique(ds["eval_correct"].values)) <= {0.0, 1.0}
    assert ds["W"].dims == ("sample", "time", "post", "pre") and ds["W"].shape[:2] == (3, 60)
    assert ds["activation"].dims == ("sample", "time", "neuron")
    for name in ("action", "reward", "value", "observation", "sample_length"):
        assert name in ds
    assert set(np.unique(ds["param_block"].values)) == {"f", "g", "alpha", "kappa", "beta", "proj"}
    assert ds["best_params"].dims == ("param",) and ds["center_params"].shape == ds["best_params"].shape


def test_the_dataset_records_how_it_was_made(tiny_run):
    out, _ = tiny_run
    ds = metods_sim.load(out)
    spec = yaml.safe_load(ds.attrs["protocol"])
    assert spec["trainer"]["popsize"] == 8 and spec["name"] == "harlow" and ds.attrs["seed"] == 0
    assert yaml.safe_load(ds.attrs["versions"])["evotorch"]
    assert ds.attrs["numba_threading_layer"] in ("omp", "tbb", "workqueue")
    assert ds.attrs["git_revision"] and ds.attrs["status"] == "finished"
    assert ds.attrs["task_optimum"] == pytest.approx(6.2)
    assert (out / "protocol.yaml").exists()
    assert (out / "results.nc").stat().st_mode & 0o044 == (out / "protocol.yaml").stat().st_mode & 0o044


def test_the_recorded_sample_agrees_with_the_evaluation(tiny_run):
    out, _ = tiny_run
    ds = metods_sim.load(out)
    for s in range(3):
        length = int(ds["sample_length"][s])
        assert length == int(ds["eval_steps"][s])
        assert float(ds["reward"][s, :length].sum()) == pytest.approx(float(ds["eval_return"][s]), abs=1e-9)
        assert not ds["W"][s, length:].any()


def test_the_same_seed_gives_the_same_run(tiny_run, tmp_path):
    out, _ = tiny_run
    again = cli(ROOT / "protocols" / "harlow.yaml", *TINY, "--out", tmp_path)
    assert again.returncode == 0
    a, b = metods_sim.load(out), metods_sim.load(tmp_path)
    xr.testing.assert_identical(a.drop_vars("wall_time").drop_attrs(), b.drop_vars("wall_time").drop_attrs())


def test_evaluate_on_fresh_episodes_and_on_a_changed_task(tiny_run, tmp_path):
    out, _ = tiny_run
    done = cli("evaluate", out / "results.nc", "--episodes", "40", "--out", tmp_path / "e.nc")
    assert done.returncode == 0, done.stderr
    ev = xr.open_dataset(tmp_path / "e.nc")
    assert ev.sizes["episode"] == 40 and ev.attrs["evaluated_agent"] == "best" and "W" not in ev
    assert ev.attrs["command"] == f"python -m metods_sim evaluate {out / 'results.nc'} --episodes 40 --out {tmp_path / 'e.nc'}"
    longer = cli("evaluate", out, "--episodes", "10", "--set", "task.presentations=9", "--out", tmp_path / "f.nc")
    assert longer.returncode == 0, longer.stderr
    assert xr.open_dataset(tmp_path / "f.nc").sizes["trial"] == 9
    for bad in ("--record=-1", "--episodes=0"):
        refused = cli("evaluate", out, bad)
        assert refused.returncode == 2 and f"{bad.split('=')[0]}: expected an integer >=" in refused.stderr
    wrong = cli("evaluate", out, "--set", "task.pattern_size=4")
    assert wrong.returncode == 2 and "parameters" in wrong.stderr and "Traceback" not in wrong.stderr


def test_evaluate_records_the_behaviour_of_the_first_episodes(tiny_run, tmp_path):
    out, _ = tiny_run
    done = cli("evaluate", out, "--episodes", "30", "--record", "5", "--out", tmp_path / "r.nc")
    assert done.returncode == 0, done.stderr
    ev = metods_sim.load(tmp_path / "r.nc")
    assert ev["W"].dims == ("sample", "time", "post", "pre") and ev["W"].shape == (5, 60, 20, 20)
    assert ev.attrs["source_git_revision"] == metods_sim.load(out).attrs["git_revision"]
    for s in range(5):
        length = int(ev["sample_length"][s])
        assert length == int(ev["eval_steps"][s])
        assert float(ev["reward"][s, :length].sum()) == pytest.approx(float(ev["eval_return"][s]), abs=1e-9)
    assert all(ev[name].encoding["zlib"] for name in ("W", "activation", "eval_return"))


def test_ctrl_c_ends_training_and_still_writes_the_dataset(tmp_path):
    args = [sys.executable, "-m", "metods_sim", ROOT / "protocols" / "harlow_simple.yaml", "--out", tmp_path,
            "--set", "trainer.generations=100000", "--set", "trainer.time_limit=0", "--set", "trainer.popsize=16",
            "--set", "trainer.eval_every=1", "--set", "evaluation.episodes=20"]
    # a shell without job control starts background jobs with SIGINT ignored, and Python keeps it ignored:
    # give the child the default disposition so that it sees the Ctrl-C a user would send
    proc = subprocess.Popen(list(map(str, args)), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = bytearray()
    reader = threading.Thread(target=lambda: [seen.extend(chunk) for chunk in iter(lambda: proc.stderr.read1(256), b"")])
    reader.start()
    deadline = time.time() + 300
    def generations():
        return max(map(int, re.findall(rb"gen=(\d+)", bytes(seen))), default=0)

    while generations() < 20 and time.time() < deadline:   # well into training, past compilation
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=120)
    finally:
        proc.kill()
        reader.join()
    assert proc.returncode == 130, seen.decode()[-2000:]
    assert b"Traceback" not in seen
    ds = metods_sim.load(tmp_path)
    assert ds.attrs["status"] == "interrupted" and ds.attrs["stopped_by"] == "interrupted"
    assert ds.sizes["generation"] >= 20 and ds.sizes["episode"] == 20
    assert read_checkpoint(tmp_path)["generations"] == ds.sizes["generation"]   # resume goes on from there
    assert not list(tmp_path.glob(".*.part"))


def test_a_failed_write_leaves_no_file_behind(tmp_path):
    ds = xr.Dataset({"x": ("a", np.arange(3))}, attrs={"bad": {"a dict": "netCDF cannot hold"}})
    with pytest.raises(Exception):
        write(ds, tmp_path / "results.nc")
    assert list(tmp_path.iterdir()) == []


GRADIENT_TINY = ["--set", "trainer.updates=3", "--set", "trainer.episodes=4", "--set", "trainer.eval_every=2",
                 "--set", "trainer.eval_episodes=16", "--set", "evaluation.episodes=50",
                 "--set", "recording.episodes=3", "--quiet"]


def test_a_gradient_run_writes_the_es_runs_dataset_and_evaluate_reads_it(tiny_run, tmp_path):
    es = xr.open_dataset(tiny_run[0] / "results.nc")
    done = cli(ROOT / "protocols" / "harlow_gradient.yaml", *GRADIENT_TINY, "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    ds = xr.open_dataset(tmp_path / "results.nc")
    assert {name: ds[name].dims for name in ds.variables} == {name: es[name].dims for name in es.variables}
    assert ds.sizes["generation"] == 3 and yaml.safe_load(ds.attrs["protocol"])["trainer"]["kind"] == "gradient"
    assert np.isfinite(ds["center_return"].values).tolist() == [True, False, True]
    assert not np.allclose(ds["center_params"], es["center_params"])
    again = cli("evaluate", tmp_path / "results.nc", "--episodes", "20")
    assert again.returncode == 0, again.stderr
    assert "held-out return" in again.stdout


@pytest.mark.parametrize("kind", ["rl2", "feedforward", "random"])
def test_a_baseline_runs_end_to_end_and_plots(kind, tmp_path):
    """A baseline's dataset has no W (and random: no generation, no parameter); plot skips what needs them."""
    done = cli(ROOT / "protocols" / "harlow_simple.yaml", *TINY, "--set", f"agent={{kind: {kind}}}", "--out",
               tmp_path)
    assert done.returncode == 0, done.stderr
    ds = metods_sim.load(tmp_path)
    assert yaml.safe_load(ds.attrs["protocol"])["agent"]["kind"] == kind and ds.attrs["status"] == "finished"
    assert "W" not in ds and ds["action"].shape == (3, 12) and ds.sizes["episode"] == 50
    assert ("activation" in ds) == (kind != "random")
    if kind == "random":
        assert ds.attrs["stopped_by"] == "no_parameters" and ds.sizes["generation"] == ds.sizes["param"] == 0
        assert not (tmp_path / "checkpoint.pkl").exists()
    else:
        assert ds.sizes["generation"] == 4 and ds.sizes["param"] > 1000
    plotted = cli("plot", tmp_path)
    assert plotted.returncode == 0, plotted.stderr
    assert "correct_by_presentation.png" in plotted.stdout and "skipped" in plotted.stdout
    assert ("learning_curve.png" in plotted.stdout) == (kind != "random")
