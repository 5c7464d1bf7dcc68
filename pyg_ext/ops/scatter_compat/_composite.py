"""``torch_scatter.composite``: grouped standard deviation, log-sum-exp,
softmax and log-softmax, built from the scatter primitives.

* ``scatter_std``: square root of the group's sum of squared deviations
  divided by ``count - 1`` (``unbiased``) or ``count`` (both at least 1);
  empty and one-element groups give 0, with a zero (not NaN) gradient.
* ``scatter_logsumexp``: ``log(sum(exp(x - m)) + eps) + m`` with ``m`` the
  group maximum; empty groups give 0; with ``out=`` its values join each
  group as one more term (where the result is not finite, ``out`` keeps
  its value).
* ``scatter_softmax`` / ``scatter_log_softmax``: softmax within each group,
  shifted by the group maximum for stability.

Float16/bfloat16 inputs are computed in float32 and cast back. All are
TorchScript-scriptable.
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

__all__ = ['scatter_log_softmax', 'scatter_logsumexp', 'scatter_softmax',
           'scatter_std']


def _group_max(x: Tensor, idx: Tensor, dim: int, n: int) -> Tensor:
    """Group maximum of ``x`` (no gradient; empty groups ``-inf``)."""
    base = torch.full(with_size(x, dim, n), float('-inf'), dtype=x.dtype,
                      device=x.device)
    return base.scatter_reduce_(dim, idx, x.detach(), 'amax',
                                include_self=True)


def _finite_or_zero(m: Tensor) -> Tensor:
    return torch.where(torch.isfinite(m), m, torch.zeros_like(m))


def scatter_std(src: Tensor, index: Tensor, dim: int = -1,
                out: Optional[Tensor] = None,
                dim_size: Optional[int] = None,
                unbiased: bool = True) -> Tensor:
    """Standard deviation of each group (``out=`` gives the number of
    groups and receives the result; integer ``src`` gives float32).

    Raises: as :func:`scatter_sum` (``out`` must have ``src``'s dtype).
    """
    if not torch.jit.is_scripting():
        dim_size = _checks.scatter_args(src, index, dim, out, dim_size)
    dim = norm_dim(dim, src.dim())
    n = infer_size(index, dim_size) if out is None else out.size(dim)
    index = as_long(index)
    x = src.to(acc_dtype(src.dtype)) if src.is_floating_point() \
        else src.to(torch.float32)
    idx = expand_index(index, list(x.size()), dim)
    size = with_size(x, dim, n)
    count = group_count(index, x.dim(), dim, x.size(dim), n, x.dtype)
    total = torch.zeros(size, dtype=x.dtype, device=x.device)
    mean = total.scatter_add_(dim, idx, x) / count.clamp(min=1)
    dev = x - mean.gather(dim, idx)
    sq = torch.zeros(size, dtype=x.dtype, device=x.device)
    sq = sq.scatter_add_(dim, idx, dev * dev)
    denom = count - 1 if unbiased else count
    var = sq / denom.clamp(min=1)
    # sqrt has an infinite slope at 0: keep zero-variance groups at a zero
    # gradient instead of NaN
    pos = var > 0
    std = torch.where(pos, torch.where(pos, var, torch.ones_like(var)).sqrt(),
                      torch.zeros_like(var))
    if out is not None:
        return out.copy_(std)
    # integer src: a float32 result (torch_scatter's true division)
    return std.to(src.dtype) if src.is_floating_point() else std


def scatter_logsumexp(src: Tensor, index: Tensor, dim: int = -1,
                      out: Optional[Tensor] = None,
                      dim_size: Optional[int] = None,
                      eps: float = 1e-12) -> Tensor:
    """``log(sum(exp(src)))`` of each group, stabilised by the group
    maximum (empty groups 0).

    Raises:
        ValueError: non-floating ``src`` (as torch_scatter), negative
            ``eps``, and as :func:`scatter_sum`.
        TypeError: as :func:`scatter_sum`.
    """
    if not torch.jit.is_scripting():
        _checks.floating(src, 'scatter_logsumexp')
        _checks.eps_arg(eps)
        dim_size = _checks.scatter_args(src, index, dim, out, dim_size)
    if not src.is_floating_point():
        raise ValueError('src must have a floating point dtype for '
                         'scatter_logsumexp')
    dim = norm_dim(dim, src.dim())
    n = infer_size(index, dim_size) if out is None else out.size(dim)
    index = as_long(index)
    dt = acc_dtype(src.dtype)
    x = src.to(dt)
    idx = expand_index(index, list(x.size()), dim)
    m = _group_max(x, idx, dim, n)
    if out is not None:
        m = torch.maximum(m, out.detach().to(dt))
    shift = _finite_or_zero(m)
    terms = (x - shift.gather(dim, idx)).exp()
    total = torch.zeros(with_size(x, dim, n), dtype=dt, device=x.device)
    if out is not None:
        total = total + (out.to(dt) - shift).exp()
    total = total.scatter_add(dim, idx, terms)
    res = (total + eps).log() + shift
    # all -inf: -inf (eps would otherwise leave log(eps))
    res = torch.where(m == float('-inf'), m, res)
    if out is not None:
        res = torch.where(torch.isfinite(res), res, out.to(dt))
        return out.copy_(res)
    count = group_count(index, x.dim(), dim, x.size(dim), n, torch.long)
    res = torch.where(count > 0, res, torch.zeros_like(res))
    return res.to(src.dtype)


def _softmax_parts(src: Tensor, index: Tensor, dim: int,
                   dim_size: Optional[int]) -> tuple[Tensor, Tensor, Tensor]:
    """``(shifted, group sums of exp(shifted), expanded index)`` in the
    accumulation dtype, ``shifted = src - group max``."""
    dim = norm_dim(dim, src.dim())
    n = infer_size(index, dim_size)
    x = src.to(acc_dtype(src.dtype))
    idx = expand_index(as_long(index), list(x.size()), dim)
    m = _group_max(x, idx, dim, n)
    shifted = x - _finite_or_zero(m).gather(dim, idx)
    total = torch.zeros(with_size(x, dim, n), dtype=x.dtype, device=x.device)
    total = total.scatter_add(dim, idx, shifted.exp())
    return shifted, total, idx


def scatter_softmax(src: Tensor, index: Tensor, dim: int = -1,
                    dim_size: Optional[int] = None) -> Tensor:
    """Softmax of ``src`` within each group along ``dim`` (same shape as
    ``src``; a group of only ``-inf`` gives NaN, as ``torch.softmax``).

    Raises: as :func:`scatter_logsumexp`.
    """
    if not torch.jit.is_scripting():
        _checks.floating(src, 'scatter_softmax')
        dim_size = _checks.scatter_args(src, index, dim, None, dim_size)
    if not src.is_floating_point():
        raise ValueError('src must have a floating point dtype for '
                         'scatter_softmax')
    dim = norm_dim(dim, src.dim())
    shifted, total, idx = _softmax_parts(src, index, dim, dim_size)
    return (shifted.exp() / total.gather(dim, idx)).to(src.dtype)


def scatter_log_softmax(src: Tensor, index: Tensor, dim: int = -1,
                        eps: float = 1e-12,
                        dim_size: Optional[int] = None) -> Tensor:
    """Log-softmax of ``src`` within each group along ``dim``:
    ``shifted - log(sum(exp(shifted)) + eps)``.

    Raises: as :func:`scatter_logsumexp`.
    """
    if not torch.jit.is_scripting():
        _checks.floating(src, 'scatter_log_softmax')
        _checks.eps_arg(eps)
        dim_size = _checks.scatter_args(src, index, dim, None, dim_size)
    if not src.is_floating_point():
        raise ValueError('src must have a floating point dtype for '
                         'scatter_log_softmax')
    dim = norm_dim(dim, src.dim())
    shifted, total, idx = _softmax_parts(src, index, dim, dim_size)
    return (shifted - (total + eps).log().gather(dim, idx)).to(src.dtype)
