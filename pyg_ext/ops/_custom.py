"""``torch.library`` custom ops around the Triton kernels.

Two ops, each with a fake (meta) kernel so ``torch.compile(fullgraph=True)``
traces them without graph breaks or host syncs, and an autograd formula
written with torch gathers (callers use :func:`segment_csr_op` and
:func:`scatter_atomic_op`, which run the kernel directly on an eager call
that autograd need not record):

* ``pyg_ext::segment_csr(src, row, rowptr, reduce, col, weight)`` - sorted
  reduction; with ``col`` it is the fused gather-reduce SpMM
  ``out[i] = reduce_{e in row i} weight[e] * src[col[e]]``.
* ``pyg_ext::scatter_atomic(src, index, dim_size, reduce)`` - unsorted
  reduction with atomics.

Shapes: ``src`` is 2-D (``[E, F]``, or ``[M, F]`` node features with
``col``); callers flatten trailing dimensions. Triton is imported on the
first call, not at import time.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def _kernels() -> Any:
    from pyg_ext.ops import _triton
    return _triton


@torch.library.custom_op('pyg_ext::segment_csr', mutates_args=())
def segment_csr_custom(src: Tensor, row: Tensor, rowptr: Tensor, reduce: str,
                   col: Tensor | None = None,
                   weight: Tensor | None = None) -> Tensor:
    """Sorted (CSR) reduction, optionally fused with a gather (SpMM)."""
    return _kernels().segment_csr_triton(src, row, rowptr, reduce, col=col,
                                         weight=weight)


@segment_csr_custom.register_fake
def _(src: Tensor, row: Tensor, rowptr: Tensor, reduce: str,
      col: Tensor | None = None, weight: Tensor | None = None) -> Tensor:
    return src.new_empty((rowptr.size(0) - 1, src.size(1)))


@torch.library.custom_op('pyg_ext::scatter_atomic', mutates_args=())
def scatter_atomic_custom(src: Tensor, index: Tensor, dim_size: int,
                      reduce: str) -> Tensor:
    """Unsorted reduction with atomics (sum, mean, max, min)."""
    return _kernels().scatter_atomic_triton(src, index, dim_size, reduce)


@scatter_atomic_custom.register_fake
def _(src: Tensor, index: Tensor, dim_size: int, reduce: str) -> Tensor:
    return src.new_empty((dim_size, src.size(1)))


# ------------------------------------------------------------------ autograd

def _count(index: Tensor, n: int, like: Tensor) -> Tensor:
    ones = torch.ones(index.numel(), dtype=like.dtype, device=like.device)
    return like.new_zeros(n).index_add_(0, index.long(), ones)


def _edge_grad(grad_out: Tensor, values: Tensor, out: Tensor, row: Tensor,
               n: int, reduce: str, deg: Tensor) -> Tensor:
    """Gradient w.r.t. the per-edge values ``values [E, F]`` that were
    reduced into ``out [n, F]`` along ``row``."""
    row = row.long()
    g = grad_out.index_select(0, row)
    if reduce == 'sum':
        return g
    if reduce == 'mean':
        return g / deg.clamp(min=1).to(g.dtype).index_select(0, row)[:, None]
    # max / min: the tie rule of pyg_ext.ops (every backend): grad / k to
    # each of the k entries equal to the group's result, nothing else
    mask = (values == out.index_select(0, row)).to(g.dtype)
    ties = grad_out.new_zeros(out.shape).index_add_(0, row, mask)
    return mask * g / ties.clamp(min=1).index_select(0, row)


def _seg_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    src, row, rowptr, reduce, col, weight = inputs
    ctx.reduce = reduce
    ctx.save_for_backward(src, row, rowptr, col, weight, output)


def _seg_backward(ctx: Any, grad_out: Tensor) -> tuple[Any, ...]:
    src, row, rowptr, col, weight, out = ctx.saved_tensors
    reduce = ctx.reduce
    n = rowptr.numel() - 1
    deg = rowptr[1:] - rowptr[:-1]
    grad_src = grad_w = None
    if col is None:
        if ctx.needs_input_grad[0]:
            grad_src = _edge_grad(grad_out, src, out, row, n, reduce, deg)
        return grad_src, None, None, None, None, None
    colv = col.long()
    xj = src.index_select(0, colv)
    msg = xj * weight[:, None] if weight is not None else xj
    g = _edge_grad(grad_out, msg, out, row, n, reduce, deg)
    if ctx.needs_input_grad[0]:
        ge = g * weight[:, None] if weight is not None else g
        grad_src = torch.zeros_like(src).index_add_(0, colv, ge)
    if weight is not None and ctx.needs_input_grad[5]:
        grad_w = (g * xj).sum(-1)
    return grad_src, None, None, None, None, grad_w


segment_csr_custom.register_autograd(_seg_backward, setup_context=_seg_setup)


def _sc_setup(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    src, index, dim_size, reduce = inputs
    ctx.reduce = reduce
    ctx.dim_size = dim_size
    ctx.save_for_backward(src, index, output)


def _sc_backward(ctx: Any, grad_out: Tensor) -> tuple[Any, ...]:
    src, index, out = ctx.saved_tensors
    deg = None
    if ctx.reduce == 'mean':
        deg = _count(index, ctx.dim_size, src)
    g = _edge_grad(grad_out, src, out, index, ctx.dim_size, ctx.reduce,
                   deg if deg is not None else out.new_ones(1))
    return g, None, None, None


scatter_atomic_custom.register_autograd(_sc_backward, setup_context=_sc_setup)


# ------------------------------------------------------------ entry points

def _plain(*tensors: Tensor | None) -> bool:
    """Whether a call can skip the custom op's dispatch: eager (no
    ``torch.compile`` tracing), plain tensors (no fake or other subclass,
    which only the op's fake kernel handles) and nothing that autograd
    must record."""
    if torch.compiler.is_compiling():
        return False
    grad = torch.is_grad_enabled()
    for t in tensors:
        if t is None:
            continue
        if type(t) is not Tensor or (grad and t.requires_grad):
            return False
    return True


def segment_csr_op(src: Tensor, row: Tensor, rowptr: Tensor, reduce: str,
                   col: Tensor | None = None,
                   weight: Tensor | None = None) -> Tensor:
    """``pyg_ext::segment_csr``; an eager call on plain tensors without
    autograd runs the kernel directly (the same launcher), skipping the
    op's dispatch, which cost ~50 us of host time per call on an H200
    host (docs/scatter.md, "per-call cost")."""
    if _plain(src, row, rowptr, col, weight):
        return _kernels().segment_csr_triton(src, row, rowptr, reduce,
                                             col=col, weight=weight)
    return segment_csr_custom(src, row, rowptr, reduce, col, weight)


def scatter_atomic_op(src: Tensor, index: Tensor, dim_size: int,
                      reduce: str) -> Tensor:
    """``pyg_ext::scatter_atomic``, with the eager shortcut of
    :func:`segment_csr_op`."""
    if _plain(src, index):
        return _kernels().scatter_atomic_triton(src, index, dim_size, reduce)
    return scatter_atomic_custom(src, index, dim_size, reduce)
