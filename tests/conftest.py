import numpy as np
import pytest

from metods_sim.protocol import defaults


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
