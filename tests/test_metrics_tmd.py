"""Exact Tree Mover's Distance: agreement with the reference implementation,
metric properties, options and input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _metrics_reference import reference_tmd
from torch_geometric.data import Data

from pyg_ext.metrics import (
    cross,
    pairwise,
    pascal_weights,
    tmd_cross,
    tmd_pairwise,
    tree_movers_distance,
)
from pyg_ext.testing import assert_close_rel
from pyg_ext.typing import WITH_NUMBA

BACKENDS = ['numpy'] + (['numba'] if WITH_NUMBA else [])


def _undirected(edges: list[tuple[int, int]]) -> torch.Tensor:
    e = torch.tensor(edges, dtype=torch.long).t()
    return torch.cat([e, e.flip(0)], 1)


def cycle(n: int, offset: int = 0) -> list[tuple[int, int]]:
    return [(offset + i, offset + (i + 1) % n) for i in range(n)]


def const_graph(n: int, edges: list[tuple[int, int]]) -> Data:
    return Data(x=torch.ones(n, 1), edge_index=_undirected(edges))


def random_graph(n: int, p: float, d: int, seed: int,
                 isolated: int = 0) -> Data:
    g = torch.Generator().manual_seed(seed)
    A = (torch.rand(n, n, generator=g) < p).triu(1)
    A[:, :isolated] = False
    A[:isolated, :] = False
    ei = A.nonzero().t()
    ei = torch.cat([ei, ei.flip(0)], 1)
    return Data(x=torch.randn(n, d, generator=g), edge_index=ei)


@pytest.fixture(scope='module')
def mutag(shared_root):
    from torch_geometric.datasets import TUDataset
    root = shared_root('tu')
    return list(TUDataset(str(root / 'tu'), 'MUTAG'))


def test_pascal_weights():
    assert pascal_weights(1) == []
    assert pascal_weights(2) == [1.0]
    assert pascal_weights(3) == [0.5, 2.0]
    assert np.allclose(pascal_weights(4), [1 / 3, 1, 3])


@pytest.mark.dataset
@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('depth,weights', [(2, 1.0), (4, 0.5),
                                           (4, 'pascal'), (6, 0.5)])
def test_matches_reference_on_mutag(mutag, backend, depth, weights):
    rng = np.random.default_rng(depth)
    idx = rng.choice(len(mutag), 8, replace=False)
    graphs = [mutag[i] for i in idx]
    D = tmd_pairwise(graphs, depth, weights, backend=backend)
    w = pascal_weights(depth) if weights == 'pascal' else weights
    for a, b in [(0, 1), (2, 3), (4, 5)]:
        ref = reference_tmd(graphs[a], graphs[b], depth, w)
        assert_close_rel(D[a, b], ref, rtol=1e-9, atol=1e-12)
        assert D[a, b] == D[b, a]
    # cross and single-pair paths give the same numbers
    C = tmd_cross(graphs[:3], graphs[3:], depth, weights, backend=backend)
    assert_close_rel(C, D[:3, 3:], rtol=1e-12, atol=1e-12)
    one = tree_movers_distance(graphs[6], graphs[7], depth, weights,
                               backend=backend)
    assert_close_rel(one, D[6, 7], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('backend', BACKENDS)
def test_matches_reference_continuous_features(backend):
    # all-distinct trees, isolated nodes (degree-0 vs degree>0 branch),
    # a multi-edge, different sizes
    g1 = random_graph(14, 0.3, 3, seed=1, isolated=2)
    g2 = random_graph(11, 0.35, 3, seed=2, isolated=1)
    g2.edge_index = torch.cat([g2.edge_index, g2.edge_index[:, :2]], 1)
    for depth, w in [(3, [0.7, 1.3]), (4, 'pascal')]:
        ww = pascal_weights(depth) if w == 'pascal' else w
        ref = reference_tmd(g1, g2, depth, ww)
        got = tree_movers_distance(g1, g2, depth, w, backend=backend)
        assert_close_rel(got, ref, rtol=1e-9)


def test_large_degree_uses_exact_fallback():
    # a star with 12 leaves: assignment size 12 > the DP limit
    star = const_graph(13, [(0, i) for i in range(1, 13)])
    g = random_graph(14, 0.6, 1, seed=3)
    g.x = g.x.abs()
    star.x = torch.rand(13, 1)
    ref = reference_tmd(star, g, 3, 0.5)
    got = tree_movers_distance(star, g, 3, 0.5, backend='numpy')
    assert_close_rel(got, ref, rtol=1e-9)


@pytest.mark.parametrize('flow', ['source_to_target', 'target_to_source'])
def test_flow_on_directed_graphs(flow):
    # directed path 0 -> 1 -> 2 vs directed star 0 -> 1, 0 -> 2
    x = torch.tensor([[1.0], [2.0], [3.0]])
    path = Data(x=x, edge_index=torch.tensor([[0, 1], [1, 2]]))
    star = Data(x=x, edge_index=torch.tensor([[0, 0], [1, 2]]))
    ref = reference_tmd(path, star, 3, 1.0, flow=flow)
    got = tree_movers_distance(path, star, 3, 1.0, flow=flow)
    assert_close_rel(got, ref, rtol=1e-12)
    # reversing every edge swaps the two conventions
    other = ('target_to_source' if flow == 'source_to_target'
             else 'source_to_target')
    rev = [Data(x=g.x, edge_index=g.edge_index.flip(0)) for g in (path, star)]
    assert_close_rel(tree_movers_distance(*rev, 3, 1.0, flow=other), got,
                     rtol=1e-12)
    assert tree_movers_distance(path, star, 3, 1.0, flow=flow) != \
        tree_movers_distance(path, star, 3, 1.0, flow=other)


def test_feature_norm_p():
    g1 = random_graph(8, 0.4, 4, seed=5)
    g2 = random_graph(9, 0.4, 4, seed=6)
    for p in (1.0, 3.0):
        assert_close_rel(tree_movers_distance(g1, g2, 3, 0.5, p=p),
                         reference_tmd(g1, g2, 3, 0.5, p=p), rtol=1e-9)


def test_wl_indistinguishable_graphs_are_at_zero():
    # a 6-cycle and two triangles: 1-WL cannot tell them apart
    c6 = const_graph(6, cycle(6))
    two_c3 = const_graph(6, cycle(3) + cycle(3, 3))
    assert tree_movers_distance(c6, two_c3, 5, 1.0) == pytest.approx(0.0)


def test_permutation_invariance_and_positivity():
    g = random_graph(12, 0.3, 3, seed=7)
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(12)
    h = Data(x=g.x[perm], edge_index=inv[g.edge_index])
    assert tree_movers_distance(g, h, 4, 0.5) == pytest.approx(0.0, abs=1e-9)
    # a 1-WL-distinguishable change: one edge removed
    k = Data(x=g.x, edge_index=g.edge_index[:, 2:])
    assert tree_movers_distance(g, k, 4, 0.5) > 1e-6
    path = const_graph(4, [(0, 1), (1, 2), (2, 3)])
    star = const_graph(4, [(0, 1), (0, 2), (0, 3)])
    assert tree_movers_distance(path, star, 2, 1.0) > 0


def test_symmetry_and_triangle_inequality():
    graphs = [random_graph(int(n), 0.3, 2, seed=s)
              for s, n in enumerate(np.random.default_rng(0).integers(
                  4, 12, size=14))]
    for backend in BACKENDS:
        D = pairwise(graphs, depth=3, weights=0.5, backend=backend)
        assert np.array_equal(D, D.T)
        assert np.all(np.diag(D) == 0)
        # D[i, j] <= D[i, k] + D[k, j] for all triples
        viol = D[:, None, :] - (D[:, :, None] + D[None, :, :])
        assert viol.max() <= 1e-9
    assert_close_rel(tree_movers_distance(graphs[0], graphs[1], 3),
                     tree_movers_distance(graphs[1], graphs[0], 3),
                     rtol=1e-12)


def test_not_translation_invariant_and_grows_with_size():
    g = const_graph(3, cycle(3))
    big = const_graph(6, cycle(3) + cycle(3, 3))
    d = tree_movers_distance(g, big, 2, 1.0)
    shifted = [Data(x=h.x + 1.0, edge_index=h.edge_index) for h in (g, big)]
    assert tree_movers_distance(*shifted, 2, 1.0) != pytest.approx(d)
    # TMD to an empty graph is the sum of blank-tree distances
    empty = Data(x=torch.zeros(0, 1), edge_index=torch.zeros(2, 0,
                                                             dtype=torch.long))
    assert tree_movers_distance(g, empty, 2, 1.0) == pytest.approx(3 * 3.0)
    assert tree_movers_distance(big, empty, 2, 1.0) == pytest.approx(6 * 3.0)


def test_cross_shape_and_metric_dispatch():
    graphs = [random_graph(6, 0.4, 2, seed=s) for s in range(5)]
    C = cross(graphs[:2], graphs[2:], depth=2)
    assert C.shape == (2, 3)
    D = pairwise(graphs, 'tmd', depth=2)
    assert_close_rel(C, D[:2, 2:], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match='metric'):
        pairwise(graphs, 'nope')


def test_progress_bar_and_jobs_do_not_change_values():
    graphs = [random_graph(7, 0.4, 2, seed=s) for s in range(6)]
    D = tmd_pairwise(graphs, 3)
    D2 = tmd_pairwise(graphs, 3, n_jobs=2, progress_bar=True,
                      backend='numpy')
    assert_close_rel(D2, D, rtol=1e-12, atol=1e-12)


def test_bad_input_raises():
    g = random_graph(5, 0.5, 2, seed=0)
    with pytest.raises(ValueError, match='feature'):
        tree_movers_distance(g, random_graph(5, 0.5, 3, seed=1))
    nan = Data(x=g.x.clone(), edge_index=g.edge_index)
    nan.x[0, 0] = float('nan')
    with pytest.raises(ValueError, match='NaN'):
        tree_movers_distance(g, nan)
    with pytest.raises(ValueError, match='depth'):
        tree_movers_distance(g, g, depth=0)
    with pytest.raises(ValueError, match='depth'):
        tree_movers_distance(g, g, depth=2.5)
    with pytest.raises(ValueError, match='>= 0'):
        tree_movers_distance(g, g, depth=3, weights=-1.0)
    with pytest.raises(ValueError, match='>= 0'):
        tree_movers_distance(g, g, depth=3, weights=[1.0, -0.1])
    with pytest.raises(ValueError, match='depth - 1'):
        tree_movers_distance(g, g, depth=4, weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="'x'"):
        tree_movers_distance(g, Data(edge_index=g.edge_index, num_nodes=5))
    with pytest.raises(ValueError, match='flow'):
        tree_movers_distance(g, g, flow='sideways')
    with pytest.raises(ValueError, match='p'):
        tree_movers_distance(g, g, p=0.5)
    with pytest.raises(ValueError, match='outside'):
        tree_movers_distance(g, Data(x=g.x, edge_index=torch.tensor([[0],
                                                                      [9]])))
    with pytest.raises(ValueError, match='backend'):
        tree_movers_distance(g, g, backend='gpu')
    with pytest.raises(ValueError, match='pascal'):
        tree_movers_distance(g, g, weights='binomial')


def test_memory_guard(monkeypatch):
    from pyg_ext.metrics import tmd
    graphs = [random_graph(10, 0.4, 2, seed=s) for s in range(3)]
    monkeypatch.setattr(tmd, 'MAX_MATRIX_BYTES', 1000)
    with pytest.raises(MemoryError, match='distinct computation trees'):
        tmd_pairwise(graphs, 3)


@pytest.mark.dataset
@pytest.mark.skipif(not WITH_NUMBA, reason='numba not installed')
@pytest.mark.parametrize('depth', [1, 2, 4])
def test_numba_top_level_strategies_agree(mutag, monkeypatch, depth):
    """The numba path's two top-level strategies (memoised matrix, solved
    per graph pair from a local block of the level below) give the numpy
    path's numbers, pairwise and cross."""
    import pyg_ext.metrics.tmd as T
    graphs = mutag[:40]
    ref = tmd_pairwise(graphs, depth, 0.5, backend='numpy')
    for memo in (True, False):
        monkeypatch.setattr(T, '_memoise_top', lambda *a, m=memo: m)
        D = tmd_pairwise(graphs, depth, 0.5, backend='numba', n_jobs=2)
        assert_close_rel(D, ref, rtol=1e-12, atol=1e-12)
        C = tmd_cross(graphs[:15], graphs[15:], depth, 0.5, backend='numba')
        assert_close_rel(C, ref[:15, 15:], rtol=1e-12, atol=1e-12)


@pytest.mark.dataset
@pytest.mark.skipif(not WITH_NUMBA, reason='numba not installed')
@pytest.mark.parametrize('depth', [3, 4])
def test_packed_level_below_fused_top(mutag, monkeypatch, depth):
    """With the top level solved per pair, the level below it is stored as
    a packed upper triangle (``npk > 0``): the same matrix, bit for bit, as
    with that level stored dense (a drop-in ``level_matrix`` turns packing
    off), and the numpy path's numbers."""
    import pyg_ext.metrics.tmd as T
    graphs = mutag[:30]
    monkeypatch.setattr(T, '_memoise_top', lambda *a: False)
    kern = T._ot.numba_kernels()
    seen: list[int] = []

    class Spy:
        level_matrix = kern.level_matrix
        memo_graph_pairs = kern.memo_graph_pairs

        @staticmethod
        def fused_local_pairs(*a):
            seen.append(int(a[1]))
            return kern.fused_local_pairs(*a)
    monkeypatch.setattr(T._ot, 'numba_kernels', lambda: Spy)
    from pyg_ext.metrics._wl import prepare
    batch = prepare(graphs)
    w = np.full(depth - 1, 0.5)
    packed = T._tmd_matrix_numba(batch, None, depth, w, 2.0, False)
    assert seen and min(seen) > 0
    seen.clear()
    dense = T._tmd_matrix_numba(batch, None, depth, w, 2.0, False,
                                level_matrix=kern.level_matrix)
    assert seen and max(seen) == 0
    np.testing.assert_array_equal(packed, dense)
    ref = tmd_pairwise(graphs, depth, 0.5, backend='numpy')
    assert_close_rel(packed, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.dataset
@pytest.mark.skipif(not WITH_NUMBA, reason='numba not installed')
def test_numba_matches_reference_on_proteins(shared_root):
    """PROTEINS (max degree 25, graphs of very different sizes): the numba
    path against the reference implementation."""
    from torch_geometric.datasets import TUDataset
    root = shared_root('tu')
    ds = TUDataset(str(root / 'tu'), 'PROTEINS')
    sizes = np.array([g.num_nodes for g in ds])
    # small graphs for the slow reference, plus the largest degree graph
    small = np.flatnonzero(sizes <= 12)[:6].tolist()
    big = int(np.argmax([int(torch.bincount(g.edge_index[1]).max())
                         for g in ds[:200]]))
    graphs = [ds[i] for i in small + [big]]
    D = tmd_pairwise(graphs, 3, 0.5, backend='numba')
    for a, b in [(0, 1), (2, 3), (4, 6)]:
        ref = reference_tmd(graphs[a], graphs[b], 3, [0.5, 0.5])
        assert_close_rel(D[a, b], ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('dtype', [np.int64, np.float64])
def test_unique_rows_equals_numpy_unique(dtype):
    """The colour refinement's ``unique_rows`` (a lexsort) returns what
    ``np.unique(axis=0, return_index=True, return_inverse=True)`` does:
    rows numbered in lexicographic order, the lowest index of each."""
    from pyg_ext.metrics._wl import unique_rows
    rng = np.random.default_rng(3)
    for n, k in ((1, 1), (7, 1), (50, 3), (400, 6)):
        key = rng.integers(-2, 3, (n, k)).astype(dtype)
        _, first, inv = np.unique(key, axis=0, return_index=True,
                                  return_inverse=True)
        got_first, got_inv = unique_rows(key)
        np.testing.assert_array_equal(got_first, first)
        np.testing.assert_array_equal(got_inv, inv.reshape(-1))
        assert got_inv.dtype == np.int64
    # -0.0 and 0.0 are one colour; no columns: every row alike
    first, inv = unique_rows(np.array([[0.0], [-0.0], [1.0], [0.0]]))
    np.testing.assert_array_equal(first, [0, 2])
    np.testing.assert_array_equal(inv, [0, 0, 1, 0])
    first, inv = unique_rows(np.zeros((4, 0)))
    np.testing.assert_array_equal(first, [0])
    np.testing.assert_array_equal(inv, [0, 0, 0, 0])


@pytest.mark.skipif(not WITH_NUMBA, reason='numba not installed')
def test_level_without_shared_colours_equals_the_general_path():
    """A level whose row and column trees share no child colour subtracts
    the blank distances once for the whole level (``tree_block_disjoint``);
    giving one row tree and one column tree a common colour sends the
    level through the general per-problem path instead. Every entry but
    that pair's (whose shared child now cancels) is equal bit for bit."""
    from pyg_ext.metrics import _ot
    kern = _ot.numba_kernels()
    rng = np.random.default_rng(0)
    nl, ml, R, C, K = 40, 35, 23, 29, 9   # degrees up to 9: every solver
    Eprev = rng.random((nl + 1, ml + 1)) * 3
    Eprev[nl, ml] = 0.0
    E1 = rng.random((5, 6))

    def side(n: int, m: int, first: int) -> tuple:
        deg = rng.integers(0, K + 1, n)
        deg[0] = 3
        ch = np.zeros((n, K), np.int64)
        chc = np.full((n, K), 10_000, np.int64)     # padding id
        for i in range(n):
            ch[i, :deg[i]] = rng.choice(m, deg[i], replace=False)
            chc[i, :deg[i]] = first + 50 * i + np.arange(deg[i])
        return ch, chc, deg.astype(np.int64)
    rch, rchc, rdeg = side(R, nl, 0)
    cch, cchc, cdeg = side(C, ml, 5_000)
    rroot = rng.integers(0, 5, R)
    croot = rng.integers(0, 6, C)
    brow, bcol = rng.random(R), rng.random(C)

    def level(cchc_: np.ndarray) -> np.ndarray:
        out = np.empty((R + 1, C + 1))
        kern.level_matrix(Eprev, E1, rroot, rch, rchc, rdeg, croot, cch,
                          cchc_, cdeg, 0.5, brow, bcol, False, out)
        return out
    disjoint = level(cchc)
    shared = cchc.copy()
    shared[0, 0] = rchc[0, 0]   # still sorted: the smallest colour
    general = level(shared)
    assert general[0, 0] != disjoint[0, 0]
    general[0, 0] = disjoint[0, 0]
    np.testing.assert_array_equal(general, disjoint)


@pytest.mark.skipif(not WITH_NUMBA, reason='numba not installed')
def test_batched_child_solver_matches_brute_force():
    """Every bucket shape of the batched row-subset DP (3 <= n <= 6 rows
    against 7 to 10 columns; fewer columns are written out, see
    test_assign_small_matches_brute_force), with many problems per bucket
    (several flushes) and integer costs (ties), against scipy's exact
    rectangular assignment."""
    from scipy.optimize import linear_sum_assignment

    from pyg_ext.metrics import _numba as K
    shapes = K.B_SHAPE.tolist()
    assert {(n, m) for n, m in shapes} == {
        (n, m) for n in range(3, K.ROW_DP_MAX + 1)
        for m in range(K.BATCH_MAX + 1, K.ROW_DP_COLS + 1)}
    rng = np.random.default_rng(0)
    cap = 7
    buf, dp, res, ta, tb, bas, cnt = K._batch_work(cap)
    for bk, (n, m) in enumerate(shapes):
        probs = [rng.integers(-3, 4, (n, m)).astype(float)
                 if t % 2 else rng.normal(size=(n, m)) for t in range(17)]
        out = np.zeros((1, len(probs)))
        for t, C in enumerate(probs):
            k = cnt[bk]
            buf[K.B_ROW0[bk]:K.B_ROW0[bk] + n * m, k] = C.ravel()
            ta[bk, k], tb[bk, k], bas[bk, k] = 0, t, 0.25 * t
            cnt[bk] = k + 1
            if cnt[bk] == cap:
                K._flush(bk, buf, dp, res, ta, tb, bas, cnt, out, 2.0, False)
        K._flush(bk, buf, dp, res, ta, tb, bas, cnt, out, 2.0, False)
        assert cnt[bk] == 0
        for t, C in enumerate(probs):
            r, c = linear_sum_assignment(C)
            best = C[r, c].sum()
            assert out[0, t] == pytest.approx(2.0 * (0.25 * t + best),
                                              abs=1e-12)


@pytest.mark.skipif(not WITH_NUMBA, reason='numba not installed')
@pytest.mark.parametrize('mirror', [False, True])
def test_tree_block_matches_children_ot(mirror):
    """The batched block kernel gives children_ot's values for random child
    lists (shared colours cancel, shapes from 0 x k to 9 x 9, blank row /
    column), also the symmetric way level_matrix uses it (rows one by one,
    columns j >= i, mirrored)."""
    from pyg_ext.metrics import _numba as K
    rng = np.random.default_rng(1)
    P = 12  # trees of the level below (+ blank)
    A = rng.random((P + 1, P + 1))
    Eprev = A + A.T
    np.fill_diagonal(Eprev, 0.0)
    R, Kmax = 30, 9
    deg = rng.integers(0, Kmax + 1, R)
    ch = np.zeros((R, Kmax), np.int64)
    for i in range(R):
        ch[i, :deg[i]] = np.sort(rng.integers(0, P, deg[i]))
    E1 = rng.random((3, 3))
    E1 = E1 + E1.T
    root = rng.integers(0, 3, R)
    W = np.empty((Kmax, Kmax))
    ia = np.empty(Kmax, np.int64)
    ib = np.empty(Kmax, np.int64)
    u, v, minv, p, way, used, dp = K._solver_work(Kmax)
    work = (u, v, p, way, minv, used, dp)  # the solvers' argument order
    rows = np.arange(R)
    mask = K.colour_masks(ch, deg)
    # the colour bit sets only let pairs skip the merge: with every bit set
    # (every pair merges) the values are the same bit for bit
    full = np.full(R, np.iinfo(np.uint64).max, np.uint64)
    outs = []
    for m in (mask, full):
        out = np.full((R, R), np.nan)
        batch = K._batch_work(5)
        if mirror:  # as level_matrix: one row, the columns j >= i
            for i in range(R):
                one, cols = np.array([i]), np.arange(i, R)
                K.tree_block(Eprev, E1, 0.5, root, ch, ch, deg, one, root,
                             ch, ch, deg, cols, P, P, W, ia, ib, *work,
                             *batch, out, one, cols, True, True, m, m)
        else:
            K.tree_block(Eprev, E1, 0.5, root, ch, ch, deg, rows, root, ch,
                         ch, deg, rows, P, P, W, ia, ib, *work, *batch, out,
                         rows, rows, False, True, m, m)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
    out = outs[0]
    assert ((mask[:, None] & mask[None, :]) == 0).any()  # some pairs skip
    for i in range(R):
        for j in range(R):
            ref = E1[root[i], root[j]] + 0.5 * K.children_ot(
                Eprev, ch, ch, i, deg[i], ch, ch, j, deg[j], P, P, W, ia,
                ib, *work)
            assert out[i, j] == pytest.approx(ref, rel=1e-12, abs=1e-12)
