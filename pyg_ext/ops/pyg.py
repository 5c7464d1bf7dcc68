"""The PyG switch: run PyG's own layers on :mod:`pyg_ext.ops`, unchanged.

>>> from pyg_ext.ops import pyg_switch
>>> with pyg_switch():
...     loss = model(data).loss()   # any PyG model: GCNConv, SAGEConv, ...

While active it replaces

* ``torch_geometric.nn.aggr.Aggregation.reduce`` (every aggregation module
  - sum, mean, max, min and whatever builds on them - so every
  ``MessagePassing`` layer), and
* the functions ``scatter``, ``segment``, ``softmax`` and ``spmm`` of
  ``torch_geometric.utils`` in every loaded ``torch_geometric`` module that
  imported them by name (``GATConv``'s ``softmax``, for instance; ``spmm``
  is replaced for ``torch.sparse_csr`` adjacencies, which gains
  ``max``/``min`` on CUDA, and left to PyG otherwise),

and puts every original back on exit, also after an exception. Switches
nest (a counter); :func:`enable_pyg` / :func:`disable_pyg` are the
non-context-manager forms. Patching looks up functions by identity, so
modules imported while the switch is on still see PyG's originals, and
nothing outside ``torch_geometric`` is touched.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch import Tensor

_lock = threading.RLock()
_state: dict[str, Any] = {'depth': 0, 'patches': []}


def _aggr_reduce(self: Any, x: Tensor, index: Tensor | None = None,
                 ptr: Tensor | None = None, dim_size: int | None = None,
                 dim: int = -2, reduce: str = 'sum') -> Tensor:
    """``Aggregation.reduce`` on pyg_ext ops (same contract as PyG's)."""
    from pyg_ext.ops.functional import scatter, segment
    d = x.dim() + dim if dim < 0 else dim
    if ptr is not None and ptr.dim() == 1 and d == 0 and reduce in (
            'sum', 'add', 'mean', 'max', 'min'):
        # PyG only passes ptr for input sorted by index: both describe the
        # same grouping, so the deterministic segment path applies.
        return segment(x, ptr, reduce=reduce, index=index)
    if index is None:
        if ptr is None:
            raise RuntimeError("Aggregation requires 'index' to be specified")
        return _state['orig_reduce'](self, x, index, ptr, dim_size, dim,
                                     reduce)
    return scatter(x, index, d, dim_size, reduce)


def _pyg_scatter(src: Tensor, index: Tensor, dim: int = 0,
                 dim_size: int | None = None, reduce: str = 'sum') -> Tensor:
    from pyg_ext.ops.functional import scatter
    return scatter(src, index, dim, dim_size, reduce)


def _pyg_segment(src: Tensor, ptr: Tensor, reduce: str = 'sum') -> Tensor:
    from pyg_ext.ops.functional import segment
    if ptr.dim() != 1:
        return _state['orig_segment'](src, ptr, reduce)
    return segment(src, ptr, reduce)


def _pyg_softmax(src: Tensor, index: Tensor | None = None,
                 ptr: Tensor | None = None, num_nodes: int | None = None,
                 dim: int = 0) -> Tensor:
    from pyg_ext.ops.functional import softmax
    d = src.dim() + dim if dim < 0 else dim
    if ptr is not None and (ptr.dim() != 1 or d != 0) and index is None:
        return _state['orig_softmax'](src, index, ptr, num_nodes, dim)
    if ptr is not None and (ptr.dim() != 1 or d != 0):
        ptr = None  # PyG falls back to index as well
    return softmax(src, index, ptr, num_nodes, dim)


def _pyg_spmm(src: Any, other: Tensor, reduce: str = 'sum') -> Tensor:
    import torch

    from pyg_ext.ops.functional import spmm
    if (isinstance(src, Tensor) and type(src) is Tensor
            and src.layout == torch.sparse_csr and other.dim() == 2
            and reduce in ('sum', 'add', 'mean', 'max', 'min')):
        return spmm(src, other, reduce)
    return _state['orig_spmm'](src, other, reduce)


def _apply() -> None:
    import torch_geometric.utils as tgu
    from torch_geometric.nn.aggr import Aggregation

    originals = {tgu.scatter: _pyg_scatter, tgu.segment: _pyg_segment,
                 tgu.softmax: _pyg_softmax, tgu.spmm: _pyg_spmm}
    _state['orig_spmm'] = tgu.spmm
    _state['orig_reduce'] = Aggregation.reduce
    _state['orig_segment'] = tgu.segment
    _state['orig_softmax'] = tgu.softmax
    patches: list[tuple[Any, str, Any]] = [
        (Aggregation, 'reduce', Aggregation.__dict__['reduce'])]
    Aggregation.reduce = _aggr_reduce  # type: ignore[method-assign]
    for name, module in list(sys.modules.items()):
        if module is None or not (name == 'torch_geometric'
                                  or name.startswith('torch_geometric.')):
            continue
        for attr, value in list(vars(module).items()):
            try:
                new = originals.get(value)
            except TypeError:  # unhashable module attribute
                continue
            if new is not None:
                patches.append((module, attr, value))
                setattr(module, attr, new)
    _state['patches'] = patches


def _restore() -> None:
    for obj, attr, value in reversed(_state['patches']):
        setattr(obj, attr, value)
    _state['patches'] = []


def enable_pyg() -> None:
    """Route PyG's aggregation, ``scatter``, ``segment`` and ``softmax``
    through :mod:`pyg_ext.ops` (nests with :func:`disable_pyg`)."""
    with _lock:
        if _state['depth'] == 0:
            _apply()
        _state['depth'] += 1


def disable_pyg() -> None:
    """Undo one :func:`enable_pyg`; the last one restores PyG's originals."""
    with _lock:
        if _state['depth'] == 0:
            return
        _state['depth'] -= 1
        if _state['depth'] == 0:
            _restore()


def pyg_enabled() -> bool:
    """Whether the switch is on."""
    return _state['depth'] > 0


@contextmanager
def pyg_switch(enabled: bool = True) -> Iterator[None]:
    """Context manager form of :func:`enable_pyg`; ``enabled=False`` makes it
    a no-op (handy for A/B runs). Raises :class:`TypeError` unless
    ``enabled`` is a bool."""
    if not isinstance(enabled, bool):
        raise TypeError(f'enabled must be a bool, got '
                        f'{type(enabled).__name__} {enabled!r}')
    if not enabled:
        yield
        return
    enable_pyg()
    try:
        yield
    finally:
        disable_pyg()


__all__ = ['disable_pyg', 'enable_pyg', 'pyg_enabled', 'pyg_switch']
