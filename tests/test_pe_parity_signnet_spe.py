"""Reference parity of ``SignNet(preset='reference')`` and
``SPE(preset='reference')`` (issue #17).

Each reference forward is ported here, independently of
``pyg_ext/nn/pe/_signnet_spe_ref.py``, from reading the authors' code, with
the authors' module layout and operations (dense adjacency matrices instead
of DGL / PyG message passing, an explicit Python loop over graphs where the
reference loops):

* SignNet: ``cptq/SignNet-BasisNet`` @07f3118,
  ``GraphPrediction/layers/deepsigns.py`` (``GINDeepSigns``,
  ``MaskedGINDeepSigns``), ``layers/gnns.py`` (``GIN`` of DGL ``GINConv``
  with ``eps=0``), ``layers/mlp.py`` (``MLP``), ``use_bn=True`` as in
  ``nets/ZINC_graph_regression/sign_inv_net.py``.
* SPE: ``Graph-COM/SPE`` @22b1003, ``src/stable_expressive_pe.py``
  (``StableExpressivePE``, ``GINPhi``), ``src/gin.py``, ``src/mlp.py``,
  ``src/deepsets.py``, built as ``src/model.py:construct_model`` does for
  ``configs/zinc/SPE_gine_gin_mlp_pe37.yaml`` (psi MLPs with BatchNorm) and
  ``SPE_gine_gin_deepsets_pe8.yaml`` (DeepSets psi).

Weights are copied from the pyg_ext module into the port through an
explicit ``load_state_dict`` name mapping (strict), BatchNorm affine
parameters and running statistics are randomised, and both run in float64
on one batch with repeated eigenvalues (cycles, a star), padding (``n < k``)
and sizes 3..10, in eval mode and in train mode (batch statistics and the
updated running statistics compared too).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pyg_ext.nn import SPE, SignNet

F64 = torch.float64
K = 8
TOL = 1e-6


# ---------------------------------------------------------------- data ---

def _undirected(pairs: list[tuple[int, int]]) -> Tensor:
    ei = torch.tensor(pairs, dtype=torch.long).T
    return torch.cat([ei, ei.flip(0)], 1)


def _graphs() -> list[tuple[int, Tensor]]:
    """(n, edge_index) of: C8 (n = k, eigenvalue multiplicity 2), C6 and P3
    (n < k: padding), the star K_{1,4} (eigenvalue 1 of multiplicity 3) and
    a fixed connected random graph on 10 nodes (n > k)."""
    gen = torch.Generator().manual_seed(3)
    rnd = [(i, i + 1) for i in range(9)]
    extra = torch.randint(0, 10, (2, 8), generator=gen)
    rnd += [(int(a), int(b)) for a, b in extra.T if int(a) != int(b)]
    return [
        (8, _undirected([(i, (i + 1) % 8) for i in range(8)])),
        (3, _undirected([(0, 1), (1, 2)])),
        (6, _undirected([(i, (i + 1) % 6) for i in range(6)])),
        (10, _undirected(rnd)),
        (5, _undirected([(0, i) for i in range(1, 5)])),
    ]


def _batch() -> dict[str, Any]:
    """Per-graph dense symmetric-Laplacian eigenpairs (``torch.linalg.eigh``,
    float64), zero-padded to ``K``, concatenated as a PyG batch."""
    vecs, vals, masks, eis, batch, sizes = [], [], [], [], [], []
    offset = 0
    for g, (n, ei) in enumerate(_graphs()):
        A = torch.zeros(n, n, dtype=F64)
        A[ei[1], ei[0]] = 1.0
        d = A.sum(1).clamp(min=1).rsqrt()
        lam, U = torch.linalg.eigh(torch.eye(n, dtype=F64)
                                   - d[:, None] * A * d[None, :])
        m = min(n, K)
        V = torch.zeros(n, K, dtype=F64)
        V[:, :m] = U[:, :m]
        val = torch.zeros(1, K, dtype=F64)
        val[0, :m] = lam[:m]
        vecs.append(V)
        vals.append(val)
        masks.append(torch.arange(K).unsqueeze(0) < m)
        eis.append(ei + offset)
        batch.append(torch.full((n,), g, dtype=torch.long))
        sizes.append(n)
        offset += n
    out = {'eigvecs': torch.cat(vecs), 'eigvals': torch.cat(vals),
           'eig_mask': torch.cat(masks), 'edge_index': torch.cat(eis, 1),
           'batch': torch.cat(batch), 'sizes': sizes}
    # repeated eigenvalues really are present (C8, C6, star)
    lam = out['eigvals']
    gaps = (lam[:, 1:] - lam[:, :-1]).abs() < 1e-9
    assert bool((gaps & out['eig_mask'][:, 1:]).any())
    return out


def _dense_adj(edge_index: Tensor, n: int) -> Tensor:
    """``A[dst, src]`` = number of edges ``src -> dst`` (loop over edges)."""
    A = torch.zeros(n, n, dtype=F64)
    for s, d in edge_index.T.tolist():
        A[d, s] += 1.0
    return A


def _neighbour_sum(A: Tensor, x: Tensor) -> Tensor:
    return torch.einsum('ij,j...->i...', A, x)


def _randomise(module: nn.Module, seed: int) -> None:
    """Non-trivial BatchNorm affine parameters and running statistics (and
    perturbed weights) so that every part of the forward matters."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm1d):
                c = m.num_features
                m.weight.copy_(1 + 0.3 * torch.randn(c, generator=gen))
                m.bias.copy_(0.3 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.5 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(c, generator=gen))


# ------------------------------------------------- SignNet reference port ---

class _RefSignMLP(nn.Module):
    """layers/mlp.py MLP(use_bn=True): lin -> act -> bn -> dropout; last
    lin."""

    def __init__(self, cin: int, ch: int, cout: int, num_layers: int,
                 dropout: float) -> None:
        super().__init__()
        self.lins = nn.ModuleList()
        self.bns = nn.ModuleList()
        if num_layers == 1:
            self.lins.append(nn.Linear(cin, cout))
        else:
            self.lins.append(nn.Linear(cin, ch))
            self.bns.append(nn.BatchNorm1d(ch))
            for _ in range(num_layers - 2):
                self.lins.append(nn.Linear(ch, ch))
                self.bns.append(nn.BatchNorm1d(ch))
            self.lins.append(nn.Linear(ch, cout))
        self.dropout = dropout

    def forward(self, x: Tensor) -> Tensor:
        for i, lin in enumerate(self.lins[:-1]):
            x = lin(x)
            x = torch.relu(x)
            if x.ndim == 2:
                x = self.bns[i](x)
            else:
                x = self.bns[i](x.transpose(2, 1)).transpose(2, 1)
            x = F.dropout(x, p=self.dropout, training=self.training)
        return self.lins[-1](x)


class _RefGINConv(nn.Module):
    """DGL GINConv(apply_func, 'sum'), init_eps=0, learn_eps=False."""

    def __init__(self, apply_func: nn.Module) -> None:
        super().__init__()
        self.apply_func = apply_func

    def forward(self, A: Tensor, x: Tensor) -> Tensor:
        return self.apply_func((1 + 0.0) * x + _neighbour_sum(A, x))


class _RefSignGIN(nn.Module):
    """layers/gnns.py GIN(use_bn=True)."""

    def __init__(self, cin: int, ch: int, cout: int, n_layers: int,
                 dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        self.bns = nn.ModuleList()
        self.layers.append(_RefGINConv(_RefSignMLP(cin, ch, ch, 2, dropout)))
        for _ in range(n_layers - 2):
            self.layers.append(
                _RefGINConv(_RefSignMLP(ch, ch, ch, 2, dropout)))
            self.bns.append(nn.BatchNorm1d(ch))
        self.layers.append(_RefGINConv(_RefSignMLP(ch, ch, cout, 2, dropout)))
        self.bns.append(nn.BatchNorm1d(ch))
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, A: Tensor, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            if i != 0:
                x = self.dropout(x)
                x = self.bns[i - 1](x.transpose(2, 1)).transpose(2, 1)
            x = layer(A, x)
        return x


class _RefGINDeepSigns(nn.Module):
    """deepsigns.py GINDeepSigns (masked=False) / MaskedGINDeepSigns."""

    def __init__(self, ch: int, phi_out: int, n_layers: int, k: int,
                 cout: int, rho_layers: int, masked: bool,
                 dropout: float) -> None:
        super().__init__()
        self.enc = _RefSignGIN(1, ch, phi_out, n_layers, dropout)
        self.rho = _RefSignMLP(phi_out if masked else phi_out * k, ch, cout,
                               rho_layers, dropout)
        self.k, self.masked = k, masked

    def forward(self, A: Tensor, x: Tensor, sizes: list[int]) -> Tensor:
        x = x.unsqueeze(-1)  # [N, k, 1] (handle_lap in train_ZINC...)
        x = self.enc(A, x) + self.enc(A, -x)
        if not self.masked:
            return self.rho(x.reshape(x.shape[0], -1))
        n_nodes = torch.cat([torch.full((s,), float(s)) for s in sizes])
        mask = torch.cat([torch.arange(x.shape[1]).unsqueeze(0)
                          for _ in range(x.shape[0])])
        mask = mask < n_nodes.unsqueeze(1)
        x = x.clone()
        x[~mask] = 0
        return self.rho(x.sum(dim=1))


def _signnet_mapping(ours: dict[str, Tensor], n_layers: int,
                     rho_layers: int) -> dict[str, Tensor]:
    """pyg_ext SignNet(preset='reference') names -> reference names."""
    out: dict[str, Tensor] = {}
    bn_keys = ('weight', 'bias', 'running_mean', 'running_var',
               'num_batches_tracked')
    for i in range(n_layers):
        for j in range(2):
            for p in ('weight', 'bias'):
                out[f'enc.layers.{i}.apply_func.lins.{j}.{p}'] = ours[
                    f'phi.mlps.{i}.lins.{j}.{p}']
        for p in bn_keys:
            out[f'enc.layers.{i}.apply_func.bns.0.{p}'] = ours[
                f'phi.mlps.{i}.bns.0.{p}']
    for i in range(n_layers - 1):
        for p in bn_keys:
            out[f'enc.bns.{i}.{p}'] = ours[f'phi.bns.{i}.{p}']
    for j in range(rho_layers):
        for p in ('weight', 'bias'):
            out[f'rho.lins.{j}.{p}'] = ours[f'rho.lins.{j}.{p}']
    for j in range(rho_layers - 1):
        for p in bn_keys:
            out[f'rho.bns.{j}.{p}'] = ours[f'rho.bns.{j}.{p}']
    assert len(out) == len(ours), sorted(set(ours) - set(out.values()))
    return out


def _running_stats(module: nn.Module) -> list[Tensor]:
    return [t for m in module.modules() if isinstance(m, nn.BatchNorm1d)
            for t in (m.running_mean, m.running_var)]


def _signnet_pair(rho: str, phi_layers: int, rho_layers: int,
                  dropout: float = 0.0) -> tuple[SignNet, nn.Module]:
    torch.manual_seed(0)
    ours = SignNet(K, K, hidden_channels=12, phi_out_channels=4,
                   phi_layers=phi_layers, rho_layers=rho_layers, rho=rho,
                   preset='reference', dropout=dropout).to(F64)
    _randomise(ours, 1)
    ref = _RefGINDeepSigns(12, 4, phi_layers, K, K, rho_layers,
                           rho == 'deepset', dropout).to(F64)
    ref.load_state_dict(_signnet_mapping(ours.state_dict(), phi_layers,
                                         rho_layers), strict=True)
    return ours, ref


SIGNNET_CASES = [('mlp', 8, 8), ('mlp', 2, 1), ('mlp', 3, 2),
                 ('deepset', 4, 3)]


@pytest.mark.parametrize('train', [False, True], ids=['eval', 'train'])
@pytest.mark.parametrize('rho,phi_layers,rho_layers', SIGNNET_CASES)
def test_signnet_reference_parity(rho: str, phi_layers: int,
                                  rho_layers: int, train: bool) -> None:
    b = _batch()
    ours, ref = _signnet_pair(rho, phi_layers, rho_layers)
    ours.train(train)
    ref.train(train)
    A = _dense_adj(b['edge_index'], b['eigvecs'].size(0))
    out = ours(b['eigvecs'], b['eigvals'], b['edge_index'], b['batch'],
               b['eig_mask'])
    exp = ref(A, b['eigvecs'], b['sizes'])
    assert out.shape == exp.shape == (b['eigvecs'].size(0), K)
    err = float((out - exp).abs().max().detach())
    assert err <= TOL, err
    assert float(exp.detach().abs().max()) > 1e-3  # not a vacuous comparison
    for r, o in zip(_running_stats(ref), _running_stats(ours)):
        torch.testing.assert_close(o, r, rtol=0, atol=TOL)
    # gradients agree too
    out.square().sum().backward()
    exp.square().sum().backward()
    g_ours = ours.phi.mlps[0].lins[0].weight.grad
    g_ref = ref.enc.layers[0].apply_func.lins[0].weight.grad
    torch.testing.assert_close(g_ours, g_ref, rtol=0, atol=TOL)


def test_signnet_reference_eval_equals_per_graph_loop() -> None:
    # in eval mode the (batched) reference equals a loop over the graphs
    b = _batch()
    ours, ref = _signnet_pair('mlp', 3, 2, dropout=0.25)
    ours.eval()
    ref.eval()
    out = ours(b['eigvecs'], b['eigvals'], b['edge_index'], b['batch'],
               b['eig_mask'])
    rows, start = [], 0
    for g, n in enumerate(b['sizes']):
        sel = b['batch'] == g
        ei = b['edge_index'][:, sel[b['edge_index'][0]]] - start
        rows.append(ref(_dense_adj(ei, n), b['eigvecs'][sel], [n]))
        start += n
    torch.testing.assert_close(out, torch.cat(rows), rtol=0, atol=TOL)


def test_signnet_reference_is_sign_invariant_and_differs_from_default(
        ) -> None:
    b = _batch()
    ours, _ = _signnet_pair('mlp', 3, 2)
    ours.eval()
    args = (b['eigvals'], b['edge_index'], b['batch'], b['eig_mask'])
    sign = torch.tensor([1, -1, 1, -1, -1, 1, 1, -1], dtype=F64)
    torch.testing.assert_close(ours(b['eigvecs'] * sign, *args),
                               ours(b['eigvecs'], *args), rtol=0, atol=1e-12)
    assert not ours.use_eigvals and ours.preset == 'reference'
    assert SignNet(K, K).use_eigvals  # the default preset is unchanged


# ----------------------------------------------------- SPE reference port ---

class _RefSPEMLPLayer(nn.Module):
    """src/mlp.py MLPLayer: fc -> bn (reshape to [-1, D]) -> act -> drop."""

    def __init__(self, cin: int, cout: int, use_bn: bool,
                 dropout: float) -> None:
        super().__init__()
        self.fc = nn.Linear(cin, cout, bias=True)
        self.bn = nn.BatchNorm1d(cout) if use_bn else None
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, X: Tensor) -> Tensor:
        X = self.fc(X)
        if self.bn is not None:
            shape = X.size()
            X = self.bn(X.reshape(-1, shape[-1])).reshape(shape)
        return self.dropout(torch.relu(X))


class _RefSPEMLP(nn.Module):
    """src/mlp.py MLP."""

    def __init__(self, n_layers: int, cin: int, ch: int, cout: int,
                 use_bn: bool, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        for _ in range(n_layers - 1):
            self.layers.append(_RefSPEMLPLayer(cin, ch, use_bn, dropout))
            cin = ch
        self.fc = nn.Linear(ch, cout, bias=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, X: Tensor) -> Tensor:
        for layer in self.layers:
            X = layer(X)
        return self.dropout(self.fc(X))


class _RefDeepSetsLayer(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.fc_curr = nn.Linear(cin, cout, bias=True)
        self.fc_all = nn.Linear(cin, cout, bias=False)

    def forward(self, X: Tensor) -> Tensor:
        return torch.relu(self.fc_curr(X)
                          + self.fc_all(X.sum(dim=1, keepdim=True)))


class _RefDeepSets(nn.Module):
    """src/deepsets.py DeepSets (relu after every layer)."""

    def __init__(self, n_layers: int, cin: int, ch: int, cout: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        for _ in range(n_layers - 1):
            self.layers.append(_RefDeepSetsLayer(cin, ch))
            cin = ch
        self.layers.append(_RefDeepSetsLayer(ch, cout))

    def forward(self, X: Tensor) -> Tensor:
        for layer in self.layers:
            X = layer(X)
        return X


class _RefGINLayer(nn.Module):
    """src/gin.py GINLayer (PyG add aggregation, node_dim=0)."""

    def __init__(self, mlp: nn.Module) -> None:
        super().__init__()
        self.eps = nn.Parameter(torch.randn(1))
        self.mlp = mlp

    def forward(self, X: Tensor, A: Tensor) -> Tensor:
        S = _neighbour_sum(A, X)
        Z = (1 + self.eps) * X
        return self.mlp(Z + S)


class _RefSPEGIN(nn.Module):
    """src/gin.py GIN(bn=False, residual=False) with create_mlp =
    MLP(n_mlp_layers=3, mlp_hidden_dims, use_bn=True)."""

    def __init__(self, n_layers: int, cin: int, ch: int, cout: int,
                 dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        for _ in range(n_layers - 1):
            self.layers.append(
                _RefGINLayer(_RefSPEMLP(3, cin, ch, ch, True, dropout)))
            cin = ch
        self.layers.append(
            _RefGINLayer(_RefSPEMLP(3, ch, ch, cout, True, dropout)))

    def forward(self, X: Tensor, A: Tensor) -> Tensor:
        for layer in self.layers:
            X = layer(X, A)
        return X


class _RefSPE(nn.Module):
    """StableExpressivePE(GINPhi, psi_list): per-graph loop for W, padding
    to N_max, GIN, masked sum over N_max."""

    def __init__(self, k: int, cout: int, m: int, psi_hidden: int,
                 psi_layers: int, ch: int, n_layers: int, psi: str,
                 dropout: float) -> None:
        super().__init__()
        if psi == 'mlp':
            self.psi_list = nn.ModuleList([
                _RefSPEMLP(psi_layers, 1, psi_hidden, 1, True, 0.0)
                for _ in range(m)])
        else:
            self.psi_list = nn.ModuleList([
                _RefDeepSets(psi_layers, 1, psi_hidden, 1)
                for _ in range(m)])
        self.gin = _RefSPEGIN(n_layers, m, ch, cout, dropout)

    def forward(self, Lambda: Tensor, V: Tensor, A: Tensor,
                batch: Tensor) -> Tensor:
        Lambda = Lambda.unsqueeze(dim=2)  # [B, K, 1]
        Z = torch.stack([psi(Lambda).squeeze(dim=2)
                         for psi in self.psi_list], dim=2)  # [B, K, M]
        W_list = []
        for g in range(Z.size(0)):
            Vg = V[batch == g].unsqueeze(0)  # [1, n, K]
            Zg = Z[g].permute(1, 0).diag_embed()  # [M, K, K]
            W = Vg.matmul(Zg).matmul(Vg.mT)  # [M, n, n]
            W_list.append(W.permute(1, 2, 0))  # [n, n, M]
        n_max = max(W.size(0) for W in W_list)
        pads, masks = [], []
        for W in W_list:
            zeros = torch.zeros(W.size(0), n_max - W.size(1), W.size(2),
                                dtype=W.dtype)
            pads.append(torch.cat([W, zeros], dim=1))
            masks.append((torch.arange(n_max) < W.size(0)).tile(
                (W.size(0), 1)))
        W = torch.cat(pads, dim=0)  # [N_sum, N_max, M]
        mask = torch.cat(masks, dim=0)
        PE = self.gin(W, A)
        return (PE * mask.unsqueeze(-1)).sum(dim=1)


def _spe_mapping(ours: dict[str, Tensor], m: int, psi: str, psi_layers: int,
                 n_layers: int) -> dict[str, Tensor]:
    """pyg_ext SPE(preset='reference') names -> reference names."""
    out: dict[str, Tensor] = {}
    bn_keys = ('weight', 'bias', 'running_mean', 'running_var',
               'num_batches_tracked')
    wb = ('weight', 'bias')

    def mlp(dst: str, src: str, n: int) -> None:
        for j in range(n - 1):
            for p in wb:
                out[f'{dst}.layers.{j}.fc.{p}'] = ours[f'{src}.lins.{j}.{p}']
            for p in bn_keys:
                out[f'{dst}.layers.{j}.bn.{p}'] = ours[f'{src}.bns.{j}.{p}']
        for p in wb:
            out[f'{dst}.fc.{p}'] = ours[f'{src}.fc.{p}']

    for ell in range(m):
        if psi == 'mlp':
            mlp(f'psi_list.{ell}', f'phis.{ell}', psi_layers)
        else:
            for j in range(psi_layers):
                for p in wb:
                    out[f'psi_list.{ell}.layers.{j}.fc_curr.{p}'] = ours[
                        f'phis.{ell}.curr.{j}.{p}']
                out[f'psi_list.{ell}.layers.{j}.fc_all.weight'] = ours[
                    f'phis.{ell}.all.{j}.weight']
    for i in range(n_layers):
        out[f'gin.layers.{i}.eps'] = ours['rho.eps'][i:i + 1]
        mlp(f'gin.layers.{i}.mlp', f'rho.mlps.{i}', 3)
    # every parameter / buffer of ours is used (eps is split per layer)
    assert len(out) == len(ours) + n_layers - 1
    return out


SPE_CASES = [('mlp', 4, 3, 3), ('mlp', 3, 2, 2), ('deepsets', 3, 4, 3)]


def _spe_pair(psi: str, m: int, psi_layers: int,
              n_layers: int) -> tuple[SPE, nn.Module]:
    torch.manual_seed(0)
    ours = SPE(K, 5, num_phis=m, phi_hidden_channels=7,
               phi_layers=psi_layers, hidden_channels=11,
               rho_layers=n_layers, phi=psi, preset='reference').to(F64)
    _randomise(ours, 2)
    ref = _RefSPE(K, 5, m, 7, psi_layers, 11, n_layers, psi, 0.0).to(F64)
    ref.load_state_dict(_spe_mapping(ours.state_dict(), m, psi, psi_layers,
                                     n_layers), strict=True)
    return ours, ref


@pytest.mark.parametrize('train', [False, True], ids=['eval', 'train'])
@pytest.mark.parametrize('psi,m,psi_layers,n_layers', SPE_CASES)
def test_spe_reference_parity(psi: str, m: int, psi_layers: int,
                              n_layers: int, train: bool) -> None:
    b = _batch()
    ours, ref = _spe_pair(psi, m, psi_layers, n_layers)
    ours.train(train)
    ref.train(train)
    A = _dense_adj(b['edge_index'], b['eigvecs'].size(0))
    out = ours(b['eigvecs'], b['eigvals'], b['edge_index'], b['batch'],
               b['eig_mask'])
    exp = ref(b['eigvals'], b['eigvecs'], A, b['batch'])
    assert out.shape == exp.shape == (b['eigvecs'].size(0), 5)
    err = float((out - exp).abs().max().detach())
    assert err <= TOL, err
    assert float(exp.detach().abs().max()) > 1e-3
    for r, o in zip(_running_stats(ref), _running_stats(ours)):
        torch.testing.assert_close(o, r, rtol=0, atol=TOL)
    out.square().sum().backward()
    exp.square().sum().backward()
    torch.testing.assert_close(ours.rho.eps.grad[:1],
                               ref.gin.layers[0].eps.grad, rtol=0, atol=TOL)


def test_spe_reference_invariances() -> None:
    # sign flips and a rotation inside C8's 2-dim eigenspace (eigenvalues
    # 1 and 2 of C8 sit at indices 1-2 of graph 0; k = 8 = n closes them)
    b = _batch()
    ours, _ = _spe_pair('mlp', 4, 3, 3)
    ours.eval()
    args = (b['eigvals'], b['edge_index'], b['batch'], b['eig_mask'])
    base = ours(b['eigvecs'], *args)
    sign = torch.tensor([1, -1, 1, -1, -1, 1, 1, -1], dtype=F64)
    torch.testing.assert_close(ours(b['eigvecs'] * sign, *args), base,
                               rtol=0, atol=1e-10)
    lam = b['eigvals'][0]
    assert abs(float(lam[1] - lam[2])) < 1e-9
    c, s = 0.6, 0.8
    V = b['eigvecs'].clone()
    sel = b['batch'] == 0
    v1, v2 = V[sel, 1].clone(), V[sel, 2].clone()
    V[sel, 1], V[sel, 2] = c * v1 - s * v2, s * v1 + c * v2
    torch.testing.assert_close(ours(V, *args), base, rtol=0, atol=1e-10)


def test_spe_reference_does_not_scale_by_n() -> None:
    assert SPE(K, 4, preset='reference').scale is False
    assert SPE(K, 4).scale is True  # the default preset is unchanged
    # an explicit choice wins over the preset's default
    assert SPE(K, 4, preset='reference', scale=True).scale is True


# ------------------------------------------------------------ validation ---

@pytest.mark.parametrize('cls,kwargs,exc,name', [
    (SignNet, {'preset': 'paper'}, ValueError, 'preset'),
    (SignNet, {'preset': 1}, TypeError, 'preset'),
    (SignNet, {'preset': 'reference', 'phi': 'mlp'}, ValueError, 'phi'),
    (SignNet, {'preset': 'reference', 'phi_layers': 1}, ValueError,
     'phi_layers'),
    (SignNet, {'dropout': 0.1}, ValueError, 'dropout'),
    (SignNet, {'preset': 'reference', 'dropout': 1.0}, ValueError,
     'dropout'),
    (SignNet, {'preset': 'reference', 'use_eigvals': None}, TypeError,
     'use_eigvals'),
    (SPE, {'preset': 'paper'}, ValueError, 'preset'),
    (SPE, {'phi': 'deepsets'}, ValueError, 'phi'),
    (SPE, {'phi': 'transformer', 'preset': 'reference'}, ValueError, 'phi'),
    (SPE, {'preset': 'reference', 'rho_layers': 1}, ValueError,
     'rho_layers'),
    (SPE, {'preset': 'reference', 'phi_layers': 1}, ValueError,
     'phi_layers'),
    (SPE, {'dropout': 0.2}, ValueError, 'dropout'),
    (SPE, {'preset': 'reference', 'dropout': -0.1}, ValueError, 'dropout'),
    (SPE, {'preset': 'reference', 'scale': None}, TypeError, 'scale'),
])
def test_preset_arguments_are_validated(cls: type, kwargs: dict[str, Any],
                                        exc: type[Exception],
                                        name: str) -> None:
    with pytest.raises(exc, match=rf'\b{name}\b'):
        cls(K, 4, **kwargs)


def test_reference_presets_check_inputs() -> None:
    # the shared input validation still runs with the reference preset
    b = _batch()
    for enc in (SignNet(K, K, preset='reference').to(F64),
                SPE(K, 4, preset='reference').to(F64)):
        bad = b['eigvecs'].clone()
        bad[0, 0] = float('nan')
        with pytest.raises(ValueError, match='eigvecs'):
            enc(bad, b['eigvals'], b['edge_index'], b['batch'],
                b['eig_mask'])
        with pytest.raises(ValueError, match='eigvals'):
            enc(b['eigvecs'], b['eigvals'][:, :3], b['edge_index'],
                b['batch'], b['eig_mask'])


def test_csl_bench_preset_option() -> None:
    # `pyg-ext bench csl --preset reference` builds the reference encoders
    import argparse

    from pyg_ext.bench import csl

    parser = argparse.ArgumentParser()
    csl.add_arguments(parser)
    assert parser.parse_args([]).preset == 'pyg_ext'
    assert parser.parse_args(['--preset', 'reference']).preset == 'reference'
    with pytest.raises(SystemExit):
        parser.parse_args(['--preset', 'paper'])
    for pe in ('signnet', 'spe'):
        enc = csl._model(pe, 9, 16, 2, 'reference').pe_encoder
        assert enc.preset == 'reference'
        assert csl._model(pe, 9, 16, 2).pe_encoder.preset == 'pyg_ext'
