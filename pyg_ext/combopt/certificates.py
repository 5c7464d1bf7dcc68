r"""Dual certificates read from OptGNN / Burer-Monteiro embeddings.

Neither the paper's code nor its appendix ships a procedure; this module
builds a dual-feasible point from the embeddings (KKT multipliers) and makes it
feasible with a minimum-eigenvalue shift, which gives a **valid bound** by weak
duality whatever the quality of the embeddings (a poor embedding only gives a
looser bound).

**Max-Cut** (upper bound). SDP: :math:`\max \tfrac14\langle L, X\rangle`,
:math:`\mathrm{diag}\,X = 1`, :math:`X \succeq 0`; dual:
:math:`\min \sum_i y_i` s.t. :math:`\mathrm{Diag}(y) \succeq L/4`. From rows
:math:`v_i`: :math:`y_i = \tfrac14\langle (LV)_i, v_i\rangle` and

.. math::
    \mathrm{UB} = \sum_i y_i + n\,\max\big(0, \lambda_{\max}(L/4 -
    \mathrm{Diag}(y))\big) \;\ge\; \mathrm{SDP} \;\ge\; \text{max cut}.

**Vertex cover** (lower bound; :func:`vertex_cover_certificate`). The dual
of the LP relaxation strengthened with odd-cycle and clique cuts (HiGHS via
:func:`scipy.optimize.linprog`), evaluated from the dual vector itself in
exact rational arithmetic and rounded up per component for integer weights.
It needs no embeddings.

Max-Cut eigenvalues: dense ``numpy.linalg.eigvalsh`` up to ``dense_max``
nodes per graph (exact up to float64 rounding); above it, sparse Lanczos
(``scipy.sparse.linalg.eigsh``) plus the residual norm of the Ritz pair as a
safety margin (the standard a-posteriori estimate, assuming Lanczos found the
extreme eigenvalue).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import Data

from pyg_ext.combopt.maxcut import (
    batch_of,
    check_graph_data,
    check_node_matrix,
    check_symmetric,
    edge_weight_of,
)
from pyg_ext.utils.validation import check_int, check_tensor


def _check(data: Data, V: Tensor, dense_max: int, node_weight: bool = False
           ) -> int:
    n = check_graph_data(data, node_weight=node_weight)
    check_symmetric(data)
    check_tensor(V, 'V', dim=2, floating=True)
    check_node_matrix(V, n, 'V')
    if V.size(1) < 1:
        raise ValueError('V must have at least one column')
    return check_int(dense_max, 'dense_max', low=0)


def _split(data: Data):
    """Per graph: (node slice lo, hi, undirected edges u, v, w) with local
    ids."""
    batch, b = batch_of(data)
    bn = batch.cpu().numpy()
    ptr = np.zeros(b + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(bn, minlength=b))
    src, dst = data.edge_index.cpu().numpy()
    w = edge_weight_of(data).double().cpu().numpy()
    keep = src < dst
    src, dst, w = src[keep], dst[keep], w[keep]
    eg = bn[src]
    order = np.argsort(eg, kind='stable')
    src, dst, w, eg = src[order], dst[order], w[order], eg[order]
    eptr = np.searchsorted(eg, np.arange(b + 1))
    for g in range(b):
        lo, hi = ptr[g], ptr[g + 1]
        a, z = eptr[g], eptr[g + 1]
        yield g, lo, hi, src[a:z] - lo, dst[a:z] - lo, w[a:z]


def _extreme_eig(M: sp.spmatrix | np.ndarray, largest: bool,
                 dense_max: int) -> float:
    n = M.shape[0]
    if n == 0:
        return 0.0
    if n <= dense_max:
        dense = M.toarray() if sp.issparse(M) else M
        ev = np.linalg.eigvalsh(dense)
        return float(ev[-1] if largest else ev[0])
    from scipy.sparse.linalg import eigsh
    which = 'LA' if largest else 'SA'
    vals, vecs = eigsh(M, k=1, which=which, tol=1e-9, maxiter=20 * n)
    theta, u = float(vals[0]), vecs[:, 0]
    res = float(np.linalg.norm(M @ u - theta * u))
    return theta + res if largest else theta - res


def maxcut_certificate(data: Data, V: Tensor, dense_max: int = 2000,
                       return_parts: bool = False):
    """Certified upper bound on the Max-Cut SDP value (hence on the maximum
    cut) of every graph, from node vectors ``V``.

    Returns:
        ``[num_graphs]`` float64 bounds (and, with ``return_parts``, the dual
        objective ``sum y`` and the eigenvalue shift per graph). Valid for
        negative edge weights too (``L`` is then the signed Laplacian). A
        graph without nodes (``V`` of shape ``[0, r]``) is valid input: its
        SDP value, and bound, is 0 (as for a graph without edges).

    Raises:
        TypeError, ValueError: invalid or asymmetric ``data``, ``V`` not
            ``[N, r]``, non-finite ``V``, ``dense_max < 0``.
    """
    dense_max = _check(data, V, dense_max)
    Vn = torch.nn.functional.normalize(V.detach().double(), dim=-1)
    Vn = Vn.cpu().numpy()
    bounds, duals, shifts = [], [], []
    for _g, lo, hi, u, v, w in _split(data):
        n = hi - lo
        X = Vn[lo:hi]
        L = sp.coo_matrix((np.concatenate([-w, -w]),
                           (np.concatenate([u, v]), np.concatenate([v, u]))),
                          shape=(n, n)).tocsr()
        deg = -np.asarray(L.sum(1)).ravel()
        L = L + sp.diags(deg)
        y = np.einsum('ij,ij->i', L @ X, X) / 4
        M = (L / 4 - sp.diags(y)).tocsr()
        lam = _extreme_eig(M, True, dense_max)
        shift = n * max(0.0, lam)
        duals.append(y.sum())
        shifts.append(shift)
        bounds.append(y.sum() + shift)
    out = torch.tensor(bounds, dtype=torch.float64)
    if return_parts:
        return out, torch.tensor(duals), torch.tensor(shifts)
    return out


def _vc_components(data: Data) -> list[tuple[float, bool, np.ndarray,
                                             np.ndarray, np.ndarray]]:
    """Per graph: (weight forced by self-loops, whether all weights are
    integers, weights of the remaining nodes, undirected simple edges u < v
    among them, with local ids)."""
    n = data.num_nodes
    batch = getattr(data, 'batch', None)
    if batch is None:
        bn = np.zeros(n, dtype=np.int64)
        b = 1
    else:
        bn = batch.cpu().numpy().astype(np.int64)
        if n and bn.min() < 0:
            raise ValueError('data.batch must hold graph ids >= 0')
        b = max(int(getattr(data, 'num_graphs', 0) or 0),
                int(bn.max()) + 1 if n else 1)
    src, dst = data.edge_index.cpu().numpy().astype(np.int64)
    if len(src) and bool((bn[src] != bn[dst]).any()):
        raise ValueError('data.edge_index has an edge between different '
                         'graphs of the batch')
    nw = getattr(data, 'node_weight', None)
    w_all = (np.ones(n) if nw is None
             else nw.detach().double().view(-1).cpu().numpy())
    forced = np.zeros(n, dtype=bool)
    forced[src[src == dst]] = True
    out = []
    order = np.argsort(bn, kind='stable')
    ptr = np.zeros(b + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(bn, minlength=b))
    local = np.empty(n, dtype=np.int64)
    eg = bn[src]
    for g in range(b):
        nodes = order[ptr[g]:ptr[g + 1]]
        wg = w_all[nodes]
        base = float(wg[forced[nodes]].sum())
        integral = bool(np.all(wg == np.round(wg)))
        keep = nodes[~forced[nodes]]
        local[keep] = np.arange(len(keep))
        sel = (eg == g) & (src != dst)
        u, v = src[sel], dst[sel]
        ok = ~forced[u] & ~forced[v]
        u, v = local[u[ok]], local[v[ok]]
        a, z = np.minimum(u, v), np.maximum(u, v)
        if len(a):
            key = np.unique(a * max(len(keep), 1) + z)
            a, z = key // len(keep), key % len(keep)
        out.append((base, integral, w_all[keep], a, z))
    return out


def _odd_cycle_cuts(x: np.ndarray, u: np.ndarray, v: np.ndarray,
                    max_cuts: int, eps: float) -> list[np.ndarray]:
    r"""Violated odd-cycle inequalities :math:`\sum_{i \in C} x_i \ge
    (|C| + 1) / 2`: shortest odd closed walks for the edge lengths
    :math:`x_i + x_j - 1 \ge 0` (Dijkstra on the bipartite double cover),
    shortened to simple odd cycles (which can only be shorter)."""
    from scipy.sparse.csgraph import dijkstra
    n = len(x)
    c = np.maximum(x[u] + x[v] - 1.0, 0.0) + 1e-12
    # node i (even side) = i, odd side = n + i
    rows = np.concatenate([u, n + u, v, n + v])
    cols = np.concatenate([n + v, v, n + u, u])
    G = sp.csr_matrix((np.concatenate([c, c, c, c]), (rows, cols)),
                      shape=(2 * n, 2 * n))
    touched = np.unique(np.concatenate([u, v]))
    dist, pred = dijkstra(G, directed=False, indices=touched,
                          return_predecessors=True)
    best = dist[np.arange(len(touched)), n + touched]
    cand = np.argsort(best)
    cuts: list[np.ndarray] = []
    seen: set[tuple[int, ...]] = set()
    for k in cand:
        if not best[k] < 1.0 - eps or len(cuts) >= max_cuts:
            break
        s = touched[k]
        walk = [n + s]
        while walk[-1] != s:
            p = pred[k, walk[-1]]
            if p < 0:
                break
            walk.append(int(p))
        if walk[-1] != s:
            continue
        cyc = _simple_odd_cycle([w % n for w in walk[:-1]])
        if cyc is None:
            continue
        key = tuple(sorted(cyc))
        if key in seen:
            continue
        if x[list(cyc)].sum() < (len(cyc) + 1) / 2 - eps:
            seen.add(key)
            cuts.append(np.array(key, dtype=np.int64))
    return cuts


def _simple_odd_cycle(walk: list[int]) -> list[int] | None:
    """A simple odd cycle inside the odd closed walk ``walk`` (vertices in
    order, the closing edge from the last back to the first implied)."""
    while True:
        pos: dict[int, int] = {}
        for i, a in enumerate(walk):
            if a in pos:
                j = pos[a]
                inner = walk[j:i]  # closed walk a ... (back to a)
                outer = walk[:j] + walk[i:]
                walk = inner if len(inner) % 2 else outer
                break
            pos[a] = i
        else:
            return walk if len(walk) % 2 and len(walk) >= 3 else None


def _certified_value(cons: list[np.ndarray], rhs: np.ndarray, y: np.ndarray,
                     w: np.ndarray) -> float:
    r"""Weak-duality bound from any multipliers ``y`` (clipped to ``>= 0``):
    for every :math:`x \in [0, 1]^n` with :math:`\sum_{i \in C_k} x_i \ge
    b_k`,

    .. math::
        w^\top x \ge \sum_k y_k b_k - \sum_i \max\big(0,
        \textstyle\sum_{k \ni i} y_k - w_i\big).

    ``y`` is first rounded down to a multiple of :math:`2^{-30}` and the sum
    is evaluated in exact rational arithmetic (``w`` converted exactly), so
    the returned float is a valid bound up to one final rounding, which is
    taken downwards."""
    from fractions import Fraction
    scale = 1 << 30
    yi = np.floor(np.clip(y, 0.0, None) * scale).astype(object)
    total = Fraction(0)
    load = [0] * len(w)
    for k, c in enumerate(cons):
        if yi[k] == 0:
            continue
        total += Fraction(int(yi[k]) * int(rhs[k] * 2), 2 * scale)
        for i in c.tolist():
            load[i] += int(yi[k])
    for i, li in enumerate(load):
        if li:
            over = Fraction(li, scale) - Fraction(float(w[i]))
            if over > 0:
                total -= over
    val = float(total)
    if Fraction(val) > total:  # round the float downwards
        val = float(np.nextafter(val, -np.inf))
    return val


def _vc_lp_bound(w: np.ndarray, u: np.ndarray, v: np.ndarray,
                 max_rounds: int, cuts_per_round: int, eps: float = 1e-6
                 ) -> tuple[float, dict]:
    """Certified lower bound of one graph: LP relaxation + odd-cycle and
    clique cuts (HiGHS), value from the dual vector (see
    :func:`_certified_value`)."""
    from scipy.optimize import linprog
    n = len(w)
    cons: list[np.ndarray] = [np.array([a, b]) for a, b in zip(u, v)]
    rhs: list[float] = [1.0] * len(cons)
    seen = {tuple(c.tolist()) for c in cons}
    cliques = None
    info = {'rounds': 0, 'odd_cycle_cuts': 0, 'clique_cuts': 0}
    y = np.zeros(len(cons))
    for rnd in range(max_rounds + 1):
        m = len(cons)
        lens = np.array([len(c) for c in cons])
        rr = np.repeat(np.arange(m), lens)
        A = sp.csr_matrix((-np.ones(lens.sum()), (rr, np.concatenate(cons))),
                          shape=(m, n))
        res = linprog(w, A_ub=A, b_ub=-np.asarray(rhs), bounds=(0, 1),
                      method='highs')
        if res.status != 0 or res.x is None:
            break  # keep the last valid dual vector
        x = res.x
        y = -np.asarray(res.ineqlin.marginals, dtype=float)
        info['rounds'] = rnd
        info['lp'] = float(res.fun)
        if rnd == max_rounds:
            break
        new: list[tuple[np.ndarray, float]] = []
        for c in _odd_cycle_cuts(x, u, v, cuts_per_round, eps):
            if tuple(c.tolist()) not in seen:
                new.append((c, (len(c) + 1) / 2))
                info['odd_cycle_cuts'] += 1
        if cliques is None:
            cliques = _maximal_cliques(n, u, v)
        viol = [(x[c].sum() - (len(c) - 1), c) for c in cliques]
        viol = sorted((t for t in viol if t[0] < -eps), key=lambda t: t[0])
        for _, c in viol[:cuts_per_round]:
            if tuple(c.tolist()) not in seen:
                new.append((c, float(len(c) - 1)))
                info['clique_cuts'] += 1
        if not new:
            break
        for c, b in new:
            seen.add(tuple(c.tolist()))
            cons.append(c)
            rhs.append(b)
    if len(y) < len(cons):
        y = np.concatenate([y, np.zeros(len(cons) - len(y))])
    return _certified_value(cons, np.asarray(rhs), y, w), info


def _maximal_cliques(n: int, u: np.ndarray, v: np.ndarray,
                     limit: int = 20000) -> list[np.ndarray]:
    """Maximal cliques with at least 3 nodes (networkx), at most ``limit``."""
    import networkx as nx
    G = nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from(zip(u.tolist(), v.tolist()))
    out = []
    for c in nx.find_cliques(G):
        if len(c) >= 3:
            out.append(np.array(sorted(c), dtype=np.int64))
            if len(out) >= limit:
                break
    return out


def vertex_cover_certificate(data: Data, V: Tensor | None = None,
                             dense_max: int = 2000, *,
                             max_rounds: int = 50,
                             cuts_per_round: int = 200,
                             return_info: bool = False):
    r"""Certified lower bound on the minimum weighted vertex cover of every
    graph: the dual of the LP relaxation strengthened by cutting planes.

    LP: :math:`\min w^\top x` over :math:`x \in [0, 1]^n` with
    :math:`x_i + x_j \ge 1` per edge, plus, added in rounds while violated by
    the current LP optimum, odd-cycle inequalities
    :math:`\sum_{i \in C} x_i \ge (|C|+1)/2` (exact separation: shortest
    odd cycles for the lengths :math:`x_i + x_j - 1`) and clique
    inequalities :math:`\sum_{i \in K} x_i \ge |K| - 1` (maximal cliques,
    :math:`|K| \ge 3`). Every inequality holds for every cover, so any
    dual vector :math:`y \ge 0` gives, by weak duality,
    :math:`\mathrm{OPT} \ge \sum_k y_k b_k - \sum_i \max(0,
    (A^\top y)_i - w_i)`. The bound is evaluated **from HiGHS' dual vector
    itself** (clipped to :math:`y \ge 0`, rounded down to multiples of
    :math:`2^{-30}`, summed in exact rational arithmetic, the infeasibility
    term subtracted), so it is valid whatever the LP solver's accuracy.
    With integer node weights (the default: all ones) the optimum of each
    connected component is an integer, so the bound is rounded up per
    component, after subtracting ``1e-6``: the ceiling of a valid bound
    minus a tolerance.

    Nodes with a self-loop belong to every cover: their weight is added and
    the bound is computed without them. The bound is never negative and
    is 0 for graphs without edges, including graphs without nodes (an
    empty graph is valid input: its minimum cover is empty).

    Args:
        data (Data): graph(s) (``edge_index`` in either or both directions;
            ``node_weight`` optional, non-negative).
        V (Tensor, optional): OptGNN node vectors. Not needed by the LP
            certificate; accepted (and validated when given) so callers
            that pass embeddings keep working.
        dense_max (int): unused (kept for the same reason; must be
            ``>= 0``).
        max_rounds (int): cutting-plane rounds. (default: :obj:`50`)
        cuts_per_round (int): cuts of each kind added per round.
        return_info (bool): also return per-graph details (LP value
            before rounding, rounds, number of cuts).

    Returns:
        ``[num_graphs]`` float64 bounds (and, with ``return_info``, a list
        of dicts).

    Raises:
        TypeError, ValueError: invalid ``data`` (or ``node_weight``), an
            edge between graphs of a batch, ``V`` given but not a finite
            ``[N, r]`` tensor, ``dense_max < 0``, ``max_rounds < 0``,
            ``cuts_per_round < 1``.
    """
    from scipy.sparse.csgraph import connected_components
    check_graph_data(data, node_weight=True)
    if V is not None:
        check_tensor(V, 'V', dim=2, floating=True)
        check_node_matrix(V, data.num_nodes, 'V')
    check_int(dense_max, 'dense_max', low=0)
    max_rounds = check_int(max_rounds, 'max_rounds', low=0)
    cuts_per_round = check_int(cuts_per_round, 'cuts_per_round', low=1)
    if not isinstance(return_info, bool):
        raise TypeError(f'return_info must be a bool, got '
                        f'{type(return_info).__name__}')
    out, infos = [], []
    for base, integral, w, u, v in _vc_components(data):
        n = len(w)
        total = base
        info = {'lp': 0.0, 'rounds': 0, 'odd_cycle_cuts': 0,
                'clique_cuts': 0, 'components': 0}
        if len(u):
            ncomp, lab = connected_components(
                sp.coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n)),
                directed=False)
            eg = lab[u]
            for c in np.unique(eg):
                nodes = np.nonzero(lab == c)[0]
                loc = np.full(n, -1, dtype=np.int64)
                loc[nodes] = np.arange(len(nodes))
                sel = eg == c
                val, ci = _vc_lp_bound(w[nodes], loc[u[sel]], loc[v[sel]],
                                       max_rounds, cuts_per_round)
                if integral:
                    val = float(math.ceil(val - 1e-6))
                total += max(val, 0.0)
                info['lp'] += ci.get('lp', 0.0)
                info['rounds'] = max(info['rounds'], ci['rounds'])
                info['odd_cycle_cuts'] += ci['odd_cycle_cuts']
                info['clique_cuts'] += ci['clique_cuts']
                info['components'] += 1
        out.append(total)
        infos.append(info)
    res = torch.tensor(out, dtype=torch.float64)
    return (res, infos) if return_info else res


__all__ = ['maxcut_certificate', 'vertex_cover_certificate']
