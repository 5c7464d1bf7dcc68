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

The entry points (:func:`segment_max_f32`, :func:`gather_sum_f32` and their
siblings) take the *addresses* of C-contiguous ``src`` / ``x`` buffers and
of a fresh output (``Tensor.data_ptr()``), plus int64 numpy arrays of the
CSR pointer (and of the columns): converting tensors to numpy arrays and
back (``Tensor.numpy()``, ``torch.from_numpy``) cost 5-7 us per call right
after another op had evicted the caches, half of the kernel's own time. The
callers (:func:`pyg_ext.ops.functional._numba_segment_fn` and
:func:`~pyg_ext.ops.functional._numba_gather_fn`) guarantee what the loops
rely on: the dtype, contiguity and shapes of the tensors, a checked ``ptr``
(starts at 0, non-decreasing, ends at ``E``) and columns in ``[0, M)``,
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


# the entry points, one per (op, reduce, dtype). ``segment_*``: ``src`` /
# ``out`` are addresses of C-contiguous [E, F] / [N, F] buffers (E =
# ptr[-1], N = len(ptr) - 1); ``gather_*``: ``x`` / ``out`` of [M, F] /
# [N, F] buffers, ``col`` [E] int64 in [0, M); ``scatter_*``: ``src`` /
# ``out`` of [E, F] / [N, F] buffers, ``idx`` [E] int64 in [0, N)

@njit(cache=True, nogil=True)
def segment_max_f32(src, out, ptr, F):  # pragma: no cover - compiled
    """Segment max of float32 data (see the module docstring)."""
    n = ptr.shape[0] - 1
    if F == 1:
        _max1(carray(_voidptr(src), (ptr[n],), np.float32), ptr,
              carray(_voidptr(out), (n,), np.float32))
    else:
        _max2(carray(_voidptr(src), (ptr[n], F), np.float32), ptr,
              carray(_voidptr(out), (n, F), np.float32))

@njit(cache=True, nogil=True)
def segment_min_f32(src, out, ptr, F):  # pragma: no cover - compiled
    """Segment min of float32 data (see the module docstring)."""
    n = ptr.shape[0] - 1
    if F == 1:
        _min1(carray(_voidptr(src), (ptr[n],), np.float32), ptr,
              carray(_voidptr(out), (n,), np.float32))
    else:
        _min2(carray(_voidptr(src), (ptr[n], F), np.float32), ptr,
              carray(_voidptr(out), (n, F), np.float32))

@njit(cache=True, nogil=True)
def segment_sum_f32(src, out, ptr, F):  # pragma: no cover - compiled
    """Segment sum of float32 data (see the module docstring)."""
    n = ptr.shape[0] - 1
    dv = np.empty(1, np.float32)
    if F == 1:
        _sum1(carray(_voidptr(src), (ptr[n],), np.float32), ptr,
              carray(_voidptr(out), (n,), np.float32), False, dv)
    else:
        _sum2(carray(_voidptr(src), (ptr[n], F), np.float32), ptr,
              carray(_voidptr(out), (n, F), np.float32), False, dv)

@njit(cache=True, nogil=True)
def segment_mean_f32(src, out, ptr, F):  # pragma: no cover - compiled
    """Segment mean of float32 data (see the module docstring)."""
    n = ptr.shape[0] - 1
    dv = np.empty(1, np.float32)
    if F == 1:
        _sum1(carray(_voidptr(src), (ptr[n],), np.float32), ptr,
              carray(_voidptr(out), (n,), np.float32), True, dv)
    else:
        _sum2(carray(_voidptr(src), (ptr[n], F), np.float32), ptr,
              carray(_voidptr(out), (n, F), np.float32), True, dv)

@njit(cache=True, nogil=True)
def gather_max_f32(x, out, M, ptr, col, F):  # pragma: no cover
    """CSR gather-max of float32 rows (``spmm_csr`` without weights)."""
    n = ptr.shape[0] - 1
    if F == 1:
        _gmax1(carray(_voidptr(x), (M,), np.float32), ptr, col,
               carray(_voidptr(out), (n,), np.float32))
    else:
        _gmax2(carray(_voidptr(x), (M, F), np.float32), ptr, col,
               carray(_voidptr(out), (n, F), np.float32))

@njit(cache=True, nogil=True)
def gather_min_f32(x, out, M, ptr, col, F):  # pragma: no cover
    """CSR gather-min of float32 rows (``spmm_csr`` without weights)."""
    n = ptr.shape[0] - 1
    if F == 1:
        _gmin1(carray(_voidptr(x), (M,), np.float32), ptr, col,
               carray(_voidptr(out), (n,), np.float32))
    else:
        _gmin2(carray(_voidptr(x), (M, F), np.float32), ptr, col,
               carray(_voidptr(out), (n, F), np.float32))

@njit(cache=True, nogil=True)
def gather_sum_f32(x, out, M, ptr, col, F):  # pragma: no cover
    """CSR gather-sum of float32 rows (``spmm_csr`` without weights)."""
    n = ptr.shape[0] - 1
    dv = np.empty(1, np.float32)
    if F == 1:
        _gsum1(carray(_voidptr(x), (M,), np.float32), ptr, col,
               carray(_voidptr(out), (n,), np.float32), False, dv)
    else:
        _gsum2(carray(_voidptr(x), (M, F), np.float32), ptr, col,
               carray(_voidptr(out), (n, F), np.float32), False, dv)

@njit(cache=True, nogil=True)
def gather_mean_f32(x, out, M, ptr, col, F):  # pragma: no cover
    """CSR gather-mean of float32 rows (``spmm_csr`` without weights)."""
    n = ptr.shape[0] - 1
    dv = np.empty(1, np.float32)
    if F == 1:
        _gsum1(carray(_voidptr(x), (M,), np.float32), ptr, col,
               carray(_voidptr(out), (n,), np.float32), True, dv)
    else:
        _gsum2(carray(_voidptr(x), (M, F), np.float32), ptr, col,
               carray(_voidptr(out), (n, F), np.float32), True, dv)

@njit(cache=True, nogil=True)
def segment_max_f64(src, out, ptr, F):  # pragma: no cover - compiled
    """Segment max of float64 data (see the module docstring)."""
    n = ptr.shape[0] - 1
    if F == 1:
        _max1(carray(_voidptr(src), (ptr[n],), np.float64), ptr,
              carray(_voidptr(out), (n,), np.float64))
    else:
        _max2(carray(_voidptr(src), (ptr[n], F), np.float64), ptr,
              carray(_voidptr(out), (n, F), np.float64))

@njit(cache=True, nogil=True)
def segment_min_f64(src, out, ptr, F):  # pragma: no cover - compiled
    """Segment min of float64 data (see the module docstring)."""
    n = ptr.shape[0] - 1
    if F == 1:
        _min1(carray(_voidptr(src), (ptr[n],), np.float64), ptr,
              carray(_voidptr(out), (n,), np.float64))
    else:
        _min2(carray(_voidptr(src), (ptr[n], F), np.float64), ptr,
              carray(_voidptr(out), (n, F), np.float64))

@njit(cache=True, nogil=True)
def segment_sum_f64(src, out, ptr, F):  # pragma: no cover - compiled
    """Segment sum of float64 data (see the module docstring)."""
    n = ptr.shape[0] - 1
    dv = np.empty(1, np.float64)
    if F == 1:
        _sum1(carray(_voidptr(src), (ptr[n],), np.float64), ptr,
              carray(_voidptr(out), (n,), np.float64), False, dv)
    else:
        _sum2(carray(_voidptr(src), (ptr[n], F), np.float64), ptr,
              carray(_voidptr(out), (n, F), np.float64), False, dv)

@njit(cache=True, nogil=True)
def segment_mean_f64(src, out, ptr, F):  # pragma: no cover - compiled
    """Segment mean of float64 data (see the module docstring)."""
    n = ptr.shape[0] - 1
    dv = np.empty(1, np.float64)
    if F == 1:
        _sum1(carray(_voidptr(src), (ptr[n],), np.float64), ptr,
              carray(_voidptr(out), (n,), np.float64), True, dv)
    else:
        _sum2(carray(_voidptr(src), (ptr[n], F), np.float64), ptr,
              carray(_voidptr(out), (n, F), np.float64), True, dv)

@njit(cache=True, nogil=True)
def gather_max_f64(x, out, M, ptr, col, F):  # pragma: no cover
    """CSR gather-max of float64 rows (``spmm_csr`` without weights)."""
    n = ptr.shape[0] - 1
    if F == 1:
        _gmax1(carray(_voidptr(x), (M,), np.float64), ptr, col,
               carray(_voidptr(out), (n,), np.float64))
    else:
        _gmax2(carray(_voidptr(x), (M, F), np.float64), ptr, col,
               carray(_voidptr(out), (n, F), np.float64))

@njit(cache=True, nogil=True)
def gather_min_f64(x, out, M, ptr, col, F):  # pragma: no cover
    """CSR gather-min of float64 rows (``spmm_csr`` without weights)."""
    n = ptr.shape[0] - 1
    if F == 1:
        _gmin1(carray(_voidptr(x), (M,), np.float64), ptr, col,
               carray(_voidptr(out), (n,), np.float64))
    else:
        _gmin2(carray(_voidptr(x), (M, F), np.float64), ptr, col,
               carray(_voidptr(out), (n, F), np.float64))

@njit(cache=True, nogil=True)
def gather_sum_f64(x, out, M, ptr, col, F):  # pragma: no cover
    """CSR gather-sum of float64 rows (``spmm_csr`` without weights)."""
    n = ptr.shape[0] - 1
    dv = np.empty(1, np.float64)
    if F == 1:
        _gsum1(carray(_voidptr(x), (M,), np.float64), ptr, col,
               carray(_voidptr(out), (n,), np.float64), False, dv)
    else:
        _gsum2(carray(_voidptr(x), (M, F), np.float64), ptr, col,
               carray(_voidptr(out), (n, F), np.float64), False, dv)

@njit(cache=True, nogil=True)
def gather_mean_f64(x, out, M, ptr, col, F):  # pragma: no cover
    """CSR gather-mean of float64 rows (``spmm_csr`` without weights)."""
    n = ptr.shape[0] - 1
    dv = np.empty(1, np.float64)
    if F == 1:
        _gsum1(carray(_voidptr(x), (M,), np.float64), ptr, col,
               carray(_voidptr(out), (n,), np.float64), True, dv)
    else:
        _gsum2(carray(_voidptr(x), (M, F), np.float64), ptr, col,
               carray(_voidptr(out), (n, F), np.float64), True, dv)


@njit(cache=True, nogil=True)
def scatter_max_f32(src, out, idx, N, F):  # pragma: no cover
    """Scatter-max of float32 rows by an unsorted, checked index."""
    E = idx.shape[0]
    _smax(carray(_voidptr(src), (E, F), np.float32), idx,
          carray(_voidptr(out), (N, F), np.float32),
          np.empty(N, np.uint8), 1)

@njit(cache=True, nogil=True)
def scatter_min_f32(src, out, idx, N, F):  # pragma: no cover
    """Scatter-min of float32 rows by an unsorted, checked index."""
    E = idx.shape[0]
    _smax(carray(_voidptr(src), (E, F), np.float32), idx,
          carray(_voidptr(out), (N, F), np.float32),
          np.empty(N, np.uint8), -1)

@njit(cache=True, nogil=True)
def scatter_sum_f32(src, out, idx, N, F):  # pragma: no cover
    """Scatter-sum of float32 rows by an unsorted, checked index."""
    E = idx.shape[0]
    _ssum(carray(_voidptr(src), (E, F), np.float32), idx,
          carray(_voidptr(out), (N, F), np.float32),
          False, np.empty(N, np.float32))

@njit(cache=True, nogil=True)
def scatter_mean_f32(src, out, idx, N, F):  # pragma: no cover
    """Scatter-mean of float32 rows by an unsorted, checked index."""
    E = idx.shape[0]
    _ssum(carray(_voidptr(src), (E, F), np.float32), idx,
          carray(_voidptr(out), (N, F), np.float32),
          True, np.empty(N, np.float32))

@njit(cache=True, nogil=True)
def scatter_max_f64(src, out, idx, N, F):  # pragma: no cover
    """Scatter-max of float64 rows by an unsorted, checked index."""
    E = idx.shape[0]
    _smax(carray(_voidptr(src), (E, F), np.float64), idx,
          carray(_voidptr(out), (N, F), np.float64),
          np.empty(N, np.uint8), 1)

@njit(cache=True, nogil=True)
def scatter_min_f64(src, out, idx, N, F):  # pragma: no cover
    """Scatter-min of float64 rows by an unsorted, checked index."""
    E = idx.shape[0]
    _smax(carray(_voidptr(src), (E, F), np.float64), idx,
          carray(_voidptr(out), (N, F), np.float64),
          np.empty(N, np.uint8), -1)

@njit(cache=True, nogil=True)
def scatter_sum_f64(src, out, idx, N, F):  # pragma: no cover
    """Scatter-sum of float64 rows by an unsorted, checked index."""
    E = idx.shape[0]
    _ssum(carray(_voidptr(src), (E, F), np.float64), idx,
          carray(_voidptr(out), (N, F), np.float64),
          False, np.empty(N, np.float64))

@njit(cache=True, nogil=True)
def scatter_mean_f64(src, out, idx, N, F):  # pragma: no cover
    """Scatter-mean of float64 rows by an unsorted, checked index."""
    E = idx.shape[0]
    _ssum(carray(_voidptr(src), (E, F), np.float64), idx,
          carray(_voidptr(out), (N, F), np.float64),
          True, np.empty(N, np.float64))


#: (reduce, dtype name) -> ``segment`` entry point
KERNELS = {
    ('max', 'float32'): segment_max_f32,
    ('max', 'float64'): segment_max_f64,
    ('min', 'float32'): segment_min_f32,
    ('min', 'float64'): segment_min_f64,
    ('sum', 'float32'): segment_sum_f32,
    ('sum', 'float64'): segment_sum_f64,
    ('mean', 'float32'): segment_mean_f32,
    ('mean', 'float64'): segment_mean_f64}
#: (reduce, dtype name) -> CSR gather entry point
GATHER_KERNELS = {
    ('max', 'float32'): gather_max_f32,
    ('max', 'float64'): gather_max_f64,
    ('min', 'float32'): gather_min_f32,
    ('min', 'float64'): gather_min_f64,
    ('sum', 'float32'): gather_sum_f32,
    ('sum', 'float64'): gather_sum_f64,
    ('mean', 'float32'): gather_mean_f32,
    ('mean', 'float64'): gather_mean_f64}

#: (reduce, dtype name) -> ``scatter`` entry point
SCATTER_KERNELS = {
    ('max', 'float32'): scatter_max_f32,
    ('max', 'float64'): scatter_max_f64,
    ('min', 'float32'): scatter_min_f32,
    ('min', 'float64'): scatter_min_f64,
    ('sum', 'float32'): scatter_sum_f32,
    ('sum', 'float64'): scatter_sum_f64,
    ('mean', 'float32'): scatter_mean_f32,
    ('mean', 'float64'): scatter_mean_f64}


def warmup() -> None:
    """Compile (or load from the cache) every entry point for the argument
    types :mod:`pyg_ext.ops.functional` passes (int addresses and sizes,
    int64 pointer and column arrays)."""
    ptr = np.array([0, 1, 1, 3], dtype=np.int64)
    for (_, dtype), kernel in KERNELS.items():
        for F in (1, 2):
            src = np.zeros((3, F), dtype=dtype)
            out = np.empty((3, F), dtype=dtype)
            kernel(src.ctypes.data, out.ctypes.data, ptr, F)
    col = np.array([2, 0, 1], dtype=np.int64)
    for (_, dtype), kernel in GATHER_KERNELS.items():
        for F in (1, 2):
            x = np.zeros((3, F), dtype=dtype)
            out = np.empty((3, F), dtype=dtype)
            kernel(x.ctypes.data, out.ctypes.data, 3, ptr, col, F)
    for (_, dtype), kernel in SCATTER_KERNELS.items():
        for F in (1, 2):
            src = np.zeros((3, F), dtype=dtype)
            out = np.empty((3, F), dtype=dtype)
            kernel(src.ctypes.data, out.ctypes.data, col, 3, F)
