"""Long runs that survive: killed and resumed, the same numbers from the same seed whatever the threads, a
population that diverges, output that is never lost nor overwritten."""
import contextlib
import io
import os
import resource
import signal
import subprocess
import sys
import time

import numba
import numpy as np
import pytest
import torch
import xarray as xr
import yaml

import metods_sim
from metods_sim.cli import main
from metods_sim.protocol import load
from metods_sim.results import read_checkpoint
from metods_sim.experiments import git_revision, run

from conftest import ROOT, cli

PROTOCOL = ROOT / "protocols" / "harlow_simple.yaml"
SMALL = ["trainer.generations=200", "trainer.time_limit=0", "trainer.popsize=16", "trainer.episodes=4",
         "trainer.eval_every=10", "trainer.eval_episodes=32", "trainer.checkpoint_every=10",
         "evaluation.episodes=50", "recording.episodes=2"]
# the same task and agent trained by gradient, 60 updates of 4 episodes (an update costs more than a generation)
GRADIENT = ROOT / "protocols" / "harlow_simple_gradient.yaml"
GRADIENT_SMALL = ["trainer.updates=60", "trainer.time_limit=0", "trainer.episodes=4", "trainer.eval_every=10",
                  "trainer.eval_episodes=32", "trainer.checkpoint_every=10", "evaluation.episodes=50",
                  "recording.episodes=2"]
WALL_CLOCK = ("created", "command", "resumed")   # when and how the dataset was made, not what it holds


def small(*changes, trainer="es"):
    """The command-line arguments of a small harlow_simple run (trainer es or gradient), with more KEY=VALUE
    changes."""
    protocol, fields = (PROTOCOL, SMALL) if trainer == "es" else (GRADIENT, GRADIENT_SMALL)
    return [str(protocol), *(arg for item in fields + list(changes) for arg in ("--set", item)), "--quiet"]


def run_keeping_checkpoints(spec, out_dir, monkeypatch):
    """Run spec into out_dir, keeping every checkpoint it writes (the file keeps only the last): (its dataset,
    {generations: what that checkpoint held}); `write_checkpoint(DIR, **kept[g])` lays one down for `resume`."""
    import copy

    running, kept = sys.modules["metods_sim.experiments.run"], {}
    write = running.write_checkpoint

    def keep(out, **about):
        kept[about["generations"]] = copy.deepcopy(about)
        return write(out, **about)

    monkeypatch.setattr(running, "write_checkpoint", keep)
    ds = metods_sim.load(run(spec, out_dir=out_dir, progress=False))
    monkeypatch.setattr(running, "write_checkpoint", write)
    return ds, kept


def assert_same_dataset(a, b, *, besides=()):
    """Equal value for value, every variable, coordinate and attribute, wall-clock ones aside."""
    def what(ds):
        ds = ds.drop_vars("wall_time")
        ds.attrs = {k: v for k, v in ds.attrs.items() if k not in WALL_CLOCK + tuple(besides)}
        return ds

    xr.testing.assert_identical(what(a), what(b))


def in_process(argv):
    """main(argv) as `python -m metods_sim` runs it; returns (exit status, stderr stripped)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue().strip()


@pytest.fixture(scope="module", params=["es", "gradient"])
def left_alone(request, tmp_path_factory):
    """The small run of each trainer from start to end, by the command line, in a fresh process as the resumed
    one. Returns (trainer, dataset)."""
    out = tmp_path_factory.mktemp("alone")
    done = cli(*small(trainer=request.param), "--out", out)
    assert done.returncode == 0, done.stderr
    return request.param, metods_sim.load(out)


def test_a_run_killed_mid_way_and_resumed_writes_the_dataset_of_the_run_left_alone(left_alone, tmp_path):
    trainer, left_alone = left_alone
    proc = subprocess.Popen([sys.executable, "-m", "metods_sim", *small(trainer=trainer), "--out", str(tmp_path)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not (tmp_path / "checkpoint.pkl").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.kill()   # SIGKILL: nothing gets to clean up
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    assert not (tmp_path / "results.nc").exists()
    done = read_checkpoint(tmp_path)["generations"]
    assert 0 < done < {"es": 200, "gradient": 60}[trainer]

    resumed = cli("resume", tmp_path, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    ds = metods_sim.load(tmp_path)
    assert_same_dataset(ds, left_alone)
    unit = {"es": "generation", "gradient": "update"}[trainer]
    resumed_by = f"python -m metods_sim resume {tmp_path} --quiet (git {git_revision()})"
    assert ds.attrs["resumed"] == f"{unit} {done}: {resumed_by}"
    assert ds.attrs["command"].startswith("python -m metods_sim ")   # the command that started the run
    assert not list(tmp_path.glob(".*.part"))


def test_a_finished_run_is_not_resumed_and_a_directory_without_checkpoint_is_refused(tmp_path):
    code, err = in_process(["resume", str(tmp_path)])
    assert code == 2 and err == f"error: {tmp_path}: no checkpoint.pkl to resume from (a run writes one every " \
                                f"trainer.checkpoint_every generations or updates and when training stops)"
    out = tmp_path / "run"
    run(load(PROTOCOL, SMALL + ["trainer.generations=2"]), out_dir=out, progress=False)
    code, err = in_process(["resume", str(out)])
    assert code == 2 and err == f"error: {out}: the run is over (results.nc has status finished); nothing to resume"


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba has one thread on this machine")
def test_the_same_protocol_and_seed_give_the_same_dataset_whatever_the_threads(tmp_path):
    # popsize 256: large enough that torch would split its reductions between threads
    spec = load(PROTOCOL, SMALL + ["trainer.generations=12", "trainer.popsize=256"])
    before = numba.get_num_threads(), torch.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            torch.set_num_threads(threads)
            run(spec, out_dir=tmp_path / str(threads), progress=False)
    finally:
        numba.set_num_threads(before[0])
        torch.set_num_threads(before[1])
    one, two = metods_sim.load(tmp_path / "1"), metods_sim.load(tmp_path / "2")
    assert (one.attrs["numba_threads"], two.attrs["numba_threads"]) == (1, 2)
    assert_same_dataset(one, two, besides=("numba_threads",))


def test_a_run_whose_whole_population_diverges_stops_with_one_clear_line(tmp_path):
    # every fast weight starts at alpha * beta * v u = 1e40 for all members: beyond float32
    code, err = in_process(small("agent.init_alpha=1e30", "agent.init_beta=1e10") + ["--out", str(tmp_path)])
    assert code == 1
    assert err == ("error: every member of generation 0 diverged (non-finite fast weights W); the dataset holds "
                   "the run until then. Bound W with agent.W_clip, or lower trainer.stdev_init or trainer.center_lr")
    ds = metods_sim.load(tmp_path)
    assert ds.attrs["status"] == "diverged" and ds["diverged"].values.tolist() == [16]


def test_a_gradient_run_whose_loss_diverges_stops_with_one_clear_line(tmp_path):
    code, err = in_process(small("agent.init_alpha=1e30", "agent.init_beta=1e10", trainer="gradient") +
                           ["--out", str(tmp_path)])
    assert code == 1
    assert err == ("error: update 0 diverged (non-finite loss or gradient; its step was not taken); the dataset "
                   "holds the run until then. Bound W with agent.W_clip, or lower trainer.lr")
    ds = metods_sim.load(tmp_path)
    assert ds.attrs["status"] == "diverged" and ds["diverged"].values.tolist() == [1]
    assert np.isfinite(ds["center_params"]).all() and ds.sizes["episode"] == 50   # evaluated all the same


def test_W_clip_is_a_protocol_field_that_bounds_every_fast_weight(tmp_path):
    code, _ = in_process(small("agent.W_clip=0.01", "trainer.generations=3") + ["--out", str(tmp_path)])
    ds = metods_sim.load(tmp_path)
    assert code == 0 and float(abs(ds["W"]).max()) == pytest.approx(0.01)
    assert yaml.safe_load(ds.attrs["protocol"])["agent"]["W_clip"] == 0.01


def test_an_existing_run_is_never_overwritten_without_force(tmp_path):
    out = tmp_path / "run"
    code, _ = in_process(small("trainer.generations=2") + ["--out", str(out)])
    assert code == 0
    first = metods_sim.load(out)
    code, err = in_process(small("trainer.generations=3") + ["--out", str(out)])
    assert code == 2 and err.startswith(f"error: {out}: holds a run already (results.nc, checkpoint.pkl); choose "
                                        f"another --out, pass --force to replace it")
    assert_same_dataset(metods_sim.load(out), first)
    code, _ = in_process(small("trainer.generations=3") + ["--out", str(out), "--force"])
    assert code == 0 and metods_sim.load(out).sizes["generation"] == 3


def test_an_unwritable_or_too_small_output_is_refused_before_training(tmp_path):
    (tmp_path / "file").write_text("")
    code, err = in_process(small() + ["--out", str(tmp_path / "file" / "run")])
    assert code == 2 and err == f"error: {tmp_path / 'file' / 'run'}: cannot write the run directory (Not a directory)"
    # recording a hundred million episodes of W needs terabytes
    code, err = in_process(small("evaluation.episodes=100000000", "recording.episodes=100000000") +
                           ["--out", str(tmp_path / "big")])
    assert code == 2 and err.startswith(f"error: {tmp_path / 'big'}: the run needs about ")
    assert err.endswith(" free") and " TB for its results and checkpoints, " in err


def test_results_that_no_longer_fit_after_training_leave_the_checkpoint_to_resume_from(tmp_path):
    """A real write failure: the kernel refuses files beyond RLIMIT_FSIZE, as a full disk would."""
    args = small("trainer.generations=3", "recording.episodes=50") + ["--out", str(tmp_path)]
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    ignored = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # else the kernel kills the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, limit[1]))   # checkpoints fit, 50 recorded W do not
    try:
        code, err = in_process(args)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, ignored)
    assert code == 1 and err == (f"error: {tmp_path / 'results.nc'}: cannot write the results (NetCDF: HDF error); "
                                 f"the checkpoint of generation 3 is in {tmp_path / 'checkpoint.pkl'}: make room, "
                                 f"then run python -m metods_sim resume {tmp_path}")
    assert read_checkpoint(tmp_path)["generations"] == 3 and not list(tmp_path.glob(".*.part"))
    code, _ = in_process(["resume", str(tmp_path), "--quiet"])
    assert code == 0 and metods_sim.load(tmp_path).sizes["generation"] == 3


def test_a_run_can_start_from_another_runs_best_genome(tmp_path):
    code, _ = in_process(small("trainer.generations=2") + ["--out", str(tmp_path / "source")])
    assert code == 0
    source = metods_sim.load(tmp_path / "source")
    # a learning rate too small to move it: the trained parameters are where training started
    code, err = in_process(small("trainer.updates=1", "trainer.lr=1e-12", f"trainer.init_from={tmp_path / 'source'}",
                                 trainer="gradient") + ["--out", str(tmp_path / "tuned")])
    assert code == 0, err
    tuned = metods_sim.load(tmp_path / "tuned")
    np.testing.assert_allclose(tuned.center_params, source.best_params, rtol=0, atol=1e-9)
    assert f"init_from: {tmp_path / 'source'}" in tuned.attrs["protocol"]


def test_a_curriculum_carries_the_observation_statistics_over_and_refuses_to_drop_them(tmp_path):
    code, _ = in_process(small("trainer.generations=2", "trainer.observation_norm=running", "trainer.eval_every=1")
                         + ["--out", str(tmp_path / "source")])
    source = metods_sim.load(tmp_path / "source")
    assert code == 0 and source.best_obs_mean.attrs["count"] > 0
    later = small("trainer.generations=1", f"trainer.init_from={tmp_path / 'source'}")
    code, err = in_process(later + ["--out", str(tmp_path / "raw")])
    assert code == 2 and err == (f"error: trainer.observation_norm: expected running with trainer.init_from "
                                 f"{tmp_path / 'source'} (its genome reads observations normalised by running "
                                 f"statistics), got none")
    assert not (tmp_path / "raw").exists()
    code, _ = in_process(later + ["--set", "trainer.observation_norm=running", "--out", str(tmp_path / "tuned")])
    tuned = metods_sim.load(tmp_path / "tuned")
    # the source's statistics, then every observation of the one generation (one per environment step)
    assert code == 0 and tuned.center_obs_mean.attrs["count"] == source.best_obs_mean.attrs["count"] + \
        int(tuned.env_steps[-1])


def test_a_baseline_without_parameters_runs_a_curriculums_protocol(tmp_path):
    # the random agent has no genome to start from: a later stage's protocol runs it as it stands
    code, err = in_process(small(f"trainer.init_from={ROOT / 'data' / 'maze.nc'}", "agent={kind: random}")
                           + ["--out", str(tmp_path / "run")])
    assert code == 0, err
    assert metods_sim.load(tmp_path / "run").sizes["param"] == 0


@pytest.mark.parametrize("source, expected", [
    ("absent.nc", "error: trainer.init_from: expected a run's results.nc; absent.nc: cannot open as a results "
                  "dataset (FileNotFoundError)"),
    # a real run of another task: its genome does not fit harlow_simple's agent
    (ROOT / "data" / "maze.nc", "error: trainer.init_from: expected a genome of "),
])
def test_a_bad_init_from_is_one_line_before_anything_is_written(tmp_path, source, expected):
    code, err = in_process(small(f"trainer.init_from={source}") + ["--out", str(tmp_path / "run")])
    assert code == 2 and err.startswith(expected) and "\n" not in err, err
    assert not (tmp_path / "run").exists()


def test_the_dataset_names_the_code_a_run_started_with_not_the_checkout_at_its_end(tmp_path, monkeypatch):
    # a researcher commits while a long run trains: the run still runs the code it imported at its start
    import metods_sim.experiments.provenance as running
    from metods_sim.trainers import ESTrainer

    checkout = {"HEAD": "a" * 40}
    train = ESTrainer.train

    def commit_then_train(self, *args, **kwargs):
        checkout["HEAD"] = "b" * 40
        return train(self, *args, **kwargs)

    monkeypatch.setattr(running, "git_revision", lambda: checkout["HEAD"])
    monkeypatch.setattr(ESTrainer, "train", commit_then_train)
    code, err = in_process(small("trainer.generations=2") + ["--out", str(tmp_path / "run")])
    assert code == 0, err
    assert metods_sim.load(tmp_path / "run").attrs["git_revision"] == "a" * 40
