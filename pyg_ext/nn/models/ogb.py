"""Graph-level models for ``ogbg-mol*`` used by ``pyg-ext bench ogb``.

* :class:`OGBMolGNN`: the GIN and GIN-virtual of OGB's example
  (``snap-stanford/ogb``, ``examples/graphproppred/mol``: ``gnn.py`` /
  ``conv.py``): an ``AtomEncoder``, ``num_layers`` GIN layers whose
  messages are ``relu(x_j + BondEncoder(e_ij))`` (one ``BondEncoder`` per
  layer; PyG's ``GINEConv`` with a learnable ``eps`` initialised at 0 is the
  same operator), BatchNorm, ReLU (not after the last layer), dropout, no
  residual, JK ``'last'``, mean pooling and one linear head. With
  ``virtual_node=True`` a virtual node (zero-initialised embedding, updated
  between layers by a 2-layer MLP with BatchNorm) is added to every node
  before each layer.
* :class:`GPSMol`: PyG's :class:`~torch_geometric.nn.GPSConv` stack
  configured as GraphGPS configures molecules (``rampasek/GraphGPS``,
  ``configs/GPS/ogbg-molhiv-GPS.yaml``: 10 layers, width 64, 4 heads,
  dropout 0.05, attention dropout 0.5, BatchNorm, mean pooling, the
  ``san_graph`` head of 3 halving layers). The local model is a GINE
  (GraphGPS' ZINC configuration and PyG's GPS example) since PyG has no
  GatedGCN with edge features.
* :class:`LapPEDeepSet`: GraphGPS' ``LapPE`` node encoder with its
  ``DeepSet`` model (each eigenpair ``(v_i, lambda_i)`` through a shared
  MLP, summed over the pairs; eigenvector signs flipped at random in
  training).

Any positional encoder with the signature of :mod:`pyg_ext.nn.pe`
(``encoder(eigvecs, eigvals, edge_index, batch, eig_mask, max_num_nodes)``
returning ``[N, pe_channels]``) is joined GraphGPS-style: the atom embedding
has ``hidden - pe_channels`` channels and the batch-normalised encoding is
concatenated to it.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import (
    GINEConv,
    GPSConv,
    global_add_pool,
    global_mean_pool,
)

from pyg_ext.utils.validation import (
    check_bool,
    check_positive_int,
    check_probability,
)

logger = logging.getLogger(__name__)


def _encoders() -> tuple[type[nn.Module], type[nn.Module]]:
    from ogb.graphproppred.mol_encoder import AtomEncoder, BondEncoder
    return AtomEncoder, BondEncoder


def _check_pe(pe_encoder: nn.Module | None, pe_channels: int | None,
              hidden: int) -> int:
    if pe_encoder is None:
        return 0
    if not isinstance(pe_encoder, nn.Module):
        raise TypeError('pe_encoder must be an nn.Module or None, got '
                        f'{type(pe_encoder).__name__}')
    if pe_channels is None:
        pe_channels = getattr(pe_encoder, 'out_channels', None)
    pe_channels = check_positive_int(pe_channels, 'pe_channels')
    if pe_channels >= hidden:
        raise ValueError(f'pe_channels must be < hidden_channels={hidden} '
                         f'(the atom embedding keeps the rest), got '
                         f'{pe_channels}')
    return pe_channels


def _check_data(data: Any, need_pe: bool) -> None:
    for attr in ('x', 'edge_index', 'edge_attr', 'batch'):
        if getattr(data, attr, None) is None:
            raise ValueError(f'data.{attr} is missing (an ogbg-mol* batch '
                             'from a DataLoader is expected)')
    if need_pe:
        for attr in ('eigvecs', 'eigvals'):
            if getattr(data, attr, None) is None:
                raise ValueError(f'data.{attr} is missing: the PE encoder '
                                 'needs the attributes of AddEigenPE')
    if data.x.dim() != 2 or data.edge_attr.dim() != 2:
        raise ValueError('data.x and data.edge_attr must be 2-D integer '
                         'features (OGB atom / bond features), got shapes '
                         f'{tuple(data.x.shape)} and '
                         f'{tuple(data.edge_attr.shape)}')
    if data.edge_attr.size(0) != data.edge_index.size(1):
        raise ValueError(f'data.edge_attr has {data.edge_attr.size(0)} rows '
                         f'for {data.edge_index.size(1)} edges')


class _PEInput(nn.Module):
    """Atom embedding (``hidden - pe_channels``) concatenated with the
    batch-normalised PE (``pe_channels``)."""

    def __init__(self, hidden: int, pe_encoder: nn.Module | None,
                 pe_channels: int) -> None:
        super().__init__()
        atom_encoder, _ = _encoders()
        self.atom_encoder = atom_encoder(hidden - pe_channels)
        self.pe_encoder = pe_encoder
        self.pe_norm = (nn.BatchNorm1d(pe_channels) if pe_encoder is not None
                        else None)

    def forward(self, data: Any) -> Tensor:
        h = self.atom_encoder(data.x)
        if self.pe_encoder is None:
            return h
        pe = self.pe_encoder(
            data.eigvecs, data.eigvals, data.edge_index, data.batch,
            getattr(data, 'eig_mask', None),
            getattr(data, 'max_num_nodes', None))
        assert self.pe_norm is not None
        return torch.cat([h, self.pe_norm(pe)], dim=-1)


def _gin_mlp(h: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(h, 2 * h), nn.BatchNorm1d(2 * h),
                         nn.ReLU(), nn.Linear(2 * h, h))


class OGBMolGNN(nn.Module):
    r"""OGB's example GIN / GIN-virtual for ``ogbg-mol*`` (see the module
    docstring), optionally with a positional encoding.

    With the example's defaults and no PE it has exactly the parameter count
    OGB's leaderboard lists (ogbg-molhiv: 1,885,206 for GIN, 3,336,306 for
    GIN-virtual).

    Args:
        num_tasks (int): outputs per graph.
        num_layers (int, optional): GIN layers (>= 2). (default: 5)
        hidden_channels (int, optional): width. (default: 300)
        dropout (float, optional): dropout after every layer. (default: 0.5)
        virtual_node (bool, optional): GIN-virtual. (default: False)
        pool (str, optional): ``'mean'`` or ``'add'``. (default: ``'mean'``)
        pe_encoder (nn.Module, optional): a :mod:`pyg_ext.nn.pe` encoder.
        pe_channels (int, optional): its output size (default: its
            ``out_channels``).

    Raises:
        TypeError / ValueError: a hyperparameter of the wrong type or out of
            range (``num_layers < 2``, ``pe_channels >= hidden_channels``);
            in ``forward``, a ``data`` without ``x`` / ``edge_index`` /
            ``edge_attr`` / ``batch`` (or the eigen attributes when there is
            a PE encoder).
    """

    def __init__(self, num_tasks: int, num_layers: int = 5,
                 hidden_channels: int = 300, dropout: float = 0.5,
                 virtual_node: bool = False, pool: str = 'mean',
                 pe_encoder: nn.Module | None = None,
                 pe_channels: int | None = None) -> None:
        super().__init__()
        num_tasks = check_positive_int(num_tasks, 'num_tasks')
        num_layers = check_positive_int(num_layers, 'num_layers')
        if num_layers < 2:
            raise ValueError(f'num_layers must be >= 2 (as in OGB), got '
                             f'{num_layers}')
        h = check_positive_int(hidden_channels, 'hidden_channels')
        self.dropout = check_probability(dropout, 'dropout')
        self.virtual_node = check_bool(virtual_node, 'virtual_node')
        if pool not in ('mean', 'add'):
            raise ValueError(f"pool must be 'mean' or 'add', got {pool!r}")
        self.pool, self.num_layers, self.hidden_channels = pool, num_layers, h
        self.pe_channels = _check_pe(pe_encoder, pe_channels, h)
        self.input = _PEInput(h, pe_encoder, self.pe_channels)
        _, bond_encoder = _encoders()
        self.bond_encoders = nn.ModuleList(
            [bond_encoder(h) for _ in range(num_layers)])
        self.convs = nn.ModuleList(
            [GINEConv(_gin_mlp(h), train_eps=True) for _ in range(num_layers)])
        self.norms = nn.ModuleList(
            [nn.BatchNorm1d(h) for _ in range(num_layers)])
        if self.virtual_node:
            self.vn_embedding = nn.Embedding(1, h)
            nn.init.zeros_(self.vn_embedding.weight)
            self.vn_mlps = nn.ModuleList([
                nn.Sequential(nn.Linear(h, 2 * h), nn.BatchNorm1d(2 * h),
                              nn.ReLU(), nn.Linear(2 * h, h),
                              nn.BatchNorm1d(h), nn.ReLU())
                for _ in range(num_layers - 1)])
        self.head = nn.Linear(h, num_tasks)

    @property
    def pe_encoder(self) -> nn.Module | None:
        return self.input.pe_encoder

    def forward(self, data: Any) -> Tensor:
        _check_data(data, self.pe_encoder is not None)
        edge_index, batch = data.edge_index, data.batch
        h = self.input(data)
        vn = None
        if self.virtual_node:
            num_graphs = int(data.num_graphs)
            vn = self.vn_embedding.weight.expand(num_graphs, -1)
        for i in range(self.num_layers):
            if vn is not None:
                h = h + vn[batch]
            e = self.bond_encoders[i](data.edge_attr)
            out = self.norms[i](self.convs[i](h, edge_index, e))
            if i < self.num_layers - 1:
                out = out.relu()
            out = nn.functional.dropout(out, self.dropout, self.training)
            if vn is not None and i < self.num_layers - 1:
                # OGB pools the layer's *input* (virtual node included)
                vn = nn.functional.dropout(
                    self.vn_mlps[i](global_add_pool(h, batch) + vn),
                    self.dropout, self.training)
            h = out
        pooled = (global_mean_pool(h, batch) if self.pool == 'mean'
                  else global_add_pool(h, batch))
        return self.head(pooled)


class GPSMol(nn.Module):
    r"""A GraphGPS model for ``ogbg-mol*`` built from PyG's
    :class:`~torch_geometric.nn.GPSConv` (see the module docstring).

    Args:
        num_tasks (int): outputs per graph.
        num_layers (int, optional): GPS layers. (default: 10)
        hidden_channels (int, optional): width. (default: 64)
        heads (int, optional): attention heads. (default: 4)
        dropout (float, optional): GPS dropout. (default: 0.05)
        attn_dropout (float, optional): attention dropout. (default: 0.5)
        head_layers (int, optional): layers of the ``san_graph`` head
            (width halves each layer). (default: 3)
        pe_encoder (nn.Module, optional): a :mod:`pyg_ext.nn.pe` encoder.
        pe_channels (int, optional): its output size (default: its
            ``out_channels``).

    Raises:
        TypeError / ValueError: a hyperparameter of the wrong type or out of
            range (``hidden_channels`` not divisible by ``heads``,
            ``pe_channels >= hidden_channels``); in ``forward``, a ``data``
            without the attributes it needs.
    """

    def __init__(self, num_tasks: int, num_layers: int = 10,
                 hidden_channels: int = 64, heads: int = 4,
                 dropout: float = 0.05, attn_dropout: float = 0.5,
                 head_layers: int = 3, pe_encoder: nn.Module | None = None,
                 pe_channels: int | None = None) -> None:
        super().__init__()
        num_tasks = check_positive_int(num_tasks, 'num_tasks')
        num_layers = check_positive_int(num_layers, 'num_layers')
        h = check_positive_int(hidden_channels, 'hidden_channels')
        heads = check_positive_int(heads, 'heads')
        if h % heads:
            raise ValueError(f'hidden_channels={h} must be divisible by '
                             f'heads={heads}')
        dropout = check_probability(dropout, 'dropout')
        attn_dropout = check_probability(attn_dropout, 'attn_dropout')
        head_layers = check_positive_int(head_layers, 'head_layers')
        if h >> (head_layers - 1) < 1:
            raise ValueError(f'head_layers={head_layers} halves '
                             f'hidden_channels={h} below 1')
        self.num_layers, self.hidden_channels = num_layers, h
        self.pe_channels = _check_pe(pe_encoder, pe_channels, h)
        self.input = _PEInput(h, pe_encoder, self.pe_channels)
        _, bond_encoder = _encoders()
        self.bond_encoder = bond_encoder(h)
        self.layers = nn.ModuleList([
            GPSConv(h, GINEConv(nn.Sequential(nn.Linear(h, h), nn.ReLU(),
                                              nn.Linear(h, h))),
                    heads=heads, dropout=dropout, norm='batch_norm',
                    attn_kwargs={'dropout': attn_dropout})
            for _ in range(num_layers)])
        mods: list[nn.Module] = []
        width = h
        for _ in range(head_layers - 1):
            mods += [nn.Linear(width, width // 2), nn.ReLU()]
            width //= 2
        mods.append(nn.Linear(width, num_tasks))
        self.head = nn.Sequential(*mods)

    @property
    def pe_encoder(self) -> nn.Module | None:
        return self.input.pe_encoder

    def forward(self, data: Any) -> Tensor:
        _check_data(data, self.pe_encoder is not None)
        h = self.input(data)
        e = self.bond_encoder(data.edge_attr)
        for layer in self.layers:
            h = layer(h, data.edge_index, data.batch, edge_attr=e)
        return self.head(global_mean_pool(h, data.batch))


class LapPEDeepSet(nn.Module):
    r"""GraphGPS' ``LapPE`` encoder with ``model: DeepSet``: each eigenpair
    ``(v_i, lambda_i)`` of a node goes through a shared MLP
    (``Linear(2, 2d)``, ``layers - 2`` hidden ``Linear(2d, 2d)``, then
    ``Linear(2d, d)``, ReLU after each), padded pairs are zeroed and the
    pairs are summed. In training the eigenvectors' signs are flipped at
    random (one sign per eigenvector and batch), as GraphGPS does.

    Args:
        k (int): eigenpairs.
        out_channels (int): ``d`` (GraphGPS' ``dim_pe``).
        num_layers (int, optional): MLP layers (>= 2). (default: 2)

    Raises:
        TypeError / ValueError: a hyperparameter of the wrong type or out of
            range; in ``forward``, ``eigvecs`` / ``eigvals`` not ``k`` wide.
    """

    def __init__(self, k: int, out_channels: int, num_layers: int = 2
                 ) -> None:
        super().__init__()
        self.k = check_positive_int(k, 'k')
        self.out_channels = d = check_positive_int(out_channels,
                                                   'out_channels')
        self.num_layers = check_positive_int(num_layers, 'num_layers')
        if num_layers < 2:
            raise ValueError(f'num_layers must be >= 2, got {num_layers}')
        mods: list[nn.Module] = [nn.Linear(2, 2 * d), nn.ReLU()]
        for _ in range(num_layers - 2):
            mods += [nn.Linear(2 * d, 2 * d), nn.ReLU()]
        mods += [nn.Linear(2 * d, d), nn.ReLU()]
        self.net = nn.Sequential(*mods)

    def forward(self, eigvecs: Tensor, eigvals: Tensor, edge_index: Tensor,
                batch: Tensor | None = None, eig_mask: Tensor | None = None,
                max_num_nodes: int | None = None) -> Tensor:
        if eigvecs.dim() != 2 or eigvecs.size(1) != self.k:
            raise ValueError(f'eigvecs must be [num_nodes, {self.k}], got '
                             f'{tuple(eigvecs.shape)}')
        if eigvals.dim() != 2 or eigvals.size(1) != self.k:
            raise ValueError(f'eigvals must be [num_graphs, {self.k}], got '
                             f'{tuple(eigvals.shape)}')
        if batch is None:
            batch = eigvecs.new_zeros(eigvecs.size(0), dtype=torch.long)
        v = eigvecs
        if self.training:
            sign = torch.randint(0, 2, (1, self.k), device=v.device) * 2 - 1
            v = v * sign.to(v.dtype)
        lam = eigvals[batch]
        x = torch.stack([v, lam], dim=-1)  # [N, k, 2]
        out = self.net(x)
        if eig_mask is not None:
            out = out * eig_mask[batch].unsqueeze(-1).to(out.dtype)
        return out.sum(1)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(k={self.k}, '
                f'out_channels={self.out_channels}, '
                f'num_layers={self.num_layers})')


__all__ = ['GPSMol', 'LapPEDeepSet', 'OGBMolGNN']
