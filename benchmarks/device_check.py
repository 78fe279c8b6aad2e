"""`trainer.device: cuda` against `cpu`, in the same run: the same protocol trained for the same number of
iterations (ES generations or gradient updates) from the same initial parameters on each device, with the
seconds per iteration (after one untimed iteration that compiles the kernels) and the centre's validation return; and, for the PyTorch twin, the largest difference
between its float64 logits on the GPU and on the CPU over the same episodes.

    python benchmarks/device_check.py PROTOCOL [--set KEY=VALUE ...] [--iterations 30]

Run it where torch sees a CUDA GPU (otherwise it measures the CPU alone and says so).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from metods_sim.protocol import load
from metods_sim.experiments.run import build
from metods_sim.seeding import rng_for
from metods_sim.trainers import TRAINERS


def train(path, overrides, device, iterations):
    """Seconds per iteration and the curve's last centre return, for `iterations` iterations on `device`."""
    unit = TRAINERS[load(path, overrides)["trainer"]["kind"]].ITERATIONS
    spec = load(path, [*overrides, f"trainer.device={device}", "trainer.time_limit=0",
                       f"trainer.{unit}={iterations}"])
    task, agent, trainer = build(spec)
    initial = agent.initial(rng_for(spec["seed"], "init"))
    begin = time.perf_counter()
    result = trainer.train(initial)
    seconds = time.perf_counter() - begin
    centre = np.asarray(result.curve["center_return"], dtype=float)
    return seconds / iterations, centre[np.isfinite(centre)][-1] if np.isfinite(centre).any() else float("nan")


def twin_difference(path, overrides):
    """max |logits(cuda) − logits(cpu)| of the float64 twin over 16 sampled episodes."""
    from metods_sim.rollout import draw_episodes
    from metods_sim.rollout.twin import collect

    spec = load(path, [*overrides, "agent.dtype=float64", "trainer.device=cpu"])
    task, agent, _ = build(spec)
    params = agent.initial(rng_for(spec["seed"], "init"))
    episodes = draw_episodes(task, agent, rng_for(spec["seed"], "validation"), 16)
    logits = {}
    for device in ("cpu", "cuda"):
        p = torch.tensor(params, dtype=torch.float64, device=device)
        logits[device] = collect(agent, task, p, episodes, greedy=False, device=device).logits.cpu()
    return float((logits["cuda"] - logits["cpu"]).abs().max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("protocol")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}; GPU: {torch.cuda.get_device_name(0) if cuda else 'none (CPU only)'}")
    rows = {}
    for device in ("cpu", "cuda") if cuda else ("cpu",):
        train(args.protocol, args.overrides, device, 1)   # compiles the kernels: not what is measured
        rows[device] = train(args.protocol, args.overrides, device, args.iterations)
        print(f"{device:5s} {rows[device][0] * 1e3:9.1f} ms per iteration, centre return {rows[device][1]:.3f} "
              f"after {args.iterations}")
    if cuda:
        print(f"cuda/cpu time per iteration: {rows['cuda'][0] / rows['cpu'][0]:.2f}")
        spec = load(args.protocol, args.overrides)
        if spec["trainer"]["kind"] == "gradient":
            print(f"twin float64 logits, max |cuda - cpu| over 16 episodes: "
                  f"{twin_difference(args.protocol, args.overrides):.2e}")


if __name__ == "__main__":
    main()
