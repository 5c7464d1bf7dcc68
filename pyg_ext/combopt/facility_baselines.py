r"""Baselines for uniform facility location: Mettu–Plaxton, SimpleUniformFL,
a greedy, k-means++ seeding, the exact ILP (HiGHS through
:func:`scipy.optimize.milp`) and the sum-of-radii proxy.

Every function takes an instance graph from
:func:`~pyg_ext.combopt.facility_graph` (radius :math:`f`) and returns a
boolean ``[n]`` open mask (the ILP also returns its status and bound).
Costs are evaluated with :func:`~pyg_ext.combopt.facility_cost`.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from pyg_ext.combopt.facility_location import (
    NeighborTable,
    _check_cost,
    _check_points,
    _node_cost,
    _row_max,
    cached_table,
    facility_radii,
    neighbor_table,
    repair_open,
)
from pyg_ext.utils.validation import (
    check_int,
    check_positive_int,
    check_real,
    check_tensor,
)


def _check_data(data: Data, pos: bool = False) -> None:
    """Validate a UniFL instance graph (from
    :func:`~pyg_ext.combopt.facility_graph`). ``data.pos`` is required with
    ``pos=True`` and checked whenever present (NaN / infinite coordinates
    make the instance invalid even for the baselines that only read the
    graph distances)."""
    if not isinstance(data, Data):
        raise TypeError(f'data must be a torch_geometric.data.Data, got '
                        f'{type(data).__name__}')
    oc = getattr(data, 'opening_cost', None)
    if oc is None:
        raise ValueError('data.opening_cost is missing')
    check_tensor(oc, 'data.opening_cost')
    if oc.numel() != 1:
        raise ValueError('data.opening_cost must hold one value, got '
                         f'{oc.numel()}')
    _check_cost(oc)
    if pos or getattr(data, '_unifl_table', None) is None:
        if getattr(data, 'edge_index', None) is None or \
                getattr(data, 'edge_attr', None) is None:
            raise ValueError('data must have edge_index and edge_attr '
                             '(distances)')
    if pos and getattr(data, 'pos', None) is None:
        raise ValueError('data.pos is missing')
    if getattr(data, 'pos', None) is not None:
        _check_points(data.pos, 'data.pos')

__all__ = [
    'facility_dual_bound',
    'facility_greedy',
    'facility_ilp',
    'facility_kmeanspp',
    'facility_radius_sum',
    'mettu_plaxton',
    'simple_uniform_fl',
]


def _table(data: Data) -> NeighborTable:
    _check_data(data)
    if getattr(data, 'edge_index', None) is None or \
            getattr(data, 'edge_attr', None) is None:
        # a hand-made table without the graph (checked by _check_data)
        return data._unifl_table

    def build() -> NeighborTable:
        if data.num_nodes is None or data.num_nodes <= 0:
            raise ValueError('empty facility-location instance (0 points)')
        return neighbor_table(data.edge_index, data.edge_attr.view(-1),
                              data.num_nodes)
    # every neighbour: a table a UniFL model truncated is rebuilt
    return cached_table(data, 'edges', None, build)


def _f(data: Data) -> float:
    f = float(data.opening_cost.view(-1)[0])
    _check_cost(f)
    return f


def _exact_radius_graph(data: Data) -> bool:
    gr = getattr(data, 'graph_radius', None)
    return gr is not None and float(gr.view(-1)[0]) >= _f(data) - 1e-12


def facility_radius_sum(data: Data) -> float:
    r""":math:`\sum_x r_x`: a cheap proxy for the optimum. It is *not* a
    lower bound: Mettu–Plaxton/Bădoiu et al. show
    :math:`\mathrm{OPT} = \Theta(\sum_x r_x)` (constant factors), and on the
    benchmark families OPT / :math:`\sum r` is 0.94–0.98 (measured)."""
    return float(facility_radii(_table(data), _f(data)).sum())


def mettu_plaxton(data: Data, radii: Tensor | None = None) -> Tensor:
    r"""Mettu–Plaxton (2003) 3-approximation: visit points by increasing
    :math:`r_x` and open :math:`x` unless an open facility lies within
    :math:`2 r_x` (Euclidean, via a KD-tree ball query).

    Raises:
        TypeError, ValueError: invalid instance or ``radii`` not a finite
            non-negative ``[n]`` tensor.
    """
    from scipy.spatial import cKDTree

    _check_data(data, pos=True)
    pos = _check_points(data.pos, 'data.pos')
    if radii is not None:
        check_tensor(radii, 'radii', dim=1, floating=True)
        if radii.numel() != pos.size(0) or not bool(
                torch.isfinite(radii).all()) or bool((radii < 0).any()):
            raise ValueError(f'radii must be {pos.size(0)} finite values '
                             '>= 0')
    r = facility_radii(_table(data), _f(data)) if radii is None else radii
    r = r.detach().double().cpu().numpy()
    pts = pos.detach().cpu().double().numpy()
    balls = cKDTree(pts).query_ball_point(pts, 2 * r)
    opened = np.zeros(len(pts), dtype=bool)
    for x in np.argsort(r, kind='stable'):
        if not opened[balls[x]].any():
            opened[x] = True
    return torch.from_numpy(opened)


def simple_uniform_fl(data: Data, c: float = 1.0, seed: int = 0) -> Tensor:
    r"""SimpleUniformFL: open :math:`x` with probability
    :math:`\min(1, c \ln n \cdot r_x / f)` (:math:`F_1`), then every point
    with no :math:`F_1` facility within :math:`f` (:math:`F_2`);
    :math:`O(\log n)`-approximation in expectation.

    Raises:
        TypeError, ValueError: invalid instance, ``c <= 0``, bad ``seed``.
    """
    c = check_real(c, 'c', low=0.0, low_open=True)
    seed = check_int(seed, 'seed')
    t = _table(data)
    f = _f(data)
    n = t.num_nodes
    r = facility_radii(t, f).double()
    p = torch.clamp(c * math.log(max(n, 2)) * r / f, max=1.0)
    g = torch.Generator().manual_seed(seed)
    return repair_open(t, torch.rand(n, generator=g, dtype=p.dtype) < p)


def facility_greedy(data: Data, max_rounds: int = 10_000) -> Tensor:
    r"""Star greedy (Hochbaum 1982) in parallel rounds: a star is a facility
    :math:`y` with a set :math:`S` of unserved clients; its price is
    :math:`(f\,[y \text{ closed}] + \sum_{x \in S} d(x, y)) / |S|`, the best
    :math:`S` being a prefix of :math:`y`'s sorted unserved neighbours. Each
    round opens every star whose price is the smallest within two hops (the
    sequential greedy opens only the global minimum; the parallel rule is
    needed at :math:`n = 10^4`) and marks its clients served.

    Raises:
        TypeError, ValueError: invalid instance or ``max_rounds < 1``.
    """
    max_rounds = check_positive_int(max_rounds, 'max_rounds')
    t = _table(data)
    f = _f(data)
    n, K = t.index.shape
    d = t.dist.detach().double()
    fx = _node_cost(f, n, d)
    served = torch.zeros(n, dtype=torch.bool)
    om = torch.zeros(n, dtype=torch.bool)
    ar = torch.arange(K).expand(n, K)
    tie = torch.arange(n).double() * 1e-12
    for _ in range(max_rounds):
        if bool(served.all()):
            break
        m = t.mask & ~served[t.index]
        cnt = torch.cumsum(m.to(torch.int64), 1)
        S = torch.cumsum(d * m, 1)
        cost = torch.where(om, 0.0, fx).view(-1, 1)
        price = torch.where(m, (cost + S) / cnt.clamp(min=1).double(),
                            math.inf)
        best, kbest = price.min(1)
        key = torch.where(torch.isfinite(best), -(best + tie), -math.inf)
        h2 = _row_max(t, _row_max(t, key))
        sel = torch.isfinite(key) & (key >= h2)
        om |= sel
        cover = m & (ar <= kbest.view(-1, 1)) & sel.view(-1, 1)
        served[t.index[cover]] = True
    return repair_open(t, om)


def facility_kmeanspp(data: Data, k: int, seed: int = 0) -> Tensor:
    r"""k-means++ style :math:`D^2` seeding (Arthur & Vassilvitskii 2007)
    with ``k`` centres chosen among the points (the paper compares k-Means++
    with the same :math:`k` as its solutions); the centres are opened.

    Raises:
        TypeError, ValueError: invalid instance, ``k`` not an int in
            ``[1, n]``.
    """
    _check_data(data, pos=True)
    pos = _check_points(data.pos, 'data.pos')
    n = pos.size(0)
    k = check_int(k, 'k')
    seed = check_int(seed, 'seed')
    if not 1 <= k <= n:
        raise ValueError(f'k must be in [1, {n}], got {k}')
    pts = pos.detach().cpu().double().numpy()
    rng = np.random.default_rng(seed)
    centres = [int(rng.integers(n))]
    d2 = ((pts - pts[centres[0]]) ** 2).sum(1)
    for _ in range(k - 1):
        tot = d2.sum()
        if tot <= 0:
            break
        c = int(rng.choice(n, p=d2 / tot))
        centres.append(c)
        d2 = np.minimum(d2, ((pts - pts[c]) ** 2).sum(1))
    om = torch.zeros(n, dtype=torch.bool)
    om[centres] = True
    return om


def facility_ilp(data: Data, time_limit: float = 60.0, relax: bool = False,
                 mip_rel_gap: float = 1e-6, threads: int | None = None
                 ) -> tuple[Tensor | None, dict]:
    r"""Exact UniFL by the sparse ILP (HiGHS via
    :func:`scipy.optimize.milp`):

    .. math::
        \min\ f \sum_y y_y + \sum_{(x,y)} d(x,y)\, z_{xy}\quad
        \text{s.t.}\ \sum_y z_{xy} = 1\ \forall x,\quad z_{xy} \le y_y,
        \quad y \in \{0,1\}^n,\ z \ge 0,

    over the pairs of the radius-:math:`f` graph plus :math:`(x, x)`; this
    restriction is exact (an optimal solution never serves a client from
    farther than :math:`f`). On a kNN graph it is a restriction (an upper
    bound). ``relax=True`` solves the LP relaxation (a lower bound).

    Returns:
        ``(open_mask or None, info)`` with ``info['status']`` (``'optimal'``,
        ``'time_limit'``, ...), ``'cost'`` (objective of the best solution),
        ``'bound'`` (dual bound), ``'gap'``, ``'time'`` and ``'exact'``
        (whether the restriction is exact).

    Raises:
        TypeError, ValueError: invalid instance, ``time_limit <= 0``,
            ``mip_rel_gap < 0``, ``relax`` not a bool.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    time_limit = check_real(time_limit, 'time_limit', low=0.0,
                            low_open=True)
    mip_rel_gap = check_real(mip_rel_gap, 'mip_rel_gap', low=0.0)
    if not isinstance(relax, bool):
        raise TypeError(f'relax must be a bool, got {type(relax).__name__}')
    if threads is not None:
        threads = check_positive_int(threads, 'threads')
    from scipy.sparse import coo_matrix, hstack, vstack

    t = _table(data)
    f = _f(data)
    n = t.num_nodes
    m = t.mask.numpy()
    rows = np.nonzero(m)
    x_cl = rows[0]
    y_fac = t.index.numpy()[rows]
    dist = t.dist.detach().double().numpy()[rows]
    E = len(x_cl)
    c = np.concatenate([np.full(n, f), dist])
    eid = np.arange(E)
    # sum_y z_xy = 1
    A1 = hstack([coo_matrix((n, n)),
                 coo_matrix((np.ones(E), (x_cl, eid)), shape=(n, E))])
    # z_xy - y_y <= 0
    A2 = hstack([coo_matrix((-np.ones(E), (eid, y_fac)), shape=(E, n)),
                 coo_matrix((np.ones(E), (eid, eid)), shape=(E, E))])
    A = vstack([A1, A2]).tocsr()
    lb = np.concatenate([np.ones(n), np.full(E, -np.inf)])
    ub = np.concatenate([np.ones(n), np.zeros(E)])
    integrality = np.concatenate([np.full(n, 0 if relax else 1),
                                  np.zeros(E)])
    options = {'time_limit': float(time_limit), 'disp': False,
               'mip_rel_gap': mip_rel_gap}
    t0 = time.perf_counter()
    res = milp(c, constraints=LinearConstraint(A, lb, ub),
               integrality=integrality, bounds=Bounds(0, 1), options=options)
    elapsed = time.perf_counter() - t0
    status = {0: 'optimal', 1: 'time_limit', 2: 'infeasible',
              3: 'unbounded', 4: 'other'}.get(res.status, str(res.status))
    info = {'status': status, 'time': elapsed,
            'exact': _exact_radius_graph(data), 'message': res.message}
    if res.x is None:
        info.update(cost=math.inf, bound=getattr(res, 'mip_dual_bound', None),
                    gap=math.inf)
        return None, info
    cost = float(res.fun)
    bound = getattr(res, 'mip_dual_bound', None)
    if relax or bound is None or not np.isfinite(bound):
        bound = cost if (relax or status == 'optimal') else None
    info.update(cost=cost, bound=float(bound) if bound is not None else None,
                gap=float(getattr(res, 'mip_gap', 0.0) or 0.0))
    if relax:
        return None, info
    om = torch.from_numpy(res.x[:n] > 0.5)
    return om, info


def facility_dual_bound(data: Data, rounds: int = 30) -> float:
    r"""A proven lower bound on the optimum from a feasible point of the
    LP dual (cheap, no LP solve):

    .. math::
        \max \sum_j v_j \quad\text{s.t.}\quad
        \sum_j \max(0, v_j - d(i, j)) \le f \ \ \forall i,

    whose every feasible :math:`v` gives :math:`\mathrm{OPT} \ge
    \mathrm{LP} \ge \sum_j v_j` (weak duality; the facility :math:`i = j`
    term forces :math:`v_j \le f`, so only pairs closer than :math:`f`
    matter). Start: the Mettu–Plaxton radii :math:`v = r` (each equalises its
    own ball, :math:`\sum_y \max(0, r_j - d(j, y)) = f`); ``rounds`` of
    parallel dual ascent (client :math:`j` rises by the smallest share
    :math:`\mathrm{slack}_i / |\{j' : v_{j'} > d(i, j')\}|` of a facility
    it pays for, and never past a facility it does not pay for yet); finally
    every :math:`v_j` is scaled by :math:`\min(1, \min_{i : d(i,j) < v_j}
    f / L_i)` with the loads :math:`L_i` recomputed, which makes :math:`v`
    feasible (:math:`\max(0, s v - d) \le s \max(0, v - d)` for
    :math:`s \le 1`), and the sum is shrunk by a relative ``1e-9`` for
    rounding. Euclidean distances from ``data.pos`` (all pairs within
    :math:`f`, KD-tree).

    Raises:
        TypeError, ValueError: invalid instance (``data.pos`` required),
            ``rounds < 0``.
    """
    from scipy.spatial import cKDTree
    _check_data(data, pos=True)
    rounds = check_int(rounds, 'rounds', low=0)
    f = _f(data)
    pts = data.pos.detach().cpu().double().numpy()
    n = len(pts)
    if n == 0:
        return 0.0
    pairs = cKDTree(pts).query_pairs(f, output_type='ndarray')
    a, b = pairs[:, 0], pairs[:, 1]
    dd = np.linalg.norm(pts[a] - pts[b], axis=1)
    own = np.arange(n)
    fi = np.concatenate([a, b, own])  # facility
    cj = np.concatenate([b, a, own])  # client
    dij = np.concatenate([dd, dd, np.zeros(n)])
    # Mettu-Plaxton radii from the pair list (as facility_radii: with the
    # row sorted, k* = #{k : k d_k - S_k < f}, r = (f + S_k*) / k*)
    order = np.lexsort((dij, cj))
    cs, ds = cj[order], dij[order]
    start = np.searchsorted(cs, own)
    S = np.cumsum(ds)
    S0 = np.concatenate([[0.0], S])
    rank = np.arange(len(cs)) - start[cs] + 1
    g = rank * ds - (S - S0[start][cs])
    kstar = np.bincount(cs[g < f], minlength=n).clip(min=1)
    pos_k = start + kstar - 1
    v = (f + S[pos_k] - S0[start]) / kstar

    def loads(v):
        return np.bincount(fi, np.maximum(0.0, v[cj] - dij), minlength=n)

    for _ in range(rounds):
        L = loads(v)
        slack = np.maximum(f - L, 0.0)
        pay = v[cj] > dij
        cnt = np.bincount(fi[pay], minlength=n).clip(min=1)
        share = np.full(n, np.inf)
        np.minimum.at(share, cj[pay], (slack / cnt)[fi[pay]])
        gap = np.full(n, np.inf)
        np.minimum.at(gap, cj[~pay], dij[~pay] - v[cj[~pay]])
        step = np.minimum(share, gap)
        step = np.where(np.isfinite(step), step, 0.0)
        if not (step > 1e-12 * f).any():
            break
        v = v + step
    L = loads(v)
    pay = v[cj] > dij
    ratio = np.where(L > f, f / np.maximum(L, 1e-300), 1.0)
    s = np.ones(n)
    np.minimum.at(s, cj[pay], ratio[fi[pay]])
    v = v * s
    return float(v.sum()) * (1 - 1e-9)
