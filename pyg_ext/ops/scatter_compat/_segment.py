"""``torch_scatter.segment_*`` and ``gather_*``: sorted (CSR / COO)
reductions and their inverse broadcasts.

* ``segment_csr(src, indptr)`` reduces along ``d = indptr.dim() - 1``:
  segment ``i`` holds the positions ``indptr[..., i] <= p <
  indptr[..., i + 1]``; leading dimensions of ``indptr`` broadcast to
  ``src``'s; positions outside every segment are ignored; empty segments
  are 0 (argmin/argmax ``src.size(d)``); ``out=`` is overwritten.
* ``segment_coo(src, index)`` reduces along ``index.dim() - 1`` by
  (sorted) group ids, with :func:`scatter`'s rules for ``out=`` and
  ``dim_size``; an unsorted index gives the same result as
  :func:`scatter` (sortedness is not required, nor checked).
* ``gather_csr`` / ``gather_coo`` copy each segment's (group's) ``src``
  slice to all of its positions (``gather_csr`` writes 0 at positions
  outside every segment).

Floating ``sum``/``mean`` of ``segment_csr`` run ``torch.segment_reduce``
(sorted, no atomics: deterministic on every device); the other cases find
each position's segment with ``torch.searchsorted`` on ``indptr`` and
scatter (no host sync; ``gather_csr`` reads the output length from
``indptr`` unless ``out`` is given). Everything is TorchScript-scriptable;
the eager checks live in :mod:`._checks`.
"""

from typing import Optional

import torch
from torch import Tensor

from pyg_ext.ops.scatter_compat import _checks
from pyg_ext.ops.scatter_compat._scatter import (
    _arg_reduce,
    _sum_into,
    scatter_reduce_body,
)
from pyg_ext.ops.scatter_compat.utils import (
    acc_dtype,
    align,
    as_long,
    expand_index,
    with_size,
)

__all__ = [
    'gather_coo', 'gather_csr',
    'segment_add_coo', 'segment_add_csr', 'segment_coo', 'segment_csr',
    'segment_max_coo', 'segment_max_csr', 'segment_mean_coo',
    'segment_mean_csr', 'segment_min_coo', 'segment_min_csr',
    'segment_sum_coo', 'segment_sum_csr',
]


def _segment_of(indptr: Tensor, length: int) -> Tensor:
    """Segment id of every position ``0 <= p < length`` along the last
    dimension, shaped ``indptr.shape[:-1] + [length]``; positions outside
    every segment get the spare id ``num_segments``."""
    y = indptr.size(-1)
    segments = max(y - 1, 0)
    lead = list(indptr.size())[:-1]
    if y == 0 or length == 0:
        return torch.full(lead + [length], segments, dtype=torch.long,
                          device=indptr.device)
    rows = as_long(indptr).reshape(-1, y).contiguous()
    pos = torch.arange(length, device=indptr.device)
    pos = pos.expand(rows.size(0), length).contiguous()
    seg = torch.searchsorted(rows, pos, right=True).view(lead + [length]) - 1
    return seg.masked_fill((seg < 0) | (seg >= segments), segments)


def _csr_body(src: Tensor, indptr: Tensor, out: Optional[Tensor],
              reduce: str) -> tuple[Tensor, Optional[Tensor]]:
    """``segment_csr`` without checks: ``(values, arg)`` (``arg`` only for
    min/max)."""
    d = indptr.dim() - 1
    y = indptr.size(-1)
    segments = max(y - 1, 0)
    arg: Optional[Tensor] = None
    if (reduce == 'sum' or reduce == 'add' or reduce == 'mean') \
            and src.is_floating_point() and y > 0:
        # floating sum/mean: torch's sorted segment reduction (no atomics,
        # so deterministic on CUDA too, as torch_scatter's segment_csr)
        lead = list(src.size())[:d]
        ptr = as_long(indptr).expand(lead + [y])
        x = src.to(acc_dtype(src.dtype))
        total = torch.segment_reduce(x, 'sum', offsets=ptr, axis=d,
                                     initial=0)
        if reduce == 'mean':
            count = align(ptr.diff(dim=-1), src.dim(), d)
            total = total / count.clamp(min=1).to(total.dtype)
        res = total.to(src.dtype)
        if out is not None:
            out.copy_(res)
            return out, arg
        return res, arg
    seg = _segment_of(indptr, src.size(d))
    if reduce == 'min' or reduce == 'max':
        res, a = _arg_reduce(src, seg, d, None, segments + 1, 'a' + reduce)
        res = res.narrow(d, 0, segments).contiguous()
        arg = a.narrow(d, 0, segments).contiguous()
    else:
        idx = expand_index(seg, list(src.size()), d)
        total = _sum_into(src, idx, d, None, segments + 1)
        total = total.narrow(d, 0, segments)
        if reduce == 'mean':
            count = align(as_long(indptr).diff(dim=-1), src.dim(), d)
            count = count.clamp(min=1).to(total.dtype)
            if total.is_floating_point() or total.is_complex():
                total = total / count
            else:
                total = torch.div(total, count, rounding_mode='floor')
        elif reduce != 'sum' and reduce != 'add':
            raise ValueError("reduce must be one of 'sum', 'add', 'mean', "
                             "'min', 'max', got '" + reduce + "'")
        res = total.to(src.dtype).contiguous()
    if out is not None:
        out.copy_(res)
        return out, arg
    return res, arg


def _arg_of(arg: Optional[Tensor]) -> Tensor:
    assert arg is not None
    return arg


# ------------------------------------------------------------- CSR

def segment_sum_csr(src: Tensor, indptr: Tensor,
                    out: Optional[Tensor] = None) -> Tensor:
    """Sum ``src`` over the CSR segments ``indptr`` along
    ``indptr.dim() - 1`` (empty segments 0; ``out=`` is overwritten).

    Raises:
        TypeError: non-tensor ``src``/``indptr``/``out``, float
            ``indptr``, ``out`` of another dtype.
        ValueError: ``indptr`` with more dimensions than ``src`` or
            leading dimensions that do not broadcast, offsets negative,
            decreasing or beyond ``src.size(dim)``, ``out`` of the wrong
            shape or device.
    """
    if not torch.jit.is_scripting():
        _checks.csr_args(src, indptr, out)
    return _csr_body(src, indptr, out, 'sum')[0]


def segment_add_csr(src: Tensor, indptr: Tensor,
                    out: Optional[Tensor] = None) -> Tensor:
    """Alias of :func:`segment_sum_csr`."""
    if not torch.jit.is_scripting():
        _checks.csr_args(src, indptr, out)
    return _csr_body(src, indptr, out, 'sum')[0]


def segment_mean_csr(src: Tensor, indptr: Tensor,
                     out: Optional[Tensor] = None) -> Tensor:
    """Mean over CSR segments (integer dtypes floor-divide).

    Raises: as :func:`segment_sum_csr`.
    """
    if not torch.jit.is_scripting():
        _checks.csr_args(src, indptr, out)
    return _csr_body(src, indptr, out, 'mean')[0]


def segment_min_csr(src: Tensor, indptr: Tensor,
                    out: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """Minimum over CSR segments and its position: ``(values, argmin)``
    (empty segments: 0 and ``src.size(dim)``).

    Raises: as :func:`segment_sum_csr`.
    """
    if not torch.jit.is_scripting():
        _checks.csr_args(src, indptr, out)
    res, arg = _csr_body(src, indptr, out, 'min')
    return res, _arg_of(arg)


def segment_max_csr(src: Tensor, indptr: Tensor,
                    out: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """Maximum over CSR segments and its position: ``(values, argmax)``
    (empty segments: 0 and ``src.size(dim)``).

    Raises: as :func:`segment_sum_csr`.
    """
    if not torch.jit.is_scripting():
        _checks.csr_args(src, indptr, out)
    res, arg = _csr_body(src, indptr, out, 'max')
    return res, _arg_of(arg)


def segment_csr(src: Tensor, indptr: Tensor, out: Optional[Tensor] = None,
                reduce: str = 'sum') -> Tensor:
    """Reduce ``src`` over the CSR segments ``indptr`` (``'sum'``/``'add'``,
    ``'mean'``, ``'min'``, ``'max'``) along ``indptr.dim() - 1``.

    Raises: as :func:`segment_sum_csr`; ``ValueError`` for an unknown
    ``reduce`` (``TypeError`` if it is not a str).
    """
    if not torch.jit.is_scripting():
        _checks.reduce_arg(reduce, _checks.SEGMENT_REDUCES)
        _checks.csr_args(src, indptr, out)
    return _csr_body(src, indptr, out, reduce)[0]


def gather_csr(src: Tensor, indptr: Tensor,
               out: Optional[Tensor] = None) -> Tensor:
    """Copy segment ``i``'s slice of ``src`` to positions
    ``indptr[i]:indptr[i + 1]`` along ``indptr.dim() - 1`` (the inverse of
    :func:`segment_csr`). The output length is ``out.size(dim)``, else the
    largest ``indptr[..., -1]`` (one host read); uncovered positions are 0.

    Raises:
        TypeError: as :func:`segment_sum_csr`.
        ValueError: ``src.size(dim) != indptr.size(-1) - 1``, offsets
            negative, decreasing or beyond ``out.size(dim)``, ``out`` of
            the wrong shape or device.
    """
    if not torch.jit.is_scripting():
        _checks.gather_csr_args(src, indptr, out)
    d = indptr.dim() - 1
    if out is not None:
        length = out.size(d)
    elif indptr.numel() == 0:
        length = 0
    else:
        length = int(indptr.select(-1, -1).max())
    seg = _segment_of(indptr, length)
    size = with_size(src, d, length)
    pad = torch.zeros(with_size(src, d, 1), dtype=src.dtype,
                      device=src.device)
    res = torch.cat([src, pad], d).gather(d, expand_index(seg, size, d))
    if out is not None:
        return out.copy_(res)
    return res


# ------------------------------------------------------------- COO

def _coo_dim(index: Tensor) -> int:
    return index.dim() - 1


def segment_sum_coo(src: Tensor, index: Tensor,
                    out: Optional[Tensor] = None,
                    dim_size: Optional[int] = None) -> Tensor:
    """Sum ``src`` by the sorted group ids ``index`` along
    ``index.dim() - 1`` (:func:`scatter_sum`'s rules for ``out=`` and
    ``dim_size``).

    Raises: as :func:`scatter_sum`.
    """
    if not torch.jit.is_scripting():
        dim_size = _checks.coo_args(src, index, out, dim_size)
    return scatter_reduce_body(src, index, _coo_dim(index), out, dim_size,
                               'sum')


def segment_add_coo(src: Tensor, index: Tensor,
                    out: Optional[Tensor] = None,
                    dim_size: Optional[int] = None) -> Tensor:
    """Alias of :func:`segment_sum_coo`."""
    if not torch.jit.is_scripting():
        dim_size = _checks.coo_args(src, index, out, dim_size)
    return scatter_reduce_body(src, index, _coo_dim(index), out, dim_size,
                               'sum')


def segment_mean_coo(src: Tensor, index: Tensor,
                     out: Optional[Tensor] = None,
                     dim_size: Optional[int] = None) -> Tensor:
    """Mean by sorted group ids (integer dtypes floor-divide).

    Raises: as :func:`scatter_sum`.
    """
    if not torch.jit.is_scripting():
        dim_size = _checks.coo_args(src, index, out, dim_size)
    return scatter_reduce_body(src, index, _coo_dim(index), out, dim_size,
                               'mean')


def segment_min_coo(src: Tensor, index: Tensor,
                    out: Optional[Tensor] = None,
                    dim_size: Optional[int] = None
                    ) -> tuple[Tensor, Tensor]:
    """Minimum by sorted group ids: ``(values, argmin)``.

    Raises: as :func:`scatter_sum`.
    """
    if not torch.jit.is_scripting():
        dim_size = _checks.coo_args(src, index, out, dim_size)
    return _arg_reduce(src, index, _coo_dim(index), out, dim_size, 'amin')


def segment_max_coo(src: Tensor, index: Tensor,
                    out: Optional[Tensor] = None,
                    dim_size: Optional[int] = None
                    ) -> tuple[Tensor, Tensor]:
    """Maximum by sorted group ids: ``(values, argmax)``.

    Raises: as :func:`scatter_sum`.
    """
    if not torch.jit.is_scripting():
        dim_size = _checks.coo_args(src, index, out, dim_size)
    return _arg_reduce(src, index, _coo_dim(index), out, dim_size, 'amax')


def segment_coo(src: Tensor, index: Tensor, out: Optional[Tensor] = None,
                dim_size: Optional[int] = None,
                reduce: str = 'sum') -> Tensor:
    """Reduce ``src`` by sorted group ids ``index`` along
    ``index.dim() - 1`` (``'sum'``/``'add'``, ``'mean'``, ``'min'``,
    ``'max'``).

    Raises: as :func:`scatter_sum`; ``ValueError`` for an unknown
    ``reduce`` (``TypeError`` if it is not a str).
    """
    if not torch.jit.is_scripting():
        _checks.reduce_arg(reduce, _checks.SEGMENT_REDUCES)
        dim_size = _checks.coo_args(src, index, out, dim_size)
    if reduce == 'mul':
        raise ValueError("reduce must be one of 'sum', 'add', 'mean', "
                         "'min', 'max', got 'mul'")
    return scatter_reduce_body(src, index, _coo_dim(index), out, dim_size,
                               reduce)


def gather_coo(src: Tensor, index: Tensor,
               out: Optional[Tensor] = None) -> Tensor:
    """``out[..., j, ...] = src[..., index[..., j], ...]`` along
    ``index.dim() - 1`` (the inverse of :func:`segment_coo`; leading
    dimensions of ``index`` broadcast to ``src``'s).

    Raises:
        TypeError: non-tensor or float ``index``, ``out`` of another dtype.
        ValueError: ``index`` with more dimensions than ``src`` or
            leading dimensions that do not broadcast, ids outside
            ``[0, src.size(dim))``, ``out`` of the wrong shape or device.
    """
    if not torch.jit.is_scripting():
        _checks.gather_coo_args(src, index, out)
    d = index.dim() - 1
    size = with_size(src, d, index.size(d))
    res = src.gather(d, expand_index(as_long(index), size, d))
    if out is not None:
        return out.copy_(res)
    return res
