"""Environment steps per second of a Meta-World ML1 population evaluation in the fused physics kernel
(`metods_sim.tasks.sawyer`: Meta-World's model, step, observation and reward in Numba) next to the same
evaluation on Meta-World's own environments (`metods_sim.rollout.stepped`: one environment per agent, stepped in
Python, the network for all agents in one NumPy call per step), same genomes and episodes, interleaved in the
same run; the ratio is what to read (the machines are shared and noisy).

    python benchmarks/metaworld_rollout.py [--protocol protocols/ml1_reach.yaml] [--members 8] [--episodes 2]
                                           [--steps 200] [--repeats 3]

--steps shortens each adaptation episode to one rollout of that many steps, so that the Python-stepped side
finishes in seconds; both sides step the same number of times.
"""
from __future__ import annotations

import argparse
import os
import platform

import mujoco
import numba

from metods_sim.protocol import load
from metods_sim.rollout import rollout
from metods_sim.rollout.stepped import rollout_stepped
from rollout_speed import interleaved, population   # this folder: one timer for every benchmark


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", default="protocols/ml1_reach.yaml")
    p.add_argument("--members", type=int, default=8)
    p.add_argument("--episodes", type=int, default=2)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    spec = load(args.protocol, ["task.rollouts=1", f"task.rollout_steps={args.steps}"])
    task, agent, genomes, episodes = population(spec, args.members, args.episodes)
    (fused_seconds, fused), (stepped_seconds, stepped) = interleaved(
        [lambda: rollout(agent, task, genomes, episodes), lambda: rollout_stepped(agent, task, genomes, episodes)],
        args.repeats)
    steps = args.members * args.episodes * task.max_steps
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {numba.get_num_threads()} "
          f"threads (numba {numba.threading_layer()}), MuJoCo {mujoco.__version__}")
    print(f"{spec['name']}: {task.env_name}, {args.members} members x {args.episodes} episodes x {task.max_steps} "
          f"steps; agent {spec['agent']['kind']} N={spec['agent'].get('neurons')} S={spec['agent'].get('steps')}, "
          f"{spec['agent']['dtype']}")
    print(f"fused physics kernel:    {steps / fused_seconds:12,.0f} env steps/s  ({fused_seconds:.3f} s, best of "
          f"{args.repeats})")
    print(f"Meta-World's own envs:   {steps / stepped_seconds:12,.0f} env steps/s  ({stepped_seconds:.3f} s)")
    print(f"ratio: {stepped_seconds / fused_seconds:.1f}x")
    print(f"mean return {fused.returns.mean():.1f} fused, {stepped.returns.mean():.1f} stepped (the two networks "
          f"round differently and contacts amplify it: tests/tasks/test_metaworld.py checks equal actions give equal "
          f"steps)")


if __name__ == "__main__":
    main()
