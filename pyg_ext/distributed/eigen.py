"""``precompute_eigen_pe(..., engine='ray')``: one Ray task per chunk.

Every chunk runs exactly the local code (``AddEigenPE.compute`` on the same
collated chunk) in a worker pinned to one thread, so the result equals the
local run with the same ``chunk_size`` (and the same thread count: LAPACK
may round differently with more threads). Chunks are the unit of work:
choose ``chunk_size`` so that every worker gets several.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Iterator
from typing import Any

logger = logging.getLogger(__name__)

#: Retries of a chunk whose worker process died.
RETRIES = 3

_TRANSFORMS: dict[str, Any] = {}
_REMOTE: dict[str, Any] = {}


def _eigen_task(box: list[Any], ei: Any, eg: Any, sizes: Any, ew: Any,
                threads: int) -> tuple[str, Any]:
    """Body of a chunk task: ``('ok', EigenResult)`` or ``('err', exc)``
    for a bad input (re-raised on the driver with its own type)."""
    from pyg_ext.distributed._ray import pin_threads
    pin_threads(threads)
    ref = box[0]
    tr = _TRANSFORMS.get(ref.hex())
    if tr is None:
        import ray
        tr = copy.copy(ray.get(ref))
        tr.on_cut = 'ignore'  # warnings / errors about cuts: on the driver
        _TRANSFORMS.clear()
        _TRANSFORMS[ref.hex()] = tr
    try:
        return 'ok', tr.compute(ei, eg, sizes, ew)
    except (ValueError, TypeError) as exc:
        return 'err', exc


def compute_chunks(transform: Any, inputs: Iterable[tuple[Any, ...]],
                   address: str | None = None, threads_per_worker: int = 1,
                   retries: int = RETRIES) -> Iterator[Any]:
    """``transform.compute(*args)`` of every chunk as Ray tasks, yielded in
    order; the transform's eigengap-cut handling (warn / raise) runs here,
    on the driver.

    Raises:
        ImportError: ray not installed; RuntimeError: unreachable cluster or
            a chunk that failed ``retries`` times; ValueError / TypeError:
            a bad chunk (as the local run).
    """
    from pyg_ext.distributed._ray import abandon, connect, task_options
    args = list(inputs)  # input errors surface before any task starts
    if not args:
        return
    ray = connect(address)
    if 'eigen' not in _REMOTE:
        _REMOTE['eigen'] = ray.remote(_eigen_task)
    remote = _REMOTE['eigen'].options(
        **task_options(threads_per_worker, retries))
    tref = ray.put(transform)
    refs = [remote.remote([tref], *a, threads_per_worker) for a in args]
    logger.info('eigen: %d chunks submitted', len(refs))
    done = 0
    try:
        for i, ref in enumerate(refs):
            try:
                status, value = ray.get(ref)
            except Exception as exc:
                cause = getattr(exc, 'cause', None) or exc
                raise RuntimeError(f'eigen chunk {i} failed: '
                                   f'{type(cause).__name__}: {cause}'
                                   ) from exc
            if status == 'err':
                raise value
            done = i + 1
            transform._handle_cut(value.cut)
            yield value
    finally:
        abandon(refs[done:], 'eigen')


__all__ = ['compute_chunks']
