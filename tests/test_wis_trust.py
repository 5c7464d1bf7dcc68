"""Walk Index Sparsification: no silent wrong answers (issue #16).

* walk counts beyond int64 are refused, never wrapped (defect 7);
* the transforms keep every edge-level attribute aligned, leave node-level
  ones alone and refuse what they cannot tell apart when a graph has as many
  nodes as edges (defect 14);
* every public function and transform refuses bad input with an error naming
  the argument.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch_geometric.data import Data, HeteroData

from pyg_ext.transforms.sparsification import (
    EffectiveResistanceSparsification,
    RandomEdgeSparsification,
    WalkIndexSparsification,
)
from pyg_ext.utils._sparsify_baselines import (
    effective_resistance,
    effective_resistance_order,
    random_edge_order,
)
from pyg_ext.utils.walk_index import (
    walk_index,
    walk_index_scores,
    walk_index_sparsify,
)


def _complete(n: int) -> torch.Tensor:
    pairs = torch.combinations(torch.arange(n)).t()
    return torch.cat([pairs, pairs.flip(0)], 1)


def _dense_scores(edge_index: torch.Tensor, n: int, L: int) -> list[int]:
    """Singleton walk indices from the definition with Python integers:
    length-(L-1) walks in A + I from the boundary of ({t}, V - {t}) to t."""
    hat = [[1 if i == j else 0 for j in range(n)] for i in range(n)]
    for s, d in edge_index.t().tolist():
        hat[s][d] = 1
    out = []
    for t in range(n):
        x = [0] * n  # boundary: vertices with an in-edge across the cut
        for s, d in edge_index.t().tolist():
            if s != d and (s == t) != (d == t):
                x[d] = 1
        for _ in range(L - 1):
            x = [sum(x[i] * hat[i][j] for i in range(n)) for j in range(n)]
        out.append(x[t])
    return out


# --------------------------------------------------------------------------
# defect 7: int64 overflow of walk_index_scores
# --------------------------------------------------------------------------
def test_scores_overflow_is_refused() -> None:
    """K200 with 10 layers: counts of 200**9 ~ 5e20 walks, beyond int64.
    (The old code returned -4.5e18.)"""
    ei = _complete(200)
    with pytest.raises(ValueError, match=r'num_layers=10.*int64'):
        walk_index_scores(ei, num_layers=10)


def test_scores_exact_near_the_limit() -> None:
    """K200 with 9 layers: 200**8 = 2.56e18 walks, just inside int64 (the
    cheap degree bound says it might overflow, the exact count fits)."""
    ei = _complete(200)
    got = walk_index_scores(ei, num_layers=9)
    assert got.dtype == torch.int64
    assert got.tolist() == [200**8] * 200
    assert walk_index(ei, [0], 9, target=0) == 200**8


@pytest.mark.parametrize('num_layers', [1, 2, 3, 4, 6])
def test_scores_match_definition(num_layers: int) -> None:
    g = torch.Generator().manual_seed(num_layers)
    n = 9
    ei = torch.randint(0, n - 1, (2, 20), generator=g)  # vertex 8 isolated
    ei = torch.cat([ei, torch.tensor([[3, 3], [3, 3]])], 1)  # loops, dups
    got = walk_index_scores(ei, num_layers, num_nodes=n).tolist()
    assert got == _dense_scores(ei, n, num_layers)
    assert got[8] == 0


# --------------------------------------------------------------------------
# defect 14: attribute alignment when num_nodes == num_edges
# --------------------------------------------------------------------------
def _square_graph() -> Data:
    """8 nodes, 8 edge columns (4 undirected edges, 2 isolated nodes)."""
    und = torch.tensor([[0, 1, 2, 4], [1, 2, 3, 5]])
    ei = torch.cat([und, und.flip(0)], 1)
    code = ei[0] * 10 + ei[1]  # identifies each column
    n = 8
    return Data(x=torch.arange(n * 3).float().view(n, 3), edge_index=ei,
                edge_attr=torch.stack([code, -code], 1).float(),
                bond=code.clone(), y=torch.arange(n),
                train_mask=torch.arange(n) % 2 == 0, num_nodes=n)


TRANSFORMS = [
    lambda **kw: WalkIndexSparsification(num_remove=2, **kw),
    lambda **kw: WalkIndexSparsification(num_remove=2, num_layers=3, **kw),
    lambda **kw: RandomEdgeSparsification(num_remove=2, seed=0, **kw),
    lambda **kw: EffectiveResistanceSparsification(num_remove=2, seed=0,
                                                   **kw),
]
IDS = ['1-wis', '2-wis', 'random', 'spectral']


@pytest.mark.parametrize('make', TRANSFORMS, ids=IDS)
def test_ambiguous_attribute_is_refused(make) -> None:  # noqa: ANN001
    """``bond`` has num_nodes == num_edges entries and no 'edge' in its name:
    PyG takes it for a node attribute and the old transforms left it
    unsliced (misaligned with edge_index)."""
    data = _square_graph()
    assert data.num_nodes == data.num_edges
    with pytest.raises(ValueError, match="'bond'.*edge_attrs"):
        make()(data)


@pytest.mark.parametrize('make', TRANSFORMS, ids=IDS)
def test_declared_edge_attribute_is_sliced(make) -> None:  # noqa: ANN001
    data = _square_graph()
    out = make(edge_attrs=['bond'])(data)
    code = out.edge_index[0] * 10 + out.edge_index[1]
    assert out.edge_index.size(1) == 4
    assert torch.equal(out.bond, code)
    assert torch.equal(out.edge_attr, torch.stack([code, -code], 1).float())
    for key in ('x', 'y', 'train_mask'):  # node-level: untouched
        assert torch.equal(out[key], data[key])
    assert out.num_nodes == 8
    assert data.edge_index.size(1) == 8 and data.bond.numel() == 8


@pytest.mark.parametrize('make', TRANSFORMS, ids=IDS)
def test_declared_node_attribute_is_kept(make) -> None:  # noqa: ANN001
    data = _square_graph()
    out = make(node_attrs=['bond'])(data)
    assert torch.equal(out.bond, data.bond)
    code = out.edge_index[0] * 10 + out.edge_index[1]
    assert torch.equal(out.edge_attr[:, 0].long(), code)


def test_hetero_edge_store_same_sizes() -> None:
    data = HeteroData()
    base = _square_graph()
    data['a'].x = base.x
    data['a', 'to', 'a'].edge_index = base.edge_index
    data['a', 'to', 'a'].w = base.bond
    data['a', 'to', 'a'].edge_attr = base.edge_attr
    with pytest.raises(ValueError, match="'w'"):
        WalkIndexSparsification(num_remove=2)(data)
    out = WalkIndexSparsification(num_remove=2, edge_attrs=['w'])(data)
    st = out['a', 'to', 'a']
    code = st.edge_index[0] * 10 + st.edge_index[1]
    assert st.edge_index.size(1) == 4 and torch.equal(st.w, code)
    assert torch.equal(st.edge_attr[:, 0].long(), code)
    assert torch.equal(out['a'].x, base.x)
    assert data['a', 'to', 'a'].edge_index.size(1) == 8  # input untouched


def test_inferred_num_nodes_survives() -> None:
    """A graph without node attributes keeps its size even when the
    highest vertex loses all its edges."""
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    data = Data(edge_index=ei, edge_weight=torch.arange(6.0))
    with pytest.warns(UserWarning):  # PyG: num_nodes inferred
        n = data.num_nodes
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the same PyG warning
        out = RandomEdgeSparsification(ratio=1.0)(data)
    assert out.edge_index.size(1) == 0 and out.edge_weight.numel() == 0
    assert out.num_nodes == n == 4


def test_size_decides_when_sizes_differ() -> None:
    """With num_nodes != num_edges an attribute of num_edges entries is
    edge-level whatever its name, as in PyG."""
    data = _square_graph()
    data.x = torch.zeros(9, 2)  # 9 nodes, 8 edges
    data.num_nodes = 9
    out = WalkIndexSparsification(num_remove=2)(data)
    code = out.edge_index[0] * 10 + out.edge_index[1]
    assert torch.equal(out.bond, code)
    assert out.x.shape == (9, 2)


def test_declared_edge_attribute_of_wrong_size() -> None:
    data = _square_graph()
    with pytest.raises(ValueError, match="edge_attrs names 'x'"):
        WalkIndexSparsification(num_remove=1, edge_attrs=['x'],
                                node_attrs=['bond'])(
            Data(x=torch.zeros(9, 1), edge_index=data.edge_index,
                 num_nodes=9))


@pytest.mark.parametrize('make', TRANSFORMS, ids=IDS)
@pytest.mark.parametrize('key,value', [
    ('edge_attr', torch.zeros(5, 2)),
    ('edge_weight', torch.ones(7)),
    ('edge_type', torch.zeros(3, dtype=torch.long)),
], ids=['edge_attr', 'edge_weight', 'edge_type'])
def test_misaligned_edge_attribute_is_refused(make, key: str,  # noqa: ANN001
                                              value: torch.Tensor) -> None:
    """A usual edge attribute whose length is not the number of edges used
    to pass through unsliced while edge_index shrank (a silent mismatch)."""
    data = Data(x=torch.zeros(4, 1), edge_index=EI, num_nodes=4)
    data[key] = value
    # (the spectral sparsifier reads edge_weight itself and says so first)
    with pytest.raises(ValueError, match=f"{key}'? has {len(value)} entries "
                       '(but edge_index has 6 edges|for 6 edges)'):
        make()(data)
    data[key] = value.new_ones((6,) + tuple(value.shape[1:]))
    out = make()(data)  # the right length is sliced with the edges
    assert out[key].size(0) == out.edge_index.size(1) < 6


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------
EI = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
BAD_EDGE_INDEX = [
    (EI.t().contiguous(), ValueError, r'edge_index must have shape'),
    (EI[0], ValueError, r'edge_index must be|edge_index must have shape'),
    (EI.float(), TypeError, 'edge_index must have an integer dtype'),
    (EI.bool(), TypeError, 'edge_index must have an integer dtype'),
    (EI.numpy().astype(np.float32), TypeError, 'edge_index'),
    (EI.tolist(), TypeError, 'edge_index must be a torch.Tensor'),
    (EI - 1, ValueError, 'edge_index holds negative'),
]
FUNCTIONS = {
    'walk_index': lambda ei, **kw: walk_index(ei, [0], 2, **kw),
    'walk_index_scores': lambda ei, **kw: walk_index_scores(ei, 2, **kw),
    'walk_index_sparsify': lambda ei, **kw: walk_index_sparsify(ei, **kw),
    'walk_index_sparsify_general': lambda ei, **kw: walk_index_sparsify(
        ei, num_layers=3, **kw),
    'random_edge_order': lambda ei, **kw: random_edge_order(ei, **kw),
    'effective_resistance': lambda ei, **kw: effective_resistance(ei, **kw),
    'effective_resistance_order': lambda ei, **kw:
        effective_resistance_order(ei, **kw),
}


@pytest.mark.parametrize('fn', FUNCTIONS.values(), ids=FUNCTIONS.keys())
@pytest.mark.parametrize('ei,exc,match', BAD_EDGE_INDEX,
                         ids=['transposed', '1d', 'float', 'bool',
                              'numpy-float', 'list', 'negative'])
def test_bad_edge_index(fn, ei, exc, match) -> None:  # noqa: ANN001
    with pytest.raises(exc, match=match):
        fn(ei)


@pytest.mark.parametrize('fn', FUNCTIONS.values(), ids=FUNCTIONS.keys())
@pytest.mark.parametrize('num_nodes,exc,match', [
    (3, ValueError, 'num_nodes=3'),
    (-1, ValueError, 'num_nodes must be >= 0'),
    (4.0, TypeError, 'num_nodes must be an int'),
    ('4', TypeError, 'num_nodes must be an int'),
])
def test_bad_num_nodes(fn, num_nodes, exc, match) -> None:  # noqa: ANN001
    with pytest.raises(exc, match=match):
        fn(EI, num_nodes=num_nodes)


BUDGETED = {
    'walk_index_sparsify': walk_index_sparsify,
    'walk_index_sparsify_general': lambda ei, **kw: walk_index_sparsify(
        ei, num_layers=3, **kw),
    'random_edge_order': random_edge_order,
    'effective_resistance_order': effective_resistance_order,
    'keep_mask_for': lambda ei, **kw: walk_index_sparsify(ei).keep_mask_for(
        **kw),
}


@pytest.mark.parametrize('fn', BUDGETED.values(), ids=BUDGETED.keys())
@pytest.mark.parametrize('kw,exc,match', [
    ({'ratio': 1.5}, ValueError, r'ratio must lie in \[0, 1\]'),
    ({'ratio': -0.1}, ValueError, r'ratio must lie in \[0, 1\]'),
    ({'ratio': math.nan}, ValueError, 'ratio must be finite'),
    ({'ratio': '0.5'}, TypeError, 'ratio must be a real'),
    ({'num_remove': -1}, ValueError, 'num_remove must be >= 0'),
    ({'num_remove': 4}, ValueError, 'cannot remove 4 edges'),
    ({'num_remove': 1.0}, TypeError, 'num_remove must be an int'),
    ({'num_remove': 1, 'ratio': 0.5}, ValueError, 'num_remove or ratio'),
], ids=['ratio>1', 'ratio<0', 'ratio-nan', 'ratio-str', 'remove<0',
        'remove>E', 'remove-float', 'both'])
def test_bad_budget(fn, kw, exc, match) -> None:  # noqa: ANN001
    with pytest.raises(exc, match=match):
        fn(EI, **kw)


@pytest.mark.parametrize('fn,kw,exc,match', [
    (walk_index_sparsify, {'num_layers': 0}, ValueError,
     'num_layers must be >= 1'),
    (walk_index_sparsify, {'num_layers': 2.5}, TypeError,
     'num_layers must be an int'),
    (walk_index_scores, {'num_layers': 0}, ValueError,
     'num_layers must be >= 1'),
    (walk_index_scores, {'num_layers': '3'}, TypeError,
     'num_layers must be an int'),
    (walk_index, {'partition': [0], 'num_layers': -2}, ValueError,
     'num_layers must be >= 1'),
    (walk_index_sparsify, {'algorithm': 'fast'}, ValueError,
     'algorithm must be one of'),
    (walk_index_sparsify, {'backend': 'gpu'}, ValueError,
     'backend must be one of'),
    (walk_index_sparsify, {'num_layers': 3, 'chunk_size': 0}, ValueError,
     'chunk_size must be >= 1'),
    (walk_index_sparsify, {'num_layers': 3, 'chunk_size': 1.5}, TypeError,
     'chunk_size must be an int'),
    (walk_index_sparsify, {'undirected': 'yes'}, TypeError,
     'undirected must be a bool'),
    (walk_index_sparsify, {'num_layers': 3, 'algorithm': '1-wis'},
     ValueError, 'num_layers'),
    (walk_index, {'partition': [7], 'num_layers': 2}, ValueError,
     'partition holds vertex ids outside'),
    (walk_index, {'partition': [0.5], 'num_layers': 2}, TypeError,
     'partition must be'),
    (walk_index, {'partition': torch.ones(3, dtype=torch.bool),
                  'num_layers': 2}, ValueError, 'partition: a boolean mask'),
    (walk_index, {'partition': [0], 'num_layers': 2, 'target': 4},
     ValueError, 'target must be <= 3'),
    (walk_index, {'partition': [0], 'num_layers': 2, 'target': 1.0},
     TypeError, 'target must be an int'),
    (random_edge_order, {'seed': 1.5}, TypeError, 'seed must be an int'),
    (random_edge_order, {'undirected': 1}, TypeError, 'undirected'),
    (effective_resistance, {'method': 'fast'}, ValueError,
     'method must be one of'),
    (effective_resistance, {'method': 'approx', 'jl_dim': 0}, ValueError,
     'jl_dim must be >= 1'),
    (effective_resistance, {'method': 'approx', 'tol': -1.0}, ValueError,
     'tol must be > 0'),
    (effective_resistance, {'seed': '0'}, TypeError, 'seed must be an int'),
    (effective_resistance_order, {'method': 'fast'}, ValueError,
     'unknown method'),
    (effective_resistance_order, {'sample': 'no'}, TypeError,
     'sample must be a bool'),
    (effective_resistance_order, {'jl_dim': 2.0}, TypeError,
     'jl_dim must be an int'),
])
def test_bad_settings(fn, kw, exc, match) -> None:  # noqa: ANN001
    with pytest.raises(exc, match=match):
        fn(EI, **kw)


def test_directed_graph_refused_where_undirected_needed() -> None:
    directed = torch.tensor([[0, 1, 2], [1, 2, 3]])
    with pytest.raises(ValueError, match='passed as undirected'):
        effective_resistance(directed)
    with pytest.raises(ValueError, match='needs an undirected graph'):
        walk_index_sparsify(directed, num_layers=3)


@pytest.mark.parametrize('cls,kw,exc,match', [
    (WalkIndexSparsification, {}, ValueError, 'exactly one of ratio'),
    (WalkIndexSparsification, {'ratio': 2.0}, ValueError,
     r'ratio must lie in \[0, 1\]'),
    (WalkIndexSparsification, {'ratio': 'half'}, TypeError,
     'ratio must be a real'),
    (WalkIndexSparsification, {'num_remove': -1}, ValueError,
     'num_remove must be >= 0'),
    (WalkIndexSparsification, {'num_remove': 2.5}, TypeError,
     'num_remove must be an int'),
    (WalkIndexSparsification, {'ratio': 0.1, 'num_layers': 0}, ValueError,
     'num_layers must be >= 1'),
    (WalkIndexSparsification, {'ratio': 0.1, 'num_layers': 2.0}, TypeError,
     'num_layers must be an int'),
    (WalkIndexSparsification, {'ratio': 0.1, 'algorithm': 'x'}, ValueError,
     'algorithm must be one of'),
    (WalkIndexSparsification, {'ratio': 0.1, 'num_layers': 3,
                               'chunk_size': 0}, ValueError,
     'chunk_size must be >= 1'),
    (WalkIndexSparsification, {'ratio': 0.1, 'undirected': 'no'},
     TypeError, 'undirected must be a bool'),
    (WalkIndexSparsification, {'ratio': 0.1, 'edge_attrs': [1]}, TypeError,
     'edge_attrs must hold attribute names'),
    (WalkIndexSparsification, {'ratio': 0.1, 'edge_attrs': ['a'],
                               'node_attrs': ['a']}, ValueError,
     'edge_attrs and node_attrs'),
    (RandomEdgeSparsification, {'ratio': 0.1, 'seed': 0.5}, TypeError,
     'seed must be an int'),
    (RandomEdgeSparsification, {'num_remove': 1, 'ratio': 0.5}, ValueError,
     'exactly one of ratio'),
    (EffectiveResistanceSparsification, {'ratio': 0.1, 'method': 'x'},
     ValueError, 'method must be one of'),
    (EffectiveResistanceSparsification, {'ratio': 0.1, 'sample': 'yes'},
     TypeError, 'sample must be a bool'),
    (EffectiveResistanceSparsification, {'ratio': 0.1, 'seed': '1'},
     TypeError, 'seed must be an int'),
])
def test_bad_transform_settings(cls, kw, exc, match) -> None:  # noqa: ANN001
    with pytest.raises(exc, match=match):
        cls(**kw)


@pytest.mark.parametrize('cls', [WalkIndexSparsification,
                                 RandomEdgeSparsification,
                                 EffectiveResistanceSparsification])
@pytest.mark.parametrize('ei,exc,match', [
    (EI.t().contiguous(), ValueError, 'edge_index must have shape'),
    (EI.float(), TypeError, 'edge_index must have an integer dtype'),
    (EI, ValueError, 'num_nodes=3'),  # ids past x's rows
])
def test_bad_graph_for_transform(cls, ei, exc, match) -> None:  # noqa: ANN001
    data = Data(x=torch.zeros(3, 1), edge_index=ei)
    with pytest.raises(exc, match=match):
        cls(num_remove=1)(data)


# issue #16 bad-input audit: the transforms used to fail with an
# AttributeError / IndexError deep inside, or accept corrupt weights
SPARSIFIERS = [WalkIndexSparsification, RandomEdgeSparsification,
               EffectiveResistanceSparsification]


@pytest.mark.parametrize('cls', SPARSIFIERS)
@pytest.mark.parametrize('make,exc,match', [
    (lambda: None, TypeError, 'data must be a Data'),
    (lambda: 'abc', TypeError, 'data must be a Data'),
    (lambda: Data(edge_index=EI[0], num_nodes=4), ValueError,
     'edge_index must have shape'),
    (lambda: Data(edge_index='abc', num_nodes=4), TypeError,
     'edge_index must be a torch.Tensor'),
    (lambda: Data(edge_index=torch.zeros(2, 3, 1, dtype=torch.long),
                  num_nodes=4), ValueError, 'edge_index must have shape'),
], ids=['none', 'str', 'ei-1d', 'ei-str', 'ei-3d'])
def test_bad_data_for_transform(cls, make, exc, match) -> None:  # noqa: ANN001
    with pytest.raises(exc, match=match):
        cls(ratio=0.5)(make())


@pytest.mark.parametrize('w,match', [
    (torch.tensor([1.0, 1.0, float('nan'), 1.0, 1.0, 1.0]), 'NaN'),
    (torch.tensor([1.0, 1.0, float('inf'), 1.0, 1.0, 1.0]), 'infinite'),
    (torch.tensor([1.0, 1.0, -1.0, -1.0, 1.0, 1.0]), '>= 0'),
    (torch.ones(5), '5 entries for 6 edges'),
], ids=['nan', 'inf', 'negative', 'length'])
@pytest.mark.parametrize('hetero', [False, True], ids=['data', 'hetero'])
def test_effective_resistance_refuses_corrupt_edge_weight(
        w: torch.Tensor, match: str, hetero: bool) -> None:
    tr = EffectiveResistanceSparsification(num_remove=1, seed=0)
    if hetero:
        data = HeteroData()
        data['a'].num_nodes = 4
        data['a', 'r', 'a'].edge_index = EI
        data['a', 'r', 'a'].edge_weight = w
    else:
        data = Data(edge_index=EI, edge_weight=w, num_nodes=4)
    with pytest.raises(ValueError, match=f'edge_weight.*{match}|{match}'):
        tr(data)


def test_effective_resistance_valid_weights_sliced_with_edges() -> None:
    """Valid weights (zeros included) pass and stay aligned: every kept
    (src, dst) pair keeps its own weight."""
    w = torch.tensor([0.0, 0.0, 2.0, 2.0, 3.0, 3.0])
    data = Data(edge_index=EI, edge_weight=w, num_nodes=4)
    out = EffectiveResistanceSparsification(num_remove=1, seed=0)(data)
    assert out.edge_index.size(1) == 4
    lookup = {tuple(e): float(x) for e, x in zip(EI.t().tolist(), w)}
    for e, x in zip(out.edge_index.t().tolist(), out.edge_weight):
        assert lookup[tuple(e)] == float(x)


# --- a Batch is sparsified graph by graph (2026-12-03 audit) ---------------

def _batch_graphs() -> list[Data]:
    tri = Data(x=torch.randn(3, 2),
               edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]),
               edge_attr=torch.arange(4.).view(-1, 1))
    ring = Data(x=torch.randn(4, 2),
                edge_index=torch.tensor([[0, 1, 1, 2, 2, 3, 3, 0],
                                         [1, 0, 2, 1, 3, 2, 0, 3]]),
                edge_attr=torch.arange(8.).view(-1, 1) + 10)
    return [tri, ring]


@pytest.mark.parametrize('make', [
    lambda: WalkIndexSparsification(num_remove=1),
    lambda: WalkIndexSparsification(ratio=0.5, num_layers=3),
    lambda: RandomEdgeSparsification(num_remove=1, seed=3),
    lambda: EffectiveResistanceSparsification(ratio=0.5, sample=False),
])
def test_batch_is_sparsified_per_graph(make):
    from torch_geometric.data import Batch
    graphs = _batch_graphs()
    t = make()
    out = t(Batch.from_data_list(graphs, follow_batch=['x']))
    ref = [t(g) for g in graphs]
    # the budget applies to each graph: the batch of the per-graph outputs
    assert isinstance(out, Batch)
    assert torch.equal(out.edge_index,
                       Batch.from_data_list(ref).edge_index)
    parts = out.to_data_list()  # slices stay consistent
    assert len(parts) == 2
    for got, want in zip(parts, ref):
        assert torch.equal(got.edge_index, want.edge_index)
        assert torch.equal(got.edge_attr, want.edge_attr)
        assert torch.equal(got.x, want.x)
    assert torch.equal(out.x_batch, out.batch)  # follow_batch kept


def test_batch_cross_graph_edge_is_refused():
    from torch_geometric.data import Batch
    b = Batch.from_data_list(_batch_graphs())
    b.edge_index[0, 0] = 5  # graph 0's arc now points into graph 1
    with pytest.raises(ValueError, match='graph 0 of the batch'):
        RandomEdgeSparsification(num_remove=1, seed=0)(b)
