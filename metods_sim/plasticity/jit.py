"""The one set of Numba options every kernel of the package compiles with.

fastmath `contract` only (a·b + c may become one fused multiply-add). Not `reassoc`/`arcp`: LLVM compiles each
SIMD loop twice, a vector version and a scalar fallback picked at run time when two arrays might overlap, and with
reassociation the two may round differently, so an agent's numbers would depend on where its buffers landed in
memory (seen as last-bit differences between identical runs). The lane layout has no horizontal sums that need
reassociating. Not `nnan`/`ninf`: a genome whose fast weights blow up computes NaN/inf by IEEE rules and scores
badly, instead of hitting undefined behaviour. error_model "numpy": a division by zero inside a parallel region
gives inf, not an exception.
"""
JIT = dict(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")

# For Numba functions that run only fused into a cached kernel (the agents' prepare/act/finite/record): the
# kernel's cache entry holds their machine code, and its fingerprint covers their sources. A cache of their own
# would be keyed on their own file alone, so that an edit of a callee in another file (the rule's kernel) would
# reach a recompiled rollout kernel from a stale entry.
FUSED = dict(JIT, cache=False)


def _noalias():
    """{"noalias": True} where this Numba can mark a function's array arguments `noalias` for LLVM, else {}.

    The rule's loops accumulate into rows of 64 lanes (`out[i, k] += M[i, j, k] x[j, k]`). Unless LLVM knows that
    `out` overlaps neither M nor x, it must store and reload the row at every j, and it guards each vectorised loop
    with a run-time overlap check that falls back to scalar code: how fast a rollout ran then depended on where its
    buffers landed (the same kernel measured 0.76 to 1.07 million agent-steps per CPU-second in one process).
    With the promise there is no check and the row stays in registers: the Harlow rollout ran 1.3-1.4 times faster
    single-threaded (kernels with and without it interleaved in one process). Numba's compiler has the flag
    (`Flags.noalias`, the C `restrict` of every pointer argument) but its decorators do not map an option onto it;
    this adds the one mapping, which changes nothing for code that does not ask for it. LLVM keeps the promise
    through inlining (as alias scopes), so it holds inside the fused kernel too.
    """
    from numba.core import compiler, cpu, options

    if "noalias" not in compiler.Flags.options:
        return {}
    if not isinstance(getattr(cpu.CPUTargetOptions, "noalias", None), options.TargetOptions.Mapping):
        cpu.CPUTargetOptions.noalias = options.TargetOptions.Mapping("noalias")
    return {"noalias": True}


# For a function whose array arguments never overlap when one of them is written (its callers' buffers are
# separate allocations): see `_noalias`.
NOALIAS = _noalias()
