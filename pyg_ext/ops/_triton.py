"""Triton kernels and their launchers (imported lazily, never at
``import pyg_ext`` time).

Kernels
-------
* :func:`segment_csr_triton` - reduction of sorted rows (CSR), optionally
  gathering ``x[col[e]] * w[e]`` instead of reading ``src[e]`` (fused SpMM).
  **Edge-balanced**: program ``c`` owns edges ``[c*B, (c+1)*B)`` whatever the
  rows, so a hub row is split over many programs. Inside a chunk a segmented
  ``tl.associative_scan`` reduces every row; rows that lie wholly in the chunk
  are written directly, the (at most two) rows cut by the chunk's borders
  leave a partial in a ``[C, 2, F]`` scratch buffer, and a second kernel
  combines the partials of each cut row in chunk order. No atomics, so the
  result is **bitwise deterministic**. The second kernel also writes the fill
  value (0) into empty rows.
* :func:`scatter_atomic_triton` - unsorted scatter with ``tl.atomic_add`` /
  ``atomic_max`` / ``atomic_min`` into an fp32 (fp64 for fp64) buffer; not
  deterministic for ``sum``/``mean`` (float addition order).

All offsets are int64, so tensors beyond 2^31 elements are addressed
correctly. 16-bit inputs accumulate in fp32.

**Memory safety.** Every load and store through an id read from memory
(``row``, ``col``, ``index``, ``rowptr``) is masked by ``0 <= id < size``,
so ids out of range never touch memory outside the tensors, even when the
public ops skip their range check (``check=False``): an entry with a bad
output id (``row``, ``index``) is dropped, a bad input id (``col``) reads
as 0, and rows that only bad entries reach are unspecified, but nothing is
corrupted. The public ops in :mod:`pyg_ext.ops.functional` validate ids
before calling these launchers.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import triton
import triton.language as tl

REDUCE_CODES = {'sum': 0, 'mean': 1, 'max': 2, 'min': 3}

INTERPRET = os.environ.get('TRITON_INTERPRET', '0') == '1'


@triton.jit
def _seg_sum_combine(a, fa, b, fb):
    return tl.where(fb != 0, b, a + b), fa | fb


@triton.jit
def _seg_max_combine(a, fa, b, fb):
    return tl.where(fb != 0, b, tl.maximum(a, b)), fa | fb


@triton.jit
def _seg_min_combine(a, fa, b, fb):
    return tl.where(fb != 0, b, tl.minimum(a, b)), fa | fb


@triton.jit
def _combine(a, b, REDUCE: tl.constexpr):
    if REDUCE == 2:
        r = tl.maximum(a, b)
    elif REDUCE == 3:
        r = tl.minimum(a, b)
    else:
        r = a + b
    return r


@triton.jit
def _edge_tile(src_ptr, col_ptr, w_ptr, offs_e, mask_e, offs_f, mask_f, M,
               stride_src, GATHER: tl.constexpr, HAS_W: tl.constexpr,
               ACC: tl.constexpr):
    """The ``[edges, features]`` values of a tile of edges: ``src[e]`` or
    ``x[col[e]]`` (``GATHER``; a ``col`` outside ``[0, M)`` reads 0), times
    ``w[e]`` (``HAS_W``), 0 where masked, in ``ACC``."""
    m2 = mask_e[:, None] & mask_f[None, :]
    if GATHER:
        col = tl.load(col_ptr + offs_e, mask=mask_e, other=0).to(tl.int64)
        col_ok = (col >= 0) & (col < M)
        col = tl.where(col_ok, col, 0)
        ptrs = src_ptr + col[:, None] * stride_src + offs_f[None, :]
        v = tl.load(ptrs, mask=m2 & col_ok[:, None], other=0.0).to(ACC)
    else:
        ptrs = src_ptr + offs_e[:, None] * stride_src + offs_f[None, :]
        v = tl.load(ptrs, mask=m2, other=0.0).to(ACC)
    if HAS_W:
        w = tl.load(w_ptr + offs_e, mask=mask_e, other=0.0).to(ACC)
        v = v * w[:, None]
    return v


@triton.jit
def _segment_chunk_kernel(
    src_ptr, col_ptr, w_ptr, row_ptr, rowptr_ptr, out_ptr, part_ptr,
    E, N, M, F, stride_src, stride_out,
    REDUCE: tl.constexpr, GATHER: tl.constexpr, HAS_W: tl.constexpr,
    BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr,
    ACC: tl.constexpr,
):
    c = tl.cast(tl.program_id(0), tl.int64)
    fb = tl.cast(tl.program_id(1), tl.int64)
    e0 = c * BLOCK_E
    offs_e = e0 + tl.arange(0, BLOCK_E).to(tl.int64)
    mask_e = offs_e < E
    offs_f = fb * BLOCK_F + tl.arange(0, BLOCK_F).to(tl.int64)
    mask_f = offs_f < F

    row = tl.load(row_ptr + offs_e, mask=mask_e, other=-1).to(tl.int64)
    # ids outside [0, N) are never used as addresses (see module docstring)
    row_ok = mask_e & (row >= 0) & (row < N)
    row_a = tl.where(row_ok, row, 0)  # the row as an address
    row_prev = tl.load(row_ptr + offs_e - 1, mask=mask_e & (offs_e > 0),
                       other=-3).to(tl.int64)
    row_next = tl.load(row_ptr + offs_e + 1, mask=(offs_e + 1) < E,
                       other=-2).to(tl.int64)
    e_last = tl.minimum(e0 + BLOCK_E, E) - 1
    # chunk borders: which rows are cut by them
    r_first = tl.load(row_ptr + e0).to(tl.int64)
    r_before = tl.load(row_ptr + e0 - 1, mask=e0 > 0, other=-3).to(tl.int64)
    r_last = tl.load(row_ptr + e_last).to(tl.int64)
    r_after = tl.load(row_ptr + e_last + 1, mask=(e_last + 1) < E,
                      other=-2).to(tl.int64)

    v = _edge_tile(src_ptr, col_ptr, w_ptr, offs_e, mask_e, offs_f, mask_f,
                   M, stride_src, GATHER, HAS_W, ACC)

    start = (row != row_prev) | (offs_e == e0)
    flag = tl.broadcast_to(start.to(tl.int32)[:, None], (BLOCK_E, BLOCK_F))
    if REDUCE == 2:
        acc, _ = tl.associative_scan((v, flag), 0, _seg_max_combine)
    elif REDUCE == 3:
        acc, _ = tl.associative_scan((v, flag), 0, _seg_min_combine)
    else:
        acc, _ = tl.associative_scan((v, flag), 0, _seg_sum_combine)

    seg_end = ((row_next != row) | (offs_e == e_last)) & mask_e
    # (row == r_first) & (r_first == r_before), written elementwise
    first_part = (row == r_first) & (row == r_before)
    last_part = (row == r_last) & (row == r_after) & ~first_part
    complete = seg_end & ~first_part & ~last_part & row_ok

    res = acc
    if REDUCE == 1:
        lo = tl.load(rowptr_ptr + row_a, mask=complete, other=0)
        hi = tl.load(rowptr_ptr + row_a + 1, mask=complete, other=1)
        cnt = tl.maximum(hi - lo, 1).to(ACC)
        res = acc / cnt[:, None]
    out_ptrs = out_ptr + row_a[:, None] * stride_out + offs_f[None, :]
    tl.store(out_ptrs, res.to(out_ptr.dtype.element_ty),
             mask=complete[:, None] & mask_f[None, :])
    # partials: slot 0 = continuation of a row from earlier chunks,
    # slot 1 = a row that starts here and continues
    p0 = part_ptr + (c * 2) * F + offs_f
    p1 = part_ptr + (c * 2 + 1) * F + offs_f
    sel0 = (seg_end & first_part)[:, None] & mask_f[None, :]
    sel1 = (seg_end & last_part)[:, None] & mask_f[None, :]
    tl.store(p0[None, :] + tl.zeros_like(row)[:, None], acc, mask=sel0)
    tl.store(p1[None, :] + tl.zeros_like(row)[:, None], acc, mask=sel1)


@triton.jit
def _segment_rows_kernel(
    src_ptr, col_ptr, w_ptr, row_ptr, rowptr_ptr, out_ptr, part_ptr,
    E, N, M, F, stride_src, stride_out,
    REDUCE: tl.constexpr, GATHER: tl.constexpr, HAS_W: tl.constexpr,
    BLOCK_E: tl.constexpr, TILE_E: tl.constexpr, BLOCK_F: tl.constexpr,
    ACC: tl.constexpr,
):
    # the same chunks, outputs and partial slots as _segment_chunk_kernel,
    # but each row piece of the chunk is reduced by a loop of TILE_E-row
    # tiles and a tl.sum/max/min along the edges, instead of a segmented
    # scan over the whole chunk
    c = tl.cast(tl.program_id(0), tl.int64)
    fb = tl.cast(tl.program_id(1), tl.int64)
    e0 = c * BLOCK_E
    e_end = tl.minimum(e0 + BLOCK_E, E)  # exclusive
    offs_f = fb * BLOCK_F + tl.arange(0, BLOCK_F).to(tl.int64)
    mask_f = offs_f < F
    # rows of the chunk, clamped to [0, N) (never an address outside
    # rowptr); with a valid, consistent row/rowptr the clamp changes nothing
    r_first = tl.load(row_ptr + e0).to(tl.int64)
    r_last = tl.load(row_ptr + e_end - 1).to(tl.int64)
    r_first = tl.minimum(tl.maximum(r_first, 0), N - 1)
    r_last = tl.minimum(tl.maximum(r_last, r_first), N - 1)
    if REDUCE == 2:
        neutral = float('-inf')
    elif REDUCE == 3:
        neutral = float('inf')
    else:
        neutral = 0.0
    lo = tl.load(rowptr_ptr + r_first).to(tl.int64)
    for r in range(r_first, r_last + 1):
        rr = tl.cast(r, tl.int64)
        hi = tl.load(rowptr_ptr + rr + 1).to(tl.int64)
        a = tl.maximum(lo, e0)
        b = tl.minimum(hi, e_end)
        acc = tl.full((BLOCK_F,), neutral, ACC)
        for k in range(a, b, TILE_E):
            offs_e = tl.cast(k, tl.int64) + tl.arange(0, TILE_E).to(tl.int64)
            m_e = offs_e < b
            m2 = m_e[:, None] & mask_f[None, :]
            v = _edge_tile(src_ptr, col_ptr, w_ptr, offs_e, m_e, offs_f,
                           mask_f, M, stride_src, GATHER, HAS_W, ACC)
            if REDUCE == 2:
                acc = tl.maximum(acc, tl.max(tl.where(m2, v, neutral), 0))
            elif REDUCE == 3:
                acc = tl.minimum(acc, tl.min(tl.where(m2, v, neutral), 0))
            else:
                acc = acc + tl.sum(v, 0)
        if b > a:
            if lo < e0:  # continues a row of earlier chunks: slot 0
                tl.store(part_ptr + (c * 2) * F + offs_f, acc, mask=mask_f)
            elif hi > e_end:  # starts here, continues: slot 1
                tl.store(part_ptr + (c * 2 + 1) * F + offs_f, acc,
                         mask=mask_f)
            else:
                res = acc
                if REDUCE == 1:
                    res = acc / tl.maximum(hi - lo, 1).to(ACC)
                tl.store(out_ptr + rr * stride_out + offs_f,
                         res.to(out_ptr.dtype.element_ty), mask=mask_f)
        lo = hi


@triton.jit
def _segment_tiles_kernel(
    src_ptr, col_ptr, w_ptr, row_ptr, rowptr_ptr, out_ptr, part_ptr,
    E, N, M, F, stride_src, stride_out,
    REDUCE: tl.constexpr, GATHER: tl.constexpr, HAS_W: tl.constexpr,
    BLOCK_E: tl.constexpr, TILE_E: tl.constexpr, BLOCK_F: tl.constexpr,
    ACC: tl.constexpr,
):
    # the same chunks, outputs and partial slots as _segment_chunk_kernel,
    # but the chunk is walked in tiles of TILE_E edges: a segmented scan
    # over each small tile (cheap when the tile's edges sit in few warps)
    # and the running row's value carried from tile to tile
    c = tl.cast(tl.program_id(0), tl.int64)
    fb = tl.cast(tl.program_id(1), tl.int64)
    e0 = c * BLOCK_E
    e_end = tl.minimum(e0 + BLOCK_E, E)  # exclusive
    offs_f = fb * BLOCK_F + tl.arange(0, BLOCK_F).to(tl.int64)
    mask_f = offs_f < F
    r_first = tl.load(row_ptr + e0).to(tl.int64)
    r_before = tl.load(row_ptr + e0 - 1, mask=e0 > 0, other=-3).to(tl.int64)
    r_last = tl.load(row_ptr + e_end - 1).to(tl.int64)
    r_after = tl.load(row_ptr + e_end, mask=e_end < E,
                      other=-2).to(tl.int64)
    if REDUCE == 2:
        neutral = float('-inf')
    elif REDUCE == 3:
        neutral = float('inf')
    else:
        neutral = 0.0
    carry = tl.full((BLOCK_F,), neutral, ACC)
    carry_row = r_first * 0 - 5  # no row yet
    p0 = part_ptr + (c * 2) * F + offs_f
    p1 = part_ptr + (c * 2 + 1) * F + offs_f
    for t in range(e0, e_end, TILE_E):
        tt = tl.cast(t, tl.int64)
        offs_e = tt + tl.arange(0, TILE_E).to(tl.int64)
        mask_e = offs_e < e_end
        row = tl.load(row_ptr + offs_e, mask=mask_e, other=-1).to(tl.int64)
        row_ok = mask_e & (row >= 0) & (row < N)
        row_a = tl.where(row_ok, row, 0)
        row_prev = tl.load(row_ptr + offs_e - 1, mask=mask_e & (offs_e > tt),
                           other=-3).to(tl.int64)
        row_next = tl.load(row_ptr + offs_e + 1,
                           mask=(offs_e + 1) < e_end, other=-2).to(tl.int64)
        v = _edge_tile(src_ptr, col_ptr, w_ptr, offs_e, mask_e, offs_f,
                       mask_f, M, stride_src, GATHER, HAS_W, ACC)
        start = (row != row_prev) | (offs_e == tt)
        flag = tl.broadcast_to(start.to(tl.int32)[:, None],
                               (TILE_E, BLOCK_F))
        if REDUCE == 2:
            acc, _ = tl.associative_scan((v, flag), 0, _seg_max_combine)
        elif REDUCE == 3:
            acc, _ = tl.associative_scan((v, flag), 0, _seg_min_combine)
        else:
            acc, _ = tl.associative_scan((v, flag), 0, _seg_sum_combine)
        # the tile's leading segment continues the carried row (sorted
        # rows: the edges of carry_row in this tile are exactly those)
        cont = (row == carry_row) & mask_e
        acc = tl.where(cont[:, None], _combine(acc, carry[None, :], REDUCE),
                       acc)
        seg_end = ((row_next != row) | (offs_e == e_end - 1)) & mask_e
        # cut rows, written elementwise (a scalar & a block is not
        # portable to the interpreter)
        first_part = (row == r_first) & (row == r_before)
        last_part = (row == r_last) & (row == r_after) & ~first_part
        complete = seg_end & ~first_part & ~last_part & row_ok
        res = acc
        if REDUCE == 1:
            # the count from rowptr (NVIDIA H200, headline case: 78 % of
            # the copy bandwidth; counting in the kernel with a 1-D running
            # max of segment starts: 66 %)
            lo = tl.load(rowptr_ptr + row_a, mask=complete, other=0)
            hi = tl.load(rowptr_ptr + row_a + 1, mask=complete, other=1)
            cnt = tl.maximum(hi - lo, 1).to(ACC)
            res = acc / cnt[:, None]
        tl.store(out_ptr + row_a[:, None] * stride_out + offs_f[None, :],
                 res.to(out_ptr.dtype.element_ty),
                 mask=complete[:, None] & mask_f[None, :])
        sel0 = (seg_end & first_part)[:, None] & mask_f[None, :]
        sel1 = (seg_end & last_part)[:, None] & mask_f[None, :]
        zero_e = tl.zeros_like(row)[:, None]
        tl.store(p0[None, :] + zero_e, acc, mask=sel0)
        tl.store(p1[None, :] + zero_e, acc, mask=sel1)
        # the value and row of the tile's last edge go on
        t_last = tl.minimum(tt + TILE_E, e_end) - 1
        is_last = (offs_e == t_last)[:, None]
        carry = tl.sum(tl.where(is_last, acc, 0.0), 0)
        carry_row = tl.load(row_ptr + t_last).to(tl.int64)


@triton.jit
def _segment_fixup_kernel(
    row_ptr, rowptr_ptr, out_ptr, part_ptr,
    E, N, F, C, stride_out,
    REDUCE: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr,
    BLOCK_R: tl.constexpr, ACC: tl.constexpr,
):
    pid = tl.cast(tl.program_id(0), tl.int64)
    fb = tl.cast(tl.program_id(1), tl.int64)
    offs_f = fb * BLOCK_F + tl.arange(0, BLOCK_F).to(tl.int64)
    mask_f = offs_f < F
    if pid < C:
        c = pid
        e0 = c * BLOCK_E
        e_last = tl.minimum(e0 + BLOCK_E, E) - 1
        r_first = tl.load(row_ptr + e0).to(tl.int64)
        r_before = tl.load(row_ptr + e0 - 1, mask=e0 > 0,
                           other=-3).to(tl.int64)
        r_last = tl.load(row_ptr + e_last).to(tl.int64)
        r_after = tl.load(row_ptr + e_last + 1, mask=(e_last + 1) < E,
                          other=-2).to(tl.int64)
        cut_start = r_before == r_first
        cut_end = r_after == r_last
        owner = cut_end & ~(cut_start & (r_first == r_last))
        # an id outside [0, N) owns nothing (never used as an address)
        owner = owner & (r_last >= 0) & (r_last < N)
        if owner:
            r = r_last
            lo = tl.load(rowptr_ptr + r).to(tl.int64)
            hi = tl.load(rowptr_ptr + r + 1).to(tl.int64)
            acc = tl.load(part_ptr + (c * 2 + 1) * F + offs_f, mask=mask_f,
                          other=0.0).to(ACC)
            # partials exist for chunks < C only, whatever rowptr says
            k_end = tl.minimum((hi - 1) // BLOCK_E, C - 1)
            for k in range(c + 1, k_end + 1):
                kk = tl.cast(k, tl.int64)
                p = tl.load(part_ptr + (kk * 2) * F + offs_f, mask=mask_f,
                            other=0.0).to(ACC)
                acc = _combine(acc, p, REDUCE)
            if REDUCE == 1:
                acc = acc / tl.maximum(hi - lo, 1).to(ACC)
            tl.store(out_ptr + r * stride_out + offs_f,
                     acc.to(out_ptr.dtype.element_ty), mask=mask_f)
    else:
        rows = (pid - C) * BLOCK_R + tl.arange(0, BLOCK_R).to(tl.int64)
        mask_r = rows < N
        lo = tl.load(rowptr_ptr + rows, mask=mask_r, other=0)
        hi = tl.load(rowptr_ptr + rows + 1, mask=mask_r, other=0)
        empty = mask_r & (hi == lo)
        zero = tl.zeros((BLOCK_R, BLOCK_F), dtype=out_ptr.dtype.element_ty)
        tl.store(out_ptr + rows[:, None] * stride_out + offs_f[None, :], zero,
                 mask=empty[:, None] & mask_f[None, :])


@triton.jit
def _scatter_atomic_kernel(
    src_ptr, idx_ptr, out_ptr, cnt_ptr, E, N, F, stride_src,
    REDUCE: tl.constexpr, COUNT: tl.constexpr,
    BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr, ACC: tl.constexpr,
):
    pe = tl.cast(tl.program_id(0), tl.int64)
    fb = tl.cast(tl.program_id(1), tl.int64)
    offs_e = pe * BLOCK_E + tl.arange(0, BLOCK_E).to(tl.int64)
    mask_e = offs_e < E
    offs_f = fb * BLOCK_F + tl.arange(0, BLOCK_F).to(tl.int64)
    mask_f = offs_f < F
    m2 = mask_e[:, None] & mask_f[None, :]
    idx = tl.load(idx_ptr + offs_e, mask=mask_e, other=0).to(tl.int64)
    # ids outside [0, N) are dropped, never used as addresses
    idx_ok = mask_e & (idx >= 0) & (idx < N)
    idx = tl.where(idx_ok, idx, 0)
    m2 = m2 & idx_ok[:, None]
    v = tl.load(src_ptr + offs_e[:, None] * stride_src + offs_f[None, :],
                mask=m2, other=0.0).to(ACC)
    optrs = out_ptr + idx[:, None] * F + offs_f[None, :]
    if REDUCE == 2:
        tl.atomic_max(optrs, v, mask=m2, sem='relaxed')
    elif REDUCE == 3:
        tl.atomic_min(optrs, v, mask=m2, sem='relaxed')
    else:
        tl.atomic_add(optrs, v, mask=m2, sem='relaxed')
    if COUNT:
        if fb == 0:
            ones = tl.full((BLOCK_E,), 1, tl.int32)
            tl.atomic_add(cnt_ptr + idx, ones, mask=idx_ok, sem='relaxed')


# ---------------------------------------------------------------- launchers

def _acc_dtype(dtype: torch.dtype) -> Any:
    return tl.float64 if dtype == torch.float64 else tl.float32


def _torch_acc(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def block_f(F: int) -> int:
    """Features per program: the next power of two of ``F``, at most 64."""
    return min(max(triton.next_power_of_2(F), 1), 64)


def segment_config(F: int, E: int) -> tuple[int, int, int]:
    """``(BLOCK_E, BLOCK_F, num_warps)`` for the chunk kernel."""
    if INTERPRET:  # few, wide programs: the interpreter pays per program
        bf = block_f(F)
        return 64, bf, 4
    if 'scan' in TUNED:
        return scaled_config('scan', F, *TUNED['scan'])  # type: ignore[return-value]
    bf = block_f(F)
    be = max(32, min(4096 // bf, 1024))
    return be, bf, 4


#: the segment kernel ``segment_csr_triton`` runs by default: ``'scan'``
#: (:func:`_segment_chunk_kernel`, a segmented scan per chunk), ``'rows'``
#: (:func:`_segment_rows_kernel`, a loop over the row pieces of each chunk)
#: or ``'tiles'`` (:func:`_segment_tiles_kernel`, a segmented scan per
#: small tile with the running row carried along the chunk);
#: ``PYG_EXT_SEGMENT_KERNEL`` sets it; ``None`` (the default) takes
#: ``'tiles'``, or ``'scan'`` for a single feature column. Measured on an
#: NVIDIA H200 (``examples/gpu_check.py``, E = 1e7, degree 10, F = 64,
#: power-law, fp32; docs/scatter.md): ``'tiles'`` 0.79 ms (84 % of the copy
#: bandwidth), ``'scan'`` 1.69-3.37 ms, ``'rows'`` 2.0-7.0 ms; at F = 1
#: ``'scan'`` 0.145 ms against 0.19 ms.
SEGMENT_KERNEL: str | None = os.environ.get('PYG_EXT_SEGMENT_KERNEL')
SEGMENT_KERNELS = ('scan', 'rows', 'tiles')

#: per-kernel configuration overrides set by a tuning run (``kernel ->
#: (BLOCK_E, TILE_E, num_warps)`` at 64 features, adapted to narrower
#: feature blocks by :func:`scaled_config`); empty means the built-in
#: defaults below
TUNED: dict[str, tuple[int, int, int]] = {}


def scaled_config(kernel: str, F: int, be: int, te: int, nw: int
                  ) -> tuple[int, ...]:
    """The launch configuration of ``kernel`` for ``F`` features from a
    64-feature ``(BLOCK_E, TILE_E, num_warps)``: ``'scan'`` keeps the
    elements of its chunk (``(BLOCK_E, BLOCK_F, num_warps)``, ``TILE_E``
    unused), ``'rows'`` those of its tile, ``'tiles'`` those of its tile
    (within ``[TILE_E, 1024]`` edges) and the edges of its chunk, so as
    many programs (``(BLOCK_E, TILE_E, BLOCK_F, num_warps)``)."""
    bf = block_f(F)
    k = 64 // bf
    if kernel == 'scan':
        return max(32, min(be * k, 1024)), bf, nw
    if kernel == 'rows':
        return be, max(8, min(te * k, 64)), bf, nw
    te2 = triton.next_power_of_2(max(te, min(te * k, 1024)))
    return max(be, te2), te2, bf, nw


def rows_config(F: int) -> tuple[int, int, int, int]:
    """``(BLOCK_E, TILE_E, BLOCK_F, num_warps)`` of the ``'rows'`` kernel:
    chunks of ``BLOCK_E`` edges, tiles of ``TILE_E`` edges."""
    bf = block_f(F)
    if INTERPRET:
        return 64, 16, bf, 4
    if 'rows' in TUNED:
        return scaled_config('rows', F, *TUNED['rows'])  # type: ignore[return-value]
    return 2048, max(8, min(1024 // bf, 64)), bf, 4


def tiles_config(F: int) -> tuple[int, int, int, int]:
    """``(BLOCK_E, TILE_E, BLOCK_F, num_warps)`` of the ``'tiles'``
    kernel: chunks of ``BLOCK_E`` edges walked in tiles of ``TILE_E``."""
    bf = block_f(F)
    if INTERPRET:
        return 64, 16, bf, 4
    # NVIDIA H200, F = 64: (1024, 32, 1) 0.79 ms; (1024, 16, 1) 1.32 ms,
    # (1024, 32, 2) 2.55 ms, (4096, 64, 4) 3.62 ms (docs/scatter.md)
    return scaled_config('tiles', F,  # type: ignore[return-value]
                         *TUNED.get('tiles', (1024, 32, 1)))


def scatter_config(F: int) -> tuple[int, int, int]:
    """``(BLOCK_E, BLOCK_F, num_warps)`` for the atomic kernel."""
    bf = block_f(F)
    if INTERPRET:
        return 64, bf, 4
    return max(16, min(2048 // bf, 512)), bf, 4


def segment_csr_triton(src: torch.Tensor, row: torch.Tensor,
                       rowptr: torch.Tensor, reduce: str,
                       col: torch.Tensor | None = None,
                       weight: torch.Tensor | None = None,
                       config: tuple[int, ...] | None = None,
                       kernel: str | None = None) -> torch.Tensor:
    """Reduce sorted rows. ``src`` is ``[E, F]`` (or ``[M, F]`` node
    features with ``col`` given), ``row`` the sorted ``[E]`` row of each
    edge, ``rowptr`` the ``[N + 1]`` CSR pointer consistent with ``row``.
    Returns ``[N, F]`` in ``src.dtype``; empty rows are 0.

    ``kernel`` is ``'scan'``, ``'rows'`` or ``'tiles'`` (default
    :data:`SEGMENT_KERNEL`); ``config`` is ``(BLOCK_E, BLOCK_F, num_warps)``
    for ``'scan'`` and ``(BLOCK_E, TILE_E, BLOCK_F, num_warps)`` for
    ``'rows'`` and ``'tiles'`` (defaults :func:`segment_config`,
    :func:`rows_config`, :func:`tiles_config`).

    Ids are not range-checked here (the public ops do that), but the
    kernels mask every access by them, so bad ids cannot reach memory
    outside the tensors. Raises :class:`ValueError` on inconsistent
    shapes or an unknown ``kernel``."""
    if kernel is None:
        kernel = SEGMENT_KERNEL or ('scan' if src.dim() == 2
                                    and src.size(1) == 1 else 'tiles')
    if kernel not in SEGMENT_KERNELS:
        raise ValueError(f'segment_csr_triton: kernel must be one of '
                         f'{SEGMENT_KERNELS}, got {kernel!r}')
    if src.dim() != 2 or row.dim() != 1 or rowptr.dim() != 1:
        raise ValueError(f'segment_csr_triton: src must be 2-D and row, '
                         f'rowptr 1-D, got shapes {tuple(src.shape)}, '
                         f'{tuple(row.shape)}, {tuple(rowptr.shape)}')
    N = rowptr.numel() - 1
    E = row.numel()
    F = src.size(1)
    M = src.size(0)
    if N < 0:
        raise ValueError('segment_csr_triton: rowptr must not be empty')
    if col is None and M != E:
        raise ValueError(f'segment_csr_triton: src has {M} rows for {E} '
                         f'entries of row')
    if col is not None and col.numel() != E:
        raise ValueError(f'segment_csr_triton: col has {col.numel()} '
                         f'entries for {E} entries of row')
    if weight is not None and weight.numel() != E:
        raise ValueError(f'segment_csr_triton: weight has {weight.numel()} '
                         f'entries for {E} entries of row')
    if src.stride(1) != 1:
        src = src.contiguous()
    out = torch.empty((N, F), dtype=src.dtype, device=src.device)
    if N == 0 or F == 0:
        return out
    if kernel == 'rows':
        be, te, bf, nw = config or rows_config(F)
    elif kernel == 'tiles':
        be, te, bf, nw = config or tiles_config(F)
    else:
        be, bf, nw = config or segment_config(F, E)
    C = triton.cdiv(E, be) if E > 0 else 0
    nfb = triton.cdiv(F, bf)
    code = REDUCE_CODES[reduce]
    acc = _acc_dtype(src.dtype)
    part = torch.empty((max(C, 1), 2, F), dtype=_torch_acc(src.dtype),
                       device=src.device)
    row = row.contiguous()
    rowptr = rowptr.contiguous()
    if C > 0:
        gather = col is not None
        args = (src, col.contiguous() if gather else row,
                weight.contiguous() if weight is not None else src,
                row, rowptr, out, part, E, N, M, F, src.stride(0),
                out.stride(0))
        if kernel in ('rows', 'tiles'):
            kern = (_segment_rows_kernel if kernel == 'rows'
                    else _segment_tiles_kernel)
            kern[(C, nfb)](
                *args, REDUCE=code, GATHER=gather,
                HAS_W=weight is not None, BLOCK_E=be, TILE_E=te,
                BLOCK_F=bf, ACC=acc, num_warps=nw)
        else:
            _segment_chunk_kernel[(C, nfb)](
                *args, REDUCE=code, GATHER=gather,
                HAS_W=weight is not None, BLOCK_E=be, BLOCK_F=bf, ACC=acc,
                num_warps=nw)
    block_r = 64 if INTERPRET else 16
    grid2 = (C + triton.cdiv(N, block_r), nfb)
    _segment_fixup_kernel[grid2](
        row, rowptr, out, part, E, N, F, C, out.stride(0),
        REDUCE=code, BLOCK_E=be, BLOCK_F=bf, BLOCK_R=block_r, ACC=acc,
        num_warps=4)
    return out


def scatter_atomic_triton(src: torch.Tensor, index: torch.Tensor,
                          dim_size: int, reduce: str,
                          config: tuple[int, int, int] | None = None
                          ) -> torch.Tensor:
    """Unsorted scatter of ``src [E, F]`` into ``[dim_size, F]`` with
    atomics; empty rows are 0. Ids outside ``[0, dim_size)`` are dropped
    (masked), never written; the public ops reject them before. Raises
    :class:`ValueError` on inconsistent shapes."""
    if src.dim() != 2 or index.dim() != 1 or index.numel() != src.size(0):
        raise ValueError(f'scatter_atomic_triton: src must be [E, F] and '
                         f'index [E], got shapes {tuple(src.shape)} and '
                         f'{tuple(index.shape)}')
    if dim_size < 0:
        raise ValueError(f'scatter_atomic_triton: dim_size must be >= 0, got '
                         f'{dim_size}')
    E, F = src.shape
    if src.stride(1) != 1:
        src = src.contiguous()
    acc_t = _torch_acc(src.dtype)
    if reduce == 'max':
        buf = torch.full((dim_size, F), float('-inf'), dtype=acc_t,
                         device=src.device)
    elif reduce == 'min':
        buf = torch.full((dim_size, F), float('inf'), dtype=acc_t,
                         device=src.device)
    else:
        buf = torch.zeros((dim_size, F), dtype=acc_t, device=src.device)
    need_cnt = reduce != 'sum'
    cnt = torch.zeros(dim_size if need_cnt else 1, dtype=torch.int32,
                      device=src.device)
    if E > 0 and F > 0 and dim_size > 0:
        be, bf, nw = config or scatter_config(F)
        grid = (triton.cdiv(E, be), triton.cdiv(F, bf))
        _scatter_atomic_kernel[grid](
            src, index.contiguous(), buf, cnt, E, dim_size, F,
            src.stride(0),
            REDUCE=REDUCE_CODES[reduce], COUNT=need_cnt, BLOCK_E=be,
            BLOCK_F=bf, ACC=_acc_dtype(src.dtype), num_warps=nw)
    if reduce == 'mean':
        buf = buf / cnt.clamp(min=1).to(acc_t).unsqueeze(-1)
    elif reduce in ('max', 'min'):
        buf = torch.where(cnt.unsqueeze(-1) > 0, buf, 0)
    return buf.to(src.dtype)
