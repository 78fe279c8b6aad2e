"""The MAML agent: a 3-layer MLP that acts with θ until step K, where one REINFORCE step (torch autograd's, to
1e-10 in float64) moves it, in the kernel, the NumPy reference and the PyTorch twin (torch.func), whose gradient
goes through the step; ES meta-learns θ on the maze, and so does the gradient trainer."""
import numpy as np
import pytest
import torch

from metods_sim.agents import MAML, make_agent
from metods_sim.agents.twins import twin_for
from metods_sim.experiments import run
from metods_sim.experiments.evaluate import evaluate
from metods_sim.plasticity.kernel import LANES
from metods_sim.protocol import ProtocolError, defaults, load
from metods_sim.results import load as load_results
from metods_sim.rollout import draw_episodes, rollout
from metods_sim.tasks import make_task

from conftest import ROOT

NET = ("f1.weight", "f1.bias", "f2.weight", "f2.bias", "g.weight", "g.bias")


def tiny(continuous, K=3):
    """A MAML agent on 3 observations and 2 actions, hidden 4, one step every K."""
    return MAML(obs_size=3, n_actions=2, continuous=continuous, hidden=4, adapt_every=K, inner_lr=0.5,
                inner_gamma=0.9, action="sample", dtype="float64", init_std=1.0, init_log_std=-0.5)


def episode_inputs(agent, rng, T):
    """x_0 … x_{T−1} (T, d_in): random observations and rewards, a random previous action (one-hot, or a vector
    in [-1, 1]), none at t = 0."""
    xs = rng.normal(size=(T, agent.inputs))
    A, first = agent.n_actions, agent.obs_size
    xs[:, first:first + A] = (rng.uniform(-1, 1, (T, A)) if agent.continuous else np.eye(A)[rng.integers(A, size=T)])
    xs[0, first:] = 0
    return xs


def drive(agent, genome, xs):
    """The Numba step fed xs (T, d_in) in every lane: outputs (T, A+1) and θ at the end {name: array}, lane 0."""
    arrays = tuple(agent.kernel_arrays(genome))
    state = agent.prepare(arrays, np.zeros(LANES, np.int64), np.zeros(LANES, np.int64), np.zeros((1, 0)))
    out, outs = np.empty((agent.n_actions + 1, LANES)), []
    for x in xs:
        agent.act(state, np.ascontiguousarray(np.repeat(x[:, None], LANES, axis=1)), out)
        outs.append(out[:, 0].copy())
    theta = {name: p[..., 0].reshape(shape) for (name, shape), p in zip(agent.blocks(), state.theta)}
    return np.array(outs), theta


def reference(agent, genome, xs):
    """The NumPy step fed xs, one row: outputs (T, A+1) and θ at the end."""
    a = {name: value[:1] if isinstance(value, np.ndarray) else value
         for name, value in agent.kernel_arrays(genome)._asdict().items()}
    state, outs = agent.reference_start(a, np.zeros((1, 0))), []
    for x in xs:
        out, state, _ = agent.reference_step(a, state, x[None])
        outs.append(out[0])
    return np.array(outs), {name: p[0] for name, p in zip(NET, state[:6])}


def twin(agent, genome, xs):
    """The PyTorch twin's step fed xs, one row: outputs (T, A+1) and θ at the end, tensors keeping the graph of
    genome (a tensor)."""
    model = twin_for(agent)
    rows = model.arrays(genome)
    state, outs = model.start(rows, np.zeros((1, 0))), []
    for x in torch.as_tensor(xs):
        logits, value, state, _ = model.step(rows, state, x[None])
        outs.append(torch.cat([logits[0], value]))
    return torch.stack(outs), {name: p[0] for name, p in zip(NET, state[:6])}


def detached(outs_theta):
    outs, theta = outs_theta
    return outs.detach().numpy(), {name: p.detach().numpy() for name, p in theta.items()}


def torch_mlp(parts, X):
    """[logits or mean, value] of the plain 3-layer MLP with parameters parts on inputs X (T, d_in)."""
    h = torch.tanh(torch.tanh(X @ parts["f1.weight"].T + parts["f1.bias"]) @ parts["f2.weight"].T + parts["f2.bias"])
    return h @ parts["g.weight"].T + parts["g.bias"]


def policy_gradient_step(agent, genome, xs):
    """θ + inner_lr ∇_θ Σ_t log π_θ(a_t | x_t) (G_t − mean G) over x_0 … x_{K−1}, where x_{t+1} holds
    (a_t, r_t) and G_t = Σ_{t≤s<K} γ^(s−t) r_s: one REINFORCE step by torch autograd."""
    parts = {name: torch.tensor(value, requires_grad=True) for name, value in agent.layout.unpack(genome).items()}
    X, K, A, first = torch.tensor(xs), agent.adapt_every, agent.n_actions, agent.obs_size
    out = torch_mlp(parts, X[:K])[:, :A]
    taken, r = X[1:K + 1, first:first + A], X[1:K + 1, -1]
    G = torch.stack([sum(agent.inner_gamma ** (s - t) * r[s] for s in range(t, K)) for t in range(K)])
    if agent.continuous:
        logp = torch.distributions.Normal(out, parts["log_std"].exp()).log_prob(taken).sum(1)
    else:
        logp = (torch.log_softmax(out, 1) * taken).sum(1)
    (logp * (G - G.mean())).sum().backward()
    return {name: (parts[name] + agent.inner_lr * parts[name].grad).detach().numpy() for name in NET}


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
def test_one_update_is_a_policy_gradient_step_by_torch_autograd(continuous, rng):
    agent = tiny(continuous)
    genome = agent.initial(rng) + rng.normal(0, 0.3, agent.layout.size)
    xs = episode_inputs(agent, rng, agent.adapt_every + 1)    # the update comes at t = K, before acting
    expected = policy_gradient_step(agent, genome, xs)
    for _, theta in (drive(agent, genome, xs), reference(agent, genome, xs),
                     detached(twin(agent, torch.as_tensor(genome), xs))):
        for name in NET:
            np.testing.assert_allclose(theta[name], expected[name], atol=1e-10, rtol=0)
    assert not np.allclose(expected["g.weight"], agent.layout.unpack(genome)["g.weight"])


def test_one_update_is_the_hand_derived_policy_gradient_on_a_tiny_case(rng):
    """Softmax policy, backpropagation written out: with h1 = tanh(W1 x + b1), h2 = tanh(W2 h1 + b2), π = softmax of
    the first A rows of Wg h2 + bg, and e_t = (onehot(a_t) − π_t)·(G_t − mean G), the step adds inner_lr times
    ∂Wg = Σ e h2ᵀ (the value row gets none), δ2 = Wgᵀe ⊙ (1 − h2²), ∂W2 = Σ δ2 h1ᵀ, δ1 = W2ᵀδ2 ⊙ (1 − h1²),
    ∂W1 = Σ δ1 xᵀ, and each bias its δ summed."""
    agent = tiny(continuous=False, K=2)
    genome = agent.initial(rng) + rng.normal(0, 0.3, agent.layout.size)
    xs = episode_inputs(agent, rng, 3)
    p, K, A, first = agent.layout.unpack(genome), 2, agent.n_actions, agent.obs_size
    r, taken = xs[1:K + 1, -1], xs[1:K + 1, first:first + A]
    G = np.array([r[0] + agent.inner_gamma * r[1], r[1]])
    grads = {name: np.zeros_like(p[name]) for name in NET}
    for x, a, advantage in zip(xs[:K], taken, G - G.mean()):
        h1 = np.tanh(p["f1.weight"] @ x + p["f1.bias"])
        h2 = np.tanh(p["f2.weight"] @ h1 + p["f2.bias"])
        logits = (p["g.weight"] @ h2 + p["g.bias"])[:A]
        e = np.zeros(A + 1)
        e[:A] = (a - np.exp(logits) / np.exp(logits).sum()) * advantage
        d2 = (p["g.weight"].T @ e) * (1 - h2 ** 2)
        d1 = (p["f2.weight"].T @ d2) * (1 - h1 ** 2)
        for name, g in (("g.weight", np.outer(e, h2)), ("g.bias", e), ("f2.weight", np.outer(d2, h1)),
                        ("f2.bias", d2), ("f1.weight", np.outer(d1, x)), ("f1.bias", d1)):
            grads[name] += g
    _, theta = drive(agent, genome, xs)
    for name in NET:
        np.testing.assert_allclose(theta[name], p[name] + agent.inner_lr * grads[name], atol=1e-12, rtol=0)


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
def test_before_the_first_update_it_acts_as_the_plain_mlp_with_theta(continuous, rng):
    agent = tiny(continuous, K=5)
    genome = agent.initial(rng) + rng.normal(0, 0.3, agent.layout.size)
    xs = episode_inputs(agent, rng, 8)
    parts = {name: torch.tensor(value) for name, value in agent.layout.unpack(genome).items()}
    plain = torch_mlp(parts, torch.tensor(xs)).numpy()
    adapted = torch_mlp({name: torch.tensor(v) for name, v in policy_gradient_step(agent, genome, xs).items()},
                        torch.tensor(xs)).numpy()
    for outs, _ in (drive(agent, genome, xs), reference(agent, genome, xs),
                    detached(twin(agent, torch.as_tensor(genome), xs))):
        np.testing.assert_allclose(outs[:5], plain[:5], atol=1e-10, rtol=0)
        np.testing.assert_allclose(outs[5:], adapted[5:], atol=1e-10, rtol=0)    # steps 5..7: the same window
        assert np.abs(outs[5:] - plain[5:]).max() > 1e-3


def test_adaptation_changes_behaviour_only_from_the_update_step_on(rng):
    """The same episodes with inner_lr 0 (the plain MLP throughout) and with the default: identical up to step
    K − 1, apart from step K."""
    spec = defaults(task="harlow_simple", agent="maml")
    task = make_task(spec["task"])
    K = 4
    agents = [make_agent({**spec["agent"], "adapt_every": K, "inner_lr": lr, "dtype": "float64", "action": "sample"},
                         task) for lr in (0.0, 0.5)]
    genome = agents[0].initial(rng)
    episodes = draw_episodes(task, agents[0], rng, 16)
    still, adapting = (rollout(agent, task, genome, episodes, record=16) for agent in agents)
    assert np.array_equal(still.v[:, :K], adapting.v[:, :K]) and np.array_equal(still.value[:, :K],
                                                                                 adapting.value[:, :K])
    assert np.abs(still.v[:, K] - adapting.v[:, K]).max() > 1e-3


def test_the_genome_is_theta_layer_by_layer_and_as_large_as_metods_on_the_maze():
    spec = load(ROOT / "protocols" / "maze_maml.yaml")
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    assert list(dict.fromkeys(agent.layout.blocks())) == ["f1", "f2", "g"]
    assert dict(agent.layout.entries)["f1.weight"] == (26, 9 + 4 + 1) and agent.record_shapes == (None, (26,))
    assert agent.layout.size == 1227   # MetODS's maze agent: 1,233
    continuous = tiny(True)
    assert continuous.layout.entries[-1] == ("log_std", (2,))


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
def test_the_twins_gradient_goes_through_the_adaptation_step(continuous, rng):
    """The gradient of the outputs after the step at t = K, with respect to the genome, is the true one (central
    differences, float64): it holds the second-order term, which the first-order gradient (the step's update
    treated as a constant) lacks."""
    agent = tiny(continuous)
    genome = torch.as_tensor(agent.initial(rng) + rng.normal(0, 0.3, agent.layout.size)).requires_grad_(True)
    xs = episode_inputs(agent, rng, agent.adapt_every + 2)
    probe = torch.as_tensor(rng.normal(size=(2, agent.n_actions + 1)))
    after = lambda g: (twin(agent, g, xs)[0][agent.adapt_every:] * probe).sum()    # the steps acted by θ'
    exact, = torch.autograd.grad(after(genome), genome)
    eps, basis = 1e-6, torch.eye(agent.layout.size, dtype=torch.float64)
    with torch.no_grad():
        numeric = torch.stack([(after(genome + eps * e) - after(genome - eps * e)) / (2 * eps) for e in basis])
    np.testing.assert_allclose(exact.numpy(), numeric.numpy(), atol=1e-7, rtol=1e-6)
    adapted = twin(agent, genome, xs)[1]
    theta = {name: p[0] for name, p in twin_for(agent).arrays(genome).items()}
    first_order = {name: theta[name] + (adapted[name] - theta[name]).detach() for name in NET}
    plain = torch_mlp(first_order, torch.as_tensor(xs[agent.adapt_every:]))
    first, = torch.autograd.grad((plain * probe).sum(), genome)
    assert (first - exact).abs().max() > 1e-3 * exact.abs().max()


def test_es_trains_it_on_the_maze_and_evaluate_reruns_it(tmp_path):
    changes = ["trainer.generations=3", "trainer.time_limit=0", "trainer.popsize=8", "trainer.episodes=2",
               "trainer.eval_every=1", "trainer.eval_episodes=4", "evaluation.episodes=6", "recording.episodes=2"]
    out = run(load(ROOT / "protocols" / "maze_maml.yaml", changes), out_dir=tmp_path / "run", progress=False)
    ds = load_results(out)
    assert ds.attrs["status"] == "finished" and ds.sizes["generation"] == 3 and ds.sizes["episode"] == 6
    assert set(ds["param_block"].values) == {"f1", "f2", "g"} and ds["activation"].shape == (2, 100, 26)
    again = evaluate(out, episodes=5)
    assert again.sizes["episode"] == 5 and np.isfinite(again.eval_return).all()
    larger = evaluate(out, episodes=3, overrides=["task.size=10"])     # generalization: the same θ, larger mazes
    assert larger.sizes["episode"] == 3
