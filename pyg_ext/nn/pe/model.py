"""GIN / GINE graph models with a pluggable spectral positional encoding."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from torch_geometric.nn import (
    GINConv,
    GINEConv,
    global_add_pool,
    global_mean_pool,
)

from pyg_ext.nn.pe.encoders import SPE, BasisNet, LapPE, SignNet
from pyg_ext.utils.validation import (
    check_bool,
    check_choice,
    check_edge_index,
    check_index,
    check_param_dtype,
    check_positive_int,
    check_probability,
    check_tensor,
)

PE_CHOICES = ('none', 'lap', 'signnet', 'basisnet', 'spe')


def build_pe_encoder(name: str, k: int, out_channels: int,
                     **kwargs: Any) -> nn.Module | None:
    """An encoder by name: ``'none'`` (returns ``None``), ``'lap'``,
    ``'signnet'``, ``'basisnet'`` or ``'spe'``; ``kwargs`` go to its
    constructor.

    Raises:
        TypeError: ``name`` is not a string (or, from the constructor, a
            hyperparameter has the wrong type).
        ValueError: an unknown ``name``, or ``k`` / ``out_channels`` not
            ints >= 1 (checked for ``'none'`` too).
    """
    if not isinstance(name, str):
        raise TypeError(f'name must be a str, got {type(name).__name__} '
                        f'{name!r}')
    check_positive_int(k, 'k')
    check_positive_int(out_channels, 'out_channels')
    name = name.lower()
    if name == 'none':
        return None
    classes: dict[str, type[nn.Module]] = {
        'lap': LapPE, 'signnet': SignNet, 'basisnet': BasisNet, 'spe': SPE}
    if name not in classes:
        raise ValueError(f'unknown positional encoding {name!r}; choose from '
                         f'{", ".join(PE_CHOICES)}')
    return classes[name](k, out_channels, **kwargs)


def _check_linear_input(encoder: nn.Module, value: Tensor, name: str,
                        enc_name: str) -> None:
    """When ``encoder`` is an ``nn.Linear`` (e.g. built from an int input
    size), check that ``value`` is ``[rows, in_features]`` and floating
    (shape and dtype only: no host sync). Other encoders (``AtomEncoder``,
    embeddings) define their own input and are not checked."""
    if not isinstance(encoder, nn.Linear) or isinstance(
            encoder, nn.LazyLinear):
        return
    width = encoder.in_features
    if value.dim() != 2 or value.size(1) != width:
        raise ValueError(f'{name} must be [num_rows, {width}] (the input '
                         f'size of {enc_name}, in_features={width}), got '
                         f'shape {tuple(value.shape)}')
    if not value.is_floating_point():
        raise TypeError(f'{name} must have a floating dtype for the linear '
                        f'{enc_name}, got {value.dtype}')
    check_param_dtype(value, name, encoder.weight.dtype,
                      f"{enc_name}'s parameters")


class PEGNN(nn.Module):
    r"""A GIN (`"How Powerful are Graph Neural Networks?"
    <https://arxiv.org/abs/1810.00826>`_) or GINE (`"Strategies for
    Pre-training Graph Neural Networks" <https://arxiv.org/abs/1905.12265>`_)
    graph-level model with an optional positional encoding.

    The PE encoder output (``[N, pe_channels]``) is added to the node
    embedding (``pe_mode='add'``, then ``pe_channels`` must equal
    ``hidden_channels``) or concatenated and projected (``'concat'``). With
    ``reinject=True`` the encoding is also added before every layer through
    its own linear map (SPE's GINE).

    Args:
        node_encoder (nn.Module or int): maps ``data.x`` to
            ``hidden_channels`` (e.g. ``ogb``'s ``AtomEncoder``), or an input
            size for a ``Linear``.
        hidden_channels (int): width.
        out_channels (int): outputs per graph.
        num_layers (int, optional): message-passing layers. (default: 4)
        conv (str, optional): ``'gin'`` or ``'gine'``. (default: ``'gin'``)
        edge_encoder (nn.Module or int, optional): maps ``data.edge_attr`` to
            ``hidden_channels`` for GINE (module or input size).
        pe_encoder (nn.Module, optional): e.g. :class:`SignNet`.
        pe_channels (int, optional): its output size (default: hidden).
        pe_mode (str, optional): ``'add'`` or ``'concat'``.
        reinject (bool, optional): add the PE before every layer too.
        dropout (float, optional): dropout after each layer. (default: 0.0)
        pool (str, optional): ``'mean'`` or ``'add'``.
        residual (bool, optional): residual connections. (default: True)
        pe_norm (bool, optional): batch-normalise the encoder output before
            it is used (PE features of different graphs can differ by a tiny
            offset, which otherwise trains poorly). (default: True)

    Raises:
        TypeError / ValueError: a hyperparameter of the wrong type or out
            of range (sizes and ``num_layers`` ints >= 1, ``dropout`` in
            ``[0, 1]``, ``pool`` ``'mean'`` or ``'add'``, ``pe_channels``
            equal to the encoder's ``out_channels``); in ``forward``, a
            ``data`` without the attributes the model needs or with a
            malformed ``edge_index`` / ``batch`` / ``edge_attr``, or (when
            the node / edge encoder is an ``nn.Linear``, e.g. built from an
            int) an ``x`` / ``edge_attr`` that is not 2-D floating with
            ``in_features`` columns.
    """

    def __init__(self, node_encoder: nn.Module | int, hidden_channels: int,
                 out_channels: int, num_layers: int = 4, conv: str = 'gin',
                 edge_encoder: nn.Module | int | None = None,
                 pe_encoder: nn.Module | None = None,
                 pe_channels: int | None = None, pe_mode: str = 'add',
                 reinject: bool = False, dropout: float = 0.0,
                 pool: str = 'mean', residual: bool = True,
                 pe_norm: bool = True) -> None:
        super().__init__()
        if conv not in ('gin', 'gine'):
            raise ValueError(f"PEGNN: conv must be 'gin' or 'gine', got "
                             f'{conv!r}')
        if pe_mode not in ('add', 'concat'):
            raise ValueError(f"PEGNN: pe_mode must be 'add' or 'concat', got "
                             f'{pe_mode!r}')
        check_choice(pool, 'pool', ('mean', 'add'))
        if not isinstance(node_encoder, nn.Module):
            if not isinstance(node_encoder, int) or isinstance(node_encoder,
                                                               bool):
                raise TypeError('node_encoder must be an nn.Module or an '
                                'int input size, got '
                                f'{type(node_encoder).__name__}')
            check_positive_int(node_encoder, 'node_encoder')
        if edge_encoder is not None and not isinstance(edge_encoder,
                                                       nn.Module):
            if not isinstance(edge_encoder, int) or isinstance(edge_encoder,
                                                               bool):
                raise TypeError('edge_encoder must be an nn.Module, an int '
                                'input size or None, got '
                                f'{type(edge_encoder).__name__}')
            check_positive_int(edge_encoder, 'edge_encoder')
        if pe_encoder is not None and not isinstance(pe_encoder, nn.Module):
            raise TypeError('pe_encoder must be an nn.Module or None, got '
                            f'{type(pe_encoder).__name__}')
        hidden_channels = check_positive_int(hidden_channels,
                                             'hidden_channels')
        out_channels = check_positive_int(out_channels, 'out_channels')
        num_layers = check_positive_int(num_layers, 'num_layers')
        if pe_channels is not None:
            pe_channels = check_positive_int(pe_channels, 'pe_channels')
        enc_out = getattr(pe_encoder, 'out_channels', None)
        if (isinstance(enc_out, int) and not isinstance(enc_out, bool)
                and enc_out != (pe_channels or hidden_channels)):
            raise ValueError(
                f'pe_channels must equal pe_encoder.out_channels={enc_out}, '
                f'got {pe_channels or hidden_channels}'
                + (' (the default, hidden_channels)' if pe_channels is None
                   else ''))
        check_bool(reinject, 'reinject')
        dropout = check_probability(dropout, 'dropout')
        check_bool(residual, 'residual')
        check_bool(pe_norm, 'pe_norm')
        h = hidden_channels
        self.hidden_channels, self.out_channels = h, out_channels
        self.num_layers, self.conv_type = num_layers, conv
        self.pe_mode, self.reinject, self.dropout = pe_mode, reinject, dropout
        self.pool, self.residual = pool, residual
        self.node_encoder = (nn.Linear(node_encoder, h)
                             if isinstance(node_encoder, int)
                             else node_encoder)
        self.pe_encoder = pe_encoder
        pe_channels = pe_channels or h
        self.pe_channels = pe_channels
        self.pe_proj: nn.Module | None = None
        self.pe_norm: nn.Module | None = (
            nn.BatchNorm1d(pe_channels)
            if (pe_norm and pe_encoder is not None) else None)
        if pe_encoder is not None:
            if pe_mode == 'concat':
                self.pe_proj = nn.Linear(h + pe_channels, h)
            elif pe_channels != h:
                self.pe_proj = nn.Linear(pe_channels, h)
        self.pe_layers = nn.ModuleList(
            [nn.Linear(pe_channels, h) for _ in range(num_layers)]
            if (reinject and pe_encoder is not None) else [])
        if conv == 'gine':
            if edge_encoder is None:
                raise ValueError('PEGNN: GINE needs an edge_encoder')
            self.edge_encoder: nn.Module | None = (
                nn.Linear(edge_encoder, h) if isinstance(edge_encoder, int)
                else edge_encoder)
        else:
            self.edge_encoder = None
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for _ in range(num_layers):
            net = nn.Sequential(nn.Linear(h, 2 * h), nn.BatchNorm1d(2 * h),
                                nn.ReLU(), nn.Linear(2 * h, h))
            self.convs.append(GINEConv(net, train_eps=True) if conv == 'gine'
                              else GINConv(net, train_eps=True))
            self.norms.append(nn.BatchNorm1d(h))
        self.head = nn.Sequential(nn.Linear(h, h), nn.ReLU(),
                                  nn.Linear(h, out_channels))

    def reset_parameters(self) -> None:
        for m in self.modules():
            if m is not self and hasattr(m, 'reset_parameters'):
                m.reset_parameters()

    def encode_pe(self, data: Any) -> Tensor | None:
        """The encoder output for ``data`` (``None`` without an encoder);
        raises ``ValueError`` when ``data`` lacks ``eigvecs`` / ``eigvals``
        (see :class:`pyg_ext.transforms.AddEigenPE`)."""
        if self.pe_encoder is None:
            return None
        for attr in ('eigvecs', 'eigvals'):
            if getattr(data, attr, None) is None:
                raise ValueError(f'data.{attr} is missing: the PE encoder '
                                 'needs the attributes of AddEigenPE')
        pe = self.pe_encoder(
            data.eigvecs, data.eigvals, data.edge_index,
            getattr(data, 'batch', None), getattr(data, 'eig_mask', None),
            getattr(data, 'max_num_nodes', None))
        return self.pe_norm(pe) if self.pe_norm is not None else pe

    def forward(self, data: Any) -> Tensor:
        x = getattr(data, 'x', None)
        edge_index = getattr(data, 'edge_index', None)
        if x is None or edge_index is None:
            raise ValueError('data must have x and edge_index, got '
                             f'x={type(x).__name__}, '
                             f'edge_index={type(edge_index).__name__}')
        check_tensor(x, 'data.x', dim=(1, 2))
        check_edge_index(edge_index, name='data.edge_index')
        batch = getattr(data, 'batch', None)
        if batch is not None:
            check_index(batch, 'data.batch', dim=1)
            if batch.size(0) != x.size(0):
                raise ValueError(f'data.batch has {batch.size(0)} entries '
                                 f'but data.x has {x.size(0)} rows')
        _check_linear_input(self.node_encoder, x, 'data.x', 'node_encoder')
        if self.edge_encoder is not None:
            edge_attr = getattr(data, 'edge_attr', None)
            if edge_attr is None:
                raise ValueError("data.edge_attr is required for conv='gine'")
            check_tensor(edge_attr, 'data.edge_attr')
            if edge_attr.dim() == 0 or edge_attr.size(0) != edge_index.size(1):
                raise ValueError(f'data.edge_attr has shape '
                                 f'{tuple(edge_attr.shape)} for '
                                 f'{edge_index.size(1)} edges')
            _check_linear_input(self.edge_encoder, edge_attr,
                                'data.edge_attr', 'edge_encoder')
        eigvecs = getattr(data, 'eigvecs', None)
        if (self.pe_encoder is not None and isinstance(eigvecs, Tensor)
                and eigvecs.dim() and eigvecs.size(0) != x.size(0)):
            raise ValueError(f'data.eigvecs has {eigvecs.size(0)} rows but '
                             f'data.x has {x.size(0)} (nodes)')
        if not torch.compiler.is_compiling():
            check_edge_index(edge_index, x.size(0), name='data.edge_index')
            if batch is not None and batch.numel() and bool(
                    (batch < 0).any()):
                raise ValueError('data.batch must hold ids >= 0')
        # one output row per graph, also for empty graphs (a trailing empty
        # graph of a Batch must not drop its row)
        size = data.num_graphs if isinstance(data, Batch) else None
        if batch is None:
            batch = torch.zeros(data.num_nodes, dtype=torch.long,
                                device=edge_index.device)
            size = 1
        h = self.node_encoder(x)
        pe = self.encode_pe(data)
        if pe is not None:
            if self.pe_mode == 'concat':
                assert self.pe_proj is not None
                h = self.pe_proj(torch.cat([h, pe], dim=-1))
            else:
                h = h + (self.pe_proj(pe) if self.pe_proj is not None else pe)
        e = (self.edge_encoder(data.edge_attr)
             if self.edge_encoder is not None else None)
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h_in = h
            if len(self.pe_layers) and pe is not None:
                h_in = h_in + self.pe_layers[i](pe)
            out = conv(h_in, edge_index, e) if e is not None else conv(
                h_in, edge_index)
            out = norm(out)
            if i < self.num_layers - 1:
                out = out.relu()
            out = nn.functional.dropout(out, self.dropout, self.training)
            h = h + out if self.residual else out
        pooled = (global_mean_pool(h, batch, size) if self.pool == 'mean'
                  else global_add_pool(h, batch, size))
        return self.head(pooled)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(conv={self.conv_type!r}, '
                f'hidden_channels={self.hidden_channels}, '
                f'out_channels={self.out_channels}, '
                f'num_layers={self.num_layers}, pe={self.pe_encoder!r}, '
                f'pe_mode={self.pe_mode!r}, reinject={self.reinject}, '
                f'dropout={self.dropout}, pool={self.pool!r}, '
                f'residual={self.residual}, '
                f'pe_norm={self.pe_norm is not None})')


def num_parameters(model: nn.Module) -> int:
    """``sum(p.numel())`` over trainable parameters (OGB's #params);
    ``TypeError`` unless ``model`` is an ``nn.Module``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f'model must be an nn.Module, got '
                        f'{type(model).__name__}')
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ['PEGNN', 'PE_CHOICES', 'build_pe_encoder', 'num_parameters']
