"""ES meta-training through EvoTorch: every algorithm runs, fitness is shared-episode mean return, it learns; it
stops where its state is whole and resumes from that state exactly; diverged members never steer it."""
import dataclasses
import os
import re
import signal

import numpy as np
import pytest
import torch
from evotorch import SolutionBatch

from metods_sim.agents import make_agent
from metods_sim.fields import ProtocolError
from metods_sim.protocol import validate
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


def test_a_budget_of_environment_steps_stops_training_after_the_generation_that_reaches_it():
    spec, task, agent = build(**{"trainer.generations": 1})
    initial = agent.initial(rng_for(0, "init"))
    per_generation = ESTrainer(spec["trainer"], task, agent, seed=0).train(initial).curve["env_steps"][0]
    spec["trainer"] |= {"generations": 10_000, "env_steps": int(2.5 * per_generation)}
    result = ESTrainer(spec["trainer"], task, agent, seed=0).train(initial)
    assert result.stopped_by == "env_steps" and result.generations == 3
    assert result.curve["env_steps"][-1] >= spec["trainer"]["env_steps"] > result.curve["env_steps"][-2]
    assert np.isfinite(result.curve["center_return"][-1])   # the last generation is validated


def first_held(validations, target, evaluations):
    """The number of generations after which `evaluations` validations in a row had reached target."""
    for end in range(evaluations, len(validations) + 1):
        if np.all(np.asarray(validations[end - evaluations:end]) >= target):
            return end
    return None


def test_a_run_stops_once_its_validation_return_has_held_the_target_and_resumes_to_the_same_stop():
    spec, task, agent = build(**{"trainer.generations": 40, "trainer.target": 0})
    initial = agent.initial(rng_for(0, "init"))
    unstopped = ESTrainer(spec["trainer"], task, agent, seed=0).train(initial)
    validations = unstopped.curve["center_return"]
    share = float(np.median(validations)) / task.optimum
    stop = first_held(validations, share * task.optimum, 3)
    assert stop is not None and stop < 40
    spec["trainer"] |= {"target": share, "target_evaluations": 3, "checkpoint_every": 1}
    saved = {}
    solved = ESTrainer(spec["trainer"], task, agent, seed=0).train(
        initial, checkpoint=lambda state, done: saved.setdefault(done, state))
    assert solved.stopped_by == "solved" and solved.generations == stop
    np.testing.assert_array_equal(solved.curve["center_return"], validations[:stop])
    resumed = ESTrainer(spec["trainer"], task, agent, seed=0).train(state=saved[stop - 1])   # mid-streak
    assert_same_training(resumed, solved)


def test_a_task_without_a_known_optimum_never_stops_as_solved():
    spec = spec_for("maze", **{"task.size": 5, "agent.neurons": 4, "agent.steps": 1, "trainer.popsize": 4,
                               "trainer.episodes": 1, "trainer.eval_every": 1, "trainer.eval_episodes": 2,
                               "trainer.generations": 4, "trainer.target": 1e-9, "trainer.target_evaluations": 1})
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    result = ESTrainer(spec["trainer"], task, agent, seed=0).train(agent.initial(rng_for(0, "init")))
    assert np.isnan(task.optimum) and result.stopped_by == "generations" and result.generations == 4


RAY_TASKS = {"harlow_simple": SMALL,   # and a MuJoCo body: each actor steps its own copy of the physics
             "cheetah_dir": {"task.horizon": 20, "agent.neurons": 8, "agent.steps": 1, "trainer.popsize": 8,
                             "trainer.episodes": 2, "trainer.eval_every": 1, "trainer.eval_episodes": 4}}


@pytest.mark.parametrize("task_kind", sorted(RAY_TASKS))
def test_ray_actors_give_the_same_run_as_one_process(task_kind):
    """A real local Ray instance with 2 actors, through EvoTorch's num_actors."""
    ray = pytest.importorskip("ray")
    curves = {}
    for actors in (0, 2):
        spec = spec_for(task_kind, **RAY_TASKS[task_kind], **{"trainer.generations": 3, "trainer.num_actors": actors})
        task = make_task(spec["task"])
        agent = make_agent(spec["agent"], task)
        result = ESTrainer(spec["trainer"], task, agent, seed=3).train(agent.initial(rng_for(3, "init")))
        curves[actors] = result
    ray.shutdown()
    for key in ("fitness_mean", "fitness_max", "fitness_min", "center_return", "env_steps"):
        np.testing.assert_allclose(curves[2].curve[key], curves[0].curve[key], rtol=1e-6)
    np.testing.assert_allclose(curves[2].center, curves[0].center, rtol=1e-6)


def assert_same_training(a, b):
    """Two trainings equal value for value; wall time aside."""
    for key in ESTrainer.CURVE:
        if key != "wall_time":
            np.testing.assert_array_equal(a.curve[key], b.curve[key], err_msg=key)
    np.testing.assert_array_equal(a.center, b.center)
    np.testing.assert_array_equal(a.best, b.best)
    assert (a.best_validation, a.stopped_by) == (b.best_validation, b.stopped_by)
    for name in ("observations", "best_observations"):   # observation_norm running's statistics, or None
        ours, theirs = getattr(a, name), getattr(b, name)
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert ours.count == theirs.count
            np.testing.assert_array_equal(ours.mean, theirs.mean)
            np.testing.assert_array_equal(ours.M2, theirs.M2)


@pytest.mark.parametrize("algorithm", ["pgpe", "snes", "xnes", "cmaes", "cem"])
def test_training_resumed_from_a_checkpoint_equals_training_left_alone(algorithm):
    spec, task, agent = build(**{"trainer.algorithm": algorithm, "trainer.generations": 6,
                                 "trainer.checkpoint_every": 2, "trainer.eval_every": 2})
    initial = agent.initial(rng_for(0, "init"))
    saved = {}
    alone = ESTrainer(spec["trainer"], task, agent, seed=0).train(
        initial, checkpoint=lambda state, done: saved.setdefault(done, state))
    assert sorted(saved) == [2, 4, 6]   # every 2 generations, and when training stopped
    for done in (2, 4, 6):
        torch.manual_seed(12345)   # whatever drew from torch's RNG in between
        resumed = ESTrainer(spec["trainer"], task, agent, seed=0).train(state=saved[done])
        assert_same_training(resumed, alone)


def test_with_observation_norm_running_a_generation_uses_the_statistics_of_the_ones_before_and_resumes_exactly():
    spec, task, agent = build(**{"trainer.generations": 4, "trainer.checkpoint_every": 2,
                                 "trainer.observation_norm": "running"})
    initial = agent.initial(rng_for(0, "init"))
    saved, norms = {}, []
    trainer = ESTrainer(spec["trainer"], task, agent, seed=0)
    evaluate = EpisodeProblem._evaluate_batch

    def spy(problem, batch):
        norms.append(problem.norm)
        evaluate(problem, batch)

    EpisodeProblem._evaluate_batch = spy
    try:
        alone = trainer.train(initial, checkpoint=lambda state, done: saved.setdefault(done, state))
    finally:
        EpisodeProblem._evaluate_batch = evaluate
    # generation 0 had seen nothing (μ 0, σ 1); then all 16 members × 4 episodes × 12 steps of each generation
    np.testing.assert_array_equal(norms[0].mean, 0.0)
    np.testing.assert_array_equal(norms[0].std, 1.0)
    assert alone.observations.count == 4 * 16 * 4 * task.max_steps
    assert all(not np.array_equal(a.mean, b.mean) for a, b in zip(norms, norms[1:]))
    resumed = ESTrainer(spec["trainer"], task, agent, seed=0).train(state=saved[2])
    assert_same_training(resumed, alone)
    # the centre was validated with the statistics it leaves for the next generation: those in the result
    assert trainer.validate(alone.center, alone.observations) == alone.curve["center_return"][-1]
    assert trainer.validate(alone.center) != alone.curve["center_return"][-1]


def test_a_resumed_time_limited_run_gets_what_was_left_of_its_time():
    spec, task, agent = build(**{"trainer.generations": 10_000, "trainer.time_limit": 0.02,
                                 "trainer.checkpoint_every": 5})
    saved = {}
    ESTrainer(spec["trainer"], task, agent, seed=0).train(agent.initial(rng_for(0, "init")),
                                                          checkpoint=lambda state, done: saved.setdefault(done, state))
    resumed = ESTrainer(spec["trainer"], task, agent, seed=0).train(state=saved[5])
    wall = resumed.curve["wall_time"]
    assert resumed.stopped_by == "time_limit" and np.all(np.diff(wall) > 0)
    assert 1.2 <= wall[-1] < 1.2 + 1.0 and wall[4] < 1.2


def test_members_whose_fast_weights_diverge_get_the_worst_fitness():
    from test_rollout import with_carry

    spec, task, agent = build()
    problem = EpisodeProblem(task, agent, episodes=4, seed=5)
    sane = agent.initial(np.random.default_rng(0))
    genomes = np.stack([sane, with_carry(agent, sane, 1e8), sane + 0.1, with_carry(agent, sane + 0.1, 1e8)])
    batch = SolutionBatch(problem, popsize=4)
    batch.set_values(torch.as_tensor(genomes, dtype=torch.float32))
    problem.evaluate(batch)
    shared = draw_episodes(task, agent, rng_for(5, "train", 0), 4)
    returns = rollout(agent, task, batch.values.numpy().astype(np.float64), shared).returns.mean(axis=1)
    evals = batch.evals[:, 0].numpy()
    assert evals[1] == evals[3] == -np.inf
    np.testing.assert_allclose(evals[[0, 2]], returns[[0, 2]], rtol=1e-6)


def test_the_search_goes_on_past_members_that_diverge():
    from test_rollout import with_carry

    spec, task, agent = build(**{"trainer.generations": 4, "trainer.stdev_init": 0.5, "agent.steps": 2})
    # carry 3000 sits on the edge of float32 overflow over 2 x 6 passes: part of the population spills over it
    initial = with_carry(agent, agent.initial(rng_for(0, "init")), 3000.0)
    result = ESTrainer(spec["trainer"], task, agent, seed=0).train(initial)
    diverged = np.array(result.curve["diverged"])
    assert result.stopped_by == "generations" and np.all(diverged < 16) and diverged.sum() > 0
    assert np.isfinite(result.center).all() and np.isfinite(result.curve["fitness_mean"]).all()


def test_a_population_that_diverges_whole_stops_the_run():
    from test_rollout import with_carry

    spec, task, agent = build(**{"trainer.generations": 50})
    initial = with_carry(agent, agent.initial(rng_for(0, "init")), 1e12)   # overflows float32 in 6 steps
    result = ESTrainer(spec["trainer"], task, agent, seed=0).train(initial)
    assert result.stopped_by == "diverged" and result.generations == 1
    assert result.curve["diverged"] == [16] and np.isnan(result.curve["fitness_mean"][0])
    assert result.curve["center_return"] == [-np.inf]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_training_at_the_end_of_the_generation_with_a_checkpoint_that_resumes_exactly(signum):
    spec, task, agent = build(**{"trainer.generations": 8, "trainer.checkpoint_every": 0})
    initial = agent.initial(rng_for(0, "init"))
    alone = ESTrainer(spec["trainer"], task, agent, seed=0).train(initial)
    saved = {}

    def signal_at_3(generation, status, result):
        if generation == 3:
            os.kill(os.getpid(), signum)   # a real signal, delivered to this process's main thread

    before = signal.getsignal(signum)
    stopped = ESTrainer(spec["trainer"], task, agent, seed=0).train(
        initial, on_generation=signal_at_3, checkpoint=lambda state, done: saved.setdefault(done, state))
    assert stopped.stopped_by == "interrupted" and stopped.generations == 4 and list(saved) == [4]
    assert signal.getsignal(signum) is before   # the handler lives as long as the training loop
    resumed = ESTrainer(spec["trainer"], task, agent, seed=0).train(state=saved[4])
    assert_same_training(resumed, alone)


def test_a_second_signal_stops_training_at_once_without_a_checkpoint():
    spec, task, agent = build(**{"trainer.generations": 8})
    saved = {}

    def signal_twice(generation, status, result):
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)

    result = ESTrainer(spec["trainer"], task, agent, seed=0).train(
        agent.initial(rng_for(0, "init")), on_generation=signal_twice,
        checkpoint=lambda state, done: saved.setdefault(done, state))
    assert result.stopped_by == "interrupted" and result.generations == 1 and saved == {}


def test_action_noise_scores_members_on_perturbed_actions_and_leaves_validation_greedy():
    """trainer.action_noise σ: a member's fitness is its return when acting N(mean, σ²), whatever its log_std;
    validation plays the mean."""
    spec = validate(spec_for("cheetah_dir", **{"task.horizon": 20, "agent.neurons": 4, "agent.steps": 1,
                                               "trainer.action_noise": 0.3}), "<test>")
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    genomes = agent.initial(np.random.default_rng(0)) + np.random.default_rng(1).normal(0, 0.3, (4, agent.layout.size))
    shared = draw_episodes(task, agent, rng_for(5, "train", 0), 2)

    def scored(action_noise):
        problem = EpisodeProblem(task, agent, episodes=2, seed=5, action_noise=action_noise)
        batch = SolutionBatch(problem, popsize=4)
        batch.set_values(torch.as_tensor(genomes, dtype=torch.float32))
        problem.evaluate(batch)
        return batch.evals[:, 0].numpy()

    played = genomes.astype(np.float32).astype(np.float64)   # the batch holds float32
    sampling = dataclasses.replace(agent, action="sample")
    perturbed = played.copy()
    sampling.layout.unpack(perturbed)["log_std"][:] = np.log(0.3)
    expected = rollout(sampling, task, perturbed, shared).returns.mean(axis=1)
    np.testing.assert_allclose(scored(0.3), expected, rtol=1e-6)
    greedy = rollout(agent, task, played, shared).returns.mean(axis=1)
    np.testing.assert_allclose(scored(0.0), greedy, rtol=1e-6)
    assert not np.allclose(expected, greedy)
    trainer = ESTrainer(spec["trainer"], task, agent, seed=0)
    assert trainer.validate(genomes[0]) == pytest.approx(
        rollout(agent, task, genomes[:1], trainer.validation).returns.mean(), rel=1e-6)


def test_action_noise_on_a_discrete_task_is_one_line():
    spec = validate(spec_for("harlow", **{"trainer.action_noise": 0.2}), "<test>")
    task = make_task(spec["task"])
    with pytest.raises(ProtocolError, match=re.escape("trainer.action_noise: expected 0 on task harlow")):
        ESTrainer(spec["trainer"], task, make_agent(spec["agent"], task), seed=0)
