"""The fused rollout equals the same agent stepped in plain Python with the reference rule."""
import numpy as np
import pytest

from metods_sim.agents import make_agent
from metods_sim.plasticity import recursive_update
from metods_sim.rollout import draw_episodes, rollout
from metods_sim.tasks import make_task

from conftest import spec_for


def python_rollout(agent, task, genome, episodes, e):
    """One episode, one agent: the task's own functions and the NumPy reference rule, step by step."""
    p = agent.layout.unpack(genome)
    arrays = agent.kernel_arrays(genome[None])
    proj = {"vanilla": None, "linear": arrays.L[0], "mlp": (arrays.U1[0], arrays.U2[0])}[agent.write]
    cfg, data = task.config(), episodes.data[e]
    state, obs = np.zeros(task.state_size, np.int64), np.zeros(task.obs_size)
    metrics = np.zeros(task.n_metrics)
    task.reset(cfg, data, state)
    W = arrays.W0[0] + episodes.W0_noise[e]
    prev_a, prev_r, total, trace = np.zeros(task.n_actions), 0.0, 0.0, []
    for t in range(task.max_steps):
        task.observe(cfg, data, state, obs)
        v0 = np.tanh(p["f.weight"] @ np.concatenate([obs, prev_a, [prev_r]]) + p["f.bias"])
        v, W = recursive_update(W, v0, arrays.alpha[0], arrays.kappa[0], arrays.beta[0], steps=agent.steps,
                                write=agent.write, proj=proj)
        out = p["g.weight"] @ v + p["g.bias"]
        logits = out[:-1]
        if agent.action == "greedy":
            a = int(np.argmax(logits))
        else:
            probs = np.exp(logits - logits.max())
            a = int(np.searchsorted(np.cumsum(probs / probs.sum()), episodes.noise[e, t], side="right"))
            a = min(a, task.n_actions - 1)
        r, done = task.step(cfg, data, state, a, metrics)
        total += r
        trace.append((W.copy(), v.copy(), a, r, out[-1]))
        prev_a = np.eye(task.n_actions)[a]
        prev_r = r
        if done:
            break
    return total, metrics, trace


CASES = [("harlow", dict()), ("harlow_simple", dict()),
         ("harlow", {"agent.write": "vanilla", "agent.steps": 1, "agent.action": "sample"}),
         ("harlow", {"agent.write": "mlp", "agent.steps": 2, "agent.W0": "sampled", "agent.plasticity": "none"}),
         ("harlow_simple", {"agent.W0": "learned", "agent.action": "sample"})]


@pytest.mark.parametrize("kind,changes", CASES)
def test_fused_rollout_equals_python_loop_in_float64(kind, changes, rng):
    spec = spec_for(kind, **{"agent.dtype": "float64", **changes})
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    genomes = agent.initial(rng) + rng.normal(0, 0.3, (3, agent.layout.size))
    episodes = draw_episodes(task, agent, rng, 4)
    fused = rollout(agent, task, genomes, episodes, record=4)
    for e in range(4):
        total, metrics, trace = python_rollout(agent, task, genomes[0], episodes, e)
        assert fused.returns[0, e] == pytest.approx(total, abs=1e-10)
        np.testing.assert_array_equal(fused.metrics[0, e], metrics)
        assert fused.steps[0, e] == len(trace)
        for t, (W, v, a, r, value) in enumerate(trace):
            np.testing.assert_allclose(fused.W[e, t], W, atol=1e-10, rtol=0)
            np.testing.assert_allclose(fused.v[e, t], v, atol=1e-10, rtol=0)
            assert fused.action[e, t] == a and fused.reward[e, t] == r
            assert fused.value[e, t] == pytest.approx(value, abs=1e-10)
    for m in range(1, 3):
        total, metrics, _ = python_rollout(agent, task, genomes[m], episodes, 2)
        assert fused.returns[m, 2] == pytest.approx(total, abs=1e-10)


def test_a_member_scores_the_same_alone_or_in_a_population(rng):
    spec = spec_for("harlow")
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    genomes = agent.initial(rng) + rng.normal(0, 0.3, (16, agent.layout.size))
    episodes = draw_episodes(task, agent, rng, 8)
    together = rollout(agent, task, genomes, episodes)
    alone = rollout(agent, task, genomes[5], episodes)
    np.testing.assert_array_equal(together.returns[5], alone.returns[0])
    np.testing.assert_array_equal(together.metrics[5], alone.metrics[0])


def test_recording_is_padded_after_the_episode_ends(rng):
    spec = spec_for("harlow_simple")
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    out = rollout(agent, task, agent.initial(rng), draw_episodes(task, agent, rng, 3), record=2)
    assert out.W.shape == (2, task.max_steps, agent.neurons, agent.neurons)
    assert out.obs.shape == (2, task.max_steps, task.obs_size)
    assert np.all(out.steps == task.max_steps)   # the simple task always runs to its end
