"""Trust tests for combinatorial optimisation (issue #16).

* Max-Cut with negative weights: the ILP, the cut value, local search,
  greedy, networkx one-exchange, Goemans-Williamson and the certificate
  against brute force over all cuts.
* Facility local search: ties and zero-distance duplicates, local
  optimality against brute force over all single moves.
* Vertex cover: empty and edgeless graphs, self-loops in every function,
  against brute force.
* Max-3-SAT clause validation.
* Bad inputs for every public name of :mod:`pyg_ext.combopt` and the
  OptGNN / UniFL modules.

Reference values come from slow, obviously correct Python loops.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

import pyg_ext.combopt as CO
from pyg_ext.combopt import (
    FacilityLocationDataset,
    Max3Sat,
    MaxCut,
    VertexCover,
    assign_open,
    expected_facility_cost,
    facility_cost,
    facility_graph,
    facility_greedy,
    facility_ilp,
    facility_kmeanspp,
    facility_local_search,
    facility_radii,
    facility_radius_sum,
    facility_table,
    facility_table_cost,
    generate_facility_points,
    get_problem,
    make_facility_instance,
    mettu_plaxton,
    neighbor_table,
    repair_open,
    simple_uniform_fl,
)
from pyg_ext.combopt.baselines import (
    goemans_williamson,
    max3sat_ilp,
    maxcut_greedy,
    maxcut_ilp,
    maxcut_one_exchange,
    sat_unsat_numpy,
    vertex_cover_2approx,
    vertex_cover_greedy,
    vertex_cover_ilp,
    walksat,
)
from pyg_ext.combopt.certificates import (
    maxcut_certificate,
    vertex_cover_certificate,
)
from pyg_ext.combopt.datasets import CombOptInstances
from pyg_ext.combopt.generators import (
    barabasi_albert,
    erdos_renyi,
    make_graph,
    random_3sat,
    random_regular,
)
from pyg_ext.combopt.max3sat import (
    sat_local_search,
    to_bipartite,
    unsat_count,
    unsat_relaxation,
)
from pyg_ext.combopt.maxcut import maxcut_local_search, maxcut_value
from pyg_ext.combopt.rounding import decode, hyperplane_signs
from pyg_ext.combopt.sdp import bm_solve, maxcut_bm
from pyg_ext.combopt.vertex_cover import (
    cover_weight,
    is_vertex_cover,
    uncovered_edges,
    vc_local_search,
    vc_prune,
    vc_repair,
)
from pyg_ext.nn import (
    OptGNN,
    OptGNNLayer,
    UniFLConv,
    UniFLMPNN,
    UniFLRadius,
    train_unifl,
    unifl_decode,
    unifl_solve,
)

# ---------------------------------------------------------------------------
# helpers: graphs as undirected edge lists, slow references
# ---------------------------------------------------------------------------


def _graph(n: int, edges: list[tuple[int, int]],
           weights: list[float] | None = None,
           loops: list[int] = ()) -> Data:
    """PyG graph with both directions of every edge (plus single loops)."""
    src = [u for u, v in edges] + [v for u, v in edges] + list(loops)
    dst = [v for u, v in edges] + [u for u, v in edges] + list(loops)
    d = Data(edge_index=torch.tensor([src, dst], dtype=torch.long).view(2, -1),
             num_nodes=n)
    if weights is not None:
        w = list(weights) + list(weights) + [1.0] * len(loops)
        d.edge_weight = torch.tensor(w, dtype=torch.float)
    return d


def _signed_instance(seed: int, n: int = 8, p: float = 0.6):
    rng = np.random.default_rng(seed)
    edges = [(u, v) for u in range(n) for v in range(u + 1, n)
             if rng.random() < p]
    w = rng.choice([-1.0, 1.0], len(edges)).tolist()
    return _graph(n, edges, w), edges, w


def _slow_cut(edges, w, s) -> float:
    return float(sum(wi for (u, v), wi in zip(edges, w) if s[u] != s[v]))


def _brute_max_cut(n, edges, w) -> float:
    return max(_slow_cut(edges, w, s)
               for s in itertools.product([-1, 1], repeat=n))


# ---------------------------------------------------------------------------
# defect 8: Max-Cut with negative weights
# ---------------------------------------------------------------------------


def test_maxcut_ilp_negative_weights_matches_brute_force() -> None:
    """Regression: without ``y_e >= |x_u - x_v|`` for ``w_e < 0`` the ILP
    counts cut negative edges as uncut (15 of these 30 graphs were wrong,
    all marked optimal)."""
    for seed in range(30):
        d, edges, w = _signed_instance(seed)
        best = _brute_max_cut(8, edges, w)
        r = maxcut_ilp(d)
        assert r.optimal
        assert r.value == best, seed
        assert r.bound == best
        assert _slow_cut(edges, w, r.solution.tolist()) == best


def test_maxcut_value_and_local_search_negative_weights() -> None:
    gen = torch.Generator().manual_seed(0)
    for seed in range(5):
        d, edges, w = _signed_instance(100 + seed, n=8)
        S = torch.randint(0, 2, (8, 6), generator=gen).float() * 2 - 1
        vals = maxcut_value(d, S)
        for k in range(6):
            assert float(vals[0, k]) == _slow_cut(edges, w, S[:, k].tolist())
        T = maxcut_local_search(d, S)
        for k in range(6):
            t = T[:, k].tolist()
            c = _slow_cut(edges, w, t)
            assert c >= _slow_cut(edges, w, S[:, k].tolist())
            for i in range(8):  # 1-flip local optimum
                f = list(t)
                f[i] = -f[i]
                assert _slow_cut(edges, w, f) <= c
        best = _brute_max_cut(8, edges, w)
        g = maxcut_greedy(d, restarts=4, generator=gen)
        assert float(maxcut_value(d, g)) == _slow_cut(edges, w, g.tolist())
        assert float(maxcut_value(d, g)) <= best
        ox = maxcut_one_exchange(d, seed=seed)
        c = _slow_cut(edges, w, ox.tolist())
        assert c <= best
        for i in range(8):
            f = ox.tolist()
            f[i] = -f[i]
            assert _slow_cut(edges, w, f) <= c
        s, cut, _ = goemans_williamson(d, rank=4, steps=100,
                                       num_hyperplanes=50, generator=gen)
        assert float(cut) == _slow_cut(edges, w, s.tolist()) <= best
        V, _ = maxcut_bm(d, rank=4, steps=100, generator=gen)
        # the certificate is a valid upper bound for signed weights too
        assert float(maxcut_certificate(d, V)) >= best - 1e-9


# ---------------------------------------------------------------------------
# defect 9: facility local search
# ---------------------------------------------------------------------------


def _fl_table(pos: torch.Tensor, f: float = 1.0):
    d = facility_graph(pos, f=f)
    return d, neighbor_table(d.edge_index, d.edge_attr.view(-1),
                             pos.size(0))


@pytest.mark.parametrize('start', [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0],
                                   [0, 0, 0, 0, 0], [0, 1, 0, 1, 0]])
def test_facility_local_search_closes_duplicates(start) -> None:
    """Regression: 5 identical points kept 3 facilities open (cost 3)
    because tied float32 keys selected adjacent close moves together."""
    pos = torch.zeros(5, 2, dtype=torch.float64)
    _, t = _fl_table(pos)
    om, info = facility_local_search(t, torch.tensor(start, dtype=torch.bool),
                                     1.0)
    assert int(om.sum()) == 1
    assert info['cost'] == pytest.approx(1.0, abs=1e-12)
    assert facility_cost(pos, om, 1.0) == pytest.approx(1.0, abs=1e-12)


def _moves(om: torch.Tensor):
    n = om.numel()
    for i in range(n):
        new = om.clone()
        new[i] = ~new[i]
        yield new
    for y in range(n):
        for z in range(n):
            if not om[y] and om[z]:
                new = om.clone()
                new[y], new[z] = True, False
                yield new


def _random_points(seed: int, n: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1.6, size=(n, 2))
    k = rng.integers(1, 4)  # some zero-distance duplicates
    for _ in range(k):
        i, j = rng.choice(n, 2, replace=False)
        pts[j] = pts[i]
    return torch.from_numpy(pts)


@pytest.mark.parametrize('seed', range(8))
def test_facility_local_search_is_a_local_optimum(seed) -> None:
    """Regression: the old search stopped early (float32 gains, tied
    parallel moves, a 1e-4 relative stopping rule) on 19 of 120 such runs
    with an improving single move left, and reported float32 costs."""
    n = 6 + seed % 5
    pos = _random_points(seed, n)
    _, t = _fl_table(pos)
    best = min(facility_cost(pos, torch.tensor(b, dtype=torch.bool), 1.0)
               for b in itertools.product([0, 1], repeat=n) if any(b))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(3):
        start = torch.rand(n, generator=gen) < 0.5
        om, info = facility_local_search(t, start, 1.0, max_iter=200)
        cost = facility_table_cost(t, om, 1.0)
        for new in _moves(om):  # no improving open / close / swap
            if new.any():
                assert facility_table_cost(t, new, 1.0) >= cost - 1e-9
        assert cost == pytest.approx(info['cost'], abs=1e-9)
        assert cost == pytest.approx(facility_cost(pos, om, 1.0), abs=1e-9)
        assert cost >= best - 1e-9


@pytest.mark.parametrize('seed', range(4))
def test_facility_local_search_duplicate_clusters_reach_optimum(seed
                                                                ) -> None:
    """Clusters of identical points, 5f apart: local moves suffice, so the
    search must reach the brute-force optimum (one facility per cluster)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4, size=3)
    pos = torch.from_numpy(np.concatenate(
        [np.tile([5.0 * c, 0.0], (s, 1)) for c, s in enumerate(sizes)]))
    n = pos.size(0)
    best = min(facility_cost(pos, torch.tensor(b, dtype=torch.bool), 1.0)
               for b in itertools.product([0, 1], repeat=n) if any(b))
    assert best == pytest.approx(3.0)
    _, t = _fl_table(pos)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(4):
        start = torch.rand(n, generator=gen) < 0.7
        om, info = facility_local_search(t, start, 1.0)
        assert info['cost'] == pytest.approx(best, abs=1e-12)
        assert facility_cost(pos, om, 1.0) == pytest.approx(best, abs=1e-12)


# ---------------------------------------------------------------------------
# defect 10: vertex cover (empty graphs, self-loops)
# ---------------------------------------------------------------------------


def _brute_vc(n, edges, loops, w) -> float:
    best = math.inf
    for x in itertools.product([0, 1], repeat=n):
        if all(x[u] or x[v] for u, v in edges) and all(x[u] for u in loops):
            best = min(best, sum(wi for wi, xi in zip(w, x) if xi))
    return best


def _slow_is_cover(edges, loops, s) -> bool:
    c = [bool(v > 0) for v in s]
    return all(c[u] or c[v] for u, v in edges) and all(c[u] for u in loops)


def _vc_instance(seed: int, n: int = 7):
    rng = np.random.default_rng(seed)
    edges = [(u, v) for u in range(n) for v in range(u + 1, n)
             if rng.random() < 0.35]
    loops = sorted(rng.choice(n, size=int(rng.integers(1, 3)),
                              replace=False).tolist())
    w = (rng.random(n) + 0.5).round(3).tolist()
    d = _graph(n, edges, loops=loops)
    d.node_weight = torch.tensor(w)
    return d, edges, loops, w


@pytest.mark.parametrize('seed', range(6))
def test_vertex_cover_self_loops_against_brute_force(seed) -> None:
    """Regression: a self-loop (u, u) was ignored, so u could be left out
    of the cover by the ILP, the greedy, repair / prune and OptGNN."""
    d, edges, loops, w = _vc_instance(seed)
    opt = _brute_vc(7, edges, loops, w)
    r = vertex_cover_ilp(d)
    assert r.optimal and r.value == pytest.approx(opt, abs=1e-6)
    assert _slow_is_cover(edges, loops, r.solution)
    two = vertex_cover_2approx(d)
    assert _slow_is_cover(edges, loops, two.tolist())
    assert float((two * d.node_weight).sum()) <= 2 * opt + 1e-6
    g = vertex_cover_greedy(d)
    assert _slow_is_cover(edges, loops, g.tolist())
    # repair / prune / local search from the empty set and from random sets
    S = torch.cat([-torch.ones(7, 1), torch.randint(0, 2, (7, 7)) * 2. - 1],
                  1)
    R = vc_prune(d, vc_repair(d, S))
    L = vc_local_search(d, S, rounds=5)
    for col in range(S.size(1)):
        assert _slow_is_cover(edges, loops, R[:, col].tolist())
        assert _slow_is_cover(edges, loops, L[:, col].tolist())
    assert is_vertex_cover(d, R) and (uncovered_edges(d, R) == 0).all()
    # a loop node outside the cover is an uncovered edge
    bad = torch.ones(7)
    bad[loops[0]] = -1
    assert float(uncovered_edges(d, bad)) >= 1
    assert not is_vertex_cover(d, bad)
    # the certificate stays a valid lower bound
    V = bm_solve(VertexCover(), d, rank=4, steps=100)
    assert float(vertex_cover_certificate(d, V)) <= opt + 1e-6
    # OptGNN end to end
    m = OptGNN('vertex_cover', rank=4, num_layers=2)
    gen = torch.Generator().manual_seed(seed)
    sol, st = m.solve(d, restarts=1, num_hyperplanes=8, generator=gen)
    assert _slow_is_cover(edges, loops, sol.tolist())
    assert float(st['improved']) >= opt - 1e-6
    assert float(cover_weight(d, sol)) == pytest.approx(
        float(st['improved']))


def test_vertex_cover_loop_penalty_gradient() -> None:
    d, *_ = _vc_instance(3)
    vc = VertexCover(penalty=2.0)
    V = torch.nn.functional.normalize(torch.randn(7, 5), -1)
    V.requires_grad_()
    (g,) = torch.autograd.grad(vc.penalised(d, V).sum(), V)
    assert torch.allclose(vc.direction(d, V.detach()), -g, atol=1e-5)
    # a loop alone: the penalty vanishes only when x_u = 1
    one = _graph(1, [], loops=[0])
    out = torch.tensor([[-1.0, 0.0]])
    inn = torch.tensor([[1.0, 0.0]])
    assert float(vc.penalised(one, out)) > float(vc.relaxation(one, out))
    assert float(vc.penalised(one, inn)) == float(vc.relaxation(one, inn))


@pytest.mark.parametrize('n', [0, 5])
def test_vertex_cover_empty_and_edgeless_graphs(n) -> None:
    """Regression: no nodes and no edges raised IndexError."""
    d = Data(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=n)
    r = vertex_cover_ilp(d)
    assert r.optimal and r.value == 0.0 and r.solution.shape == (n,)
    assert not r.solution.any()
    assert vertex_cover_2approx(d).tolist() == [0.0] * n
    g = vertex_cover_greedy(d)
    assert g.shape == (n,) and not (g > 0).any()
    S = torch.ones(n, 3)
    assert (vc_prune(d, S) < 0).all()
    assert vc_repair(d, -S).shape == (n, 3)
    assert float(cover_weight(d, torch.zeros(n))) == 0.0
    assert float(uncovered_edges(d, -torch.ones(n))) == 0.0
    V = torch.nn.functional.normalize(torch.randn(n, 3), -1)
    assert float(vertex_cover_certificate(d, V)) == 0.0
    m = OptGNN('vertex_cover', rank=3, num_layers=2)
    sol, st = m.solve(d, restarts=1, num_hyperplanes=4)
    assert sol.shape == (n,) and not (sol > 0).any()
    assert float(st['improved']) == 0.0
    # Max-Cut on the same graphs: the empty cut
    assert maxcut_ilp(d).value == 0.0
    assert float(maxcut_value(d, torch.ones(n))) == 0.0
    sol, _ = OptGNN('maxcut', rank=3, num_layers=2).solve(
        d, restarts=1, num_hyperplanes=4)
    assert sol.shape == (n,)


# ---------------------------------------------------------------------------
# defect 10: Max-3-SAT clause validation
# ---------------------------------------------------------------------------


def _bad_sat(kind: str) -> Data:
    d = random_3sat(6, 3.0, seed=0)
    if kind == 'sign0':
        d.clause_sign[2, 1] = 0
    elif kind == 'sign2':
        d.clause_sign[0, 0] = 2
    elif kind == 'id-1':
        d.clause_index[1, 3] = -1
    elif kind == 'id>=n':
        d.clause_index[2, 0] = 6
    elif kind == 'two_literals':
        d.clause_index = d.clause_index[:2]
        d.clause_sign = d.clause_sign[:, :2]
    elif kind == 'sign_shape':
        d.clause_sign = d.clause_sign[:-1]
    elif kind == 'float_ids':
        d.clause_index = d.clause_index.float()
    return d


SAT_BAD = [('sign0', ValueError, 'clause_sign'),
           ('sign2', ValueError, 'clause_sign'),
           ('id-1', ValueError, 'clause_index'),
           ('id>=n', ValueError, 'clause_index'),
           ('two_literals', ValueError, 'clause_index'),
           ('sign_shape', ValueError, 'clause_sign'),
           ('float_ids', TypeError, 'clause_index')]

SAT_FUNCS = {
    'unsat_count': lambda d: unsat_count(d, torch.ones(6)),
    'unsat_relaxation': lambda d: unsat_relaxation(
        d, torch.nn.functional.normalize(torch.randn(6, 3), -1)),
    'sat_local_search': lambda d: sat_local_search(d, torch.ones(6, 2)),
    'to_bipartite': to_bipartite,
    'loss': lambda d: Max3Sat().loss(
        d, torch.nn.functional.normalize(torch.randn(6, 3), -1)),
    'optgnn': lambda d: OptGNN('max3sat', rank=3, num_layers=1)(d),
    'max3sat_ilp': max3sat_ilp,
}


@pytest.mark.parametrize('func', list(SAT_FUNCS))
@pytest.mark.parametrize('kind,exc,match', SAT_BAD)
def test_max3sat_rejects_bad_clauses(func, kind, exc, match) -> None:
    """Regression: sign 0 / 2, id -1 (wrapped), id >= n and 2-literal
    clauses were silently accepted (or failed with an IndexError)."""
    d = _bad_sat(kind)
    if func == 'max3sat_ilp' and kind == 'two_literals':
        max3sat_ilp(d)  # generic Max-SAT: k = 2 is fine there
        return
    with pytest.raises(exc, match=match):
        SAT_FUNCS[func](d)


@pytest.mark.parametrize('kind,exc,match', SAT_BAD[:4])
def test_walksat_rejects_bad_clauses(kind, exc, match) -> None:
    d = _bad_sat(kind)
    with pytest.raises(exc, match=match):
        walksat(d.clause_index.numpy(), d.clause_sign.numpy(), 6)


def test_sat_no_clauses_is_trivially_satisfied() -> None:
    d = Data(clause_index=torch.zeros(3, 0, dtype=torch.long),
             clause_sign=torch.zeros(0, 3), num_nodes=4)
    r = max3sat_ilp(d)
    assert r.optimal and r.value == 0.0 and r.solution.shape == (4,)
    assert float(unsat_count(d, torch.ones(4))) == 0.0
    s, u = walksat(np.zeros((3, 0), dtype=np.int64), np.zeros((0, 3)), 4)
    assert u == 0 and s.shape == (4,)


# ---------------------------------------------------------------------------
# bad inputs for every public name
# ---------------------------------------------------------------------------


def _g() -> Data:
    return erdos_renyi(8, 0.4, seed=0)


def _fd() -> Data:
    rng = np.random.default_rng(0)
    return facility_graph(torch.from_numpy(rng.uniform(0, 2, (8, 2))))


def _tab():
    d = _fd()
    return neighbor_table(d.edge_index, d.edge_attr.view(-1), 8)


def _with(d: Data, **kw) -> Data:
    d = d.clone()
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def _nan_pos() -> torch.Tensor:
    p = torch.rand(6, 2)
    p[1, 0] = float('nan')
    return p


_B = torch.ones(8, dtype=torch.bool)
_V8 = torch.nn.functional.normalize(torch.randn(8, 4), -1)
_EI = _g().edge_index

BAD_CASES = [
    # facility location
    ('FacilityLocationDataset',
     lambda tmp: FacilityLocationDataset(tmp, family='hex'), ValueError,
     'family'),
    ('FacilityLocationDataset',
     lambda tmp: FacilityLocationDataset(tmp, num_nodes=0), ValueError,
     'num_nodes'),
    ('FacilityLocationDataset',
     lambda tmp: FacilityLocationDataset(tmp, num_graphs='3'), TypeError,
     'num_graphs'),
    ('FacilityLocationDataset',
     lambda tmp: FacilityLocationDataset(tmp, opening_cost=-1.0), ValueError,
     'opening cost'),
    ('assign_open', lambda tmp: assign_open(_tab(), _B[:5]), ValueError,
     'open_mask'),
    ('assign_open', lambda tmp: assign_open((1, 2, 3), _B), TypeError,
     'table'),
    ('expected_facility_cost',
     lambda tmp: expected_facility_cost(torch.rand(5), _tab(), 1.0),
     ValueError, 'p'),
    ('expected_facility_cost',
     lambda tmp: expected_facility_cost(torch.full((8,), float('nan')),
                                        _tab(), 1.0), ValueError, 'p'),
    ('expected_facility_cost',
     lambda tmp: expected_facility_cost(torch.full((8,), 1.5), _tab(), 1.0),
     ValueError, 'p'),
    ('expected_facility_cost',
     lambda tmp: expected_facility_cost(torch.rand(8), _tab(), 1.0,
                                        reduce='mean'), ValueError,
     'reduce'),
    ('expected_facility_cost',
     lambda tmp: expected_facility_cost(torch.rand(8), _tab(), -1.0),
     ValueError, 'opening cost'),
    ('facility_cost', lambda tmp: facility_cost(_nan_pos(), _B[:6], 1.0),
     ValueError, 'pos'),
    ('facility_cost', lambda tmp: facility_cost(torch.rand(6, 2), _B, 1.0),
     ValueError, 'open_mask'),
    ('facility_cost',
     lambda tmp: facility_cost([[0.0, 1.0]], torch.ones(1, dtype=bool), 1.0),
     TypeError, 'pos'),
    ('facility_cost',
     lambda tmp: facility_cost(torch.rand(6, 2), _B[:6], 'one'),
     TypeError, 'opening cost'),
    ('facility_graph', lambda tmp: facility_graph(torch.rand(5)),
     ValueError, 'pos'),
    ('facility_graph', lambda tmp: facility_graph(_nan_pos()), ValueError,
     'pos'),
    ('facility_graph', lambda tmp: facility_graph(torch.zeros(0, 2)),
     ValueError, 'empty'),
    ('facility_graph', lambda tmp: facility_graph(torch.rand(5, 2), k=0),
     ValueError, 'k'),
    ('facility_graph',
     lambda tmp: facility_graph(torch.rand(5, 2), radius=-1.0), ValueError,
     'radius'),
    ('facility_greedy',
     lambda tmp: facility_greedy(_with(_fd(), opening_cost=None)),
     ValueError, 'opening_cost'),
    ('facility_greedy', lambda tmp: facility_greedy(_fd(), max_rounds=0),
     ValueError, 'max_rounds'),
    ('facility_greedy', lambda tmp: facility_greedy(torch.rand(5, 2)),
     TypeError, 'data'),
    ('facility_ilp', lambda tmp: facility_ilp(_fd(), time_limit=0),
     ValueError, 'time_limit'),
    ('facility_ilp', lambda tmp: facility_ilp(_fd(), relax='yes'),
     TypeError, 'relax'),
    ('facility_kmeanspp', lambda tmp: facility_kmeanspp(_fd(), 0),
     ValueError, 'k'),
    ('facility_kmeanspp', lambda tmp: facility_kmeanspp(_fd(), 9),
     ValueError, 'k'),
    ('facility_kmeanspp', lambda tmp: facility_kmeanspp(_fd(), 2.5),
     TypeError, 'k'),
    ('facility_local_search',
     lambda tmp: facility_local_search(_tab(), _B[:4], 1.0), ValueError,
     'open_mask'),
    ('facility_local_search',
     lambda tmp: facility_local_search(_tab(), torch.full((8,), 2), 1.0),
     ValueError, 'open_mask'),
    ('facility_local_search',
     lambda tmp: facility_local_search(_tab(), _B, 1.0, max_iter=-1),
     ValueError, 'max_iter'),
    ('facility_local_search',
     lambda tmp: facility_local_search(_tab(), _B, 0.0), ValueError,
     'opening cost'),
    ('facility_radii', lambda tmp: facility_radii(_tab(), float('nan')),
     ValueError, 'opening cost'),
    ('facility_radii',
     lambda tmp: facility_radii(_tab()._replace(index=_tab().index + 3),
                                1.0), ValueError, 'table.index'),
    ('facility_radii', lambda tmp: facility_radii('table', 1.0), TypeError,
     'table'),
    ('facility_radius_sum',
     lambda tmp: facility_radius_sum(_with(_fd(),
                                           opening_cost=torch.tensor([-1.]))),
     ValueError, 'opening cost'),
    ('facility_table', lambda tmp: facility_table(_nan_pos()), ValueError,
     'pos'),
    ('facility_table',
     lambda tmp: facility_table(torch.rand(5, 2), max_neighbors=-1),
     ValueError, 'max_neighbors'),
    ('facility_table_cost',
     lambda tmp: facility_table_cost(_tab(), _B[:3], 1.0), ValueError,
     'open_mask'),
    ('generate_facility_points',
     lambda tmp: generate_facility_points('hex', 10), ValueError, 'family'),
    ('generate_facility_points',
     lambda tmp: generate_facility_points('uniform', 0), ValueError, 'n'),
    ('generate_facility_points',
     lambda tmp: generate_facility_points('uniform', '5'), TypeError, 'n'),
    ('generate_facility_points',
     lambda tmp: generate_facility_points('uniform', 5, dim=0), ValueError,
     'dim'),
    ('generate_facility_points',
     lambda tmp: generate_facility_points('uniform', 5, avg_neighbors=-2),
     ValueError, 'avg_neighbors'),
    ('make_facility_instance',
     lambda tmp: make_facility_instance('uniform', 10, f=-1.0), ValueError,
     'opening cost'),
    ('make_facility_instance',
     lambda tmp: make_facility_instance('uniform', 0), ValueError, 'n'),
    ('mettu_plaxton', lambda tmp: mettu_plaxton(_with(_fd(), pos=None)),
     ValueError, 'pos'),
    ('mettu_plaxton',
     lambda tmp: mettu_plaxton(_fd(), radii=torch.ones(3,
                                                       dtype=torch.float64)),
     ValueError, 'radii'),
    ('neighbor_table',
     lambda tmp: neighbor_table(_EI.t(), torch.rand(_EI.size(1)), 8),
     ValueError, 'edge_index'),
    ('neighbor_table',
     lambda tmp: neighbor_table(_EI, torch.rand(_EI.size(1)), 5),
     ValueError, 'edge_index'),
    ('neighbor_table',
     lambda tmp: neighbor_table(_EI, torch.full((_EI.size(1),),
                                                float('nan')), 8),
     ValueError, 'dist'),
    ('neighbor_table', lambda tmp: neighbor_table(_EI, torch.rand(3), 8),
     ValueError, 'dist'),
    ('neighbor_table',
     lambda tmp: neighbor_table(_EI, torch.rand(_EI.size(1)), 8,
                                max_neighbors=-1), ValueError,
     'max_neighbors'),
    ('neighbor_table',
     lambda tmp: neighbor_table(torch.zeros(2, 0, dtype=torch.long),
                                torch.zeros(0), 0), ValueError,
     'num_nodes'),
    ('repair_open', lambda tmp: repair_open(_tab(), _B[:2]), ValueError,
     'open_mask'),
    ('simple_uniform_fl', lambda tmp: simple_uniform_fl(_fd(), c=0.0),
     ValueError, 'c'),
    ('simple_uniform_fl',
     lambda tmp: simple_uniform_fl(_fd(), c=float('nan')), ValueError, 'c'),
    # OptGNN problems
    ('Max3Sat', lambda tmp: Max3Sat(ls_iters=-1), ValueError, 'ls_iters'),
    ('Max3Sat', lambda tmp: Max3Sat(normalize='yes'), TypeError,
     'normalize'),
    ('MaxCut', lambda tmp: MaxCut(normalize=1), TypeError, 'normalize'),
    ('MaxCut', lambda tmp: MaxCut().loss(_with(_g(), edge_index=_EI.t()),
                                         _V8), ValueError, 'edge_index'),
    ('MaxCut', lambda tmp: MaxCut().score(_g(), torch.ones(5, 2)),
     ValueError, r'^s has 5 rows'),
    ('VertexCover', lambda tmp: VertexCover(penalty=-1.0), ValueError,
     'penalty'),
    ('VertexCover', lambda tmp: VertexCover(ls_rounds=-1), ValueError,
     'ls_rounds'),
    ('VertexCover',
     lambda tmp: VertexCover().loss(
         _with(_g(), node_weight=torch.full((8,), float('nan'))), _V8),
     ValueError, 'node_weight'),
    ('get_problem', lambda tmp: get_problem('tsp'), ValueError, 'name'),
    ('get_problem', lambda tmp: get_problem(3), TypeError, 'name'),
    # baselines and helpers touched by #16
    ('maxcut_ilp',
     lambda tmp: maxcut_ilp(Data(edge_index=torch.tensor([[0], [1]]),
                                 num_nodes=2)), ValueError, 'edge_index'),
    ('maxcut_ilp',
     lambda tmp: maxcut_ilp(_with(_g(), edge_weight=torch.full(
         (_EI.size(1),), float('nan')))), ValueError, 'edge_weight'),
    ('maxcut_ilp', lambda tmp: maxcut_ilp(_g(), time_limit=0), ValueError,
     'time_limit'),
    ('maxcut_value', lambda tmp: maxcut_value(
        _with(_g(), edge_index=_EI.clamp(max=10) + 1), torch.ones(8)),
     ValueError, 'edge_index'),
    ('vertex_cover_ilp',
     lambda tmp: vertex_cover_ilp(_with(_g(), node_weight=-torch.ones(8))),
     ValueError, 'node_weight'),
    ('maxcut_greedy', lambda tmp: maxcut_greedy(_g(), restarts=0),
     ValueError, 'restarts'),
    ('goemans_williamson',
     lambda tmp: goemans_williamson(_g(), solver='scs'), ValueError,
     'solver'),
    ('maxcut_bm', lambda tmp: maxcut_bm(_g(), rank=0), ValueError, 'rank'),
    ('maxcut_certificate', lambda tmp: maxcut_certificate(_g(), _V8[:5]),
     ValueError, 'V'),
    ('maxcut_certificate', lambda tmp: maxcut_certificate(
        Data(edge_index=torch.tensor([[0, 1], [1, 2]]), num_nodes=3),
        _V8[:3]), ValueError, 'edge_index'),
    ('vertex_cover_certificate', lambda tmp: vertex_cover_certificate(
        _g(), torch.full((8, 4), float('nan'))), ValueError, 'V'),
    ('hyperplane_signs', lambda tmp: hyperplane_signs(_V8, 0), ValueError,
     'num_hyperplanes'),
    ('decode', lambda tmp: decode(MaxCut(), _g(), _V8, top_k=0), ValueError,
     'top_k'),
    ('bm_solve', lambda tmp: bm_solve(object(), _g()), TypeError,
     'problem'),
    ('vc_local_search', lambda tmp: vc_local_search(_g(), torch.ones(8, 2),
                                                    p_add=2.0),
     ValueError, 'p_add'),
    ('maxcut_local_search', lambda tmp: maxcut_local_search(
        _g(), torch.ones(8), max_iter=0), ValueError, 'max_iter'),
    ('walksat', lambda tmp: walksat(np.zeros((3, 2), dtype=np.int64),
                                    np.ones((2, 3)), 4, p_noise=1.5),
     ValueError, 'p_noise'),
    ('sat_unsat_numpy', lambda tmp: sat_unsat_numpy(
        np.zeros((3, 2), dtype=np.int64), np.ones((2, 3)), np.zeros(4)),
     ValueError, r'^s must'),
    # generators
    ('erdos_renyi', lambda tmp: erdos_renyi(5, 1.5), ValueError, 'p'),
    ('erdos_renyi', lambda tmp: erdos_renyi(-1, 0.5), ValueError, 'n'),
    ('random_3sat', lambda tmp: random_3sat(2, 4.0), ValueError, 'n'),
    ('random_3sat', lambda tmp: random_3sat(10, -1.0), ValueError, 'ratio'),
    ('random_3sat', lambda tmp: random_3sat(10, 'high'), TypeError,
     'ratio'),
    ('make_graph', lambda tmp: make_graph('grid', 10), ValueError, 'kind'),
    ('random_regular', lambda tmp: random_regular(5, 3), ValueError, 'd'),
    ('barabasi_albert', lambda tmp: barabasi_albert(5, 5), ValueError, 'm'),
    ('CombOptInstances', lambda tmp: CombOptInstances(tmp, 'er_50_100',
                                                      num_graphs=0),
     ValueError, 'num_graphs'),
    ('CombOptInstances', lambda tmp: CombOptInstances(tmp, 'tsp_100'),
     ValueError, 'name'),
    # OptGNN model
    ('OptGNN', lambda tmp: OptGNN(object()), TypeError, 'problem'),
    ('OptGNN', lambda tmp: OptGNN('maxcut', rank=0), ValueError, 'rank'),
    ('OptGNN', lambda tmp: OptGNN('maxcut', rank=2.5), TypeError, 'rank'),
    ('OptGNN', lambda tmp: OptGNN('maxcut', num_layers=0), ValueError,
     'num_layers'),
    ('OptGNN', lambda tmp: OptGNN('maxcut', rank=4, num_layers=1)(
        _with(_g(), edge_index=_EI.t())), ValueError, 'edge_index'),
    ('OptGNN', lambda tmp: OptGNN('maxcut', rank=4, num_layers=1)(
        _with(_g(), edge_index=_EI - 1)), ValueError, 'edge_index'),
    ('OptGNN', lambda tmp: OptGNN('maxcut', rank=4, num_layers=1)(
        _with(_g(), edge_weight=torch.full((_EI.size(1),), float('nan')))),
     ValueError, 'edge_weight'),
    ('OptGNN', lambda tmp: OptGNN('maxcut', rank=4, num_layers=1)(
        _g(), torch.randn(8, 3)), ValueError, 'V'),
    ('OptGNN', lambda tmp: OptGNN('maxcut', rank=4, num_layers=1).solve(
        _g(), restarts=0), ValueError, 'restarts'),
    ('OptGNN', lambda tmp: OptGNN('maxcut', rank=4, num_layers=1).solve(
        _g(), num_hyperplanes=0), ValueError, 'num_hyperplanes'),
    ('OptGNN', lambda tmp: OptGNN('vertex_cover', rank=4, num_layers=1)(
        torch.rand(3, 3)), TypeError, 'data'),
    ('OptGNNLayer', lambda tmp: OptGNNLayer(0), ValueError, 'rank'),
    ('OptGNNLayer', lambda tmp: OptGNNLayer(4)(torch.randn(5, 3),
                                               torch.randn(5, 3)),
     ValueError, 'V'),
    ('OptGNNLayer', lambda tmp: OptGNNLayer(4)(torch.randn(5, 4),
                                               torch.randn(6, 4)),
     ValueError, 'G'),
    # UniFL model
    ('UniFLRadius', lambda tmp: UniFLRadius(0), ValueError, 'num_bins'),
    ('UniFLRadius', lambda tmp: UniFLRadius()(_EI, torch.rand(_EI.size(1)),
                                              1.0, 4), ValueError,
     'edge_index'),
    ('UniFLRadius', lambda tmp: UniFLRadius()(
        _EI, torch.full((_EI.size(1),), float('nan')), 1.0, 8), ValueError,
     'dist'),
    ('UniFLRadius', lambda tmp: UniFLRadius()(_EI, torch.rand(_EI.size(1)),
                                              -1.0, 8), ValueError,
     'opening cost'),
    ('UniFLConv', lambda tmp: UniFLConv(0), ValueError, 'channels'),
    ('UniFLConv', lambda tmp: UniFLConv(4)(torch.randn(8, 3), _EI,
                                           torch.rand(_EI.size(1)),
                                           torch.ones(8)), ValueError, 'h'),
    ('UniFLConv', lambda tmp: UniFLConv(4)(torch.randn(8, 4), _EI.t(),
                                           torch.rand(_EI.size(1)),
                                           torch.ones(8)), ValueError,
     'edge_index'),
    ('UniFLMPNN', lambda tmp: UniFLMPNN(hidden_channels=0), ValueError,
     'hidden_channels'),
    ('UniFLMPNN', lambda tmp: UniFLMPNN(p_min=0.5), ValueError, 'p_min'),
    ('UniFLMPNN', lambda tmp: UniFLMPNN(recursive_steps=-1), ValueError,
     'recursive_steps'),
    ('UniFLMPNN', lambda tmp: UniFLMPNN(max_neighbors=0), ValueError,
     'max_neighbors'),
    ('UniFLMPNN', lambda tmp: UniFLMPNN()(_with(_fd(), opening_cost=None)),
     ValueError, 'opening_cost'),
    ('UniFLMPNN', lambda tmp: UniFLMPNN()(_with(
        _fd(), pos=torch.full((8, 2), float('nan')))), ValueError, 'pos'),
    ('UniFLMPNN', lambda tmp: UniFLMPNN()(
        Data(num_nodes=0, opening_cost=torch.ones(1))), ValueError, 'empty'),
    ('train_unifl', lambda tmp: train_unifl(torch.nn.Linear(2, 2), [_fd()]),
     TypeError, 'model'),
    ('train_unifl', lambda tmp: train_unifl(UniFLMPNN(), []), ValueError,
     'instances'),
    ('train_unifl', lambda tmp: train_unifl(UniFLMPNN(), [_fd()], lr=0.0),
     ValueError, 'lr'),
    ('unifl_decode', lambda tmp: unifl_decode(torch.rand(8), _tab(), 1.0,
                                              mode='best'), ValueError,
     'mode'),
    ('unifl_decode', lambda tmp: unifl_decode(torch.rand(8), _tab(), 1.0,
                                              threshold=2.0), ValueError,
     'threshold'),
    ('unifl_decode', lambda tmp: unifl_decode(torch.rand(5), _tab(), 1.0),
     ValueError, 'p'),
    ('unifl_decode', lambda tmp: unifl_decode(torch.rand(8), _tab(), 1.0,
                                              num_samples=0, mode='sample'),
     ValueError, 'num_samples'),
    ('unifl_solve', lambda tmp: unifl_solve(UniFLMPNN(), _fd(), mode='x'),
     ValueError, 'mode'),
    ('unifl_solve', lambda tmp: unifl_solve(torch.nn.Linear(2, 2), _fd()),
     TypeError, 'model'),
]


@pytest.mark.parametrize('name,call,exc,match', BAD_CASES,
                         ids=[f'{c[0]}-{i}' for i, c in
                              enumerate(BAD_CASES)])
def test_bad_input_raises_naming_the_argument(name, call, exc, match,
                                              tmp_path) -> None:
    with pytest.raises(exc, match=match):
        call(str(tmp_path))


def test_every_public_name_has_bad_input_cases() -> None:
    covered = {c[0] for c in BAD_CASES}
    skip = {'FACILITY_FAMILIES', 'NeighborTable'}  # a constant, a tuple type
    missing = set(CO.__all__) - skip - covered
    assert not missing, sorted(missing)
    for name in ('OptGNN', 'OptGNNLayer', 'UniFLConv', 'UniFLMPNN',
                 'UniFLRadius', 'train_unifl', 'unifl_decode',
                 'unifl_solve'):
        assert name in covered


def test_valid_inputs_still_work_after_validation() -> None:
    """The validators accept what the library itself produces."""
    d = _fd()
    t = _tab()
    om = repair_open(t, torch.zeros(8, dtype=torch.bool))
    assert om.all()
    om01 = repair_open(t, torch.zeros(8, dtype=torch.long))
    assert torch.equal(om, om01)
    assert facility_table_cost(t, om, 1.0) == pytest.approx(8.0)
    m = UniFLMPNN(hidden_channels=4, recursive_steps=0)
    p = m(d)
    assert p.shape == (8,)
    sol, info = unifl_decode(p, d._unifl_table, d.opening_cost)
    assert sol.dtype == torch.bool and math.isfinite(info['cost'])


# ---------------------------------------------------------------------------
# issue #16 audit: bad inputs that raised obscure errors (IndexError,
# AttributeError, "too many values to unpack") or returned silently
# ---------------------------------------------------------------------------

_NAN = float('nan')
_RING = torch.tensor([[0, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 0],
                      [1, 2, 3, 4, 5, 0, 0, 1, 2, 3, 4, 5]])


def _ring_with(pos: int, val: int) -> torch.Tensor:
    ei = _RING.clone()
    ei.view(-1)[pos] = val
    return ei


def _sat() -> Data:
    return random_3sat(10, 4.2, seed=0)


def _fl_nan_pos() -> Data:
    d = make_facility_instance('uniform', 30, seed=0)
    d.pos = d.pos.clone()
    d.pos[0, 0] = _NAN
    return d


def _csr(col: torch.Tensor, size: tuple[int, int] = (6, 6),
         crow: torch.Tensor | None = None) -> torch.Tensor:
    crow = torch.arange(0, 13, 2) if crow is None else crow
    return torch.sparse_csr_tensor(crow, col, torch.ones(col.numel()),
                                   size=size, check_invariants=False)


_COL = torch.arange(12) % 6
_H6 = torch.randn(6, 4)
_NT_OK = (torch.zeros(3, 4, dtype=torch.long), torch.zeros(3, 4),
          torch.ones(3, 4, dtype=torch.bool))


def _nt(**kw):
    f = dict(zip(('index', 'dist', 'mask'), _NT_OK))
    f.update(kw)
    return CO.NeighborTable(f['index'], f['dist'], f['mask'])


def _problem_cases() -> list:
    out = []
    for name, data in (('MaxCut', _g), ('VertexCover', _g),
                       ('Max3Sat', _sat)):
        n = 8 if name != 'Max3Sat' else 10
        out += [
            (f'{name}.loss V wrong rows', lambda name=name, data=data:
             getattr(CO, name)().loss(data(), torch.randn(3, 4)),
             ValueError, r'\bV\b'),
            (f'{name}.loss V 1-D', lambda name=name, data=data, n=n:
             getattr(CO, name)().loss(data(), torch.randn(n)),
             ValueError, r'\bV\b'),
            (f'{name}.loss V list', lambda name=name, data=data, n=n:
             getattr(CO, name)().loss(data(), torch.randn(n, 4).tolist()),
             TypeError, r'\bV\b'),
            (f'{name}.loss data None', lambda name=name, n=n:
             getattr(CO, name)().loss(None, torch.randn(n, 4)),
             TypeError, 'data'),
            (f'{name}.relaxation V 1-D', lambda name=name, data=data, n=n:
             getattr(CO, name)().relaxation(data(), torch.randn(n)),
             ValueError, r'\bV\b'),
            (f'{name}.direction V wrong rows', lambda name=name, data=data:
             getattr(CO, name)().direction(data(), torch.randn(3, 4)),
             ValueError, r'\bV\b'),
            (f'{name}.direction data None', lambda name=name, n=n:
             getattr(CO, name)().direction(None, torch.randn(n, 4)),
             TypeError, 'data'),
            (f'{name}.direction V NaN', lambda name=name, data=data, n=n:
             getattr(CO, name)().direction(
                 data(), torch.full((n, 4), _NAN)), ValueError, r'\bV\b'),
            (f'{name}.score S=2', lambda name=name, data=data, n=n:
             getattr(CO, name)().score(data(), torch.full((n,), 2.0)),
             ValueError, r'(?i)\bS\b.*-1 and \+1'),
            (f'{name}.score S 0/1', lambda name=name, data=data, n=n:
             getattr(CO, name)().score(data(), torch.ones(n, 2) * 0),
             ValueError, r'(?i)\bS\b.*-1 and \+1'),
            (f'{name}.objective S=2', lambda name=name, data=data, n=n:
             getattr(CO, name)().objective(data(), torch.full((n,), 2.0)),
             ValueError, r'(?i)\bS\b.*-1 and \+1'),
        ]
    for name in ('MaxCut', 'VertexCover'):
        out += [
            (f'{name}.loss edge_index [E,2]', lambda name=name: getattr(
                CO, name)().loss(Data(edge_index=_RING.t(), num_nodes=6),
                                 torch.randn(6, 4)),
             ValueError, 'edge_index'),
            (f'{name}.loss edge_index 100000', lambda name=name: getattr(
                CO, name)().loss(Data(edge_index=_ring_with(15, 100000),
                                      num_nodes=6), torch.randn(6, 4)),
             ValueError, 'edge_index'),
            (f'{name}.direction edge_index -1', lambda name=name: getattr(
                CO, name)().direction(Data(edge_index=_ring_with(0, -1),
                                           num_nodes=6), torch.randn(6, 4)),
             ValueError, 'edge_index'),
        ]
    out += [
        ('VertexCover.prescore S=2', lambda: VertexCover().prescore(
            _g(), torch.full((8, 3), 2.0)), ValueError, r'\bS\b'),
        ('maxcut_value s 0/1', lambda: maxcut_value(_g(), torch.zeros(8)),
         ValueError, r'^s must hold only -1 and \+1'),
        ('unsat_count s 0/1', lambda: unsat_count(_sat(), torch.zeros(10)),
         ValueError, r'^s must hold only -1 and \+1'),
        ('VertexCover penalty 0', lambda: VertexCover(penalty=0.0),
         ValueError, 'penalty'),
    ]
    return out


AUDIT_CASES = _problem_cases() + [
    # facility location
    ('generate_facility_points generator str',
     lambda: generate_facility_points('uniform', 20, generator='a'),
     TypeError, 'generator'),
    ('facility_table max_neighbors 0',
     lambda: facility_table(torch.rand(20, 2), max_neighbors=0),
     ValueError, 'max_neighbors'),
    ('neighbor_table max_neighbors 0',
     lambda: neighbor_table(_RING, torch.rand(12), 6, max_neighbors=0),
     ValueError, 'max_neighbors'),
    ('assign_open big NaN',
     lambda: assign_open(_tab(), _B, big=_NAN), ValueError, 'big'),
    ('assign_open big 0', lambda: assign_open(_tab(), _B, big=0.0),
     ValueError, 'big'),
    ('assign_open big str', lambda: assign_open(_tab(), _B, big='a'),
     TypeError, 'big'),
    ('NeighborTable mismatched shapes',
     lambda: _nt(dist=torch.zeros(3, 2)), ValueError, 'shape'),
    ('NeighborTable index float', lambda: _nt(index=torch.zeros(3, 4)),
     TypeError, r'NeighborTable\.index'),
    ('NeighborTable dist NaN',
     lambda: _nt(dist=torch.full((3, 4), _NAN)), ValueError,
     r'NeighborTable\.dist'),
    ('NeighborTable dist negative',
     lambda: _nt(dist=-torch.ones(3, 4)), ValueError,
     r'NeighborTable\.dist'),
    ('NeighborTable dist long',
     lambda: _nt(dist=torch.zeros(3, 4, dtype=torch.long)), TypeError,
     r'NeighborTable\.dist'),
    ('NeighborTable mask float', lambda: _nt(mask=torch.ones(3, 4)),
     TypeError, r'NeighborTable\.mask'),
    ('NeighborTable index out of range',
     lambda: _nt(index=torch.full((3, 4), 3)), ValueError,
     r'NeighborTable\.index'),
    ('NeighborTable index negative',
     lambda: _nt(index=-torch.ones(3, 4, dtype=torch.long)), ValueError,
     r'NeighborTable\.index'),
    ('NeighborTable index 1-D',
     lambda: _nt(index=torch.zeros(4, dtype=torch.long)), ValueError,
     r'NeighborTable\.index'),
    ('NeighborTable str fields', lambda: CO.NeighborTable('a', 'b', 'c'),
     TypeError, 'index'),
    *[(f'{name} pos NaN', lambda fn=fn: fn(_fl_nan_pos()), ValueError,
       'pos')
      for name, fn in (('facility_greedy', facility_greedy),
                       ('facility_radius_sum', facility_radius_sum),
                       ('simple_uniform_fl', simple_uniform_fl),
                       ('facility_ilp',
                        lambda d: facility_ilp(d, time_limit=5)))],
    # UniFL model
    ('train_unifl instances with None',
     lambda: train_unifl(UniFLMPNN(hidden_channels=4),
                         [_fd(), None], steps=1),
     TypeError, r'instances\[1\]'),
    ('train_unifl instance without distances',
     lambda: train_unifl(UniFLMPNN(hidden_channels=4),
                         [Data(num_nodes=5, opening_cost=torch.ones(1))],
                         steps=1),
     ValueError, r'instances\[0\]'),
    ('UniFLConv CSR adj_w_t other pattern',
     lambda: UniFLConv(4)(_H6, _csr(_COL), torch.ones(12), torch.ones(6),
                          _csr(torch.tensor([0]), crow=torch.tensor(
                              [0, 1, 1, 1, 1, 1, 1]))),
     ValueError, 'adj_w_t'),
    ('UniFLConv CSR adj_w_t transposed pattern',
     lambda: UniFLConv(4)(_H6, _csr(_COL), torch.ones(12), torch.ones(6),
                          _csr((_COL + 1) % 6)),
     ValueError, 'adj_w_t'),
    ('UniFLConv CSR wrong size',
     lambda: UniFLConv(4)(_H6, _csr(_COL, size=(6, 9)), torch.ones(12),
                          torch.ones(6), _csr(_COL, size=(6, 9))),
     ValueError, 'edge_index'),
    ('UniFLConv CSR weight wrong length',
     lambda: UniFLConv(4)(_H6, _csr(_COL), torch.ones(5), torch.ones(6),
                          _csr(_COL)),
     ValueError, 'weight'),
    ('UniFLConv CSR bad crow_indices',
     lambda: UniFLConv(4)(_H6, _csr(_COL, crow=torch.tensor(
         [0, 4, 2, 6, 8, 10, 12])), torch.ones(12), torch.ones(6),
         _csr(_COL)),
     ValueError, 'crow_indices'),
    ('UniFLConv CSR adj_w_t dense',
     lambda: UniFLConv(4)(_H6, _csr(_COL), torch.ones(12), torch.ones(6),
                          torch.ones(6, 6)),
     TypeError, 'adj_w_t'),
]


@pytest.mark.parametrize('label,call,exc,match', AUDIT_CASES,
                         ids=[c[0] for c in AUDIT_CASES])
def test_audit_bad_inputs_raise_naming_the_argument(label, call, exc,
                                                    match) -> None:
    with pytest.raises(exc, match=match):
        call()


_CSR_OOB = r'''
import json, torch
from pyg_ext.nn import UniFLConv
out = {}
for label, pos, val in (('col 100000', 3, 100000), ('col -1', 3, -1),
                        ('col == n', 5, 6)):
    col = torch.arange(12) % 6
    col[pos] = val
    a = torch.sparse_csr_tensor(torch.arange(0, 13, 2), col, torch.ones(12),
                                size=(6, 6), check_invariants=False)
    try:
        UniFLConv(4)(torch.randn(6, 4), a, torch.ones(12), torch.ones(6), a)
        out[label] = 'returned'
    except (ValueError, TypeError) as e:
        out[label] = str(e)
    except Exception as e:
        out[label] = f'{type(e).__name__}: {e}'
print('@@' + json.dumps(out))
'''


def test_unifl_conv_csr_column_ids_checked_before_the_kernel() -> None:
    """Out-of-range CSR column ids reach ``torch.sparse.mm`` unchecked (an
    out-of-bounds read); run in a subprocess so a crash fails the test."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', _CSR_OOB],
                          capture_output=True, text=True, env=env,
                          timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('@@')]
    assert proc.returncode == 0 and lines, proc.stderr[-2000:]
    import json
    out = json.loads(lines[-1][2:])
    for label, msg in out.items():
        assert 'col_indices' in msg and 'must hold ids in [0, 6)' in msg, \
            (label, msg)


def test_audit_valid_inputs_still_work() -> None:
    """The new checks accept what the library produces, and the unchecked
    fast paths give the same numbers as the checked entry points."""
    torch.manual_seed(0)
    # CSR path of UniFLConv equals the edge_index path
    conv = UniFLConv(4)
    w = torch.rand(12)
    order = torch.argsort(_RING[1] * 6 + _RING[0])
    ei = _RING[:, order]
    wo = w[order]
    crow = torch.zeros(7, dtype=torch.long)
    crow[1:] = torch.cumsum(torch.bincount(ei[1], minlength=6), 0)
    a = torch.sparse_csr_tensor(crow, ei[0], torch.ones(12), size=(6, 6))
    aw = torch.sparse_csr_tensor(crow, ei[0], wo, size=(6, 6))
    inv = torch.rand(6)
    torch.testing.assert_close(conv(_H6, a, wo, inv, aw),
                               conv(_H6, ei, wo, inv))
    # OptGNN's unchecked per-layer direction = the checked one
    for prob, data in (('maxcut', _g()), ('vertex_cover', _g()),
                       ('max3sat', _sat())):
        m = OptGNN(prob, rank=4, num_layers=3)
        V0 = torch.nn.functional.normalize(torch.randn(data.num_nodes, 4),
                                           dim=1)
        V = V0
        for layer in m.layers:
            V = layer(V, m.problem.direction(data, V))
        torch.testing.assert_close(m(data, V0), V)
        s = torch.where(V[:, 0] >= 0, 1.0, -1.0)
        assert torch.isfinite(m.problem.score(data, s)).all()
    # a valid NeighborTable, and pickling round trip (goes through __new__)
    import pickle
    t = _tab()
    t2 = pickle.loads(pickle.dumps(CO.NeighborTable(*t)))
    assert all(torch.equal(x, y) for x, y in zip(t, t2))
    assert isinstance(t2, CO.NeighborTable) and t2.num_nodes == 8
    # max_neighbors=1 is the smallest valid table: self + one neighbour
    assert facility_table(torch.rand(20, 2), max_neighbors=1).index.shape \
        == (20, 2)
    # assign_open with a finite big
    a = assign_open(t, torch.zeros(8, dtype=torch.bool), big=5.0)
    assert (a.d1 == 5.0).all() and not a.served.any()
    # num_layers=0 (no message passing) is a valid ablation
    m0 = UniFLMPNN(hidden_channels=4, num_layers=0)
    p = m0(_fd())
    assert p.shape == (8,)
    assert ((p >= m0.p_min) & (p <= 1 - m0.p_min)).all()
    # a generator is accepted
    pts = generate_facility_points('uniform', 10,
                                   generator=np.random.default_rng(0))
    assert pts.shape == (10, 2)


# --- 2026-12-03 audit: repeated variables in a clause, non-sign inputs -------

def _sat_with_repeats(n: int, m: int, seed: int) -> Data:
    g = torch.Generator().manual_seed(seed)
    ci = torch.randint(0, n, (3, m), generator=g)
    ci[1, ::2] = ci[0, ::2]  # every other clause repeats a variable
    ci[2, ::5] = ci[0, ::5]  # some all three times
    sg = torch.randint(0, 2, (m, 3), generator=g).float() * 2 - 1
    return Data(clause_index=ci, clause_sign=sg, num_nodes=n)


def test_sat_local_search_counts_repeated_variables_once():
    from pyg_ext.combopt.max3sat import sat_local_search, unsat_count
    # (~x0), (x0 | x0 | x1), (x0 | x0 | x2): flipping x0 from True breaks
    # two clauses and makes one; the old counts flipped it back and forth
    d = Data(clause_index=torch.tensor([[0, 0, 0], [0, 0, 0], [0, 1, 2]]),
             clause_sign=torch.tensor([[-1., -1, -1], [1, 1, 1], [1, 1, 1]]),
             num_nodes=3)
    s = torch.tensor([1., -1., -1.])
    for it in (1, 2, 3, 999):
        out = sat_local_search(d, s, max_iter=it)
        assert float(unsat_count(d, out)) == 1.0
    # one greedy step equals the best single flip found by recounting
    for seed in range(20):
        d = _sat_with_repeats(6, 14, seed)
        g = torch.Generator().manual_seed(100 + seed)
        S = torch.randint(0, 2, (6, 4), generator=g).float() * 2 - 1
        before = unsat_count(d, S)
        one = sat_local_search(d, S, max_iter=1)
        best = before.clone()
        for v in range(6):
            T = S.clone()
            T[v] = -T[v]
            best = torch.minimum(best, unsat_count(d, T))
        assert torch.equal(unsat_count(d, one), best)
        full = sat_local_search(d, S, max_iter=100)
        assert bool((unsat_count(d, full) <= best).all())


def test_local_searches_refuse_non_signs():
    from pyg_ext.combopt.max3sat import sat_local_search
    from pyg_ext.combopt.maxcut import maxcut_local_search
    d = Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]),
             num_nodes=3)
    for bad in (torch.zeros(3), torch.tensor([.5, .5, -2.])):
        with pytest.raises(ValueError, match='S must hold only -1 and'):
            maxcut_local_search(d, bad)
    with pytest.raises(ValueError, match='S must hold only -1 and'):
        sat_local_search(_sat_with_repeats(6, 4, 0), torch.zeros(6))


# --- 2026-12-03 audit (c): OptGNN, SDP, generators, training ---------------


def _gset_file(tmp_path, text: str):
    p = tmp_path / 'g.txt'
    p.write_text(text)
    return p


def test_audit_c_read_gset_checks_ids_and_reads_edgeless_files(
        tmp_path) -> None:
    from pyg_ext.combopt.generators import read_gset
    with pytest.raises(ValueError, match=r'line 3: node id 7 outside 1\.\.3'):
        read_gset(_gset_file(tmp_path, '3 2\n1 2 1\n2 7 1\n'))
    with pytest.raises(ValueError, match='1-based'):
        read_gset(_gset_file(tmp_path, '3 2\n0 1 1\n1 2 1\n'))
    with pytest.raises(ValueError, match='line 2 must be "i j w"'):
        read_gset(_gset_file(tmp_path, '3 1\n1 2\n'))
    with pytest.raises(ValueError, match='announces 2 edges, has 1'):
        read_gset(_gset_file(tmp_path, '3 2\n1 2 1\n'))
    with pytest.raises(ValueError, match='line 1'):
        read_gset(_gset_file(tmp_path, ''))
    g = read_gset(_gset_file(tmp_path, '3 0\n'))
    assert g.num_nodes == 3 and g.edge_index.shape == (2, 0)
    assert g.edge_weight.shape == (0,)
    # valid files read as before
    g = read_gset(_gset_file(tmp_path, '3 2\n1 2 1\n2 3 -1\n'))
    assert g.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert g.edge_weight.tolist() == [1.0, 1.0, -1.0, -1.0]


def test_audit_c_watts_strogatz_refuses_odd_k() -> None:
    from pyg_ext.combopt.generators import watts_strogatz
    for k in (1, 3):
        with pytest.raises(ValueError, match='k must be even'):
            watts_strogatz(6, k)
    g = watts_strogatz(6, 2, p=0.0)
    assert g.edge_index.size(1) // 2 == 6  # the ring
    assert watts_strogatz(6, 4, p=0.0).edge_index.size(1) // 2 == 12


def test_audit_c_bm_start_vectors_are_checked_and_normalised() -> None:
    from pyg_ext.combopt.maxcut import maxcut_relaxation
    g = erdos_renyi(8, 0.4, seed=1)
    with pytest.raises(ValueError, match=r'V must have shape \(8, 4\).*rank'):
        maxcut_bm(g, rank=4, steps=2, V=torch.randn(8, 2))
    with pytest.raises(ValueError, match=r'V must have shape \(8, 4\).*rank'):
        bm_solve(VertexCover(), g, rank=4, steps=2, V=torch.randn(8, 2))
    V = torch.randn(8, 4)
    V[3] = 0.0
    with pytest.raises(ValueError, match='V must have no zero row.*row 3'):
        maxcut_bm(g, rank=4, steps=3, V=V)
    with pytest.raises(ValueError, match='V must have no zero row'):
        bm_solve(VertexCover(), g, rank=4, steps=3, V=V)
    with pytest.raises(ValueError, match='V contains NaN'):
        maxcut_bm(g, rank=4, V=torch.full((8, 4), float('nan')))
    # steps=0 reports the relaxation of the normalised start
    V = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    out, val = maxcut_bm(g, rank=4, steps=0, V=10 * V)
    Vn = torch.nn.functional.normalize(V, dim=-1)
    torch.testing.assert_close(out, Vn)
    torch.testing.assert_close(val, maxcut_relaxation(g, Vn))
    assert 0.0 <= float(val) <= float(maxcut_certificate(g, Vn)) + 1e-6
    out = bm_solve(VertexCover(), g, rank=4, steps=0, V=10 * V)
    torch.testing.assert_close(out, Vn)


def test_audit_c_weighted_degree_and_per_graph_sum_check_inputs() -> None:
    from pyg_ext.combopt.rounding import per_graph_sum
    from pyg_ext.combopt.sdp import weighted_degree
    bad = Data(edge_index=torch.tensor([[0], [9]]), num_nodes=3)
    with pytest.raises(ValueError, match='edge_index'):
        weighted_degree(bad)
    g = erdos_renyi(8, 0.4, seed=1)
    with pytest.raises(ValueError, match='x has 5 rows for 8 nodes'):
        per_graph_sum(g, torch.ones(5))
    with pytest.raises(TypeError, match='x must be a torch.Tensor'):
        per_graph_sum(g, [1.0] * 8)
    assert per_graph_sum(g, torch.ones(8)).tolist() == [8.0]
    deg = weighted_degree(g)
    assert deg.tolist() == torch.bincount(g.edge_index[1],
                                          minlength=8).float().tolist()


def test_audit_c_empty_graphs_are_valid_everywhere() -> None:
    """Graphs without nodes are valid input in pyg_ext.combopt (see
    test_vertex_cover_empty_and_edgeless_graphs): the model and the BM
    solver return empty embeddings, the certificates bound 0."""
    d = Data(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=0)
    for prob in ('maxcut', 'vertex_cover'):
        for preset in ('pyg_ext', 'reference'):
            out = OptGNN(prob, rank=3, num_layers=2, preset=preset)(d)
            assert out.shape == (0, 3)
    V, val = maxcut_bm(d, rank=3, steps=2)
    assert V.shape == (0, 3) and val.tolist() == [0.0]
    assert maxcut_certificate(d, torch.zeros(0, 3)).tolist() == [0.0]
    assert vertex_cover_certificate(d).tolist() == [0.0]


def test_audit_c_optgnn_dtype_mismatch_names_the_tensor() -> None:
    from pyg_ext.nn.optgnn import OptGNNReferenceLayer
    g = erdos_renyi(8, 0.4, seed=1)
    m = OptGNN('maxcut', rank=4, num_layers=2).eval()
    V64 = torch.nn.functional.normalize(
        torch.randn(8, 4, dtype=torch.float64), dim=-1)
    msg = (r"V has dtype torch.float64 but the model's parameters are "
           r'torch.float32: pass V.to\(torch.float32\) or convert the model '
           r'\(model.to\(torch.float64\)\)')
    with pytest.raises(TypeError, match=msg):
        m(g, V=V64)
    for layer in (OptGNNLayer(4), OptGNNReferenceLayer(4)):
        with pytest.raises(TypeError, match=msg):
            layer(V64, V64)
        with pytest.raises(TypeError, match='G has dtype torch.float64'):
            layer(V64.float(), V64)
    # matching dtypes still work, float64 models included
    assert m(g, V=V64.float()).dtype == torch.float32
    assert m.double()(g, V=V64).dtype == torch.float64


def test_audit_c_optgnn_constructor_arguments_and_layer_repr() -> None:
    for preset in ('pyg_ext', 'reference'):
        with pytest.raises(TypeError, match='step must be a real number'):
            OptGNN('maxcut', rank=4, num_layers=2, step='x', preset=preset)
        with pytest.raises(TypeError, match='normalize_direction must be a '
                                            'bool'):
            OptGNN('maxcut', rank=4, num_layers=2, normalize_direction=3,
                   preset=preset)
    assert OptGNN('maxcut', rank=4, step=2).config['step'] == 2.0
    assert repr(OptGNNLayer(8)) == 'OptGNNLayer(rank=8)'
    r = repr(OptGNNLayer(8, step=0.5, init_noise=0.0,
                         normalize_direction=False))
    assert r == ('OptGNNLayer(rank=8, step=0.5, init_noise=0.0, '
                 'normalize_direction=False)')
    m = OptGNN('maxcut', rank=4, num_layers=2, step=1.3,
               normalize_direction=False)
    assert 'step=1.3' in repr(m) and 'normalize_direction=False' in repr(m)


def test_audit_c_decode_takes_problem_names_and_reference_loss_checks_V(
        ) -> None:
    from pyg_ext.nn.optgnn import vertex_cover_reference_loss
    g = erdos_renyi(8, 0.4, seed=1)
    V = torch.nn.functional.normalize(torch.randn(8, 3), dim=-1)
    a = decode('maxcut', g, V, num_hyperplanes=8,
               generator=torch.Generator().manual_seed(0))
    b = decode(MaxCut(), g, V, num_hyperplanes=8,
               generator=torch.Generator().manual_seed(0))
    assert torch.equal(a[0], b[0])
    with pytest.raises(ValueError, match='unknown problem name'):
        decode('tsp', g, V)
    with pytest.raises(TypeError, match='problem must be a problem name'):
        decode(3, g, V)
    with pytest.raises(ValueError, match=r'V must have shape \[num_nodes=8'):
        vertex_cover_reference_loss(g, torch.randn(3, 4))
    with pytest.raises(ValueError, match='V must be 2-D'):
        vertex_cover_reference_loss(g, torch.randn(8))
    assert torch.isfinite(vertex_cover_reference_loss(g, V))


def test_audit_c_training_arguments_are_checked() -> None:
    from pyg_ext.combopt.training import (
        default_config,
        load_pretrained,
        load_pretrained_reference,
        rounded_score,
        train_optgnn,
        train_reference,
    )
    gs = [erdos_renyi(6, 0.5, seed=i) for i in range(3)]
    m = OptGNN('maxcut', rank=4, num_layers=2)
    UNKNOWN = "problem must be one of .*maxcut.*got 'foo'"
    with pytest.raises(ValueError, match=UNKNOWN):
        load_pretrained('foo')
    with pytest.raises(ValueError, match=UNKNOWN):
        load_pretrained_reference('foo')
    with pytest.raises(ValueError, match=UNKNOWN):
        default_config('foo')
    # a known problem without a packaged checkpoint is still None
    assert load_pretrained_reference('vertex_cover') is None
    with pytest.raises(ValueError, match='epochs must be >= 0'):
        train_optgnn(m, gs, epochs=-1)
    with pytest.raises(TypeError, match='model must be a pyg_ext.nn.OptGNN'):
        train_optgnn(torch.nn.Linear(2, 2), gs, epochs=1)
    with pytest.raises(ValueError, match='train is empty'):
        train_optgnn(m, [], epochs=1)
    with pytest.raises(TypeError, match='train must be a sequence'):
        train_optgnn(m, gs[0], epochs=1)
    with pytest.raises(ValueError, match='val is empty'):
        train_optgnn(m, gs, epochs=1, val=[])
    with pytest.raises(ValueError, match='val is empty'):
        rounded_score(m, [])
    ref = OptGNN('maxcut', rank=4, num_layers=2, preset='reference')
    with pytest.raises(ValueError, match='val is empty'):
        train_reference(ref, lambda rng: gs[0], steps=1, val=[])
    with pytest.raises(TypeError, match='model must be a pyg_ext.nn.OptGNN'):
        train_reference(torch.nn.Linear(2, 2), lambda rng: gs[0], steps=1)
    hist = train_optgnn(m, gs, epochs=0)
    assert hist['train_loss'] == [] and len(hist['val_loss']) == 1


def test_audit_c_nan_scores_are_refused() -> None:
    from pyg_ext.combopt.rounding import best_per_graph, top_k_per_graph
    g = erdos_renyi(8, 0.4, seed=1)
    S = hyperplane_signs(torch.randn(8, 3), 4)
    bad = torch.tensor([[float('nan'), 1.0, 2.0, 0.0]])
    with pytest.raises(ValueError, match='scores contains NaN'):
        best_per_graph(g, S, bad)
    with pytest.raises(ValueError, match='scores contains NaN'):
        top_k_per_graph(g, S, bad, 2)
    ok = torch.tensor([[0.0, 1.0, float('-inf'), 3.0]])
    assert torch.equal(best_per_graph(g, S, ok), S[:, 3])


def _ws(n: int, k: int, seed: int) -> Data:
    from pyg_ext.combopt.generators import watts_strogatz
    return watts_strogatz(n, k, seed=seed)


@pytest.mark.parametrize('make', [
    lambda seed: erdos_renyi(5, 0.5, seed=seed),
    lambda seed: barabasi_albert(5, 2, seed=seed),
    lambda seed: random_regular(6, 3, seed=seed),
    lambda seed: _ws(6, 2, seed=seed),
    lambda seed: random_3sat(5, 2.0, seed=seed),
    lambda seed: make_graph('er', 5, seed=seed),
], ids=['er', 'ba', 'regular', 'ws', '3sat', 'make_graph'])
def test_audit_c_generator_seeds_are_checked(make) -> None:
    with pytest.raises(ValueError, match='seed must be >= 0'):
        make(-1)
    with pytest.raises(TypeError, match='seed must be an int'):
        make(1.5)
    with pytest.raises(TypeError, match='seed must be an int'):
        make(True)
    assert make(3).num_nodes == make(np.int64(3)).num_nodes


def test_audit_c_random_regular_empty_graph() -> None:
    g = random_regular(0, 0)
    assert g.num_nodes == 0 and g.edge_index.shape == (2, 0)
    assert erdos_renyi(0, 0.5).num_nodes == 0  # the same convention
    with pytest.raises(ValueError, match='d must be <= 0'):
        random_regular(0, 3)
