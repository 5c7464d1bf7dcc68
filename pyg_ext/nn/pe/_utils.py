"""Shared building blocks of the spectral PE encoders: input validation,
dense batching without ``.item()`` calls, MLPs and a GIN step over tensors
with extra channel axes."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor, nn

from pyg_ext.utils.validation import (
    check_edge_index,
    check_finite,
    check_index,
    check_int,
    check_tensor,
)

logger = logging.getLogger(__name__)


def _param_dtype(module: nn.Module) -> torch.dtype | None:
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return None


def check_pe_inputs(module: nn.Module, k: int, eigvecs: Any, eigvals: Any,
                    edge_index: Any, batch: Any, eig_mask: Any,
                    max_num_nodes: Any, *, sorted_batch: bool = True
                    ) -> int | None:
    """Validate the inputs of a PE encoder's ``forward``.

    Shape, dtype and device checks always run (they cost no host sync and
    trace under :func:`torch.compile`). The data-dependent checks (finite
    values, id ranges, sorted ``batch``, ``max_num_nodes`` large enough) sync
    the host, so they are skipped while compiling.

    Args:
        module: the encoder (its parameter dtype must match ``eigvecs``).
        k: the encoder's number of eigenpairs.
        eigvecs: ``[N, k]`` floating.
        eigvals: ``[B, k]`` floating, same dtype as ``eigvecs``.
        edge_index: ``[2, E]`` integer ids in ``[0, N)``.
        batch: ``None`` (one graph, then ``B`` must be 1) or ``[N]`` integer
            ids in ``[0, B)`` (sorted when ``sorted_batch``).
        eig_mask: ``None`` or a bool / integer 0-1 ``[B, k]`` tensor.
        max_num_nodes: ``None`` or an int at least the largest graph size.
        sorted_batch: require a non-decreasing ``batch`` (the dense encoders
            assume each graph's nodes are contiguous, as in a PyG ``Batch``).

    Returns:
        ``max_num_nodes`` as an ``int`` (or ``None``).

    Raises:
        TypeError: an argument of the wrong type or dtype.
        ValueError: a wrong shape, width ``!= k``, NaN/inf, an out-of-range
            id, an unsorted ``batch`` or a too small ``max_num_nodes``.
    """
    check_tensor(eigvecs, 'eigvecs', dim=2, floating=True)
    check_tensor(eigvals, 'eigvals', dim=2, floating=True)
    num_nodes, dev = eigvecs.size(0), eigvecs.device
    if eigvecs.size(1) != k:
        raise ValueError(f'eigvecs must have k={k} columns (one per '
                         f'eigenpair), got shape {tuple(eigvecs.shape)}')
    if eigvals.size(1) != k:
        raise ValueError(f'eigvals must have k={k} columns (one per '
                         f'eigenpair), got shape {tuple(eigvals.shape)}')
    if num_nodes == 0:
        raise ValueError('eigvecs has no rows: the input has no nodes')
    if eigvals.size(0) == 0:
        raise ValueError('eigvals has no rows: the input has no graphs')
    if eigvals.dtype != eigvecs.dtype:
        raise TypeError(f'eigvals has dtype {eigvals.dtype} but eigvecs has '
                        f'{eigvecs.dtype}; they must match')
    if eigvals.device != dev:
        raise ValueError(f'eigvals is on {eigvals.device} but eigvecs is on '
                         f'{dev}')
    pdtype = _param_dtype(module)
    if (pdtype is not None and eigvecs.dtype != pdtype
            and not torch.is_autocast_enabled(dev.type)):
        raise TypeError(f'eigvecs has dtype {eigvecs.dtype} but the '
                        f'parameters of {type(module).__name__} are '
                        f'{pdtype}; convert the inputs or the module')
    check_edge_index(edge_index)
    if edge_index.device != dev:
        raise ValueError(f'edge_index is on {edge_index.device} but eigvecs '
                         f'is on {dev}')
    num_graphs = eigvals.size(0)
    if batch is None:
        if num_graphs != 1:
            raise ValueError(f'eigvals has {num_graphs} rows (graphs) but '
                             'batch is None (one graph); pass batch')
    else:
        check_index(batch, 'batch', dim=1)
        if batch.size(0) != num_nodes:
            raise ValueError(f'batch has {batch.size(0)} entries but eigvecs '
                             f'has {num_nodes} rows (nodes)')
        if batch.device != dev:
            raise ValueError(f'batch is on {batch.device} but eigvecs is on '
                             f'{dev}')
    if eig_mask is not None:
        check_tensor(eig_mask, 'eig_mask')
        if eig_mask.is_floating_point() or eig_mask.is_complex():
            raise TypeError(f'eig_mask must be a bool (or 0/1 integer) '
                            f'tensor, got dtype {eig_mask.dtype}')
        if eig_mask.shape != eigvals.shape:
            raise ValueError(f'eig_mask must have the shape of eigvals '
                             f'{tuple(eigvals.shape)}, got '
                             f'{tuple(eig_mask.shape)}')
        if eig_mask.device != dev:
            raise ValueError(f'eig_mask is on {eig_mask.device} but eigvecs '
                             f'is on {dev}')
    if max_num_nodes is not None:
        max_num_nodes = check_int(max_num_nodes, 'max_num_nodes', low=1)
    if torch.compiler.is_compiling():
        return max_num_nodes
    check_finite(eigvecs, 'eigvecs')
    check_finite(eigvals, 'eigvals')
    check_edge_index(edge_index, num_nodes)
    if eig_mask is not None and eig_mask.dtype != torch.bool and bool(
            ((eig_mask != 0) & (eig_mask != 1)).any()):
        raise ValueError('eig_mask must hold only 0/1 (or bool) values')
    largest = num_nodes
    if batch is not None:
        check_index(batch, 'batch', num_graphs)
        if sorted_batch and bool((batch[1:] < batch[:-1]).any()):
            raise ValueError('batch must be sorted (the nodes of each graph '
                             'contiguous, as in a torch_geometric Batch)')
        if max_num_nodes is not None:
            largest = int(torch.bincount(batch, minlength=num_graphs).max())
    if max_num_nodes is not None and max_num_nodes < largest:
        raise ValueError(f'max_num_nodes={max_num_nodes} is smaller than the '
                         f'largest graph ({largest} nodes)')
    return max_num_nodes


def graph_positions(batch: Tensor, num_graphs: int) -> tuple[Tensor, Tensor]:
    """Position of each node inside its graph and the node count per graph.

    Uses ``scatter_add`` into a fixed-size buffer (no ``bincount``/``.item()``)
    so it traces under :func:`torch.compile` without graph breaks.

    Returns:
        ``(pos [N], counts [B])``.
    """
    counts = torch.zeros(num_graphs, dtype=torch.long, device=batch.device)
    counts.scatter_add_(0, batch, torch.ones_like(batch))
    start = counts.cumsum(0) - counts
    pos = torch.arange(batch.numel(), device=batch.device) - start[batch]
    return pos, counts


def max_nodes(counts: Tensor, max_num_nodes: int | None) -> int:
    """``max_num_nodes`` if given, else ``counts.max()`` (a graph break under
    :func:`torch.compile`: pass it explicitly to avoid that)."""
    if max_num_nodes is not None:
        return int(max_num_nodes)
    return int(counts.max()) if counts.numel() else 0


def to_dense(x: Tensor, batch: Tensor, pos: Tensor, num_graphs: int,
             n_max: int) -> Tensor:
    """``[N, *]`` node rows to a zero-padded ``[B, n_max, *]`` tensor."""
    out = x.new_zeros((num_graphs, n_max, *x.shape[1:]))
    out[batch, pos] = x
    return out


def default_batch(eigvecs: Tensor, batch: Tensor | None) -> Tensor:
    if batch is None:
        return torch.zeros(eigvecs.size(0), dtype=torch.long,
                           device=eigvecs.device)
    return batch


def default_mask(eigvals: Tensor, eig_mask: Tensor | None) -> Tensor:
    if eig_mask is None:
        return torch.ones_like(eigvals, dtype=torch.bool)
    return eig_mask.to(torch.bool)


def mlp(in_channels: int, hidden_channels: int, out_channels: int,
        num_layers: int = 2, norm: bool = False,
        act_last: bool = False) -> nn.Sequential:
    """A plain MLP acting on the last dimension (any leading shape)."""
    layers: list[nn.Module] = []
    dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [
        out_channels]
    for i in range(num_layers):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        last = i == num_layers - 1
        if not last or act_last:
            if norm:
                layers.append(nn.LayerNorm(dims[i + 1]))
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def gin_aggregate(h: Tensor, edge_index: Tensor) -> Tensor:
    """Sum of neighbour rows, ``[N, *]`` -> ``[N, *]`` (extra axes are
    independent channels)."""
    src, dst = edge_index[0], edge_index[1]
    return torch.zeros_like(h).index_add_(0, dst, h[src])


class GINStack(nn.Module):
    """GIN layers :math:`h \\leftarrow \\mathrm{MLP}((1+\\epsilon) h +
    \\sum_{j \\in N(i)} h_j)` over node axis 0 of an ``[N, *, F]`` tensor,
    the middle axes being independent channels (eigenvectors for SignNet,
    the columns of :math:`V \\mathrm{diag}(\\phi(\\lambda)) V^\\top` for SPE).
    """

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, num_layers: int,
                 norm: bool = False) -> None:
        super().__init__()
        self.eps = nn.Parameter(torch.zeros(num_layers))
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [
            out_channels]
        self.mlps = nn.ModuleList([
            mlp(dims[i], hidden_channels, dims[i + 1], 2, norm=norm)
            for i in range(num_layers)])
        self.num_layers = num_layers

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.eps)
        for m in self.mlps.modules():
            if isinstance(m, (nn.Linear, nn.LayerNorm)):
                m.reset_parameters()

    def forward(self, h: Tensor, edge_index: Tensor) -> Tensor:
        for i, f in enumerate(self.mlps):
            h_new = f((1 + self.eps[i]) * h + gin_aggregate(h, edge_index))
            h = h_new.relu() if i < self.num_layers - 1 else h_new
        return h


def reset_all(module: nn.Module) -> None:
    """Reset every parameterised child (``Linear``, ``LayerNorm``, ...)."""
    for m in module.modules():
        if m is not module and hasattr(m, 'reset_parameters'):
            m.reset_parameters()
