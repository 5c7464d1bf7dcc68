"""Benchmark grids as tasks: :func:`run_grid` runs one function over a list
of cells (seed x method x dataset ...), locally or as Ray tasks with
retries, streams every finished cell into a JSON file and, run again with
the same file, skips the cells already there (resume after a crash or a
stopped job)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pyg_ext.distributed import check_address
from pyg_ext.utils.validation import check_choice, check_int

logger = logging.getLogger(__name__)

#: The ``format`` field of the JSON file.
GRID_FORMAT = 'pyg_ext.grid/1'

_FNS: dict[str, Any] = {}


def cell_key(cell: Any) -> str:
    """The identity of a cell: its JSON with sorted keys.

    Raises:
        TypeError: the cell is not JSON-serialisable.
    """
    try:
        return json.dumps(cell, sort_keys=True)
    except TypeError as exc:
        raise TypeError(f'cells must be JSON-serialisable (dicts of numbers '
                        f'and strings), got {cell!r}: {exc}') from None


def load_finished(json_path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{cell_key: entry}`` of the cells finished in ``json_path`` (empty
    when the file does not exist).

    Raises:
        ValueError: the file exists but is not a grid file.
    """
    path = Path(json_path)
    if not path.exists():
        return {}
    try:
        payload = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f'json_path {str(path)!r} is not valid JSON '
                         f'({exc}); remove it or choose another file'
                         ) from None
    if not isinstance(payload, dict) or payload.get('format') != GRID_FORMAT:
        raise ValueError(f'json_path {str(path)!r} is not a grid file of '
                         f'run_grid (format {GRID_FORMAT!r})')
    return {cell_key(e['cell']): e for e in payload.get('cells', [])}


def _write(json_path: Path, entries: dict[str, Any]) -> None:
    from pyg_ext.distributed.store import atomic_write_bytes
    json_path.parent.mkdir(parents=True, exist_ok=True)
    payload = {'format': GRID_FORMAT, 'cells': list(entries.values())}
    atomic_write_bytes(json_path, (json.dumps(
        payload, indent=1, default=_json_default) + '\n').encode())


def _json_default(obj: Any) -> Any:
    if hasattr(obj, 'tolist'):  # numpy arrays / scalars, tensors
        return obj.tolist()
    raise TypeError(f'{type(obj).__name__} {obj!r:.60} is not '
                    'JSON-serialisable')


def _as_json(key: str, result: Any) -> Any:
    """``result`` as the JSON file gives it back (tuples as lists, arrays
    as lists, dict keys as str), so a first run and a resumed one return
    the same objects."""
    try:
        return json.loads(json.dumps(result, default=_json_default))
    except (TypeError, ValueError) as exc:
        raise TypeError(f'cell {key}: its result cannot be stored in '
                        f'json_path ({exc}); return numbers, strings, '
                        'lists, dicts or arrays') from None


def _call(fn: Any, cell: Any, threads: int) -> tuple[Any, float]:
    from pyg_ext.distributed._ray import pin_threads
    pin_threads(threads)
    t0 = time.perf_counter()
    result = fn(cell)
    return result, time.perf_counter() - t0


def _cell_task(fn_box: list[Any], cell: Any, threads: int
               ) -> tuple[Any, float]:
    """Body of a Ray grid task: ``fn`` is fetched once per worker."""
    ref = fn_box[0]
    key = ref.hex()
    fn = _FNS.get(key)
    if fn is None:
        import ray
        fn = ray.get(ref)
        _FNS.clear()
        _FNS[key] = fn
    return _call(fn, cell, threads)


def run_grid(cells: Sequence[Any], fn: Callable[[Any], Any], *,
             engine: str = 'local', address: str | None = None,
             json_path: str | os.PathLike[str] | None = None,
             retries: int = 2, threads_per_worker: int = 1,
             on_result: Callable[[Any, Any], None] | None = None
             ) -> list[Any]:
    """Run ``fn(cell)`` for every cell and return the results in the order
    of ``cells``.

    Args:
        cells: JSON-serialisable cells (e.g. ``{'seed': 0, 'method': 'x'}``);
            a cell's JSON is its identity in ``json_path``.
        fn: a picklable function of one cell returning a JSON-serialisable
            result (for Ray: a module-level function or a
            :func:`functools.partial` of one; shipped once per worker).
        engine: ``'local'`` (this process, in order) or ``'ray'`` (one task
            per cell on the cluster at ``address``).
        address: ``None`` (local Ray cluster), ``'auto'`` or
            ``'host:port'``; only with ``engine='ray'``.
        json_path: stream finished cells here (rewritten atomically after
            each); cells already in the file are not run again. With a
            ``json_path`` every result is returned as the file holds it
            (tuples and numpy arrays / tensors as lists, dict keys as str),
            the same on a first and on a resumed run; a result JSON cannot
            hold (a set, an arbitrary object) is a ``TypeError``.
        retries: extra attempts of a failing cell (an exception or a dead
            worker) before the grid stops with an error.
        threads_per_worker: CPU slots and torch / BLAS / numba threads per
            task (``OMP_NUM_THREADS``).
        on_result: called as ``on_result(cell, result)`` on the driver for
            every cell finished in this run, as it finishes.

    Raises:
        ValueError, TypeError: bad arguments, a cell (or, with
            ``json_path``, a result) that is not JSON-serialisable, or a
            ``json_path`` that is not a grid file.
        RuntimeError: a cell still failing after ``retries`` retries (the
            cells finished so far are in ``json_path``).
        ImportError: ``engine='ray'`` without ray
            (``pip install "pyg_ext[distributed]"``).
    """
    check_choice(engine, 'engine', ('local', 'ray'))
    address = check_address(address)
    if engine == 'local' and address is not None:
        raise ValueError(f"address={address!r} needs engine='ray' (got "
                         "engine='local')")
    retries = check_int(retries, 'retries', low=0)
    threads = check_int(threads_per_worker, 'threads_per_worker', low=1)
    if not callable(fn):
        raise TypeError(f'fn must be callable, got {type(fn).__name__}')
    cells = list(cells)
    keys = [cell_key(c) for c in cells]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f'cells must be distinct, {dup} appears twice')
    path = Path(json_path) if json_path is not None else None
    entries = load_finished(path) if path is not None else {}
    todo = [(k, c) for k, c in zip(keys, cells) if k not in entries]
    logger.info('grid: %d cells, %d finished before, %d to run',
                len(cells), len(cells) - len(todo), len(todo))
    runner = _run_ray if engine == 'ray' else _run_local
    for key, cell, result, seconds, attempts in runner(
            fn, todo, address, retries, threads):
        if path is not None:
            result = _as_json(key, result)
        entries[key] = {'cell': cell, 'result': result,
                        'seconds': seconds, 'attempts': attempts}
        if path is not None:
            _write(path, entries)
        if on_result is not None:
            on_result(cell, result)
    return [entries[k]['result'] for k in keys]


def _run_local(fn: Any, todo: list[tuple[str, Any]], address: Any,
               retries: int, threads: int) -> Iterator[tuple[Any, ...]]:
    for key, cell in todo:
        for attempt in range(retries + 1):
            try:
                t0 = time.perf_counter()
                result = fn(cell)
                break
            except Exception as exc:
                if attempt == retries:
                    raise RuntimeError(
                        f'cell {key} failed after {retries} retries: '
                        f'{type(exc).__name__}: {exc}') from exc
                logger.warning('cell %s failed (%s), retrying', key, exc)
        yield key, cell, result, time.perf_counter() - t0, attempt + 1


_REMOTE: dict[str, Any] = {}


def _run_ray(fn: Any, todo: list[tuple[str, Any]], address: Any,
             retries: int, threads: int) -> Iterator[tuple[Any, ...]]:
    if not todo:
        return
    from pyg_ext.distributed._ray import abandon, connect, task_options
    ray = connect(address)
    if 'cell' not in _REMOTE:
        _REMOTE['cell'] = ray.remote(_cell_task)
    opts = task_options(threads, retries)
    opts['retry_exceptions'] = True
    remote = _REMOTE['cell'].options(**opts)
    fn_ref = ray.put(fn)
    pending = {remote.remote([fn_ref], cell, threads): (key, cell)
               for key, cell in todo}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                key, cell = pending.pop(ref)
                try:
                    result, seconds = ray.get(ref)
                except Exception as exc:
                    cause = getattr(exc, 'cause', None) or exc
                    raise RuntimeError(
                        f'cell {key} failed after {retries} retries: '
                        f'{type(cause).__name__}: {cause}') from exc
                yield key, cell, result, seconds, None
    finally:
        abandon(pending, 'grid')


__all__ = ['cell_key', 'load_finished', 'run_grid']
