"""The RL² agent's cell is PyTorch's GRUCell: same weights, same hidden states (1e-10 in float64)."""
import numpy as np
import pytest
import torch

from metods_sim.agents import make_agent
from metods_sim.protocol import defaults
from metods_sim.rollout import draw_episodes, rollout
from metods_sim.tasks import make_task


def rl2_for(task_kind, **fields):
    spec = defaults(task=task_kind, agent="rl2")
    task = make_task(spec["task"])
    return make_agent({**spec["agent"], "dtype": "float64", **fields}, task), task


def torch_cell(agent, genome):
    """A GRUCell and the g head holding the genome's weights."""
    parts = {name: torch.as_tensor(value) for name, value in agent.layout.unpack(genome).items()}
    cell = torch.nn.GRUCell(agent.inputs, agent.hidden, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(parts[f"gru.{name}"])
    return cell, lambda h: h @ parts["g.weight"].T + parts["g.bias"]


def test_the_layout_names_gruCell_parameters():
    agent, task = rl2_for("harlow", hidden=5)
    shapes = dict(agent.layout.entries)
    assert shapes["gru.weight_ih"] == (15, task.obs_size + task.n_actions + 1)
    assert shapes["gru.weight_hh"] == (15, 5) and shapes["gru.bias_hh"] == (15,)
    assert shapes["g.weight"] == (task.n_actions + 1, 5)
    assert list(dict.fromkeys(agent.layout.blocks())) == ["gru", "g"]


def test_the_reference_step_is_a_gru_cell(rng):
    agent, _ = rl2_for("harlow", hidden=7)
    genome = rng.normal(0, 0.5, agent.layout.size)
    cell, head = torch_cell(agent, genome)
    B = 5
    a = {name: np.repeat(value, B, axis=0) for name, value in agent.kernel_arrays(genome)._asdict().items()}
    state = agent.reference_start(a, np.zeros((B, 0)))
    h_torch = torch.zeros(B, agent.hidden, dtype=torch.float64)
    for _ in range(6):
        x = rng.normal(size=(B, agent.inputs))
        out, state, (W, v) = agent.reference_step(a, state, x)
        h_torch = cell(torch.as_tensor(x), h_torch)
        assert W is None
        np.testing.assert_allclose(v, h_torch.detach().numpy(), atol=1e-10, rtol=0)
        np.testing.assert_allclose(out, head(h_torch).detach().numpy(), atol=1e-10, rtol=0)


@pytest.mark.parametrize("task_kind", ["harlow", "harlow_simple"])
def test_the_fused_kernel_steps_a_gru_cell(task_kind, rng):
    """Replays the recorded inputs [o_t, one-hot a_{t−1}, r_{t−1}] through GRUCell from h = 0."""
    agent, task = rl2_for(task_kind, action="sample")
    genome = agent.initial(rng) + rng.normal(0, 0.3, agent.layout.size)
    cell, head = torch_cell(agent, genome)
    E = 4
    out = rollout(agent, task, genome, draw_episodes(task, agent, rng, E), record=E)
    A = task.n_actions
    for e in range(E):
        h = torch.zeros(1, agent.hidden, dtype=torch.float64)
        prev_a, prev_r = np.zeros(A), 0.0
        for t in range(out.steps[0, e]):
            x = np.concatenate([out.obs[e, t], prev_a, [prev_r]])[None]
            h = cell(torch.as_tensor(x), h)
            np.testing.assert_allclose(out.v[e, t], h[0].detach().numpy(), atol=1e-10, rtol=0)
            np.testing.assert_allclose(out.value[e, t], head(h)[0, A].item(), atol=1e-10, rtol=0)
            prev_a, prev_r = np.eye(A)[out.action[e, t]], out.reward[e, t]
    assert out.W is None
