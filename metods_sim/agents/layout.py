"""A flat parameter vector with named blocks: an optimizer sees a vector, an analysis sees named arrays."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ..plasticity.jit import JIT


@dataclass(frozen=True)
class Layout:
    """entries: ((name, shape), ...) in vector order. A name's block is its part before the first dot
    (`f.weight` belongs to block `f`)."""

    entries: tuple

    @property
    def size(self) -> int:
        return int(sum(np.prod(shape, dtype=int) for _, shape in self.entries))

    def slices(self):
        start = 0
        for name, shape in self.entries:
            stop = start + int(np.prod(shape, dtype=int))
            yield name, shape, slice(start, stop)
            start = stop

    def unpack(self, vector):
        """(..., size) → {name: (..., *shape)} views."""
        vector = self._sized(np.asarray(vector))
        lead = vector.shape[:-1]
        return {name: vector[..., sl].reshape(lead + tuple(shape)) for name, shape, sl in self.slices()}

    def contiguous(self, params, dtype) -> dict:
        """(P, size) or (size,) genomes → {name: (P, *shape)} C-contiguous arrays in the float type dtype, what the
        rollout kernels take: views of one block-major buffer, filled in one parallel pass over the genomes (for
        a population of thousands, NumPy's cast and per-block copies cost a tenth of a fused Harlow rollout)."""
        genome = self._sized(np.ascontiguousarray(np.atleast_2d(params), dtype=np.float64))
        P, spans = genome.shape[0], list(self.slices())
        starts = np.array([sl.start for _, _, sl in spans] + [self.size], dtype=np.int64)
        buffer = np.empty(P * self.size, dtype=dtype)
        _block_major(genome, starts, buffer)
        return {name: buffer[P * sl.start:P * sl.stop].reshape((P,) + tuple(shape)) for name, shape, sl in spans}

    def _sized(self, vector: np.ndarray) -> np.ndarray:
        if vector.shape[-1] != self.size:
            raise ValueError(f"parameter vector has length {vector.shape[-1]}, layout expects {self.size}")
        return vector

    def pack(self, arrays) -> np.ndarray:
        """{name: (..., *shape)} → (..., size)."""
        parts = [np.asarray(arrays[name]) for name, _, _ in self.slices()]
        if not parts:   # an agent without parameters
            return np.zeros(0)
        lead = parts[0].shape[: parts[0].ndim - len(self.entries[0][1])]
        return np.concatenate([p.reshape(lead + (-1,)) for p in parts], axis=-1)

    def names(self) -> np.ndarray:
        """The entry name of every vector element, (size,)."""
        return np.array([name for name, _, sl in self.slices() for _ in range(sl.stop - sl.start)], dtype=str)

    def blocks(self) -> np.ndarray:
        """The block name of every vector element, (size,)."""
        return np.array([name.split(".")[0] for name in self.names()], dtype=str)


@njit(parallel=True, **JIT)
def _block_major(genome, starts, buffer):
    """Block b of genome p (columns starts[b]..starts[b+1]) to buffer[P·starts[b] + p·n_b:][:n_b], cast."""
    P = genome.shape[0]
    for p in prange(P):
        for b in range(starts.shape[0] - 1):
            n = starts[b + 1] - starts[b]
            at = P * starts[b] + p * n
            for k in range(n):
                buffer[at + k] = genome[p, starts[b] + k]
