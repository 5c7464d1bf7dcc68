"""Parity of ``BasisNet(preset='reference')`` with the graph-level BasisNet of
the SPE repository (``Graph-COM/SPE``: ``src/sign_inv_pe.py:BasisInvPE`` +
``IGNBasisInv``, ``src/ign.py:IGN2to1`` / ``layer_2_to_1`` /
``layer_1_to_1``, ``src/gin.py:GIN``, ``src/mlp.py:MLP``,
``src/utils.py:get_projections``).

``ref_*`` below is an independent per-graph port of that forward, written
from reading the reference code (per graph, dense projectors, the 15-line
contractions, rounding-based eigenvalue grouping, dense adjacency for GIN),
in evaluation mode. Weights are copied across through a state dict with the
reference's layout. One deliberate difference: the reference lays out the
``[#spaces, d, n]`` IGN output with ``reshape(n, -1)``, which mixes rows of
different nodes; the port (like pyg_ext) gives node ``j`` its own entries,
``permute(2, 0, 1).reshape(n, -1)`` (``test_reference_layout_bug`` shows
why).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from pyg_ext.nn import BasisNet
from pyg_ext.transforms import AddEigenPE
from pyg_ext.utils.eigen import eigenspace_ids

F64 = torch.float64
BN_EPS = 1e-5


# graphs ------------------------------------------------------------------

def _undirected(edges: list[tuple[int, int]], n: int) -> Data:
    ei = torch.tensor(edges, dtype=torch.long).T.reshape(2, -1)
    return Data(edge_index=torch.cat([ei, ei.flip(0)], 1), num_nodes=n)


def cycle(n: int) -> Data:
    return _undirected([(i, (i + 1) % n) for i in range(n)], n)


def star(leaves: int, tail: bool = False) -> Data:
    e = [(0, i) for i in range(1, leaves + 1)]
    if tail:
        e.append((leaves, leaves + 1))
    return _undirected(e, leaves + 1 + int(tail))


def hypercube(dim: int) -> Data:
    n = 2 ** dim
    return _undirected([(u, u ^ (1 << b)) for u in range(n)
                        for b in range(dim) if u < u ^ (1 << b)], n)


def random_graph(n: int, p: float, seed: int) -> Data:
    g = torch.Generator().manual_seed(seed)
    e = [(i, i + 1) for i in range(n - 1)]  # connected
    e += [(i, j) for i in range(n) for j in range(i + 2, n)
          if torch.rand(1, generator=g).item() < p]
    return _undirected(e, n)


def parity_batch(k: int) -> Batch:
    # repeated eigenvalues (cycles: multiplicity 2, Q3: 3, stars: n - 2),
    # padding (n < k) and several sizes
    graphs = [cycle(8), star(6), cycle(4), hypercube(3), star(5, tail=True),
              random_graph(11, 0.3, 0), cycle(3), cycle(12), star(2),
              random_graph(17, 0.2, 1)]
    tr = AddEigenPE(k, dtype=F64)
    return Batch.from_data_list([tr(g) for g in graphs])


# the reference forward, ported per graph -----------------------------------

def ref_get_projections(lam: Tensor, V: Tensor
                        ) -> dict[int, Tensor]:
    """``get_projections``: round to 5 decimals, group equal values,
    projectors ``[#spaces, 1, n, n]`` keyed by multiplicity."""
    n = V.size(0)
    d = min(n, lam.size(-1))
    vals = torch.round(lam[:d] * 1e5) / 1e5
    _, counts = vals.unique(return_counts=True)
    ends = torch.cumsum(counts, 0)
    spaces = torch.tensor_split(V, ends, dim=1)[:-1]
    out: dict[int, list[Tensor]] = {}
    for Vi, c in zip(spaces, counts.tolist()):
        out.setdefault(c, []).append((Vi @ Vi.T).reshape(1, 1, n, n))
    return {m: torch.cat(out[m], 0) for m in sorted(out)}


def ref_contractions_2to1(x: Tensor) -> list[Tensor]:
    m = x.size(3)
    diag = torch.diagonal(x, dim1=2, dim2=3)
    return [diag,
            diag.sum(2, keepdim=True).expand(-1, -1, m) / m,
            x.sum(3) / m,
            x.sum(2) / m,
            x.sum((2, 3)).unsqueeze(2).expand(-1, -1, m) / m ** 2]


def ref_bn(x: Tensor, sd: dict[str, Tensor], p: str) -> Tensor:
    # BatchNorm1d in eval mode; x [b, C, n] or [N, C]
    shape = (1, -1, 1) if x.dim() == 3 else (1, -1)
    mean = sd[p + '.running_mean'].view(shape)
    var = sd[p + '.running_var'].view(shape)
    return ((x - mean) / torch.sqrt(var + BN_EPS)
            * sd[p + '.weight'].view(shape) + sd[p + '.bias'].view(shape))


def ref_ign2to1(x: Tensor, sd: dict[str, Tensor], p: str) -> Tensor:
    """``IGN2to1.forward``: [b, 1, n, n] -> [b, d, n]."""
    ops = torch.stack(ref_contractions_2to1(x), dim=2)  # b x D x 5 x n
    h = torch.einsum('dsb,ndbi->nsi', sd[p + '.equi_layers.0.coeffs'], ops)
    h = h + sd[p + '.equi_layers.0.bias']
    h = ref_bn(torch.relu(h), sd, p + '.bns.0')
    for i in (1, 2):
        m = h.size(2)
        ops = torch.stack([h, h.sum(2, keepdim=True).expand(-1, -1, m) / m],
                          dim=2)
        h = torch.einsum('dsb,ndbi->nsi',
                         sd[f'{p}.equi_layers.{i}.coeffs'], ops)
        h = h + sd[f'{p}.equi_layers.{i}.bias']
        h = ref_bn(torch.relu(h), sd, f'{p}.bns.{i}')
    h = h.transpose(2, 1)
    h = torch.relu(h @ sd[p + '.fc1.weight'].T + sd[p + '.fc1.bias'])
    h = h @ sd[p + '.fc2.weight'].T + sd[p + '.fc2.bias']
    return h.transpose(2, 1)


def ref_mlp(x: Tensor, sd: dict[str, Tensor], p: str, n_layers: int
            ) -> Tensor:
    for i in range(n_layers - 1):
        q = f'{p}.layers.{i}'
        x = x @ sd[q + '.fc.weight'].T + sd[q + '.fc.bias']
        x = torch.relu(ref_bn(x, sd, q + '.bn'))
    return x @ sd[p + '.fc.weight'].T + sd[p + '.fc.bias']


def ref_gin(x: Tensor, A: Tensor, sd: dict[str, Tensor], n_layers: int,
            mlp_layers: int) -> Tensor:
    for i in range(n_layers):
        p = f'rho.layers.{i}'
        x = ref_mlp((1 + sd[p + '.eps']) * x + A @ x, sd, p + '.mlp',
                    mlp_layers)
    return x


def ref_basis_inv_pe(b: Batch, sd: dict[str, Tensor], k: int, rho_layers: int,
                     mlp_layers: int = 3) -> Tensor:
    """``BasisInvPE.forward`` graph by graph (layout fixed, see module)."""
    feats = []
    for i, g in enumerate(b.to_data_list()):
        n = g.num_nodes
        projs = ref_get_projections(g.eigvals[0], g.eigvecs)
        outs = [ref_ign2to1(P, sd, f'phi.encs.{mult - 1}')
                for mult, P in projs.items()]
        # reference: phi_out.reshape(N, -1); here node j keeps its rows
        f = torch.cat([o.permute(2, 0, 1).reshape(n, -1) for o in outs], -1)
        f = torch.cat([f, f.new_zeros(n, k - min(n, k))], -1)
        feats.append(torch.cat([f, b.eigvals[i].expand(n, k)], -1))
    x = torch.cat(feats, 0)
    A = torch.zeros(x.size(0), x.size(0), dtype=x.dtype)
    A.index_put_((b.edge_index[1], b.edge_index[0]),
                 torch.ones(b.edge_index.size(1), dtype=x.dtype),
                 accumulate=True)
    return ref_gin(x, A, sd, rho_layers, mlp_layers)


def to_reference_state(enc: BasisNet) -> dict[str, Tensor]:
    """Our weights under the reference module names and shapes."""
    sd: dict[str, Tensor] = {}
    for d, phi in enumerate(enc.phi, start=1):
        p = f'phi.encs.{d - 1}'
        sd[p + '.equi_layers.0.coeffs'] = phi.coeffs_2to1.detach()
        sd[p + '.equi_layers.0.bias'] = phi.bias_2to1.detach().view(1, -1, 1)
        for i in range(2):
            sd[f'{p}.equi_layers.{i + 1}.coeffs'] = \
                phi.coeffs_1to1[i].detach()
            sd[f'{p}.equi_layers.{i + 1}.bias'] = \
                phi.bias_1to1[i].detach().view(1, -1, 1)
        for name, t in phi.state_dict().items():
            if name.startswith(('bns.', 'fc1.', 'fc2.')):
                sd[f'{p}.{name}'] = t
    for i, m in enumerate(enc.rho.mlps):
        p = f'rho.layers.{i}'
        sd[p + '.eps'] = enc.rho.eps[i].detach().view(1)
        for j, (lin, bn) in enumerate(zip(m.lins, m.bns)):
            q = f'{p}.mlp.layers.{j}'
            sd[q + '.fc.weight'], sd[q + '.fc.bias'] = lin.weight, lin.bias
            for name, t in bn.state_dict().items():
                sd[f'{q}.bn.{name}'] = t
        sd[p + '.mlp.fc.weight'] = m.out.weight
        sd[p + '.mlp.fc.bias'] = m.out.bias
    return {key: v.detach() for key, v in sd.items()}


def randomise_norms(enc: torch.nn.Module, seed: int) -> None:
    """Non-trivial BatchNorm statistics and affine parameters and biases
    (fresh ones are identity / zero, which would hide layout errors)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in enc.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
                m.weight.copy_(torch.randn(c, generator=g) * 0.5 + 1)
                m.bias.copy_(torch.randn(c, generator=g) * 0.3)
        for name, p in enc.named_parameters():
            if 'bias_' in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)


def make_reference(k: int, seed: int = 0, **kw: int) -> BasisNet:
    torch.manual_seed(seed)
    kw.setdefault('hidden_channels', 16)
    kw.setdefault('rho_layers', 3)
    enc = BasisNet(k, 5, preset='reference', **kw).double()
    randomise_norms(enc, seed + 1)
    return enc.eval()


def run(enc: BasisNet, b: Data, vecs: Tensor | None = None) -> Tensor:
    return enc(b.eigvecs if vecs is None else vecs, b.eigvals, b.edge_index,
               getattr(b, 'batch', None), b.eig_mask)


# parity ------------------------------------------------------------------

@pytest.mark.filterwarnings('ignore:.*cuts through a repeated eigenvalue')
@pytest.mark.parametrize('k', [8, 5])
def test_reference_preset_matches_reference_forward(k: int) -> None:
    b = parity_batch(k)
    mults = []
    for g in b.to_data_list():
        mults += list(ref_get_projections(g.eigvals[0], g.eigvecs))
    assert max(mults) >= 3 and 2 in mults  # repeated eigenvalues present
    assert int(b.eig_mask.sum(1).min()) < k  # some graph is padded
    enc = make_reference(k)
    ours = run(enc, b)
    ref = ref_basis_inv_pe(b, to_reference_state(enc), k, enc.rho_layers)
    err = (ours - ref).abs().max().item()
    assert ours.shape == (b.num_nodes, 5)
    assert err < 1e-6, err
    assert ref.abs().max() > 1e-2  # not a trivially zero comparison


def test_reference_multiplicity_dependent_width() -> None:
    # multiplicity d -> d features: the d-th IGN outputs d channels, and a
    # star K_{1,6} (sym-Laplacian eigenvalue 1 with multiplicity 5) fills
    # 1 + 5 + 1 = 7 feature columns, the padding column stays zero
    enc = make_reference(8)
    assert [phi.fc2.out_features for phi in enc.phi] == list(range(1, 9))
    data = AddEigenPE(8, dtype=F64)(star(6))
    feats = {}
    enc.rho.register_forward_pre_hook(
        lambda m, args: feats.__setitem__('x', args[0]))
    run(enc, data)
    x = feats['x']  # [n, 2k]: 8 IGN columns, then 8 eigenvalues
    assert x.shape == (7, 16)
    assert (x[:, :7].abs().sum(0) > 0).all()
    assert (x[:, 7] == 0).all()
    assert torch.equal(x[:, 8:], data.eigvals.expand(7, 8))


def test_reference_layout_bug() -> None:
    """Why the port does not use the reference's ``reshape(N, -1)``: on C6
    (vertex transitive) every node must get the same features, but the
    literal reshape gives nodes 0-2 and 3-5 different ones."""
    n = 6
    out = torch.arange(2 * n, dtype=F64).view(1, 2, n)  # [1 space, d=2, n]
    literal = out.reshape(n, -1)
    fixed = out.permute(2, 0, 1).reshape(n, -1)
    assert torch.equal(fixed[:, 0], out[0, 0]) and torch.equal(
        fixed[:, 1], out[0, 1])
    assert not torch.equal(literal, fixed)
    data = AddEigenPE(5, dtype=F64)(cycle(n))
    y = run(make_reference(5), data)
    assert (y - y[:1]).abs().max() < 1e-10  # all nodes alike, as they must


# invariances -------------------------------------------------------------

def rotate_eigenspaces(b: Data, gen: torch.Generator) -> Tensor:
    V = b.eigvecs.clone()
    gid = eigenspace_ids(b.eigvals, b.eig_mask.bool())
    batch = getattr(b, 'batch', None)
    batch = torch.zeros(V.size(0), dtype=torch.long) if batch is None \
        else batch
    for gi in range(b.eigvals.size(0)):
        rows = (batch == gi).nonzero().view(-1)
        for s in gid[gi][b.eig_mask[gi].bool()].unique():
            cols = ((gid[gi] == s) & b.eig_mask[gi].bool()).nonzero().view(-1)
            Q, _ = torch.linalg.qr(torch.randn(len(cols), len(cols),
                                               dtype=F64, generator=gen))
            V[rows.unsqueeze(1), cols] = V[rows.unsqueeze(1), cols] @ Q
    return V


GAP_GRAPHS = [('C8', cycle(8), 7), ('Q3', hypercube(3), 7),
              ('star', star(5, tail=True), 6), ('K1_6', star(6), 7)]


@pytest.mark.parametrize('name,graph,k', GAP_GRAPHS,
                         ids=[g[0] for g in GAP_GRAPHS])
def test_reference_basis_sign_permutation_invariance(
        name: str, graph: Data, k: int) -> None:
    gen = torch.Generator().manual_seed(0)
    tr = AddEigenPE(k, dtype=F64)
    data = tr(graph.clone())
    enc = make_reference(k)
    out = run(enc, data)
    rot_err = (run(enc, data, rotate_eigenspaces(data, gen)) - out)
    assert rot_err.abs().max() < 1e-10
    signs = torch.randint(0, 2, (1, k), generator=gen).to(F64) * 2 - 1
    assert (run(enc, data, data.eigvecs * signs) - out).abs().max() < 1e-10
    perm = torch.randperm(graph.num_nodes, generator=gen)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(len(perm))
    permuted = tr(Data(edge_index=inv[graph.edge_index],
                       num_nodes=graph.num_nodes))
    assert (run(enc, permuted) - out[perm]).abs().max() < 1e-10


def test_reference_batch_rotation_and_singles() -> None:
    # k = 7 is at an eigengap (or covers all pairs) for every graph here
    k = 7
    tr = AddEigenPE(k, dtype=F64)
    graphs = [cycle(8), star(6), cycle(4), hypercube(3), cycle(3)]
    b = Batch.from_data_list([tr(g) for g in graphs])
    enc = make_reference(k)
    out = run(enc, b)
    singles = torch.cat([run(enc, tr(g)) for g in graphs])
    assert (out - singles).abs().max() < 1e-10
    V = rotate_eigenspaces(b, torch.Generator().manual_seed(3))
    assert (V - b.eigvecs).abs().max() > 1e-3  # something was rotated
    assert (run(enc, b, V) - out).abs().max() < 1e-10


def test_reference_float32_rotation() -> None:
    data = AddEigenPE(7)(hypercube(3))
    enc = make_reference(7).float().eval()
    rot = rotate_eigenspaces(
        Data(eigvecs=data.eigvecs.double(), eigvals=data.eigvals.double(),
             eig_mask=data.eig_mask), torch.Generator().manual_seed(2))
    err = (run(enc, data, rot.float()) - run(enc, data)).abs().max()
    assert err < 1e-4


# grouped gather ------------------------------------------------------------

def test_reference_each_ign_only_sees_its_multiplicity() -> None:
    # C8 with k = 7: multiplicities 1 and 2 only -> IGNs 3..7 get no
    # gradient, IGNs 1 and 2 do
    enc = make_reference(7).train()
    data = AddEigenPE(7, dtype=F64)(cycle(8))
    run(enc, data).square().sum().backward()
    used = [phi.fc2.weight.grad is not None
            and bool(phi.fc2.weight.grad.abs().sum() > 0) for phi in enc.phi]
    assert used == [True, True, False, False, False, False, False]


def test_pyg_ext_full_only_runs_its_multiplicity() -> None:
    # the default preset's 'full' path no longer runs every IGN on every
    # slot: IGN d is called with exactly the eigenspaces of multiplicity d
    k = 7
    enc = BasisNet(k, 4, hidden_channels=8, per_multiplicity='full').double()
    seen: dict[int, int] = {}
    for d, m in enumerate(enc.entry, start=1):
        m.register_forward_hook(
            lambda mod, a, o, d=d: seen.__setitem__(d, a[0].shape[0]))
    b = Batch.from_data_list([AddEigenPE(k, dtype=F64)(g)
                              for g in (cycle(8), star(6))])
    run(enc, b)
    # C8: 0, (a, a), (1, 1), (b, b); K1_6: 0, 1 x5, 2 -> three simple
    # eigenvalues, three pairs, one multiplicity 5 (the old code ran all k
    # IGNs on all B * k slots)
    assert seen == {1: 3, 2: 3, 5: 1}


def test_reference_preset_arguments() -> None:
    with pytest.raises(ValueError, match='ign_channels'):
        BasisNet(4, 8, ign_channels=4, preset='reference')
    with pytest.raises(ValueError, match='phi_out_channels'):
        BasisNet(4, 8, phi_out_channels=4, preset='reference')
    with pytest.raises(ValueError, match='per_multiplicity'):
        BasisNet(4, 8, per_multiplicity='head', preset='reference')
    with pytest.raises(ValueError, match='preset'):
        BasisNet(4, 8, preset='paper')
    with pytest.raises(TypeError, match='hidden_channels'):
        BasisNet(4, 8, hidden_channels=None, preset='reference')
    enc = BasisNet(4, 8, preset='reference')
    assert "preset='reference'" in repr(enc)
    assert enc.hidden_channels == 120 and enc.rho_layers == 8
    assert "preset='pyg_ext'" in repr(BasisNet(4, 8))


@pytest.mark.filterwarnings('ignore:.*cuts through a repeated eigenvalue')
def test_basisnet_timing_bench_runs() -> None:
    """The `bench csl --basisnet-timing` measurement runs both modes on the
    same graphs (a benchmark, not a timed test: no bound on the ratio)."""
    from pyg_ext.bench.csl import basisnet_timing
    res = basisnet_timing(num_graphs=4, repeats=1, seed=0)
    assert res['full_over_head'] > 0
