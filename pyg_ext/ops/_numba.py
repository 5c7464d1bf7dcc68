"""Optional numba kernels of the CPU ``segment`` (sum, mean, max, min) and of
the unweighted CSR gather behind ``spmm_csr`` / ``spmm`` (imported only when
numba is installed, in the background: see
:func:`pyg_ext.utils._numba_setup.kernels_if_ready`).

Why: at E = 1e4, F = 1 ``torch.segment_reduce(..., 'amax')`` leaves empty
segments at ``-inf``, and PyG's semantics (0 there) then cost a second
torch op (an ``index_fill_``) whose fixed cost alone (~3.5 us on the 2-core
VM of docs/scatter.md) is over 10 % of the call. One pass here gives the
extremum and the 0 of empty segments together, and its loop is about twice
as fast as torch's at F = 1. The segment sum/mean loops read each row once
in order (2-3x faster than ``index_add_`` on the sorted index at F >= 16,
one thread), and the gather loops replace ``torch.sparse.mm(..., 'amax')``,
which is slow at F = 1 (E = 1e4: 51 vs 85 us). The dispatcher takes them
only where a calibration measured them faster (:mod:`.dispatch`).

The entry points (:func:`segment`, :func:`gather`, :func:`scatter`) take
the *addresses* of C-contiguous ``src`` / ``x`` buffers and of a fresh
output (``Tensor.data_ptr()``), plus int64 numpy arrays of the CSR pointer
(and of the columns, or the scatter index): converting tensors to numpy
arrays and back (``Tensor.numpy()``, ``torch.from_numpy``) cost 5-7 us per
call right after another op had evicted the caches, half of the kernel's
own time. The
callers (:func:`pyg_ext.ops.functional._numba_segment_fn`,
:func:`~pyg_ext.ops.functional._numba_gather_fn` and
:func:`~pyg_ext.ops.functional._numba_scatter_fn`) guarantee what the loops
rely on: the dtype, contiguity and shapes of the tensors, a checked ``ptr``
(starts at 0, non-decreasing, ends at ``E``), columns in ``[0, M)`` and a
scatter index in ``[0, N)``,
which the loops read unchecked; the arrays are private copies.

Max/min semantics are those of ``torch.segment_reduce`` then 0 for empty
segments, bit for bit: a NaN in a segment is its result, and of equal
values (``-0.0`` and ``0.0``) the first one is kept. Sums add the entries
of a segment in order (float32 sums in float32); a mean divides the sum by
the count in the data's dtype; empty segments are 0.
"""

from __future__ import annotations

import numpy as np
from numba import carray, types
from numba.core import cgutils
from numba.extending import intrinsic

from pyg_ext.utils._numba_setup import njit


@intrinsic
def _voidptr(typingctx, addr):  # type: ignore[no-untyped-def]
    """An integer address as a ``void*`` (for ``numba.carray``)."""
    sig = types.voidptr(addr)

    def codegen(context, builder, signature, args):  # type: ignore
        return builder.inttoptr(args[0], cgutils.voidptr_t)
    return sig, codegen


@njit(cache=True, nogil=True)
def _max1(src, ptr, out):  # pragma: no cover - compiled
    for i in range(out.shape[0]):
        a = ptr[i]
        b = ptr[i + 1]
        if a == b:
            out[i] = 0
            continue
        m = src[a]
        for j in range(a + 1, b):
            v = src[j]
            # a NaN stays (NaN > v and v > NaN are both false)
            if v > m or v != v:
                m = v
        out[i] = m


@njit(cache=True, nogil=True)
def _min1(src, ptr, out):  # pragma: no cover - compiled
    for i in range(out.shape[0]):
        a = ptr[i]
        b = ptr[i + 1]
        if a == b:
            out[i] = 0
            continue
        m = src[a]
        for j in range(a + 1, b):
            v = src[j]
            if v < m or v != v:
                m = v
        out[i] = m


@njit(cache=True, nogil=True)
def _max2(src, ptr, out):  # pragma: no cover - compiled
    # ``np.maximum`` keeps its first argument on ties and NaN (the first
    # NaN stays, a later one replaces a number) and, unlike an ``if``,
    # compiles to a select that vectorises over the features (3x faster
    # at F = 16)
    F = out.shape[1]
    for i in range(out.shape[0]):
        a = ptr[i]
        b = ptr[i + 1]
        for f in range(F):
            out[i, f] = src[a, f] if a < b else 0
        for j in range(a + 1, b):
            for f in range(F):
                out[i, f] = np.maximum(out[i, f], src[j, f])


@njit(cache=True, nogil=True)
def _min2(src, ptr, out):  # pragma: no cover - compiled
    F = out.shape[1]
    for i in range(out.shape[0]):
        a = ptr[i]
        b = ptr[i + 1]
        for f in range(F):
            out[i, f] = src[a, f] if a < b else 0
        for j in range(a + 1, b):
            for f in range(F):
                out[i, f] = np.minimum(out[i, f], src[j, f])


@njit(cache=True, nogil=True)
def _sum1(src, ptr, out, mean, dv):  # pragma: no cover - compiled
    # entries in order (the sums of torch's sorted paths); ``dv`` is a
    # scratch of out's dtype, so that the count is divided in that dtype
    for i in range(out.shape[0]):
        a = ptr[i]
        b = ptr[i + 1]
        dv[0] = 0
        acc = dv[0]
        for j in range(a, b):
            acc += src[j]
        if mean and b > a:
            dv[0] = b - a
            acc = acc / dv[0]
        out[i] = acc


@njit(cache=True, nogil=True)
def _sum2(src, ptr, out, mean, dv):  # pragma: no cover - compiled
    F = out.shape[1]
    for i in range(out.shape[0]):
        a = ptr[i]
        b = ptr[i + 1]
        for f in range(F):
            out[i, f] = 0
        for j in range(a, b):
            for f in range(F):
                out[i, f] += src[j, f]
        if mean and b > a:
            dv[0] = b - a
            d = dv[0]
            for f in range(F):
                out[i, f] = out[i, f] / d


# the CSR gathers: out[i] = reduce_{j in [ptr[i], ptr[i+1])} x[col[j]]
# (``spmm_csr`` without weights); ``col`` checked in [0, len(x))

@njit(cache=True, nogil=True)
def _gsum1(x, ptr, col, out, mean, dv):  # pragma: no cover - compiled
    for i in range(out.shape[0]):
        a = ptr[i]
        b = ptr[i + 1]
        dv[0] = 0
        acc = dv[0]
        for j in range(a, b):
            acc += x[col[j]]
        if mean and b > a:
            dv[0] = b - a
            acc = acc / dv[0]
        out[i] = acc


@njit(cache=True, nogil=True)
def _gsum2(x, ptr, col, out, mean, dv):  # pragma: no cover - compiled
    F = out.shape[1]
    for i in range(out.shape[0]):
        a = ptr[i]
        b = ptr[i + 1]
        for f in range(F):
            out[i, f] = 0
        for j in range(a, b):
            c = col[j]
            for f in range(F):
                out[i, f] += x[c, f]
        if mean and b > a:
            dv[0] = b - a
            d = dv[0]
            for f in range(F):
                out[i, f] = out[i, f] / d


@njit(cache=True, nogil=True)
def _gmax1(x, ptr, col, out):  # pragma: no cover - compiled
    for i in range(out.shape[0]):
        a = ptr[i]
        b = ptr[i + 1]
        if a == b:
            out[i] = 0
            continue
        m = x[col[a]]
        for j in range(a + 1, b):
            v = x[col[j]]
            if v > m or v != v:
                m = v
        out[i] = m


@njit(cache=True, nogil=True)
def _gmin1(x, ptr, col, out):  # pragma: no cover - compiled
    for i in range(out.shape[0]):
        a = ptr[i]
        b = ptr[i + 1]
        if a == b:
            out[i] = 0
            continue
        m = x[col[a]]
        for j in range(a + 1, b):
            v = x[col[j]]
            if v < m or v != v:
                m = v
        out[i] = m


@njit(cache=True, nogil=True)
def _gmax2(x, ptr, col, out):  # pragma: no cover - compiled
    F = out.shape[1]
    for i in range(out.shape[0]):
        a = ptr[i]
        b = ptr[i + 1]
        if a == b:
            for f in range(F):
                out[i, f] = 0
            continue
        c = col[a]
        for f in range(F):
            out[i, f] = x[c, f]
        for j in range(a + 1, b):
            c = col[j]
            for f in range(F):
                out[i, f] = np.maximum(out[i, f], x[c, f])


@njit(cache=True, nogil=True)
def _gmin2(x, ptr, col, out):  # pragma: no cover - compiled
    F = out.shape[1]
    for i in range(out.shape[0]):
        a = ptr[i]
        b = ptr[i + 1]
        if a == b:
            for f in range(F):
                out[i, f] = 0
            continue
        c = col[a]
        for f in range(F):
            out[i, f] = x[c, f]
        for j in range(a + 1, b):
            c = col[j]
            for f in range(F):
                out[i, f] = np.minimum(out[i, f], x[c, f])


# the scatters: out[index[j]] (+)= src[j] over an unsorted ``index``
# checked in [0, N); ``scratch`` [N] of out's dtype (counts) or uint8

@njit(cache=True, nogil=True)
def _ssum(src, idx, out, mean, cnt):  # pragma: no cover - compiled
    F = out.shape[1]
    for i in range(out.shape[0]):
        for f in range(F):
            out[i, f] = 0
    for j in range(src.shape[0]):
        r = idx[j]
        for f in range(F):
            out[r, f] += src[j, f]
    if mean:
        for i in range(out.shape[0]):
            cnt[i] = 0
        for j in range(src.shape[0]):
            cnt[idx[j]] += 1
        for i in range(out.shape[0]):
            if cnt[i] > 1:
                d = cnt[i]
                for f in range(F):
                    out[i, f] = out[i, f] / d


@njit(cache=True, nogil=True)
def _smax(src, idx, out, seen, sign):  # pragma: no cover - compiled
    # sign > 0: max, else min (the branch is outside the feature loop)
    F = out.shape[1]
    for i in range(out.shape[0]):
        seen[i] = 0
    for j in range(src.shape[0]):
        r = idx[j]
        if seen[r] == 0:
            seen[r] = 1
            for f in range(F):
                out[r, f] = src[j, f]
        elif sign > 0:
            for f in range(F):
                out[r, f] = np.maximum(out[r, f], src[j, f])
        else:
            for f in range(F):
                out[r, f] = np.minimum(out[r, f], src[j, f])
    for i in range(out.shape[0]):
        if seen[i] == 0:
            for f in range(F):
                out[i, f] = 0


# the entry points, one per op, for both dtypes and every reduction:
# ``code`` is the reduction (:data:`CODES`), ``w`` an empty array of the
# data's dtype (it types the buffers: numba compiles one version per
# dtype). ``segment``: ``src`` / ``out`` are addresses of C-contiguous
# [E, F] / [N, F] buffers (E = ptr[-1], N = len(ptr) - 1); ``gather``:
# ``x`` / ``out`` of [M, F] / [N, F] buffers, ``col`` [E] int64 in
# [0, M); ``scatter``: ``src`` / ``out`` of [E, F] / [N, F] buffers,
# ``idx`` [E] int64 in [0, N)

#: reduction -> ``code`` of the entry points
CODES = {'sum': 0, 'mean': 1, 'max': 2, 'min': 3}
_MEAN, _MAX, _MIN = 1, 2, 3


@njit(cache=True, nogil=True)
def segment(src, out, ptr, F, code, w):  # pragma: no cover - compiled
    """Segment reduction of ``src`` by the CSR pointer ``ptr``."""
    n = ptr.shape[0] - 1
    if F == 1:
        s1 = carray(_voidptr(src), (ptr[n],), w.dtype)
        o1 = carray(_voidptr(out), (n,), w.dtype)
        if code == _MAX:
            _max1(s1, ptr, o1)
        elif code == _MIN:
            _min1(s1, ptr, o1)
        else:
            _sum1(s1, ptr, o1, code == _MEAN, np.empty(1, w.dtype))
    else:
        s2 = carray(_voidptr(src), (ptr[n], F), w.dtype)
        o2 = carray(_voidptr(out), (n, F), w.dtype)
        if code == _MAX:
            _max2(s2, ptr, o2)
        elif code == _MIN:
            _min2(s2, ptr, o2)
        else:
            _sum2(s2, ptr, o2, code == _MEAN, np.empty(1, w.dtype))


@njit(cache=True, nogil=True)
def gather(x, out, M, ptr, col, F, code, w):  # pragma: no cover
    """CSR gather-reduction of the rows of ``x`` (``spmm_csr`` without
    weights)."""
    n = ptr.shape[0] - 1
    if F == 1:
        x1 = carray(_voidptr(x), (M,), w.dtype)
        o1 = carray(_voidptr(out), (n,), w.dtype)
        if code == _MAX:
            _gmax1(x1, ptr, col, o1)
        elif code == _MIN:
            _gmin1(x1, ptr, col, o1)
        else:
            _gsum1(x1, ptr, col, o1, code == _MEAN, np.empty(1, w.dtype))
    else:
        x2 = carray(_voidptr(x), (M, F), w.dtype)
        o2 = carray(_voidptr(out), (n, F), w.dtype)
        if code == _MAX:
            _gmax2(x2, ptr, col, o2)
        elif code == _MIN:
            _gmin2(x2, ptr, col, o2)
        else:
            _gsum2(x2, ptr, col, o2, code == _MEAN, np.empty(1, w.dtype))


@njit(cache=True, nogil=True)
def scatter(src, out, idx, N, F, code, w):  # pragma: no cover - compiled
    """Scatter-reduction of the rows of ``src`` by an unsorted, checked
    index."""
    s = carray(_voidptr(src), (idx.shape[0], F), w.dtype)
    o = carray(_voidptr(out), (N, F), w.dtype)
    if code >= _MAX:
        _smax(s, idx, o, np.empty(N, np.uint8), 1 if code == _MAX else -1)
    else:
        _ssum(s, idx, o, code == _MEAN, np.empty(N, w.dtype))


_DTYPES = ('float32', 'float64')
#: (reduce, dtype name) -> entry point (one per op: the table is the
#: callers' lookup, they pass ``CODES[reduce]`` and a dtype witness)
KERNELS = {(r, d): segment for r in CODES for d in _DTYPES}
GATHER_KERNELS = {(r, d): gather for r in CODES for d in _DTYPES}
SCATTER_KERNELS = {(r, d): scatter for r in CODES for d in _DTYPES}


def warmup() -> None:
    """Compile (or load from the cache) every entry point for the argument
    types :mod:`pyg_ext.ops.functional` passes (int addresses and sizes,
    int64 pointer / column / index arrays, the reduction code, a dtype
    witness), both dtypes."""
    ptr = np.array([0, 1, 1, 3], dtype=np.int64)
    col = np.array([2, 0, 1], dtype=np.int64)
    for dtype in _DTYPES:
        w = np.empty(0, dtype=dtype)
        for F in (1, 2):
            src = np.zeros((3, F), dtype=dtype)
            out = np.empty((3, F), dtype=dtype)
            for code in CODES.values():
                segment(src.ctypes.data, out.ctypes.data, ptr, F, code, w)
                gather(src.ctypes.data, out.ctypes.data, 3, ptr, col, F,
                       code, w)
                scatter(src.ctypes.data, out.ctypes.data, col, 3, F, code,
                        w)
