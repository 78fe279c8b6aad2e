"""ES meta-training through EvoTorch: every algorithm runs, fitness is shared-episode mean return, it learns."""
import numpy as np
import pytest
import torch
from evotorch import SolutionBatch

from metods_sim.agents import make_agent
from metods_sim.rollout import draw_episodes, rollout
from metods_sim.seeding import rng_for
from metods_sim.tasks import make_task
from metods_sim.trainers import EpisodeProblem, ESTrainer

from conftest import spec_for

SMALL = {"task.presentations": 3, "task.pattern_size": 4, "agent.neurons": 8, "agent.steps": 1,
         "trainer.popsize": 16, "trainer.episodes": 4, "trainer.eval_every": 1, "trainer.eval_episodes": 64}


def build(**changes):
    spec = spec_for("harlow_simple", **{**SMALL, **changes})
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    return spec, task, agent


@pytest.mark.parametrize("algorithm", ["pgpe", "snes", "xnes", "cmaes", "cem"])
def test_every_algorithm_runs_a_few_generations(algorithm):
    spec, task, agent = build(**{"trainer.algorithm": algorithm, "trainer.generations": 3})
    trainer = ESTrainer(spec["trainer"], task, agent, seed=0)
    seen = []
    result = trainer.train(agent.initial(rng_for(0, "init")), on_generation=lambda g, s, r: seen.append(g))
    assert seen == [0, 1, 2] and not result.interrupted
    assert all(len(v) == 3 for v in result.curve.values())
    assert np.all(np.isfinite(result.curve["center_return"]))
    assert result.center.shape == (agent.layout.size,)
    assert result.curve["env_steps"][-1] == 3 * 16 * 4 * task.max_steps


def test_fitness_is_the_mean_return_over_the_generations_shared_episodes():
    spec, task, agent = build()
    problem = EpisodeProblem(task, agent, episodes=4, seed=5)
    genomes = agent.initial(np.random.default_rng(0)) + np.random.default_rng(1).normal(0, 0.5, (6, agent.layout.size))
    batch = SolutionBatch(problem, popsize=6)
    batch.set_values(torch.as_tensor(genomes, dtype=torch.float32))
    problem.generation = 7
    problem.evaluate(batch)
    shared = draw_episodes(task, agent, rng_for(5, "train", 7), 4)
    expected = rollout(agent, task, batch.values.numpy().astype(np.float64), shared).returns.mean(axis=1)
    np.testing.assert_allclose(batch.evals[:, 0].numpy(), expected, rtol=1e-6)
    problem.generation = 8
    problem.evaluate(batch)
    assert not np.allclose(batch.evals[:, 0].numpy(), expected)   # a new generation, new episodes


@pytest.mark.parametrize("seed", [0, 1])
def test_pgpe_learns_the_one_shot_task(seed):
    spec, task, agent = build(**{"trainer.generations": 300, "trainer.popsize": 256, "trainer.episodes": 8,
                                 "trainer.eval_every": 25, "trainer.eval_episodes": 256, "task.presentations": 6,
                                 "task.pattern_size": 8, "agent.neurons": 20, "agent.steps": 2})
    trainer = ESTrainer(spec["trainer"], task, agent, seed=seed)
    initial = agent.initial(rng_for(seed, "init"))
    before = trainer.validate(initial)
    result = trainer.train(initial)
    assert result.best_validation > before + 0.4   # measured: +0.6 and +0.95 for seeds 0 and 1
    assert result.best_validation == max(np.nan_to_num(result.curve["center_return"], nan=-np.inf))


def test_time_limit_stops_training():
    spec, task, agent = build(**{"trainer.generations": 10_000, "trainer.time_limit": 0.05})
    result = ESTrainer(spec["trainer"], task, agent, seed=0).train(agent.initial(rng_for(0, "init")))
    assert result.stopped_by == "time_limit" and len(result.curve["wall_time"]) < 10_000
    assert result.curve["wall_time"][-1] >= 3.0
    assert np.isfinite(result.curve["center_return"][-1])


def test_ray_actors_give_the_same_run_as_one_process():
    """A real local Ray instance with 2 actors, through EvoTorch's num_actors."""
    ray = pytest.importorskip("ray")
    curves = {}
    for actors in (0, 2):
        spec, task, agent = build(**{"trainer.generations": 3, "trainer.num_actors": actors})
        result = ESTrainer(spec["trainer"], task, agent, seed=3).train(agent.initial(rng_for(3, "init")))
        curves[actors] = result
    ray.shutdown()
    for key in ("fitness_mean", "fitness_max", "fitness_min", "center_return", "env_steps"):
        np.testing.assert_allclose(curves[2].curve[key], curves[0].curve[key], rtol=1e-6)
    np.testing.assert_allclose(curves[2].center, curves[0].center, rtol=1e-6)
