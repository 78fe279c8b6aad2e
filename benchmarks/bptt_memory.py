"""Memory that backpropagation through time over the W trajectory holds: the bytes of every tensor autograd saves
for the backward pass of one update window, counted exactly (torch.autograd.graph.saved_tensors_hooks), per
episode and per live step, with the whole episode (bptt 0) and with truncated windows.

    python benchmarks/bptt_memory.py PROTOCOL [--set KEY=VALUE ...] [--episodes 64] [--bptt 0 10]
"""
from __future__ import annotations

import argparse

import torch

from metods_sim.agents import make_agent
from metods_sim.protocol import load
from metods_sim.rollout import draw_episodes
from metods_sim.rollout.twin import collect, replay
from metods_sim.seeding import rng_for
from metods_sim.tasks import make_task


def saved_bytes(agent, params, episodes, run, start, stop):
    """Bytes autograd keeps for the backward of the replayed steps start..stop (distinct storages)."""
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        replay(agent, params, episodes, run.x, run.live, start=start, stop=stop)
    return sum(storages.values())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("protocol")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--episodes", type=int, default=None, help="default: the protocol's trainer.episodes")
    p.add_argument("--bptt", type=int, nargs="+", default=[0, 10])
    args = p.parse_args()
    torch.set_num_threads(1)
    spec = load(args.protocol, args.overrides)
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    E = args.episodes or spec["trainer"]["episodes"]
    params = torch.tensor(agent.initial(rng_for(0, "init")), dtype=getattr(torch, agent.dtype), requires_grad=True)
    episodes = draw_episodes(task, agent, rng_for(0, "train", 0), E)
    with torch.no_grad():
        run = collect(agent, task, params, episodes, greedy=False)
    T, steps = run.x.shape[0], int(run.live.sum())
    print(f"{spec['name']}: N = {agent.neurons}, S = {agent.steps}, write {agent.write}, {agent.dtype}, "
          f"{E} episodes, {T} steps run, {steps} live agent-steps")
    for window in args.bptt:
        window = window or T
        total = saved_bytes(agent, params, episodes, run, 0, window)
        print(f"  bptt {window if window < T else 0} ({min(window, T)} steps held): {total / 2**20:.1f} MiB for the "
              f"batch, {total / E / 2**10:.1f} KiB per episode, {total / E / min(window, T) / 2**10:.2f} KiB per "
              f"episode-step (N² {agent.dtype} = {agent.neurons ** 2 * params.element_size() / 2**10:.2f} KiB)")


if __name__ == "__main__":
    main()
