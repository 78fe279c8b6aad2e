"""Agent-steps per second of the fused Harlow rollout against the batched-NumPy rollout of the same agents on
the same episodes, measured in the same run (the machines are shared and noisy: read the ratio).

    python benchmarks/rollout_speed.py [--agents 4096] [--neurons 20] [--steps 4] [--repeats 7] [--agent metods]

--neurons and --steps size the MetODS agent; --agent rl2, feedforward or random times a baseline with its defaults.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numba
import numpy as np

from metods_sim.agents import AGENTS, make_agent
from metods_sim.protocol import defaults
from metods_sim.rollout import draw_episodes, rollout, rollout_reference
from metods_sim.tasks import make_task


def interleaved(fns, repeats):
    """[(best wall time, last result)] of each of fns, run in turn `repeats` times: a slow spell of the shared
    machine then costs every contender a round, not one contender its only measurement."""
    best, results = [np.inf] * len(fns), [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            results[i] = fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return list(zip(best, results))


def population(spec, members, episodes):
    """(task, agent, genomes (members, size), episodes) of a protocol spec: the genomes spread around the initial
    one by trainer.stdev_init, as ES's first generation is; the rollout kernel compiled (or loaded) once."""
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    rng = np.random.default_rng(0)
    genomes = agent.initial(rng) + rng.normal(0, spec["trainer"]["stdev_init"], (members, agent.layout.size))
    drawn = draw_episodes(task, agent, rng, episodes)
    rollout(agent, task, genomes[:1], drawn)
    return task, agent, genomes, drawn


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", type=int, default=4096)
    p.add_argument("--neurons", type=int, default=20)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--agent", default="metods", choices=sorted(AGENTS))
    args = p.parse_args()

    spec = defaults("harlow", agent=args.agent)
    spec["agent"]["dtype"] = args.dtype
    if args.agent == "metods":
        spec["agent"].update(neurons=args.neurons, steps=args.steps)
    task = make_task(spec["task"])
    agent = make_agent(spec["agent"], task)
    rng = np.random.default_rng(0)
    genomes = agent.initial(rng) + rng.normal(0, 0.1, (args.agents, agent.layout.size))
    episodes = draw_episodes(task, agent, rng, 1)

    rollout(agent, task, genomes[:2], episodes)                 # compile
    rollout_reference(agent, task, genomes[:2], episodes)
    (fused_s, fused), (numpy_s, ref) = interleaved([lambda: rollout(agent, task, genomes, episodes),
                                                    lambda: rollout_reference(agent, task, genomes, episodes)],
                                                   args.repeats)
    agent_steps = int(fused.steps.sum())
    fused_rate, numpy_rate = agent_steps / fused_s, int(ref.steps.sum()) / numpy_s
    same = float((fused.returns == ref.returns).mean())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; numba {numba.__version__}, threading layer "
          f"{numba.threading_layer()}, {numba.get_num_threads()} threads; numpy {np.__version__}")
    network = (f"N = {args.neurons}, S = {args.steps}, {agent.write} write" if args.agent == "metods" else
               f"{args.agent} agent, {agent.layout.size:,} parameters")
    print(f"Harlow rollout: {args.agents} agents x 1 episode, {network}, {args.dtype}, {agent_steps:,} agent-steps")
    print(f"fused Numba kernel : {fused_rate:12,.0f} agent-steps/s  (best of {args.repeats}: {fused_s:.3f} s)")
    print(f"batched NumPy      : {numpy_rate:12,.0f} agent-steps/s  (best of {args.repeats}: {numpy_s:.3f} s)")
    print(f"ratio fused / NumPy: {fused_rate / numpy_rate:.1f}x")
    print(f"episodes with identical returns in both: {same:.1%} (float32 tanh differs in the last bits, and a "
          f"near-tie in the logits may flip a greedy choice)")


if __name__ == "__main__":
    main()
