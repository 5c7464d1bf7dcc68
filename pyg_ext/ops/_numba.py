"""Optional numba kernels of the CPU ``segment`` max/min (imported only when
numba is installed, in the background: see
:func:`pyg_ext.utils._numba_setup.kernels_if_ready`).

Why: at E = 1e4, F = 1 ``torch.segment_reduce(..., 'amax')`` leaves empty
segments at ``-inf``, and PyG's semantics (0 there) then cost a second
torch op (an ``index_fill_``) whose fixed cost alone (~3.5 us on the 2-core
VM of docs/scatter.md) is over 10 % of the call. One pass here gives the
extremum and the 0 of empty segments together, and its loop is about twice
as fast as torch's at F = 1.

The entry points (:func:`segment_max_f32` and its siblings) take the
*addresses* of a C-contiguous ``src`` ``[E, F]`` and of a fresh output
``[N, F]`` (``Tensor.data_ptr()``), plus the int64 CSR pointer as a numpy
array: converting tensors to numpy arrays and back (``Tensor.numpy()``,
``torch.from_numpy``) cost 5-7 us per call right after another op had
evicted the caches, half of the kernel's own time. The caller
(:func:`pyg_ext.ops.functional._numba_segment_fn`) guarantees what the
loops rely on: the dtype, contiguity and shapes of both tensors, and a
checked ``ptr`` (starts at 0, non-decreasing, ends at ``E``), which the
loops read unchecked.

Semantics are those of ``torch.segment_reduce`` then 0 for empty
segments, bit for bit: a segment's first NaN is its result, and of equal
values (``-0.0`` and ``0.0``) the first one is kept.
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
    F = out.shape[1]
    for i in range(out.shape[0]):
        a = ptr[i]
        b = ptr[i + 1]
        for f in range(F):
            out[i, f] = src[a, f] if a < b else 0
        for j in range(a + 1, b):
            for f in range(F):
                v = src[j, f]
                if v > out[i, f] or v != v:
                    out[i, f] = v


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
                v = src[j, f]
                if v < out[i, f] or v != v:
                    out[i, f] = v


# the entry points, one per (reduce, dtype): ``src``/``out`` are addresses
# of C-contiguous [E, F] / [N, F] buffers (E = ptr[-1], N = len(ptr) - 1)

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
def segment_max_f64(src, out, ptr, F):  # pragma: no cover - compiled
    """Segment max of float64 data."""
    n = ptr.shape[0] - 1
    if F == 1:
        _max1(carray(_voidptr(src), (ptr[n],), np.float64), ptr,
              carray(_voidptr(out), (n,), np.float64))
    else:
        _max2(carray(_voidptr(src), (ptr[n], F), np.float64), ptr,
              carray(_voidptr(out), (n, F), np.float64))


@njit(cache=True, nogil=True)
def segment_min_f32(src, out, ptr, F):  # pragma: no cover - compiled
    """Segment min of float32 data."""
    n = ptr.shape[0] - 1
    if F == 1:
        _min1(carray(_voidptr(src), (ptr[n],), np.float32), ptr,
              carray(_voidptr(out), (n,), np.float32))
    else:
        _min2(carray(_voidptr(src), (ptr[n], F), np.float32), ptr,
              carray(_voidptr(out), (n, F), np.float32))


@njit(cache=True, nogil=True)
def segment_min_f64(src, out, ptr, F):  # pragma: no cover - compiled
    """Segment min of float64 data."""
    n = ptr.shape[0] - 1
    if F == 1:
        _min1(carray(_voidptr(src), (ptr[n],), np.float64), ptr,
              carray(_voidptr(out), (n,), np.float64))
    else:
        _min2(carray(_voidptr(src), (ptr[n], F), np.float64), ptr,
              carray(_voidptr(out), (n, F), np.float64))


#: (reduce, dtype name) -> entry point
KERNELS = {('max', 'float32'): segment_max_f32,
           ('max', 'float64'): segment_max_f64,
           ('min', 'float32'): segment_min_f32,
           ('min', 'float64'): segment_min_f64}


def warmup() -> None:
    """Compile (or load from the cache) every entry point for the argument
    types :mod:`pyg_ext.ops.functional` passes (two int addresses, an
    int64 pointer array, an int)."""
    ptr = np.array([0, 1, 1, 3], dtype=np.int64)
    for (_, dtype), kernel in KERNELS.items():
        for F in (1, 2):
            src = np.zeros((3, F), dtype=dtype)
            out = np.empty((3, F), dtype=dtype)
            kernel(src.ctypes.data, out.ctypes.data, ptr, F)
