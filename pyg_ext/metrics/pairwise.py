"""Distance matrices over collections of graphs: :func:`pairwise` and
:func:`cross`, dispatching to the exact TMD or DIDM (RJL) engines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

METRICS = ('tmd', 'didm', 'rjl')


def _metric(metric: str) -> str:
    if not isinstance(metric, str):
        raise ValueError(f'metric must be one of {METRICS}, got {metric!r}')
    key = metric.lower().replace('-', '_')
    if key not in METRICS:
        raise ValueError(f'metric must be one of {METRICS}, got {metric!r}')
    return 'didm' if key == 'rjl' else key


def pairwise(graphs: Sequence[Any], metric: str = 'tmd', *,
             n_jobs: int | None = 1, progress_bar: bool = False,
             engine: str = 'local', address: str | None = None,
             block_size: int | None = None, store: Any = None,
             **kwargs: Any) -> np.ndarray:
    """Symmetric ``[G, G]`` matrix of exact distances between ``graphs``.

    Args:
        graphs: PyG ``Data`` objects (a dataset works too).
        metric: ``'tmd'`` (:func:`~pyg_ext.metrics.tree_movers_distance`) or
            ``'didm'`` / ``'rjl'``
            (:func:`~pyg_ext.metrics.didm_movers_distance`).
        n_jobs: worker threads (``-1``: all cores).
        progress_bar: show tqdm progress bars.
        engine: ``'local'`` (this process) or ``'ray'`` (blocks of pairs as
            Ray tasks, :mod:`pyg_ext.distributed`; the same matrix bit for
            bit).
        address: the Ray cluster (``None``: a local one, ``'auto'``,
            ``'host:port'``).
        block_size: graphs per row / column block (default: from the
            number of graphs).
        store: folder keeping finished blocks, so that a re-run resumes.
        **kwargs: the metric's options (``depth``, ``weights``, ``flow``,
            ``p``, ``unmatched``, ``aggregation``, ``backend``,
            ``threads_per_worker``).

    Each distinct pair of computation trees is solved once for the whole
    collection, so the matrix costs far less than ``G**2 / 2`` single calls.
    """
    eng = dict(engine=engine, address=address, block_size=block_size,
               store=store)
    if _metric(metric) == 'tmd':
        from pyg_ext.metrics.tmd import tmd_pairwise
        return tmd_pairwise(graphs, n_jobs=n_jobs, progress_bar=progress_bar,
                            **eng, **kwargs)
    from pyg_ext.metrics.rjl import didm_pairwise
    return didm_pairwise(graphs, n_jobs=n_jobs, progress_bar=progress_bar,
                         **eng, **kwargs)


def cross(graphs_a: Sequence[Any], graphs_b: Sequence[Any],
          metric: str = 'tmd', *, n_jobs: int | None = 1,
          progress_bar: bool = False, engine: str = 'local',
          address: str | None = None, block_size: int | None = None,
          store: Any = None, **kwargs: Any) -> np.ndarray:
    """``[len(graphs_a), len(graphs_b)]`` matrix of exact distances.

    For a precomputed-kernel SVM, ``cross(test, train)`` is the matrix that
    ``SVC.predict`` expects. Arguments as in :func:`pairwise`.
    """
    eng = dict(engine=engine, address=address, block_size=block_size,
               store=store)
    if _metric(metric) == 'tmd':
        from pyg_ext.metrics.tmd import tmd_cross
        return tmd_cross(graphs_a, graphs_b, n_jobs=n_jobs,
                         progress_bar=progress_bar, **eng, **kwargs)
    from pyg_ext.metrics.rjl import didm_cross
    return didm_cross(graphs_a, graphs_b, n_jobs=n_jobs,
                      progress_bar=progress_bar, **eng, **kwargs)


__all__ = ['cross', 'pairwise']
