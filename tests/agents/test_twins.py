"""Every agent with a PyTorch twin (agents.twins) is the same agent in torch: same genome, same episodes, same
numbers as the fused kernel (1e-8 in float64), and the gradient of its episode reaches every block of the
genome. (MetODS's twin has its own, longer checks: test_torch_twin.py.)"""
import numpy as np
import pytest
import torch

from metods_sim.agents import make_agent
from metods_sim.agents.twins import TWINS, twin_for
from metods_sim.protocol import defaults
from metods_sim.rollout import draw_episodes, rollout
from metods_sim.rollout.twin import collect, replay
from metods_sim.tasks import make_task

# small agents; MAML adapts every 5 steps, so that an episode holds several adaptation steps
SMALL = {"metods": {"neurons": 8, "steps": 2}, "maml": {"hidden": 6, "adapt_every": 5}, "rl2": {"hidden": 6},
         "feedforward": {"hidden": 6}}
TASKS = {"maze": {"step_limit": 30}, "harlow": {}}


def setup(kind, task_kind, **fields):
    spec = defaults(task=task_kind, agent=kind)
    task = make_task({**spec["task"], **TASKS[task_kind]})
    return task, make_agent({**spec["agent"], **SMALL[kind], "dtype": "float64", **fields}, task)


def genomes_for(agent, rng, P):
    return agent.initial(rng) + rng.normal(0, 0.3, (P, agent.layout.size))


def test_every_twin_serves_a_registered_agent_and_the_others_are_named():
    assert set(TWINS) == {"metods", "maml", "rl2", "feedforward"}
    with pytest.raises(ValueError, match="agent.kind random has no PyTorch twin"):
        twin_for(make_agent({**defaults(agent="random")["agent"]}, make_task(defaults(task="maze")["task"])))


@pytest.mark.parametrize("kind,task_kind,action", [
    ("maml", "maze", "sample"), ("maml", "maze", "greedy"), ("maml", "harlow", "sample"), ("rl2", "maze", "sample"),
    ("rl2", "harlow", "greedy"),
    ("feedforward", "maze", "sample"), ("metods", "maze", "sample")])
def test_the_twin_equals_the_fused_rollout_in_float64(kind, task_kind, action, rng):
    """3 genomes × 4 episodes by the kernel and the twin: the same returns, metrics and steps, and member 0's
    recorded v, value, action and reward at every live step."""
    task, agent = setup(kind, task_kind, action=action)
    genomes = genomes_for(agent, rng, 3)
    episodes = draw_episodes(task, agent, rng, 4)
    fused = rollout(agent, task, genomes, episodes, record=4)
    twin = collect(agent, task, torch.as_tensor(genomes), episodes, greedy=action == "greedy", keep=True)
    np.testing.assert_allclose(twin.returns.reshape(3, 4), fused.returns, atol=1e-8, rtol=0)
    np.testing.assert_array_equal(twin.metrics.reshape(3, 4, -1), fused.metrics)
    np.testing.assert_array_equal(twin.steps.reshape(3, 4), fused.steps)
    live = twin.live[:, :4].T.numpy()                      # member 0's rows, (episode, time)
    T = live.shape[1]
    for name, ours in (("v", twin.v), ("value", twin.value), ("action", twin.action), ("reward", twin.reward)):
        ours = ours[:, :4].transpose(0, 1).numpy()
        np.testing.assert_allclose(ours[live], getattr(fused, name)[:, :T][live], atol=1e-8, rtol=0, err_msg=name)
    assert (twin.W is None) == (agent.record_shapes[0] is None)
    if action == "sample":
        assert len(np.unique(fused.action[:, :T][live])) > 1     # the policy really chose


@pytest.mark.parametrize("kind", sorted(TWINS))
def test_a_replay_cut_anywhere_gives_the_collected_numbers_and_gradients_reach_every_block(kind, rng):
    """The state carried across a cut (t = 7: inside MAML's second window) continues the episode exactly."""
    task, agent = setup(kind, "maze", action="sample")
    params = torch.as_tensor(genomes_for(agent, rng, 1)[0]).requires_grad_(True)
    episodes = draw_episodes(task, agent, rng, 3)
    run = collect(agent, task, params, episodes, greedy=False)
    first, first_values, state = replay(agent, params, episodes, run.x, run.live, stop=7)
    second, second_values, _ = replay(agent, params, episodes, run.x, run.live, start=7, W=state)
    logits, values = torch.cat([first, second]), torch.cat([first_values, second_values])
    torch.testing.assert_close(logits, run.logits)
    torch.testing.assert_close(values, run.value)
    (values[run.live].sum() + torch.log_softmax(logits, -1)[..., 0][run.live].sum()).backward()
    for name, grad in agent.layout.unpack(params.grad.numpy()).items():
        assert np.abs(grad).max() > 0, name
