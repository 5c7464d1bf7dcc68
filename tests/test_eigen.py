"""The compiled lowest-eigenpairs solver (numba) of the eigen precompute
against LAPACK (``torch.linalg.eigh``)."""

from __future__ import annotations

import pytest
import torch

from pyg_ext.typing import WITH_NUMBA


@pytest.mark.skipif(not WITH_NUMBA, reason='numba not installed')
@pytest.mark.parametrize('norm', ['sym', 'none', 'rw'])
@pytest.mark.parametrize('drop_trivial', [False, True])
@pytest.mark.parametrize('big', [False, True])
def test_compiled_solver_matches_lapack(monkeypatch, norm, drop_trivial,
                                       big):
    """The compiled lowest-eigenpairs paths (numba, CPU: all graphs in one
    call, or per size bucket next to a large graph) against
    ``torch.linalg.eigh`` on graphs with repeated eigenvalues (cycles,
    hypercube, disjoint copies), isolated nodes, weights, multi-edges and
    n <= k: same eigenvalues, masks and cut flags, and the same projectors
    onto every eigenspace kept whole."""
    import networkx as nx
    from torch_geometric.utils import from_networkx

    import pyg_ext.utils.eigen as E
    graphs = [nx.cycle_graph(12), nx.hypercube_graph(3),
              nx.disjoint_union(nx.cycle_graph(6), nx.cycle_graph(6)),
              nx.petersen_graph(), nx.path_graph(5), nx.empty_graph(4),
              nx.star_graph(7), nx.complete_graph(3)]
    if big:  # a graph past COMPILED_MAX_NODES: the per-size bucket path
        graphs.append(nx.cycle_graph(70))
    g = torch.Generator().manual_seed(0)
    eis, ws, sizes = [], [], []
    for G in graphs:
        G = nx.convert_node_labels_to_integers(G)
        ei = from_networkx(G).edge_index
        if G.number_of_nodes() == 5:  # a multi-edge and an isolated node
            ei = torch.cat([ei, torch.tensor([[0], [1]])], 1)
        eis.append(ei)
        ws.append(torch.rand(ei.size(1), generator=g) + 0.5
                  if G.number_of_nodes() == 7 else torch.ones(ei.size(1)))
        sizes.append(G.number_of_nodes() + (1 if G.number_of_nodes() == 5
                                            else 0))
    ei = torch.cat(eis, 1)
    eg = torch.repeat_interleave(torch.arange(len(eis)),
                                 torch.tensor([e.size(1) for e in eis]))
    ew = torch.cat(ws)
    n = torch.tensor(sizes)
    k = 6
    kw = dict(normalization=norm, drop_trivial=drop_trivial,
              dtype=torch.float64, edge_weight=ew)
    monkeypatch.setattr(E, 'USE_COMPILED', True)
    monkeypatch.setattr(E, 'COMPILED_MIN_GRAPHS', 1)
    a = E.batched_eigenpairs(ei, eg, n, k, **kw)
    monkeypatch.setattr(E, 'USE_COMPILED', False)
    b = E.batched_eigenpairs(ei, eg, n, k, **kw)
    assert torch.equal(a.mask, b.mask) and torch.equal(a.cut, b.cut)
    assert torch.allclose(a.eigvals, b.eigvals, atol=1e-12)
    ptr = [0, *torch.cumsum(n, 0).tolist()]
    for i in range(len(sizes)):
        Va = a.eigvecs[ptr[i]:ptr[i + 1]]
        Vb = b.eigvecs[ptr[i]:ptr[i + 1]]
        lam = b.eigvals[i]
        m = b.mask[i]
        for val in torch.unique(lam[m]):
            sel = m & ((lam - val).abs() < 1e-8)
            whole = (lam[m] > val + 1e-8).any() or not b.cut[i]
            if not whole:
                continue  # k cuts this eigenspace: any basis of part of it
            # same span ('rw' vectors are rescaled, so compare the
            # projectors onto orthonormalised bases)
            Qa = torch.linalg.qr(Va[:, sel])[0]
            Qb = torch.linalg.qr(Vb[:, sel])[0]
            Pa, Pb = Qa @ Qa.T, Qb @ Qb.T
            assert torch.allclose(Pa, Pb, atol=1e-10), (i, float(val))


def test_bad_edges_raise():
    from pyg_ext.utils.eigen import batched_eigenpairs
    ei = torch.tensor([[0, 1], [1, 2]])
    eg = torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match='local node ids'):
        batched_eigenpairs(ei, eg, torch.tensor([2, 3]), 2)
    with pytest.raises(ValueError, match='edge_graph'):
        batched_eigenpairs(ei, torch.tensor([0, 2]), torch.tensor([3, 3]), 2)
    with pytest.raises(ValueError, match='edge_weight'):
        batched_eigenpairs(ei, eg, torch.tensor([3]), 2,
                           edge_weight=torch.tensor([1.0, float('nan')]))
