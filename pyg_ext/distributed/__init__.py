"""Scale past one machine with `Ray <https://www.ray.io>`_ (optional extra
``pip install "pyg_ext[distributed]"``).

* Metric matrices (:func:`~pyg_ext.metrics.pairwise`,
  :func:`~pyg_ext.metrics.cross`, :func:`~pyg_ext.metrics.tmd_pairwise`,
  :func:`~pyg_ext.metrics.didm_pairwise`, ...) take ``engine='ray'``: the
  dataset-wide tree-distance tables are built once and put in the object
  store, the graph pairs are cut into row x column blocks, each block is a
  task (retried when a worker dies) and, with ``store=PATH``, each finished
  block is written to disk so that a re-run resumes. The matrix is bit for
  bit the single-process one (:mod:`.matrix`).
* :func:`~pyg_ext.transforms.precompute_eigen_pe` takes ``engine='ray'``
  (one task per chunk, :mod:`.eigen`).
* :func:`run_grid` runs benchmark cells as tasks and streams finished cells
  into a JSON file it resumes from (:mod:`.grid`).

Nothing here imports ``ray`` until a Ray engine is actually used, so
``import pyg_ext`` works without it. See ``docs/distributed.md``.
"""

from __future__ import annotations

import os
from typing import Any

from pyg_ext.utils.validation import check_choice, check_positive_int

#: Accepted values of ``engine``.
ENGINES = ('local', 'ray')

#: How to install the optional dependency (quoted in every error message).
INSTALL_HINT = 'pip install "pyg_ext[distributed]"'


def check_address(address: Any) -> str | None:
    """``address`` as ``None``, ``'auto'`` or ``'host:port'``.

    Raises:
        TypeError: not a string or ``None``.
        ValueError: a string that is neither ``'auto'`` nor
            ``host:port`` (with an integer port in ``[1, 65535]``).
    """
    if address is None:
        return None
    if not isinstance(address, str):
        raise TypeError(f"address must be None, 'auto' or 'host:port', got "
                        f'{type(address).__name__} {address!r}')
    text = address.strip()
    if text == 'auto':
        return text
    if text.startswith('ray://'):
        return text
    host, sep, port = text.rpartition(':')
    if not sep or not host or not port.isdigit() or not (
            1 <= int(port) <= 65535):
        raise ValueError(f"address must be None, 'auto', 'host:port' or "
                         f"'ray://host:port', got {address!r}")
    return text


def use_engine(engine: Any, address: Any = None, block_size: Any = None,
               store: Any = None, threads_per_worker: Any = 1) -> bool:
    """Validate the engine options of a metric matrix and say whether the
    block engine (:mod:`.matrix`) is needed: ``engine='ray'``, or a
    ``store`` to resume from. ``engine='local'`` without a store is the
    plain single-process path (``block_size`` / ``threads_per_worker``
    then have no effect).

    Raises:
        ValueError: an unknown ``engine``, ``block_size`` or
            ``threads_per_worker < 1``, a malformed ``address``, or an
            ``address`` with ``engine='local'``.
        TypeError: wrong types (the message names the argument).
    """
    check_choice(engine, 'engine', ENGINES)
    address = check_address(address)
    if block_size is not None:
        check_positive_int(block_size, 'block_size')
    check_positive_int(threads_per_worker, 'threads_per_worker')
    if store is not None and not isinstance(store, (str, os.PathLike)):
        raise TypeError(f'store must be a folder path (str or PathLike), got '
                        f'{type(store).__name__} {store!r}')
    if engine == 'local' and address is not None:
        raise ValueError(f"address={address!r} needs engine='ray' (got "
                         "engine='local')")
    return engine == 'ray' or store is not None


def __getattr__(name: str) -> Any:
    # lazy: pyg_ext.distributed.run_grid etc. without importing ray
    if name in ('run_grid',):
        from pyg_ext.distributed import grid
        return getattr(grid, name)
    if name in ('metric_matrix',):
        from pyg_ext.distributed import matrix
        return getattr(matrix, name)
    if name in ('connect', 'require_ray'):
        from pyg_ext.distributed import _ray
        return getattr(_ray, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['ENGINES', 'INSTALL_HINT', 'check_address', 'connect',
           'metric_matrix', 'require_ray', 'run_grid', 'use_engine']
