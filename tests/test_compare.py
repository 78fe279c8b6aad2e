"""Two trainers, two seeds, one dataset: `python -m metods_sim compare` on a tiny budget, its bad input, and
Ctrl-C."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

from metods_sim.analysis import comparison_table

from conftest import ROOT, cli

TINY = "[trainer.time_limit=0.02, trainer.episodes=2, trainer.eval_every=1, trainer.eval_episodes=8, " \
       "evaluation.episodes=20, recording.episodes=0]"


def comparison(tmp_path, protocols, seeds="[0, 1]", extra=""):
    path = tmp_path / "c.yaml"
    path.write_text(f"name: c\nprotocols: {protocols}\nseeds: {seeds}\nset: {TINY}\n{extra}")
    return path


def test_compare_runs_every_trainer_and_seed_into_one_dataset(tmp_path):
    path = comparison(tmp_path, f"[{ROOT}/protocols/harlow.yaml, {ROOT}/protocols/harlow_gradient.yaml]")
    done = cli("compare", path, "--out", tmp_path / "out", "--quiet")
    assert done.returncode == 0, done.stderr
    ds = xr.open_dataset(tmp_path / "out" / "compare.nc")
    assert ds["trainer"].values.tolist() == ["es", "gradient"] and ds["seed"].values.tolist() == [0, 1]
    assert ds["eval_return"].dims == ("trainer", "seed", "episode") and ds.sizes["episode"] == 20
    assert ds["center_return"].dims == ("trainer", "seed", "generation")
    assert ds["env_steps"].dims == ("trainer", "seed", "generation")
    assert ds.attrs["command"].startswith("python -m metods_sim compare") and ds.attrs["git_revision"]
    for kind in ("es", "gradient"):
        for seed in (0, 1):
            one = xr.open_dataset(tmp_path / "out" / f"{kind}-seed{seed}" / "results.nc")
            np.testing.assert_array_equal(ds["eval_return"].sel(trainer=kind, seed=seed), one["eval_return"])
    table = comparison_table(ds)
    assert table["return_mean"].dims == ("trainer",) and table["kappa"].dims == ("trainer", "coef")
    assert np.all(table["env_steps"] > 0)
    low = comparison_table(ds, share=-10.0)        # every validation is above: reached at the first generation
    assert low["reached"].values.tolist() == [2, 2]
    np.testing.assert_allclose(low["env_steps_to"], ds["env_steps"].isel(generation=0).mean("seed"))
    assert "return_mean" in done.stdout and "gradient" in done.stdout
    plotted = cli("plot", tmp_path / "out" / "compare.nc", "--out", tmp_path / "figs")
    assert plotted.returncode == 0, plotted.stderr
    assert (tmp_path / "figs" / "comparison.png").stat().st_size > 10_000


def test_protocols_with_different_agents_compare_the_families_row_by_agent_kind(tmp_path):
    path = comparison(tmp_path, f"[{ROOT}/protocols/harlow.yaml, {ROOT}/protocols/harlow_rl2.yaml]", seeds="[0]")
    done = cli("compare", path, "--out", tmp_path / "out", "--quiet")
    assert done.returncode == 0, done.stderr
    ds = xr.open_dataset(tmp_path / "out" / "compare.nc")
    assert ds["agent"].values.tolist() == ["metods", "rl2"] and "trainer" not in ds.dims
    assert ds["eval_return"].dims == ("agent", "seed", "episode")
    assert "best_params" not in ds                 # two genomes of different kinds: each run's dataset holds its own
    for kind in ("metods", "rl2"):
        one = xr.open_dataset(tmp_path / "out" / f"{kind}-seed0" / "results.nc")
        np.testing.assert_array_equal(ds["eval_return"].sel(agent=kind, seed=0), one["eval_return"])
    table = comparison_table(ds)
    assert table["return_mean"].dims == ("agent",) and "kappa" not in table
    plotted = cli("plot", tmp_path / "out" / "compare.nc", "--out", tmp_path / "figs")
    assert plotted.returncode == 0, plotted.stderr
    assert (tmp_path / "figs" / "comparison.png").stat().st_size > 10_000


SHIPPED = {   # protocols/compare_*.yaml: the rows each runs
    "compare_harlow": ("trainer", ["es", "gradient"]),
    "compare_maze": ("trainer", ["es", "gradient"]),
    "compare_maze_families": ("agent", ["metods", "rl2", "maml", "feedforward"]),
    "compare_ant_dir": ("agent", ["metods", "rl2", "maml"]),
    "compare_cheetah_dir": ("agent", ["metods", "rl2", "feedforward"]),
    "compare_ml1_push": ("agent", ["metods", "rl2", "maml", "pearl"]),
    "compare_ml10": ("agent", ["metods", "rl2", "maml", "pearl"]),
}


def test_every_comparison_file_in_protocols_is_listed():
    assert sorted(p.stem for p in (ROOT / "protocols").glob("compare_*.yaml")) == sorted(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_shipped_comparison_runs_its_rows_on_one_task(name):
    from metods_sim.experiments.compare import read_comparison

    read = read_comparison(ROOT / "protocols" / f"{name}.yaml")
    assert (read["dim"], list(read["specs"])) == SHIPPED[name]
    assert len({str(spec["task"]) for spec in read["specs"].values()}) == 1


def test_one_agent_kind_under_two_trainers_is_named_with_its_trainer(tmp_path):
    from metods_sim.experiments.compare import read_comparison

    maze = [ROOT / "protocols" / f"{name}.yaml" for name in ("maze", "maze_maml", "maze_maml_gradient")]
    path = comparison(tmp_path, "[" + ", ".join(map(str, maze)) + "]", seeds="[0]")
    assert list(read_comparison(path)["specs"]) == ["metods", "maml-es", "maml-gradient"]


@pytest.mark.parametrize("protocols,extra,expected", [
    ("[{root}/protocols/harlow.yaml, {root}/protocols/harlow_simple.yaml]", "",
     "differs from {root}/protocols/harlow.yaml in its task section"),
    ("[{root}/protocols/harlow.yaml, {root}/protocols/harlow.yaml]", "", "got two of kind es"),
    ("[]", "", "protocols: expected a non-empty list of protocol files"),
    ("[{root}/protocols/harlow.yaml]", "runs: 3\n", "runs: unknown key"),
])
def test_compare_bad_input_exits_2_with_one_line(tmp_path, protocols, extra, expected):
    path = comparison(tmp_path, protocols.format(root=ROOT), extra=extra)
    done = cli("compare", path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert expected.format(root=ROOT) in done.stderr


def test_a_comparison_stopped_by_ctrl_c_keeps_the_stopped_run_and_starts_no_other(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(f"name: c\nprotocols: [{ROOT}/protocols/harlow_simple.yaml, "
                    f"{ROOT}/protocols/harlow_simple_gradient.yaml]\nseeds: [0]\n"
                    "set: [trainer.time_limit=5, trainer.checkpoint_every=1, trainer.eval_every=1000, "
                    "trainer.eval_episodes=8, evaluation.episodes=20, recording.episodes=0]\n")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "metods_sim", "compare", str(path), "--out", str(out), "--quiet"],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (out / "es-seed0" / "checkpoint.pkl").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)   # training of the first run is under way: it stops at its generation's end
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == (
        f"error: {out / 'es-seed0'}: interrupted; the runs after it were not started and {out / 'compare.nc'} was "
        f"not written (python -m metods_sim resume {out / 'es-seed0'} continues this run)")
    assert xr.open_dataset(out / "es-seed0" / "results.nc").attrs["status"] == "interrupted"
    assert not (out / "gradient-seed0").exists() and not (out / "compare.nc").exists()
