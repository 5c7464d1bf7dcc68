"""DIDM mover's distance (Rauchwerger, Jegelka & Levie, ICLR 2025):
reference agreement, size independence, metric properties, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _metrics_reference import reference_didm
from torch_geometric.data import Data

from pyg_ext.metrics import (
    didm_cross,
    didm_movers_distance,
    didm_pairwise,
    pairwise,
    rjl_distance,
)
from pyg_ext.testing import assert_close_rel
from pyg_ext.typing import WITH_NUMBA

BACKENDS = ['numpy'] + (['numba'] if WITH_NUMBA else [])


def random_graph(n: int, p: float, d: int, seed: int) -> Data:
    g = torch.Generator().manual_seed(seed)
    A = (torch.rand(n, n, generator=g) < p).triu(1)
    ei = A.nonzero().t()
    ei = torch.cat([ei, ei.flip(0)], 1)
    return Data(x=torch.randn(n, d, generator=g), edge_index=ei)


def blow_up(g: Data, k: int) -> Data:
    n = g.num_nodes
    A = torch.zeros(n, n)
    A[g.edge_index[0], g.edge_index[1]] = 1
    return Data(x=g.x.repeat_interleave(k, 0),
                edge_index=torch.kron(A, torch.ones(k, k)).nonzero().t())


@pytest.fixture(scope='module')
def mutag(shared_root):
    from torch_geometric.datasets import TUDataset
    root = shared_root('tu')
    return list(TUDataset(str(root / 'tu'), 'MUTAG'))


@pytest.mark.dataset
@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('depth,unmatched', [(1, 'blank'), (2, 1.0),
                                             (3, 'blank')])
def test_matches_reference_on_mutag(mutag, backend, depth, unmatched):
    rng = np.random.default_rng(depth)
    idx = rng.choice(len(mutag), 5, replace=False)
    graphs = [mutag[i] for i in idx]
    D = didm_pairwise(graphs, depth, unmatched=unmatched, backend=backend)
    for a, b in [(0, 1), (2, 3), (1, 4)]:
        ref = reference_didm(graphs[a], graphs[b], depth, unmatched=unmatched)
        assert_close_rel(D[a, b], ref, rtol=1e-9, atol=1e-12)
    C = didm_cross(graphs[:2], graphs[2:], depth, unmatched=unmatched,
                   backend=backend)
    assert_close_rel(C, D[:2, 2:], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('backend', BACKENDS)
def test_matches_reference_continuous(backend):
    g1 = random_graph(9, 0.4, 2, seed=1)
    g2 = random_graph(7, 0.5, 2, seed=2)
    g3 = random_graph(9, 0.3, 2, seed=3)  # same size as g1
    for a, b in [(g1, g2), (g1, g3)]:
        for um in ('blank', 0.5):
            ref = reference_didm(a, b, 2, unmatched=um)
            got = didm_movers_distance(a, b, 2, unmatched=um,
                                       backend=backend)
            assert_close_rel(got, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('backend', BACKENDS)
def test_size_independence(backend):
    g = random_graph(8, 0.4, 3, seed=4)
    for k in (2, 3):
        assert didm_movers_distance(g, blow_up(g, k), 3,
                                    backend=backend) == pytest.approx(
                                        0.0, abs=1e-9)
    # the disjoint double has half the neighbour mass: not at distance 0,
    # and never further than the graph from the empty-neighbourhood graph
    double = Data(x=torch.cat([g.x, g.x]),
                  edge_index=torch.cat([g.edge_index, g.edge_index + 8], 1))
    isolated = Data(x=g.x, edge_index=torch.zeros(2, 0, dtype=torch.long))
    d_double = didm_movers_distance(g, double, 3, backend=backend)
    assert 0 < d_double < didm_movers_distance(g, isolated, 3,
                                               backend=backend)


@pytest.mark.parametrize('backend', BACKENDS)
def test_mean_aggregation(backend):
    g1 = random_graph(9, 0.4, 2, seed=1)
    g2 = random_graph(7, 0.5, 2, seed=2)
    # an isolated node: the zero neighbour measure against probability ones
    g3 = Data(x=g1.x, edge_index=g1.edge_index[:, g1.edge_index.ne(0).all(0)])
    assert g3.edge_index.numel() < g1.edge_index.numel()
    for a, b in [(g1, g2), (g1, g3), (g2, g3)]:
        for um in ('blank', 0.5):
            ref = reference_didm(a, b, 2, unmatched=um, aggregation='mean')
            got = didm_movers_distance(a, b, 2, unmatched=um,
                                       aggregation='mean', backend=backend)
            assert_close_rel(got, ref, rtol=1e-9, atol=1e-12)
    # disjoint copies and blow-ups at distance 0, other graphs not
    n = g1.num_nodes
    double = Data(x=torch.cat([g1.x, g1.x]),
                  edge_index=torch.cat([g1.edge_index, g1.edge_index + n], 1))
    for h in (double, blow_up(g1, 2)):
        assert didm_movers_distance(g1, h, 3, aggregation='mean',
                                    backend=backend) == pytest.approx(
                                        0.0, abs=1e-9)
    assert didm_movers_distance(g1, g2, 3, aggregation='mean',
                                backend=backend) > 1e-3
    # the mean measures differ from the normalised-sum ones
    assert didm_movers_distance(g1, double, 3, backend=backend) > 1e-3
    D = didm_pairwise([g1, g2, g3, double], 2, aggregation='mean',
                      backend=backend)
    assert np.allclose(D, D.T) and D[0, 3] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match='aggregation'):
        didm_movers_distance(g1, g2, 2, aggregation='max')


def test_bounded_and_metric_properties():
    graphs = [random_graph(int(n), 0.4, 2, seed=s)
              for s, n in enumerate(np.random.default_rng(1).integers(
                  3, 10, size=10))]
    for backend in BACKENDS:
        D = pairwise(graphs, 'rjl', depth=2, backend=backend)
        assert np.allclose(D, D.T) and np.all(np.diag(D) == 0)
        viol = D[:, None, :] - (D[:, :, None] + D[None, :, :])
        assert viol.max() <= 1e-9
    # permutation invariance
    g = graphs[0]
    perm = torch.randperm(g.num_nodes,
                          generator=torch.Generator().manual_seed(0))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(g.num_nodes)
    h = Data(x=g.x[perm], edge_index=inv[g.edge_index])
    assert rjl_distance(g, h, 3) == pytest.approx(0.0, abs=1e-9)
    # features in the unit ball and graphs of any size: distances stay small
    big = random_graph(40, 0.5, 2, seed=9)
    for q in (graphs[1], big):
        q.x = q.x / q.x.norm(dim=1, keepdim=True).clamp(min=1.0)
    assert didm_movers_distance(graphs[1], big, 3) <= 2 * (3 + 1)


def test_bad_input_raises():
    g = random_graph(5, 0.5, 2, seed=0)
    with pytest.raises(ValueError, match='depth'):
        didm_movers_distance(g, g, depth=0)
    with pytest.raises(ValueError, match='unmatched'):
        didm_movers_distance(g, g, unmatched=-1.0)
    with pytest.raises(ValueError, match='unmatched'):
        didm_movers_distance(g, g, unmatched='dummy')
    with pytest.raises(ValueError, match='feature'):
        didm_movers_distance(g, random_graph(5, 0.5, 3, seed=1))
    empty = Data(x=torch.zeros(0, 2), edge_index=torch.zeros(2, 0,
                                                             dtype=torch.long))
    with pytest.raises(ValueError, match='at least one node'):
        didm_movers_distance(g, empty)
    nan = Data(x=g.x.clone(), edge_index=g.edge_index)
    nan.x[1, 1] = float('inf')
    with pytest.raises(ValueError, match='NaN'):
        didm_movers_distance(g, nan)
