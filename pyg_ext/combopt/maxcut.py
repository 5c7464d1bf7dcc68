"""Weighted Max-Cut: objective in true units, low-rank relaxation, rounding
and local search.

Graphs follow the PyG convention: ``edge_index`` holds every undirected edge
in **both** directions (as ``TUDataset`` and :mod:`pyg_ext.combopt.generators`
produce it), ``edge_weight`` (optional, default 1) is the weight of each
direction, and self-loops carry no cut. A cut is therefore counted **once per
undirected edge**: ``cut(s) = sum_{i<j} w_ij (1 - s_i s_j) / 2``. Use
:func:`prepare_graph` on graphs given with one direction only.

The relaxation (Goemans-Williamson / Burer-Monteiro) replaces the signs by unit
vectors ``v_i`` in ``R^r``: ``sum_{i<j} w_ij (1 - <v_i, v_j>) / 2``. Its
gradient with respect to ``v_i`` is ``-1/2 sum_{j in N(i)} w_ij v_j``: one
round of sum aggregation, which is what an OptGNN layer consumes.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, remove_self_loops, scatter

from pyg_ext.utils.validation import (
    check_edge_index,
    check_edge_weight,
    check_finite,
    check_num_nodes,
    check_positive_int,
    check_tensor,
)

logger = logging.getLogger(__name__)


def check_graph_data(data: Any, name: str = 'data', *,
                     node_weight: bool = False,
                     edges: bool = True) -> int:
    """Validate a graph instance and return its number of nodes.

    Checks that ``data`` is a :class:`~torch_geometric.data.Data` (or a
    batch of them) with a ``[2, E]`` integer ``edge_index`` whose ids lie in
    ``[0, num_nodes)``, a finite ``[E]`` ``edge_weight`` when present, a
    ``batch`` vector of length ``num_nodes`` when present and, with
    ``node_weight``, a finite non-negative ``[num_nodes]`` ``node_weight``
    when present. ``edges=False`` skips the ``edge_index`` checks (Max-3-SAT
    instances have none).

    Raises:
        TypeError: ``data`` is not a ``Data`` or a tensor has a wrong dtype.
        ValueError: a wrong shape, an out-of-range id or a non-finite value;
            the message names the attribute (``data.edge_index``, ...).
    """
    if not isinstance(data, Data):
        raise TypeError(f'{name} must be a torch_geometric.data.Data, got '
                        f'{type(data).__name__}')
    n = data.num_nodes
    if n is None:
        raise ValueError(f'{name}.num_nodes is not set')
    n = check_num_nodes(n, f'{name}.num_nodes')
    if edges:
        if getattr(data, 'edge_index', None) is None:
            raise ValueError(f'{name}.edge_index is missing')
        ei = check_edge_index(data.edge_index, n, f'{name}.edge_index')
        w = getattr(data, 'edge_weight', None)
        if w is not None:
            check_edge_weight(w, ei.size(1), f'{name}.edge_weight')
    batch = getattr(data, 'batch', None)
    if batch is not None:
        check_tensor(batch, f'{name}.batch', dim=1, floating=False)
        if batch.numel() != n:
            raise ValueError(f'{name}.batch has {batch.numel()} entries for '
                             f'{n} nodes')
    if node_weight:
        nw = getattr(data, 'node_weight', None)
        if nw is not None:
            check_tensor(nw, f'{name}.node_weight', dim=(1, 2),
                         floating=True)
            if nw.numel() != n:
                raise ValueError(f'{name}.node_weight has {nw.numel()} '
                                 f'entries for {n} nodes')
            check_finite(nw, f'{name}.node_weight')
            if nw.numel() and bool((nw < 0).any()):
                raise ValueError(f'{name}.node_weight must be >= 0')
    return n


def check_node_matrix(S: Any, num_nodes: int, name: str = 'S', *,
                      floating: bool | None = None) -> Tensor:
    """Check a per-node ``[N]`` or ``[N, K]`` tensor (signs, candidates,
    embeddings) with ``N == num_nodes`` and finite entries."""
    check_tensor(S, name, dim=(1, 2), floating=floating)
    if S.size(0) != num_nodes:
        raise ValueError(f'{name} has {S.size(0)} rows for {num_nodes} '
                         f'nodes')
    check_finite(S, name)
    return S


def check_signs(S: Tensor, name: str = 'S') -> Tensor:
    """Raise unless every entry of ``S`` is ``-1`` or ``+1`` (sign vectors
    and candidate matrices of the objectives and scores).

    Raises:
        ValueError: an entry other than ``-1`` / ``+1`` (e.g. ``0``, ``2``
            or a 0/1 indicator).
    """
    if S.numel() and not bool(((S == 1) | (S == -1)).all()):
        raise ValueError(f'{name} must hold only -1 and +1 (signs), got '
                         f'values in [{float(S.min())}, {float(S.max())}]')
    return S


def check_symmetric(data: Data, name: str = 'data') -> None:
    """Raise unless ``data.edge_index`` (self-loops aside) holds every
    undirected edge exactly once in each direction, with equal weights in
    both directions: the convention of this module (use
    :func:`prepare_graph` on other graphs)."""
    ei = data.edge_index
    keep = ei[0] != ei[1]
    ei = ei[:, keep]
    w = getattr(data, 'edge_weight', None)
    n = data.num_nodes
    key = ei[0] * max(n, 1) + ei[1]
    rkey = ei[1] * max(n, 1) + ei[0]
    k_sorted, perm = torch.sort(key)
    if k_sorted.numel() > 1 and bool((k_sorted[1:] == k_sorted[:-1]).any()):
        raise ValueError(f'{name}.edge_index has duplicate edges; use '
                         'prepare_graph()')
    r_sorted, rperm = torch.sort(rkey)
    if not torch.equal(k_sorted, r_sorted):
        raise ValueError(f'{name}.edge_index must hold every undirected '
                         'edge in both directions; use prepare_graph()')
    if w is not None:
        w = w.view(-1)[keep]
        if not torch.equal(w[perm], w[rperm]):
            raise ValueError(f'{name}.edge_weight differs between the two '
                             'directions of an edge; use prepare_graph()')


def check_vectors(data: Any, V: Any, name: str = 'V', *,
                  node_weight: bool = False) -> int:
    """Validate a graph instance and its node vectors ``V`` (a finite
    floating ``[num_nodes, r]`` tensor); return ``num_nodes``.

    Raises:
        TypeError, ValueError: see :func:`check_graph_data`; ``V`` not a
            tensor, not 2-D, with the wrong number of rows or non-finite.
    """
    n = check_graph_data(data, node_weight=node_weight)
    check_tensor(V, name, dim=2, floating=True)
    check_node_matrix(V, n, name)
    return n


def prepare_graph(data: Data) -> Data:
    """Return a copy of ``data`` with a symmetric, coalesced ``edge_index``
    without self-loops and a float ``edge_weight``.

    A pair given in both directions with weight ``w`` each stays one edge of
    weight ``w``; a pair given in one direction only gets the reverse edge.

    Raises:
        TypeError, ValueError: on an invalid graph (see
            :func:`check_graph_data`).
    """
    check_graph_data(data)
    data = data.clone()
    n = data.num_nodes
    ei = data.edge_index
    w = data.edge_weight if 'edge_weight' in data and \
        data.edge_weight is not None else torch.ones(ei.size(1),
                                                     device=ei.device)
    w = w.float().view(-1)
    ei, w = remove_self_loops(ei, w)
    both = torch.cat([ei, ei.flip(0)], dim=1)
    ww = torch.cat([w, w])
    both, ww = coalesce(both, ww, num_nodes=n, reduce='max')
    data.edge_index, data.edge_weight = both, ww
    return data


def edge_weight_of(data: Data) -> Tensor:
    """``data.edge_weight`` as a float vector (ones when absent), with
    self-loops set to weight 0 (they never cross a cut)."""
    src, dst = data.edge_index
    w = getattr(data, 'edge_weight', None)
    if w is None:
        return (src != dst).float()
    return w.float().view(-1) * (src != dst).float()


def batch_of(data: Data) -> tuple[Tensor, int]:
    """The node-to-graph vector and the number of graphs."""
    batch = getattr(data, 'batch', None)
    if batch is None:
        ref = data.edge_index if 'edge_index' in data else \
            data.clause_index
        return torch.zeros(data.num_nodes, dtype=torch.long,
                           device=ref.device), 1
    return batch, int(data.num_graphs)


def num_undirected_edges(data: Data) -> Tensor:
    """Number of undirected edges per graph (``[num_graphs]``)."""
    batch, b = batch_of(data)
    src, dst = data.edge_index
    keep = (src < dst).float()
    return scatter(keep, batch[src], 0, dim_size=b, reduce='sum')


def total_weight(data: Data) -> Tensor:
    """Total undirected edge weight per graph."""
    batch, b = batch_of(data)
    src, dst = data.edge_index
    w = edge_weight_of(data) * (src != dst).float()
    return scatter(w, batch[src], 0, dim_size=b, reduce='sum') / 2


def maxcut_value(data: Data, s: Tensor) -> Tensor:
    """Cut weight of sign vectors ``s`` (``[N]`` or ``[N, K]``, entries ±1)
    per graph, counted once per undirected edge: ``[num_graphs]`` or
    ``[num_graphs, K]``. Negative weights are allowed (a cut edge of weight
    ``w < 0`` lowers the cut).

    Raises:
        TypeError, ValueError: invalid ``data``, ``s`` of the wrong shape or
            with an entry other than ±1.
    """
    if not torch.compiler.is_compiling():
        n = check_graph_data(data)
        check_node_matrix(s, n, 's')
        check_signs(s, 's')
    batch, b = batch_of(data)
    src, dst = data.edge_index
    w = edge_weight_of(data)
    s = s.float()
    squeeze = s.dim() == 1
    if squeeze:
        s = s.view(-1, 1)
    cut = w.view(-1, 1) * (1 - s[src] * s[dst]) / 4  # each pair twice
    out = scatter(cut, batch[src], 0, dim_size=b, reduce='sum')
    return out.view(-1) if squeeze else out


def maxcut_relaxation(data: Data, V: Tensor) -> Tensor:
    """The vector relaxation ``sum_{i<j} w_ij (1 - <v_i, v_j>) / 2`` per graph
    (rows of ``V`` should be unit vectors).

    Raises:
        TypeError, ValueError: invalid ``data`` or ``V`` not ``[N, r]``.
    """
    if not torch.compiler.is_compiling():
        check_vectors(data, V)
    batch, b = batch_of(data)
    src, dst = data.edge_index
    w = edge_weight_of(data)
    val = w * (1 - (V[src] * V[dst]).sum(-1)) / 4
    return scatter(val, batch[src], 0, dim_size=b, reduce='sum')


def neighbour_sum(data: Data, X: Tensor) -> Tensor:
    """``sum_{j in N(i)} w_ij x_j`` for every node (sum aggregation)."""
    src, dst = data.edge_index
    w = edge_weight_of(data)
    return scatter(w.view(-1, *([1] * (X.dim() - 1))) * X[src], dst, 0,
                   dim_size=X.size(0), reduce='sum')


def local_maxima(key: Tensor, priority: Tensor, active: Tensor,
                 edge_index: Tensor) -> Tensor:
    """Active nodes whose ``(key, priority)`` is lexicographically larger than
    that of every active neighbour (per column of ``[N, K]`` tensors): an
    independent set of the active nodes, non-empty in every column and
    connected component that has an active node (Luby-style selection)."""
    src, dst = edge_index
    n = key.size(0)
    neg = torch.finfo(key.dtype).min
    k = torch.where(active, key, torch.full_like(key, neg))
    nb = torch.where(active[src], k[src], torch.full_like(k[src], neg))
    m1 = scatter(nb, dst, 0, dim_size=n, reduce='max')
    pr = priority.expand_as(key)
    same = active[src] & (k[src] == k[dst])
    m2 = scatter(torch.where(same, pr[src], torch.full_like(pr[src], -1.0)),
                 dst, 0, dim_size=n, reduce='max')
    return active & ((k > m1) | ((k == m1) & (pr > m2)))


def maxcut_local_search(data: Data, S: Tensor, max_iter: int = 100_000
                        ) -> Tensor:
    """1-flip local search on sign matrices ``S`` (``[N, K]``, K independent
    candidates): repeatedly flips, in parallel, every vertex whose flip gains
    and whose gain is the largest among its improving neighbours (flips of
    non-adjacent vertices do not interact), until no flip gains. Returns a
    1-flip local optimum for every column; never decreases a cut. Negative
    edge weights are handled (the gain of flipping ``i`` is
    ``s_i sum_j w_ij s_j`` whatever the signs).

    Raises:
        TypeError, ValueError: invalid ``data``, ``S`` (also an entry other
            than ±1) or ``max_iter``.
    """
    n = check_graph_data(data)
    check_node_matrix(S, n, 'S')
    check_signs(S, 'S')  # a 0 or 0.5 entry has no cut meaning
    max_iter = check_positive_int(max_iter, 'max_iter')
    S = S.clone().float()
    squeeze = S.dim() == 1
    if squeeze:
        S = S.view(-1, 1)
    src, dst = data.edge_index
    w = edge_weight_of(data).view(-1, 1)
    n = S.size(0)
    # a fixed random priority breaks ties between equal gains
    pr = torch.rand(n, 1, device=S.device)
    for _ in range(max_iter):
        nb = scatter(w * S[src], dst, 0, dim_size=n, reduce='sum')
        gain = S * nb
        improving = gain > 1e-6
        if not bool(improving.any()):
            break
        flip = local_maxima(gain, pr, improving, data.edge_index)
        S = torch.where(flip, -S, S)
    return S.view(-1) if squeeze else S


class MaxCut:
    """Max-Cut as an OptGNN problem (maximisation, no fixed vector).

    Args:
        normalize: divide the training loss of each graph by its number of
            undirected edges, so graphs of different sizes weigh alike.
    """

    name = 'maxcut'
    sense = 'max'
    uses_e1 = False

    def __init__(self, normalize: bool = True) -> None:
        if not isinstance(normalize, bool):
            raise TypeError(f'normalize must be a bool, got '
                            f'{type(normalize).__name__}')
        self.normalize = normalize

    def __repr__(self) -> str:
        return f'MaxCut(normalize={self.normalize})'

    def relaxation(self, data: Data, V: Tensor) -> Tensor:
        return maxcut_relaxation(data, V)

    def loss(self, data: Data, V: Tensor) -> Tensor:
        """Mean over graphs of ``-relaxation / max(m, 1)``."""
        val = maxcut_relaxation(data, V)
        if self.normalize:
            val = val / num_undirected_edges(data).clamp(min=1)
        return -val.mean()

    def direction(self, data: Data, V: Tensor) -> Tensor:
        """Ascent direction of the relaxation, preconditioned by the weighted
        degree: ``-(sum_j w_ij v_j) / d_i`` (twice the gradient over
        ``d_i``). With a unit step this is the Jacobi/Burer-Monteiro update
        ``v_i <- normalize(v_i - sum_j w_ij v_j / d_i)`` of
        :func:`pyg_ext.combopt.sdp.maxcut_bm`.

        Raises:
            TypeError, ValueError: invalid ``data`` or ``V`` not a finite
                floating ``[N, r]`` tensor.
        """
        if not torch.compiler.is_compiling():
            check_vectors(data, V)
        return self._direction(data, V)

    def _direction(self, data: Data, V: Tensor) -> Tensor:
        """:meth:`direction` without validation (``OptGNN`` validates once
        per forward, not once per layer)."""
        src, dst = data.edge_index
        d = scatter(edge_weight_of(data).abs(), dst, 0,
                    dim_size=V.size(0), reduce='sum').clamp(min=1e-12)
        return -neighbour_sum(data, V) / d.view(-1, 1)

    def score(self, data: Data, S: Tensor) -> Tensor:
        """Objective of sign candidates (higher is better)."""
        return maxcut_value(data, S)

    def objective(self, data: Data, S: Tensor) -> Tensor:
        return maxcut_value(data, S)

    def improve(self, data: Data, S: Tensor) -> Tensor:
        return maxcut_local_search(data, S)

    def repair(self, data: Data, S: Tensor, V: Tensor | None = None
               ) -> Tensor:
        return S

    def reference_loss(self, data: Data, V: Tensor) -> Tensor:
        """The reference code's loss (``OptGNN(preset='reference')``):
        :func:`maxcut_reference_loss`, summed over the batch."""
        return maxcut_reference_loss(data, V)

    def reference_grad(self, data: Data, V: Tensor) -> Tensor:
        """Closed-form gradient of :meth:`reference_loss`."""
        return maxcut_reference_grad(data, V)


__all__ = [
    'MaxCut',
    'batch_of',
    'check_graph_data',
    'check_node_matrix',
    'check_signs',
    'check_symmetric',
    'check_vectors',
    'edge_weight_of',
    'local_maxima',
    'maxcut_local_search',
    'maxcut_relaxation',
    'maxcut_value',
    'neighbour_sum',
    'num_undirected_edges',
    'prepare_graph',
    'total_weight',
]


def maxcut_reference_loss(data: Data, V: Tensor) -> Tensor:
    """The reference code's Max-Cut loss (penlu/bespoke-gnn4do
    ``max_cut_obj``): ``sum`` over the directed edges of the whole batch of
    ``w_ij <v_i, v_j>`` (minimised; a scalar, summed over the graphs).

    Raises:
        TypeError, ValueError: invalid ``data`` or ``V`` not ``[N, r]``.
    """
    if not torch.compiler.is_compiling():
        check_vectors(data, V)
    src, dst = data.edge_index
    return (edge_weight_of(data) * (V[src] * V[dst]).sum(-1)).sum()


def maxcut_reference_grad(data: Data, V: Tensor) -> Tensor:
    """Gradient of :func:`maxcut_reference_loss` with respect to ``V``:
    ``sum_{(i, j)} w_ij v_j + sum_{(j, i)} w_ji v_j`` (twice the weighted
    neighbour sum on a symmetric graph), in closed form (no autograd)."""
    src, dst = data.edge_index
    w = edge_weight_of(data).view(-1, 1)
    n = V.size(0)
    return (scatter(w * V[dst], src, 0, dim_size=n, reduce='sum') +
            scatter(w * V[src], dst, 0, dim_size=n, reduce='sum'))


__all__ += ['maxcut_reference_grad', 'maxcut_reference_loss']
