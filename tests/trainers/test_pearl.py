"""PEARL's trainer: two short iterations on Meta-World ML1 push-v3 fill the other trainers' curve, and a run
resumed from its checkpoint writes the dataset of the run left alone; it trains pearl and nothing else."""
import importlib
import shutil

import numpy as np
import pytest

import metods_sim
from metods_sim.agents import make_agent
from metods_sim.experiments import resume, run
from metods_sim.experiments.evaluate import evaluate
from metods_sim.protocol import ProtocolError, load
from metods_sim.seeding import rng_for
from metods_sim.tasks import make_task
from metods_sim.trainers import PEARLTrainer

from conftest import ROOT
from test_es import assert_same_training

run_module = importlib.import_module("metods_sim.experiments.run")   # (the package's `run` is the function)
PROTOCOL = ROOT / "protocols" / "ml1_push_pearl.yaml"
# 2 rollouts of 20 steps, 2 iterations of 2 episodes and 10 SAC steps, a checkpoint after each
SMALL = ["task.rollouts=2", "task.rollout_steps=20", "agent.hidden=16", "agent.encoder_hidden=16",
         "trainer.iterations=2", "trainer.time_limit=0", "trainer.episodes=2", "trainer.gradient_steps=10",
         "trainer.batch_size=32", "trainer.context_size=16", "trainer.eval_every=1", "trainer.eval_episodes=2",
         "trainer.checkpoint_every=1", "evaluation.episodes=3", "recording.episodes=1"]


def build():
    spec = load(PROTOCOL, SMALL)
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    return PEARLTrainer(spec["trainer"], task, agent, seed=0), agent


def test_two_iterations_fill_the_curve_and_a_resumed_training_equals_the_training_left_alone():
    trainer, agent = build()
    initial = agent.initial(rng_for(0, "init"))
    saved, seen = {}, []
    alone = trainer.train(initial, on_generation=lambda i, s, r: seen.append(s),
                          checkpoint=lambda state, done: saved.setdefault(done, state))
    assert sorted(saved) == [1, 2] and len(seen) == 2 and alone.stopped_by == "generations"
    assert set(alone.curve) == set(PEARLTrainer.CURVE) and alone.curve["env_steps"] == [80, 160]
    assert np.all(np.isfinite(alone.curve["center_return"])) and not np.allclose(alone.center, initial)
    resumed = build()[0].train(state=saved[1])   # a fresh trainer, as `resume` builds one
    assert_same_training(resumed, alone)


@pytest.mark.parametrize("task_set, engine", [("task.benchmark=ML10", "physics"),         # the fused kernel, mixed
                                              ("task.env_name=assembly-v3", "stepped")])   # Meta-World's own env
def test_the_trainer_collects_through_either_engine(task_set, engine):
    spec = load(PROTOCOL, [*SMALL, task_set, "task.rollout_steps=5", "trainer.iterations=1",
                           "trainer.gradient_steps=2"])
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    trainer = PEARLTrainer(spec["trainer"], task, agent, seed=0)
    assert task.engine == engine
    result = trainer.train(agent.initial(rng_for(0, "init")))
    assert result.curve["env_steps"] == [20] and np.isfinite(result.best_validation)


def test_a_run_resumed_from_its_checkpoint_writes_the_dataset_of_the_run_left_alone(tmp_path, monkeypatch):
    from test_run import assert_same_dataset

    first = tmp_path / "first"
    first.mkdir()
    write = run_module._Checkpoints.__call__

    def keep_the_first(self, state, generations):   # the checkpoint after iteration 1, as a kill would leave it
        write(self, state, generations)
        if generations == 1:
            shutil.copy(self.out / "checkpoint.pkl", first / "checkpoint.pkl")

    monkeypatch.setattr(run_module._Checkpoints, "__call__", keep_the_first)
    alone = metods_sim.load(run(load(PROTOCOL, SMALL), out_dir=tmp_path / "alone", progress=False))
    ds = metods_sim.load(resume(first, progress=False))
    assert_same_dataset(ds, alone)
    assert ds.attrs["resumed"].startswith("iteration 1: ")
    assert ds.best_params.size == alone.best_params.size > 0 and ds.eval_success.dims == ("episode", "rollout")
    again = evaluate(first / "results.nc", episodes=2)     # `evaluate` re-runs the stored genome
    assert again.eval_return.shape == (2,) and np.isfinite(again.eval_return).all()


@pytest.mark.parametrize("changes,expected", [
    (["trainer={kind: es}"], "trainer.kind: expected pearl with agent.kind pearl (the only trainer of that agent), "
                          "got es"),
    (["trainer={kind: gradient}"], "trainer.kind: expected pearl with agent.kind pearl"),
    (["agent={kind: metods}"], "trainer.kind: expected es (or gradient for metods) with agent.kind metods (the pearl "
                               "trainer is PEARL's SAC, for agent.kind pearl only), got pearl"),
])
def test_a_bad_pairing_of_agent_and_trainer_is_one_line(changes, expected):
    with pytest.raises(ProtocolError) as error:
        load(PROTOCOL, changes)
    assert expected in str(error.value) and "\n" not in str(error.value)
