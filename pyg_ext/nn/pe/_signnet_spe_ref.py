"""Building blocks of the ``preset='reference'`` variants of
:class:`~pyg_ext.nn.pe.SignNet` and :class:`~pyg_ext.nn.pe.SPE`.

Each block reproduces, operation for operation, one module of the authors'
code (written here from reading it; nothing is copied):

* SignNet, the paper's ZINC model, ``cptq/SignNet-BasisNet`` @07f3118,
  ``GraphPrediction/layers/deepsigns.py`` (``GINDeepSigns``,
  ``MaskedGINDeepSigns``), ``layers/gnns.py`` (``GIN``), ``layers/mlp.py``
  (``MLP``), built by ``nets/ZINC_graph_regression/sign_inv_net.py`` with
  ``use_bn=True`` (config ``configs/gin/GIN_ZINC_LapPE_signinv_GIN.json``):
  :class:`SignNetRefMLP`, :class:`SignNetRefGIN`.
* SPE, ``Graph-COM/SPE`` @22b1003, ``src/stable_expressive_pe.py``
  (``StableExpressivePE``, ``GINPhi``), ``src/gin.py`` (``GIN``,
  ``GINLayer``), ``src/mlp.py`` (``MLP``), ``src/deepsets.py``
  (``DeepSets``), built by ``src/model.py:construct_model`` as
  ``zinc/trainer.py`` calls it (configs ``configs/zinc/
  SPE_gine_gin_mlp_pe37.yaml`` and ``SPE_gine_gin_deepsets_pe8.yaml``):
  :class:`SPERefMLP`, :class:`SPERefDeepSets`, :class:`SPERefGIN`.

All act on the last dimension of tensors with any leading shape; batch
normalisation pools every leading position (as the references do with
``transpose`` / ``reshape``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pyg_ext.nn.pe._utils import gin_aggregate


class _PresetDefault:
    """Marker for "the value the chosen ``preset`` uses"."""

    _instance: _PresetDefault | None = None

    def __new__(cls) -> _PresetDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return '<preset default>'


#: default of the encoder options whose value depends on ``preset``
PRESET_DEFAULT = _PresetDefault()
#: the presets of :class:`SignNet` and :class:`SPE`
PRESETS = ('pyg_ext', 'reference')


class BatchNormLast(nn.BatchNorm1d):
    """:class:`torch.nn.BatchNorm1d` over the last dimension of an
    ``[..., C]`` tensor; statistics pool all leading positions."""

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        shape = x.shape
        return super().forward(x.reshape(-1, shape[-1])).reshape(shape)


class SignNetRefMLP(nn.Module):
    """``layers/mlp.py:MLP`` with ``use_bn=True``: ``num_layers - 1`` times
    Linear, ReLU, BatchNorm, dropout (activation *before* the norm), then a
    Linear. One layer is a single Linear."""

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, num_layers: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [
            out_channels]
        self.lins = nn.ModuleList([nn.Linear(dims[i], dims[i + 1])
                                   for i in range(num_layers)])
        self.bns = nn.ModuleList([BatchNormLast(hidden_channels)
                                  for _ in range(num_layers - 1)])
        self.dropout = dropout

    def reset_parameters(self) -> None:
        for m in [*self.lins, *self.bns]:
            m.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        for lin, bn in zip(self.lins[:-1], self.bns):
            x = bn(lin(x).relu())
            x = F.dropout(x, p=self.dropout, training=self.training)
        return self.lins[-1](x)


class SignNetRefGIN(nn.Module):
    """``layers/gnns.py:GIN`` with ``use_bn=True``: DGL ``GINConv(mlp,
    'sum')`` layers (``eps`` fixed at 0), each update a 2-layer
    :class:`SignNetRefMLP`; between layers dropout then BatchNorm, no
    activation. Widths ``in -> hidden -> ... -> hidden -> out`` with
    ``num_layers >= 2`` layers (the reference always builds an input and an
    output layer)."""

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, num_layers: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [
            out_channels]
        self.mlps = nn.ModuleList([
            SignNetRefMLP(dims[i], hidden_channels, dims[i + 1], 2, dropout)
            for i in range(num_layers)])
        self.bns = nn.ModuleList([BatchNormLast(hidden_channels)
                                  for _ in range(num_layers - 1)])
        self.dropout = dropout

    def reset_parameters(self) -> None:
        for m in [*self.mlps, *self.bns]:
            m.reset_parameters()

    def forward(self, h: Tensor, edge_index: Tensor) -> Tensor:
        for i, f in enumerate(self.mlps):
            if i > 0:
                h = F.dropout(h, p=self.dropout, training=self.training)
                h = self.bns[i - 1](h)
            h = f(h + gin_aggregate(h, edge_index))
        return h


class SPERefMLP(nn.Module):
    """``src/mlp.py:MLP``: ``num_layers - 1`` times Linear, (BatchNorm),
    ReLU, dropout (norm *before* the activation), then a Linear and dropout.
    ``num_layers >= 2`` (the reference's output layer reads
    ``hidden_channels`` inputs)."""

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, num_layers: int, norm: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__()
        dims = [in_channels] + [hidden_channels] * (num_layers - 1)
        self.lins = nn.ModuleList([nn.Linear(dims[i], dims[i + 1])
                                   for i in range(num_layers - 1)])
        self.bns = nn.ModuleList([
            BatchNormLast(hidden_channels) if norm else nn.Identity()
            for _ in range(num_layers - 1)])
        self.fc = nn.Linear(hidden_channels, out_channels)
        self.dropout = dropout

    def reset_parameters(self) -> None:
        for m in [*self.lins, *self.bns, self.fc]:
            if hasattr(m, 'reset_parameters'):
                m.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        for lin, bn in zip(self.lins, self.bns):
            x = bn(lin(x)).relu()
            x = F.dropout(x, p=self.dropout, training=self.training)
        return F.dropout(self.fc(x), p=self.dropout, training=self.training)


class SPERefDeepSets(nn.Module):
    """``src/deepsets.py:DeepSets`` over axis ``-2`` (a graph's ``k``
    eigenvalues, padding included): each layer ``relu(Linear(x) +
    Linear_nobias(sum_j x_j))``, the last one too. ``num_layers >= 2``."""

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, num_layers: int) -> None:
        super().__init__()
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [
            out_channels]
        self.curr = nn.ModuleList([nn.Linear(dims[i], dims[i + 1])
                                   for i in range(num_layers)])
        self.all = nn.ModuleList([nn.Linear(dims[i], dims[i + 1], bias=False)
                                  for i in range(num_layers)])

    def reset_parameters(self) -> None:
        for m in [*self.curr, *self.all]:
            m.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        for curr, all_ in zip(self.curr, self.all):
            x = (curr(x) + all_(x.sum(-2, keepdim=True))).relu()
        return x


class SPERefGIN(nn.Module):
    """``src/gin.py:GIN`` with ``bn=False``, ``residual=False``: layers
    ``h <- MLP((1 + eps) h + sum_{j in N(i)} h_j)`` (learnable ``eps`` per
    layer, initialised from a standard normal as in the reference), each
    update a :class:`SPERefMLP` of ``mlp_layers`` layers, width
    ``hidden_channels``, with BatchNorm; no activation between layers.
    ``num_layers >= 2``."""

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, num_layers: int, mlp_layers: int = 3,
                 dropout: float = 0.0) -> None:
        super().__init__()
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [
            out_channels]
        self.mlps = nn.ModuleList([
            SPERefMLP(dims[i], hidden_channels, dims[i + 1], mlp_layers,
                      dropout=dropout) for i in range(num_layers)])
        self.eps = nn.Parameter(torch.empty(num_layers))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.eps.normal_()
        for m in self.mlps:
            m.reset_parameters()

    def forward(self, h: Tensor, edge_index: Tensor) -> Tensor:
        for i, f in enumerate(self.mlps):
            h = f((1 + self.eps[i]) * h + gin_aggregate(h, edge_index))
        return h


__all__ = ['BatchNormLast', 'PRESETS', 'PRESET_DEFAULT', 'SPERefDeepSets',
           'SPERefGIN', 'SPERefMLP', 'SignNetRefGIN', 'SignNetRefMLP']
