"""A flat parameter vector with named blocks: an optimizer sees a vector, an analysis sees named arrays."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
        vector = np.asarray(vector)
        if vector.shape[-1] != self.size:
            raise ValueError(f"parameter vector has length {vector.shape[-1]}, layout expects {self.size}")
        lead = vector.shape[:-1]
        return {name: vector[..., sl].reshape(lead + tuple(shape)) for name, shape, sl in self.slices()}

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
