"""The numba TMD path's exact work savings (issue #25): duplicate graphs
solved once, and graph pairs whose level-``L-1`` trees are disjoint solved
without the per-problem cancellation."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from pyg_ext.metrics import tmd_cross, tmd_pairwise
from pyg_ext.testing import assert_close_rel
from pyg_ext.typing import WITH_NUMBA

pytestmark = pytest.mark.skipif(not WITH_NUMBA,
                                reason='numba not installed')


def _graph(n: int, p: float, seed: int, labels: int = 0) -> Data:
    """Random undirected graph; ``labels > 0``: one-hot labels (trees
    repeat across graphs), else continuous features (all trees distinct)."""
    g = torch.Generator().manual_seed(seed)
    A = (torch.rand(n, n, generator=g) < p).triu(1)
    ei = A.nonzero().t()
    ei = torch.cat([ei, ei.flip(0)], 1)
    if labels:
        x = torch.nn.functional.one_hot(
            torch.randint(labels, (n,), generator=g), labels).float()
    else:
        x = torch.randn(n, 3, generator=g)
    return Data(x=x, edge_index=ei)


def _relabel(data: Data, seed: int) -> Data:
    """An isomorphic copy with the nodes permuted."""
    n = data.num_nodes
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(n)
    return Data(x=data.x[perm], edge_index=inv[data.edge_index])


def _counting_kernels(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Wrap the numba graph-pair kernels to record how many pairs they
    solve."""
    import pyg_ext.metrics.tmd as T
    kern = T._ot.numba_kernels()
    seen: list[int] = []

    def wrap(name: str):
        f = getattr(kern, name)

        def call(*a):
            seen.append(len(a[-2]))
            return f(*a)
        return call
    proxy = types.SimpleNamespace(
        level_matrix=kern.level_matrix,
        fused_local_pairs=wrap('fused_local_pairs'),
        memo_graph_pairs=wrap('memo_graph_pairs'))
    monkeypatch.setattr(T._ot, 'numba_kernels', lambda: proxy)
    return seen


@pytest.mark.parametrize('memo', [True, False])
@pytest.mark.parametrize('depth', [1, 3, 4])
def test_duplicate_graphs_solved_once(monkeypatch, memo, depth):
    """Copies (identical or relabelled) of a graph: one representative per
    group is solved (fewer kernel pairs than the old path, which solved
    all of them), and the matrix equals the numpy path's, with exact zeros
    between copies and equal rows."""
    import pyg_ext.metrics.tmd as T
    base = [_graph(n, 0.3, s, labels=2) for s, n in enumerate((7, 9, 6, 8))]
    graphs = [base[0], base[1], _relabel(base[0], 1), base[2],
              base[1], base[3], _relabel(base[0], 2)]
    ref = tmd_pairwise(graphs, depth, 0.5, backend='numpy')
    monkeypatch.setattr(T, '_memoise_top', lambda *a: memo)
    seen = _counting_kernels(monkeypatch)
    D = tmd_pairwise(graphs, depth, 0.5, backend='numba')
    # 4 distinct graphs: 6 pairs instead of 21
    assert sum(seen) == 6
    assert_close_rel(D, ref, rtol=1e-12, atol=1e-12)
    for g, h in [(0, 2), (0, 6), (2, 6), (1, 4)]:
        assert D[g, h] == 0.0 and D[h, g] == 0.0
        np.testing.assert_array_equal(D[g, [3, 5]], D[h, [3, 5]])
    assert (D[0, [1, 3, 5]] > 0).all()
    np.testing.assert_array_equal(D, D.T)
    # cross: copies on both sides (rows 3 distinct of 4, columns 4 of 5)
    seen.clear()
    C = tmd_cross(graphs[:4], graphs[2:], depth, 0.5, backend='numba')
    assert sum(seen) == 12
    assert_close_rel(C, ref[:4, 2:], rtol=1e-12, atol=1e-12)
    assert C[0, 0] == 0.0 and C[1, 2] == 0.0


def test_no_duplicates_keeps_every_pair(monkeypatch):
    """Without copies every pair is solved (the grouping only removes
    graphs whose multiset of top-level trees repeats)."""
    import pyg_ext.metrics.tmd as T
    graphs = [_graph(n, 0.3, s) for s, n in enumerate((5, 6, 7, 5))]
    monkeypatch.setattr(T, '_memoise_top', lambda *a: False)
    seen = _counting_kernels(monkeypatch)
    D = tmd_pairwise(graphs, 3, 0.5, backend='numba')
    assert sum(seen) == 6
    assert (D[np.triu_indices(4, 1)] > 0).all()


@pytest.mark.parametrize('depth', [2, 3, 4])
def test_fused_disjoint_pairs_match_numpy(monkeypatch, depth):
    """Continuous features: no two graphs share a tree, so every pair takes
    the disjoint path of the fused top level; with one-hot labels most
    pairs share trees and take the cancelling path. Both against the
    numpy path (memoised, scipy), pairwise and cross."""
    import pyg_ext.metrics.tmd as T
    monkeypatch.setattr(T, '_memoise_top', lambda *a: False)
    for labels in (0, 3):
        graphs = [_graph(n, 0.35, 10 + s, labels)
                  for s, n in enumerate((3, 9, 12, 8, 15, 1, 10))]
        ref = tmd_pairwise(graphs, depth, [0.5, 2.0, 1 / 3][:depth - 1],
                           backend='numpy')
        D = tmd_pairwise(graphs, depth, [0.5, 2.0, 1 / 3][:depth - 1],
                         backend='numba')
        assert_close_rel(D, ref, rtol=1e-12, atol=1e-12)
        C = tmd_cross(graphs[:3], graphs[3:], depth,
                      [0.5, 2.0, 1 / 3][:depth - 1], backend='numba')
        assert_close_rel(C, ref[:3, 3:], rtol=1e-12, atol=1e-12)


def test_tree_block_disjoint_equals_tree_block():
    """The disjoint kernel gives :func:`tree_block`'s values bit for bit on
    child sets without shared colours, for every branch: empty child lists,
    one row, two rows, the batched shapes and more than ``BATCH_MAX``
    columns, rows and columns the longer side."""
    from pyg_ext.metrics import _numba as K
    rng = np.random.default_rng(3)
    nl, ml = 14, 13
    S = rng.random((nl + 1, ml + 1)) * 3
    S[nl, ml] = 0.0
    R, C = 40, 35
    K_ = 9
    rdeg = rng.integers(0, K_ + 1, R)
    cdeg = rng.integers(0, K_ + 1, C)
    rch = np.zeros((R, K_), np.int64)
    cch = np.zeros((C, K_), np.int64)
    for i in range(R):
        rch[i, :rdeg[i]] = np.sort(rng.choice(nl, rdeg[i], replace=True))
    for j in range(C):
        cch[j, :cdeg[j]] = np.sort(rng.choice(ml, cdeg[j], replace=True))
    rchc = rch.copy()
    cchc = cch + nl  # colours: the two sides share none
    E1 = rng.random((4, 4))
    rroot = rng.integers(0, 4, R)
    croot = rng.integers(0, 4, C)
    rows, cols = np.arange(R), np.arange(C)
    w = 0.7

    def work():
        u, v, minv, p, way, used, dp = K._solver_work(K_)
        return (np.empty((K_, K_)), np.empty(K_, np.int64),
                np.empty(K_, np.int64), u, v, p, way, minv, used, dp,
                *K._batch_work(K.BATCH_CAP))

    W, ia, ib, u, v, p, way, minv, used, dp, *bw = work()
    ref = np.empty((R, C))
    K.tree_block(S, E1, w, rroot, rch, rchc, rdeg, rows, croot, cch, cchc,
                 cdeg, cols, nl, ml, W, ia, ib, u, v, p, way, minv, used, dp,
                 *bw, ref, rows, cols, False, True,
                 K.colour_masks(rchc, rdeg), K.colour_masks(cchc, cdeg))
    # without the colour merge (level_matrix's path when no child colour
    # is shared): the same values bit for bit
    W, ia, ib, u, v, p, way, minv, used, dp, *bw = work()
    nomerge = np.empty((R, C))
    K.tree_block(S, E1, w, rroot, rch, rchc, rdeg, rows, croot, cch, cchc,
                 cdeg, cols, nl, ml, W, ia, ib, u, v, p, way, minv, used, dp,
                 *bw, nomerge, rows, cols, False, False,
                 K.colour_masks(rchc, rdeg), K.colour_masks(cchc, cdeg))
    np.testing.assert_array_equal(nomerge, ref)
    assert not K._share_colour(rchc, rdeg, cchc, cdeg)
    assert K._share_colour(rchc, rdeg, rchc, rdeg) == bool(rdeg.any())
    shared = cchc.copy()
    j = int(np.flatnonzero(cdeg)[0])
    shared[j, 0] = rchc[int(np.flatnonzero(rdeg)[0]), 0]
    assert K._share_colour(rchc, rdeg, shared, cdeg)
    assert not K._share_colour(rchc, np.zeros_like(rdeg), shared, cdeg)
    SR = S[:nl, :ml] - S[nl, :ml][None, :]
    SC = S[:nl, :ml] - S[:nl, ml][:, None]
    baseR = np.array([sum(S[rch[i, x], ml] for x in range(rdeg[i]))
                      for i in range(R)])
    baseC = np.array([sum(S[nl, cch[j, y]] for y in range(cdeg[j]))
                      for j in range(C)])
    W, ia, ib, u, v, p, way, minv, used, dp, *bw = work()
    out = np.empty((R, C))
    K.tree_block_disjoint(SR, SC, baseR, baseC, E1, w, rroot, rch, rdeg,
                          rows, croot, cch, cdeg, cols, W, u, v, p, way,
                          minv, used, dp, *bw, out)
    np.testing.assert_array_equal(out, ref)
    assert K._disjoint(rchc[:, 0], 0, R, cchc[:, 0], 0, C)
    assert not K._disjoint(np.array([1, 4, 7]), 0, 3, np.array([2, 7]), 0, 2)
    assert K._disjoint(np.array([1, 4, 7]), 0, 3, np.array([2, 7]), 0, 1)


@pytest.mark.parametrize('depth', [3, 4])
def test_cross_levels_without_shared_colours_match_numpy(depth):
    """Two graphs with continuous features share no tree, so every memoised
    level of their cross matrix takes the kernel's no-merge path
    (``cancel=False``); degrees up to 12 reach the row-subset DP buckets
    and the one-at-a-time solver. Values equal the numpy path's."""
    from pyg_ext.bench.metrics import random_pair_graph
    g1, g2 = random_pair_graph(60, 5), random_pair_graph(70, 6)
    hub = torch.tensor([[0] * 12 + list(range(1, 13)),
                        list(range(1, 13)) + [0] * 12])
    g1 = Data(x=g1.x, edge_index=torch.cat([g1.edge_index, hub], 1))
    ref = tmd_cross([g1], [g2], depth, 0.5, backend='numpy')
    got = tmd_cross([g1], [g2], depth, 0.5, backend='numba')
    assert_close_rel(got, ref, rtol=1e-12, atol=1e-12)
