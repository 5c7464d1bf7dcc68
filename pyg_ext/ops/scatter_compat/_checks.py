"""Eager-mode argument checks of the ``torch_scatter`` compatibility layer.

The public operators call these only under ``if not
torch.jit.is_scripting():`` (TorchScript drops that branch, so this module
may use any Python) and they return at once while ``torch.compile``
traces. Shape, dtype and device checks are free; the value checks cost one
``aminmax`` over the (unexpanded) index, or one pass over ``indptr`` (a host
sync on CUDA, where an id out of range would otherwise trip a device-side
assert that poisons the CUDA context). Every error names the argument.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from pyg_ext.ops.scatter_compat.utils import aligned_shape
from pyg_ext.utils.validation import (
    check_choice,
    check_int,
    check_num_nodes,
    check_real,
    check_tensor,
)

REDUCES = ('sum', 'add', 'mul', 'mean', 'min', 'max')
SEGMENT_REDUCES = ('sum', 'add', 'mean', 'min', 'max')


def compiling() -> bool:
    """Whether ``torch.compile`` is tracing (then no value checks)."""
    return torch.compiler.is_compiling()


def _src(src: Any) -> Tensor:
    check_tensor(src, 'src')
    if src.dim() == 0:
        raise ValueError('src must have at least one dimension, got a 0-d '
                         'tensor')
    return src


def _ids(index: Any, name: str) -> Tensor:
    check_tensor(index, name, floating=False)
    if index.dim() == 0:
        raise ValueError(f'{name} must have at least one dimension, got a '
                         f'0-d tensor')
    return index


def _dim(dim: Any, ndim: int) -> int:
    dim = check_int(dim, 'dim')
    if not -ndim <= dim < ndim:
        raise ValueError(f'dim must lie in [{-ndim}, {ndim - 1}] for src with '
                         f'{ndim} dimension(s), got {dim}')
    return dim % ndim


def _same_device(t: Tensor, name: str, src: Tensor) -> None:
    if t.device != src.device:
        raise ValueError(f'{name} is on {t.device} but src is on '
                         f'{src.device}')


def _aligned(index: Tensor, name: str, src: Tensor, dim: int) -> None:
    """``index`` broadcasts to ``src`` along ``dim`` (torch_scatter's rule:
    a 1-D index lies along ``dim``, trailing dimensions are added, each
    dimension equals ``src``'s or is 1)."""
    if index.dim() > src.dim():
        raise ValueError(f'{name} has {index.dim()} dimensions, more than src '
                         f'({src.dim()})')
    shape = aligned_shape(list(index.shape), src.dim(), dim)
    for k, (a, b) in enumerate(zip(shape, src.shape)):
        if a not in (1, b):
            raise ValueError(
                f'{name} of shape {tuple(index.shape)} does not broadcast to '
                f'src of shape {tuple(src.shape)} along dim {dim} (size {a} '
                f'vs {b} in dimension {k})')
    _same_device(index, name, src)


def _out(out: Any, src: Tensor, dim: int, n: int | None = None) -> int:
    """``out`` has ``src``'s dtype, device and shape except along ``dim``
    (where it must be ``n`` when given); returns ``out.size(dim)``."""
    check_tensor(out, 'out')
    want = list(src.shape)
    if out.dim() == len(want) and n is None:
        want[dim] = out.size(dim)
    elif n is not None:
        want[dim] = n
    if list(out.shape) != want:
        where = '' if n is not None else f' except along dim {dim}'
        raise ValueError(f'out must have shape {tuple(want)} (that of src'
                         f'{where}), got {tuple(out.shape)}')
    if out.dtype != src.dtype:
        raise TypeError(f'out must have the dtype of src ({src.dtype}), got '
                        f'{out.dtype}')
    _same_device(out, 'out', src)
    return out.size(dim)


def _id_range(index: Tensor, name: str, size: int | None,
              size_name: str) -> int | None:
    """Every id in ``[0, size)`` (or just ``>= 0`` when ``size`` is None);
    returns ``size``, or ``max + 1`` when it was None."""
    if index.numel() == 0:
        return 0 if size is None else size
    lo, hi = (int(v) for v in torch.aminmax(index))
    if lo < 0:
        raise ValueError(f'{name} must hold non-negative ids, found {lo}')
    if size is None:
        return hi + 1
    if hi >= size:
        raise ValueError(f'{name} must hold ids in [0, {size}) ({size_name} '
                         f'= {size}), found {hi}')
    return size


def scatter_args(src: Any, index: Any, dim: Any, out: Any,
                 dim_size: Any) -> int | None:
    """Arguments of ``scatter_*``; returns the number of groups (inferred
    from ``index`` when neither ``out`` nor ``dim_size`` gives it) so that
    the operator does not compute ``index.max()`` a second time."""
    _src(src)
    _ids(index, 'index')
    if compiling():
        return dim_size
    d = _dim(dim, src.dim())
    _aligned(index, 'index', src, d)
    if out is not None:
        n = _out(out, src, d)
        _id_range(index, 'index', n, 'out.size(dim)')
        return dim_size
    if dim_size is not None:
        dim_size = check_num_nodes(dim_size, 'dim_size')
    return _id_range(index, 'index', dim_size, 'dim_size')


def reduce_arg(reduce: Any, choices: tuple[str, ...] = REDUCES) -> None:
    check_choice(reduce, 'reduce', choices)


def floating(src: Any, fn: str) -> None:
    """``src`` has a floating dtype (``ValueError``, as torch_scatter)."""
    check_tensor(src, 'src')
    if not src.is_floating_point():
        raise ValueError(f'src must have a floating point dtype for {fn}, '
                         f'got {src.dtype}')


def eps_arg(eps: Any) -> None:
    check_real(eps, 'eps', low=0.0)


def coo_args(src: Any, index: Any, out: Any, dim_size: Any) -> int | None:
    """Arguments of ``segment_*_coo`` (reduction along
    ``index.dim() - 1``); returns the number of groups."""
    _src(src)
    _ids(index, 'index')
    if index.dim() > src.dim():
        raise ValueError(f'index has {index.dim()} dimensions, more than src '
                         f'({src.dim()})')
    return scatter_args(src, index, index.dim() - 1, out, dim_size)


def _indptr_values(indptr: Tensor, upper: int, upper_name: str) -> None:
    """``indptr`` non-decreasing along its last dimension, in
    ``[0, upper]``."""
    if indptr.numel() == 0:
        return
    lo, hi = (int(v) for v in torch.aminmax(indptr))
    if lo < 0:
        raise ValueError(f'indptr must hold non-negative offsets, found {lo}')
    if hi > upper:
        raise ValueError(f'indptr must hold offsets <= {upper} '
                         f'({upper_name}), found {hi}')
    if indptr.size(-1) > 1 and bool((indptr.diff(dim=-1) < 0).any()):
        raise ValueError('indptr must be non-decreasing along its last '
                         'dimension (a CSR pointer)')


def _indptr_shape(src: Tensor, indptr: Any) -> int:
    """``indptr`` is an integer tensor with at most ``src.dim()``
    dimensions whose leading ones broadcast to ``src``'s; returns the
    reduced dimension ``indptr.dim() - 1``."""
    _ids(indptr, 'indptr')
    if indptr.dim() > src.dim():
        raise ValueError(f'indptr has {indptr.dim()} dimensions, more than '
                         f'src ({src.dim()})')
    d = indptr.dim() - 1
    for k in range(d):
        if indptr.size(k) not in (1, src.size(k)):
            raise ValueError(
                f'indptr of shape {tuple(indptr.shape)} does not broadcast '
                f'to src of shape {tuple(src.shape)} (size {indptr.size(k)} '
                f'vs {src.size(k)} in dimension {k})')
    _same_device(indptr, 'indptr', src)
    return d


def csr_args(src: Any, indptr: Any, out: Any) -> None:
    """Arguments of ``segment_*_csr``."""
    _src(src)
    d = _indptr_shape(src, indptr)
    if compiling():
        return
    if out is not None:
        _out(out, src, d, max(indptr.size(-1) - 1, 0))
    _indptr_values(indptr, src.size(d), f'src.size({d})')


def gather_csr_args(src: Any, indptr: Any, out: Any) -> None:
    """Arguments of ``gather_csr``: one ``src`` slice per segment."""
    _src(src)
    d = _indptr_shape(src, indptr)
    if compiling():
        return
    segments = max(indptr.size(-1) - 1, 0)
    if src.size(d) != segments:
        raise ValueError(f'src must have one entry per segment along dim {d} '
                         f'({segments} for indptr of shape '
                         f'{tuple(indptr.shape)}), got {src.size(d)}')
    upper, name = None, None
    if out is not None:
        upper = _out(out, src, d)
        name = f'out.size({d})'
    _indptr_values(indptr, upper if upper is not None else 2**62,
                   name or 'the output length')


def gather_coo_args(src: Any, index: Any, out: Any) -> None:
    """Arguments of ``gather_coo``: ``out[..., j, ...] = src[..., index[...,
    j], ...]`` along ``index.dim() - 1``."""
    _src(src)
    _ids(index, 'index')
    if index.dim() > src.dim():
        raise ValueError(f'index has {index.dim()} dimensions, more than src '
                         f'({src.dim()})')
    if compiling():
        return
    d = index.dim() - 1
    for k in range(d):
        if index.size(k) not in (1, src.size(k)):
            raise ValueError(
                f'index of shape {tuple(index.shape)} does not broadcast to '
                f'src of shape {tuple(src.shape)} (size {index.size(k)} vs '
                f'{src.size(k)} in dimension {k})')
    _same_device(index, 'index', src)
    if out is not None:
        _out(out, src, d, index.size(d))
    _id_range(index, 'index', src.size(d), f'src.size({d})')
