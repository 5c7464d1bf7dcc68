"""Block engine of the metric matrices (TMD, DIDM): the graph pairs cut
into row x column blocks, solved in this process or as Ray tasks, with an
optional on-disk store of finished blocks.

Why the result is bit for bit the single-process matrix: the local path
first builds dataset-wide tables (WL colours, the memoised distances of
the lower tree levels, per-graph tree lists), then solves every graph pair
*independently* with a per-pair kernel (``memo_graph_pairs`` /
``fused_local_pairs`` / ``hist_pairs`` of :mod:`pyg_ext.metrics._numba`,
or the scipy loop of :func:`pyg_ext.metrics.tmd.graph_level`). Those tables
are not block-local: the numba path, for instance, decides from *all*
pairs whether to memoise the top level, and a tree pair's memoised value
depends on which side is the row. So the engine builds the tables exactly
as the local path does, through the local code itself (the ``run_pairs``
hook of ``_tmd_matrix_numba`` / ``_didm_matrix`` hands over the per-pair
kernel instead of running it), ships them once, and each block calls that
kernel on its own pairs. Only the pair stage is distributed; the tables are
built once, on the driver (see ``docs/distributed.md`` for what scales).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from pyg_ext.distributed import use_engine
from pyg_ext.metrics._wl import GraphBatch

logger = logging.getLogger(__name__)

#: Retries of a block task whose worker process died.
RETRIES = 3

#: Fault injection for the tests (never set in normal use): read on the
#: driver and handed to every block; see :func:`_inject`.
_FAULT: tuple[Any, ...] | None = None

#: Plans already unpickled in this (worker) process, by object id.
_PLANS: dict[str, Any] = {}


def default_block_size(n_rows: int) -> int:
    """Graphs per block side: about 8 blocks per side, between 32 and 256
    (depends on the shape only, so a resumed run finds the same blocks)."""
    return int(min(256, max(32, math.ceil(n_rows / 8))))


def blocks(n_rows: int, n_cols: int, size: int, symmetric: bool
           ) -> list[tuple[int, int, int, int, int, int]]:
    """``(i, j, r0, r1, c0, c1)`` of every block to compute (only the
    upper triangle ``j >= i`` of a symmetric matrix), largest first."""
    nr, nc = math.ceil(n_rows / size), math.ceil(n_cols / size)
    out = []
    for i in range(nr):
        for j in range(i if symmetric else 0, nc):
            out.append((i, j, i * size, min(n_rows, (i + 1) * size),
                        j * size, min(n_cols, (j + 1) * size)))
    out.sort(key=lambda b: -_pairs_in(b, symmetric))
    return out


def _pairs_in(b: tuple[int, ...], symmetric: bool) -> int:
    n, m = b[3] - b[2], b[5] - b[4]
    return n * (n - 1) // 2 if symmetric and b[0] == b[1] else n * m


def block_pairs(r0: int, r1: int, c0: int, c1: int, symmetric: bool
                ) -> tuple[np.ndarray, np.ndarray]:
    """Row and column graph indices of the pairs of a block (a diagonal
    block of a symmetric matrix: only ``row < col``)."""
    a = np.repeat(np.arange(r0, r1, dtype=np.int64), c1 - c0)
    b = np.tile(np.arange(c0, c1, dtype=np.int64), r1 - r0)
    if symmetric:
        keep = a < b
        a, b = a[keep], b[keep]
    return a, b


class KernelPlan:
    """The per-pair kernel ``(pi, pj, out)`` of the local path, with the
    tables it closes over."""

    def __init__(self, kernel: Any, symmetric: bool, backend: str) -> None:
        self.kernel = kernel
        self.symmetric = symmetric
        self.backend = backend

    def values(self, pi: np.ndarray, pj: np.ndarray) -> np.ndarray:
        out = np.empty(len(pi))
        if len(pi):
            self.kernel(pi, pj, out)
        return out


class MemoSubPlan:
    """``memo_graph_pairs`` for one block: the rows / columns of the
    memoised top-level matrix that the block's graphs use (plus the blank
    tree), with the per-graph tree lists re-based onto them. A pair reads
    the same matrix entries as in the full matrix, so the values are the
    same bit for bit."""

    backend = 'numba'

    def __init__(self, E: np.ndarray, rl: tuple[np.ndarray, ...],
                 cl: tuple[np.ndarray, ...], r0: int, c0: int) -> None:
        self.E, self.rl, self.cl, self.r0, self.c0 = E, rl, cl, r0, c0

    def writeable(self) -> MemoSubPlan:
        """Writeable copies of the arrays (as they arrive from the object
        store they are read-only, and numba would compile a read-only
        specialisation of the kernel)."""
        if not self.E.flags.writeable:
            self.E = np.array(self.E)
            self.rl = tuple(np.array(a) for a in self.rl)
            self.cl = tuple(np.array(a) for a in self.cl)
        return self

    def values(self, pi: np.ndarray, pj: np.ndarray) -> np.ndarray:
        from pyg_ext.metrics import _ot
        out = np.empty(len(pi))
        if len(pi):
            _ot.numba_kernels().memo_graph_pairs(
                self.E, *self.rl, *self.cl, pi - self.r0, pj - self.c0, out)
        return out


class MemoBlockPlan:
    """The memoised top level of the numba TMD path, cut per block into
    :class:`MemoSubPlan` (so that no worker holds the whole matrix, which
    is gigabytes for PROTEINS at depth 3)."""

    backend = 'numba'

    def __init__(self, E: np.ndarray, rl: tuple[np.ndarray, ...],
                 cl: tuple[np.ndarray, ...]) -> None:
        self.E, self.rl, self.cl = E, rl, cl
        #: ``(path, shape, node id)`` of the shared file holding ``E``
        #: (see :class:`RayLevel`): block tasks on that node gather their
        #: slice from it themselves.
        self.shared: tuple[str, tuple[int, int], str] | None = None

    @staticmethod
    def _part(lists: tuple[np.ndarray, ...], g0: int, g1: int
              ) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        dptr, pos, col, cnt = lists
        lo, hi = int(dptr[g0]), int(dptr[g1])
        used, local = np.unique(pos[lo:hi], return_inverse=True)
        return ((np.ascontiguousarray(dptr[g0:g1 + 1] - lo),
                 local.reshape(-1).astype(np.int64),
                 np.ascontiguousarray(col[lo:hi]),
                 np.ascontiguousarray(cnt[lo:hi])), used)

    def block_plan(self, r0: int, r1: int, c0: int, c1: int,
                   gather: bool = False) -> MemoSubPlan | SharedMemoSubPlan:
        """The block's slice of the tables: gathered here, or (``E`` in a
        shared file and not ``gather``) only the rows / columns to gather
        from the file on the worker."""
        rl, ru = self._part(self.rl, r0, r1)
        cl, cu = self._part(self.cl, c0, c1)
        rows = np.append(ru, self.E.shape[0] - 1)  # + the blank tree
        cols = np.append(cu, self.E.shape[1] - 1)
        if self.shared is not None and not gather:
            return SharedMemoSubPlan(self.shared, rows, cols, rl, cl, r0, c0)
        # one gather (no rows x all-columns intermediate)
        return MemoSubPlan(self.E[np.ix_(rows, cols)], rl, cl, r0, c0)

    def values(self, pi: np.ndarray, pj: np.ndarray) -> np.ndarray:
        return MemoSubPlan(self.E, self.rl, self.cl, 0, 0).values(pi, pj)


class SharedMemoSubPlan:
    """A :class:`MemoSubPlan` to gather on the worker from the shared file
    of the memoised level (same entries, so the same values bit for
    bit)."""

    def __init__(self, shared: tuple[str, tuple[int, int], str],
                 rows: np.ndarray, cols: np.ndarray,
                 rl: tuple[np.ndarray, ...], cl: tuple[np.ndarray, ...],
                 r0: int, c0: int) -> None:
        self.shared, self.rows, self.cols = shared, rows, cols
        self.rl, self.cl, self.r0, self.c0 = rl, cl, r0, c0

    def load(self) -> MemoSubPlan | None:
        """The gathered plan, or ``None`` where this process cannot read
        the file (another node, or the file is gone)."""
        path, shape, node = self.shared
        if not _same_node(node):
            return None
        E = _open_shared(path, shape, write=False)
        if E is None:
            return None
        sub = E[np.ix_(self.rows, self.cols)]  # a new, writeable array
        del E
        return MemoSubPlan(sub, tuple(np.array(a) for a in self.rl),
                           tuple(np.array(a) for a in self.cl), self.r0,
                           self.c0)


def _memo_plan(kernel: Any) -> MemoBlockPlan | None:
    """The tables of the local path's ``memo_graph_pairs`` closure, or
    ``None`` for another kernel (then shipped whole)."""
    import inspect
    code = getattr(kernel, '__code__', None)
    if code is None or 'memo_graph_pairs' not in code.co_names:
        return None
    try:
        free = inspect.getclosurevars(kernel).nonlocals
    except (TypeError, ValueError):
        return None
    if not {'Eprev', 'rl', 'cl'} <= set(free):
        return None
    return MemoBlockPlan(free['Eprev'], free['rl'], free['cl'])


class NumpyTmdPlan:
    """TMD with ``backend='numpy'``: the memoised tree costs of
    :func:`pyg_ext.metrics.tmd.tree_costs` and the scipy graph level of
    :func:`~pyg_ext.metrics.tmd.graph_level` (each pair solved alone)."""

    def __init__(self, batch: GraphBatch, n_a: int | None, depth: int,
                 w: np.ndarray, p: float) -> None:
        from pyg_ext.metrics.tmd import tree_costs
        self.batch = batch
        self.symmetric = n_a is None
        self.col_offset = 0 if n_a is None else n_a
        self.backend = 'numpy'
        N = batch.num_nodes
        split = N if n_a is None else int(batch.ptr[n_a])
        rows = np.arange(split)
        cols = rows if n_a is None else np.arange(split, N)
        self.costs = tree_costs(batch, rows, cols, depth, w, p,
                                self.symmetric, 'numpy')

    def values(self, pi: np.ndarray, pj: np.ndarray) -> np.ndarray:
        from pyg_ext.metrics.tmd import graph_level
        if len(pi) == 0:
            return np.empty(0)
        # only the graphs of this block: a pair's value depends on its two
        # graphs' tree lists alone
        rg, ri = np.unique(pi, return_inverse=True)
        cg, ci = np.unique(pj, return_inverse=True)
        return graph_level(self.costs, self.batch, rg, cg + self.col_offset,
                           ri.reshape(-1), ci.reshape(-1), 'numpy')


def _take_kernel(kernel: Any, *_: Any) -> Any:
    return kernel


def _resolve(metric: str, batch: GraphBatch, options: dict[str, Any],
             n_a: int | None = None) -> dict[str, Any]:
    """The local path's argument checks, in its order; JSON-able values."""
    from pyg_ext.metrics import tmd
    opts = dict(options)
    if metric == 'tmd':
        depth = tmd._check_depth(opts['depth'])
        w = tmd.resolve_weights(opts['weights'], depth)
        p = tmd._check_p(opts['p'])
        # the local rule (tmd._tmd_matrix), but waiting for the kernels
        # wherever numba pays: a cluster job is long, and the resolved
        # backend must not depend on whether a compile happens to be done
        prefer = (batch.num_nodes > tmd.AUTO_NUMBA_NODES
                  or tmd._pair_cost(batch, n_a, depth)
                  >= tmd.AUTO_NUMBA_COST)
        backend = tmd._backend(opts['backend'], prefer_numba=prefer,
                               need_numba=prefer)
        jobs = tmd._n_jobs(opts['n_jobs'])
        return {'depth': depth, 'weights': [float(v) for v in w], 'p': p,
                'backend': backend, 'jobs': jobs}
    from pyg_ext.metrics import rjl
    depth = tmd._check_depth(opts['depth'])
    p = tmd._check_p(opts['p'])
    const = rjl._check_unmatched(opts['unmatched'])
    mean = rjl._check_aggregation(opts['aggregation'])
    backend = tmd._backend(opts['backend'],
                           prefer_numba=batch.num_graphs > 8,
                           need_numba=batch.num_graphs > 8)
    jobs = tmd._n_jobs(opts['n_jobs'])
    return {'depth': depth, 'p': p, 'unmatched': const, 'mean': mean,
            'aggregation': opts['aggregation'], 'backend': backend,
            'jobs': jobs, 'names': list(opts.get('names') or
                                        ('graphs[{}]', 'graphs[{}]'))}


def _local(metric: str, batch: GraphBatch, n_a: int | None,
           r: dict[str, Any]) -> np.ndarray:
    """The plain single-process matrix (trivial cases)."""
    if metric == 'tmd':
        from pyg_ext.metrics.tmd import _tmd_matrix
        return _tmd_matrix(batch, n_a, r['depth'], np.asarray(r['weights']),
                           r['p'], r['backend'], r['jobs'], False)
    from pyg_ext.metrics.rjl import _didm_matrix
    return _didm_matrix(batch, n_a, r['depth'], r['p'],
                        'blank' if r['unmatched'] < 0 else r['unmatched'],
                        r['backend'], r['jobs'], False, r['aggregation'],
                        tuple(r['names']))


def build_plan(metric: str, batch: GraphBatch, n_a: int | None,
               r: dict[str, Any], level_matrix: Any = None) -> Any:
    """The dataset-wide tables and per-pair kernel, built by the local
    path's own code (see the module docstring); ``level_matrix`` replaces
    the compiled kernel that fills a memoised TMD level (the Ray engine
    solves it by row blocks)."""
    from pyg_ext.metrics import tmd
    symmetric = n_a is None
    if metric == 'tmd':
        w = np.asarray(r['weights'], dtype=np.float64)
        if r['backend'] == 'numba':
            with tmd._Threads(r['jobs'], 'numba'):
                kernel = tmd._tmd_matrix_numba(batch, n_a, r['depth'], w,
                                               r['p'], False,
                                               run_pairs=_take_kernel,
                                               level_matrix=level_matrix)
            if level_matrix is not None:  # the Ray engine: memo by blocks
                memo = _memo_plan(kernel)
                if memo is not None:
                    memo.shared = level_matrix.shared_file(memo.E)
                    return memo
            return KernelPlan(kernel, symmetric, 'numba')
        return NumpyTmdPlan(batch, n_a, r['depth'], w, r['p'])
    from pyg_ext.metrics.rjl import _didm_matrix
    kernel = _didm_matrix(batch, n_a, r['depth'], r['p'],
                          'blank' if r['unmatched'] < 0 else r['unmatched'],
                          r['backend'], r['jobs'], False, r['aggregation'],
                          tuple(r['names']), run_pairs=lambda k: k)
    return KernelPlan(kernel, symmetric, r['backend'])


def compute_block(plan: Any, r0: int, r1: int, c0: int, c1: int,
                  symmetric: bool) -> np.ndarray:
    """Dense ``[r1 - r0, c1 - c0]`` raw values of a block (entries on or
    below the diagonal of a diagonal block are 0)."""
    a, b = block_pairs(r0, r1, c0, c1, symmetric)
    out = np.zeros((r1 - r0, c1 - c0))
    out[a - r0, b - c0] = plan.values(a, b)
    return out


def _inject(fault: tuple[Any, ...] | None, block: tuple[int, int]) -> None:
    """Test faults: ``('kill_once', marker, i, j)`` kills this worker
    process the first time block ``(i, j)`` runs (``marker`` records it);
    ``('raise', i, j)`` fails block ``(i, j)``."""
    if fault is None:
        return
    if fault[0] == 'kill_once' and tuple(fault[2:4]) == block:
        marker = fault[1]
        if not os.path.exists(marker):
            with open(marker, 'w') as f:
                f.write(str(os.getpid()))
            import signal
            os.kill(os.getpid(), signal.SIGKILL)
    if fault[0] == 'raise' and tuple(fault[1:3]) == block:
        raise RuntimeError(f'injected failure in block {block}')


def _block_task(plan_box: list[Any], i: int, j: int, r0: int, r1: int,
                c0: int, c1: int, symmetric: bool, threads: int,
                fault: tuple[Any, ...] | None) -> np.ndarray | None:
    """Body of a Ray block task (runs in a worker process); ``None``: the
    block's shared plan cannot be read here, send its slice."""
    from pyg_ext.distributed._ray import pin_threads
    pin_threads(threads)
    _inject(fault, (i, j))
    if plan_box[0] is None:  # this block's own tables
        sub = plan_box[1]
        if isinstance(sub, SharedMemoSubPlan):
            plan = sub.load()
            if plan is None:  # not on the driver's node: ask for the slice
                return None
        else:
            plan = sub.writeable()
    else:  # the shared plan, fetched once per worker
        plan = _cached(plan_box[0])
    pin_threads(threads)  # numba may have been imported just now
    return compute_block(plan, r0, r1, c0, c1, symmetric)


def metric_matrix(metric: str, batch: GraphBatch, n_a: int | None,
                  options: dict[str, Any], *, engine: str = 'ray',
                  address: str | None = None, block_size: int | None = None,
                  store: str | os.PathLike[str] | None = None,
                  threads_per_worker: int = 1,
                  retries: int = RETRIES) -> np.ndarray:
    """A TMD (``metric='tmd'``) or DIDM (``'didm'``) matrix by blocks.

    Args:
        metric: ``'tmd'`` or ``'didm'``.
        batch: the prepared graphs (``graphs_a`` then ``graphs_b`` for a
            cross matrix).
        n_a: ``None`` for the symmetric matrix of all graphs, else the
            number of row graphs.
        options: the metric's options as the public function takes them
            (``depth``, ``weights`` / ``unmatched``, ``aggregation``, ``p``,
            ``backend``, ``n_jobs``).
        engine: ``'ray'`` or ``'local'`` (blocks in this process: useful
            with a ``store``).
        address: the Ray cluster (see :func:`._ray.connect`).
        block_size: graphs per block side (default
            :func:`default_block_size`).
        store: folder for finished blocks; a re-run with the same inputs
            and parameters computes only the missing ones.
        threads_per_worker: CPU slots and threads per block task.
        retries: retries of a task whose worker died.

    Returns:
        The matrix, bit for bit the single-process one.

    Raises:
        ValueError, TypeError: bad options (as the local path); ImportError
            (no ray), RuntimeError (unreachable cluster, failed block).
    """
    if metric not in ('tmd', 'didm'):
        raise ValueError(f"metric must be 'tmd' or 'didm', got {metric!r}")
    use_engine(engine, address, block_size, store, threads_per_worker)
    r = _resolve(metric, batch, options, n_a)
    G = batch.num_graphs
    symmetric = n_a is None
    n_rows = G if symmetric else n_a
    n_cols = G if symmetric else G - n_a
    trivial = (batch.num_nodes == 0 if metric == 'tmd'
               else bool((batch.sizes == 0).any()))
    if trivial or n_rows == 0 or n_cols == 0 or (symmetric and G < 2):
        return _local(metric, batch, n_a, r)
    size = block_size or default_block_size(n_rows)
    todo = blocks(n_rows, n_cols, size, symmetric)
    D = np.zeros((n_rows, n_cols))
    bstore = None
    if store is not None:
        from pyg_ext import __version__
        from pyg_ext.distributed.store import BlockStore, run_key
        params = {k: v for k, v in r.items() if k not in ('jobs', 'names')}
        meta = {'metric': metric, 'n_a': n_a, 'shape': [n_rows, n_cols],
                'block_size': size, 'params': params,
                'pyg_ext': __version__}
        key = run_key(meta, (batch.x, batch.ptr, batch.child_ptr,
                             batch.child))
        bstore = BlockStore(store, metric, key, meta)
        missing = []
        for b in todo:
            arr = bstore.load((b[0], b[1]), (b[3] - b[2], b[5] - b[4]))
            if arr is None:
                missing.append(b)
            else:
                D[b[2]:b[3], b[4]:b[5]] = arr
        logger.info('store %s: %d of %d blocks done', bstore.dir,
                    len(todo) - len(missing), len(todo))
        todo = missing
    if todo:
        t0 = time.perf_counter()
        level = None
        if engine == 'ray':
            from pyg_ext.distributed._ray import connect
            level = RayLevel(connect(address), threads_per_worker, retries)
        try:
            plan = build_plan(metric, batch, n_a, r, level)
            logger.info('tables built in %.2f s; %d blocks to solve',
                        time.perf_counter() - t0, len(todo))
            done = _run_ray(plan, todo, symmetric, address,
                            threads_per_worker, retries) \
                if engine == 'ray' else _run_local(plan, todo, symmetric, r)
            t1 = time.perf_counter()
            for b, arr, sec in done:
                D[b[2]:b[3], b[4]:b[5]] = arr
                if bstore is not None:
                    bstore.save((b[0], b[1]), arr, sec)
            logger.info('%d blocks solved in %.2f s', len(todo),
                        time.perf_counter() - t1)
        finally:
            if level is not None:
                level.close()
    if symmetric:
        mirror_upper(D, G)
    # distances are >= 0: the local paths clamp float cancellation too
    np.maximum(D, 0.0, out=D)
    return D


def _run_local(plan: Any, todo: list[tuple[int, ...]], symmetric: bool,
               r: dict[str, Any]) -> Iterator[tuple[Any, np.ndarray, float]]:
    from pyg_ext.metrics.tmd import _Threads
    fault = _FAULT
    for b in todo:
        _inject(fault if fault and fault[0] == 'raise' else None,
                (b[0], b[1]))
        t0 = time.perf_counter()
        with _Threads(r['jobs'], plan.backend):
            arr = compute_block(plan, *b[2:], symmetric)
        yield b, arr, time.perf_counter() - t0


_REMOTE: dict[str, Any] = {}

#: A memoised level with fewer tree pairs than this is solved on the
#: driver (shipping it would cost more than it saves).
MIN_LEVEL_PROBLEMS = 2_000_000


def mirror_upper(M: np.ndarray, n: int, step: int = 1024) -> None:
    """``M[j, i] = M[i, j]`` for ``i < j < n`` (in place, by strips: no
    ``n x n`` index arrays)."""
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        M[r0:r1, :r0] = M[:r0, r0:r1].T
        blk = M[r0:r1, r0:r1]
        low = np.tril_indices(r1 - r0, -1)
        blk[low] = blk.T[low]


def _row_chunks(R: int, C: int, symmetric: bool, n: int
                ) -> list[tuple[int, int]]:
    """``n`` row ranges of about equal work (row ``i`` of a symmetric
    level solves ``C - i`` tree pairs)."""
    work = (C - np.arange(R, dtype=np.float64)) if symmetric else np.ones(R)
    cum = np.cumsum(work)
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, n) / n)
    bounds = np.unique(np.concatenate([[0], cuts, [R]])).astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])
            if b > a]


def write_rows(dst: np.ndarray, vals: np.ndarray, r0: int, r1: int,
               c0: int, symmetric: bool) -> None:
    """Put rows ``r0:r1`` x columns ``c0:`` of a level (``vals``) into
    ``dst``; for a symmetric level (``c0 == r0``) also their mirror image,
    as :func:`mirror_upper` would: every entry below the diagonal is the
    one above it (pure copies, so the level is bit for bit the same)."""
    C = c0 + vals.shape[1]
    if not symmetric:
        dst[r0:r1, c0:C] = vals
        return
    k = r1 - r0
    sq = np.array(vals[:, :k])
    low = np.tril_indices(k, -1)
    sq[low] = sq.T[low]
    dst[r0:r1, r0:r1] = sq
    rest = vals[:, k:]
    dst[r0:r1, r1:C] = rest
    dst[r1:C, r0:r1] = rest.T


def _level_task(box: list[Any], r0: int, r1: int, c0: int, threads: int,
                share: tuple[str, tuple[int, int], str] | None,
                symmetric: bool) -> np.ndarray | None:
    """Rows ``r0:r1`` x columns ``c0:`` of a memoised level, computed by the
    compiled ``level_matrix`` itself on those rows and columns (each entry
    is solved alone, with the row tree as the row side, as in the full
    call). With ``share = (path, shape, node id)`` and this worker on that
    node, the rows (and, symmetric, their mirror image) are written straight
    into the driver's shared level file and ``None`` is returned; otherwise
    the rows are returned."""
    from pyg_ext.distributed._ray import pin_threads
    from pyg_ext.metrics import _ot
    pin_threads(threads)
    args = _cached_level(box[0])
    pin_threads(threads)
    (Eprev, E1, rroot, rch, rchc, rdeg, croot, cch, cchc, cdeg, w) = args
    R, C = r1 - r0, len(cdeg) - c0
    out = np.empty((R + 1, C + 1))
    _ot.numba_kernels().level_matrix(
        Eprev, E1, rroot[r0:r1], rch[r0:r1], rchc[r0:r1], rdeg[r0:r1],
        croot[c0:], cch[c0:], cchc[c0:], cdeg[c0:], w, np.zeros(R),
        np.zeros(C), False, out)
    if share is not None and _same_node(share[2]):
        dst = _open_shared(share[0], share[1])
        if dst is not None:
            write_rows(dst, out[:R, :C], r0, r1, c0, symmetric)
            del dst
            return None
    return out[:R, :C]


def _driver_node(ray: Any) -> str:
    """The node id of this (driver) process."""
    return ray.get_runtime_context().get_node_id()


def _same_node(node_id: str) -> bool:
    try:
        import ray
        return ray.get_runtime_context().get_node_id() == node_id
    except Exception:  # not in a Ray worker
        return False


#: Folder of the shared files of big memoised levels (a RAM-backed tmpfs;
#: ``None``: always ship the rows through the object store).
SHARED_LEVEL_DIR: str | None = '/dev/shm'


def _open_shared(path: str, shape: tuple[int, int], write: bool = True
                 ) -> np.ndarray | None:
    """A float64 view (writeable with ``write``) of the shared level file at
    ``path`` (``None`` when it is not there or has another size)."""
    import mmap
    try:
        with open(path, 'r+b' if write else 'rb') as f:
            nbytes = 8 * shape[0] * shape[1]
            if os.fstat(f.fileno()).st_size != nbytes:
                return None
            buf = mmap.mmap(f.fileno(), nbytes, access=mmap.ACCESS_WRITE
                            if write else mmap.ACCESS_READ)
    except OSError:
        return None
    return np.frombuffer(buf, dtype=np.float64).reshape(shape)


def _cached_level(ref: Any) -> Any:
    """The arguments of a level task behind ``ref``, once per worker
    process, as writeable copies (read-only object-store arrays would make
    numba compile another specialisation of the kernel)."""
    key = 'level:' + ref.hex()
    obj = _PLANS.get(key)
    if obj is None:
        import ray
        obj = tuple(np.array(a) if isinstance(a, np.ndarray) else a
                    for a in ray.get(ref))
        _PLANS.clear()
        _PLANS[key] = obj
    return obj


def _cached(ref: Any) -> Any:
    """The unpickled object behind ``ref``, once per worker process (the
    arrays are writeable copies: read-only object-store arrays would make
    numba compile another specialisation of every kernel)."""
    key = ref.hex()
    obj = _PLANS.get(key)
    if obj is None:
        import ray
        obj = pickle.loads(ray.get(ref))
        _PLANS.clear()
        _PLANS[key] = obj
    return obj


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class RayLevel:
    """Drop-in for the compiled ``level_matrix``: row chunks of a big
    memoised level as Ray tasks (each entry solved by the same kernel with
    the same row / column roles as in the single call).

    The caller allocates the level with :meth:`empty`: a big one lives in a
    file of :data:`SHARED_LEVEL_DIR` mapped by the driver, and the workers
    on the driver's node write their rows and their mirror image straight
    into it (no copy through the object store, no assembly or mirroring on
    the driver); rows from other nodes come back as arrays and are written
    here as they arrive. The top level's file is kept until :meth:`close`
    (at the end of :func:`metric_matrix`): the pair-block tasks on the
    driver's node gather their slice of it themselves
    (:class:`SharedMemoSubPlan`); the driver's mapping stays valid after
    the file is removed."""

    def __init__(self, ray: Any, threads: int, retries: int) -> None:
        from pyg_ext.distributed._ray import cpu_slots, task_options
        self.ray = ray
        self.threads = threads
        self.slots = cpu_slots(ray, threads)
        if 'level' not in _REMOTE:
            _REMOTE['level'] = ray.remote(_level_task)
        self.remote = _REMOTE['level'].options(
            **task_options(threads, retries))
        self._shared: dict[int, str] = {}  # id(array) -> file
        # id(level) -> (file, shape, node) of the levels solved into a file
        self._done: dict[int, tuple[str, tuple[int, int], str]] = {}

    def empty(self, shape: tuple[int, int]) -> np.ndarray:
        """An uninitialised float64 level of ``shape``: shared through a
        file of :data:`SHARED_LEVEL_DIR` when it is big enough to be solved
        by the workers and the folder has room, else ``np.empty``."""
        import mmap
        import uuid
        import weakref
        R, C = shape[0] - 1, shape[1] - 1
        nbytes = 8 * shape[0] * shape[1]
        folder = SHARED_LEVEL_DIR
        if R * C < MIN_LEVEL_PROBLEMS or folder is None or nbytes == 0:
            return np.empty(shape)
        try:
            st = os.statvfs(folder)
            if st.f_bavail * st.f_frsize < nbytes + (64 << 20):
                logger.info('%s has no room for a %.1f GB level: rows go '
                            'through the object store', folder, nbytes / 1e9)
                return np.empty(shape)
            path = os.path.join(folder, f'pyg_ext_level_{os.getpid()}_'
                                f'{uuid.uuid4().hex}.f64')
            with open(path, 'w+b') as f:
                f.truncate(nbytes)
                buf = mmap.mmap(f.fileno(), nbytes)
        except OSError as exc:
            logger.info('no shared level file in %s (%s)', folder, exc)
            return np.empty(shape)
        arr = np.frombuffer(buf, dtype=np.float64).reshape(shape)
        self._shared[id(arr)] = path
        weakref.finalize(arr, _unlink, path)
        return arr

    def __call__(self, Eprev: np.ndarray, E1: np.ndarray, rroot: np.ndarray,
                 rch: np.ndarray, rchc: np.ndarray, rdeg: np.ndarray,
                 croot: np.ndarray, cch: np.ndarray, cchc: np.ndarray,
                 cdeg: np.ndarray, w: float, brow: np.ndarray,
                 bcol: np.ndarray, symmetric: bool, out: np.ndarray) -> None:
        from pyg_ext.metrics import _ot
        R, C = len(rdeg), len(cdeg)
        path = self._shared.pop(id(out), None)
        if R * C < MIN_LEVEL_PROBLEMS:
            if path is not None:
                _unlink(path)
            _ot.numba_kernels().level_matrix(
                Eprev, E1, rroot, rch, rchc, rdeg, croot, cch, cchc, cdeg, w,
                brow, bcol, symmetric, out)
            return
        t0, cpu0 = time.perf_counter(), time.process_time()
        share = None
        if path is not None:
            share = (path, (int(out.shape[0]), int(out.shape[1])),
                     _driver_node(self.ray))
        try:
            self._solve(Eprev, E1, rroot, rch, rchc, rdeg, croot, cch, cchc,
                        cdeg, w, symmetric, out, share, t0, cpu0)
        except BaseException:
            if path is not None:
                _unlink(path)
            raise
        if share is not None:  # kept for the pair blocks until close()
            self._done[id(out)] = share
        out[:R, C] = brow
        out[R, :C] = bcol
        out[R, C] = 0.0

    def shared_file(self, level: np.ndarray
                    ) -> tuple[str, tuple[int, int], str] | None:
        """``(path, shape, node id)`` of the file ``level`` was solved into
        (``None``: not a shared level)."""
        return self._done.get(id(level))

    def close(self) -> None:
        """Remove the shared files (the driver's mappings stay valid)."""
        for path in self._shared.values():
            _unlink(path)
        for path, _, _ in self._done.values():
            _unlink(path)
        self._shared.clear()
        self._done.clear()

    def _solve(self, Eprev: np.ndarray, E1: np.ndarray, rroot: np.ndarray,
               rch: np.ndarray, rchc: np.ndarray, rdeg: np.ndarray,
               croot: np.ndarray, cch: np.ndarray, cchc: np.ndarray,
               cdeg: np.ndarray, w: float, symmetric: bool, out: np.ndarray,
               share: tuple[str, tuple[int, int], str] | None,
               t0: float, cpu0: float) -> None:
        R, C = len(rdeg), len(cdeg)
        ref = self.ray.put((Eprev, E1, rroot, rch, rchc, rdeg, croot, cch,
                            cchc, cdeg, float(w)))
        t_put = time.perf_counter() - t0
        chunks = _row_chunks(R, C, symmetric, max(32, 16 * self.slots))
        pending = {}
        queue = list(chunks)
        window = 2 * self.slots + 1
        written = here = 0
        t_here = 0.0
        try:
            while queue or pending:
                while queue and len(pending) < window:
                    r0, r1 = queue.pop(0)
                    c0 = r0 if symmetric else 0
                    pending[self.remote.remote(
                        [ref], r0, r1, c0, self.threads, share,
                        symmetric)] = (r0, r1, c0)
                ready, _ = self.ray.wait(list(pending), num_returns=1)
                for fut in ready:
                    r0, r1, c0 = pending.pop(fut)
                    vals = self.ray.get(fut)
                    if vals is None:
                        written += 1
                        continue
                    t1 = time.perf_counter()
                    write_rows(out, vals, r0, r1, c0, symmetric)
                    t_here += time.perf_counter() - t1
                    here += 1
        finally:
            from pyg_ext.distributed._ray import abandon
            abandon(pending, 'level rows')
        logger.info('level of %d x %d trees in %d row chunks: %.1f s (args '
                    'put %.2f s; %d chunks written by the workers into %s, '
                    '%d here in %.2f s; driver CPU %.2f s)', R, C,
                    len(chunks), time.perf_counter() - t0, t_put, written,
                    'the shared file' if share else '-', here, t_here,
                    time.process_time() - cpu0)


def _run_ray(plan: Any, todo: list[tuple[int, ...]], symmetric: bool,
             address: str | None, threads: int, retries: int
             ) -> Iterator[tuple[Any, np.ndarray, float]]:
    from ray import cloudpickle

    from pyg_ext.distributed._ray import (
        abandon,
        connect,
        cpu_slots,
        task_options,
    )
    ray = connect(address)
    if 'block' not in _REMOTE:
        _REMOTE['block'] = ray.remote(_block_task)
    remote = _REMOTE['block'].options(**task_options(threads, retries))
    t0 = time.perf_counter()
    per_block = hasattr(plan, 'block_plan')
    plan_ref = None if per_block else ray.put(
        cloudpickle.dumps(plan, protocol=5))
    logger.info('plan in the object store in %.2f s',
                time.perf_counter() - t0)
    fault = _FAULT
    window = 2 * cpu_slots(ray, threads) + 2
    queue = list(todo)
    pending: dict[Any, tuple[tuple[int, ...], float]] = {}

    def submit(b: tuple[int, ...] | None = None, gather: bool = False
               ) -> None:
        b = queue.pop(0) if b is None else b
        # a block's own slice goes as a task argument (one copy into the
        # object store; only its indices when the level is in a shared
        # file); a shared plan was put once
        box = [plan_ref] if not per_block else [None, plan.block_plan(
            *b[2:], gather=gather)]
        ref = remote.remote(box, b[0], b[1], *b[2:], symmetric, threads,
                            fault)
        pending[ref] = (b, time.perf_counter())

    while queue and len(pending) < window:
        submit()
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                b, started = pending.pop(ref)
                try:
                    arr = ray.get(ref)
                except Exception as exc:
                    cause = getattr(exc, 'cause', None) or exc
                    raise RuntimeError(
                        f'block {b[:2]} (rows {b[2]}:{b[3]}, columns '
                        f'{b[4]}:{b[5]}) failed after {retries} retries: '
                        f'{type(cause).__name__}: {cause}') from exc
                if arr is None:  # a worker off the driver's node
                    submit(b, gather=True)
                    continue
                if queue:
                    submit()
                yield b, arr, time.perf_counter() - started
    finally:
        abandon(pending, 'matrix blocks')


__all__ = ['blocks', 'build_plan', 'compute_block', 'default_block_size',
           'metric_matrix']
