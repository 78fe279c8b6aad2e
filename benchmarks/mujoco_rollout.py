"""Environment steps per second of an Ant-dir population evaluation (MuJoCo physics and MetODS network in one
Numba call, `metods_sim.rollout`) next to the raw MuJoCo stepping rate of the same model with zero
controls on the same cores (`mujoco.rollout.rollout`, MuJoCo's own threaded stepping, one MjData per thread),
measured in the same run; the ratio is what to read (the machines are shared and noisy).

    python benchmarks/mujoco_rollout.py [--protocol protocols/ant_dir.yaml] [--members 64] [--episodes 8]
                                        [--repeats 3]

The population evaluation counts the environment steps it took (an Ant that topples ends its episode early);
the raw rate is frame_skip MuJoCo steps per environment step, from the same start states (Gymnasium's reset).
"""
from __future__ import annotations

import argparse
import os
import platform

import mujoco
import numba
import numpy as np
from mujoco import rollout as mj_rollout

from metods_sim.protocol import load
from metods_sim.rollout import rollout
from rollout_speed import interleaved, population   # this folder: one timer for every benchmark


def start_states(task, rows):
    """(B, full physics state) of the episodes' starts, as Gymnasium's reset leaves them."""
    sim = task.simulator()
    data, spec = mujoco.MjData(sim.model), mujoco.mjtState.mjSTATE_FULLPHYSICS
    states = np.zeros((len(rows), mujoco.mj_stateSize(sim.model, spec)))
    for b, row in enumerate(rows):
        mujoco.mj_resetData(sim.model, data)
        data.qpos[:], data.qvel[:] = task.initial_state(row)
        mujoco.mj_forward(sim.model, data)
        mujoco.mj_getState(sim.model, data, states[b], spec)
    return states


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", default="protocols/ant_dir.yaml")
    p.add_argument("--members", type=int, default=64)
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    spec = load(args.protocol)
    task, agent, genomes, episodes = population(spec, args.members, args.episodes)

    sim, threads = task.simulator(), numba.get_num_threads()
    B, T = args.members * args.episodes, task.horizon * task.frame_skip
    states = start_states(task, np.tile(episodes.data, (args.members, 1)))
    control = np.zeros((B, T, sim.model.nu))
    datas = [mujoco.MjData(sim.model) for _ in range(threads)]
    out = (np.empty((B, T, states.shape[1])), np.empty((B, T, sim.model.nsensordata)))
    raw = lambda: mj_rollout.rollout(sim.model, datas, states, control, state=out[0], sensordata=out[1],
                                     persistent_pool=True)
    raw()
    (seconds, result), (raw_seconds, _) = interleaved([lambda: rollout(agent, task, genomes, episodes), raw],
                                                      args.repeats)
    env_steps = int(result.steps.sum())
    raw_rate = B * T / task.frame_skip / raw_seconds

    rate = env_steps / seconds
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {threads} threads "
          f"(numba {numba.threading_layer()}), MuJoCo {mujoco.__version__}")
    print(f"{spec['name']}: {task.name}, {args.members} members x {args.episodes} episodes, horizon {task.horizon}, "
          f"frame_skip {task.frame_skip}; agent {spec['agent']['kind']} N={spec['agent'].get('neurons')} "
          f"S={spec['agent'].get('steps')}, {spec['agent']['dtype']}")
    print(f"population evaluation:   {rate:12,.0f} env steps/s  ({env_steps:,} steps in {seconds:.3f} s, best of "
          f"{args.repeats})")
    print(f"raw MuJoCo, zero ctrl:   {raw_rate:12,.0f} env steps/s  ({B * T:,} mj_step in {raw_seconds:.3f} s, "
          f"mujoco.rollout, {threads} threads)")
    print(f"ratio: {rate / raw_rate:.2f}")


if __name__ == "__main__":
    main()
