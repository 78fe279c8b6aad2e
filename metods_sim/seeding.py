"""Every random stream of a run derives from (protocol seed, purpose, index), so streams never overlap:
training episodes differ from the validation set, which differs from the test set."""
from __future__ import annotations

import numpy as np

PURPOSES = {"init": 0, "train": 1, "validation": 2, "test": 3, "reevaluate": 4, "search": 5}


def rng_for(seed: int, purpose: str, index: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PURPOSES[purpose], index)))
