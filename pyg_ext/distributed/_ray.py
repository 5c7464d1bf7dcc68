"""Connecting to Ray and pinning worker threads (imports ``ray`` lazily)."""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any

from pyg_ext.distributed import INSTALL_HINT, check_address

logger = logging.getLogger(__name__)

#: Seconds to wait for a ``host:port`` address to accept a connection.
CONNECT_TIMEOUT = 5.0

#: Environment variables that bound the threads of a worker process.
THREAD_VARS = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS',
               'NUMBA_NUM_THREADS')


def require_ray() -> Any:
    """Import and return ``ray``.

    Raises:
        ImportError: ray is not installed (one line naming the extra).
    """
    try:
        import ray
    except ImportError:
        raise ImportError(f"engine='ray' needs the optional package 'ray' "
                          f'({INSTALL_HINT})') from None
    return ray


def _reachable(address: str, timeout: float) -> None:
    host, _, port = address.rpartition(':')
    host = host.strip('[]')
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RuntimeError(
            f'cannot reach a Ray cluster at {address} ({reason} within '
            f'{timeout:g} s): start one there with `ray start --head '
            f'--port={port}` ({INSTALL_HINT}), or use address=None for a '
            'local cluster') from None


def _canonical(address: str) -> str:
    host, _, port = address.rpartition(':')
    try:
        host = socket.gethostbyname(host.strip('[]'))
    except OSError:
        pass
    return f'{host}:{port}'


def connect(address: str | None = None, *,
            timeout: float = CONNECT_TIMEOUT) -> Any:
    """Connect this process to Ray (once) and return the ``ray`` module.

    Args:
        address: ``None`` (the cluster this process is already connected
            to, else a new local one), ``'auto'`` (the cluster started on
            this machine with ``ray start``, or ``RAY_ADDRESS``),
            ``'host:port'`` (a head node's GCS address) or
            ``'ray://host:port'`` (Ray Client).
        timeout: seconds to wait for ``host:port`` to accept a connection.

    Raises:
        ImportError: ray is not installed.
        RuntimeError: the cluster cannot be reached (one line).
        ValueError, TypeError: a malformed ``address``.
    """
    address = check_address(address)
    ray = require_ray()
    if ray.is_initialized():
        if address not in (None, 'auto') and not address.startswith(
                'ray://'):
            current = ray.get_runtime_context().gcs_address
            if _canonical(current) != _canonical(address):
                raise RuntimeError(
                    f'this process is already connected to the Ray cluster '
                    f'at {current}, not {address}; call ray.shutdown() '
                    'first or pass address=None')
        return ray
    if address not in (None, 'auto') and not address.startswith('ray://'):
        _reachable(address, timeout)
    kwargs: dict[str, Any] = {'logging_level': logging.WARNING,
                              'include_dashboard': False}
    if address is None:
        kwargs['num_cpus'] = os.cpu_count() or 1
    try:
        # None means a new local cluster: ray.init(address=None) would
        # instead join RAY_ADDRESS or the last `ray start` cluster recorded
        # in /tmp/ray (a stale file of a stopped one makes it fail)
        ray.init(address='local' if address is None else address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else (
            type(exc).__name__)
        raise RuntimeError(
            f'cannot connect to a Ray cluster at {address or "local"}: '
            f'{first} (start one with `ray start --head`; {INSTALL_HINT})'
        ) from None
    logger.info('connected to Ray: %s', ray.cluster_resources())
    return ray


def worker_env(threads: int) -> dict[str, str]:
    """``runtime_env['env_vars']`` pinning ``threads`` threads per worker."""
    return {name: str(threads) for name in THREAD_VARS}


def task_options(threads: int, retries: int) -> dict[str, Any]:
    """Options of every task: one CPU slot per thread, ``retries`` retries
    when the worker process dies, the thread-pinning environment."""
    return {'num_cpus': threads, 'max_retries': retries,
            'runtime_env': {'env_vars': worker_env(threads)}}


def pin_threads(threads: int) -> None:
    """At the start of a task: ``threads`` threads for torch and numba
    (the environment variables only act on libraries loaded later)."""
    for name in THREAD_VARS:
        os.environ[name] = str(threads)
    if 'torch' in sys.modules:
        import torch
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    if 'numba' in sys.modules:
        import numba
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def cpu_slots(ray: Any, threads: int) -> int:
    """How many tasks of ``threads`` CPUs the cluster runs at once."""
    cpus = float(ray.cluster_resources().get('CPU', 1.0))
    return max(1, int(cpus // threads))


def abandon(refs: Any, what: str) -> None:
    """Leave the unfinished tasks ``refs`` of a run that stopped early (an
    error, or a generator closed by its caller) to finish on their own;
    their results are dropped with the references.

    They are deliberately not ``ray.cancel``-ed: cancelling a task that
    completes at the same moment aborts the whole driver process in Ray
    2.60 (``Check failed: Tried to complete task that was not pending``,
    seen when one chunk of a run failed and the others were cancelled).
    """
    refs = list(refs)
    if refs:
        logger.info('%s: %d unfinished task(s) left to finish, results '
                    'dropped', what, len(refs))
