"""σ = tanh inside the kernels: exact in float64, a rational approximation in float32.

libm's tanh is a scalar call that costs more than the rest of a pass of the rule; the float32 path uses the
rational approximation of Eigen's `ptanh_float` (a 13/6 polynomial ratio on [−7.9, 7.9]; absolute error below
4e-7, measured by tests/plasticity/test_activation.py), which the compiler inlines and vectorizes. float64 kernels, the ones tested against the
reference to 1e-10, call math.tanh.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from .jit import JIT


def sigma(x):
    """Python stand-in; inside Numba code `sigma` resolves to the overloads below."""
    return np.tanh(x)


@njit(inline="always", **JIT)
def tanh_rational(x):
    clamp = np.float32(7.9053111)
    x = min(max(x, -clamp), clamp)
    x2 = x * x
    p = x2 * np.float32(-2.76076847742355e-16) + np.float32(2.00018790482477e-13)
    p = p * x2 + np.float32(-8.60467152213735e-11)
    p = p * x2 + np.float32(5.12229709037114e-08)
    p = p * x2 + np.float32(1.48572235717979e-05)
    p = p * x2 + np.float32(6.37261928875436e-04)
    p = p * x2 + np.float32(4.89352455891786e-03)
    p = p * x
    q = x2 * np.float32(1.19825839466702e-06) + np.float32(1.18534705686654e-04)
    q = q * x2 + np.float32(2.26843463243900e-03)
    q = q * x2 + np.float32(4.89352518554385e-03)
    return p / q


@overload(sigma, inline="always", fastmath=JIT["fastmath"])
def _sigma_overload(x):
    if x == types.float32:
        return lambda x: tanh_rational(x)
    return lambda x: math.tanh(x)
