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
