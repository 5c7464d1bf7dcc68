"""Index-shape helpers of the ``torch_scatter`` compatibility layer.

Everything here is TorchScript-scriptable (the public operators call it
from scripted code). :func:`broadcast` is also exposed as
``torch_scatter.utils.broadcast`` once the package is aliased.

The broadcasting rule (``torch_scatter``'s documented behaviour): an index
tensor is lined up with ``src`` by

1. a **1-D** index is placed along ``dim`` (size-1 dimensions in front of
   it),
2. size-1 dimensions are appended until it has ``src.dim()`` dimensions,
3. the result is expanded to ``src``'s shape (each dimension must equal
   ``src``'s or be 1).
"""

from typing import Optional

import torch
from torch import Tensor

__all__ = ['broadcast']


def norm_dim(dim: int, ndim: int) -> int:
    """``dim`` as a non-negative axis of an ``ndim``-dimensional tensor."""
    return dim + ndim if dim < 0 else dim


def aligned_shape(index_shape: list[int], ndim: int, dim: int) -> list[int]:
    """The shape of an index lined up with an ``ndim``-dimensional tensor
    along ``dim`` (steps 1 and 2 of the rule, before the expansion)."""
    if len(index_shape) == 1:
        shape = [1] * dim + index_shape
    else:
        shape = list(index_shape)
    return shape + [1] * (ndim - len(shape))


def align(index: Tensor, ndim: int, dim: int) -> Tensor:
    """``index`` viewed with ``ndim`` dimensions (size 1 where it is
    broadcast), not yet expanded."""
    return index.reshape(aligned_shape(list(index.size()), ndim, dim))


def expand_index(index: Tensor, size: list[int], dim: int) -> Tensor:
    """``index`` lined up along ``dim`` and expanded to ``size`` (a view)."""
    return align(index, len(size), dim).expand(size)


def broadcast(src: Tensor, other: Tensor, dim: int) -> Tensor:
    """Expand the index tensor ``src`` to the shape of ``other`` along
    ``dim`` (``torch_scatter.utils.broadcast``; a view, no copy)."""
    dim = norm_dim(dim, other.dim())
    return expand_index(src, list(other.size()), dim)


def as_long(index: Tensor) -> Tensor:
    """``index`` as int64 (the dtype torch's scatter/gather kernels index
    with; no copy when it already is)."""
    return index if index.dtype == torch.long else index.long()


def infer_size(index: Tensor, dim_size: Optional[int]) -> int:
    """``dim_size``, or ``index.max() + 1`` (0 for an empty index)."""
    if dim_size is not None:
        return dim_size
    if index.numel() == 0:
        return 0
    return int(index.max()) + 1


def with_size(src: Tensor, dim: int, n: int) -> list[int]:
    """``src``'s shape with ``n`` in place of ``size(dim)``."""
    size = list(src.size())
    size[dim] = n
    return size


def acc_dtype(dtype: torch.dtype) -> torch.dtype:
    """Accumulation dtype: float32 for float16/bfloat16, else ``dtype``."""
    if dtype == torch.float16 or dtype == torch.bfloat16:
        return torch.float32
    return dtype


def group_count(index: Tensor, ndim: int, dim: int, src_len: int, n: int,
                dtype: torch.dtype) -> Tensor:
    """Number of entries in each group, shaped to broadcast against an
    ``[..., n, ...]`` output (size 1 where ``index`` is broadcast, so a
    1-D index costs ``O(len(index))``, not ``O(src.numel())``)."""
    idx = align(index, ndim, dim)
    if idx.size(dim) != src_len:
        size = list(idx.size())
        size[dim] = src_len
        idx = idx.expand(size)
    size = list(idx.size())
    size[dim] = n
    count = torch.zeros(size, dtype=dtype, device=index.device)
    return count.scatter_add_(dim, idx, torch.ones_like(idx, dtype=dtype))
