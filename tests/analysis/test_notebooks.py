"""The notebooks in analysis/ run top to bottom with a real kernel on the shipped data, as a researcher opens
them (in a copy, so that nothing is written into the repository)."""
import base64
import shutil

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

import metods_sim
from metods_sim.analysis import first_outcome, outcome_decoding, weight_change_by_reward

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "analysis").glob("*.ipynb"))


def execute(notebook, tmp_path):
    """Run a copy of the notebook in tmp_path/analysis beside a copy of data/; returns the executed notebook."""
    shutil.copytree(ROOT / "data", tmp_path / "data")
    (tmp_path / "analysis").mkdir()
    nb = nbformat.read(notebook, as_version=4)
    # a cell's first call compiles kernels: on 2 cores shared with other jobs that took over 120 s
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path / "analysis")}}).execute()
    return nb


def run_cleanly(name, tmp_path):
    """Execute analysis/NAME; assert that no cell raised and that it wrote nothing. Returns the executed notebook
    and the PNG images it showed, as bytes."""
    nb = execute(ROOT / "analysis" / name, tmp_path)
    assert not any(out.get("output_type") == "error" for cell in nb.cells for out in cell.get("outputs", []))
    assert sorted(p.name for p in (tmp_path / "analysis").iterdir()) == []
    images = [base64.b64decode(out["data"]["image/png"]) for cell in nb.cells if cell.cell_type == "code"
              for out in cell.outputs if "image/png" in out.get("data", {})]
    return nb, images


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_is_committed_without_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), \
        f"{notebook.name}: clear its outputs before committing (the tests execute it)"


def test_the_harlow_notebook_runs_and_shows_its_figures(tmp_path):
    nb, images = run_cleanly("harlow.ipynb", tmp_path)
    assert len(images) == 6 and all(png[:4] == b"\x89PNG" for png in images)
    text = "".join(out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
                   for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    assert "git " in text and "held-out return" in text and "top_share" in text


def test_the_harlow_notebooks_reading_of_the_shipped_recording_holds():
    """The closing text of analysis/harlow.ipynb describes data/harlow_recording.nc: if a new recording reads
    differently, this fails, and the text must be revised with it."""
    rec = metods_sim.load(ROOT / "data" / "harlow_recording.nc")
    first = first_outcome(rec)
    assert (first["time"] == first["time"][0]).all()                                # same step, same side
    assert len(np.unique(rec["action"].isel(time=first["time"]))) == 1
    decoded = outcome_decoding(rec)
    assert float(decoded.sel(offset=0, choice=1)) == pytest.approx(0.5, abs=0.1)    # nothing at the choice step
    assert float(decoded.sel(offset=1, choice=1)) > 0.9                             # split once the reward is in
    assert float(decoded.sel(offset=0, choice=slice(2, None)).max()) < 0.7          # gone by the next choice
    by_reward = weight_change_by_reward(rec)
    mean, top = by_reward["mean"], by_reward["top_share"]
    assert float(mean.sel(reward=[-1.0, 1.0]).min()) > float(mean.sel(reward=[0.0, 0.2]).max())
    assert float(mean.sel(reward=0.2)) == float(mean.min())
    assert float(top.sel(reward=0.0)) > 0.5
    share = by_reward["share"].sel(reward=[-1.0, 1.0]).sum()
    assert float(share) > float(by_reward["steps_share"].sel(reward=[-1.0, 1.0]).sum())
    assert np.isfinite(mean).all()


def test_the_maze_notebook_runs_and_shows_its_figures(tmp_path):
    _, images = run_cleanly("maze.ipynb", tmp_path)
    assert len(images) == 4


def test_the_maze_notebooks_reading_of_the_shipped_runs_holds():
    """The closing text of analysis/maze.ipynb describes the shipped maze datasets."""
    from metods_sim.analysis import ablation_effects, ablation_table, find_intervals, summary

    load = lambda name: metods_sim.load(ROOT / "data" / f"{name}.nc")   # noqa: E731
    metods, s4, rl2, random = (summary(load(n)) for n in ("maze", "maze_s4", "maze_rl2", "maze_random"))
    assert metods["success"] == pytest.approx(1.0, abs=0.005) and 0.3 < random["success"] < 0.5
    assert 15 < metods["first_reward_mean"] < 22 and random["first_reward_mean"] > 65
    assert metods["return_mean"] > 86.5 and metods["return_mean"] > s4["return_mean"] + 10   # the paper's 86.5
    steps = load("maze")["eval_find_step"].values          # later rewards come faster than the first
    intervals = np.diff(np.concatenate([np.zeros((len(steps), 1)), steps], axis=1), axis=1)
    later = intervals[:, 1:][steps[:, 1:] > 0]
    assert later.mean() < 0.6 * metods["first_reward_mean"]
    same = find_intervals(load("maze"), among=3)["mean"].values       # over the same episodes, too
    assert same[1:].max() < 0.85 * same[0]
    assert 34.9 < summary(load("maze_10x10"))["return_mean"] < summary(load("maze_rl2_10x10"))["return_mean"]
    # RL², same trainer, ClipUp steps and environment steps: ahead of MetODS, and back to the target faster still
    assert rl2["env_steps"] == metods["env_steps"]
    assert rl2["return_mean"] - metods["return_mean"] > 2 * np.hypot(rl2["return_sem"], metods["return_sem"])
    back = find_intervals(load("maze_rl2"), among=3)["mean"].values
    assert back[1:].max() < 0.7 * back[0]
    # the same agent by gradient (A2C) does worse than by ES
    gradient = summary(load("maze_gradient"))
    assert 50 < gradient["return_mean"] < metods["return_mean"] - 10 and gradient["env_steps"] > 1e8
    assert summary(load("maze_gradient_10x10"))["return_mean"] < 30
    # without memory: as fast to the first reward, no faster back, about 29 below MetODS
    reactive = summary(load("maze_feedforward"))
    assert abs(reactive["first_reward_mean"] - metods["first_reward_mean"]) < 3
    assert 50 < reactive["return_mean"] < metods["return_mean"] - 25
    again = find_intervals(load("maze_feedforward"), among=3)["mean"].values
    assert again[1:].min() > 0.85 * again[0]
    # MAML, one inner step at t = 50: where the memoryless network is, no faster back
    maml = summary(load("maze_maml"))
    assert abs(maml["return_mean"] - reactive["return_mean"]) < 5 and 25 < summary(load("maze_maml_10x10"))["return_mean"] < 33
    revisit = find_intervals(load("maze_maml"), among=3)["mean"].values
    assert revisit[1:].min() > 0.9 * revisit[0]
    # at equal environment steps (MAML's): RL², then MetODS, then MAML
    equal = {n: summary(load(n)) for n in ("maze_equal_steps", "maze_rl2_equal_steps")}
    assert {s["env_steps"] for s in equal.values()} == {maml["env_steps"]}
    assert equal["maze_rl2_equal_steps"]["return_mean"] > equal["maze_equal_steps"]["return_mean"] + 10
    assert 65 < equal["maze_equal_steps"]["return_mean"] < metods["return_mean"]
    assert equal["maze_equal_steps"]["return_mean"] > maml["return_mean"] + 10
    # the ablation, past the early plateau: none of the paper's effects; fewer passes do better
    effects = ablation_effects(load("maze_ablation"), {"α": ("linear S=4", "linear S=4, no alpha"),
                                                       "S=1": ("linear S=4", "linear S=1"),
                                                       "vanilla": ("linear S=4", "vanilla S=4")})
    assert (ablation_table(load("maze_ablation"))["return_mean"] > 50).all()
    size, sem = effects["size"].values, effects["sem"].values
    assert abs(size[0]) < 2 * sem[0] and size[1] < -3 * sem[1] and size[2] < 0


def test_the_comparison_notebook_runs_and_shows_its_figure(tmp_path):
    _, images = run_cleanly("compare_harlow.ipynb", tmp_path)
    assert len(images) == 1


def test_the_comparison_notebooks_reading_of_the_shipped_dataset_holds():
    """The closing text of analysis/compare_harlow.ipynb describes data/compare_harlow.nc."""
    from metods_sim.analysis import comparison_table

    ds = metods_sim.load(ROOT / "data" / "compare_harlow.nc")
    ret = ds["eval_return"].mean("episode")
    later = ds["eval_correct"].isel(trial=slice(1, None)).mean(("episode", "trial"))
    optimum = float(ds.attrs["task_optimum"])
    es, grad = ret.sel(trainer="es"), ret.sel(trainer="gradient")
    assert int((es >= 0.95 * optimum).sum()) == 2 and float(later.sel(trainer="es").min()) < 0.55
    assert float(grad.max()) < 1.3 and float(abs(later.sel(trainer="gradient") - 0.5).max()) < 0.03
    steps = ds["env_steps"].max("generation")
    assert float(steps.sel(trainer="gradient").max()) < 1.5e6 < 2e8 < float(steps.sel(trainer="es").min())
    table = comparison_table(ds)
    assert float(abs(table["alpha_mean"] - 1).max()) < 0.02
    S = 4
    identity = np.array([float(s == l) for s in range(1, S + 1) for l in range(s + 1)])
    moved = abs(table["kappa"] - identity).sum("coef")
    assert float(moved.sel(trainer="es")) > float(moved.sel(trainer="gradient"))


def test_the_motor_notebook_runs_and_shows_its_figures(tmp_path):
    _, images = run_cleanly("motor.ipynb", tmp_path)
    assert len(images) == 4


def test_the_motor_notebooks_reading_of_the_shipped_runs_holds():
    """The closing text of analysis/motor.ipynb describes the shipped motor-control datasets."""
    from metods_sim.analysis import reward_curve, summary

    load = lambda name: metods_sim.load(ROOT / "data" / f"{name}.nc")   # noqa: E731
    tasks = ("ant_dir", "cheetah_dir", "cheetah_vel")
    held_out = {name: summary(load(name))["return_mean"]
                for name in [f"{task}{kind}" for task in tasks for kind in ("", "_zero", "_random")]}
    for task in tasks:
        assert held_out[task] > held_out[f"{task}_zero"] + 35 > held_out[f"{task}_random"] + 35
    ant = load("ant_dir")
    direction = ant.eval_return.groupby("goal_x").mean()
    assert 500 < float(direction.sel(goal_x=1.0)) < 560 and 420 < float(direction.sel(goal_x=-1.0)) < 480
    curve = reward_curve(ant)["mean"]
    forward, backward = curve.sel(goal=1.0), curve.sel(goal=-1.0)
    start = slice(1, 7)
    assert abs(float(backward.sel(step=start).mean()) - float(forward.sel(step=start).mean())) < 0.2   # alike
    assert abs(float(backward.sel(step=slice(8, 20)).mean())) < 0.3     # backward-paid: it sets off forward first
    assert float(backward.sel(step=slice(21, None)).mean()) > 2 and float(forward.sel(step=slice(21, None)).mean()) > 2.5
    cheetah = reward_curve(load("cheetah_dir"))["mean"].sel(goal="all")
    assert float(cheetah.sel(step=slice(21, None)).mean()) > 3 * float(cheetah.sel(step=slice(1, 20)).mean()) > 0
    gain = {task: load(f"{task}_impair")["retained_gain"] for task in tasks}
    assert 0.25 < float(gain["ant_dir"].mean()) < 0.35 and float(gain["ant_dir"].max() - gain["ant_dir"].min()) > 0.9
    assert min(float(gain["ant_dir"].sel(actuator=k)) for k in (5, 7)) > 0.95
    assert max(float(gain["ant_dir"].sel(actuator=k)) for k in (0, 1, 2, 3, 6)) < 0.2
    assert 0.25 < float(gain["cheetah_dir"].mean()) < 0.4 and 0.6 < float(gain["cheetah_vel"].mean()) < 0.7
    assert all(float(g.sel(actuator=3)) < 0.05 for g in (gain["cheetah_dir"], gain["cheetah_vel"]))
    families = {name: summary(load(f"cheetah_dir{name}"))["return_mean"] for name in ("", "_rl2", "_feedforward")}
    assert families["_rl2"] > families[""] > 1.5 * families["_feedforward"] > 600      # RL² leads on Cheetah-dir
    kept = {name: float(load(f"cheetah_dir{name}_impair")["retained_gain"].mean()) for name in ("_rl2", "_feedforward")}
    assert 0.45 < kept["_rl2"] < 0.55 and 0.35 < kept["_feedforward"] < 0.45 and kept["_rl2"] > float(gain["cheetah_dir"].mean())
    reach = {name: load(f"ml1_reach{name}") for name in ("", "_test", "_zero", "_random")}
    reached = {name: ds.eval_success.mean("episode").values for name, ds in reach.items()}
    assert np.all(reached[""] == 0.2) and np.all(reached["_test"] == 0.18)     # the same in every rollout
    assert reached["_zero"].max() == 0 and reached["_random"].mean() < 0.05
    assert summary(reach[""])["return_mean"] > 3 * summary(reach["_zero"])["return_mean"]
    push = {name: load(f"ml1_push{name}") for name in ("", "_rl2", "_maml", "_pearl", "_zero")}
    success = {name: float(ds.eval_success.mean()) for name, ds in push.items()}
    assert success[""] == success["_pearl"] == 0 and 0 < success["_rl2"] < 0.02 and 0 < success["_maml"] < 0.01
    returns = {name: summary(ds)["return_mean"] for name, ds in push.items()}
    assert returns[""] > 1.9 * returns["_rl2"] > 3 * returns["_zero"] and 200 < returns["_zero"] < 300
    rl2 = load("ant_dir_rl2")                       # RL², the earlier two-stage curriculum: it walks backward
    rl2_direction = rl2.eval_return.groupby("goal_x").mean()
    assert float(rl2_direction.sel(goal_x=-1.0)) > 150
    assert 0.3 < float(load("ant_dir_rl2_impair")["retained_gain"].mean()) < 0.4
    assert 300 < returns["_pearl"] < returns["_rl2"]
    ml10 = {name: float(load(f"ml10{name}").eval_success.mean()) for name in ("", "_rl2", "_maml", "_pearl", "_random")}
    assert abs(ml10[""] - 0.04) < 0.005 and ml10["_random"] < 0.03
    assert ml10["_rl2"] > ml10["_pearl"] > ml10[""] > ml10["_random"] > ml10["_maml"]
    assert max(float(load(f"ml10{name}_test").eval_success.mean()) for name in ("", "_rl2", "_maml", "_pearl")) < 0.01
    by_rollout = {name: load(f"ml10{name}").eval_success.mean("episode") for name in ("", "_rl2", "_maml", "_pearl")}
    assert all(float(s[5:].mean()) <= float(s[:5].mean()) + 0.01 for s in by_rollout.values())   # no gain across rollouts
