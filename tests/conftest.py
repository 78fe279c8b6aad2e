import os
import signal
import subprocess
import sys
from pathlib import Path

# Numba compiles the tests' kernels at LLVM -O1, into a cache of their own. Compiling the fused rollout kernels is
# most of the suite's time, and -O1 about halves it (MAML on the maze: 108 → 55 s, then 0.14 against 0.12 s for a
# 512-episode rollout); the source, Numba and the numbers checked are the same, only LLVM's optimisation is
# lighter. The separate cache keeps those entries from a user's runs, which compile at Numba's default -O3
# (benchmarks/ measure speed there). Set here, before anything imports Numba: it reads both when imported, and
# the processes tests start (the CLI) inherit them.
os.environ.setdefault("NUMBA_OPT", "1")
os.environ["NUMBA_CACHE_DIR"] = str(Path(__file__).resolve().parents[1] / ".numba_test_cache"
                                    / f"opt{os.environ['NUMBA_OPT']}")

import numpy as np
import pytest

from metods_sim.protocol import defaults


def pytest_configure(config):
    """Ctrl-C handled as in a terminal, in this process and in the processes tests start: pytest-xdist's workers
    run with SIGINT ignored, a child inherits that, and a training loop rightly leaves an ignored signal ignored."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # one intra-op thread per test process: beside pytest-xdist's other worker on 2 cores, the twin's small matrix
    # products otherwise wait on a second MKL thread, many times slower
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def spec_for(task="harlow", **changes):
    """A complete default spec with `section.key` changes, e.g. spec_for(**{"agent.steps": 2})."""
    spec = defaults(task=task)
    for path, value in changes.items():
        section, key = path.split(".")
        spec[section][key] = value
    return spec


ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd=None, timeout=600):
    """`python -m metods_sim ARGS` as a user runs it; returns the CompletedProcess."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "metods_sim", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=timeout)
