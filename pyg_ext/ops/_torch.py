"""Torch-native implementations: the CPU path, the fallback wherever Triton
is unavailable or loses, and the reference the kernels are tested against.

They reproduce PyG 2.8's forward exactly (``torch_geometric.utils.scatter``
/ ``segment``): empty groups give 0 (1 for ``mul``, the empty product);
``max``/``min`` use ``scatter_reduce_(include_self=False)`` on a zero tensor
(or ``torch._segment_reduce``). **Tie rule** (every backend): the gradient of a
group's max/min is split evenly among the group's ``src`` entries equal to
it (``1/k`` each for ``k`` ties), never given to the initial value. torch's
own backwards break it (``scatter_reduce_`` also counts the zero it starts
from when the extremum is exactly 0; ``_segment_reduce`` does not divide
negative gradients), so when a gradient is needed the max/min runs inside
:class:`_TieSplit`, whose forward is the same op (bit-identical) and whose
backward is :func:`tie_grad`. Without a gradient nothing changes.

Several ops have more than one implementation (``path``); which one is
fastest on CPU depends on the case (see :func:`pyg_ext.ops.dispatch.cpu_path`).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

_AREDUCE = {'max': 'amax', 'min': 'amin'}


def broadcast(index: Tensor, src: Tensor, dim: int) -> Tensor:
    """View ``index`` (1-D, along ``dim``) with ``src``'s shape."""
    shape = [1] * src.dim()
    shape[dim] = -1
    return index.view(shape).expand_as(src)


def tie_grad(grad: Tensor, src: Tensor, index: Tensor, dim: int,
             out: Tensor) -> Tensor:
    """Gradient w.r.t. ``src`` of ``out = max/min of src by index along
    dim``: ``grad[g] / k`` for each of the ``k`` entries of group ``g``
    equal to ``out[g]``, 0 elsewhere (differentiable in ``grad``)."""
    idx = broadcast(index.long(), src, dim)
    hit = src == out.gather(dim, idx)
    ties = torch.zeros_like(out).scatter_add_(dim, idx, hit.to(out.dtype))
    share = grad / ties.clamp(min=1)
    return torch.where(hit, share.gather(dim, idx), 0)


class _TieSplit(torch.autograd.Function):
    """max/min (forward: the torch op, unchanged) with the tie rule's
    backward."""

    @staticmethod
    def forward(ctx: Any, src: Tensor, index: Tensor | None, ptr: Tensor |
                None, dim: int, dim_size: int, reduce: str) -> Tensor:
        if ptr is None:
            out = _extremum_scatter(src, index, dim, dim_size, reduce)
        else:
            out = _extremum_segment(src, ptr, reduce)
        ctx.dim = dim
        ctx.save_for_backward(src, index if ptr is None else ptr, out)
        ctx.sorted = ptr is not None
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Any, ...]:
        src, index, out = ctx.saved_tensors
        if ctx.sorted:
            index = ptr2index(index, src.size(0))
        return tie_grad(grad, src, index, ctx.dim, out), None, None, None, \
            None, None


def _needs_grad(src: Tensor) -> bool:
    return src.requires_grad and torch.is_grad_enabled()


def _extremum_scatter(src: Tensor, index: Tensor, dim: int, dim_size: int,
                      reduce: str) -> Tensor:
    size = src.shape[:dim] + (dim_size,) + src.shape[dim + 1:]
    return src.new_zeros(size).scatter_reduce_(
        dim, broadcast(index.long(), src, dim), src,
        reduce=f'a{reduce[-3:]}', include_self=False)


def _extremum_segment(src: Tensor, ptr: Tensor, reduce: str) -> Tensor:
    out = torch._segment_reduce(src, _AREDUCE.get(reduce, reduce),
                                offsets=ptr.long(), initial=None)
    # empty segments come back as -inf/+inf: PyG maps them to 0
    deg = (ptr[1:] - ptr[:-1]).view(-1, *([1] * (src.dim() - 1)))
    return torch.where(deg > 0, out, out.new_zeros(()))


def _count(index: Tensor, dim_size: int, like: Tensor) -> Tensor:
    """Entries per group, at least 1, in ``like``'s dtype."""
    return torch.bincount(index, minlength=dim_size).to(like.dtype).clamp_(
        min=1)


def scatter_torch(src: Tensor, index: Tensor, dim: int, dim_size: int,
                  reduce: str, path: str = 'scatter_add') -> Tensor:
    """``torch_geometric.utils.scatter`` with torch ops only (``dim`` must
    be non-negative). ``path`` ``'index_add'`` runs ``sum``/``mean`` with
    ``index_add_`` (no expanded index), ``'scatter_reduce'`` a floating
    ``mean`` with ``scatter_reduce_(..., 'mean', include_self=False)``,
    anything else with ``scatter_add_`` as PyG does."""
    if reduce in ('max', 'min', 'amax', 'amin'):
        if src.requires_grad and torch.is_grad_enabled():
            return _TieSplit.apply(src, index, None, dim, dim_size, reduce)
        return _extremum_scatter(src, index, dim, dim_size, reduce)
    if path == 'index_add' and reduce in ('sum', 'add', 'mean'):
        shape = src.shape
        size = ((dim_size,) + shape[1:] if dim == 0
                else shape[:dim] + (dim_size,) + shape[dim + 1:])
        index = index.long()  # index_add_ is ~10x slower with int32 ids
        out = src.new_zeros(size).index_add_(dim, index, src)
        if reduce == 'mean':
            cnt = _count(index, dim_size, out)
            out = out / cnt.view([-1] + [1] * (len(shape) - dim - 1))
        return out
    index = index.long()
    size = src.shape[:dim] + (dim_size,) + src.shape[dim + 1:]
    if (reduce == 'mean' and path == 'scatter_reduce'
            and src.is_floating_point()):
        return src.new_zeros(size).scatter_reduce_(
            dim, broadcast(index, src, dim), src, 'mean', include_self=False)
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
    ``torch._segment_reduce``; empty segments give 0; max/min follow the
    tie rule."""
    red = _AREDUCE.get(reduce, reduce)
    if red in ('amax', 'amin'):
        if src.requires_grad and torch.is_grad_enabled():
            return _TieSplit.apply(src, None, ptr, 0, ptr.numel() - 1,
                                   reduce)
        return _extremum_segment(src, ptr, reduce)
    if red == 'add':
        red = 'sum'
    if red == 'sum':  # empty segments give 0 without ``initial`` (faster)
        return torch._segment_reduce(src, red, offsets=ptr.long())
    return torch._segment_reduce(src, red, offsets=ptr.long(), initial=0)


def _ids(t: Tensor) -> Tensor:
    """``t`` as an int64 index."""
    return t.long()  # a no-op for int64; int32 gathers are slower


def spmm_torch(x: Tensor, row: Tensor, col: Tensor, num_rows: int,
               weight: Tensor | None, reduce: str,
               path: str = 'gather_scatter') -> Tensor:
    """``out[i] = reduce_{e: row[e] = i} weight[e] * x[col[e]]`` the way
    PyG's default ``MessagePassing`` computes it (gather, then scatter;
    ``path='gather_index_add'`` scatters sum/mean with ``index_add_``)."""
    msg = x.index_select(0, _ids(col))
    if weight is not None:
        msg = msg * weight.view(-1, *([1] * (x.dim() - 1)))
    return scatter_torch(msg, row, 0, num_rows, reduce,
                         'index_add' if path == 'gather_index_add'
                         else 'scatter_add')


# CSR matrices built for torch.sparse.mm, kept for the same unmodified
# (rowptr, col, weight) tensors: building one costs ~20 us, a third of a
# small product. Keyed by the ids of the tensors, checked against weak
# references and version counters (an in-place write rebuilds). Weights
# that need a gradient are never cached (the values carry the graph). At
# most _CSR_MAX entries (oldest dropped first).
_CSR_CACHE: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_CSR_MAX = 8


def _stamp(t: Tensor | None) -> tuple[Any, ...]:
    if t is None:
        return ()
    return (t._version, t.data_ptr(), t.shape)


def _weak(t: Tensor | None) -> Any:
    return None if t is None else weakref.ref(t)


def csr_lookup(x: Tensor, rowptr: Tensor, col: Tensor,
               weight: Tensor | None) -> tuple[Tensor, Tensor, bool] | None:
    """The cached ``(adj, deg, checked)`` of :func:`csr_matrix` for these
    very tensors, unmodified, or ``None``."""
    if torch.compiler.is_compiling():
        return None
    hit = _CSR_CACHE.get((id(rowptr), id(col), id(weight), x.dtype,
                          x.size(0)))
    if hit is None:
        return None
    refs, stamps, adj, deg, checked = hit
    if (refs[0]() is rowptr and refs[1]() is col
            and (weight is None or refs[2]() is weight)
            and stamps == (_stamp(rowptr), _stamp(col), _stamp(weight))):
        return adj, deg, checked
    return None


def csr_matrix(x: Tensor, rowptr: Tensor, col: Tensor,
               weight: Tensor | None, checked: bool = False
               ) -> tuple[Tensor, Tensor, bool]:
    """The ``[N, x.size(0)]`` ``torch.sparse_csr`` matrix of ``(rowptr,
    col, weight)`` (ones without weights) in ``x``'s dtype and the row
    degrees clamped to 1 (``[N, 1]``, for ``mean``), cached with the flag
    ``checked`` (whether the caller validated ``rowptr`` and ``col``)
    unless the weights need a gradient."""
    if not checked:
        hit = csr_lookup(x, rowptr, col, weight)
        if hit is not None:
            return hit
    n = rowptr.numel() - 1
    values = (weight.to(x.dtype) if weight is not None
              else x.new_ones(col.numel()))
    # int32 ids where they fit: ``torch.sparse.mm``'s plain product (and
    # ``torch.mv``) run 6-20 % faster on them than on int64 ids (E = 1e4
    # and 1e5, F = 1..64, one thread; the ``amax``/``mean`` reductions
    # take the same time), with the same values
    idt = (torch.int32 if max(col.numel(), n + 1, x.size(0)) < 2**31
           else torch.int64)
    crow, cols = rowptr.to(idt), col.to(idt)
    perm = _row_major_order(crow, cols, x.size(0))
    if perm is not None:
        cols, values = cols.index_select(0, perm), values.index_select(0, perm)
    adj = _sparse_csr(crow, cols, values, (n, x.size(0)))
    deg = (rowptr[1:] - rowptr[:-1]).clamp(min=1).to(x.dtype).view(-1, 1)
    if (weight is not None and weight.requires_grad
            and torch.is_grad_enabled()) or torch.compiler.is_compiling() \
            or any(t is not None and t.is_inference()
                   for t in (rowptr, col, weight)):  # no version counter
        return adj, deg, checked
    try:
        refs = (weakref.ref(rowptr), weakref.ref(col), _weak(weight))
    except TypeError:
        return adj, deg, checked
    if len(_CSR_CACHE) >= _CSR_MAX:
        _CSR_CACHE.pop(next(iter(_CSR_CACHE)))
    _CSR_CACHE[(id(rowptr), id(col), id(weight), x.dtype, x.size(0))] = (
        refs, (_stamp(rowptr), _stamp(col), _stamp(weight)), adj, deg,
        checked)
    return adj, deg, checked


#: from this many entries on, :func:`csr_matrix` lists each row's columns
#: in increasing order (the gathers of ``x`` then walk memory forward:
#: ``torch.sparse.mm`` up to 1.3x faster at F = 16, E = 1e5..1e6; no gain
#: below, where ``x`` sits in cache, so small matrices skip the sort)
CSR_SORT_MIN = 1 << 16


def _row_major_order(crow: Tensor, col: Tensor, m: int) -> Tensor | None:
    """The permutation that sorts the entries of each CSR row by column,
    or ``None`` when they are sorted already, the matrix is small, or
    ``torch.compile`` traces (a permutation of entries within rows
    changes no product, only the order of its additions)."""
    if col.numel() < CSR_SORT_MIN or torch.compiler.is_compiling():
        return None
    rows = torch.repeat_interleave(
        torch.arange(crow.numel() - 1, dtype=torch.int64,
                     device=crow.device), crow.diff())
    key = rows * max(m, 1) + col
    if not bool((key[1:] < key[:-1]).any()):
        return None
    return torch.argsort(key, stable=True)


_CSR_QUIET = False


def _sparse_csr(crow: Tensor, col: Tensor, values: Tensor,
                size: tuple[int, int]) -> Tensor:
    global _CSR_QUIET
    if _CSR_QUIET:
        return torch.sparse_csr_tensor(crow, col, values, size,
                                       check_invariants=False)
    # torch warns once per process that sparse CSR is in beta: swallow that
    # one warning on the first call (a catch_warnings block on every call
    # costs ~10 us, 10 % of a small spmm)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        adj = torch.sparse_csr_tensor(crow, col, values, size,
                                      check_invariants=False)
        torch.sparse.mm(adj, values.new_zeros(size[1], 1))
    _CSR_QUIET = True
    return adj


def spmm_sparse_mm(x: Tensor, rowptr: Tensor, col: Tensor,
                   weight: Tensor | None, reduce: str,
                   path: str = 'sparse_mm', adj: Tensor | None = None,
                   deg: Tensor | None = None) -> Tensor:
    """SpMM through ``torch.sparse.mm`` on a cached CSR matrix (the fastest
    torch CPU path; differentiable in ``x`` and ``weight``). ``max``/``min``
    use its ``amax``/``amin`` reduction, whose backward gives a tie's
    gradient to one entry: callers take it only without a gradient.
    ``path='sparse_mm_mean'`` runs ``mean`` as its ``'mean'`` reduction
    instead of a sum and a division."""
    if adj is None or deg is None:
        adj, deg, _ = csr_matrix(x, rowptr, col, weight)
    return sparse_mm_fn(adj, deg, reduce, path)(x)


def sparse_mm_fn(adj: Tensor, deg: Tensor, reduce: str,
                 path: str = 'sparse_mm', x_cols: int = 0
                 ) -> Callable[[Tensor], Tensor]:
    """``x -> reduce_j adj[i, j] * x[j]`` through ``torch.sparse.mm`` (see
    :func:`spmm_sparse_mm`)."""
    if reduce in ('max', 'min'):
        red = _AREDUCE[reduce]
        return lambda x: torch.sparse.mm(adj, x, red)
    if reduce == 'mean':
        if path == 'sparse_mm_mean':
            return lambda x: torch.sparse.mm(adj, x, 'mean')
        if x_cols == 1 and path == 'sparse_mv':
            return lambda x: torch.mv(adj, x.reshape(-1)).view(-1, 1) / deg
        return lambda x: torch.sparse.mm(adj, x) / deg
    if x_cols == 1 and path == 'sparse_mv':
        # one feature: the sparse matrix-vector product (same sums)
        return lambda x: torch.mv(adj, x.reshape(-1)).view(-1, 1)
    return functools.partial(torch.sparse.mm, adj)


def index2ptr(index: Tensor, size: int) -> Tensor:
    """CSR pointer of a sorted index (no host sync)."""
    return torch._convert_indices_from_coo_to_csr(index, size=size)


def ptr2index(ptr: Tensor, numel: int) -> Tensor:
    """Row of every entry of a CSR pointer (no host sync on CUDA:
    ``numel`` given).

    On CPU the expansion is sized by ``ptr`` itself and compared with
    ``numel``: ``repeat_interleave`` with an ``output_size`` that its
    repeats overrun writes out of bounds (a malformed pointer passed with
    ``check=False`` crashed the process), and there the check is free.

    Raises:
        ValueError: (CPU) ``ptr`` is not a pointer over ``numel`` entries.
    """
    n = ptr.numel() - 1
    dtype = torch.int32 if numel < 2**31 and n < 2**31 else torch.int64
    rows = torch.arange(n, device=ptr.device, dtype=dtype)
    if ptr.is_cpu and not torch.compiler.is_compiling():
        try:
            out = torch.repeat_interleave(rows, ptr.diff())
        except RuntimeError as err:  # negative repeats
            raise ValueError(f'ptr is not a CSR pointer: {err}') from None
        if out.numel() != numel:
            raise ValueError(
                f'ptr is not a CSR pointer over {numel} entries (its '
                f'segments cover {out.numel()})')
        return out
    return torch.repeat_interleave(rows, ptr.diff(), output_size=numel)
