"""The MetODS plasticity rule: a readable NumPy reference and the Numba kernel that the rollouts run."""
from .kernel import WRITE_CODES, recursive_step
from .reference import WRITES, recursive_update, write_vector

__all__ = ["WRITES", "WRITE_CODES", "recursive_step", "recursive_update", "write_vector"]
