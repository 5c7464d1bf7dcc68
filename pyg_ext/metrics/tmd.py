r"""Exact Tree Mover's Distance (Chuang & Jegelka, NeurIPS 2022).

`"Tree Mover's Distance: Bridging Graph Metrics and Stability of Graph Neural
Networks" <https://arxiv.org/abs/2210.01906>`_ compares two attributed graphs
through their depth-:math:`L` computation trees:

.. math::
    \mathrm{TD}_w(T_a, T_b) = \|x_{r_a} - x_{r_b}\|_p
    + w_{L} \cdot \mathrm{OT}_{\mathrm{TD}_w}\big(\rho(\mathcal{T}_{r_a},
    \mathcal{T}_{r_b})\big),

where :math:`\mathcal{T}_{r}` is the multiset of the root's child subtrees
(depth :math:`L-1`), :math:`\rho` pads the smaller multiset with *blank*
trees (a single node with all-zero features) so that both have equal size,
and :math:`\mathrm{OT}` is optimal transport with unit mass per tree. Depth-1
trees are single nodes, compared by :math:`\|x_a - x_b\|_p` only. Then

.. math::
    \mathrm{TMD}^L_w(G_a, G_b) = \mathrm{OT}_{\mathrm{TD}_w}\big(
    \rho(\{T^L_v\}_{v \in G_a}, \{T^L_u\}_{u \in G_b})\big).

The weight list has :math:`L - 1` entries: ``weights[l]`` scales the child OT
of depth-``(l + 2)`` trees, exactly as ``TMD(g1, g2, w, L)`` of the reference
code (`chingyaoc/TMD <https://github.com/chingyaoc/TMD>`_) indexes ``w``.

How it is computed (exact, no approximation):

1. Trees are identified by dataset-wide WL colours (:mod:`._wl`), so
   :math:`\mathrm{TD}` is computed once per pair of *distinct* trees per level
   for a whole collection (MUTAG: 7 / 33 / 174 / 572 distinct trees at depths
   1-4 among 3,371 nodes).
2. Unit masses make every OT an assignment problem; the blank padding is
   folded into a *rectangular* one (the unmatched trees of the larger side
   pay their blank distance), so a 620-node graph against a 40-node one
   costs :math:`40^2 \cdot 620`, not :math:`620^3`. The numpy path solves
   child problems in vectorised batches (:func:`._ot.batched_assignment`)
   and graph problems with scipy; the numba path (:mod:`._numba`) solves
   both with compiled enumeration / subset-DP / Hungarian solvers in
   parallel, after cancelling the trees both sides share (exact: every
   level's tree distance is a pseudometric and OT under a metric cost does
   not change when the same point is removed from both sides).
3. Blank-tree distances are computed once per distinct tree.
4. The numpy path memoises every level; the numba path memoises levels
   ``2 .. L-1`` and solves the top level per graph pair from a cache-local
   block of level ``L-1`` when that is cheaper than storing it (PROTEINS:
   35,676 distinct depth-4 trees, a 10 GB matrix; a pair needs only its two
   graphs' trees).
5. The numba path solves one graph per group of graphs with the same
   multiset of top-level trees (copies, isomorphic relabellings: equal
   rows, 0 between them) and, in a pair whose level-``L-1`` trees are
   disjoint (nothing can cancel), subtracts the blank distances once per
   pair instead of once per child problem.

Things users trip over:

* TMD is **not translation invariant**: blank trees have zero features, so
  shifting all features changes the distance between graphs of different
  sizes (and between nodes of different degrees).
* TMD **grows with graph size** (unit mass per node, sums over children):
  compare graphs of similar size or use
  :func:`~pyg_ext.metrics.didm_movers_distance` for a size-independent
  metric.
* ``flow``: the reference code takes *out*-neighbours as children
  (``flow='target_to_source'``); PyG's layers aggregate *in*-neighbours
  (``flow='source_to_target'``, the default here). Both agree on undirected
  graphs.
"""

from __future__ import annotations

import logging
import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from pyg_ext.metrics import _ot
from pyg_ext.metrics._wl import (
    GraphBatch,
    check_graph,
    concat,
    feature_colours,
    prepare,
    refine,
)
from pyg_ext.utils.validation import check_int

logger = logging.getLogger(__name__)

BACKENDS = ('auto', 'numpy', 'numba')

#: Largest memoised tree-distance matrix (bytes) before a clear
#: :class:`MemoryError` instead of an out-of-memory kill; raise it with
#: ``pyg_ext.metrics.tmd.MAX_MATRIX_BYTES = ...`` on a big machine.
MAX_MATRIX_BYTES = 4 * 1024 ** 3

#: ``backend='auto'`` takes numba (when installed) for collections with more
#: nodes than this: the numpy path memoises every level (PROTEINS at depth 4
#: would need a 10 GB matrix), the numba path solves the top level per graph
#: pair
AUTO_NUMBA_NODES = 10_000
#: ``backend='auto'`` also takes numba (once its kernels are loaded) when
#: the node pairs compared times the depth (:func:`_pair_cost`) reach this:
#: a 300-node pair at depth 4 (90,000) ran 6x faster on numba; molecule
#: pairs (about 1,600) stay on numpy, as fast there
AUTO_NUMBA_COST = 50_000


def _pair_cost(batch: GraphBatch, n_a: int | None, depth: int) -> int:
    """Estimated work of a TMD call: node pairs compared (across the two
    sides for :func:`tmd_cross`, all pairs for :func:`tmd_pairwise`) times
    the depth."""
    N = batch.num_nodes
    if n_a is None:
        pairs = N * (N - 1) // 2
    else:
        na = int(batch.ptr[n_a])
        pairs = na * (N - na)
    return pairs * depth


def check_matrix_size(rows: int, cols: int, level: int,
                      copies: float = 2) -> None:
    """Raise a :class:`MemoryError` naming the cause when the distinct-tree
    distance matrices of one level (``copies`` of them alive at once) would
    exceed :data:`MAX_MATRIX_BYTES`."""
    need = (rows + 1) * (cols + 1) * 8 * copies
    if need > MAX_MATRIX_BYTES:
        raise MemoryError(
            f'{rows} x {cols} distinct computation trees at level {level}: '
            f'the memoised distance matrices need ~{need / 1024 ** 3:.1f} GiB '
            f'(limit {MAX_MATRIX_BYTES / 1024 ** 3:.1f} GiB, '
            'pyg_ext.metrics.tmd.MAX_MATRIX_BYTES). Use a smaller depth, '
            'discrete features, or compute cross() on blocks of graphs.')


def pascal_weights(depth: int) -> list[float]:
    r"""The depth weights of the TMD stability bound (Theorem 8 of the paper,
    ``stability.py`` of the reference code).

    :math:`w_l = \binom{L-1}{l-1} / \binom{L-1}{l}` for
    :math:`l = 1, \dots, L - 1`; e.g. ``[1/3, 1, 3]`` for depth 4,
    ``[0.5, 2]`` for depth 3 and ``[1]`` for depth 2.

    The ratio of binomials is :math:`w_l = l / (L - l)`, computed in that
    closed form (``O(L)``, the same correctly rounded floats as the ratio
    of the exact binomials, which are astronomically large for deep trees).

    Raises:
        ValueError: ``depth`` not an int, ``< 1`` or above
            ``10**7`` (a list that long is no use as TMD weights).
    """
    depth = _check_depth(depth)
    if depth > _MAX_PASCAL_DEPTH:
        raise ValueError(f'depth must be <= {_MAX_PASCAL_DEPTH} for '
                         f'pascal_weights, got {depth}')
    n = depth - 1
    k = np.arange(1, n + 1, dtype=np.float64)
    return (k / (n - k + 1)).tolist()


_MAX_PASCAL_DEPTH = 10 ** 7


def _check_depth(depth: Any) -> int:
    """``depth`` as an int >= 1 (a ``ValueError`` naming ``depth`` for
    anything else, floats and bools included)."""
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)):
        raise ValueError(f'depth must be an int >= 1, got '
                         f'{type(depth).__name__} {depth!r}')
    if depth < 1:
        raise ValueError(f'depth must be >= 1, got {depth}')
    return int(depth)


def resolve_weights(weights: float | Sequence[float] | str,
                    depth: int) -> np.ndarray:
    """Turn ``weights`` (a float, a list of ``depth - 1`` floats or
    ``'pascal'``) into an array of ``depth - 1`` non-negative weights."""
    depth = _check_depth(depth)
    if isinstance(weights, str):
        if weights.lower() != 'pascal':
            raise ValueError(f"weights must be a number, a list or 'pascal', "
                             f'got {weights!r}')
        w = np.asarray(pascal_weights(depth), dtype=np.float64)
    else:
        if hasattr(weights, 'detach'):
            weights = weights.detach().cpu().numpy()
        try:
            arr = np.asarray(weights)
            if arr.dtype.kind not in 'iuf':
                raise TypeError
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"weights must be a number, a list of numbers or "
                            f"'pascal', got {type(weights).__name__} "
                            f'{weights!r}') from None
        if arr.ndim == 0:
            w = np.full(depth - 1, float(arr))
        else:
            w = arr.reshape(-1)
        if len(w) != depth - 1:
            raise ValueError(f'weights has {len(w)} entries; depth {depth} '
                             f'needs depth - 1 = {depth - 1}')
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f'weights must be finite and >= 0, got {w.tolist()}')
    return w


def _check_p(p: float) -> float:
    if isinstance(p, (str, bool)) or not isinstance(p, numbers.Real):
        raise TypeError(f'p (the feature norm) must be a real number, got '
                        f'{type(p).__name__} {p!r}')
    p = float(p)
    if not (p >= 1):
        raise ValueError(f'p (the feature norm) must be >= 1, got {p}')
    return p


def _backend(backend: str, prefer_numba: bool = False,
             need_numba: bool = False) -> str:
    """Resolve ``backend``. ``'auto'`` takes numba only where it pays
    (``prefer_numba``: large DIDM problems) and only once its kernels are
    loaded: the first such call starts compiling them (10-60 s with an
    empty cache, then cached on disk) in a background thread and runs on
    numpy meanwhile. The numpy/scipy TMD path is
    as fast as numba on molecule-sized graphs."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    if backend == 'auto':
        from pyg_ext.typing import WITH_NUMBA
        if prefer_numba and WITH_NUMBA:
            # never wait for a compilation: the exact numpy path serves
            # until the kernels are compiled in the background; kernels
            # already in the disk cache load now (seconds; numpy DIDM can
            # take 15x longer than that on 40 small graphs)
            from pyg_ext.utils import _numba_setup as S
            what = _ot.NUMBA_KERNELS
            if need_numba or (S.kernel_state(what[0]) == 'idle'
                              and S.cached_on_disk(what[0])):
                # need_numba: the numpy path would not fit in memory (a
                # [trees x trees] matrix per level), so wait for the compile
                ready = S.wait_for_kernels(*what)
            else:
                ready = S.kernels_if_ready(*what)
            if ready is not None:
                return 'numba'
        return 'numpy'
    if backend == 'numba' and _ot.numba_kernels() is None:
        from pyg_ext.typing import require
        require('numba', "backend='numba'")
        # numba is installed but its kernels did not load (logged by
        # load_kernels): a clear error instead of an AttributeError later
        raise ImportError("backend='numba': the numba kernels could not be "
                          "loaded (see the warning above); use "
                          "backend='numpy'")
    return backend


def _n_jobs(n_jobs: int | None) -> int:
    cpus = os.cpu_count() or 1
    if n_jobs is None:
        return 1
    n_jobs = check_int(n_jobs, 'n_jobs')
    if n_jobs == 0:
        raise ValueError('n_jobs must be >= 1 or negative (-1: all cores), '
                         'got 0')
    if n_jobs < 0:
        return max(1, cpus + 1 + n_jobs)
    return max(1, n_jobs)


class _Threads:
    """Set numba's thread count for a block.

    Also puts torch's intra-op thread count back afterwards: with numba's
    ``'omp'`` threading layer (the one numba picks when TBB is absent)
    numba and torch share one OpenMP runtime, and numba's first parallel
    launch and :func:`numba.set_num_threads` set that runtime's thread
    count for the calling thread, i.e. ``torch.get_num_threads()`` went
    from 1 to the number of cores after any numba TMD / DIDM call, and
    every later torch op ran oversubscribed (34x the CPU time of a
    256 x 256 matmul on the shared 2-core machine)."""

    def __init__(self, n: int, backend: str) -> None:
        self.n = n
        self.backend = backend
        self.old: int | None = None
        self.torch_old: int | None = None

    def __enter__(self) -> _Threads:
        if self.backend == 'numba':
            import sys

            import numba
            if 'torch' in sys.modules:
                self.torch_old = sys.modules['torch'].get_num_threads()
            self.old = numba.get_num_threads()
            numba.set_num_threads(min(self.n, numba.config.NUMBA_NUM_THREADS))
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.old is not None:
            import numba
            numba.set_num_threads(self.old)
        if self.torch_old is not None:
            import sys
            torch = sys.modules['torch']
            if torch.get_num_threads() != self.torch_old:
                logger.debug('numba changed torch threads to %d; restoring '
                             '%d', torch.get_num_threads(), self.torch_old)
                torch.set_num_threads(self.torch_old)


def _norms(F: np.ndarray, p: float) -> np.ndarray:
    if F.shape[0] == 0:
        return np.zeros(0)
    return np.linalg.norm(F, ord=p, axis=1) if F.shape[1] else np.zeros(
        F.shape[0])


def _feature_dist(A: np.ndarray, B: np.ndarray, p: float) -> np.ndarray:
    from scipy.spatial.distance import cdist
    if A.shape[0] == 0 or B.shape[0] == 0 or A.shape[1] == 0:
        return np.zeros((A.shape[0], B.shape[0]))
    if p == 2.0:
        return cdist(A, B, 'euclidean')
    return cdist(A, B, 'minkowski', p=p)


def _positions(colours: np.ndarray, U: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct colours (sorted) and a map colour -> position, with the pad
    id ``U`` mapped to the blank position ``len(distinct)``."""
    distinct = np.unique(colours)
    pos = np.full(U + 1, -1, dtype=np.int64)
    pos[distinct] = np.arange(len(distinct))
    pos[U] = len(distinct)
    return distinct, pos


def _extend(D: np.ndarray, brow: np.ndarray, bcol: np.ndarray) -> np.ndarray:
    E = np.empty((D.shape[0] + 1, D.shape[1] + 1))
    E[:-1, :-1] = D
    E[:-1, -1] = brow
    E[-1, :-1] = bcol
    E[-1, -1] = 0.0
    return E


def _pairs_for_block(rows: np.ndarray, cols: np.ndarray, same: bool
                     ) -> tuple[np.ndarray, np.ndarray]:
    if same:
        a, b = np.triu_indices(len(rows))
        return rows[a], rows[b]
    return np.repeat(rows, len(cols)), np.tile(cols, len(rows))


def _assignment_matrix(E: np.ndarray, rch: np.ndarray, rdeg: np.ndarray,
                       cch: np.ndarray, cdeg: np.ndarray, symmetric: bool,
                       backend: str) -> np.ndarray:
    """``A[i, j]`` = assignment between the blank-padded children lists of
    row colour ``i`` and column colour ``j`` under costs ``E``."""
    nr, nc = len(rdeg), len(cdeg)
    A = np.zeros((nr, nc))
    if nr == 0 or nc == 0:
        return A
    rgroups = {int(k): np.flatnonzero(rdeg == k) for k in np.unique(rdeg)}
    cgroups = {int(k): np.flatnonzero(cdeg == k) for k in np.unique(cdeg)}
    for kr, rows in rgroups.items():
        for kc, cols in cgroups.items():
            K = max(kr, kc)
            if K == 0 or (symmetric and kc < kr):
                continue
            pi, pj = _pairs_for_block(rows, cols, symmetric and kr == kc)
            step = max(1, _ot.CHUNK_ELEMS // (K * K + (1 << min(K, 20))))
            for s in range(0, len(pi), step):
                a, b = pi[s:s + step], pj[s:s + step]
                C = E[rch[a, :K][:, :, None], cch[b, :K][:, None, :]]
                vals = _ot.batched_assignment(C)
                A[a, b] = vals
                if symmetric:
                    A[b, a] = vals
    return A


class TreeCosts:
    """Depth-``L`` tree distances between the trees of two node sets.

    Attributes:
        E: ``[R + 1, C + 1]`` distances between the distinct depth-``L``
            trees of the row side and of the column side; the last row /
            column is the blank tree.
        colour: depth-``L`` colour of every node of the batch.
        rpos, cpos: colour -> row / column position.
    """

    def __init__(self, E: np.ndarray, colour: np.ndarray, rpos: np.ndarray,
                 cpos: np.ndarray) -> None:
        self.E = E
        self.colour = colour
        self.rpos = rpos
        self.cpos = cpos


def tree_costs(batch: GraphBatch, row_nodes: np.ndarray,
               col_nodes: np.ndarray, depth: int, w: np.ndarray, p: float,
               symmetric: bool, backend: str,
               progress_bar: bool = False) -> TreeCosts:
    """Memoised TD between all distinct depth-``depth`` trees of
    ``row_nodes`` and of ``col_nodes`` (node index arrays of ``batch``)."""
    c1, B1, E, rpos, cpos = _first_level(batch, row_nodes, col_nodes, p)
    E1, rpos1, cpos1 = E, rpos, cpos
    colour, B = c1, B1
    steps = range(depth - 1)
    if progress_bar:
        from tqdm.auto import tqdm
        steps = tqdm(steps, desc='TMD tree levels')
    for t in steps:
        ref, root, Bn, Rn, rpos_n, Cn, cpos_n = _next_level(
            batch, c1, colour, B, B1, w[t], row_nodes, col_nodes)
        check_matrix_size(len(Rn), len(Cn), t + 2)
        rch = rpos[ref.children[Rn]]
        cch = cpos[ref.children[Cn]]
        A = _assignment_matrix(E, rch, ref.degree[Rn], cch, ref.degree[Cn],
                               symmetric, backend)
        roots = E1[rpos1[root[Rn]]][:, cpos1[root[Cn]]]
        E = _extend(roots + w[t] * A, Bn[Rn], Bn[Cn])
        colour, B, rpos, cpos = ref.colour, Bn, rpos_n, cpos_n
    return TreeCosts(E, colour, rpos, cpos)


def _first_level(batch: GraphBatch, row_nodes: np.ndarray,
                 col_nodes: np.ndarray, p: float
                 ) -> tuple[np.ndarray, ...]:
    """Feature colours ``c1``, their blank distances ``B1`` and the
    depth-1 matrix ``E1`` (row / column positions ``rpos``, ``cpos``)."""
    c1, F1 = feature_colours(batch.x)
    U = len(F1)
    B1 = _norms(F1, p)
    R, rpos = _positions(c1[row_nodes], U)
    C, cpos = _positions(c1[col_nodes], U)
    E1 = _extend(_feature_dist(F1[R], F1[C], p), B1[R], B1[C])
    return c1, B1, E1, rpos, cpos


def _next_level(batch: GraphBatch, c1: np.ndarray, colour: np.ndarray,
                B: np.ndarray, B1: np.ndarray, w_t: float,
                row_nodes: np.ndarray, col_nodes: np.ndarray) -> tuple:
    """One WL refinement of the previous level's colours (``B``: their blank
    distances): the refinement, the root feature colour of every new colour,
    the new blank distances and the row / column distinct colours with
    their position maps."""
    ref = refine(batch, c1, colour, pad=len(B))
    root = c1[ref.rep]
    Bn = B1[root] + w_t * np.append(B, 0.0)[ref.children].sum(1)
    Rn, rpos_n = _positions(ref.colour[row_nodes], len(ref.rep))
    Cn, cpos_n = _positions(ref.colour[col_nodes], len(ref.rep))
    return ref, root, Bn, Rn, rpos_n, Cn, cpos_n


def graph_level(costs: TreeCosts, batch: GraphBatch, row_graphs: np.ndarray,
                col_graphs: np.ndarray, pi: np.ndarray, pj: np.ndarray,
                backend: str, n_jobs: int = 1,
                progress_bar: bool = False) -> np.ndarray:
    """Padded graph-level assignment between ``row_graphs[pi[t]]`` and
    ``col_graphs[pj[t]]`` for every ``t``."""
    E = np.ascontiguousarray(costs.E)
    blank_r, blank_c = E.shape[0] - 1, E.shape[1] - 1

    def lists(graphs: np.ndarray, pos: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        sizes = batch.sizes[graphs]
        ptr = np.zeros(len(graphs) + 1, dtype=np.int64)
        np.cumsum(sizes, out=ptr[1:])
        idx = np.concatenate(
            [pos[costs.colour[batch.ptr[g]:batch.ptr[g + 1]]] for g in graphs]
        ) if len(graphs) else np.zeros(0, np.int64)
        return ptr, idx.astype(np.int64)

    rptr, ridx = lists(row_graphs, costs.rpos)
    cptr, cidx = lists(col_graphs, costs.cpos)
    out = np.empty(len(pi))
    if len(pi) == 0:
        return out
    chunks = np.array_split(np.arange(len(pi)),
                            max(1, min(len(pi), 64 if progress_bar else 1)))
    bar = None
    if progress_bar:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(pi), desc='TMD graph pairs')
    from scipy.optimize import linear_sum_assignment

    rows = [ridx[rptr[g]:rptr[g + 1]] for g in range(len(row_graphs))]
    cols = [cidx[cptr[h]:cptr[h + 1]] for h in range(len(col_graphs))]

    def solve(ch: np.ndarray) -> None:
        for t in ch:
            r, c = rows[pi[t]], cols[pj[t]]
            if len(r) == 0 or len(c) == 0:
                out[t] = E[r, blank_c].sum() + E[blank_r, c].sum()
                continue
            if len(r) == len(c):
                # no padding: a plain square assignment (and no blank
                # subtraction whose cancellation could leave a tiny
                # negative value for isomorphic graphs)
                M = E[r[:, None], c[None, :]]
                a, b = linear_sum_assignment(M)
                out[t] = M[a, b].sum()
                continue
            # blank padding folded into a rectangular problem: the unmatched
            # trees of the larger graph pay their blank distance
            if len(r) < len(c):
                bl = E[blank_r, c]
                M = E[r[:, None], c[None, :]] - bl[None, :]
            else:
                bl = E[r, blank_c]
                M = E[r[:, None], c[None, :]] - bl[:, None]
            a, b = linear_sum_assignment(M)
            out[t] = bl.sum() + M[a, b].sum()

    if n_jobs > 1 and len(pi) > 256:
        from concurrent.futures import ThreadPoolExecutor
        parts = np.array_split(np.arange(len(pi)), 8 * n_jobs)
        with ThreadPoolExecutor(n_jobs) as ex:
            for part in ex.map(lambda c: (solve(c), c)[1], parts):
                if bar is not None:
                    bar.update(len(part))
    else:
        for ch in chunks:
            solve(ch)
            if bar is not None:
                bar.update(len(ch))
    if bar is not None:
        bar.close()
    return out


def _graph_lists(batch: GraphBatch, graphs: np.ndarray, colour: np.ndarray,
                 pos: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per graph of ``graphs`` (consecutive graphs of ``batch``): its
    distinct trees (``dist[dptr[g]:dptr[g + 1]]``, positions by ``pos``),
    their colours (sorted) and multiplicities."""
    lo, hi = int(batch.ptr[graphs[0]]), int(batch.ptr[graphs[-1] + 1])
    sizes = batch.sizes[graphs]
    local_graph = np.repeat(np.arange(len(graphs)), sizes)
    P = int(colour.max()) + 2
    key = local_graph * P + colour[lo:hi]
    uniq, cnt = np.unique(key, return_counts=True)
    col = (uniq % P).astype(np.int64)
    dptr = np.searchsorted(uniq // P, np.arange(len(graphs) + 1)).astype(
        np.int64)
    return dptr, pos[col].astype(np.int64), col, cnt.astype(np.int64)


def _local_lists(batch: GraphBatch, graphs: np.ndarray, ref: Any,
                 prev_colour: np.ndarray, prev_pos: np.ndarray,
                 root_pos: np.ndarray, blank: np.ndarray,
                 c1: np.ndarray) -> tuple[np.ndarray, ...]:
    """Inputs of :func:`._numba.fused_local_pairs` for one side: per graph
    its distinct level-``L-1`` trees (positions into the memoised matrix,
    and last their colours) and its distinct top-level trees with children
    as local indices."""
    lptr, lpos, lcol, _ = _graph_lists(batch, graphs, prev_colour, prev_pos)
    dptr, _, dcol, dcnt = _graph_lists(batch, graphs, ref.colour,
                                       np.arange(len(ref.rep)))
    owner = np.repeat(np.arange(len(graphs)), np.diff(dptr))
    deg = ref.degree[dcol].astype(np.int64)
    chc = np.ascontiguousarray(ref.children[dcol])      # colours, padded
    P = int(max(prev_colour.max(), chc.max())) + 2
    keys = np.repeat(np.arange(len(graphs)), np.diff(lptr)) * P + lcol
    local = np.searchsorted(keys, owner[:, None] * P + chc) - lptr[owner][
        :, None]
    pad = np.arange(chc.shape[1])[None, :] >= deg[:, None]
    local[pad] = 0
    root = root_pos[c1[ref.rep[dcol]]].astype(np.int64)
    return (lptr, lpos, dptr, dcol, dcnt, root,
            np.ascontiguousarray(local.astype(np.int64)), chc, deg,
            np.ascontiguousarray(blank[dcol]), lcol.astype(np.int64))


def _memoise_top(R: int, C: int, rl: tuple[np.ndarray, ...],
                 cl: tuple[np.ndarray, ...], pi: np.ndarray, pj: np.ndarray,
                 symmetric: bool) -> bool:
    """Store the top level's distinct-tree matrix (``R x C`` tree problems)
    when that is fewer problems than solving each graph pair's distinct
    trees on the fly, and it fits in :data:`MAX_MATRIX_BYTES`."""
    if (R + 1) * (C + 1) * 8 > MAX_MATRIX_BYTES:
        return False
    dr = np.diff(rl[0]).astype(np.float64)
    dc = np.diff(cl[0]).astype(np.float64)
    fused = float((dr[pi] * dc[pj]).sum())
    memo = R * C / (2.0 if symmetric else 1.0)
    return memo <= fused


def _tmd_matrix_numba(batch: GraphBatch, n_a: int | None, depth: int,
                      w: np.ndarray, p: float,
                      progress_bar: bool, run_pairs: Any = None,
                      level_matrix: Any = None) -> Any:
    """Exact TMD matrix with the compiled kernels of :mod:`._numba`.

    Tree distances of levels ``2 .. depth - 1`` are memoised per pair of
    distinct trees (:func:`._numba.level_matrix`). The top level is memoised
    too when that is the cheaper way, else solved per graph pair from the
    level below and never stored (:func:`._numba.fused_local_pairs`): the top
    level has the most distinct trees (PROTEINS: 35,676 at depth 4, a 10 GB
    matrix) and a graph pair needs only the trees of its two graphs. Shared
    trees cancel and the blank padding is folded into rectangular
    assignments (see :mod:`._numba`).

    ``run_pairs`` (default :func:`_run_pairs`) receives the per-pair kernel
    ``(pi, pj, out)`` and ``level_matrix`` (default the compiled
    ``level_matrix``) fills a memoised level: :mod:`pyg_ext.distributed`
    passes its own to solve blocks elsewhere with exactly these kernels."""
    kern = _ot.numba_kernels()
    # graphs with the same multiset of top-level trees have the same row:
    # the local path solves one graph of each such group (a distributed
    # ``run_pairs`` plans its own blocks)
    dedup = run_pairs is None
    if run_pairs is None:
        run_pairs = _run_pairs
    # the compiled kernel can store a symmetric level as a packed triangle
    # (a drop-in ``level_matrix`` fills dense matrices)
    can_pack = level_matrix is None and n_a is None
    if level_matrix is None:
        level_matrix = kern.level_matrix
    G, N = batch.num_graphs, batch.num_nodes
    symmetric = n_a is None
    split = N if symmetric else int(batch.ptr[n_a])
    row_nodes = np.arange(split)
    col_nodes = row_nodes if symmetric else np.arange(split, N)
    row_graphs = np.arange(G if symmetric else n_a)
    col_graphs = row_graphs if symmetric else np.arange(n_a, G)
    if symmetric:
        pi, pj = np.triu_indices(G, k=1)
    else:
        pi = np.repeat(np.arange(len(row_graphs)), len(col_graphs))
        pj = np.tile(np.arange(len(col_graphs)), len(row_graphs))
    out = np.empty(len(pi))
    if len(pi) == 0:
        return _assemble(out, pi, pj, G, n_a, symmetric)
    c1, B1, E1, rpos1, cpos1 = _first_level(batch, row_nodes, col_nodes, p)
    E1 = np.ascontiguousarray(E1)
    Eprev, rpos, cpos = E1, rpos1, cpos1
    colour, B = c1, B1
    bar = None
    if progress_bar:
        from tqdm.auto import tqdm
        bar = tqdm(total=depth - 1 + len(pi), desc='TMD (levels, pairs)')
    rl = _graph_lists(batch, row_graphs, c1, rpos1)  # depth 1
    cl = rl if symmetric else _graph_lists(batch, col_graphs, c1, cpos1)
    npk = 0  # Eprev dense, or the side of its packed triangle
    fused = False  # whether the top level is solved per pair

    def decide_top(top: tuple) -> tuple:
        """The top level's per-graph tree lists, and whether it is fused
        (known before the level below it is solved: that one is then
        stored packed)."""
        ref_t, _, _, R_t, rpos_t, C_t, cpos_t = top
        rl_t = _graph_lists(batch, row_graphs, ref_t.colour, rpos_t)
        cl_t = rl_t if symmetric else _graph_lists(
            batch, col_graphs, ref_t.colour, cpos_t)
        return rl_t, cl_t, not _memoise_top(len(R_t), len(C_t), rl_t, cl_t,
                                            pi, pj, symmetric)
    if depth > 1:
        nxt = _next_level(batch, c1, colour, B, B1, w[0], row_nodes,
                          col_nodes)
        if depth == 2:
            rl, cl, fused = decide_top(nxt)
    for t in range(depth - 1):
        ref, root, Bn, Rn, rpos_n, Cn, cpos_n = nxt
        if t < depth - 2:  # refine the next level now
            nxt = _next_level(batch, c1, ref.colour, Bn, B1, w[t + 1],
                              row_nodes, col_nodes)
            if t == depth - 3:
                rl, cl, fused = decide_top(nxt)
        if t == depth - 2 and fused:  # the top level, solved per pair
            args_r = _local_lists(batch, row_graphs, ref, colour, rpos,
                                  rpos1, Bn, c1)
            args_c = args_r if symmetric else _local_lists(
                batch, col_graphs, ref, colour, cpos, cpos1, Bn, c1)
            head = (Eprev, npk, E1, float(w[t]), *args_r, *args_c)
            if dedup:
                run_pairs = _dedup_runner(rl, cl, symmetric, run_pairs)
            return run_pairs(
                lambda a, b, res, head=head: kern.fused_local_pairs(
                    *head, a, b, res),
                out, pi, pj, G, n_a, symmetric, bar)
        # children as positions into Eprev and as colours (sorted, padded)
        rchc = np.ascontiguousarray(ref.children[Rn])
        cchc = np.ascontiguousarray(ref.children[Cn])
        # the level read only by the fused top: its upper triangle, packed
        # (half the memory to fault in: PROTEINS depth 4, 1.7 of 3.5 GB)
        pack = can_pack and fused and t == depth - 3 and len(Rn) > 0
        check_matrix_size(len(Rn), len(Cn), t + 2, copies=0.5 if pack else 1)
        if pack:
            n = len(Rn) + 1
            E = np.empty((1, n * (n + 1) // 2))
        else:
            # a distributed level_matrix may allocate it (shared memory)
            E = getattr(level_matrix, 'empty', np.empty)(
                (len(Rn) + 1, len(Cn) + 1))
        level_matrix(Eprev, E1, rpos1[root[Rn]].astype(np.int64),
                          np.ascontiguousarray(rpos[rchc]), rchc,
                          ref.degree[Rn].astype(np.int64),
                          cpos1[root[Cn]].astype(np.int64),
                          np.ascontiguousarray(cpos[cchc]), cchc,
                          ref.degree[Cn].astype(np.int64), float(w[t]),
                          Bn[Rn], Bn[Cn], symmetric, E)
        if bar is not None:
            bar.update(1)
        Eprev, rpos, cpos = E, rpos_n, cpos_n
        npk = len(Rn) + 1 if pack else 0
        colour, B = ref.colour, Bn
    if dedup:
        run_pairs = _dedup_runner(rl, cl, symmetric, run_pairs)
    return run_pairs(
        lambda a, b, res: kern.memo_graph_pairs(Eprev, *rl, *cl, a, b, res),
        out, pi, pj, G, n_a, symmetric, bar)


def _run_pairs(kernel: Any, out: np.ndarray, pi: np.ndarray, pj: np.ndarray,
               G: int, n_a: int | None, symmetric: bool,
               bar: Any) -> np.ndarray:
    _solve_pairs(kernel, out, pi, pj, bar)
    return _assemble(out, pi, pj, G, n_a, symmetric)


def _solve_pairs(kernel: Any, out: np.ndarray, pi: np.ndarray,
                 pj: np.ndarray, bar: Any) -> None:
    """``out[t]`` = ``kernel`` on the pair ``(pi[t], pj[t])``."""
    # shuffle the pairs so that the threads get balanced work
    order = np.random.default_rng(0).permutation(len(pi))
    for ch in np.array_split(order, 64 if bar is not None else 1):
        res = np.empty(len(ch))
        kernel(pi[ch].astype(np.int64), pj[ch].astype(np.int64), res)
        out[ch] = res
        if bar is not None:
            bar.update(len(ch))
    if bar is not None:
        bar.close()


def _duplicates(lists: tuple[np.ndarray, ...]) -> np.ndarray:
    """``rep[g]``: the first graph of :func:`_graph_lists` output
    ``lists`` with the same multiset of trees (colours and
    multiplicities) as graph ``g``."""
    dptr, _, col, cnt = lists[:4]
    seen: dict[bytes, int] = {}
    rep = np.empty(len(dptr) - 1, dtype=np.int64)
    for g in range(len(rep)):
        lo, hi = dptr[g], dptr[g + 1]
        # both parts have 8 * (hi - lo) bytes: the key is unambiguous
        key = col[lo:hi].tobytes() + cnt[lo:hi].tobytes()
        rep[g] = seen.setdefault(key, g)
    return rep


def _dedup_runner(rl: tuple[np.ndarray, ...], cl: tuple[np.ndarray, ...],
                  symmetric: bool, run_pairs: Any) -> Any:
    """``run_pairs`` restricted to one graph per group of graphs with the
    same multiset of top-level trees (their TMD to any graph is the same
    computation on the same inputs, and 0 between them: all trees
    cancel); the others' rows / columns are copied. ``run_pairs`` itself
    when no two graphs repeat (PROTEINS at depth 4: 44 of 1,113 graphs are
    copies, 7.7 % of the pairs)."""
    rrep = _duplicates(rl)
    crep = rrep if symmetric else _duplicates(cl)
    ur = np.flatnonzero(rrep == np.arange(len(rrep)))
    uc = ur if symmetric else np.flatnonzero(crep == np.arange(len(crep)))
    if len(ur) == len(rrep) and len(uc) == len(crep):
        return run_pairs

    def run(kernel: Any, out: np.ndarray, pi: np.ndarray, pj: np.ndarray,
            G: int, n_a: int | None, symmetric: bool,
            bar: Any) -> np.ndarray:
        if symmetric:
            a, b = np.triu_indices(len(ur), k=1)
            spi, spj = ur[a], ur[b]
        else:
            spi, spj = np.repeat(ur, len(uc)), np.tile(uc, len(ur))
        if bar is not None:
            bar.total = bar.total - len(pi) + len(spi)
            bar.refresh()
        vals = np.empty(len(spi))
        _solve_pairs(kernel, vals, spi, spj, bar)
        logger.debug('TMD: %d of %d graph pairs solved, the rest are '
                     'copies of duplicate graphs', len(spi), len(pi))
        D = np.zeros((len(rrep), len(crep)))
        D[spi, spj] = vals
        if symmetric:
            D[spj, spi] = vals
        return D[np.ix_(rrep, crep)]
    return run


def _assemble(vals: np.ndarray, pi: np.ndarray, pj: np.ndarray, G: int,
              n_a: int | None, symmetric: bool) -> np.ndarray:
    if symmetric:
        D = np.zeros((G, G))
        D[pi, pj] = vals
        D[pj, pi] = vals
        return D
    assert n_a is not None
    return vals.reshape(n_a, G - n_a)


def _tmd_matrix(batch: GraphBatch, n_a: int | None, depth: int,
                weights: Any, p: float, backend: str, n_jobs: int | None,
                progress_bar: bool) -> np.ndarray:
    depth = _check_depth(depth)
    w = resolve_weights(weights, depth)
    p = _check_p(p)
    backend = _backend(backend, prefer_numba=(
        batch.num_nodes > AUTO_NUMBA_NODES
        or _pair_cost(batch, n_a, depth) >= AUTO_NUMBA_COST),
        need_numba=batch.num_nodes > AUTO_NUMBA_NODES)
    jobs = _n_jobs(n_jobs)
    progress_bar = _check_flag(progress_bar, 'progress_bar')
    D = _tmd_matrix_raw(batch, n_a, depth, w, p, backend, jobs,
                        progress_bar)
    # TMD >= 0: the folded blank padding (sum of blank costs plus an
    # assignment on costs minus blank costs) can cancel to -1e-12
    return _clamp(D)


def _check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f'{name} must be a bool, got '
                        f'{type(value).__name__} {value!r}')
    return bool(value)


def _clamp(D: np.ndarray) -> np.ndarray:
    """Distances are >= 0: clamp float cancellation (in place)."""
    np.maximum(D, 0.0, out=D)
    return D


def _empty_matrix(batch: GraphBatch, n_a: int | None) -> np.ndarray:
    G = batch.num_graphs
    return np.zeros((G, G) if n_a is None else (n_a, G - n_a))


def _tmd_matrix_raw(batch: GraphBatch, n_a: int | None, depth: int,
                    w: np.ndarray, p: float, backend: str, jobs: int,
                    progress_bar: bool) -> np.ndarray:
    G = batch.num_graphs
    if batch.num_nodes == 0:  # only empty graphs: all at distance 0
        return _empty_matrix(batch, n_a)
    if backend == 'numba':
        with _Threads(jobs, backend):
            return _tmd_matrix_numba(batch, n_a, depth, w, p, progress_bar)
    with _Threads(jobs, backend):
        if n_a is None:  # pairwise
            nodes = np.arange(batch.num_nodes)
            costs = tree_costs(batch, nodes, nodes, depth, w, p, True,
                               backend, progress_bar)
            graphs = np.arange(G)
            pi, pj = np.triu_indices(G, k=1)
            vals = graph_level(costs, batch, graphs, graphs, pi, pj, backend,
                               jobs, progress_bar)
            D = np.zeros((G, G))
            D[pi, pj] = vals
            D[pj, pi] = vals
            return D
        split = int(batch.ptr[n_a])
        ga, gb = np.arange(n_a), np.arange(n_a, G)
        costs = tree_costs(batch, np.arange(split),
                           np.arange(split, batch.num_nodes), depth, w, p,
                           False, backend, progress_bar)
        pi = np.repeat(np.arange(len(ga)), len(gb))
        pj = np.tile(np.arange(len(gb)), len(ga))
        vals = graph_level(costs, batch, ga, gb, pi, pj, backend, jobs,
                           progress_bar)
        return vals.reshape(len(ga), len(gb))


def tmd_pairwise(graphs: Sequence[Any], depth: int = 4,
                 weights: float | Sequence[float] | str = 0.5, *,
                 flow: str = 'source_to_target', p: float = 2.0,
                 n_jobs: int | None = 1, progress_bar: bool = False,
                 backend: str = 'auto', engine: str = 'local',
                 address: str | None = None, block_size: int | None = None,
                 store: str | os.PathLike[str] | None = None,
                 threads_per_worker: int = 1) -> np.ndarray:
    """Symmetric ``[G, G]`` matrix of exact TMDs between all ``graphs``.

    See :func:`tree_movers_distance` for the arguments; ``n_jobs`` threads
    (``-1``: all cores) run the graph-level problems, ``progress_bar`` shows
    tqdm bars, ``backend`` is ``'auto'`` (numpy/scipy, or numba above
    :data:`AUTO_NUMBA_NODES` nodes when it is installed), ``'numpy'`` or
    ``'numba'`` (compiled, parallel over ``n_jobs`` threads; compiles once on
    first use, then cached on disk). Both backends are exact; numba is the
    one for large collections (PROTEINS, 1,113 graphs: depth 3 in about a
    minute on 2 cores, see ``docs/metrics.md``).

    ``engine='ray'`` cuts the matrix into ``block_size`` x ``block_size``
    blocks of graph pairs solved as Ray tasks on the cluster at ``address``
    (``None``: a local one, ``'auto'``, ``'host:port'``); ``store`` (a
    folder, any engine) keeps finished blocks so that a re-run resumes.
    The result is bit-for-bit the single-process matrix; see
    :mod:`pyg_ext.distributed` (extra ``pyg_ext[distributed]``).

    The matrix is symmetric with an exactly zero diagonal and no negative
    entries. Raises as :func:`tree_movers_distance` (``graphs`` empty or a
    single ``Data`` instead of a list: ``ValueError`` / ``TypeError``;
    ``n_jobs=0``: ``ValueError``); an unknown ``engine`` or a bad
    ``block_size`` / ``threads_per_worker``: ``ValueError`` / ``TypeError``;
    ``engine='ray'`` without ray installed: ``ImportError``; an unreachable
    ``address``: ``RuntimeError``.
    """
    batch = prepare(graphs, flow)
    from pyg_ext.distributed import use_engine
    if use_engine(engine, address, block_size, store, threads_per_worker):
        from pyg_ext.distributed.matrix import metric_matrix
        return metric_matrix(
            'tmd', batch, None, dict(depth=depth, weights=weights, p=p,
                                     backend=backend, n_jobs=n_jobs),
            engine=engine, address=address, block_size=block_size,
            store=store, threads_per_worker=threads_per_worker)
    return _tmd_matrix(batch, None, depth, weights, p, backend, n_jobs,
                       progress_bar)


def tmd_cross(graphs_a: Sequence[Any], graphs_b: Sequence[Any],
              depth: int = 4, weights: float | Sequence[float] | str = 0.5, *,
              flow: str = 'source_to_target', p: float = 2.0,
              n_jobs: int | None = 1, progress_bar: bool = False,
              backend: str = 'auto', engine: str = 'local',
              address: str | None = None, block_size: int | None = None,
              store: str | os.PathLike[str] | None = None,
              threads_per_worker: int = 1) -> np.ndarray:
    """``[len(graphs_a), len(graphs_b)]`` matrix of exact TMDs (e.g. test x
    train for a precomputed-kernel SVM); arguments as in
    :func:`tmd_pairwise`."""
    a = prepare(graphs_a, flow, 'graphs_a')
    b = prepare(graphs_b, flow, 'graphs_b')
    from pyg_ext.distributed import use_engine
    if use_engine(engine, address, block_size, store, threads_per_worker):
        from pyg_ext.distributed.matrix import metric_matrix
        return metric_matrix(
            'tmd', concat(a, b), a.num_graphs,
            dict(depth=depth, weights=weights, p=p, backend=backend,
                 n_jobs=n_jobs),
            engine=engine, address=address, block_size=block_size,
            store=store, threads_per_worker=threads_per_worker)
    return _tmd_matrix(concat(a, b), a.num_graphs, depth, weights, p,
                       backend, n_jobs, progress_bar)


def tree_movers_distance(g1: Any, g2: Any, depth: int = 4,
                         weights: float | Sequence[float] | str = 0.5, *,
                         flow: str = 'source_to_target', p: float = 2.0,
                         backend: str = 'auto') -> float:
    r"""Exact Tree Mover's Distance :math:`\mathrm{TMD}^L_w(G_1, G_2)`.

    Args:
        g1, g2 (torch_geometric.data.Data): graphs with node features ``x``
            (same number of columns) and ``edge_index``; edge attributes are
            ignored, multi-edges count as repeated children.
        depth (int, optional): depth :math:`L \geq 1` of the computation trees
            (``L`` of the reference code; 1 compares features only).
            (default: :obj:`4`)
        weights (float or list or str, optional): a float for every level, a
            list of ``depth - 1`` non-negative floats (``weights[l]`` scales
            the child OT of depth-``(l + 2)`` trees) or ``'pascal'`` for
            :func:`pascal_weights`. (default: :obj:`0.5`)
        flow (str, optional): ``'source_to_target'`` (children are
            in-neighbours, as PyG aggregates) or ``'target_to_source'``
            (out-neighbours, as the reference code).
            (default: :obj:`'source_to_target'`)
        p (float, optional): the feature norm :math:`\|\cdot\|_p`, ``>= 1``;
            the paper and reference code use 2. (default: :obj:`2.0`)
        backend (str, optional): ``'auto'``, ``'numpy'`` or ``'numba'``;
            all exact. (default: :obj:`'auto'`)

    Returns:
        float: the distance (a pseudometric: symmetric, zero for graphs that
        1-WL with these features cannot tell apart at this depth, triangle
        inequality). Always ``>= 0`` (float cancellation is clamped) and
        exactly 0 for isomorphic copies. A graph with no nodes is compared
        through blank trees only: two empty graphs are at distance 0, an
        empty and a non-empty graph at the sum of the non-empty graph's
        blank-tree distances.

    Raises:
        ValueError: graphs without ``x``, NaN/infinite features, different
            feature dimensions, ``edge_index`` not ``[2, E]`` or with ids
            outside ``[0, num_nodes)``, ``depth`` not an int ``>= 1``,
            negative weights, a weight list of the wrong length, ``p < 1``,
            an unknown ``flow`` or ``backend``.
        TypeError: non-integer ``edge_index``, non-numeric ``x`` or
            ``weights``, a non-numeric ``p``.

    Example:
        >>> from torch_geometric.datasets import TUDataset
        >>> ds = TUDataset('data/tu', 'MUTAG')  # doctest: +SKIP
        >>> tree_movers_distance(ds[0], ds[1], depth=4, weights=1.0)
        ... # doctest: +SKIP
    """
    check_graph(g1, 'g1')
    check_graph(g2, 'g2')
    return float(tmd_cross([g1], [g2], depth, weights, flow=flow, p=p,
                           backend=backend)[0, 0])


__all__ = [
    'pascal_weights',
    'tmd_cross',
    'tmd_pairwise',
    'tree_movers_distance',
]
