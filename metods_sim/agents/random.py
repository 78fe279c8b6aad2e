"""The chance baseline: uniform random actions, no parameters.

Every step its logits are equal (and its value 0), and the action is sampled from their softmax with the
episode's own uniform draw (`Episodes.noise`): a uniformly random action, the same for every run of the same
episodes. Nothing is trained: with an empty genome the ES trainer evaluates it and stops (`stopped_by`
no_parameters). It records no W and no activations.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from ..plasticity.jit import FUSED
from ..fields import ProtocolError, choice
from .base import DTYPE, Agent, always_finite, record_nothing
from .layout import Layout


class NoArrays(NamedTuple):
    members: int   # P (the genomes are empty)


@dataclass(frozen=True)
class Random(Agent):
    action: str
    dtype: str

    kind = "random"
    FIELDS = {
        "action": choice("sample", "sample: uniform random actions, drawn from each episode's uniforms (its "
                                   "logits are all equal: greedy would always pick action 0); on a MuJoCo task "
                                   "N(0, 1) actions clipped to [-1, 1]. zero: the zero action at every step "
                                   "(MuJoCo tasks only: the motionless baseline).", ("sample", "zero")),
        "dtype": DTYPE,
    }

    @classmethod
    def check(cls, section, where, *, task):
        if section["action"] == "zero" and not task.continuous:
            raise ProtocolError(f"{where('agent.action')}: expected sample with task.kind {task.name} (zero is the "
                                f"motionless baseline of the MuJoCo tasks), got 'zero'")
        return section

    @property
    def layout(self) -> Layout:
        return Layout(())

    @property
    def record_shapes(self):
        return None, None

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        return np.zeros(0)

    def kernel_arrays(self, params: np.ndarray) -> NoArrays:
        params = np.atleast_2d(np.asarray(params))
        self.layout.unpack(params)   # refuses a non-empty genome
        return NoArrays(params.shape[0])

    def reference_step(self, a, state, x):
        return np.zeros((x.shape[0], self.n_actions + 1), dtype=self.dtype), (), (None, None)

    @staticmethod
    @njit(**FUSED)
    def prepare(arrays, member, episode, noise):
        return arrays[0]

    @staticmethod
    @njit(**FUSED)
    def act(state, x, out):
        out[:] = 0.0

    finite = staticmethod(always_finite)
    record = staticmethod(record_nothing)
