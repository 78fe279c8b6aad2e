"""Environment steps per second of an ML10 population evaluation in the fused physics kernel (one kernel call
mixing the split's Meta-World environments, `metods_sim.tasks.sawyer`) next to the same evaluation on Meta-World's
own environments (`metods_sim.rollout.stepped`: one environment per agent, stepped in Python, the network for all
agents in one NumPy call per step), same genomes and episodes, interleaved in the same run; the ratio is what to
read (the machines are shared and noisy). A third line bounds what fusing can give: the same number of bare
physics steps (`mj_step` × frame_skip, then `mj_forward`: no network, observation or reward) of the same
environments, called from Python.

    python benchmarks/ml10_speed.py [--protocol protocols/ml10.yaml] [--split train] [--members 4]
                                    [--episodes 10] [--steps 200] [--repeats 3]

--steps shortens each adaptation episode to one rollout of that many steps, so that the Python-stepped side
finishes in seconds; both sides step the same number of times. The episodes are drawn from the split's tasks, so
that one call mixes several environments (they are listed).
"""
from __future__ import annotations

import argparse
import os
import platform
from collections import Counter

import mujoco
import numba

from metods_sim.protocol import load
from metods_sim.rollout import rollout
from metods_sim.rollout.stepped import rollout_stepped
from rollout_speed import interleaved, population   # this folder: one timer for every benchmark


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", default="protocols/ml10.yaml")
    p.add_argument("--split", default="train", choices=("train", "test"))
    p.add_argument("--members", type=int, default=4)
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    spec = load(args.protocol, ["task.rollouts=1", f"task.rollout_steps={args.steps}", f"task.split={args.split}"])
    task, agent, genomes, episodes = population(spec, args.members, args.episodes)
    assert task.engine == "physics", "every environment of the split must be fused"
    tasks = task._tasks()[1]
    mixed = Counter(tasks[int(row[0])].env_name for row in episodes.data)
    envs = task.environments(episodes.data)

    def physics_only():
        for env in envs * args.members:
            for _ in range(task.max_steps):
                mujoco.mj_step(env.model, env.data, nstep=env.frame_skip)
                mujoco.mj_forward(env.model, env.data)

    (fused_seconds, fused), (stepped_seconds, stepped), (physics_seconds, _) = interleaved(
        [lambda: rollout(agent, task, genomes, episodes), lambda: rollout_stepped(agent, task, genomes, episodes),
         physics_only], args.repeats)
    steps = args.members * args.episodes * task.max_steps
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {numba.get_num_threads()} "
          f"threads (numba {numba.threading_layer()}), MuJoCo {mujoco.__version__}")
    print(f"{spec['name']} ({task.benchmark} {task.split}): {args.members} members x {args.episodes} episodes x "
          f"{task.max_steps} steps; agent {spec['agent']['kind']} N={spec['agent'].get('neurons')} "
          f"S={spec['agent'].get('steps')}, {spec['agent']['dtype']}")
    print("episodes' environments (one kernel call): " + ", ".join(f"{n} x{k}" for n, k in sorted(mixed.items())))
    print(f"fused physics kernel:    {steps / fused_seconds:12,.0f} env steps/s  ({fused_seconds:.3f} s, best of "
          f"{args.repeats})")
    print(f"Meta-World's own envs:   {steps / stepped_seconds:12,.0f} env steps/s  ({stepped_seconds:.3f} s)")
    print(f"ratio: {stepped_seconds / fused_seconds:.1f}x")
    print(f"bare MuJoCo physics:     {steps / physics_seconds:12,.0f} env steps/s  (fused / bare: "
          f"{physics_seconds / fused_seconds:.2f})")
    print(f"mean return {fused.returns.mean():.1f} fused, {stepped.returns.mean():.1f} stepped (the two networks "
          f"round differently and contacts amplify it: tests/tasks/test_metaworld.py checks equal actions give equal "
          f"steps)")


if __name__ == "__main__":
    main()
