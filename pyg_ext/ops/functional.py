"""The public operators: ``scatter``, ``scatter_max``/``scatter_min``,
``segment``, ``softmax``/``scatter_softmax`` and the fused gather-reduce
``spmm``.

Signatures follow ``torch_scatter`` / ``torch_geometric.utils``; semantics
follow PyG 2.8: **empty groups give 0** for every reduction, and the
argmax/argmin of an empty group is the sentinel ``src.size(dim)`` (as in
``torch_scatter``). ``max``/``min`` gradients are split evenly between tied
elements (as ``torch.scatter_reduce_``; ``torch_scatter`` gives all of it to
one). Every op has a backward.

Each call goes to a Triton kernel or to torch ops as
:mod:`pyg_ext.ops.dispatch` decides; ``backend=`` overrides that per call.
Sorted paths (``segment``, ``spmm`` and ``scatter`` under
``torch.use_deterministic_algorithms(True)``) are bitwise deterministic; the
unsorted atomic ``scatter`` is not for ``sum``/``mean``.

**Input checks.** Every op validates its arguments before any unchecked
kernel (Triton, ``torch.sparse`` CSR products, ``index2ptr``) sees them and
raises :class:`TypeError` (wrong type or dtype) or :class:`ValueError` (bad
shape, unknown ``reduce``/``backend``, ``dim`` out of range, ids out of
range, a malformed CSR pointer) whose message names the argument. Shape and
type checks are free; the value checks cost about one ``aminmax`` per id
tensor (a host sync on CUDA), nothing where the kernel is torch's own
bounds-checked CPU scatter (its error is turned into the ``ValueError``).
Pass ``check=False`` to skip the value checks when the ids are known to be
valid (the ops do so for their internal calls); the Triton kernels still
mask every id, so nothing is written out of bounds, but the result is then
unspecified for bad ids. Value checks are also
skipped while ``torch.compile`` traces (no host syncs in graphs). NaN or
infinite values in ``src``/``x``/weights are not checked (that would cost a
pass over the data): they propagate as in torch.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from pyg_ext.ops._torch import (
    index2ptr,
    ptr2index,
    scatter_torch,
    segment_torch,
    spmm_sparse_mm,
    spmm_torch,
)
from pyg_ext.ops.dispatch import BACKENDS, choose, get_backend, mark_failed
from pyg_ext.utils.validation import (
    check_choice,
    check_edge_index,
    check_index,
    check_int,
    check_num_nodes,
    check_tensor,
)

logger = logging.getLogger(__name__)

_REDUCES = ('sum', 'add', 'mean', 'max', 'min', 'amax', 'amin', 'mul',
            'any')
#: the reductions of the sorted (segment / spmm) ops
_SORTED_REDUCES = ('sum', 'add', 'mean', 'max', 'min', 'amax', 'amin')


# ---------------------------------------------------------------- validation

def _validating(check: bool) -> bool:
    """Whether to run the value checks (host syncs): asked for, and not
    while ``torch.compile`` traces."""
    return bool(check) and not torch.compiler.is_compiling()


def _norm_reduce(reduce: Any, allowed: tuple[str, ...] = _REDUCES) -> str:
    check_choice(reduce, 'reduce', allowed)
    return {'add': 'sum', 'amax': 'max', 'amin': 'min'}.get(reduce, reduce)


def _check_backend(backend: Any) -> None:
    if backend is not None:
        check_choice(backend, 'backend', BACKENDS)


_INT_DTYPES = frozenset({torch.int64, torch.int32, torch.int16, torch.int8,
                         torch.uint8})


def _check_ids_1d(index: Any, name: str) -> Tensor:
    """A 1-D integer id tensor (fast path of ``check_tensor``)."""
    if not (isinstance(index, Tensor) and index.dim() == 1
            and index.dtype in _INT_DTYPES):
        check_tensor(index, name, dim=1, floating=False)
    return index


def _check_src(src: Any, name: str = 'src') -> Tensor:
    if not isinstance(src, Tensor):
        check_tensor(src, name)
    if src.dim() < 1:
        raise ValueError(f'{name} must have at least one dimension, got a '
                         f'0-d tensor')
    return src


def _check_dim(dim: Any, ndim: int) -> int:
    if not torch.compiler.is_compiling():
        dim = check_int(dim, 'dim')
    if dim < -ndim or dim >= ndim:
        raise ValueError(f'dim must lie in [{-ndim}, {ndim - 1}] for src with '
                         f'{ndim} dimensions, got {dim}')
    return dim + ndim if dim < 0 else dim


def _check_size(value: Any, name: str) -> int:
    """An ``int >= 0`` (a symbolic size passes untouched under compile)."""
    if torch.compiler.is_compiling():
        return value
    return check_num_nodes(value, name)


def _check_device(t: Tensor, name: str, ref: Tensor, ref_name: str) -> None:
    if t.device != ref.device:
        raise ValueError(f'{name} is on {t.device} but {ref_name} is on '
                         f'{ref.device}')


# Tensors whose values passed a check, so that a graph's ``rowptr`` / ``col``
# passed again to the next call (a training loop) is not re-read: id(t) ->
# (weak reference to t, what was checked, its version counter, data
# pointer, shape, stride). Any in-place torch op bumps the version counter
# and invalidates the entry; a freed tensor drops its entry. Writes that
# bypass torch (through a numpy view of the tensor) are not seen: pass such
# a tensor through ``.clone()`` before the next call.
_VALIDATED: dict[int, tuple[Any, ...]] = {}
_VALIDATED_MAX = 1024


def _state(t: Tensor, what: tuple[Any, ...]) -> tuple[Any, ...] | None:
    try:
        return (what, t._version, t.data_ptr(), tuple(t.shape), t.stride())
    except (RuntimeError, AttributeError, NotImplementedError):
        return None  # a tensor subclass without storage: never cached


def _known_valid(t: Tensor, what: tuple[Any, ...],
                 partner: Tensor | None = None) -> bool:
    """Whether ``t`` passed the check ``what`` unmodified (and, with
    ``partner``, against that very tensor, itself unmodified since)."""
    entry = _VALIDATED.get(id(t))
    if entry is None or entry[0]() is not t:
        return False
    if partner is not None and (entry[2] is None or entry[2]() is not partner
                                or entry[3] != partner._version):
        return False
    return entry[1] == _state(t, what)


def _remember_valid(t: Tensor, what: tuple[Any, ...],
                    partner: Tensor | None = None) -> None:
    state = _state(t, what)
    if state is None:
        return
    if len(_VALIDATED) >= _VALIDATED_MAX:
        _VALIDATED.clear()
    key = id(t)
    try:
        ref = weakref.ref(t, lambda _, k=key: _VALIDATED.pop(k, None))
        pref = weakref.ref(partner) if partner is not None else None
    except TypeError:
        return
    _VALIDATED[key] = (ref, state, pref,
                       partner._version if partner is not None else None)


def _check_ids(index: Tensor, name: str, size: int, size_name: str) -> None:
    """Every id of ``index`` in ``[0, size)`` (one ``aminmax``; skipped for
    the same unmodified tensor checked against the same size before)."""
    what = ('ids', size)
    if _known_valid(index, what):
        return
    try:
        check_index(index, name, size, dim=index.dim())
    except ValueError as e:
        raise ValueError(f'{e} ({size_name} = {size})') from None
    _remember_valid(index, what)


def _infer_size(index: Tensor, name: str, check: bool) -> int:
    """``index.max() + 1`` (0 when empty), refusing negative ids."""
    if index.numel() == 0:
        return 0
    if not _validating(check):
        return int(index.max()) + 1
    lo, hi = (int(v) for v in torch.aminmax(index))
    if lo < 0:
        raise ValueError(f'{name} must hold non-negative ids, found {lo}')
    return hi + 1


def _check_ptr(ptr: Any, name: str) -> Tensor:
    """Shape and dtype of a CSR pointer: 1-D integer, at least one entry."""
    _check_ids_1d(ptr, name)
    if ptr.numel() == 0:
        raise ValueError(f'{name} must hold at least one entry (the leading '
                         f'0 of a CSR pointer)')
    return ptr


def _check_ptr_values(ptr: Tensor, name: str, numel: int, what: str) -> None:
    """``ptr[0] = 0``, non-decreasing, ``ptr[-1] = numel``: one host sync
    (on CPU a zero-copy numpy view, a few microseconds); skipped for the
    same unmodified tensor checked before."""
    if _known_valid(ptr, ('ptr', numel)):
        return
    first = last = dec = None
    if ptr.device.type == 'cpu':
        try:
            a = ptr.numpy()
        except (RuntimeError, TypeError):  # a tensor subclass, say
            a = None
        if a is not None:
            first, last = int(a[0]), int(a[-1])
            dec = a.size > 1 and bool((a[1:] < a[:-1]).any())
    if first is None:
        dec_t = (ptr[1:] < ptr[:-1]).any().to(ptr.dtype)
        first, last, dec = torch.stack([ptr[0], ptr[-1], dec_t]).tolist()
    if first != 0:
        raise ValueError(f'{name} must start at 0, got {name}[0] = {first}')
    if dec:
        raise ValueError(f'{name} must be non-decreasing (a CSR pointer)')
    if last != numel:
        raise ValueError(f'{name} must end at {numel} ({what}), got '
                         f'{name}[-1] = {last}')
    _remember_valid(ptr, ('ptr', numel))


def _check_segment_ids(index: Any, name: str, numel: int,
                       ref: Tensor) -> Tensor:
    """Shape, dtype and device of an optional per-entry segment id (the
    expansion of a CSR pointer, passed to save a kernel)."""
    _check_ids_1d(index, name)
    if index.numel() != numel:
        raise ValueError(f'{name} has {index.numel()} entries, expected '
                         f'{numel} (one per entry)')
    _check_device(index, name, ref, 'src')
    return index


def _check_weight(weight: Any, num_edges: int,
                  name: str = 'edge_weight') -> Tensor | None:
    """``None`` or ``[E]`` / ``[E, 1]`` floating weights, returned as
    ``[E]``."""
    if weight is None:
        return None
    check_tensor(weight, name, dim=(1, 2), floating=True)
    if weight.size(0) != num_edges or (weight.dim() == 2
                                       and weight.size(1) != 1):
        raise ValueError(f'{name} must have shape [{num_edges}] (one weight '
                         f'per entry), got {tuple(weight.shape)}')
    return weight.reshape(-1)


def _check_sorted_inputs(ptr: Tensor, ptr_name: str, index: Tensor | None,
                         index_name: str, numel: int, what: str,
                         ptr_read: bool) -> None:
    """Value checks of a CSR pointer and its optional expansion: ``ptr``
    (starts at 0, non-decreasing, ends at ``numel``) and, when given,
    that ``index`` is exactly ``ptr``'s expansion (ids out of range are
    named as such). One pass each; the same unmodified pair passed again
    is not re-read (see ``_known_valid``)."""
    del ptr_read  # every kernel that takes index reads ptr's segments too
    _check_ptr_values(ptr, ptr_name, numel, what)
    if index is None:
        return
    key = ('rows_of', numel)
    if _known_valid(index, key, partner=ptr):
        return
    n = ptr.numel() - 1
    expected = ptr2index(ptr, numel)
    if index.numel() != numel or not bool(
            (index == expected.to(index.dtype)).all()):
        _check_ids(index, index_name, n, f'{ptr_name}.numel() - 1')
        raise ValueError(f'{index_name} must be the expansion of '
                         f'{ptr_name} (the segment id of every entry); it '
                         f'disagrees with {ptr_name}')
    _remember_valid(index, key, partner=ptr)


# ---------------------------------------------------------------- the ops

def _guarded(op: str, reduce: str, backend: str | None,
             kernel: Callable[[], Tensor],
             fallback: Callable[[], Tensor]) -> Tensor:
    """Run the Triton path; under ``'auto'`` a failure falls back to torch
    (and routes this op to torch from then on)."""
    if (backend or get_backend()) == 'triton':
        return kernel()
    try:
        return kernel()
    except Exception as e:  # e.g. a Triton compiler error on a new GPU
        mark_failed(op, reduce, e)
        return fallback()


def _flat(src: Tensor) -> Tensor:
    """``[E, ...]`` -> ``[E, F]`` (a view for contiguous input)."""
    feat = 1
    for s in src.shape[1:]:
        feat *= s
    return src.reshape(src.size(0), feat)


def _torch_checked(run: Callable[[], Tensor], index: Tensor, size: int,
                   name: str, size_name: str) -> Tensor:
    """Run a torch CPU scatter whose kernel bounds-checks ``index`` itself
    (``RuntimeError``), turning that error into the ``ValueError`` naming
    the argument: the range check costs nothing on valid input."""
    try:
        return run()
    except RuntimeError:
        _check_ids(index, name, size, size_name)
        raise


def _scatter_args(src: Any, index: Any, dim: Any, dim_size: Any,
                  reduce: Any, backend: Any, check: bool,
                  size_name: str = 'dim_size', defer: bool = False
                  ) -> tuple[int, int, str]:
    """Validate the arguments of :func:`scatter`; returns the non-negative
    ``dim``, ``dim_size`` (inferred if ``None``) and the reduce name. With
    ``defer`` the range check of a given ``dim_size`` is left to the
    caller."""
    _check_src(src)
    _check_ids_1d(index, 'index')
    dim = _check_dim(dim, src.dim())
    if index.numel() != src.size(dim):
        raise ValueError(f'index has {index.numel()} entries but src has '
                         f'{src.size(dim)} along dim {dim}')
    _check_device(index, 'index', src, 'src')
    reduce = _norm_reduce(reduce)
    _check_backend(backend)
    if dim_size is None:
        dim_size = _infer_size(index, 'index', check)
    else:
        dim_size = _check_size(dim_size, size_name)
        if not defer and _validating(check):
            _check_ids(index, 'index', dim_size, size_name)
    return dim, dim_size, reduce


def scatter(src: Tensor, index: Tensor, dim: int = 0,
            dim_size: int | None = None, reduce: str = 'sum', *,
            backend: str | None = None, check: bool = True) -> Tensor:
    r"""Reduce ``src`` into ``dim_size`` groups along ``dim`` by ``index``.

    Drop-in for :func:`torch_geometric.utils.scatter` (and
    ``torch_scatter.scatter``): ``reduce`` is ``'sum'``/``'add'``,
    ``'mean'``, ``'max'``, ``'min'``, ``'mul'`` or ``'any'``. Pass
    ``dim_size`` to avoid a host sync (``index.max()``). Empty groups are 0.

    Args:
        src: values, any shape.
        index: 1-D group of each slice of ``src`` along ``dim`` (int32 or
            int64; need not be sorted).
        dim: the dimension to reduce.
        dim_size: number of groups (default ``index.max() + 1``).
        reduce: the reduction.
        backend: ``'auto'``, ``'triton'`` or ``'torch'`` for this call.
        check: check that every id lies in ``[0, dim_size)`` (one
            ``aminmax``; free on the CPU torch path, whose kernel checks
            them itself); ``False`` only for ids known to be valid.

    Raises:
        TypeError: ``src``/``index`` not tensors, float ``index``, ``dim``
            or ``dim_size`` not an int, ``reduce`` not a str.
        ValueError: ``index`` not 1-D or not matching ``src.size(dim)``,
            ``dim`` out of range, ids out of ``[0, dim_size)``, negative
            ``dim_size``, unknown ``reduce`` or ``backend``.
    """
    given = dim_size is not None
    dim, dim_size, reduce = _scatter_args(src, index, dim, dim_size, reduce,
                                          backend, check, defer=True)
    how = 'torch'
    if dim == 0:
        how = choose('scatter', src, reduce, src.numel(), backend)
    # ids are checked before any kernel that does not check them itself;
    # torch's CPU scatter does (an inferred dim_size was checked already)
    pending = given and _validating(check)
    if pending and (how == 'triton' or src.device.type != 'cpu'):
        _check_ids(index, 'index', dim_size, 'dim_size')
        pending = False
    if pending:
        return _torch_checked(
            lambda: scatter_torch(src, index, dim, dim_size, reduce), index,
            dim_size, 'index', 'dim_size')
    if dim == 0:
        if how == 'triton' and torch.are_deterministic_algorithms_enabled():
            # sort once, then the deterministic segment kernel
            perm = torch.argsort(index, stable=True)
            row = index.index_select(0, perm)
            ptr = index2ptr(row, dim_size)
            from pyg_ext.ops._custom import segment_csr_op
            out = segment_csr_op(_flat(src).index_select(0, perm), row, ptr,
                                 reduce)
            return out.view((dim_size,) + src.shape[1:])
    if how == 'triton':
        from pyg_ext.ops._custom import scatter_atomic_op
        size = (dim_size,) + src.shape[1:]
        return _guarded(
            'scatter', reduce, backend,
            lambda: scatter_atomic_op(_flat(src), index, dim_size,
                                      reduce).view(size),
            lambda: scatter_torch(src, index, dim, dim_size, reduce))
    return scatter_torch(src, index, dim, dim_size, reduce)


def _arg(src: Tensor, index: Tensor, dim: int, out: Tensor) -> Tensor:
    """Smallest position whose value equals its group's result; the sentinel
    ``src.size(dim)`` for empty groups."""
    from pyg_ext.ops._torch import broadcast
    n = src.size(dim)
    idx = broadcast(index.long(), src, dim)
    shape = [1] * src.dim()
    shape[dim] = -1
    pos = torch.arange(n, device=src.device).view(shape).expand_as(src)
    hit = src == out.gather(dim, idx)
    cand = torch.where(hit, pos, torch.full_like(pos, n))
    arg = torch.full(out.shape, n, dtype=torch.long, device=src.device)
    return arg.scatter_reduce_(dim, idx, cand, 'amin', include_self=True)


def scatter_max(src: Tensor, index: Tensor, dim: int = 0,
                dim_size: int | None = None, *,
                backend: str | None = None,
                check: bool = True) -> tuple[Tensor, Tensor]:
    """``(max, argmax)`` per group, as ``torch_scatter.scatter_max``.
    Empty groups: max 0, argmax ``src.size(dim)``; ties: the first.
    Arguments and errors as for :func:`scatter`."""
    out = scatter(src, index, dim, dim_size, 'max', backend=backend,
                  check=check)
    dim = dim + src.dim() if dim < 0 else dim  # checked by scatter
    return out, _arg(src.detach(), index, dim, out.detach())


def scatter_min(src: Tensor, index: Tensor, dim: int = 0,
                dim_size: int | None = None, *,
                backend: str | None = None,
                check: bool = True) -> tuple[Tensor, Tensor]:
    """``(min, argmin)`` per group, as ``torch_scatter.scatter_min``.
    Arguments and errors as for :func:`scatter`."""
    out = scatter(src, index, dim, dim_size, 'min', backend=backend,
                  check=check)
    dim = dim + src.dim() if dim < 0 else dim  # checked by scatter
    return out, _arg(src.detach(), index, dim, out.detach())


def segment(src: Tensor, ptr: Tensor, reduce: str = 'sum', *,
            index: Tensor | None = None,
            backend: str | None = None, check: bool = True) -> Tensor:
    r"""Reduce ``src`` along dim 0 over the sorted ranges
    ``[ptr[i], ptr[i + 1])`` (CSR), like ``torch_scatter.segment_csr`` and
    :func:`torch_geometric.utils.segment` with a 1-D ``ptr``.

    Deterministic bit for bit on every backend. The Triton kernel balances
    work over edges, not rows, so a hub row does not serialise a block.

    Args:
        src: ``[E, ...]`` values sorted by segment.
        ptr: ``[N + 1]`` offsets, ``ptr[0] = 0``, ``ptr[-1] = E``.
        reduce: ``'sum'``, ``'mean'``, ``'max'`` or ``'min'``.
        index: optional ``[E]`` segment of each row; saves one small
            kernel when the caller has it. It must be ``ptr``'s expansion
            (``index[e] = i`` for ``ptr[i] <= e < ptr[i + 1]``); only its
            range is checked, a mismatch within range is not detected.
        backend: ``'auto'``, ``'triton'`` or ``'torch'`` for this call.
        check: check ``ptr`` (starts at 0, non-decreasing, ends at ``E``)
            where a kernel reads it, and that ``index`` lies in ``[0, N)``;
            ``False`` only for inputs known to be valid.

    Raises:
        TypeError: non-tensor or float ``ptr``/``index``, ``reduce`` not a
            str.
        ValueError: ``ptr`` not 1-D or not a CSR pointer of ``src``,
            ``index`` of the wrong length or with ids outside ``[0, N)``,
            unknown ``reduce`` or ``backend``.
    """
    _check_src(src)
    reduce = _norm_reduce(reduce, _SORTED_REDUCES)
    _check_backend(backend)
    _check_ptr(ptr, 'ptr')
    _check_device(ptr, 'ptr', src, 'src')
    if index is not None:
        _check_segment_ids(index, 'index', src.size(0), src)
    how = choose('segment', src, reduce, src.numel(), backend)
    validate = _validating(check)
    if validate:
        _check_sorted_inputs(ptr, 'ptr', index, 'index', src.size(0),
                             'the number of rows of src', True)
    if how == 'triton':
        from pyg_ext.ops._custom import segment_csr_op
        row = index if index is not None else ptr2index(ptr, src.size(0))
        size = (ptr.numel() - 1,) + src.shape[1:]
        return _guarded(
            'segment', reduce, backend,
            lambda: segment_csr_op(_flat(src), row, ptr, reduce).view(size),
            lambda: segment_torch(src, ptr, reduce))
    if src.device.type == 'cpu':
        # CPU: scatter_add_/scatter_reduce_ on the (sorted) index run 3-7x
        # faster than torch._segment_reduce, with the same results
        if index is None:
            return scatter_torch(src, ptr2index(ptr, src.size(0)), 0,
                                 ptr.numel() - 1, reduce)
        if not validate:
            return scatter_torch(src, index, 0, ptr.numel() - 1, reduce)
        return _torch_checked(
            lambda: scatter_torch(src, index, 0, ptr.numel() - 1, reduce),
            index, ptr.numel() - 1, 'index', 'ptr.numel() - 1')
    return segment_torch(src, ptr, reduce)


class _MissingIndexError(ValueError, NotImplementedError):
    """:func:`softmax` called without ``index`` or a usable ``ptr``: a
    :class:`ValueError` that PyG-style ``except NotImplementedError`` also
    catches."""


def softmax(src: Tensor, index: Tensor | None = None,
            ptr: Tensor | None = None, num_nodes: int | None = None,
            dim: int = 0, *, backend: str | None = None,
            check: bool = True) -> Tensor:
    r"""Sparsely evaluated softmax over groups, as
    :func:`torch_geometric.utils.softmax` (same formula, same ``1e-16``
    guard), with the group max and sum computed by :func:`segment` (given
    ``ptr`` and ``dim = 0``) or :func:`scatter`.

    ``check`` and the errors are those of :func:`segment` (with ``ptr``) or
    :func:`scatter` (with ``index``; ``num_nodes`` is its ``dim_size``).
    Without ``index`` and a usable ``ptr`` it raises an error that is both
    a :class:`ValueError` (bad input, the project's convention) and a
    :class:`NotImplementedError` (what PyG raises there, so code written
    for PyG keeps catching it).
    """
    return _softmax(src, index, ptr, num_nodes, dim, backend, check,
                    'num_nodes')


def _softmax(src: Any, index: Any, ptr: Any, num_nodes: Any, dim: Any,
             backend: Any, check: bool, size_name: str) -> Tensor:
    _check_src(src)
    dim = _check_dim(dim, src.dim())
    _check_backend(backend)
    if ptr is not None:
        check_tensor(ptr, 'ptr', floating=False)
    if ptr is not None and ptr.dim() == 1 and dim == 0:
        _check_ptr(ptr, 'ptr')
        _check_device(ptr, 'ptr', src, 'src')
        if index is not None:
            _check_segment_ids(index, 'index', src.size(0), src)
        if _validating(check):
            how = choose('segment', src, 'max', src.numel(), backend)
            _check_sorted_inputs(ptr, 'ptr', index, 'index', src.size(0),
                                 'the number of rows of src',
                                 how == 'triton' or src.device.type != 'cpu')
        if index is None:
            index = ptr2index(ptr, src.size(0))
        idx = index.long()
        src_max = segment(src.detach(), ptr, 'max', index=index,
                          backend=backend, check=False)
        out = (src - src_max.index_select(0, idx)).exp()
        out_sum = segment(out, ptr, 'sum', index=index, backend=backend,
                          check=False)
        out_sum = out_sum + 1e-16
        return out / out_sum.index_select(0, idx)
    if index is None:
        raise _MissingIndexError("softmax requires 'index' (or a 1-D 'ptr' "
                                 "with dim=0)")
    dim, n, _ = _scatter_args(src, index, dim, num_nodes, 'max', backend,
                              check, size_name)
    src_max = scatter(src.detach(), index, dim, n, 'max', backend=backend,
                      check=False)
    out = (src - src_max.index_select(dim, index.long())).exp()
    out_sum = scatter(out, index, dim, n, 'sum', backend=backend,
                      check=False) + 1e-16
    return out / out_sum.index_select(dim, index.long())


def scatter_softmax(src: Tensor, index: Tensor, dim: int = 0,
                    dim_size: int | None = None, *,
                    backend: str | None = None,
                    check: bool = True) -> Tensor:
    """``torch_scatter.scatter_softmax`` signature for :func:`softmax`;
    arguments and errors as for :func:`scatter`."""
    _check_ids_1d(index, 'index')
    return _softmax(src, index, None, dim_size, dim, backend, check,
                    'dim_size')


def spmm_csr(rowptr: Tensor, col: Tensor, x: Tensor,
             edge_weight: Tensor | None = None, reduce: str = 'sum', *,
             row: Tensor | None = None,
             backend: str | None = None, check: bool = True) -> Tensor:
    r"""Fused gather-reduce over a CSR matrix:
    ``out[i] = reduce_{e in [rowptr[i], rowptr[i+1])} w[e] * x[col[e]]``.

    The Triton kernel never materialises the ``[E, F]`` messages (PyG's
    default path does). Empty rows are 0; deterministic.

    Args:
        rowptr: ``[N + 1]`` CSR offsets of the output rows.
        col: ``[E]`` input row (column) of each entry.
        x: ``[M, ...]`` input features.
        edge_weight: optional ``[E]`` weights.
        reduce: ``'sum'``, ``'mean'``, ``'max'`` or ``'min'``.
        row: optional ``[E]`` output row of each entry (saves a kernel).
        backend: ``'auto'``, ``'triton'`` or ``'torch'`` for this call.
        check: check ``rowptr`` (starts at 0, non-decreasing, ends at
            ``E``), that every ``col`` lies in ``[0, M)`` (one
            ``aminmax``) and, where it is used, that ``row`` lies in
            ``[0, N)`` (it must be ``rowptr``'s expansion; a mismatch
            within range is not detected). ``False`` only for inputs known
            to be valid: the CPU ``torch.sparse`` path reads unchecked ids.
            The same unmodified ``rowptr`` / ``col`` tensors passed again
            are not re-read (any in-place torch write re-checks them; a
            write through a numpy view is not seen).

    Raises:
        TypeError: non-tensor arguments, float ids, integer
            ``edge_weight``, ``reduce`` not a str.
        ValueError: malformed ``rowptr``, ``col`` out of ``[0, M)``,
            ``row`` out of ``[0, N)``, shapes that do not agree,
            unknown ``reduce`` or ``backend``.
    """
    _check_ids_1d(col, 'col')
    _check_src(x, 'x')
    reduce = _norm_reduce(reduce, _SORTED_REDUCES)
    _check_backend(backend)
    num_edges = col.numel()
    _check_ptr(rowptr, 'rowptr')
    edge_weight = _check_weight(edge_weight, num_edges)
    for t, name in ((rowptr, 'rowptr'), (col, 'col'),
                    (edge_weight, 'edge_weight')):
        if t is not None:
            _check_device(t, name, x, 'x')
    if row is not None:
        _check_segment_ids(row, 'row', num_edges, x)
    validate = _validating(check)
    if validate:
        _check_ids(col, 'col', x.size(0), 'x.size(0)')
    n = rowptr.numel() - 1
    feat = 1
    for s in x.shape[1:]:
        feat *= s
    how = choose('spmm', x, reduce, num_edges * feat, backend)
    # torch.sparse.mm cannot differentiate the values of a CSR matrix with
    # repeated entries (multigraphs): weights that need a gradient take the
    # gather + scatter path
    w_grad = (edge_weight is not None and edge_weight.requires_grad
              and torch.is_grad_enabled())
    if how == 'torch' and x.device.type == 'cpu' and reduce in (
            'sum', 'mean') and x.dim() == 2 and x.dtype in (
                torch.float32, torch.float64) and not w_grad:
        # CPU: torch.sparse.mm beats gather + scatter by 10-40x
        if validate:
            _check_ptr_values(rowptr, 'rowptr', num_edges,
                              'the number of entries of col')
        return spmm_sparse_mm(x, rowptr, col, edge_weight, reduce)
    if validate:
        _check_sorted_inputs(rowptr, 'rowptr', row, 'row', num_edges,
                             'the number of entries of col', how == 'triton')
    if row is None:
        row = ptr2index(rowptr, num_edges)
    if how == 'triton':
        from pyg_ext.ops._custom import segment_csr_op
        w = edge_weight.to(x.dtype) if edge_weight is not None else None
        r = row
        return _guarded(
            'spmm', reduce, backend,
            lambda: segment_csr_op(_flat(x), r, rowptr, reduce, col,
                                   w).view((n,) + x.shape[1:]),
            lambda: spmm_torch(x, r, col, n, edge_weight, reduce))
    return spmm_torch(x, row, col, n, edge_weight, reduce)


def _check_adj(adj: Tensor, x: Tensor, edge_weight: Any,
               num_nodes: Any) -> None:
    """Shape checks of a sparse ``adj`` against ``x`` and the arguments
    that only apply to an ``edge_index``."""
    if adj.size(1) != x.size(0):
        raise ValueError(f'adj has {adj.size(1)} columns but x has '
                         f'{x.size(0)} rows (out = adj @ x)')
    if edge_weight is not None:
        raise ValueError('edge_weight must be None for a sparse adj (its '
                         'values are the weights)')
    if num_nodes is not None and num_nodes != adj.size(0):
        raise ValueError(f'num_nodes = {num_nodes} disagrees with adj of '
                         f'shape {tuple(adj.shape)}')


def spmm(adj: Tensor, x: Tensor, reduce: str = 'sum',
         edge_weight: Tensor | None = None, num_nodes: int | None = None, *,
         is_sorted: bool = False, backend: str | None = None,
         check: bool = True) -> Tensor:
    r"""Fused gather-reduce (message passing without an ``[E, F]``
    message tensor).

    ``adj`` is either a ``torch.sparse_csr`` (or ``sparse_coo``) matrix
    ``[N, M]`` (values are the edge weights; PyG's ``adj_t`` convention,
    ``out = adj @ x``) or an ``edge_index`` ``[2, E]`` in PyG's
    ``source_to_target`` flow: ``out[i] = reduce_{(j, i) in E} w_ji *
    x[j]``. An ``edge_index`` is sorted by target first unless
    ``is_sorted=True`` says it already is.

    Args:
        adj: sparse CSR/COO matrix or ``edge_index``.
        x: ``[M, ...]`` node features.
        reduce: ``'sum'``, ``'mean'``, ``'max'`` or ``'min'``.
        edge_weight: ``[E]`` weights for an ``edge_index``.
        num_nodes: number of output rows for an ``edge_index``
            (default ``x.size(0)``).
        is_sorted: whether ``edge_index[1]`` is sorted.
        backend: ``'auto'``, ``'triton'`` or ``'torch'`` for this call.
        check: check the ids (sparse indices are not validated by torch:
            a bad one crashes the process); ``False`` only for inputs known
            to be valid.

    Raises:
        TypeError: non-tensor ``adj``/``x``, float ``edge_index``,
            integer ``edge_weight``, ``reduce`` not a str.
        ValueError: ``edge_index`` not ``[2, E]``, ids out of range
            (``edge_index[0]`` in ``[0, M)``, ``edge_index[1]`` in
            ``[0, num_nodes)``, sparse indices within ``adj``'s shape), a
            malformed CSR pointer, ``adj.size(1) != M``, ``edge_weight``
            with a sparse ``adj``, an unsorted ``edge_index`` with
            ``is_sorted=True``, unknown ``reduce`` or ``backend``.
    """
    check_tensor(adj, 'adj')
    _check_src(x, 'x')
    reduce = _norm_reduce(reduce, _SORTED_REDUCES)
    _check_backend(backend)
    _check_device(adj, 'adj', x, 'x')
    validate = _validating(check)
    if adj.layout == torch.sparse_coo:
        if adj.sparse_dim() != 2 or adj.dense_dim() != 0:
            raise ValueError(f'adj must be a 2-D sparse matrix without dense '
                             f'dimensions, got shape {tuple(adj.shape)}')
        _check_adj(adj, x, edge_weight, num_nodes)
        if validate:
            idx = adj._indices()
            _check_ids(idx[0], 'adj row indices', adj.size(0), 'adj.size(0)')
            _check_ids(idx[1], 'adj column indices', adj.size(1),
                       'adj.size(1)')
        return spmm(adj.to_sparse_csr(), x, reduce, backend=backend,
                    check=False)
    if adj.layout == torch.sparse_csr:
        if adj.dim() != 2 or adj.values().dim() != 1:
            raise ValueError(f'adj must be a 2-D sparse CSR matrix without '
                             f'batch or dense dimensions, got shape '
                             f'{tuple(adj.shape)}')
        _check_adj(adj, x, edge_weight, num_nodes)
        crow, col, values = (adj.crow_indices(), adj.col_indices(),
                             adj.values())
        if validate:
            _check_ptr_values(crow, 'adj.crow_indices()', col.numel(),
                              'the number of stored entries of adj')
            _check_ids(col, 'adj.col_indices()', adj.size(1), 'adj.size(1)')
        if not values.is_floating_point():
            values = values.to(x.dtype if x.is_floating_point()
                               else torch.float32)
        return spmm_csr(crow, col, x, values, reduce, backend=backend,
                        check=False)
    if adj.layout != torch.strided:
        raise ValueError(f'adj must be a sparse CSR or COO matrix or an '
                         f'edge_index [2, E], got layout {adj.layout}')
    check_tensor(adj, 'edge_index', floating=False)
    if adj.dim() != 2 or adj.size(0) != 2:
        raise ValueError(f'adj must be a sparse CSR matrix or an edge_index '
                         f'of shape [2, E], got shape {tuple(adj.shape)}')
    n = x.size(0) if num_nodes is None else _check_size(num_nodes,
                                                         'num_nodes')
    edge_weight = _check_weight(edge_weight, adj.size(1))
    if edge_weight is not None:
        _check_device(edge_weight, 'edge_weight', x, 'x')
    src, dst = adj[0], adj[1]
    if validate:
        if n == x.size(0):
            if not _known_valid(adj, ('ids', n)):
                check_edge_index(adj, n)
                _remember_valid(adj, ('ids', n))
        else:
            _check_ids(src, 'edge_index[0] (sources)', x.size(0), 'x.size(0)')
            _check_ids(dst, 'edge_index[1] (targets)', n, 'num_nodes')
        if is_sorted and dst.numel() > 1 and bool((dst[1:] < dst[:-1]).any()):
            raise ValueError('edge_index[1] must be sorted when '
                             'is_sorted=True')
    if not is_sorted:
        perm = torch.argsort(dst, stable=True)
        src, dst = src.index_select(0, perm), dst.index_select(0, perm)
        if edge_weight is not None:
            edge_weight = edge_weight.index_select(0, perm)
    rowptr = index2ptr(dst, n)
    return spmm_csr(rowptr, src, x, edge_weight, reduce, row=dst,
                    backend=backend, check=False)


__all__ = ['scatter', 'scatter_max', 'scatter_min', 'scatter_softmax',
           'segment', 'softmax', 'spmm', 'spmm_csr']
