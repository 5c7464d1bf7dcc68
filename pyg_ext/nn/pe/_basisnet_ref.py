"""Building blocks of ``BasisNet(preset='reference')``: the graph-level
BasisNet of the SPE repository (Huang et al., ICLR 2024;
``Graph-COM/SPE: src/sign_inv_pe.py:BasisInvPE``, ``src/ign.py:IGN2to1``,
``src/gin.py:GIN``, ``src/mlp.py:MLP``, ``src/utils.py:get_projections``),
re-implemented batched and vectorised (the reference runs per graph and per
multiplicity in Python).

The IGN :math:`\\phi_d` has input channel 1 (one projector
:math:`P = V_i V_i^\\top`), so its first (2->1) layer only needs the five
normalised contractions of :math:`P`: diagonal :math:`P_{jj}`, trace
:math:`/n`, row sums :math:`/n`, column sums :math:`/n`, total sum
:math:`/n^2`. All five are computed from :math:`V` in :math:`O(n k)` per
graph (:func:`projector_contractions`); no :math:`n \\times n` matrix is
formed. Every later IGN layer is node-wise or a per-eigenspace mean, so each
:math:`\\phi_d` runs on the flat rows ``(node, eigenspace)`` of the
eigenspaces of multiplicity ``d`` only (:func:`run_ign_grouped`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pyg_ext.nn.pe._utils import gin_aggregate

#: Basis size of the 2->1 and 1->1 equivariant layers.
N_BASIS_2TO1 = 5
N_BASIS_1TO1 = 2


class EquivariantIGN(nn.Module):
    r"""The reference ``IGN2to1(1, hidden, d)`` on flat rows.

    Layers: 2->1 (5 basis ops), ReLU, BatchNorm; 1->1 (identity, mean over
    the eigenspace's graph), ReLU, BatchNorm; the same again; then the
    node-wise ``Linear(hidden, hidden)``, ReLU, ``Linear(hidden, d)``.
    In training mode the BatchNorm statistics are taken over all rows of
    this multiplicity in the batch (the reference calls it per graph).

    Args:
        hidden_channels: width of the equivariant layers.
        out_channels: ``d``, the multiplicity it serves.
    """

    def __init__(self, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        h = hidden_channels
        self.hidden_channels, self.out_channels = h, out_channels
        # coefficient tensors [in, out, basis], as the reference layers
        self.coeffs_2to1 = nn.Parameter(torch.empty(1, h, N_BASIS_2TO1))
        self.bias_2to1 = nn.Parameter(torch.empty(h))
        self.coeffs_1to1 = nn.ParameterList([
            nn.Parameter(torch.empty(h, h, N_BASIS_1TO1)) for _ in range(2)])
        self.bias_1to1 = nn.ParameterList([
            nn.Parameter(torch.empty(h)) for _ in range(2)])
        self.bns = nn.ModuleList([nn.BatchNorm1d(h) for _ in range(3)])
        self.fc1 = nn.Linear(h, h)
        self.fc2 = nn.Linear(h, out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # the reference's scheme: N(0, 1) * sqrt(2) / (in + out), zero bias
        for c in [self.coeffs_2to1, *self.coeffs_1to1]:
            nn.init.normal_(c, std=math.sqrt(2.0) / (c.size(0) + c.size(1)))
        for b in [self.bias_2to1, *self.bias_1to1]:
            nn.init.zeros_(b)
        for m in [*self.bns, self.fc1, self.fc2]:
            m.reset_parameters()

    def forward(self, basis: Tensor, space: Tensor, inv_n: Tensor,
                num_spaces: int) -> Tensor:
        """``basis [M, 5]`` (the 2->1 contractions of each row's projector),
        ``space [M]`` (eigenspace id of each row, in ``[0, num_spaces)``),
        ``inv_n [M]`` (``1 / n`` of the row's graph) -> ``[M, d]``."""
        h = basis @ self.coeffs_2to1[0].transpose(0, 1) + self.bias_2to1
        h = self.bns[0](h.relu())
        for i in range(2):
            total = h.new_zeros(num_spaces, h.size(1)).index_add_(0, space, h)
            mean = total[space] * inv_n.unsqueeze(1)
            c = self.coeffs_1to1[i]
            h = h @ c[:, :, 0] + mean @ c[:, :, 1] + self.bias_1to1[i]
            h = self.bns[i + 1](h.relu())
        return self.fc2(self.fc1(h).relu())


def projector_contractions(eigvecs: Tensor, batch: Tensor, groups: Tensor,
                           inv_n: Tensor) -> Tensor:
    """The normalised 2->1 contractions of every eigenspace projector.

    Args:
        eigvecs: ``[N, k]`` (zero rows/columns for padding).
        batch: ``[N]`` graph id of each node.
        groups: ``[B, k, k]`` 0/1, slot ``c`` of graph ``b`` is in
            eigenspace ``g`` (padding slots in none).
        inv_n: ``[B]``, ``1 / n`` per graph.

    Returns:
        ``[N, k, 5]``: for node ``j`` and eigenspace ``g`` of its graph,
        ``(P_jj, tr P / n, sum_l P_jl / n, sum_l P_lj / n, sum P / n^2)``
        with ``P = V_g V_g^T``.
    """
    B, k = groups.shape[0], groups.shape[1]
    gn = groups[batch]  # [N, k, k]
    sq = eigvecs * eigvecs
    colsum = eigvecs.new_zeros(B, k).index_add_(0, batch, eigvecs)
    sqsum = eigvecs.new_zeros(B, k).index_add_(0, batch, sq)
    diag = torch.einsum('nc,ncg->ng', sq, gn)
    row = torch.einsum('nc,ncg->ng', eigvecs * colsum[batch], gn)
    trace = torch.einsum('bc,bcg->bg', sqsum, groups)
    total = torch.einsum('bc,bcg->bg', colsum * colsum, groups)
    w = inv_n[batch].unsqueeze(1)  # [N, 1]
    row = row * w
    # P is symmetric: its column sums are its row sums
    return torch.stack([diag, trace[batch] * w, row, row,
                        total[batch] * w * w], dim=-1)


def column_offsets(mult: Tensor) -> Tensor:
    """First output column of each eigenspace in the reference layout.

    The reference concatenates the outputs multiplicity by multiplicity
    (ascending), inside one multiplicity by eigenvalue (ascending), each
    eigenspace of multiplicity ``d`` giving ``d`` columns.

    Args:
        mult: ``[B, G]`` multiplicity of each eigenspace (0 = none).

    Returns:
        ``[B, G]`` long.
    """
    G = mult.size(1)
    g = torch.arange(G, device=mult.device)
    mi, mj = mult.unsqueeze(2), mult.unsqueeze(1)  # [B, G, 1], [B, 1, G]
    before = (mj < mi) | ((mj == mi) & (g.view(1, 1, G) < g.view(1, G, 1)))
    return (before.to(mult.dtype) * mj).sum(2).long()


def run_ign_grouped(phis: nn.ModuleList, basis: Tensor, batch: Tensor,
                    mult: Tensor, inv_n: Tensor) -> Tensor:
    """Run ``phis[d - 1]`` on the eigenspaces of multiplicity ``d`` only and
    lay the outputs out as the reference does.

    Args:
        phis: ``k`` :class:`EquivariantIGN`, ``phis[d - 1]`` with ``d``
            outputs.
        basis: ``[N, k, 5]`` from :func:`projector_contractions`.
        batch: ``[N]``.
        mult: ``[B, k]`` long multiplicity of each eigenspace (0 = none).
        inv_n: ``[B]``.

    Returns:
        ``[N, k]``: the eigenspace features of each node, zero after the
        last used column (the reference's zero padding when ``n < k``).
    """
    N, k = basis.shape[0], basis.shape[1]
    B = mult.size(0)
    offsets = column_offsets(mult)  # [B, k]
    node_mult = mult[batch]  # [N, k]
    out = basis.new_zeros(N, k)
    present = torch.unique(node_mult[node_mult > 0]).tolist()
    rows_i, cols_i, vals = [], [], []
    for d in present:  # a loop over the multiplicities present only
        node, grp = (node_mult == d).nonzero(as_tuple=True)
        b = batch[node]
        y = phis[d - 1](basis[node, grp], b * k + grp, inv_n[b], B * k)
        col = offsets[b, grp].unsqueeze(1) + torch.arange(
            d, device=basis.device)
        rows_i.append(node.unsqueeze(1).expand(-1, d).reshape(-1))
        cols_i.append(col.reshape(-1))
        vals.append(y.reshape(-1))
    if not vals:
        return out
    return out.index_put((torch.cat(rows_i), torch.cat(cols_i)),
                         torch.cat(vals))


class ReferenceMLP(nn.Module):
    """The reference ``MLP``: ``(Linear, BatchNorm, ReLU) x (L - 1)``, then
    ``Linear``."""

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, num_layers: int) -> None:
        super().__init__()
        dims = [in_channels] + [hidden_channels] * (num_layers - 1)
        self.lins = nn.ModuleList([nn.Linear(dims[i], dims[i + 1])
                                   for i in range(num_layers - 1)])
        self.bns = nn.ModuleList([nn.BatchNorm1d(dims[i + 1])
                                  for i in range(num_layers - 1)])
        self.out = nn.Linear(dims[-1], out_channels)

    def reset_parameters(self) -> None:
        for m in [*self.lins, *self.bns, self.out]:
            m.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        for lin, bn in zip(self.lins, self.bns):
            x = bn(lin(x)).relu()
        return self.out(x)


class ReferenceGIN(nn.Module):
    r"""The reference ``GIN`` (no normalisation or activation between
    layers): :math:`h \leftarrow \mathrm{MLP}_l((1 + \epsilon_l) h +
    \sum_{j \in N(i)} h_j)`, widths ``in -> hidden -> ... -> out``; the
    reference draws each :math:`\epsilon_l` from :math:`N(0, 1)`."""

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, num_layers: int, mlp_hidden_channels: int,
                 mlp_layers: int) -> None:
        super().__init__()
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [
            out_channels]
        self.mlps = nn.ModuleList([
            ReferenceMLP(dims[i], mlp_hidden_channels, dims[i + 1],
                         mlp_layers) for i in range(num_layers)])
        self.eps = nn.Parameter(torch.empty(num_layers))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.eps)
        for m in self.mlps:
            m.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        for i, f in enumerate(self.mlps):
            x = f((1 + self.eps[i]) * x + gin_aggregate(x, edge_index))
        return x
