"""Trustworthiness of the graph metrics (issue #16, defects 11-13): exact
zeros and no negative distances, empty graphs, the triangle inequality of
DIDM with a constant unmatched cost, duplicate arcs / directed graphs in the
homophily measures, and bad input for every public name of
:mod:`pyg_ext.metrics`."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

import pyg_ext.metrics as M
from pyg_ext.metrics import (
    HomophilyError,
    adjusted_homophily,
    aggregation_homophily,
    class_insensitive_homophily,
    compatibility_matrix,
    didm_cross,
    didm_movers_distance,
    didm_pairwise,
    edge_homophily,
    exp_kernel,
    gaussian_kernel,
    homophily_report,
    label_informativeness,
    node_homophily,
    tmd_cross,
    tmd_pairwise,
    tree_movers_distance,
)
from pyg_ext.typing import WITH_NUMBA

BACKENDS = ['numpy'] + (['numba'] if WITH_NUMBA else [])


def _permuted(g: Data, seed: int) -> Data:
    perm = torch.randperm(g.num_nodes,
                          generator=torch.Generator().manual_seed(seed))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(g.num_nodes)
    return Data(x=g.x[perm], edge_index=inv[g.edge_index])


def _with_blank_nodes(g: Data, k: int) -> Data:
    """``g`` plus ``k`` isolated nodes with zero features: their trees are
    blank trees, so TMD(g, result) = 0 exactly in exact arithmetic."""
    x = torch.cat([g.x, torch.zeros(k, g.x.size(1))])
    return Data(x=x, edge_index=g.edge_index)


def _empty(d: int = 2) -> Data:
    return Data(x=torch.zeros(0, d), edge_index=torch.zeros(2, 0,
                                                            dtype=torch.long))


def _graph(n: int, seed: int, d: int = 2, p: float = 0.4) -> Data:
    g = torch.Generator().manual_seed(seed)
    A = (torch.rand(n, n, generator=g) < p).triu(1)
    ei = A.nonzero().t()
    return Data(x=torch.randn(n, d, generator=g),
                edge_index=torch.cat([ei, ei.flip(0)], 1))


@pytest.fixture(scope='module')
def enzymes(shared_root: Callable[..., Path]) -> Any:
    from torch_geometric.datasets import TUDataset
    root = shared_root('tu')
    # continuous node attributes: float cancellation shows up here
    return TUDataset(str(root / 'tu'), 'ENZYMES', use_node_attr=True)


# --- defect 11: TMD / DIDM never negative, exact zeros -----------------------

@pytest.mark.dataset
@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('depth', [2, 3, 4])
def test_tmd_of_permuted_copy_is_zero(enzymes, backend, depth):
    g = enzymes[37]
    assert g.x.size(1) == 21  # 18 attributes + 3 one-hot labels
    for seed in range(3):
        h = _permuted(g, seed)
        d = tree_movers_distance(g, h, depth, backend=backend)
        # was -3.6e-12 (numpy, depth 3): the folded blank padding cancelled
        assert d >= 0.0
        assert d <= 1e-9
        D = tmd_pairwise([g, h, enzymes[38]], depth, backend=backend)
        assert (D >= 0).all()
        assert np.all(np.diag(D) == 0.0)
        assert np.array_equal(D, D.T)
        assert D[0, 1] <= 1e-9 and D[0, 2] > 1.0
        # the kernel helpers accept the matrix
        K = exp_kernel(D, 0.1)
        assert np.allclose(np.diag(K), 1.0)
        gaussian_kernel(D, 0.1)


@pytest.mark.dataset
@pytest.mark.parametrize('backend', BACKENDS)
def test_tmd_never_negative_with_padding(enzymes, backend):
    # ENZYMES graphs against copies with two extra blank nodes: distance 0
    # in exact arithmetic; the numpy path used to return -1.5e-11 (graph 40,
    # depth 4) from bl.sum() + sum(M - bl)
    gs = [enzymes[i] for i in (34, 37, 40, 46, 51, 54)]
    hs = [_with_blank_nodes(g, 2) for g in gs]
    for depth in (2, 3, 4):
        C = tmd_cross(gs, hs, depth, backend=backend)
        assert (C >= 0).all()
        assert np.all(np.diag(C) <= 1e-9)
        exp_kernel(C)


@pytest.mark.parametrize('backend', BACKENDS)
def test_tmd_empty_graphs(backend):
    e = _empty()
    assert tree_movers_distance(e, e, 3, backend=backend) == 0.0
    g = _graph(5, seed=1)
    # definition: every tree of g is matched to a blank tree; its cost is
    # b_1(v) = |x_v|, b_l(v) = |x_v| + w * sum_{u in N(v)} b_{l-1}(u)
    w, depth = 0.5, 3
    x = g.x.double()
    nrm = x.norm(dim=1)
    b = nrm.clone()
    for _ in range(depth - 1):
        nb = torch.zeros_like(b).index_add_(0, g.edge_index[1],
                                            b[g.edge_index[0]])
        b = nrm + w * nb
    expected = float(b.sum())
    assert tree_movers_distance(e, g, depth, w, backend=backend) == \
        pytest.approx(expected, rel=1e-12)
    assert tree_movers_distance(g, e, depth, w, backend=backend) == \
        pytest.approx(expected, rel=1e-12)
    D = tmd_pairwise([e, g, e], depth, w, backend=backend)
    assert D.shape == (3, 3)
    assert D[0, 2] == 0.0 and D[0, 1] == pytest.approx(expected, rel=1e-12)
    assert tmd_cross([e, e], [e], depth, backend=backend).tolist() == [[0.0],
                                                                      [0.0]]


@pytest.mark.parametrize('backend', BACKENDS)
def test_didm_empty_graphs_and_nonnegative(backend):
    e = _empty()
    assert didm_movers_distance(e, e, 2, backend=backend) == 0.0
    assert didm_pairwise([e, e], 2, backend=backend).tolist() == [[0, 0],
                                                                  [0, 0]]
    g = _graph(5, seed=2)
    with pytest.raises(ValueError, match='g2 has no nodes'):
        didm_movers_distance(g, e, 2, backend=backend)
    with pytest.raises(ValueError, match=r'graphs\[1\] has no nodes'):
        didm_pairwise([g, e], 2, backend=backend)
    with pytest.raises(ValueError, match=r'graphs_b\[0\] has no nodes'):
        didm_cross([g], [e], 2, backend=backend)
    h = _permuted(g, 0)
    for um in ('blank', 0.5):
        D = didm_pairwise([g, h, _graph(6, seed=3)], 2, unmatched=um,
                          backend=backend)
        assert (D >= 0).all() and np.all(np.diag(D) == 0.0)
        assert D[0, 1] <= 1e-12


# --- defect 12: DIDM with unmatched=c is a pseudometric ----------------------

def _two_level_graph(seed: int, far: float = 10.0) -> Data:
    """Small graph whose features are 0 or ``far``: equal roots with far
    apart neighbours, where an uncapped ground distance > 2c breaks the
    triangle inequality."""
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(2, 6, (1,), generator=g))
    A = (torch.rand(n, n, generator=g) < 0.5).triu(1)
    ei = A.nonzero().t()
    x = far * (torch.rand(n, 1, generator=g) < 0.3).double()
    return Data(x=x, edge_index=torch.cat([ei, ei.flip(0)], 1))


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('unmatched', [0.5, 1.0])
@pytest.mark.parametrize('depth', [1, 2])
def test_didm_triangle_inequality_with_constant_unmatched(backend, unmatched,
                                                          depth):
    graphs = [_two_level_graph(s) for s in range(12)]
    D = didm_pairwise(graphs, depth, unmatched=unmatched, backend=backend)
    scale = float(D.max())
    assert scale > 4 * unmatched  # feature distances far above 2c
    worst = max(D[i, k] - D[i, j] - D[j, k] for i, j, k in
                itertools.permutations(range(len(graphs)), 3))
    # was 2.0 (depth 1) and 4.76 (depth 2) for c = 0.5
    assert worst <= 1e-9 * scale
    assert (D >= 0).all() and np.allclose(D, D.T)


# --- defect 13: homophily ----------------------------------------------------

def _dense_aggregation_homophily(edge_index: torch.Tensor,
                                 y: torch.Tensor) -> float:
    """Luan et al.'s definition with dense matrices: binary A (row v =
    in-neighbours of v), self-loops replaced by I, row-normalised."""
    n = y.numel()
    A = torch.zeros(n, n, dtype=torch.float64)
    A[edge_index[1], edge_index[0]] = 1.0  # duplicates collapse
    A.fill_diagonal_(0.0)
    A = A + torch.eye(n, dtype=torch.float64)
    A = A / A.sum(1, keepdim=True)
    Z = torch.nn.functional.one_hot(y).double()
    S = (A @ Z) @ (A @ Z).t()
    good = 0
    for v in range(n):
        same = y == y[v]
        if (~same).sum() == 0:
            good += 1
            continue
        if S[v, same].mean() >= S[v, ~same].mean() - 1e-12:
            good += 1
    return good / n


def test_aggregation_homophily_ignores_duplicate_arcs():
    g = torch.Generator().manual_seed(5)
    n = 40
    ei = to_undirected(torch.randint(0, n, (2, 90), generator=g),
                       num_nodes=n)
    y = torch.randint(0, 3, (n,), generator=g)
    ref = _dense_aggregation_homophily(ei, y)
    assert aggregation_homophily(ei, y) == pytest.approx(ref, abs=1e-12)
    # symmetric graph + undirected=True used to double every arc
    assert aggregation_homophily(ei, y, undirected=True) == pytest.approx(
        ref, abs=1e-12)
    # some arcs stored twice (a multigraph listing)
    dup = torch.cat([ei, ei[:, ::3]], 1)
    assert aggregation_homophily(dup, y) == pytest.approx(ref, abs=1e-12)
    assert _dense_aggregation_homophily(dup, y) == ref


@pytest.mark.dataset
def test_aggregation_homophily_citeseer_undirected_flag(
        shared_root: Callable[..., Path]):
    from torch_geometric.datasets import Planetoid
    data = Planetoid(str(shared_root('planetoid') / 'planetoid'),
                     'CiteSeer')[0]
    a = aggregation_homophily(data.edge_index, data.y)
    # was 0.9675 with undirected=True (every arc counted twice) vs 0.9913
    assert aggregation_homophily(data.edge_index, data.y,
                                 undirected=True) == a


MEASURES: list[Callable[..., Any]] = [
    edge_homophily, node_homophily, class_insensitive_homophily,
    adjusted_homophily, label_informativeness,
    lambda ei, y, **kw: label_informativeness(ei, y, method='node', **kw),
    aggregation_homophily,
    lambda ei, y, **kw: compatibility_matrix(ei, y, **kw).flatten(),
]


@pytest.mark.parametrize('fn', MEASURES)
def test_undirected_flag_matches_to_undirected(fn):
    # each edge listed once, except (0, 1) which is listed both ways, plus a
    # self-loop: undirected=True must equal to_undirected (union of arcs)
    raw = torch.tensor([[0, 1, 1, 2, 3, 4, 5, 2, 6, 3],
                        [1, 0, 2, 3, 4, 5, 6, 6, 0, 3]])
    y = torch.tensor([0, 0, 1, 1, 2, 0, 1])
    sym = to_undirected(raw, num_nodes=7)
    a = torch.as_tensor(fn(raw, y, undirected=True), dtype=torch.float64)
    b = torch.as_tensor(fn(sym, y), dtype=torch.float64)
    c = torch.as_tensor(fn(sym, y, undirected=True), dtype=torch.float64)
    assert torch.allclose(a, b, atol=1e-12)
    assert torch.allclose(c, b, atol=1e-12)


def _slow_node_li(edge_index: torch.Tensor, y: torch.Tensor,
                  marginal: str = 'sampled') -> float:
    """LI_node by its sampling definition, with Python loops: a node with
    incoming arcs uniformly, then one of its incoming arcs uniformly;
    I(node label; neighbour label) with the neighbour's marginal replaced by
    the degree-weighted class distribution, over H(node label) (Platonov et
    al., as in the authors' code)."""
    n = y.numel()
    ys = y.tolist()
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for s, t in edge_index.t().tolist():
        nbrs[t].append(s)
    nodes = [v for v in range(n) if nbrs[v]]
    C = max(ys) + 1
    joint = [[0.0] * C for _ in range(C)]
    p = [0.0] * C
    for v in range(n) if marginal == 'all' else nodes:
        p[ys[v]] += 1 / (n if marginal == 'all' else len(nodes))
    for v in nodes:
        for u in nbrs[v]:
            joint[ys[v]][ys[u]] += 1 / (len(nodes) * len(nbrs[v]))
    pbar = [0.0] * C
    m = edge_index.size(1)
    for s in edge_index[0].tolist():
        pbar[ys[s]] += 1 / m
    num = sum(joint[a][b] * math.log(joint[a][b] / (p[a] * pbar[b]))
              for a in range(C) for b in range(C) if joint[a][b] > 0)
    den = sum(q * math.log(q) for q in p if q > 0)
    return -num / den


@pytest.mark.dataset
def test_label_informativeness_node_citeseer(shared_root):
    from torch_geometric.datasets import Planetoid
    data = Planetoid(str(shared_root('planetoid') / 'planetoid'),
                     'CiteSeer')[0]
    ei, y = data.edge_index, data.y
    # default: the class distribution of all nodes, as the reference
    # (DGL's torch node_label_informativeness)
    ref = label_informativeness(ei, y, method='node')
    assert ref == pytest.approx(_slow_node_li(ei, y, 'all'), abs=1e-9)
    assert ref == pytest.approx(0.445447, abs=1e-6)
    got = label_informativeness(ei, y, method='node', node_marginal='sampled')
    assert got == pytest.approx(_slow_node_li(ei, y), abs=1e-6)
    assert got == pytest.approx(0.445680, abs=1e-6)
    with pytest.raises(ValueError, match='node_marginal'):
        label_informativeness(ei, y, method='node', node_marginal='nope')
    # the sampled marginal: isolated nodes (48 in CiteSeer) cannot be
    # sampled and do not change it
    deg = torch.bincount(ei[1], minlength=data.num_nodes)
    keep = deg > 0
    assert int((~keep).sum()) == 48
    new = torch.full((data.num_nodes,), -1, dtype=torch.long)
    new[keep] = torch.arange(int(keep.sum()))
    assert label_informativeness(new[ei], y[keep], method='node',
                                 node_marginal='sampled') == \
        pytest.approx(got, abs=1e-12)


DIRECTED_MEASURES = MEASURES[1:]  # edge homophily ignores direction


@pytest.mark.parametrize('fn', DIRECTED_MEASURES)
def test_directed_graph_warns(fn):
    dag = torch.tensor([[0, 0, 1, 2, 3, 1], [1, 2, 2, 3, 4, 4]])
    y = torch.tensor([0, 1, 0, 1, 1])
    with pytest.warns(UserWarning, match='directed'):
        fn(dag, y)
    # symmetric graphs, undirected=True and a graph with one reciprocal
    # pair are not "clearly directed": no warning
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        fn(to_undirected(dag), y)
        fn(dag, y, undirected=True)
        fn(torch.cat([dag, torch.tensor([[1], [0]])], 1), y)


def test_directed_graph_warns_once_in_report():
    dag = torch.tensor([[0, 0, 1, 2, 3, 1], [1, 2, 2, 3, 4, 4]])
    y = torch.tensor([0, 1, 0, 1, 1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        homophily_report(dag, y)
    assert len([w for w in caught if 'directed' in str(w.message)]) == 1
    # edge homophily is the same either way: no warning
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert edge_homophily(dag, y) == edge_homophily(dag, y,
                                                        undirected=True)


# --- bad input for every public name ----------------------------------------

G = _graph(5, seed=0)
G3 = _graph(5, seed=1, d=3)
NAN = Data(x=G.x.clone(), edge_index=G.edge_index)
NAN.x[0, 0] = float('nan')
EI = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
Y = torch.tensor([0, 0, 1, 1])
D2 = np.array([[0.0, 1.0], [1.0, 0.0]])


def _g(**kw: Any) -> Data:
    return Data(**{'x': G.x, 'edge_index': G.edge_index, **kw})


# graph-distance functions: (callable taking two graphs and kwargs)
DIST = {
    'tree_movers_distance': lambda a, b, **kw: tree_movers_distance(a, b,
                                                                    **kw),
    'tmd_pairwise': lambda a, b, **kw: tmd_pairwise([a, b], **kw),
    'tmd_cross': lambda a, b, **kw: tmd_cross([a], [b], **kw),
    'didm_movers_distance': lambda a, b, **kw: didm_movers_distance(a, b,
                                                                    **kw),
    'rjl_distance': lambda a, b, **kw: M.rjl_distance(a, b, **kw),
    'didm_pairwise': lambda a, b, **kw: didm_pairwise([a, b], **kw),
    'didm_cross': lambda a, b, **kw: didm_cross([a], [b], **kw),
    'pairwise': lambda a, b, **kw: M.pairwise([a, b], **kw),
    'cross': lambda a, b, **kw: M.cross([a], [b], **kw),
}

GRAPH_CASES = [
    ('transposed', dict(b=_g(edge_index=G.edge_index.t().contiguous())),
     ValueError, r'edge_index.*\[2, num_edges\]'),
    ('float ids', dict(b=_g(edge_index=G.edge_index.float())), TypeError,
     'edge_index.*integer'),
    ('out of range', dict(b=_g(edge_index=torch.tensor([[0], [9]]))),
     ValueError, 'edge_index.*outside'),
    ('negative id', dict(b=_g(edge_index=torch.tensor([[0], [-1]]))),
     ValueError, 'edge_index.*outside'),
    ('nan x', dict(b=NAN), ValueError, 'NaN'),
    ('3-d x', dict(b=_g(x=torch.zeros(5, 2, 2))), ValueError, 'x must be 2-D'),
    ('string x', dict(b=_g(x=np.array([['a', 'b']] * 5))), TypeError,
     'x must be numeric'),
    ('feature dims', dict(b=G3), ValueError, 'feature'),
    ('no x', dict(b=Data(edge_index=G.edge_index, num_nodes=5)), ValueError,
     "'x'"),
    ('depth 0', dict(depth=0), ValueError, 'depth'),
    ('depth -1', dict(depth=-1), ValueError, 'depth'),
    ('depth float', dict(depth=2.0), ValueError, 'depth'),
    ('depth str', dict(depth='3'), ValueError, 'depth'),
    ('depth bool', dict(depth=True), ValueError, 'depth'),
    ('p < 1', dict(p=0.5), ValueError, 'p '),
    ('p str', dict(p='2'), TypeError, 'p '),
    ('backend', dict(backend='gpu'), ValueError, 'backend'),
    ('backend type', dict(backend=None), ValueError, 'backend'),
    ('flow', dict(flow='sideways'), ValueError, 'flow'),
]
TMD_CASES = [
    ('weights length', dict(depth=4, weights=[1.0, 1.0]), ValueError,
     'weights'),
    ('weights negative', dict(depth=3, weights=-1.0), ValueError, 'weights'),
    ('weights nan', dict(depth=3, weights=float('nan')), ValueError,
     'weights'),
    ('weights name', dict(weights='binomial'), ValueError, 'weights'),
    ('weights type', dict(weights=None), TypeError, 'weights'),
    ('weights strings', dict(depth=3, weights=['a', 'b']), TypeError,
     'weights'),
]
DIDM_CASES = [
    ('unmatched negative', dict(unmatched=-1.0), ValueError, 'unmatched'),
    ('unmatched name', dict(unmatched='dummy'), ValueError, 'unmatched'),
    ('unmatched type', dict(unmatched=None), TypeError, 'unmatched'),
    ('unmatched nan', dict(unmatched=float('nan')), ValueError, 'unmatched'),
    ('aggregation', dict(aggregation='max'), ValueError, 'aggregation'),
]
MATRIX_ONLY = [
    ('n_jobs 0', dict(n_jobs=0), ValueError, 'n_jobs'),
    ('n_jobs float', dict(n_jobs=1.5), TypeError, 'n_jobs'),
    ('progress_bar', dict(progress_bar='yes'), TypeError, 'progress_bar'),
]


def _dist_cases() -> list[Any]:
    out = []
    for name in DIST:
        didm = 'didm' in name or 'rjl' in name
        cases = GRAPH_CASES + (DIDM_CASES if didm else TMD_CASES)
        if name not in ('tree_movers_distance', 'didm_movers_distance',
                        'rjl_distance'):
            cases = cases + MATRIX_ONLY
        for case in cases:
            out.append(pytest.param(name, *case[1:],
                                    id=f'{name}-{case[0]}'))
    return out


@pytest.mark.parametrize('name,kw,exc,match', _dist_cases())
def test_distance_bad_input(name, kw, exc, match):
    kw = dict(kw)
    b = kw.pop('b', G)
    if name in ('pairwise', 'cross') and any(k in kw for k in (
            'unmatched', 'aggregation')):
        kw['metric'] = 'didm'
    if name in ('pairwise', 'cross') and 'depth' not in kw:
        kw['depth'] = 2
    with pytest.raises(exc, match=match):
        DIST[name](G, b, **kw)


@pytest.mark.parametrize('name', ['tmd_pairwise', 'didm_pairwise',
                                  'pairwise'])
def test_collection_type_errors(name):
    fn = getattr(M, name)
    with pytest.raises(TypeError, match='graphs must be a sequence'):
        fn(G)
    with pytest.raises(ValueError, match='graphs is empty'):
        fn([])


def test_pairwise_metric_name():
    for bad in ('nope', None, 3):
        with pytest.raises(ValueError, match='metric'):
            M.pairwise([G, G], bad)
        with pytest.raises(ValueError, match='metric'):
            M.cross([G], [G], bad)


def test_pascal_weights_bad_input():
    for bad, exc in ((0, ValueError), (-2, ValueError), (2.5, ValueError),
                     ('4', ValueError)):
        with pytest.raises(exc, match='depth'):
            M.pascal_weights(bad)


@pytest.mark.parametrize('fn', [exp_kernel, gaussian_kernel])
def test_kernel_bad_input(fn):
    with pytest.raises(ValueError, match='gamma'):
        fn(D2, 0.0)
    with pytest.raises(ValueError, match='gamma'):
        fn(D2, float('nan'))
    with pytest.raises(TypeError, match='gamma'):
        fn(D2, 'big')
    with pytest.raises(ValueError, match='D.*>= 0'):
        fn(-D2)
    with pytest.raises(ValueError, match='D.*NaN'):
        fn(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match='D must be'):
        fn(np.zeros(3))
    with pytest.raises(TypeError, match='D must be'):
        fn([['a', 'b']])
    # tiny negative float noise is the caller's to clamp; zeros are fine
    assert np.allclose(fn(np.zeros((2, 3))), 1.0)


def test_tmd_svm_cv_bad_input():
    D = np.abs(np.subtract.outer(np.arange(20.0), np.arange(20.0)))
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match='distances must be a square'):
        M.tmd_svm_cv(D[:5], y)
    with pytest.raises(ValueError, match='distances.*>= 0'):
        M.tmd_svm_cv(-D, y)
    with pytest.raises(ValueError, match='labels'):
        M.tmd_svm_cv(D, y[:5])
    with pytest.raises(ValueError, match='n_splits'):
        M.tmd_svm_cv(D, y, n_splits=1)
    with pytest.raises(TypeError, match='n_splits'):
        M.tmd_svm_cv(D, y, n_splits=2.5)
    with pytest.raises(ValueError, match='gammas'):
        M.tmd_svm_cv(D, y, gammas=(0.1, -1.0))
    with pytest.raises(ValueError, match='Cs'):
        M.tmd_svm_cv(D, y, Cs=(0.0,))
    with pytest.raises(TypeError, match='seeds'):
        M.tmd_svm_cv(D, y, seeds=('a',))


def test_stable_gin_and_stability_study_bad_input():
    for kw, exc, match in (
            (dict(in_channels=0), ValueError, 'in_channels'),
            (dict(hidden_channels=2.0), TypeError, 'hidden_channels'),
            (dict(out_channels=-1), ValueError, 'out_channels'),
            (dict(num_layers=0), ValueError, 'num_layers')):
        args = dict(in_channels=2, hidden_channels=4, out_channels=2,
                    num_layers=2)
        args.update(kw)
        with pytest.raises(exc, match=match):
            M.StableGIN(**args)
    data = [_graph(5, seed=s) for s in range(3)]
    for kw, exc, match in (
            (dict(num_layers=0), ValueError, 'num_layers'),
            (dict(num_pairs=0), ValueError, 'num_pairs'),
            (dict(epochs=-1), ValueError, 'epochs'),
            (dict(hidden_channels='8'), TypeError, 'hidden_channels'),
            (dict(model='gin'), TypeError, 'model'),
            (dict(backend='gpu'), ValueError, 'backend')):
        with pytest.raises(exc, match=match):
            M.stability_study(data, train=False, **kw)
    with pytest.raises(ValueError, match='at least 2 graphs'):
        M.stability_study(data[:1], train=False)
    with pytest.raises(TypeError, match='dataset'):
        M.stability_study(data[0], train=False)


HOMOPHILY = {
    'edge_homophily': edge_homophily,
    'node_homophily': node_homophily,
    'class_insensitive_homophily': class_insensitive_homophily,
    'adjusted_homophily': adjusted_homophily,
    'label_informativeness': label_informativeness,
    'aggregation_homophily': aggregation_homophily,
    'compatibility_matrix': compatibility_matrix,
    'homophily_report': homophily_report,
}
HOMOPHILY_CASES = [
    ('transposed', dict(edge_index=EI.t()), ValueError, 'edge_index'),
    ('1-d', dict(edge_index=EI[0]), ValueError, 'edge_index'),
    ('float ids', dict(edge_index=EI.float()), TypeError,
     'edge_index.*integer'),
    ('bool ids', dict(edge_index=EI > 0), TypeError, 'edge_index.*integer'),
    ('out of range', dict(edge_index=EI + 1), ValueError, 'edge_index'),
    ('negative id', dict(edge_index=EI - 1), ValueError, 'edge_index'),
    ('short y', dict(y=Y[:3]), ValueError, 'wrong length'),
    ('negative y', dict(y=torch.tensor([0, -1, 1, 1])), ValueError, 'y'),
    ('nan y', dict(y=torch.tensor([0.0, float('nan'), 1.0, 1.0])),
     ValueError, 'y .*integer'),
    ('3-d y', dict(y=torch.zeros(4, 1, 1, dtype=torch.long)), ValueError,
     'y '),
    ('string y', dict(y='abcd'), TypeError, 'y '),
    ('num_nodes', dict(num_nodes=5), ValueError, 'num_nodes'),
    ('num_nodes type', dict(num_nodes=4.0), TypeError, 'num_nodes'),
    ('undirected type', dict(undirected='yes'), TypeError, 'undirected'),
]


def _homophily_cases() -> list[Any]:
    out = []
    for name in HOMOPHILY:
        cases = list(HOMOPHILY_CASES)
        if name in ('class_insensitive_homophily', 'adjusted_homophily',
                    'label_informativeness', 'aggregation_homophily',
                    'compatibility_matrix'):
            cases += [('num_classes', dict(num_classes=1), ValueError,
                       'num_classes'),
                      ('num_classes type', dict(num_classes='3'), TypeError,
                       'num_classes')]
        if name in ('class_insensitive_homophily', 'adjusted_homophily',
                    'label_informativeness'):
            cases.append(('single_class', dict(single_class='zero'),
                          ValueError, 'single_class'))
        if name not in ('aggregation_homophily', 'compatibility_matrix'):
            cases.append(('no edges',
                          dict(edge_index=torch.zeros(2, 0,
                                                      dtype=torch.long)),
                          ValueError, 'no edges'))
        for case in cases:
            out.append(pytest.param(name, *case[1:],
                                    id=f'{name}-{case[0]}'))
    return out


@pytest.mark.parametrize('name,kw,exc,match', _homophily_cases())
def test_homophily_bad_input(name, kw, exc, match):
    kw = dict(kw)
    ei = kw.pop('edge_index', EI)
    y = kw.pop('y', Y)
    with pytest.raises(exc, match=match) as info:
        HOMOPHILY[name](ei, y, **kw)
    assert isinstance(info.value, HomophilyError)


def test_homophily_method_and_flags():
    with pytest.raises(HomophilyError, match='method'):
        label_informativeness(EI, Y, method='graph')
    with pytest.raises(HomophilyError, match='method'):
        label_informativeness(EI, Y, method=None)
    with pytest.raises(TypeError, match='normalize'):
        compatibility_matrix(EI, Y, normalize='yes')
    # empty graphs: the measures that allow no edges give their documented
    # values, the others raise (above)
    none = torch.zeros(2, 0, dtype=torch.long)
    assert aggregation_homophily(none, Y) == 1.0  # A = I: own class only
    assert compatibility_matrix(none, Y).abs().sum() == 0
    assert issubclass(HomophilyError, ValueError)


def test_plot_compatibility_matrix_bad_input():
    pytest.importorskip('matplotlib')
    with pytest.raises(ValueError, match='matrix must be square'):
        M.plot_compatibility_matrix(torch.zeros(2, 3))
    with pytest.raises(ValueError, match='NaN'):
        M.plot_compatibility_matrix(torch.full((2, 2), float('nan')))
    with pytest.raises(TypeError, match='matrix'):
        M.plot_compatibility_matrix('abc')


# --- issue #16 bad-input audit: metrics findings ----------------------------

def _scores(n: int) -> torch.Tensor:
    """Class probabilities (rows sum to 1, not one-hot)."""
    return torch.softmax(torch.randn(n, 2, generator=torch.Generator()
                                     .manual_seed(0)), dim=1)


@pytest.mark.parametrize('name', list(HOMOPHILY))
@pytest.mark.parametrize('y', [
    pytest.param(_scores(4), id='probabilities'),
    pytest.param(torch.tensor([[1, 0], [0, 0], [0, 1], [0, 1]]),
                 id='zero-row'),
    pytest.param(torch.tensor([[1, 1], [1, 0], [0, 1], [0, 1]]),
                 id='two-ones'),
])
def test_homophily_refuses_non_one_hot_2d_y(name, y):
    # the argmax of scores used to be taken silently as the labels
    with pytest.raises(HomophilyError, match=r'y \(labels\).*one-hot'):
        HOMOPHILY[name](EI, y)


@pytest.mark.parametrize('name', list(HOMOPHILY))
def test_homophily_one_hot_y_equals_integer_y(name):
    one_hot = torch.nn.functional.one_hot(Y, 2)
    a, b = HOMOPHILY[name](EI, one_hot), HOMOPHILY[name](EI, Y)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        assert all(math.isclose(a[k], b[k]) or (math.isnan(a[k])
                                                and math.isnan(b[k]))
                   for k in a)
    elif torch.is_tensor(a):
        assert torch.equal(a, b)
    else:
        assert math.isclose(a, b)


def test_aggregation_homophily_empty_graph():
    empty = torch.zeros(2, 0, dtype=torch.long)
    with pytest.raises(HomophilyError, match='empty graph'):
        aggregation_homophily(empty, Y[:0])


@pytest.mark.parametrize('kw,exc,match', [
    pytest.param(dict(class_names=['a']), ValueError, 'class_names',
                 id='class_names-short'),
    pytest.param(dict(class_names=['a', 'b', 'c']), ValueError,
                 'class_names', id='class_names-long'),
    pytest.param(dict(class_names=3), TypeError, 'class_names',
                 id='class_names-int'),
    pytest.param(dict(ax='a'), TypeError, r'\bax\b', id='ax-str'),
    pytest.param(dict(matrix=torch.zeros(0, 0)), ValueError,
                 'matrix is empty', id='empty-matrix'),
])
def test_plot_compatibility_matrix_named_errors(kw, exc, match):
    pytest.importorskip('matplotlib')
    import matplotlib
    matplotlib.use('Agg')
    kw = dict(kw)
    m = kw.pop('matrix', torch.eye(2))
    with pytest.raises(exc, match=match):
        M.plot_compatibility_matrix(m, **kw)


def test_plot_compatibility_matrix_names_and_ax_still_work():
    plt = pytest.importorskip('matplotlib.pyplot')
    fig, ax = plt.subplots()
    out_fig, out_ax = M.plot_compatibility_matrix(
        torch.eye(2), class_names=['cat', 'dog'], ax=ax)
    assert out_ax is ax and out_fig is fig
    assert [t.get_text() for t in ax.get_xticklabels()] == ['cat', 'dog']
    plt.close(fig)


@pytest.mark.parametrize('args,exc,match', [
    pytest.param((torch.randn(4, 5), EI), ValueError, r'\bx\b.*in_channels',
                 id='x-width'),
    pytest.param(([[0.0] * 3] * 4, EI), TypeError, r'\bx\b', id='x-list'),
    pytest.param((torch.randn(4, 3), EI, torch.zeros(3, dtype=torch.long)),
                 ValueError, 'batch', id='batch-length'),
    pytest.param((torch.randn(4, 3), EI, torch.zeros(4)), TypeError,
                 'batch', id='batch-float'),
    pytest.param((torch.randn(4, 3), EI,
                  torch.tensor([0, -1, 0, 0])), ValueError, 'batch',
                 id='batch-negative'),
    pytest.param((torch.randn(4, 3), EI - 1), ValueError, 'edge_index',
                 id='edge_index-negative'),
    pytest.param((torch.randn(4, 3), EI * 0 + 4), ValueError, 'edge_index',
                 id='edge_index-eq-n'),
    pytest.param((torch.randn(4, 3), EI * 0 + 100000), ValueError,
                 'edge_index', id='edge_index-100000'),
])
def test_stable_gin_forward_named_errors(args, exc, match):
    with pytest.raises(exc, match=match):
        M.StableGIN(3, 8, 2)(*args)


def test_stable_gin_forward_valid_batch():
    torch.manual_seed(0)
    model = M.StableGIN(3, 8, 2)
    x = torch.randn(4, 3)
    out = model(x, EI, torch.tensor([0, 0, 1, 1]))
    assert out.shape == (2, 2)
    # sum pooling: one batch of two disconnected halves vs the halves alone
    ei = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]])
    both = model(x, ei, torch.tensor([0, 0, 1, 1]))
    first = model(x[:2], ei[:, :2])
    torch.testing.assert_close(both[0], first[0])


def _labelled(seed: int) -> Data:
    g = _graph(5, seed=seed, d=2)
    g.y = torch.tensor([seed % 2])
    return g


@pytest.mark.parametrize('make,kw,match', [
    pytest.param(lambda gs: gs, dict(model=M.StableGIN(5, 8, 2)),
                 'in_channels', id='model-in_channels'),
    pytest.param(lambda gs: [Data(x=g.x, edge_index=g.edge_index)
                             for g in gs], {}, r'\by\b', id='no-y'),
    pytest.param(lambda gs: [Data(x=torch.full_like(gs[0].x, float('nan')),
                                  edge_index=gs[0].edge_index, y=gs[0].y)]
                 + gs[1:], {}, r'\bx\b.*NaN', id='nan-x'),
    pytest.param(lambda gs: [Data(edge_index=g.edge_index, y=g.y,
                                  num_nodes=5) for g in gs], {}, r'\bx\b',
                 id='no-x'),
    pytest.param(lambda gs: gs[:1] + [_graph(5, seed=9, d=3)], {},
                 r'\.x has 3 features', id='mixed-widths'),
])
def test_stability_study_named_graph_errors(make, kw, match):
    # 4 graphs, one pair: graph 0 is not in the sampled pair, so its NaN x
    # used to reach only training (an svd _LinAlgError), not the TMD check
    graphs = make([_labelled(s) for s in range(4)])
    with pytest.raises(ValueError, match=match):
        M.stability_study(graphs, epochs=1, num_pairs=1, num_layers=2,
                          hidden_channels=4, **kw)


def test_pascal_weights_deep_is_fast_and_exact():
    import time
    for depth in range(1, 60):
        n = depth - 1
        ref = [math.comb(n, k - 1) / math.comb(n, k) for k in range(1, n + 1)]
        assert M.pascal_weights(depth) == ref
    t0 = time.perf_counter()
    w = M.pascal_weights(10 ** 6)  # used to hang (huge binomials)
    assert time.perf_counter() - t0 < 10
    assert len(w) == 10 ** 6 - 1 and w[-1] == 10 ** 6 - 1
    with pytest.raises(ValueError, match='depth'):
        M.pascal_weights(10 ** 12)


@pytest.mark.parametrize('weights', [[], [1.0], [1.0, 2.0, 3.0]])
def test_tmd_weight_list_of_the_wrong_length(weights):
    # depth 3 needs depth - 1 = 2 weights
    with pytest.raises(ValueError, match='weights has'):
        tree_movers_distance(G, _graph(5, seed=1), 3, weights)
    # the right length is accepted (the audit's depth-2 '[1.0]' trial was
    # such a valid input, not a short list)
    assert tree_movers_distance(G, _graph(5, seed=1), 2, [1.0]) >= 0


COVERED = set(DIST) | set(HOMOPHILY) | {
    'HomophilyError', 'pascal_weights', 'exp_kernel', 'gaussian_kernel',
    'tmd_svm_cv', 'StableGIN', 'stability_study', 'plot_compatibility_matrix'}


def test_every_public_name_has_bad_input_tests():
    assert set(M.__all__) == COVERED


# --- 2026-12-03 audit --------------------------------------------------------

def _labelled_graph(n: int, y: int, seed: int) -> Data:
    g = torch.Generator().manual_seed(seed)
    ei = (torch.randint(0, n, (2, 2 * n), generator=g) if n
          else torch.zeros(2, 0, dtype=torch.long))
    return Data(x=torch.randn(n, 3, generator=g), edge_index=ei,
                y=torch.tensor([y]))


def test_stable_gin_empty_graph_and_dtype():
    from pyg_ext.metrics import StableGIN
    m = StableGIN(3, 4, 2)
    out = m(torch.zeros(0, 3), torch.zeros(2, 0, dtype=torch.long))
    # one graph, one row: sum pooling over no nodes is zero
    assert out.shape == (1, 2) and torch.equal(out, torch.zeros(1, 2))
    g = _labelled_graph(5, 0, 0)
    with pytest.raises(TypeError, match=r'x has dtype torch\.float64'):
        m(g.x.double(), g.edge_index)
    assert torch.allclose(m.double()(g.x.double(), g.edge_index),
                          m.float()(g.x, g.edge_index).double(), atol=1e-5)


def test_stability_study_small_and_unlabelled_inputs():
    from pyg_ext.metrics import stability_study
    ds = [_labelled_graph(5, i % 2, i) for i in range(6)]
    # a single pair has no correlation: nan, not a scipy error
    for r in (stability_study(ds[:2], epochs=1, num_layers=1),
              stability_study(ds, num_pairs=1, epochs=1, num_layers=1)):
        assert r['num_pairs'] == 1
        assert math.isnan(r['pearson']) and math.isnan(r['spearman'])
        assert r['proven_bound_holds']
    # an empty graph is a valid graph (TMD handles it; the GIN gives 0)
    r = stability_study(ds + [_labelled_graph(0, 1, 9)], epochs=1, num_layers=1,
                        num_pairs=30)
    assert r['num_pairs'] == 21 and r['proven_bound_holds']
    # labels only size an untrained model's head: a missing y is fine
    unl = _labelled_graph(4, 0, 7)
    unl.y = None
    r = stability_study([ds[0], unl, ds[1]], train=False, num_layers=1)
    assert r['num_pairs'] == 3 and r['proven_bound_holds']


def test_homophily_label_edge_cases():
    ei = torch.tensor([[0], [1]])
    for f in (edge_homophily, node_homophily, class_insensitive_homophily,
              adjusted_homophily, label_informativeness,
              aggregation_homophily, compatibility_matrix, homophily_report):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            with pytest.raises(HomophilyError, match='no class columns'):
                f(ei, torch.zeros(2, 0))
    # raw ids far above the class count: a clear error instead of
    # allocating a 10^6 x 10^6 table
    huge = torch.tensor([0, 10 ** 6])
    for f in (class_insensitive_homophily, label_informativeness,
              aggregation_homophily, compatibility_matrix, homophily_report):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            with pytest.raises(HomophilyError, match='relabel'):
                f(ei, huge)
    # measures without a class table still work on them
    assert edge_homophily(ei, huge) == 0.0


def test_tmd_svm_cv_grid_scalars_and_matrix_checks():
    pytest.importorskip('sklearn')
    from pyg_ext.metrics import tmd_svm_cv
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(int)
    D = np.linalg.norm(X[:, None] - X[None], axis=-1)
    a = tmd_svm_cv(D, y, gammas=0.1, Cs=1.0, seeds=2, n_splits=3,
                   inner_splits=2)
    b = tmd_svm_cv(D, y, gammas=[0.1], Cs=[1.0], seeds=[2], n_splits=3,
                   inner_splits=2)
    assert a['mean'] == b['mean']
    with pytest.raises(TypeError, match='seeds'):
        tmd_svm_cv(D, y, seeds='0')
    bad = D.copy()
    bad[0, 1] += 1.0
    with pytest.raises(ValueError, match='symmetric'):
        tmd_svm_cv(bad, y)
    bad = D + np.eye(len(D))
    with pytest.raises(ValueError, match='diagonal'):
        tmd_svm_cv(bad, y)
