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

The replacements (in :mod:`pyg_ext.ops._script`) compile under
``torch.jit.script`` and ``torch.compile(fullgraph=True)``: PyG modules and
functions that call them can be scripted or compiled while the switch is
on. Scripted code runs the ops' torch path (TorchScript cannot call the
Triton kernels), with the same results and input checks. Turning the
switch on or off clears TorchScript's per-class compilation cache, so
``torch.jit.script`` compiles whatever the switch state is at that moment;
modules scripted earlier keep the code they were compiled with.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)

_lock = threading.RLock()
_state: dict[str, Any] = {'depth': 0, 'patches': []}


def _apply() -> None:
    # imported here, not at the top: it imports torch_geometric, which
    # ``import pyg_ext.ops`` does not need (never compiled by TorchScript)
    from pyg_ext.ops import _script

    aggregation = _script.Aggregation
    patches: list[tuple[Any, str, Any]] = [
        (aggregation, 'reduce', aggregation.__dict__['reduce'])]
    aggregation.reduce = _script.aggr_reduce  # type: ignore[method-assign]
    replacements = _script.REPLACEMENTS
    for name, module in list(sys.modules.items()):
        if module is None or not (name == 'torch_geometric'
                                  or name.startswith('torch_geometric.')):
            continue
        for attr, value in list(vars(module).items()):
            try:
                new = replacements.get(value)
            except TypeError:  # unhashable module attribute
                continue
            if new is not None:
                patches.append((module, attr, value))
                setattr(module, attr, new)
    _state['patches'] = patches
    _forget_torchscript()


def _restore() -> None:
    for obj, attr, value in reversed(_state['patches']):
        setattr(obj, attr, value)
    _state['patches'] = []
    _forget_torchscript()


def _forget_torchscript() -> None:
    """Drop TorchScript's caches of compiled module classes and functions,
    so that the next ``torch.jit.script`` compiles PyG's code as it is now
    (with the switch on: ours; off: PyG's). TorchScript otherwise reuses
    what it compiled for a class the first time, whatever the switch
    state. Modules scripted before keep their code."""
    try:
        import torch.jit._recursive as recursive
        import torch.jit._state as jit_state

        recursive.concrete_type_store.type_store.clear()
        jit_state._jit_caching_layer.clear()
    except (ImportError, AttributeError) as e:  # a torch without them
        logger.debug('pyg_switch: TorchScript caches not cleared (%s)', e)


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
