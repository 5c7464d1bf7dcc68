"""The functions :func:`pyg_ext.ops.pyg_switch` puts into PyG, written so
that ``torch.jit.script`` and ``torch.compile(fullgraph=True)`` accept them.

Each patched function has two branches:

* eager Python (and ``torch.compile``, which traces it): the
  :mod:`pyg_ext.ops` operators with their backend dispatch and input
  checks;
* TorchScript (``torch.jit.is_scripting()``; the eager branch is not even
  compiled): a torch-only copy of the ops' torch path below, so a scripted
  model gives the eager result of the ``'torch'`` backend (up to the
  rounding of a different summation order; max/min gradients follow the
  same tie rule), with the same checks, raised as TorchScript errors
  (``torch.jit.Error``) carrying the same messages. Scripted code never
  runs the Triton kernels: TorchScript cannot call Python dispatch.

Errors follow PyG's where PyG words its own: ``scatter`` raises PyG's
messages for a non-1-D ``index``, a ``dim`` out of range and an unknown
``reduce``, and an id out of range is a :class:`ValueError` that is also an
:class:`IndexError` (:class:`PyGIndexError`), so that
``Aggregation.__call__`` turns it into its "invalid 'dim_size'" error as it
does for torch's own out-of-bounds error.

This module imports ``torch_geometric`` (the switch imports it lazily, on
first use) and reads PyG's originals of what it replaces at import, before
anything is patched (:data:`REPLACEMENTS` maps them to ours).

Nothing here is public API: use :func:`pyg_ext.ops.pyg_switch`.
"""

import logging
from typing import Any, Optional

import torch
import torch_geometric.utils._scatter as _tg_scatter
import torch_geometric.utils._segment as _tg_segment
import torch_geometric.utils._softmax as _tg_softmax
import torch_geometric.utils._spmm as _tg_spmm
from torch import Tensor
from torch_geometric.nn.aggr.base import Aggregation, expand_left
from torch_geometric.typing import Adj

from pyg_ext.ops import functional as _F

logger = logging.getLogger(__name__)

# PyG's originals, read where they are defined, before any patching (this
# module is imported by the switch before it patches anything)
_ORIG_SCATTER = _tg_scatter.scatter
_ORIG_SEGMENT = _tg_segment.segment
_ORIG_SOFTMAX = _tg_softmax.softmax
_ORIG_SPMM = _tg_spmm.spmm


# reduce names (literals inside functions: TorchScript cannot read a
# global list or tuple)
def _is_scatter_reduce(reduce: str) -> bool:
    """A reduce name of ``pyg_ext.ops.scatter``."""
    return reduce in ['sum', 'add', 'mean', 'max', 'min', 'amax', 'amin',
                      'mul', 'any']


def _is_sorted_reduce(reduce: str) -> bool:
    """A reduce name of ``pyg_ext.ops.segment`` / ``spmm``."""
    return reduce in ['sum', 'add', 'mean', 'max', 'min', 'amax', 'amin']


def _is_routed(reduce: str) -> bool:
    """A reduction the switch sends to pyg_ext's ``segment`` / ``spmm``."""
    return reduce in ['sum', 'add', 'mean', 'max', 'min']


class PyGIndexError(ValueError, IndexError):
    """An id out of range under the PyG switch: a :class:`ValueError`
    (this project's convention) that PyG's ``except IndexError`` handlers
    (``Aggregation.__call__``) also catch, as they catch torch's own
    out-of-bounds error."""


# ------------------------------------------------------------ shared checks

def _pyg_scatter_message(src: Tensor, index: Tensor, dim: int,
                         reduce: str) -> Optional[str]:
    """PyG's own wording for the errors ``torch_geometric.utils.scatter``
    checks itself (``index`` not 1-D, ``dim`` out of range, unknown
    ``reduce``), or ``None``."""
    if index.dim() != 1:
        return (f'The `index` argument must be one-dimensional (got '
                f'{index.dim()} dimensions)')
    d = src.dim() + dim if dim < 0 else dim
    if d < 0 or d >= src.dim():
        return (f'The `dim` argument must lay between 0 and '
                f'{src.dim() - 1} (got {d})')
    if not _is_scatter_reduce(reduce):
        return f"Encountered invalid `reduce` argument '{reduce}'"
    return None


def _ids_out_of_range(index: Tensor, size: Optional[int]) -> bool:
    """Whether ``index`` holds an id outside ``[0, size)`` (negative only,
    when ``size`` is ``None``)."""
    if index.numel() == 0:
        return False
    if bool(index.min() < 0):
        return True
    return size is not None and bool(index.max() >= size)


# ----------------------------------------------------------- eager branch

@torch.jit.unused
def _scatter_eager(src: Tensor, index: Tensor, dim: int,
                   dim_size: Optional[int], reduce: str) -> Tensor:
    try:
        return _F.scatter(src, index, dim, dim_size, reduce)
    except ValueError as e:
        msg = None
        if isinstance(src, Tensor) and isinstance(index, Tensor):
            try:
                msg = _pyg_scatter_message(src, index, dim, reduce)
            except Exception:  # odd argument types: keep pyg_ext's error
                msg = None
        if msg is not None:
            raise ValueError(msg) from e
        if (isinstance(index, Tensor) and index.dim() == 1
                and not index.is_floating_point()
                and _ids_out_of_range(index, dim_size)):
            raise PyGIndexError(str(e)) from None
        raise


@torch.jit.unused
def _segment_eager(src: Tensor, ptr: Tensor, reduce: str,
                   index: Optional[Tensor]) -> Tensor:
    return _F.segment(src, ptr, reduce, index=index)


@torch.jit.unused
def _softmax_eager(src: Tensor, index: Optional[Tensor],
                   ptr: Optional[Tensor], num_nodes: Optional[int],
                   dim: int) -> Tensor:
    return _F.softmax(src, index, ptr, num_nodes, dim)


@torch.jit.unused
def _spmm_eager(src: Tensor, other: Tensor, reduce: str) -> Tensor:
    return _F.spmm(src, other, reduce)


# ------------------------------------------- TorchScript branch (torch only)

def _check_ids_script(index: Tensor, name: str, size: int,
                      size_name: str) -> None:
    if index.numel() > 0:
        lo = int(index.min())
        hi = int(index.max())
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            raise ValueError(f'{name} must hold ids in [0, {size}), found '
                             f'{bad} ({size_name} = {size})')


def _check_int_ids_script(index: Tensor, name: str) -> None:
    if index.dim() != 1:
        raise ValueError(f'{name} must be 1-D, got shape {index.shape}')
    if (index.is_floating_point() or index.is_complex()
            or index.dtype == torch.bool):
        raise TypeError(f'{name} must have an integer dtype, got '
                        f'{index.dtype}')


def _check_src_script(src: Tensor, name: str) -> None:
    if src.dim() < 1:
        raise ValueError(f'{name} must have at least one dimension, got a '
                         f'0-d tensor')


def _check_dtype_script(src: Tensor, reduce: str, name: str) -> None:
    """``pyg_ext.ops.functional._check_src_dtype`` (``reduce``
    normalised)."""
    if src.dtype == torch.bool and reduce == 'mean':
        raise TypeError(f"{name} must not be bool for reduce='mean' (cast "
                        f"it to a floating dtype first), got {src.dtype}")
    if src.is_complex() and (reduce == 'mean' or reduce == 'max'
                             or reduce == 'min'):
        raise TypeError(f"{name} must be a real (not complex) tensor for "
                        f"reduce='{reduce}', got {src.dtype}")


def _broadcast(index: Tensor, src: Tensor, dim: int) -> Tensor:
    shape = [1] * src.dim()
    shape[dim] = -1
    return index.view(shape).expand_as(src)


def _extremum_tie_split(src: Tensor, index: Tensor, idx: Tensor, dim: int,
                        dim_size: int, size: list[int], red: str) -> Tensor:
    """max/min with pyg_ext's tie rule for the gradient (split evenly among
    the ``src`` entries equal to the group's result, none to the initial
    value), without an autograd.Function (TorchScript has none): starting
    from NaN, the initial value never ties in ``scatter_reduce_``'s
    backward; empty groups are then set to 0. The forward values are those
    of the zero start (``include_self=False`` ignores the start)."""
    out = src.new_full(size, float('nan')).scatter_reduce_(
        dim, idx, src, reduce=red, include_self=False)
    shape = [1] * src.dim()
    shape[dim] = -1
    filled = torch.zeros(dim_size, dtype=torch.bool,
                         device=src.device).index_fill_(0, index, True)
    return torch.where(filled.view(shape), out, out.new_zeros(()))


def _scatter_torch(src: Tensor, index: Tensor, dim: int, dim_size: int,
                   reduce: str) -> Tensor:
    """``pyg_ext.ops._torch.scatter_torch`` (``dim >= 0``, ``reduce``
    normalised)."""
    index = index.long()
    size = list(src.shape)
    size[dim] = dim_size
    idx = _broadcast(index, src, dim)
    if reduce == 'sum':
        return src.new_zeros(size).scatter_add_(dim, idx, src)
    if reduce == 'mean':
        count = src.new_zeros(dim_size)
        count.scatter_add_(0, index, src.new_ones(src.size(dim)))
        count = count.clamp(min=1)
        out = src.new_zeros(size).scatter_add_(dim, idx, src)
        return out / _broadcast(count, out, dim)
    if reduce == 'max' or reduce == 'min':
        red = 'amax' if reduce == 'max' else 'amin'
        if (src.requires_grad and torch.is_grad_enabled()
                and src.is_floating_point()):
            return _extremum_tie_split(src, index, idx, dim, dim_size, size,
                                       red)
        return src.new_zeros(size).scatter_reduce_(
            dim, idx, src, reduce=red, include_self=False)
    if reduce == 'mul':
        return src.new_ones(size).scatter_reduce_(
            dim, idx, src, reduce='prod', include_self=True)
    if reduce == 'any':
        return src.new_zeros(size).scatter_(dim, idx, src)
    raise ValueError(f"invalid reduce '{reduce}'")


def _norm_reduce(reduce: str) -> str:
    if reduce == 'add':
        return 'sum'
    if reduce == 'amax':
        return 'max'
    if reduce == 'amin':
        return 'min'
    return reduce


def _ptr2index(ptr: Tensor, numel: int) -> Tensor:
    n = ptr.numel() - 1
    dtype = torch.int32 if numel < 2**31 and n < 2**31 else torch.int64
    return torch.repeat_interleave(
        torch.arange(n, device=ptr.device, dtype=dtype), ptr.diff(),
        output_size=numel)


def scatter_script(src: Tensor, index: Tensor, dim: int = 0,
                   dim_size: Optional[int] = None,
                   reduce: str = 'sum') -> Tensor:
    """``pyg_ext.ops.scatter`` on the torch path, scriptable."""
    _check_src_script(src, 'src')
    msg = _pyg_scatter_message(src, index, dim, reduce)
    if msg is not None:
        raise ValueError(msg)
    _check_int_ids_script(index, 'index')
    d = src.dim() + dim if dim < 0 else dim
    if index.numel() != src.size(d):
        raise ValueError(f'index has {index.numel()} entries but src has '
                         f'{src.size(d)} along dim {d}')
    if index.device != src.device:
        raise ValueError(f'index is on {index.device} but src is on '
                         f'{src.device}')
    if dim_size is None:
        n = 0
        if index.numel() > 0:
            lo = int(index.min())
            if lo < 0:
                raise ValueError(f'index must hold non-negative ids, found '
                                 f'{lo}')
            n = int(index.max()) + 1
    else:
        n = dim_size
        if n < 0:
            raise ValueError(f'dim_size must be >= 0, got {n}')
        _check_ids_script(index, 'index', n, 'dim_size')
    red = _norm_reduce(reduce)
    _check_dtype_script(src, red, 'src')
    return _scatter_torch(src, index, d, n, red)


def _check_ptr_script(ptr: Tensor, name: str, numel: int,
                      what: str) -> None:
    _check_int_ids_script(ptr, name)
    if ptr.numel() == 0:
        raise ValueError(f'{name} must hold at least one entry (the leading '
                         f'0 of a CSR pointer)')
    first = int(ptr[0])
    last = int(ptr[-1])
    if first != 0:
        raise ValueError(f'{name} must start at 0, got {name}[0] = {first}')
    if ptr.numel() > 1 and bool((ptr[1:] < ptr[:-1]).any()):
        raise ValueError(f'{name} must be non-decreasing (a CSR pointer)')
    if last != numel:
        raise ValueError(f'{name} must end at {numel} ({what}), got '
                         f'{name}[-1] = {last}')


def _segment_torch(src: Tensor, ptr: Tensor, reduce: str) -> Tensor:
    """``pyg_ext.ops._torch.segment_torch`` (``reduce`` normalised)."""
    if reduce == 'sum' or reduce == 'mean':
        return torch._segment_reduce(src, reduce, offsets=ptr.long(),
                                     initial=0)
    red = 'amax' if reduce == 'max' else 'amin'
    out = torch._segment_reduce(src, red, offsets=ptr.long())
    shape = [1] * src.dim()
    shape[0] = -1
    deg = (ptr[1:] - ptr[:-1]).view(shape)
    return torch.where(deg > 0, out, out.new_zeros(()))


def segment_script(src: Tensor, ptr: Tensor, reduce: str = 'sum',
                   index: Optional[Tensor] = None,
                   check: bool = True) -> Tensor:
    """``pyg_ext.ops.segment`` on the torch path, scriptable."""
    _check_src_script(src, 'src')
    if not _is_sorted_reduce(reduce):
        raise ValueError(f"reduce must be one of 'sum', 'add', 'mean', "
                         f"'max', 'min', 'amax', 'amin', got '{reduce}'")
    red = _norm_reduce(reduce)
    _check_dtype_script(src, red, 'src')
    numel = src.size(0)
    if check:
        _check_ptr_script(ptr, 'ptr', numel, 'the number of rows of src')
    if ptr.device != src.device:
        raise ValueError(f'ptr is on {ptr.device} but src is on '
                         f'{src.device}')
    n = ptr.numel() - 1
    if index is not None:
        _check_int_ids_script(index, 'index')
        if index.numel() != numel:
            raise ValueError(f'index has {index.numel()} entries, expected '
                             f'{numel} (one per entry)')
        if index.device != src.device:
            raise ValueError(f'index is on {index.device} but src is on '
                             f'{src.device}')
        if check and not bool(
                (index == _ptr2index(ptr, numel).to(index.dtype)).all()):
            _check_ids_script(index, 'index', n, 'ptr.numel() - 1')
            raise ValueError('index must be the expansion of ptr (the '
                             'segment id of every entry); it disagrees '
                             'with ptr')
    if src.device.type == 'cpu' or not src.is_floating_point() or (
            (red == 'max' or red == 'min') and src.requires_grad
            and torch.is_grad_enabled()):
        # CPU: as pyg_ext's CPU path; integers and bool (torch's segment
        # reduction has no kernels for them): scatter, as pyg_ext does;
        # max/min with a gradient: the tie rule
        row = index if index is not None else _ptr2index(ptr, numel)
        return _scatter_torch(src, row, 0, n, red)
    return _segment_torch(src, ptr, red)


def softmax_script(src: Tensor, index: Optional[Tensor] = None,
                   ptr: Optional[Tensor] = None,
                   num_nodes: Optional[int] = None, dim: int = 0) -> Tensor:
    """``pyg_ext.ops.softmax`` on the torch path, scriptable."""
    _check_src_script(src, 'src')
    if not src.is_floating_point():
        raise TypeError(f'src must have a real floating point dtype for '
                        f'softmax, got {src.dtype}')
    nd = src.dim()
    if dim < -nd or dim >= nd:
        raise ValueError(f'dim must lie in [{-nd}, {nd - 1}] for src with '
                         f'{nd} dimensions, got {dim}')
    d = dim + nd if dim < 0 else dim
    if ptr is not None and ptr.dim() == 1 and d == 0:
        numel = src.size(0)
        # checks ptr and index
        seg = segment_script(src.detach(), ptr, 'max', index)
        if index is None:
            index = _ptr2index(ptr, numel)
        idx = index.long()
        out = (src - seg.index_select(0, idx)).exp()
        out_sum = segment_script(out, ptr, 'sum', index, False) + 1e-16
        return out / out_sum.index_select(0, idx)
    if index is None:
        raise ValueError("softmax requires 'index' (or a 1-D 'ptr' with "
                         "dim=0)")
    if num_nodes is None:
        src_max = scatter_script(src.detach(), index, d, None, 'max')
        n = src_max.size(d)
    else:
        n = num_nodes
        src_max = scatter_script(src.detach(), index, d, n, 'max')
    idx = index.long()
    out = (src - src_max.index_select(d, idx)).exp()
    out_sum = _scatter_torch(out, index, d, n, 'sum') + 1e-16
    return out / out_sum.index_select(d, idx)


def spmm_csr_script(adj: Tensor, x: Tensor, reduce: str = 'sum') -> Tensor:
    """``pyg_ext.ops.spmm`` of a ``torch.sparse_csr`` ``adj`` on the torch
    path, scriptable."""
    _check_src_script(x, 'x')
    if not _is_sorted_reduce(reduce):
        raise ValueError(f"reduce must be one of 'sum', 'add', 'mean', "
                         f"'max', 'min', 'amax', 'amin', got '{reduce}'")
    red = _norm_reduce(reduce)
    if adj.device != x.device:
        raise ValueError(f'adj is on {adj.device} but x is on {x.device}')
    values = adj.values()
    if adj.dim() != 2 or values.dim() != 1:
        raise ValueError(f'adj must be a 2-D sparse CSR matrix without '
                         f'batch or dense dimensions, got shape {adj.shape}')
    if adj.size(1) != x.size(0):
        raise ValueError(f'adj has {adj.size(1)} columns but x has '
                         f'{x.size(0)} rows (out = adj @ x)')
    crow = adj.crow_indices()
    col = adj.col_indices()
    num_edges = col.numel()
    _check_ptr_script(crow, 'adj.crow_indices()', num_edges,
                      'the number of stored entries of adj')
    _check_ids_script(col, 'adj.col_indices()', adj.size(1), 'adj.size(1)')
    if not values.is_floating_point():
        values = values.to(x.dtype if x.is_floating_point()
                           else torch.float32)
    n = crow.numel() - 1
    w_grad = values.requires_grad and torch.is_grad_enabled()
    if (x.device.type == 'cpu' and (red == 'sum' or red == 'mean')
            and x.dim() == 2 and (x.dtype == torch.float32
                                  or x.dtype == torch.float64)
            and not w_grad):
        csr = torch.sparse_csr_tensor(crow.long(), col.long(),
                                      values.to(x.dtype), [n, x.size(0)])
        out = torch.mm(csr, x)
        if red == 'mean':
            deg = (crow[1:] - crow[:-1]).clamp(min=1).to(x.dtype)
            out = out / deg.view(-1, 1)
        return out
    row = _ptr2index(crow, num_edges)
    msg = x.index_select(0, col.long())
    shape = [1] * x.dim()
    shape[0] = -1
    msg = msg * values.view(shape)
    _check_dtype_script(msg, red, 'x')
    return _scatter_torch(msg, row, 0, n, red)


# --------------------------------------------- the functions put into PyG

def pyg_scatter(src: Tensor, index: Tensor, dim: int = 0,
                dim_size: Optional[int] = None,
                reduce: str = 'sum') -> Tensor:
    """``torch_geometric.utils.scatter`` on :func:`pyg_ext.ops.scatter`."""
    if not torch.jit.is_scripting():
        return _scatter_eager(src, index, dim, dim_size, reduce)
    return scatter_script(src, index, dim, dim_size, reduce)


def pyg_segment(src: Tensor, ptr: Tensor, reduce: str = 'sum') -> Tensor:
    """``torch_geometric.utils.segment`` on :func:`pyg_ext.ops.segment`
    (a 1-D ``ptr``; PyG's own for others)."""
    if ptr.dim() != 1:
        return _ORIG_SEGMENT(src, ptr, reduce)
    if not torch.jit.is_scripting():
        return _segment_eager(src, ptr, reduce, None)
    return segment_script(src, ptr, reduce)


def _segment_indexed(src: Tensor, ptr: Tensor, reduce: str,
                     index: Optional[Tensor]) -> Tensor:
    if not torch.jit.is_scripting():
        return _segment_eager(src, ptr, reduce, index)
    return segment_script(src, ptr, reduce, index)


def pyg_softmax(src: Tensor, index: Optional[Tensor] = None,
                ptr: Optional[Tensor] = None,
                num_nodes: Optional[int] = None, dim: int = 0) -> Tensor:
    """``torch_geometric.utils.softmax`` on :func:`pyg_ext.ops.softmax`."""
    d = src.dim() + dim if dim < 0 else dim
    if ptr is not None and (ptr.dim() != 1 or d != 0):
        if index is None:
            return _ORIG_SOFTMAX(src, index, ptr, num_nodes, dim)
        ptr = None  # PyG falls back to index as well
    if not torch.jit.is_scripting():
        return _softmax_eager(src, index, ptr, num_nodes, dim)
    return softmax_script(src, index, ptr, num_nodes, dim)


def pyg_spmm(src: Adj, other: Tensor, reduce: str = 'sum') -> Tensor:
    """``torch_geometric.utils.spmm`` on :func:`pyg_ext.ops.spmm` for a
    ``torch.sparse_csr`` ``src`` (not a subclass such as ``EdgeIndex``);
    PyG's own otherwise."""
    if not torch.jit.is_scripting():
        if (type(src) is Tensor and src.layout == torch.sparse_csr
                and other.dim() == 2 and _is_routed(reduce)):
            return _spmm_eager(src, other, reduce)
        return _ORIG_SPMM(src, other, reduce)
    # every branch returns: TorchScript's serialised form of a refined
    # Union argument used after the ``if`` does not load back
    if isinstance(src, Tensor):
        if (src.layout == torch.sparse_csr and other.dim() == 2
                and _is_routed(reduce)):
            return spmm_csr_script(src, other, reduce)
        return _ORIG_SPMM(src, other, reduce)
    else:
        return _ORIG_SPMM(src, other, reduce)


# named ``reduce``: TorchScript compiles a method under its ``def`` name
def reduce(self: Aggregation, x: Tensor, index: Optional[Tensor] = None,
           ptr: Optional[Tensor] = None, dim_size: Optional[int] = None,
           dim: int = -2, reduce: str = 'sum') -> Tensor:
    """``Aggregation.reduce`` on pyg_ext ops (same contract as PyG's)."""
    d = x.dim() + dim if dim < 0 else dim
    if (ptr is not None and ptr.dim() == 1 and d == 0
            and _is_routed(reduce)):
        # PyG only passes ptr for input sorted by index: both describe the
        # same grouping, so the deterministic segment path applies.
        return _segment_indexed(x, ptr, reduce, index)
    if index is None:
        if ptr is None:
            raise RuntimeError("Aggregation requires 'index' to be specified")
        # PyG's own reduce: segment over the expanded pointer
        return pyg_segment(x, expand_left(ptr, dim, dims=x.dim()), reduce)
    return pyg_scatter(x, index, d, dim_size, reduce)


aggr_reduce = reduce

#: PyG original -> replacement, for the switch
REPLACEMENTS: dict[Any, Any] = {
    _ORIG_SCATTER: pyg_scatter, _ORIG_SEGMENT: pyg_segment,
    _ORIG_SOFTMAX: pyg_softmax, _ORIG_SPMM: pyg_spmm}
