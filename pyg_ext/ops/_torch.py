"""Torch-native implementations: the CPU path, the fallback wherever Triton
is unavailable or loses, and the reference the kernels are tested against.

They reproduce PyG 2.8's semantics exactly (``torch_geometric.utils.scatter``
/ ``segment``): empty groups give 0 for every reduction; ``max``/``min`` use
``scatter_reduce_(include_self=False)`` on a zero tensor, whose backward
splits the gradient evenly between tied maxima.
"""

from __future__ import annotations

import torch
from torch import Tensor

_AREDUCE = {'max': 'amax', 'min': 'amin'}


def broadcast(index: Tensor, src: Tensor, dim: int) -> Tensor:
    """View ``index`` (1-D, along ``dim``) with ``src``'s shape."""
    shape = [1] * src.dim()
    shape[dim] = -1
    return index.view(shape).expand_as(src)


def scatter_torch(src: Tensor, index: Tensor, dim: int, dim_size: int,
                  reduce: str) -> Tensor:
    """``torch_geometric.utils.scatter`` with torch ops only (``dim`` must
    be non-negative)."""
    index = index.long()
    size = src.shape[:dim] + (dim_size,) + src.shape[dim + 1:]
    if reduce in ('sum', 'add'):
        return src.new_zeros(size).scatter_add_(dim, broadcast(index, src, dim),
                                                src)
    if reduce == 'mean':
        count = src.new_zeros(dim_size)
        count.scatter_add_(0, index, src.new_ones(src.size(dim)))
        count = count.clamp(min=1)
        out = src.new_zeros(size).scatter_add_(dim, broadcast(index, src, dim),
                                               src)
        return out / broadcast(count, out, dim)
    if reduce in ('max', 'min', 'amax', 'amin'):
        return src.new_zeros(size).scatter_reduce_(
            dim, broadcast(index, src, dim), src,
            reduce=f'a{reduce[-3:]}', include_self=False)
    if reduce == 'mul':
        return src.new_ones(size).scatter_reduce_(
            dim, broadcast(index, src, dim), src, reduce='prod',
            include_self=True)
    if reduce == 'any':
        return src.new_zeros(size).scatter_(dim, broadcast(index, src, dim),
                                            src)
    raise ValueError(f"invalid reduce '{reduce}'")


def segment_torch(src: Tensor, ptr: Tensor, reduce: str) -> Tensor:
    """Reduce ``src`` over the CSR ranges ``ptr`` along dim 0 with
    ``torch._segment_reduce``; empty segments give 0."""
    red = _AREDUCE.get(reduce, reduce)
    if red == 'add':
        red = 'sum'
    initial = 0 if red in ('mean', 'sum') else None
    out = torch._segment_reduce(src, red, offsets=ptr.long(), initial=initial)
    if red in ('amax', 'amin'):
        # empty segments come back as -inf/+inf: PyG maps them to 0
        deg = (ptr[1:] - ptr[:-1]).view(-1, *([1] * (src.dim() - 1)))
        out = torch.where(deg > 0, out, out.new_zeros(()))
    return out


def spmm_torch(x: Tensor, row: Tensor, col: Tensor, num_rows: int,
               weight: Tensor | None, reduce: str) -> Tensor:
    """``out[i] = reduce_{e: row[e] = i} weight[e] * x[col[e]]`` the way
    PyG's default ``MessagePassing`` computes it (gather, then scatter)."""
    msg = x.index_select(0, col.long())
    if weight is not None:
        msg = msg * weight.view(-1, *([1] * (x.dim() - 1)))
    return scatter_torch(msg, row, 0, num_rows, reduce)


_CSR_QUIET = False


def spmm_sparse_mm(x: Tensor, rowptr: Tensor, col: Tensor,
                   weight: Tensor | None, reduce: str) -> Tensor:
    """Sum/mean SpMM through ``torch.sparse.mm`` (the fastest torch CPU
    path; differentiable in ``x`` and ``weight``)."""
    global _CSR_QUIET
    n = rowptr.numel() - 1
    values = weight if weight is not None else x.new_ones(col.numel())
    if _CSR_QUIET:
        adj = torch.sparse_csr_tensor(rowptr.long(), col.long(),
                                      values.to(x.dtype), (n, x.size(0)))
        out = torch.sparse.mm(adj, x)
    else:
        # torch warns once per process that sparse CSR is in beta: swallow
        # that one warning on the first call (a catch_warnings block on every
        # call costs ~10 us, 10 % of a small spmm)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', UserWarning)
            adj = torch.sparse_csr_tensor(rowptr.long(), col.long(),
                                          values.to(x.dtype), (n, x.size(0)))
            out = torch.sparse.mm(adj, x)
        _CSR_QUIET = True
    if reduce == 'mean':
        deg = (rowptr[1:] - rowptr[:-1]).clamp(min=1).to(x.dtype)
        out = out / deg.view(-1, 1)
    return out


def index2ptr(index: Tensor, size: int) -> Tensor:
    """CSR pointer of a sorted index (no host sync)."""
    return torch._convert_indices_from_coo_to_csr(index, size=size)


def ptr2index(ptr: Tensor, numel: int) -> Tensor:
    """Row of every entry of a CSR pointer (no host sync: ``numel`` given)."""
    n = ptr.numel() - 1
    dtype = torch.int32 if numel < 2**31 and n < 2**31 else torch.int64
    return torch.repeat_interleave(
        torch.arange(n, device=ptr.device, dtype=dtype), ptr.diff(),
        output_size=numel)
