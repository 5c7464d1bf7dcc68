"""``torch_scatter.scatter*``: unsorted grouped reductions along ``dim``.

Semantics (``torch_scatter`` 2.1's documented behaviour):

* ``out[..., i, ...] = reduce(src[..., j, ...] for j with index[j] = i)``;
  ``index`` broadcasts to ``src`` (see :mod:`.utils`),
* the output has ``dim_size`` groups, else ``index.max() + 1``; with
  ``out=`` its current values take part in the reduction (``sum`` adds to
  them, ``min``/``max`` compare with them, ``mul`` multiplies them) and the
  result is written into it and returned,
* empty groups are 0 (1 for ``mul``); the argmin/argmax of an empty group
  (or of a group where ``out``'s value wins) is ``src.size(dim)``,
* integer ``mean`` floor-divides; float16/bfloat16 ``sum``/``mean``
  accumulate in float32,
* ``min``/``max`` gradients go to the one arg element (ties: the first).

Every function is TorchScript-scriptable; the argument checks run in eager
mode only (see :mod:`._checks`).
"""

from typing import Optional

import torch
from torch import Tensor

from pyg_ext.ops.scatter_compat import _checks
from pyg_ext.ops.scatter_compat.utils import (
    acc_dtype,
    as_long,
    expand_index,
    group_count,
    infer_size,
    norm_dim,
    with_size,
)

__all__ = ['scatter', 'scatter_add', 'scatter_max', 'scatter_mean',
           'scatter_min', 'scatter_mul', 'scatter_sum']


def _sum_into(src: Tensor, idx: Tensor, dim: int, out: Optional[Tensor],
              n: int) -> Tensor:
    """``out + scatter_add`` (or ``zeros + ...``) in the accumulation
    dtype; ``idx`` is already expanded to ``src``'s shape."""
    dt = acc_dtype(src.dtype)
    if out is None:
        acc = torch.zeros(with_size(src, dim, n), dtype=dt, device=src.device)
    elif dt != out.dtype:
        acc = out.to(dt)
    else:
        acc = out
    return acc.scatter_add_(dim, idx, src.to(dt))


def _finish(res: Tensor, src: Tensor, out: Optional[Tensor]) -> Tensor:
    """Cast an accumulator back to ``src``'s dtype, written into ``out``
    when given."""
    if out is None:
        return res if res.dtype == src.dtype else res.to(src.dtype)
    if res is not out:
        out.copy_(res)
    return out


# ------------------------------------------------- unchecked bodies
# (shared by the public functions, :func:`scatter` and the segment ops)

def _sum(src: Tensor, index: Tensor, dim: int, out: Optional[Tensor],
         dim_size: Optional[int]) -> Tensor:
    dim = norm_dim(dim, src.dim())
    n = infer_size(index, dim_size) if out is None else out.size(dim)
    idx = expand_index(as_long(index), list(src.size()), dim)
    return _finish(_sum_into(src, idx, dim, out, n), src, out)


def _mul(src: Tensor, index: Tensor, dim: int, out: Optional[Tensor],
         dim_size: Optional[int]) -> Tensor:
    dim = norm_dim(dim, src.dim())
    idx = expand_index(as_long(index), list(src.size()), dim)
    if out is None:
        n = infer_size(index, dim_size)
        out = torch.ones(with_size(src, dim, n), dtype=src.dtype,
                         device=src.device)
    return out.scatter_reduce_(dim, idx, src, 'prod', include_self=True)


def _mean(src: Tensor, index: Tensor, dim: int, out: Optional[Tensor],
          dim_size: Optional[int]) -> Tensor:
    dim = norm_dim(dim, src.dim())
    n = infer_size(index, dim_size) if out is None else out.size(dim)
    index = as_long(index)
    idx = expand_index(index, list(src.size()), dim)
    total = _sum_into(src, idx, dim, out, n)
    count = group_count(index, src.dim(), dim, src.size(dim), n, total.dtype)
    count = count.clamp_(min=1)
    if total.is_floating_point() or total.is_complex():
        total = total.div_(count)
    else:
        total = total.div_(count, rounding_mode='floor')
    return _finish(total, src, out)


def _arg_reduce(src: Tensor, index: Tensor, dim: int, out: Optional[Tensor],
                dim_size: Optional[int], reduce: str
                ) -> tuple[Tensor, Tensor]:
    """Body of :func:`scatter_min` / :func:`scatter_max` (``reduce`` is
    ``'amin'`` or ``'amax'``)."""
    dim = norm_dim(dim, src.dim())
    size = list(src.size())
    length = src.size(dim)
    idx = expand_index(as_long(index), size, dim)
    plain = src.detach()
    if out is None:
        n = infer_size(index, dim_size)
        res = torch.zeros(with_size(src, dim, n), dtype=src.dtype,
                          device=src.device)
        res = res.scatter_reduce_(dim, idx, plain, reduce, include_self=False)
    else:
        res = out.scatter_reduce_(dim, idx, src, reduce, include_self=True)
    # the arg of every group: the first position holding the group's result.
    # A group with a NaN has a NaN result (amax/amin propagate it) that no
    # value equals, so every NaN counts as a hit: it points at its first NaN
    won = res.detach().gather(dim, idx)
    hit = plain == won
    if plain.is_floating_point():
        hit = hit | torch.isnan(plain)
    shape = [1] * src.dim()
    shape[dim] = length
    # int32 positions where they fit: half the memory traffic of int64
    pos_dtype = torch.int32 if length < 2**31 - 1 else torch.long
    pos = torch.arange(length, dtype=pos_dtype, device=src.device)
    pos = torch.where(hit, pos.view(shape), length)
    arg = torch.full(res.size(), length, dtype=pos_dtype, device=src.device)
    arg = arg.scatter_reduce_(dim, idx, pos, 'amin', include_self=True).long()
    if out is None and src.requires_grad:
        # differentiate through the arg element only (torch_scatter's
        # gradient): gather from src with a zero slice for empty groups
        pad = torch.zeros(with_size(src, dim, 1), dtype=src.dtype,
                          device=src.device)
        res = torch.cat([src, pad], dim).gather(dim, arg)
    return res, arg


# ------------------------------------------------- public API

def scatter_sum(src: Tensor, index: Tensor, dim: int = -1,
                out: Optional[Tensor] = None,
                dim_size: Optional[int] = None) -> Tensor:
    """Sum ``src`` into groups given by ``index`` along ``dim`` (with
    ``out=``, added to its values).

    Raises:
        TypeError: non-tensor ``src``/``index``/``out``, float ``index``,
            ``out`` of another dtype, non-int ``dim``/``dim_size``.
        ValueError: ``index`` not broadcastable to ``src``, ``dim`` out of
            range, ids negative or ``>= dim_size`` (``out.size(dim)``),
            ``out`` of the wrong shape or device.
    """
    if not torch.jit.is_scripting():
        dim_size = _checks.scatter_args(src, index, dim, out, dim_size)
    return _sum(src, index, dim, out, dim_size)


def scatter_add(src: Tensor, index: Tensor, dim: int = -1,
                out: Optional[Tensor] = None,
                dim_size: Optional[int] = None) -> Tensor:
    """Alias of :func:`scatter_sum`."""
    if not torch.jit.is_scripting():
        dim_size = _checks.scatter_args(src, index, dim, out, dim_size)
    return _sum(src, index, dim, out, dim_size)


def scatter_mul(src: Tensor, index: Tensor, dim: int = -1,
                out: Optional[Tensor] = None,
                dim_size: Optional[int] = None) -> Tensor:
    """Multiply ``src`` into groups (empty groups are 1; with ``out=`` the
    products multiply its values).

    Raises: as :func:`scatter_sum`.
    """
    if not torch.jit.is_scripting():
        dim_size = _checks.scatter_args(src, index, dim, out, dim_size)
    return _mul(src, index, dim, out, dim_size)


def scatter_mean(src: Tensor, index: Tensor, dim: int = -1,
                 out: Optional[Tensor] = None,
                 dim_size: Optional[int] = None) -> Tensor:
    """Average ``src`` over groups (empty groups are 0; integer dtypes
    floor-divide; with ``out=`` its values are added to each group's sum
    before the division by the group size).

    Raises: as :func:`scatter_sum`.
    """
    if not torch.jit.is_scripting():
        dim_size = _checks.scatter_args(src, index, dim, out, dim_size)
    return _mean(src, index, dim, out, dim_size)


def scatter_min(src: Tensor, index: Tensor, dim: int = -1,
                out: Optional[Tensor] = None,
                dim_size: Optional[int] = None) -> tuple[Tensor, Tensor]:
    """Group minimum and its position along ``dim``: ``(values, argmin)``.
    Empty groups give value 0 and argmin ``src.size(dim)``; ties give the
    first position; with ``out=`` its values take part.

    Raises: as :func:`scatter_sum`.
    """
    if not torch.jit.is_scripting():
        dim_size = _checks.scatter_args(src, index, dim, out, dim_size)
    return _arg_reduce(src, index, dim, out, dim_size, 'amin')


def scatter_max(src: Tensor, index: Tensor, dim: int = -1,
                out: Optional[Tensor] = None,
                dim_size: Optional[int] = None) -> tuple[Tensor, Tensor]:
    """Group maximum and its position along ``dim``: ``(values, argmax)``.
    Empty groups give value 0 and argmax ``src.size(dim)``; ties give the
    first position; with ``out=`` its values take part.

    Raises: as :func:`scatter_sum`.
    """
    if not torch.jit.is_scripting():
        dim_size = _checks.scatter_args(src, index, dim, out, dim_size)
    return _arg_reduce(src, index, dim, out, dim_size, 'amax')


def scatter_reduce_body(src: Tensor, index: Tensor, dim: int,
                        out: Optional[Tensor], dim_size: Optional[int],
                        reduce: str) -> Tensor:
    """:func:`scatter` without the eager checks (for the segment ops)."""
    if reduce == 'sum' or reduce == 'add':
        return _sum(src, index, dim, out, dim_size)
    if reduce == 'mul':
        return _mul(src, index, dim, out, dim_size)
    if reduce == 'mean':
        return _mean(src, index, dim, out, dim_size)
    if reduce == 'min':
        return _arg_reduce(src, index, dim, out, dim_size, 'amin')[0]
    if reduce == 'max':
        return _arg_reduce(src, index, dim, out, dim_size, 'amax')[0]
    raise ValueError("reduce must be one of 'sum', 'add', 'mul', 'mean', "
                     "'min', 'max', got '" + reduce + "'")


def scatter(src: Tensor, index: Tensor, dim: int = -1,
            out: Optional[Tensor] = None, dim_size: Optional[int] = None,
            reduce: str = 'sum') -> Tensor:
    """Reduce ``src`` into groups along ``dim``: ``reduce`` is ``'sum'``
    (``'add'``), ``'mul'``, ``'mean'``, ``'min'`` or ``'max'`` (values
    only; use :func:`scatter_min` / :func:`scatter_max` for the args).

    Raises: as :func:`scatter_sum`; ``ValueError`` for an unknown
    ``reduce`` (``TypeError`` if it is not a str).
    """
    if not torch.jit.is_scripting():
        _checks.reduce_arg(reduce)
        dim_size = _checks.scatter_args(src, index, dim, out, dim_size)
    return scatter_reduce_body(src, index, dim, out, dim_size, reduce)
