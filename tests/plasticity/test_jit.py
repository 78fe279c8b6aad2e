"""The Numba options of the package's kernels: the rule's buffers are promised apart to LLVM (`jit.NOALIAS`)."""
import numpy as np
from numba import njit

from metods_sim.plasticity import recursive_step
from metods_sim.plasticity.jit import NOALIAS
from metods_sim.plasticity.kernel import matvec


def scale(x, out):
    for i in range(x.shape[0]):
        out[i] = 2.0 * x[i]


def test_this_numba_can_promise_arguments_apart():
    assert NOALIAS == {"noalias": True}


def test_the_promise_reaches_llvm_as_noalias_array_pointers_and_computes_the_same():
    plain, promised = njit(scale), njit(**NOALIAS)(scale)
    x = np.arange(3.0)
    for f in (plain, promised):
        out = np.zeros(3)
        f(x, out)
        assert out.tolist() == [0.0, 2.0, 4.0]
    signature = plain.signatures[0]
    # Numba marks its own return and exception pointers noalias anyway; the promise adds x's and out's data
    assert _noalias_arguments(promised, signature) >= _noalias_arguments(plain, signature) + 2


def test_the_rule_and_its_matvec_carry_the_promise():
    for kernel in (recursive_step, matvec):
        assert kernel.targetoptions.get("noalias") is True


def _noalias_arguments(dispatcher, signature) -> int:
    """How many arguments of the function's own LLVM body are marked noalias."""
    ir = dispatcher.inspect_llvm(signature)
    define = next(line for line in ir.splitlines() if line.startswith("define") and "scale" in line
                  and "cpython" not in line and "cfunc" not in line)
    return define.count("noalias")
