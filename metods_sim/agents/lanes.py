"""Numba helpers the agents' lane functions share: per-lane parameters, dense layers over LANES agents."""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..plasticity.activation import sigma
from ..plasticity.jit import FUSED
from ..plasticity.kernel import LANES, matvec


@njit(**FUSED)
def gather(src, member, dt):
    """src (P, a, b) → (a, b, lanes): lane l holds src[member[l]]. (The lane count comes from `member`, not from
    LANES, so that this one function also serves blocks of any width.)"""
    out = np.empty((src.shape[1], src.shape[2], member.shape[0]), dt)
    for lane in range(member.shape[0]):
        m = src[member[lane]]
        for i in range(src.shape[1]):
            for j in range(src.shape[2]):
                out[i, j, lane] = m[i, j]
    return out


@njit(**FUSED)
def gather_bias(src, member, dt):
    """src (P, a) → (a, 1, lanes)."""
    return gather(src.reshape((src.shape[0], src.shape[1], 1)), member, dt)


@njit(inline="always", **FUSED)
def dense(M, b, x, out, squash):
    """out = M x + b, then tanh'ed when `squash`. M (R, C, LANES), b (R, 1, LANES), x (C, LANES), out (R, LANES)."""
    matvec(M, x, out)
    for i in range(M.shape[0]):
        for k in range(LANES):
            out[i, k] += b[i, 0, k]
        if squash:
            for k in range(LANES):
                out[i, k] = sigma(out[i, k])


@njit(inline="always", **FUSED)
def finite_rows(X, lane):
    """Every X[..., lane] of a 2-D lane array X (R, LANES) is finite."""
    for i in range(X.shape[0]):
        if not math.isfinite(X[i, lane]):
            return False
    return True


def dense_rows(weight, bias, x):
    """The NumPy counterpart of `dense` over rows: weight (B, R, C), bias (B, R), x (B, C) → (B, R)."""
    return np.einsum("bij,bj->bi", weight, x) + bias
