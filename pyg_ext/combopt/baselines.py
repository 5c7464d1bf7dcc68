"""Baselines for Max-Cut, vertex cover and Max-3-SAT.

* Exact ILPs through HiGHS (:func:`scipy.optimize.milp`, no licence, no extra
  dependency), with a time limit; each returns the best solution, its value,
  the proven bound and whether optimality was proven.
* Goemans-Williamson: the SDP solved by our low-rank Burer-Monteiro solver
  (:mod:`pyg_ext.combopt.sdp`) or, optionally, by cvxpy + SCS, followed by
  random-hyperplane rounding.
* Greedy / local search: 1-flip local search from random signs (what
  ``networkx.algorithms.approximation.one_exchange`` computes, vectorised);
  networkx's ``one_exchange`` itself is available but slow.
* networkx's 2-approximation for weighted vertex cover, and a max-degree greedy.
* WalkSAT for Max-3-SAT.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from pyg_ext.combopt.maxcut import (
    check_graph_data,
    check_symmetric,
    edge_weight_of,
    maxcut_local_search,
)
from pyg_ext.utils.validation import (
    check_bool,
    check_choice,
    check_int,
    check_positive_int,
    check_probability,
    check_real,
)


@dataclass
class ILPResult:
    """Outcome of an exact solve.

    Attributes:
        value: objective of the best solution found (true units).
        bound: the solver's proven bound (upper for maximisation).
        optimal: whether optimality was proven within the time limit.
        solution: the 0/1 (or ±1 for Max-Cut) assignment.
        seconds: wall-clock time.
    """

    value: float
    bound: float
    optimal: bool
    solution: np.ndarray
    seconds: float


def _undirected(data: Data, name: str = 'data', *, node_weight: bool = False
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated undirected edges ``(u, v, w)`` with ``u < v`` (self-loops
    dropped; see :func:`_loop_nodes`)."""
    check_graph_data(data, name, node_weight=node_weight)
    check_symmetric(data, name)
    src, dst = data.edge_index.cpu().numpy()
    w = edge_weight_of(data).double().cpu().numpy()
    keep = src < dst
    return src[keep], dst[keep], w[keep]


def _loop_nodes(data: Data) -> np.ndarray:
    """Boolean ``[N]``: nodes with a self-loop (they belong to every vertex
    cover)."""
    src, dst = data.edge_index.cpu().numpy()
    out = np.zeros(data.num_nodes, dtype=bool)
    out[src[src == dst]] = True
    return out


def _milp(c: np.ndarray, A, lb: np.ndarray, ub: np.ndarray,
          integrality: np.ndarray, bounds: tuple[np.ndarray, np.ndarray],
          time_limit: float, mip_rel_gap: float = 1e-9):
    from scipy.optimize import Bounds, LinearConstraint, milp
    cons = [LinearConstraint(A, lb, ub)] if A is not None else []
    return milp(c, constraints=cons, integrality=integrality,
                bounds=Bounds(*bounds),
                options={'time_limit': float(time_limit), 'disp': False,
                         'mip_rel_gap': float(mip_rel_gap)})


def _dual_bound(res, fallback: float) -> float:
    """HiGHS's proven bound on the minimised objective (``fallback`` when it
    reports none)."""
    b = getattr(res, 'mip_dual_bound', None)
    if b is None or not np.isfinite(b):
        return fallback
    return float(b)


def maxcut_ilp(data: Data, time_limit: float = 60.0) -> ILPResult:
    """Exact weighted Max-Cut of one graph with HiGHS.

    Binary ``x_i`` (side of node ``i``) and ``y_e in [0, 1]`` (edge ``e``
    cut); maximise ``sum_e w_e y_e`` subject to ``y_e <= x_u + x_v`` and
    ``y_e <= 2 - x_u - x_v`` for ``w_e > 0`` and ``y_e >= x_u - x_v``,
    ``y_e >= x_v - x_u`` for ``w_e < 0`` (without the latter a negative
    edge would be counted uncut even when it is cut). Returns signs ``±1``
    as the solution; ``optimal`` is set only when HiGHS proved optimality
    (relative gap 1e-9).

    Raises:
        TypeError, ValueError: invalid or asymmetric graph, non-finite
            weights, ``time_limit <= 0``.
    """
    import scipy.sparse as sp
    time_limit = check_real(time_limit, 'time_limit', low=0.0,
                            low_open=True)
    t0 = time.perf_counter()
    u, v, w = _undirected(data)
    n = data.num_nodes
    m = len(u)
    if m == 0 or n == 0:
        return ILPResult(0.0, 0.0, True, np.ones(n), 0.0)
    e = np.arange(m)
    pos, neg = np.nonzero(w > 0)[0], np.nonzero(w < 0)[0]
    rows, cols, vals = [], [], []
    r0 = 0
    # positive: y - x_u - x_v <= 0 and y + x_u + x_v <= 2
    # negative: -y + x_u - x_v <= 0 and -y - x_u + x_v <= 0
    for idx, coef in ((pos, (1.0, -1.0, -1.0)), (pos, (1.0, 1.0, 1.0)),
                      (neg, (-1.0, 1.0, -1.0)), (neg, (-1.0, -1.0, 1.0))):
        k = len(idx)
        rr = np.repeat(r0 + np.arange(k), 3)
        cc = np.stack([n + e[idx], u[idx], v[idx]], 1).reshape(-1)
        rows.append(rr)
        cols.append(cc)
        vals.append(np.tile(coef, k))
        r0 += k
    ub = np.concatenate([np.zeros(len(pos)), np.full(len(pos), 2.0),
                         np.zeros(2 * len(neg))])
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows),
                                              np.concatenate(cols))),
                      shape=(r0, n + m))
    lb = np.full(r0, -np.inf)
    c = np.concatenate([np.zeros(n), -w])
    integrality = np.concatenate([np.ones(n), np.zeros(m)])
    lo = np.zeros(n + m)
    hi = np.ones(n + m)
    hi[0] = 0.0  # symmetry: node 0 on side 0
    res = _milp(c, A if r0 else None, lb, ub, integrality, (lo, hi),
                time_limit)
    secs = time.perf_counter() - t0
    if res.x is None:
        return ILPResult(float('nan'), float('inf'), False, np.ones(n), secs)
    x = np.round(res.x[:n])
    s = 1 - 2 * x
    value = float(((1 - s[u] * s[v]) / 2 * w).sum())
    optimal = res.status == 0
    bound = value if optimal else max(value, -_dual_bound(res, -np.inf))
    return ILPResult(value, bound, optimal, s, secs)


def vertex_cover_ilp(data: Data, time_limit: float = 60.0) -> ILPResult:
    """Exact minimum-weight vertex cover (``x_i + x_j >= 1`` per edge,
    ``x_i = 1`` for a self-loop ``(i, i)``) with HiGHS; node weights from
    ``data.node_weight`` (default 1, must be ``>= 0``). An edgeless graph
    (or one with no nodes) gives the empty cover of value 0.

    Raises:
        TypeError, ValueError: invalid or asymmetric graph, bad
            ``node_weight``, ``time_limit <= 0``.
    """
    import scipy.sparse as sp
    time_limit = check_real(time_limit, 'time_limit', low=0.0,
                            low_open=True)
    t0 = time.perf_counter()
    u, v, _ = _undirected(data, node_weight=True)
    n = data.num_nodes
    m = len(u)
    nw = getattr(data, 'node_weight', None)
    c = np.ones(n) if nw is None else nw.double().view(-1).cpu().numpy()
    forced = _loop_nodes(data)
    if m == 0:
        x = forced.astype(float)
        value = float((c * x).sum())
        return ILPResult(value, value, True, x,
                         time.perf_counter() - t0)
    rows = np.repeat(np.arange(m), 2)
    cols = np.stack([u, v], 1).reshape(-1)
    A = sp.csr_matrix((np.ones(2 * m), (rows, cols)), shape=(m, n))
    res = _milp(c, A, np.ones(m), np.full(m, np.inf), np.ones(n),
                (forced.astype(float), np.ones(n)), time_limit)
    secs = time.perf_counter() - t0
    if res.x is None:
        return ILPResult(float('nan'), 0.0, False, np.ones(n), secs)
    x = np.round(res.x)
    value = float((c * x).sum())
    optimal = res.status == 0
    bound = value if optimal else min(value, _dual_bound(res, 0.0))
    return ILPResult(value, bound, optimal, x, secs)


def max3sat_ilp(data: Data, time_limit: float = 60.0) -> ILPResult:
    """Exact Max-SAT (maximise satisfied clauses) with HiGHS. ``value`` is
    the number of **unsatisfied** clauses of the best assignment, ``bound``
    a proven lower bound on it; the solution is ``±1`` per variable.

    Raises:
        TypeError, ValueError: invalid clauses (see
            :func:`pyg_ext.combopt.max3sat.check_clauses`), ``time_limit <=
            0``.
    """
    import scipy.sparse as sp

    from pyg_ext.combopt.max3sat import check_clauses
    time_limit = check_real(time_limit, 'time_limit', low=0.0,
                            low_open=True)
    check_clauses(data, k=None)
    t0 = time.perf_counter()
    n = data.num_nodes
    ci = data.clause_index.cpu().numpy()  # [k, C]
    sg = data.clause_sign.cpu().numpy()   # [C, k]
    k, C = ci.shape
    if C == 0:
        return ILPResult(0.0, 0.0, True, np.ones(n),
                         time.perf_counter() - t0)
    # z_c <= sum_a lit_a, lit = x (positive) or 1 - x (negative)
    # z_c - sum_{pos} x + sum_{neg} x <= #neg
    rows = np.concatenate([np.arange(C), np.repeat(np.arange(C), k)])
    cols = np.concatenate([n + np.arange(C), ci.T.reshape(-1)])
    vals = np.concatenate([np.ones(C), -sg.reshape(-1).astype(float)])
    A = sp.csr_matrix((vals, (rows, cols)), shape=(C, n + C))
    ub = (sg < 0).sum(1).astype(float)
    c = np.concatenate([np.zeros(n), -np.ones(C)])
    res = _milp(c, A, np.full(C, -np.inf), ub, np.concatenate(
        [np.ones(n), np.zeros(C)]), (np.zeros(n + C), np.ones(n + C)),
        time_limit)
    secs = time.perf_counter() - t0
    if res.x is None:
        return ILPResult(float('nan'), 0.0, False, np.ones(n), secs)
    s = 2 * np.round(res.x[:n]) - 1
    unsat = int(sat_unsat_numpy(ci, sg, s))
    optimal = res.status == 0
    sat_bound = -_dual_bound(res, -float(C))
    bound = float(unsat) if optimal else max(0.0, C - np.floor(
        sat_bound + 1e-6))
    return ILPResult(float(unsat), bound, optimal, s, secs)


def sat_unsat_numpy(clause_index: np.ndarray, clause_sign: np.ndarray,
                    s: np.ndarray) -> int:
    """Unsatisfied clauses of ``±1`` assignment ``s`` (``clause_index``
    ``[k, C]``, ``clause_sign`` ``[C, k]`` in {-1, +1}).

    Raises:
        ValueError: inconsistent shapes, bad signs or out-of-range ids.
    """
    s = np.asarray(s)
    if s.ndim != 1:
        raise ValueError(f's must be 1-D, got shape {s.shape}')
    clause_index, clause_sign = _check_clause_arrays(
        clause_index, clause_sign, s.shape[0])
    if not np.isin(s, (-1, 1)).all():
        raise ValueError('s must hold only -1 and +1')
    lit = clause_sign * s[clause_index.T]
    return int((lit < 0).all(1).sum())


def _check_clause_arrays(clause_index, clause_sign, num_vars: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Validate array clauses: ``clause_index`` ``[k, C]`` integer ids in
    ``[0, num_vars)``, ``clause_sign`` ``[C, k]`` in {-1, +1}."""
    if isinstance(clause_index, torch.Tensor):
        clause_index = clause_index.cpu().numpy()
    if isinstance(clause_sign, torch.Tensor):
        clause_sign = clause_sign.cpu().numpy()
    ci = np.asarray(clause_index)
    sg = np.asarray(clause_sign)
    if ci.ndim != 2 or ci.shape[0] < 1:
        raise ValueError(f'clause_index must be [k, num_clauses], got '
                         f'shape {ci.shape}')
    if ci.size and not np.issubdtype(ci.dtype, np.integer):
        raise TypeError(f'clause_index must have an integer dtype, got '
                        f'{ci.dtype}')
    if sg.shape != (ci.shape[1], ci.shape[0]):
        raise ValueError(f'clause_sign must have shape '
                         f'{(ci.shape[1], ci.shape[0])} '
                         f'([num_clauses, k]), got {sg.shape}')
    if sg.size and not np.isin(sg, (-1, 1)).all():
        raise ValueError('clause_sign must hold only -1 and +1')
    if ci.size and (ci.min() < 0 or ci.max() >= num_vars):
        bad = ci.min() if ci.min() < 0 else ci.max()
        raise ValueError(f'clause_index must hold variable ids in '
                         f'[0, {num_vars}), found {bad}')
    return ci.astype(np.int64), sg


# --- Max-Cut heuristics ------------------------------------------------------

def maxcut_greedy(data: Data, restarts: int = 1,
                  generator: torch.Generator | None = None) -> Tensor:
    """1-flip local search from ``restarts`` random sign vectors per graph
    (batched); returns the best ``±1`` vector per node. Handles negative
    edge weights.

    Raises:
        TypeError, ValueError: invalid graph or ``restarts < 1``.
    """
    from pyg_ext.combopt.rounding import best_per_graph
    check_graph_data(data)
    restarts = check_positive_int(restarts, 'restarts')
    n = data.num_nodes
    S = torch.randint(0, 2, (n, restarts), generator=generator).float() * 2 - 1
    S = maxcut_local_search(data, S)
    from pyg_ext.combopt.maxcut import maxcut_value
    return best_per_graph(data, S, maxcut_value(data, S), 'max')


def maxcut_one_exchange(data: Data, seed: int = 0) -> Tensor:
    """networkx's ``one_exchange`` local search (slow; for reference).
    Weights are read from ``edge_weight`` (negative weights allowed).

    Raises:
        TypeError, ValueError: invalid or asymmetric graph.
    """
    import networkx as nx
    from networkx.algorithms.approximation import one_exchange
    seed = check_int(seed, 'seed')
    u, v, w = _undirected(data)
    g = nx.Graph()
    g.add_nodes_from(range(data.num_nodes))
    g.add_weighted_edges_from(zip(u.tolist(), v.tolist(), w.tolist()))
    _, (a, _) = one_exchange(g, weight='weight', seed=seed)
    s = -torch.ones(data.num_nodes)
    s[list(a)] = 1
    return s


def goemans_williamson(data: Data, solver: str = 'bm', rank: int = 16,
                       steps: int = 500, num_hyperplanes: int = 1000,
                       generator: torch.Generator | None = None
                       ) -> tuple[Tensor, Tensor, Tensor]:
    """Goemans-Williamson: solve the Max-Cut SDP, round with the best of
    ``num_hyperplanes`` random hyperplanes (no local search).

    Args:
        solver: ``'bm'`` (our Burer-Monteiro solver, batched) or ``'cvxpy'``
            (cvxpy + SCS, one graph at a time; optional dependency).

    Returns:
        ``(signs [N], cut per graph, SDP value per graph)``.
    """
    from pyg_ext.combopt.maxcut import maxcut_value
    from pyg_ext.combopt.rounding import best_per_graph, hyperplane_signs
    from pyg_ext.combopt.sdp import maxcut_bm, maxcut_sdp_cvxpy
    check_graph_data(data)
    check_choice(solver, 'solver', ('bm', 'cvxpy'))
    num_hyperplanes = check_positive_int(num_hyperplanes, 'num_hyperplanes')
    if solver == 'bm':
        V, sdp = maxcut_bm(data, rank=rank, steps=steps, generator=generator)
    elif solver == 'cvxpy':
        V, sdp = maxcut_sdp_cvxpy(data)
    else:
        raise ValueError(f"goemans_williamson: solver must be 'bm' or "
                         f"'cvxpy', got {solver!r}")
    S = hyperplane_signs(V, num_hyperplanes, generator=generator)
    vals = maxcut_value(data, S)
    s = best_per_graph(data, S, vals, 'max')
    return s, maxcut_value(data, s), sdp


def _sa_kernel(indptr, indices, w, s, sweeps, t0, t1, seed):  # pragma: no cover
    """Single-spin-flip Metropolis annealing on one graph (CSR arrays);
    ``s`` (float ±1) is updated in place; returns the best signs seen at a
    sweep end (and at the end)."""
    np.random.seed(seed)
    n = s.shape[0]
    h = np.zeros(n)
    for i in range(n):
        acc = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            acc += w[k] * s[indices[k]]
        h[i] = acc
    cut = 0.0
    best = 0.0
    best_s = s.copy()
    total = sweeps * n
    ratio = (t1 / t0) ** (1.0 / max(total - 1, 1))
    T = t0
    for step in range(total):
        i = np.random.randint(n)
        g = s[i] * h[i]  # cut gain of flipping i
        if g >= 0.0 or np.random.random() < np.exp(g / T):
            s[i] = -s[i]
            si2 = 2.0 * s[i]
            for k in range(indptr[i], indptr[i + 1]):
                h[indices[k]] += si2 * w[k]
            cut += g
        T *= ratio
        if (step + 1) % n == 0 and cut > best:
            best = cut
            best_s[:] = s
    if cut > best:
        best_s[:] = s
    return best_s


def _tabu_kernel(indptr, indices, w, s, iters, tenure, tenure_rand,
                 seed):  # pragma: no cover
    """1-flip tabu search on one graph (CSR arrays): each step flips the
    vertex of largest cut gain that is not tabu (a tabu vertex is allowed
    when its flip gives a new best cut), random tie-breaking; a flipped
    vertex stays tabu for ``tenure + randint(tenure_rand + 1)`` steps.
    ``s`` (float ±1) is updated in place; returns the best signs seen
    (never worse than the start)."""
    np.random.seed(seed)
    n = s.shape[0]
    h = np.zeros(n)
    for i in range(n):
        acc = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            acc += w[k] * s[indices[k]]
        h[i] = acc
    until = np.zeros(n, dtype=np.int64)
    cut = 0.0
    best = 0.0
    best_s = s.copy()
    for step in range(iters):
        bi = -1
        bg = -np.inf
        ties = 0
        for i in range(n):
            g = s[i] * h[i]
            if until[i] > step and cut + g <= best + 1e-9:
                continue
            if g > bg + 1e-12:
                bg = g
                bi = i
                ties = 1
            elif g >= bg - 1e-12:
                ties += 1
                if np.random.randint(ties) == 0:
                    bi = i
        if bi < 0:
            continue
        s[bi] = -s[bi]
        si2 = 2.0 * s[bi]
        for k in range(indptr[bi], indptr[bi + 1]):
            h[indices[k]] += si2 * w[k]
        cut += bg
        until[bi] = step + 1 + tenure + np.random.randint(tenure_rand + 1)
        if cut > best + 1e-9:
            best = cut
            best_s[:] = s
    return best_s


_SA_JIT: dict = {}


def _jit(name: str):
    """The kernel ``name`` (``'sa'`` / ``'tabu'``), compiled with numba when
    it is installed (optional extra ``pyg-ext[numba]``), else plain Python
    (slow)."""
    if name not in _SA_JIT:
        from pyg_ext.typing import has_package
        fn = {'sa': _sa_kernel, 'tabu': _tabu_kernel}[name]
        if has_package('numba'):
            import numba
            fn = numba.njit(cache=False)(fn)
        _SA_JIT[name] = fn
    return _SA_JIT[name]


def _sa_impl():
    """The annealing kernel (see :func:`_jit`)."""
    return _jit('sa')


def _csr_graphs(data: Data):
    """Per graph of the batch: ``(lo, n, indptr, indices, weights)`` (CSR
    of the graph's edges, node ids local, weights float64).

    Raises:
        ValueError: an edge between two graphs of the batch.
    """
    from pyg_ext.combopt.maxcut import batch_of
    batch, b = batch_of(data)
    src, dst = data.edge_index
    w = edge_weight_of(data)
    bnp = batch.cpu().numpy()
    for g in range(b):
        nodes = np.nonzero(bnp == g)[0]
        n = len(nodes)
        if n == 0:
            continue
        lo = int(nodes[0])
        m = (batch[src] == g)
        u = (src[m] - lo).cpu().numpy()
        v = (dst[m] - lo).cpu().numpy()
        ww = w[m].double().cpu().numpy()
        if len(v) and (v.min() < 0 or v.max() >= n or u.min() < 0
                       or u.max() >= n):
            raise ValueError('data.edge_index has an edge between two graphs '
                             'of the batch')
        order = np.argsort(u, kind='stable')
        indices = v[order].astype(np.int64)
        wts = ww[order]
        indptr = np.zeros(n + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(np.bincount(u, minlength=n))
        yield lo, n, indptr, indices, wts


def _check_init(init: Tensor | None, n: int) -> Tensor | None:
    """``init`` as a float ``[n]`` ±1 tensor (or ``None``).

    Raises:
        TypeError, ValueError: not a tensor, wrong shape, entries not ±1.
    """
    if init is None:
        return None
    if not isinstance(init, torch.Tensor):
        raise TypeError(f'init must be a tensor, got '
                        f'{type(init).__name__}')
    if init.shape != (n,):
        raise ValueError(f'init must have shape ({n},), got '
                         f'{tuple(init.shape)}')
    if not bool(((init == 1) | (init == -1)).all()):
        raise ValueError('init must hold only -1 and +1')
    return init.detach().cpu().double()


def _budget_units(fn, graph: tuple, rest: tuple, time_limit: float,
                  first: int) -> int:
    """How many work units (sweeps, iterations) fit in ``time_limit`` CPU
    seconds: ``fn(indptr, indices, w, s.copy(), k, *rest)`` (``graph =
    (indptr, indices, w, s)``) does ``k`` units on a scratch copy; the trial
    size
    doubles from ``first`` until a trial takes at least
    ``min(0.05, time_limit / 10)`` s (so call overhead and clock resolution
    do not inflate the per-unit cost), and the calibration time already
    spent is deducted from the budget."""
    indptr, indices, w, s = graph

    def run(k: int) -> None:
        fn(indptr, indices, w, s.copy(), k, *rest)

    start = time.process_time()
    run(1)  # compile / warm caches
    k = first
    target = min(0.05, time_limit / 10)
    while True:
        t = time.process_time()
        run(k)
        took = time.process_time() - t
        if took >= target or k >= 1 << 40:
            break
        k *= 2
    per = max(took / k, 1e-12)
    left = time_limit - (time.process_time() - start)
    return max(1, int(left / per))


def maxcut_simulated_annealing(data: Data, sweeps: int = 100,
                               time_limit: float | None = None,
                               t0: float = 2.0, t1: float = 0.05,
                               seed: int = 0,
                               init: Tensor | None = None) -> Tensor:
    """Simulated annealing for (weighted) Max-Cut: random single-vertex
    flips with the Metropolis rule, geometric temperature schedule from
    ``t0`` to ``t1`` (in units of edge weight) over ``sweeps * n`` flip
    attempts, best state at a sweep end kept; graph by graph. Compiled
    with numba when installed.

    Args:
        time_limit: if given, the number of sweeps is chosen to take about
            this many CPU seconds per graph (a short calibration run
            measures the speed with ``time.process_time``, robust to other
            processes on the machine; its own time is deducted), overriding
            ``sweeps``.
        init: optional ``±1`` start ``[N]`` (default: random signs). With a
            start, the result is never worse than it (warm start: use a low
            ``t0`` to stay near it).

    Returns:
        ``±1`` signs ``[N]``.

    Raises:
        TypeError, ValueError: invalid or asymmetric graph, ``sweeps < 1``,
            ``time_limit <= 0``, ``t0 < t1``, a non-positive temperature or
            a bad ``init``.
    """
    check_graph_data(data)
    check_symmetric(data)
    sweeps = check_positive_int(sweeps, 'sweeps')
    t1 = check_real(t1, 't1', low=0.0, low_open=True)
    t0 = check_real(t0, 't0', low=t1)
    if time_limit is not None:
        time_limit = check_real(time_limit, 'time_limit', low=0.0,
                                low_open=True)
    seed = check_int(seed, 'seed')
    start = _check_init(init, data.num_nodes)
    fn = _sa_impl()
    rng = np.random.default_rng(seed)
    out = torch.empty(data.num_nodes) if start is None else \
        start.float().clone()
    for lo, n, indptr, indices, wts in _csr_graphs(data):
        s0 = (rng.integers(0, 2, n) * 2 - 1).astype(np.float64) \
            if start is None else start[lo:lo + n].numpy().copy()
        k = sweeps
        if time_limit is not None:
            k = _budget_units(fn, (indptr, indices, wts, s0), (t0, t1, 0),
                              time_limit, 4)
        best = fn(indptr, indices, wts, s0, k, t0, t1,
                  int(rng.integers(2**31)))
        out[lo:lo + n] = torch.as_tensor(best, dtype=torch.float)
    return out


def maxcut_tabu(data: Data, init: Tensor | None = None, iters: int = 10_000,
                time_limit: float | None = None, tenure: int | None = None,
                seed: int = 0) -> Tensor:
    """1-flip tabu search for (weighted) Max-Cut, graph by graph: every
    step flips the non-tabu vertex of largest gain (even when the gain is
    negative; a tabu vertex is allowed when it gives a new best cut), the
    flipped vertex stays tabu for ``tenure + randint(11)`` steps; the best
    cut seen is returned (never worse than ``init``). Compiled with numba
    when installed; each step costs O(n + degree).

    Args:
        init: ``±1`` start ``[N]`` (default: random signs).
        iters: flips per graph.
        time_limit: CPU seconds per graph (calibrated like
            :func:`maxcut_simulated_annealing`), overriding ``iters``.
        tenure: base tabu tenure (default ``max(1, n // 20)``: on
            ER(1000, 0.01) tenures 30-60 reached 3,687-3,695 in 0.5 s, 10
            only 3,599).

    Raises:
        TypeError, ValueError: invalid or asymmetric graph, ``iters < 1``,
            ``time_limit <= 0``, ``tenure < 0``, a bad ``init``.
    """
    check_graph_data(data)
    check_symmetric(data)
    iters = check_positive_int(iters, 'iters')
    if time_limit is not None:
        time_limit = check_real(time_limit, 'time_limit', low=0.0,
                                low_open=True)
    if tenure is not None:
        tenure = check_int(tenure, 'tenure', low=0)
    seed = check_int(seed, 'seed')
    start = _check_init(init, data.num_nodes)
    fn = _jit('tabu')
    rng = np.random.default_rng(seed)
    out = torch.empty(data.num_nodes) if start is None else \
        start.float().clone()
    for lo, n, indptr, indices, wts in _csr_graphs(data):
        s0 = (rng.integers(0, 2, n) * 2 - 1).astype(np.float64) \
            if start is None else start[lo:lo + n].numpy().copy()
        ten = max(1, n // 20) if tenure is None else tenure
        k = iters
        if time_limit is not None:
            k = _budget_units(fn, (indptr, indices, wts, s0), (ten, 10, 0),
                              time_limit, 64)
        best = fn(indptr, indices, wts, s0, k, ten, 10,
                  int(rng.integers(2**31)))
        out[lo:lo + n] = torch.as_tensor(best, dtype=torch.float)
    return out


LOCAL_SEARCHES = ('greedy', 'anneal', 'tabu')


def maxcut_polish(data: Data, s: Tensor, local_search: str = 'anneal',
                  time_limit: float = 1.0, seed: int = 0,
                  t0: float = 1.0, t1: float = 0.05) -> Tensor:
    """Improve a Max-Cut solution ``s`` (``±1`` ``[N]``) for a CPU-time
    budget: ``'greedy'`` (parallel 1-flip descent to a local optimum,
    ignores the budget: it stops there), ``'anneal'`` (simulated annealing
    warm-started at ``s`` with a low temperature ``t0 -> t1``) or
    ``'tabu'`` (:func:`maxcut_tabu`). ``time_limit`` is CPU seconds per
    graph. Never returns a worse cut than ``s``. The default ``t0 = 1``
    (half the cold-start default) was the best of 0.3 / 0.6 / 1 / 2 on
    ER(1000, 0.01) from OptGNN's cut; at 0.3 the search stays in the
    start's basin.

    Raises:
        TypeError, ValueError: invalid graph or ``s``, an unknown
            ``local_search``, ``time_limit <= 0``.
    """
    check_choice(local_search, 'local_search', LOCAL_SEARCHES)
    check_graph_data(data)
    time_limit = check_real(time_limit, 'time_limit', low=0.0,
                            low_open=True)
    s = _check_init(s, data.num_nodes).float()
    if local_search == 'greedy':
        return maxcut_local_search(data, s)
    if local_search == 'anneal':
        return maxcut_simulated_annealing(data, time_limit=time_limit,
                                          t0=t0, t1=t1, seed=seed, init=s)
    return maxcut_tabu(data, init=s, time_limit=time_limit, seed=seed)


# --- vertex cover heuristics -------------------------------------------------

def vertex_cover_2approx(data: Data) -> Tensor:
    """networkx ``min_weighted_vertex_cover`` (Bar-Yehuda & Even local-ratio
    2-approximation; the paper's "greedy" column). Returns 0/1 per node;
    a node with a self-loop is always in the cover.

    Raises:
        TypeError, ValueError: invalid or asymmetric graph, bad
            ``node_weight``.
    """
    import networkx as nx
    from networkx.algorithms.approximation import min_weighted_vertex_cover
    u, v, _ = _undirected(data, node_weight=True)
    g = nx.Graph()
    nw = getattr(data, 'node_weight', None)
    for i in range(data.num_nodes):
        g.add_node(i, weight=1.0 if nw is None else float(nw.view(-1)[i]))
    loops = np.nonzero(_loop_nodes(data))[0].tolist()
    g.add_edges_from((i, i) for i in loops)
    g.add_edges_from(zip(u.tolist(), v.tolist()))
    cover = min_weighted_vertex_cover(g, weight='weight')
    x = torch.zeros(data.num_nodes)
    x[list(cover)] = 1
    return x


def vertex_cover_greedy(data: Data) -> Tensor:
    """Max-degree (per weight) greedy cover followed by redundancy pruning
    (self-loop nodes are always in the cover). Returns ±1 per node (``+1``
    = in the cover).

    Raises:
        TypeError, ValueError: invalid graph or bad ``node_weight``.
    """
    from pyg_ext.combopt.vertex_cover import vc_prune, vc_repair
    check_graph_data(data, node_weight=True)
    x = torch.zeros(data.num_nodes, 1, device=data.edge_index.device)
    x = vc_repair(data, x)
    return vc_prune(data, x).view(-1)


# --- Max-3-SAT ---------------------------------------------------------------

def walksat(clause_index: np.ndarray, clause_sign: np.ndarray,
            num_vars: int, max_flips: int = 10_000, p_noise: float = 0.5,
            init: np.ndarray | None = None,
            rng: np.random.Generator | None = None,
            return_flips: bool = False, trace: list | None = None):
    """WalkSAT (Selman, Kautz & Cohen) for Max-SAT: pick a random unsatisfied
    clause, flip a random variable of it with probability ``p_noise``, else
    the one with the fewest breaks (a free move first); keep the best
    assignment seen.

    Args:
        clause_index: ``[k, C]`` variable ids; clause_sign: ``[C, k]`` ±1.
        init: starting ``±1`` assignment (random by default).
        p_noise: probability of a random-walk move when every variable of
            the picked clause breaks some clause (0.5 is the classic
            setting for random 3-SAT near the threshold).
        return_flips: also return the number of flips made (``max_flips``
            unless every clause got satisfied earlier).
        trace: if a list, the best number of unsatisfied clauses after
            ``0, 1, 2, ...`` flips is appended to it (so one run gives the
            result of every smaller flip budget with the same random
            stream).

    Returns:
        ``(best ±1 assignment, its number of unsatisfied clauses)``, plus
        the flips made when ``return_flips``.

    Raises:
        TypeError, ValueError: inconsistent clause shapes, signs outside
            {-1, +1}, ids outside ``[0, num_vars)``, a bad ``init``,
            ``max_flips < 0`` or ``p_noise`` outside ``[0, 1]``.
    """
    num_vars = check_int(num_vars, 'num_vars', low=0)
    max_flips = check_int(max_flips, 'max_flips', low=0)
    p_noise = check_probability(p_noise, 'p_noise')
    check_bool(return_flips, 'return_flips')
    if trace is not None and not isinstance(trace, list):
        raise TypeError(f'trace must be a list or None, got '
                        f'{type(trace).__name__}')
    ci, sg = _check_clause_arrays(clause_index, clause_sign, num_vars)
    rng = rng or np.random.default_rng(0)
    ci = ci.T  # [C, k]
    sg = sg.astype(np.int64)
    C, k = ci.shape
    if init is not None:
        init = np.asarray(init)
        if init.shape != (num_vars,) or not np.isin(init, (-1, 1)).all():
            raise ValueError(f'init must be a [{num_vars}] vector of -1 / '
                             f'+1, got shape {init.shape}')
    s = (rng.integers(0, 2, num_vars) * 2 - 1) if init is None else \
        np.asarray(init, dtype=np.int64).copy()
    occ: list[list[tuple[int, int]]] = [[] for _ in range(num_vars)]
    for c in range(C):
        for a in range(k):
            occ[ci[c, a]].append((c, int(sg[c, a])))
    ci_l = ci.tolist()
    sg_l = sg.tolist()
    s_l = [int(x) for x in s]
    ntrue = [sum(1 for a in range(k) if sg_l[c][a] * s_l[ci_l[c][a]] > 0)
             for c in range(C)]
    unsat = [c for c in range(C) if ntrue[c] == 0]
    pos = [-1] * C
    for i, c in enumerate(unsat):
        pos[c] = i
    best = len(unsat)
    best_s = list(s_l)
    rand = rng.random
    randint = rng.integers

    def flip(x: int) -> None:
        sx = -s_l[x]
        s_l[x] = sx
        for c, t in occ[x]:
            if t * sx > 0:
                ntrue[c] += 1
                if ntrue[c] == 1:  # became satisfied
                    i = pos[c]
                    last = unsat[-1]
                    unsat[i] = last
                    pos[last] = i
                    unsat.pop()
                    pos[c] = -1
            else:
                ntrue[c] -= 1
                if ntrue[c] == 0:
                    pos[c] = len(unsat)
                    unsat.append(c)

    def breaks(x: int) -> int:
        sx = s_l[x]
        return sum(1 for c, t in occ[x] if t * sx > 0 and ntrue[c] == 1)

    flips = 0
    if trace is not None:
        trace.append(best)
    for _ in range(max_flips):
        if not unsat:
            break
        flips += 1
        c = unsat[int(randint(len(unsat)))]
        vs = ci_l[c]
        bs = [breaks(x) for x in vs]
        mb = min(bs)
        if mb > 0 and rand() < p_noise:
            x = vs[int(randint(k))]
        else:
            cands = [x for x, b in zip(vs, bs) if b == mb]
            x = cands[int(randint(len(cands)))]
        flip(x)
        if len(unsat) < best:
            best = len(unsat)
            best_s = list(s_l)
        if trace is not None:
            trace.append(best)
    if return_flips:
        return np.array(best_s), best, flips
    return np.array(best_s), best


__all__ = [
    'ILPResult',
    'goemans_williamson',
    'max3sat_ilp',
    'maxcut_greedy',
    'maxcut_ilp',
    'LOCAL_SEARCHES',
    'maxcut_one_exchange',
    'maxcut_polish',
    'maxcut_simulated_annealing',
    'maxcut_tabu',
    'sat_unsat_numpy',
    'vertex_cover_2approx',
    'vertex_cover_greedy',
    'vertex_cover_ilp',
    'walksat',
]
