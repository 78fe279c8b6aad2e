"""The one set of Numba options every kernel of the package compiles with.

fastmath without `nnan`/`ninf`: reductions may be reassociated (so they vectorize), but a genome whose fast
weights blow up still computes NaN/inf by IEEE rules and simply scores badly, instead of hitting undefined
behaviour. error_model "numpy": a division by zero inside a parallel region gives inf, not an exception.
"""
JIT = dict(cache=True, nogil=True, fastmath={"reassoc", "contract", "arcp", "nsz", "afn"}, error_model="numpy")
