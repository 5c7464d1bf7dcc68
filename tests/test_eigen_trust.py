"""Trustworthiness of the Laplacian eigenpairs (issue #16).

Every check compares with a slow, obviously correct reference: the dense
Laplacian decomposed by ``torch.linalg.eigh`` in float64. Eigenvectors inside
a repeated eigenspace are not unique, so vectors are checked by what defines
them: residual ``||L v - lambda v||``, orthonormality, orthogonality to the
null space when it is dropped, and equal projectors onto every eigenspace
that ``k`` keeps whole.
"""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from torch_geometric.data import Data, InMemoryDataset

import pyg_ext.utils.eigen as E
from pyg_ext.transforms import AddEigenPE, precompute_eigen_pe
from pyg_ext.typing import WITH_NUMBA
from pyg_ext.utils.eigen import (
    batched_eigenpairs,
    canonicalize_signs,
    dense_laplacian,
    eigenpairs_of_graph,
    eigenspace_ids,
    multiplicities,
)

f64 = torch.float64


# --------------------------------------------------------------------------
# references

def nx_edges(G: nx.Graph) -> tuple[torch.Tensor, int]:
    G = nx.convert_node_labels_to_integers(G)
    ei = torch.tensor(list(G.edges), dtype=torch.long).reshape(-1, 2).T
    return torch.cat([ei, ei.flip(0)], 1), G.number_of_nodes()


def laplacian(ei: torch.Tensor, n: int, w: torch.Tensor | None,
              norm: str) -> torch.Tensor:
    """Dense float64 Laplacian, built independently of the library."""
    A = torch.zeros(n, n, dtype=f64)
    w = torch.ones(ei.size(1), dtype=f64) if w is None else w.to(f64)
    A.index_put_((ei[0], ei[1]), w, accumulate=True)
    A = torch.maximum(A, A.T)
    A.fill_diagonal_(0)
    d = A.sum(1)
    if norm == 'none':
        return torch.diag(d) - A
    dinv = torch.where(d > 0, d.clamp_min(1e-300).rsqrt(), torch.zeros_like(d))
    return torch.diag((d > 0).to(f64)) - dinv[:, None] * A * dinv[None, :]


def n_components(ei: torch.Tensor, n: int) -> int:
    G = nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from(ei.T.tolist())
    return nx.number_connected_components(G)


def check_against_dense(vals: torch.Tensor, vecs: torch.Tensor,
                        mask: torch.Tensor, cut: bool, L: torch.Tensor,
                        k: int, n_triv: int, drop_trivial: bool,
                        atol: float = 1e-8) -> None:
    """``vals [k]``, ``vecs [n, k]`` (a 'sym' or 'none' result) against the
    dense decomposition of ``L`` with ``n_triv`` zero eigenvalues."""
    n = L.size(0)
    ref, U = torch.linalg.eigh(L)
    s = n_triv if drop_trivial else 0
    m = min(k, n - s)
    assert int(mask.sum()) == m and bool(mask[:m].all())
    torch.testing.assert_close(vals[:m], ref[s:s + m].clamp_min(0),
                               atol=atol, rtol=0)
    V = vecs[:, :m]
    torch.testing.assert_close(V.T @ V, torch.eye(m, dtype=f64), atol=1e-8,
                               rtol=0)
    res = (L @ V - V * vals[:m]).norm(dim=0)
    assert float(res.max()) < 1e-7, res
    if drop_trivial:  # orthogonal to the exact null space
        Z = U[:, :n_triv]
        assert float((Z.T @ V).abs().max()) < 1e-6
    # projector onto each eigenspace kept whole equals the reference's
    gid = eigenspace_ids(vals[:m].unsqueeze(0), tol=1e-6)[0]
    ref_cut = s + m < n and abs(float(ref[s + m] - ref[s + m - 1])) < 1e-6
    assert cut == ref_cut
    for g in gid.unique():
        idx = (gid == g).nonzero().view(-1)
        lam = float(vals[idx[0]])
        if int(idx.max()) == m - 1 and ref_cut:
            continue  # k cuts this eigenspace: any part of it is right
        sel = (ref - lam).abs() < 1e-6
        if lam < 1e-6:  # null space; with drop_trivial, above it only
            sel = sel & (torch.arange(n) >= s)
        P_ref = U[:, sel] @ U[:, sel].T
        P = V[:, idx] @ V[:, idx].T
        torch.testing.assert_close(P, P_ref, atol=1e-6, rtol=0)


def run_single(ei: torch.Tensor, n: int, k: int, norm: str,
               drop_trivial: bool, w: torch.Tensor | None = None,
               **kw: object) -> E.EigenResult:
    return eigenpairs_of_graph(ei, n, k, normalization=norm,
                               drop_trivial=drop_trivial, edge_weight=w,
                               dtype=f64, **kw)


# --------------------------------------------------------------------------
# 1. graphs above the dense threshold with repeated eigenvalues

def many_components() -> nx.Graph:
    parts = [nx.cycle_graph(6) for _ in range(6)]  # repeated spectra
    parts += [nx.path_graph(4), nx.star_graph(5), nx.cycle_graph(30)]
    parts += [nx.empty_graph(1) for _ in range(7)]  # isolated nodes
    return nx.disjoint_union_all(parts)


def ba_plus_isolated() -> nx.Graph:
    G = nx.barabasi_albert_graph(60, 2, seed=1)
    G.add_nodes_from(range(60, 80))
    return G


SYMMETRIC = {
    'many_components': many_components,
    'hypercube6': lambda: nx.hypercube_graph(6),
    'grid12x12': lambda: nx.grid_2d_graph(12, 12),
    'K40_60': lambda: nx.complete_bipartite_graph(40, 60),
    'ba_plus_isolated': ba_plus_isolated,
}


@pytest.mark.parametrize('name', list(SYMMETRIC))
@pytest.mark.parametrize('norm', ['sym', 'none'])
@pytest.mark.parametrize('drop_trivial', [True, False])
def test_sparse_path_repeated_eigenvalues(name: str, norm: str,
                                          drop_trivial: bool) -> None:
    """Graphs past ``dense_threshold`` (lowered to keep the test fast) with
    many components, isolated nodes and highly repeated eigenvalues: the
    same eigenpairs as a dense ``eigh``. The old sparse solver missed
    copies of repeated eigenvalues and dropped non-zero ones as trivial."""
    ei, n = nx_edges(SYMMETRIC[name]())
    k = 14
    r = run_single(ei, n, k, norm, drop_trivial, dense_threshold=20)
    L = laplacian(ei, n, None, norm)
    check_against_dense(r.eigvals[0], r.eigvecs, r.mask[0], bool(r.cut[0]),
                        L, k, n_components(ei, n), drop_trivial)


def test_sparse_path_rw_matches_sym() -> None:
    ei, n = nx_edges(many_components())
    a = run_single(ei, n, 10, 'rw', True, dense_threshold=20)
    b = run_single(ei, n, 10, 'sym', True, dense_threshold=20)
    torch.testing.assert_close(a.eigvals, b.eigvals)
    A = torch.zeros(n, n, dtype=f64)
    A[ei[0], ei[1]] = 1
    d = A.sum(1).clamp_min(1)
    P = torch.eye(n, dtype=f64) - A / d[:, None]
    P[A.sum(1) == 0] = 0  # isolated nodes: L_ii = 0
    torch.testing.assert_close(P @ a.eigvecs, a.eigvecs * a.eigvals[0],
                               atol=1e-8, rtol=0)


def test_real_size_ba_with_isolated_nodes() -> None:
    """The audit's case at the real threshold: BA(1000, 2) plus 100
    isolated nodes, k=110: exactly 101 zero eigenvalues (the old solver
    returned 54)."""
    G = nx.barabasi_albert_graph(1000, 2, seed=0)
    G.add_nodes_from(range(1000, 1100))
    ei, n = nx_edges(G)
    r = run_single(ei, n, 110, 'sym', False)
    ref = torch.linalg.eigvalsh(laplacian(ei, n, None, 'sym'))
    assert int((r.eigvals[0] < 1e-9).sum()) == 101
    torch.testing.assert_close(r.eigvals[0], ref[:110].clamp_min(0),
                               atol=1e-9, rtol=0)
    d = run_single(ei, n, 8, 'sym', True)
    torch.testing.assert_close(d.eigvals[0], ref[101:109], atol=1e-9, rtol=0)


def test_real_size_hypercube() -> None:
    """Hypercube Q10 (1,024 nodes > the default threshold): eigenvalues
    2i/10 ('sym') of multiplicity C(10, i); k=12 after the null space must
    give ten 0.2 and two 0.4 and flag the cut 0.4 eigenspace."""
    ei, n = nx_edges(nx.hypercube_graph(10))
    r = run_single(ei, n, 12, 'sym', True)
    want = torch.tensor([0.2] * 10 + [0.4] * 2, dtype=f64)
    torch.testing.assert_close(r.eigvals[0], want, atol=1e-10, rtol=0)
    assert bool(r.cut[0])
    V = r.eigvecs
    torch.testing.assert_close(V.T @ V, torch.eye(12, dtype=f64), atol=1e-9,
                               rtol=0)
    L = laplacian(ei, n, None, 'sym')
    assert float((L @ V - V * r.eigvals[0]).norm(dim=0).max()) < 1e-8
    assert float(V.sum(0).abs().max()) < 1e-8  # orthogonal to the null


def test_cora_drop_trivial(shared_root) -> None:
    """Cora (78 components, a 2,485-node giant one past the threshold):
    with drop_trivial the first eigenvalue is 0.00478 (old: 0.0536), and
    the 8 pairs are eigenpairs of the dense Laplacian with the dense
    eigenvalues right after its 78 zeros (eigenvalues only: a dense eigh
    with vectors takes 20 s here)."""
    from torch_geometric.datasets import Planetoid
    root = shared_root('planetoid')
    data = Planetoid(str(root / 'planetoid'), 'Cora')[0]
    n, ei = data.num_nodes, data.edge_index
    r = run_single(ei, n, 8, 'sym', True)
    lam, V = r.eigvals[0], r.eigvecs
    assert abs(float(lam[0]) - 0.00478) < 1e-5
    L = laplacian(ei, n, None, 'sym')
    ref = torch.linalg.eigvalsh(L)
    c = n_components(ei, n)
    assert c == 78 and float(ref[c - 1]) < 1e-10 < float(ref[c])
    torch.testing.assert_close(lam, ref[c:c + 8], atol=1e-9, rtol=0)
    big = run_single(ei, n, 100, 'sym', True)  # old max error 7.6e-2
    torch.testing.assert_close(big.eigvals[0], ref[c:c + 100], atol=1e-9,
                               rtol=0)
    torch.testing.assert_close(V.T @ V, torch.eye(8, dtype=f64), atol=1e-9,
                               rtol=0)
    assert float((L @ V - V * lam).norm(dim=0).max()) < 1e-8
    # orthogonal to every component's null vector sqrt(deg) on it
    G = nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from(ei.T.tolist())
    deg = torch.zeros(n, dtype=f64).index_add_(
        0, ei[0], torch.ones(ei.size(1), dtype=f64))
    for comp in nx.connected_components(G):
        idx = torch.tensor(sorted(comp))
        z = deg[idx].sqrt() if len(idx) > 1 else torch.ones(1, dtype=f64)
        assert float((z / z.norm() @ V[idx]).abs().max()) < 1e-8


# --------------------------------------------------------------------------
# 2. the null space is counted by components on every path

def weak_bridge(weight: float) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Two triangles joined by one edge of the given weight."""
    ei = torch.tensor([[0, 1, 1, 2, 2, 0, 3, 4, 4, 5, 5, 3, 2, 3],
                       [1, 0, 2, 1, 0, 2, 4, 3, 5, 4, 3, 5, 3, 2]])
    w = torch.ones(14, dtype=f64)
    w[12:] = weight
    return ei, w, 6


def _paths(monkeypatch: pytest.MonkeyPatch, path: str, ei: torch.Tensor,
           w: torch.Tensor, n: int, k: int, norm: str, copies: int = 3
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(vals [k], vecs [n, k], mask [k]) of the first copy, by one path."""
    if path == 'transform':
        out = AddEigenPE(k, normalization=norm, drop_trivial=True,
                         dtype=f64, on_cut='ignore')(
            Data(edge_index=ei, edge_weight=w, num_nodes=n))
        return out.eigvals[0], out.eigvecs, out.eig_mask[0]
    if path == 'precompute':
        gs = [Data(edge_index=ei, edge_weight=w, num_nodes=n)
              for _ in range(copies)]
        precompute_eigen_pe(gs, k, normalization=norm, drop_trivial=True,
                            dtype=f64, on_cut='ignore')
        return gs[0].eigvals[0], gs[0].eigvecs, gs[0].eig_mask[0]
    if path == 'collated':
        class _DS(InMemoryDataset):
            def __init__(self) -> None:
                super().__init__(None)
                self.data, self.slices = self.collate(
                    [Data(edge_index=ei, edge_weight=w, num_nodes=n,
                          x=torch.zeros(n, 1)) for _ in range(copies)])
        ds = _DS()
        precompute_eigen_pe(ds, k, normalization=norm, drop_trivial=True,
                            dtype=f64, on_cut='ignore')
        return ds[0].eigvals[0], ds[0].eigvecs, ds[0].eig_mask[0]
    eis = torch.cat([ei] * copies, 1)
    eg = torch.repeat_interleave(torch.arange(copies), ei.size(1))
    kw: dict = dict(normalization=norm, drop_trivial=True, dtype=f64,
                    edge_weight=torch.cat([w] * copies))
    if path == 'compiled':
        monkeypatch.setattr(E, 'USE_COMPILED', True)
        monkeypatch.setattr(E, 'COMPILED_MIN_GRAPHS', 1)
    elif path == 'lapack':
        monkeypatch.setattr(E, 'USE_COMPILED', False)
    elif path == 'sparse':
        kw['dense_threshold'] = 3
    r = batched_eigenpairs(eis, eg, torch.full((copies,), n), k, **kw)
    return r.eigvals[0], r.eigvecs[:n], r.mask[0]


PATHS = ['transform', 'precompute', 'collated', 'lapack', 'sparse',
         pytest.param('compiled', marks=pytest.mark.skipif(
             not WITH_NUMBA, reason='numba not installed'))]


@pytest.mark.parametrize('path', PATHS)
@pytest.mark.parametrize('norm', ['sym', 'none'])
def test_weak_bridge_keeps_fiedler_pair(monkeypatch, path, norm) -> None:
    """Two triangles joined by an edge of weight 1e-10: one component, so
    drop_trivial drops exactly one pair and the first kept eigenvalue is
    the tiny Fiedler value (the old tolerance dropped it as trivial)."""
    ei, w, n = weak_bridge(1e-10)
    k = 3
    vals, vecs, mask = _paths(monkeypatch, path, ei, w, n, k, norm)
    L = laplacian(ei, n, w, norm)
    ref, U = torch.linalg.eigh(L)
    assert bool(mask.all())
    assert 0 < float(vals[0]) < 1e-8
    torch.testing.assert_close(vals, ref[1:1 + k], atol=1e-12, rtol=1e-6)
    # the Fiedler vector separates the triangles
    f = vecs[:, 0]
    assert float(f[:3].max()) < 0 < float(f[3:].min()) or \
        float(f[3:].max()) < 0 < float(f[:3].min())
    assert abs(float(f @ U[:, 1])) > 1 - 1e-6


@pytest.mark.parametrize('path', PATHS)
def test_zero_weight_edge_is_no_edge(monkeypatch, path) -> None:
    """A bridge of weight exactly 0 changes nothing: two components, two
    null pairs dropped, the first kept eigenvalue is the triangles' 1.5."""
    ei, w, n = weak_bridge(0.0)
    vals, vecs, mask = _paths(monkeypatch, path, ei, w, n, 2, 'sym')
    torch.testing.assert_close(vals, torch.full((2,), 1.5, dtype=f64),
                               atol=1e-10, rtol=0)
    assert float(vecs.sum(0).abs().max()) < 1e-8


def test_isolated_nodes_dense_paths_drop_exactly_components(
        monkeypatch) -> None:
    """Two triangles plus two isolated nodes ('none'): four null pairs are
    dropped on every dense path, none of the non-zero ones."""
    ei = torch.tensor([[0, 1, 1, 2, 2, 0, 3, 4, 4, 5, 5, 3],
                       [1, 0, 2, 1, 0, 2, 4, 3, 5, 4, 3, 5]])
    w = torch.ones(12, dtype=f64)
    for path in ('transform', 'lapack', 'sparse', 'precompute'):
        vals, _, mask = _paths(monkeypatch, path, ei, w, 8, 4, 'none')
        torch.testing.assert_close(vals, torch.tensor([3., 3., 3., 3.],
                                                      dtype=f64),
                                   atol=1e-10, rtol=0)


# --------------------------------------------------------------------------
# 3. precompute on a list where only some graphs are weighted

def _tri(weighted: bool) -> Data:
    ei = torch.tensor([[0, 1, 1, 2, 2, 0], [1, 0, 2, 1, 0, 2]])
    d = Data(edge_index=ei, num_nodes=3)
    if weighted:
        d.edge_weight = torch.tensor([5.0, 5.0, 1.0, 1.0, 1.0, 1.0])
    return d


@pytest.mark.parametrize('order', [(False, True), (True, False),
                                   (False, True, False)])
def test_precompute_mixed_edge_weight(order) -> None:
    """Weights are used where present, weight 1 elsewhere, in any order
    (old: ignored when the first graph was unweighted, KeyError when a
    later one was), and agree with the per-graph transform."""
    graphs = [_tri(wt) for wt in order]
    t = AddEigenPE(3, normalization='none', dtype=f64, on_cut='ignore')
    precompute_eigen_pe(graphs, t)
    for g, wt in zip(graphs, order):
        ref = torch.linalg.eigvalsh(laplacian(g.edge_index, 3,
                                              g.edge_weight if wt else None,
                                              'none'))
        torch.testing.assert_close(g.eigvals[0], ref.clamp_min(0),
                                   atol=1e-10, rtol=0)
        single = t(_tri(wt))
        torch.testing.assert_close(g.eigvals, single.eigvals)


def test_precompute_bad_edge_weight_length() -> None:
    g = _tri(True)
    g.edge_weight = torch.ones(4)
    with pytest.raises(ValueError, match='edge_weight'):
        precompute_eigen_pe([_tri(False), g], 2)


# --------------------------------------------------------------------------
# bad inputs: every public function, messages name the argument

EI = torch.tensor([[0, 1], [1, 2]])
EG = torch.zeros(2, dtype=torch.long)
NN = torch.tensor([3])


def _be(**kw: object) -> None:
    args = dict(edge_index=EI, edge_graph=EG, num_nodes=NN, k=2)
    args.update(kw)
    batched_eigenpairs(**args)  # type: ignore[arg-type]


BAD = [
    ('k0', lambda: _be(k=0), ValueError, 'k'),
    ('kneg', lambda: _be(k=-1), ValueError, 'k'),
    ('kfloat', lambda: _be(k=2.0), TypeError, 'k'),
    ('kstr', lambda: _be(k='2'), TypeError, 'k'),
    ('norm', lambda: _be(normalization='lap'), ValueError, 'normalization'),
    ('norm_type', lambda: _be(normalization=3), TypeError, 'normalization'),
    ('ei_shape', lambda: _be(edge_index=torch.zeros(3, 2, dtype=torch.long)),
     ValueError,
     'edge_index'),
    ('ei_1d', lambda: _be(edge_index=torch.tensor([0, 1])), ValueError,
     'edge_index'),
    ('ei_float', lambda: _be(edge_index=EI.double()), TypeError,
     'edge_index'),
    ('ei_range', lambda: _be(edge_index=torch.tensor([[0, 3], [1, 2]])),
     ValueError, 'edge_index'),
    ('ei_negative', lambda: _be(edge_index=torch.tensor([[0, -1], [1, 2]])),
     ValueError, 'edge_index'),
    ('eg_range', lambda: _be(edge_graph=torch.tensor([0, 1])), ValueError,
     'edge_graph'),
    ('eg_len', lambda: _be(edge_graph=torch.tensor([0])), ValueError,
     'edge_graph'),
    ('nn_negative', lambda: _be(num_nodes=torch.tensor([-3])), ValueError,
     'num_nodes'),
    ('nn_float', lambda: _be(num_nodes=torch.tensor([3.0])), TypeError,
     'num_nodes'),
    ('w_nan', lambda: _be(edge_weight=torch.tensor([1.0, float('nan')])),
     ValueError, 'edge_weight'),
    ('w_inf', lambda: _be(edge_weight=torch.tensor([1.0, float('inf')])),
     ValueError, 'edge_weight'),
    ('w_negative', lambda: _be(edge_weight=torch.tensor([1.0, -1.0])),
     ValueError, 'edge_weight'),
    ('w_len', lambda: _be(edge_weight=torch.tensor([1.0])), ValueError,
     'edge_weight'),
    ('w_int', lambda: _be(edge_weight=torch.tensor([1, 1])), TypeError,
     'edge_weight'),
    ('dense_threshold', lambda: _be(dense_threshold=0), ValueError,
     'dense_threshold'),
    ('cut_tol', lambda: _be(cut_tol=-1.0), ValueError, 'cut_tol'),
    ('dtype', lambda: _be(dtype=torch.long), TypeError, 'dtype'),
    ('single_range', lambda: eigenpairs_of_graph(EI, 2, 2), ValueError,
     'edge_index'),
    ('single_n', lambda: eigenpairs_of_graph(EI, -1, 2), ValueError,
     'num_nodes'),
    ('single_k', lambda: eigenpairs_of_graph(EI, 3, 0), ValueError, 'k'),
    ('transform_k0', lambda: AddEigenPE(0), ValueError, 'k'),
    ('transform_kfloat', lambda: AddEigenPE(2.5), TypeError, 'k'),
    ('transform_norm', lambda: AddEigenPE(2, normalization='x'), ValueError,
     'normalization'),
    ('transform_on_cut', lambda: AddEigenPE(2, on_cut='x'), ValueError,
     'on_cut'),
    ('transform_threshold', lambda: AddEigenPE(2, dense_threshold=0),
     ValueError, 'dense_threshold'),
    ('transform_dtype', lambda: AddEigenPE(2, dtype=torch.int64), TypeError,
     'dtype'),
    ('transform_weights', lambda: AddEigenPE(2)(Data(
        edge_index=EI, edge_weight=torch.tensor([1.0, -2.0]), num_nodes=3)),
     ValueError, 'edge_weight'),
    ('transform_nan', lambda: AddEigenPE(2)(Data(
        edge_index=EI, edge_weight=torch.tensor([1.0, float('nan')]),
        num_nodes=3)), ValueError, 'edge_weight'),
    ('transform_range', lambda: AddEigenPE(2)(Data(edge_index=EI,
                                                   num_nodes=2)),
     ValueError, 'edge_index'),
    ('precompute_k', lambda: precompute_eigen_pe([_tri(False)], 0),
     ValueError, 'k'),
    ('precompute_chunk', lambda: precompute_eigen_pe([_tri(False)], 2,
                                                     chunk_size=0),
     ValueError, 'chunk_size'),
    ('precompute_kwargs', lambda: precompute_eigen_pe(
        [_tri(False)], AddEigenPE(2), normalization='none'), TypeError,
     'AddEigenPE'),
    ('precompute_neg_w', lambda: precompute_eigen_pe(
        [_tri(False), Data(edge_index=EI, num_nodes=3,
                           edge_weight=torch.tensor([1.0, -1.0]))], 2),
     ValueError, 'edge_weight'),
    ('signs_type', lambda: canonicalize_signs([[1.0]]), TypeError, 'vecs'),
    ('signs_dim', lambda: canonicalize_signs(torch.ones(3)), ValueError,
     'vecs'),
    ('signs_tol', lambda: canonicalize_signs(torch.ones(3, 2), tol=-1),
     ValueError, 'tol'),
    ('ids_dim', lambda: eigenspace_ids(torch.ones(3)), ValueError,
     'eigvals'),
    ('ids_mask', lambda: eigenspace_ids(torch.ones(2, 3),
                                        torch.ones(2, 2, dtype=torch.bool)),
     ValueError, 'mask'),
    ('ids_tol', lambda: eigenspace_ids(torch.ones(2, 3), tol=-1.0),
     ValueError, 'tol'),
    ('mult_mask_type', lambda: multiplicities(torch.ones(2, 3),
                                              torch.ones(2, 3)),
     TypeError, 'mask'),
    ('lap_shape', lambda: dense_laplacian(torch.ones(2, 3), 'sym'),
     ValueError, 'adj'),
    ('lap_nan', lambda: dense_laplacian(torch.full((2, 2), float('nan')),
                                        'sym'), ValueError, 'adj'),
    ('lap_negative', lambda: dense_laplacian(-torch.ones(2, 2), 'sym'),
     ValueError, 'adj'),
    ('lap_norm', lambda: dense_laplacian(torch.ones(2, 2), 'bad'),
     ValueError, 'normalization'),
]


@pytest.mark.parametrize('call,exc,name', [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_input_raises_naming_argument(call, exc, name) -> None:
    with pytest.raises(exc, match=name):
        call()


# --------------------------------------------------------------------------
# issue #17.4: what the dataset precompute and the per-graph transform share

def test_precompute_and_transform_agree_up_to_eigenspace_bases() -> None:
    """The documented contract between the two paths (compiled solver for
    the precompute, LAPACK per graph): identical eigenvalues, masks and cut
    flags; identical vectors (sign included) for simple eigenvalues; the
    same projector onto every eigenspace kept whole. Only the basis inside a
    repeated eigenspace (and of an eigenspace cut by k) may differ."""
    from pyg_ext.bench.eigen import molecule_like
    gs = molecule_like(300, 18, 32, 0)
    t = AddEigenPE(8, on_cut='ignore', dtype=f64)
    pre = precompute_eigen_pe([Data(edge_index=g.edge_index,
                                    num_nodes=g.num_nodes) for g in gs], t)
    n_simple = 0
    for g, p in zip(gs, pre):
        s = t(Data(edge_index=g.edge_index, num_nodes=g.num_nodes))
        assert torch.equal(s.eig_mask, p.eig_mask)
        torch.testing.assert_close(p.eigvals, s.eigvals, atol=1e-12, rtol=0)
        cut = bool(eigenpairs_of_graph(g.edge_index, g.num_nodes, 8).cut[0])
        gid = eigenspace_ids(s.eigvals, s.eig_mask, 1e-6)[0]
        for q in gid[s.eig_mask[0]].unique():
            idx = (gid == q).nonzero().view(-1)
            if cut and int(idx.max()) == 7:
                continue  # a cut eigenspace: any part of it is right
            A, B = s.eigvecs[:, idx], p.eigvecs[:, idx]
            torch.testing.assert_close(A @ A.T, B @ B.T, atol=1e-8, rtol=0)
            if len(idx) == 1:
                n_simple += 1
                torch.testing.assert_close(A, B, atol=1e-8, rtol=0)
    assert n_simple > 1000  # the sign check really ran


# --------------------------------------------------------------------------
# issue #16 bad-input audit: errors that used to be IndexError /
# AttributeError / RuntimeError or a silent result, now ValueError /
# TypeError naming the argument

RING = torch.tensor([[0, 1, 1, 2, 2, 0], [1, 0, 2, 1, 0, 2]])
RING_G = Data(edge_index=RING, num_nodes=3)


def _nan_at_0(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[0] = float('nan')
    return t


AUDIT_BAD = [
    ('addeigenpe-ei-1d', lambda: AddEigenPE(2)(
        Data(edge_index=RING[0], num_nodes=3)), ValueError, 'edge_index'),
    ('addeigenpe-ei-str', lambda: AddEigenPE(2)(
        Data(edge_index='abc', num_nodes=3)), TypeError, 'edge_index'),
    ('addeigenpe-prefix-empty', lambda: AddEigenPE(2, attr_prefix=''),
     ValueError, 'attr_prefix'),
    ('addeigenpe-prefix-underscore', lambda: AddEigenPE(2, attr_prefix='_'),
     ValueError, 'attr_prefix'),
    ('addeigenpe-prefix-int', lambda: AddEigenPE(2, attr_prefix=3),
     TypeError, 'attr_prefix'),
    ('precompute-none', lambda: precompute_eigen_pe(None, 2), TypeError,
     'dataset'),
    ('precompute-str', lambda: precompute_eigen_pe('abc', 2), TypeError,
     'dataset'),
    ('precompute-int', lambda: precompute_eigen_pe(5, 2), TypeError,
     'dataset'),
    ('precompute-single-data', lambda: precompute_eigen_pe(RING_G.clone(), 2),
     TypeError, 'dataset'),
    ('precompute-non-data', lambda: precompute_eigen_pe(
        [RING_G.clone(), 3], 2), TypeError, r'dataset\[1\]'),
    ('precompute-ei-transposed', lambda: precompute_eigen_pe(
        [RING_G.clone(), Data(edge_index=RING.t().contiguous(),
                              num_nodes=3)], 2),
     ValueError, r'dataset\[1\]\.edge_index'),
    # a bool edge_index used to be promoted to long ids 0/1 by torch.cat
    ('precompute-ei-bool', lambda: precompute_eigen_pe(
        [RING_G.clone(), Data(edge_index=RING.bool(), num_nodes=3)], 2),
     TypeError, r'dataset\[1\]\.edge_index'),
    ('precompute-ei-float', lambda: precompute_eigen_pe(
        [RING_G.clone(), Data(edge_index=RING.float(), num_nodes=3)], 2),
     TypeError, r'dataset\[1\]\.edge_index'),
    ('canonicalize-nan', lambda: canonicalize_signs(
        _nan_at_0(torch.randn(6, 3))), ValueError, 'vecs'),
    ('canonicalize-inf', lambda: canonicalize_signs(
        torch.tensor([[float('inf'), 1.0], [0.0, 1.0]])), ValueError,
     'vecs'),
    ('eigenspace-ids-nan', lambda: eigenspace_ids(
        _nan_at_0(torch.rand(1, 4))), ValueError, 'eigvals'),
    ('multiplicities-nan', lambda: multiplicities(
        _nan_at_0(torch.rand(1, 4))), ValueError, 'eigvals'),
    ('multiplicities-nan-masked', lambda: multiplicities(
        _nan_at_0(torch.rand(2, 4)), torch.ones(2, 4, dtype=torch.bool)),
     ValueError, 'eigvals'),
]


@pytest.mark.parametrize('call,exc,name', [b[1:] for b in AUDIT_BAD],
                         ids=[b[0] for b in AUDIT_BAD])
def test_audit_bad_input_raises_naming_argument(call, exc, name) -> None:
    with pytest.raises(exc, match=name):
        call()


def test_precompute_graph_without_edge_index_is_edgeless() -> None:
    """A list graph without ``edge_index`` is treated as the per-graph
    transform treats it (no edges), not an AttributeError: the eigenpairs
    of 4 isolated nodes under 'none' are all 0 with the identity basis up
    to order."""
    out = precompute_eigen_pe([RING_G.clone(), Data(x=torch.zeros(4, 1))],
                              4, normalization='none', on_cut='ignore')
    ref = AddEigenPE(4, normalization='none', on_cut='ignore')(
        Data(x=torch.zeros(4, 1)))
    assert out[1].eigvecs.shape == (4, 4)
    torch.testing.assert_close(out[1].eigvals, ref.eigvals)
    torch.testing.assert_close(out[1].eigvals, torch.zeros(1, 4))
    V = out[1].eigvecs.double()
    torch.testing.assert_close(V.T @ V, torch.eye(4, dtype=f64))


def test_attr_prefix_valid_names_still_work() -> None:
    out = AddEigenPE(2, attr_prefix='lap', on_cut='ignore')(RING_G.clone())
    assert out.lapvecs.shape == (3, 2)
    assert out.lapvals.shape == (1, 2)
    assert out.lap_mask.shape == (1, 2)


# --- 2026-12-03 audit ------------------------------------------------------

def test_batch_out_of_range_id_is_a_clear_error():
    from torch_geometric.data import Batch
    g = Data(x=torch.randn(3, 2),
             edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
    b = Batch.from_data_list([g, g.clone()])
    b.edge_index[0, 0] = 50
    with pytest.raises(ValueError, match=r'edge_index.*\[0, 6\).*50'):
        AddEigenPE(2)(b)


def test_precompute_refuses_integer_weights_and_non_bool_progress():
    g = Data(edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=2,
             edge_weight=torch.tensor([1, 2]))
    # the per-graph transform refuses integer weights: so does the fast path
    with pytest.raises(TypeError, match='edge_weight'):
        AddEigenPE(1)(g.clone())
    with pytest.raises(TypeError, match='edge_weight of graph 0'):
        precompute_eigen_pe([g.clone()], 1)
    g.edge_weight = g.edge_weight.float()
    with pytest.raises(TypeError, match='progress_bar'):
        precompute_eigen_pe([g.clone()], 1, progress_bar='yes')
    out = precompute_eigen_pe([g.clone()], 1)[0]
    ref = AddEigenPE(1)(g.clone())
    assert torch.allclose(out.eigvals, ref.eigvals)
