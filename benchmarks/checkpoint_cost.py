"""How long a checkpoint takes and how large it is: python benchmarks/checkpoint_cost.py [PROTOCOL] [GENERATIONS]

Trains GENERATIONS generations (default 200) of PROTOCOL (default protocols/harlow.yaml) with a checkpoint after
every one, timing the trainer's snapshot of its state and the atomic write of DIR/checkpoint.pkl (fsync included)
apart. A checkpoint grows with the training curve it holds, by the same number of bytes per generation; its size
at the protocol's `trainer.generations` (the most a checkpoint of that run can hold) is extrapolated from that.
"""
import statistics
import sys
import tempfile
import time

import numpy as np

from metods_sim.protocol import load
from metods_sim.results import write_checkpoint
from metods_sim.experiments.run import build
from metods_sim.seeding import rng_for
from metods_sim.trainers import es


def main(protocol="protocols/harlow.yaml", generations=200):
    most = load(protocol)["trainer"]["generations"]
    spec = load(protocol, [f"trainer.generations={generations}", "trainer.time_limit=0", "trainer.checkpoint_every=1"])
    task, agent, trainer = build(spec)
    snapshot, write, sizes = [], [], []
    freeze = es._freeze

    def timed_freeze(*args):  # the snapshot is taken inside the trainer: time it where it happens
        start = time.perf_counter()
        state = freeze(*args)
        snapshot.append(time.perf_counter() - start)
        return state

    es._freeze = timed_freeze
    with tempfile.TemporaryDirectory() as out:
        def save(state, done):
            start = time.perf_counter()
            path = write_checkpoint(out, spec=spec, command="", resumed=[], generations=done, trainer=state)
            write.append(time.perf_counter() - start)
            sizes.append(path.stat().st_size)

        trainer.train(agent.initial(rng_for(spec["seed"], "init")), checkpoint=save)
    # least squares: the pickle memo makes single snapshots a few kB larger or smaller than the trend
    per_generation = np.polyfit(np.arange(len(sizes) - 1), sizes[:-1], 1)[0]
    ms = lambda xs: f"median {1e3 * statistics.median(xs):.1f} ms, max {1e3 * max(xs):.1f} ms"
    print(f"{protocol}: genome of {agent.layout.size} parameters, popsize {spec['trainer']['popsize']}, "
          f"{spec['trainer']['algorithm']}, {len(sizes)} checkpoints")
    print(f"snapshot of the trainer's state: {ms(snapshot)}")
    print(f"atomic write, fsync included:    {ms(write)}")
    print(f"size after {generations} generations: {sizes[-1] / 1e3:.0f} kB, growing {per_generation:.0f} bytes per "
          f"generation: about {(sizes[-1] + per_generation * (most - generations)) / 1e3:.0f} kB at {most}")


if __name__ == "__main__":
    main(*sys.argv[1:2], *map(int, sys.argv[2:3]))
