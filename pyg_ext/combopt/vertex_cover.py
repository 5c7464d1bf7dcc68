"""Minimum (weighted) vertex cover: relaxation, repair, pruning, local search.

Node weights come from ``data.node_weight`` (default 1); ``edge_index`` holds
both directions of every undirected edge. A solution is a sign vector
``s in {-1, +1}^N`` with ``+1`` meaning *in the cover*.

Relaxation (OptGNN's, with the fixed unit vector ``e1`` = coordinate 0): node
vectors ``v_i``, ``x_i = <v_i, e1>``; minimise
``sum_i w_i (1 + x_i) / 2 + rho * sum_{ij in E} (<v_i - e1, v_j - e1> / 2)^2``
(one term per undirected edge; ``rho = 2`` equals the reference code's
``rho = 1`` over both directions). The residual ``<e1 - v_i, e1 - v_j>`` is
zero exactly when the vector-program edge constraint holds.

Rounding can leave edges uncovered, so every candidate goes through
:func:`vc_repair` (add endpoints of uncovered edges, most uncovered weight per
node weight first, in parallel over an independent set of candidates) and
:func:`vc_prune` (drop redundant vertices, heaviest first): every returned
cover is valid and minimal.

A self-loop ``(i, i)`` is an edge that only ``i`` can cover: every function
here puts such a node in the cover (the ILP fixes ``x_i = 1``, the penalty
uses the loop's residual ``2 - 2 x_i``, repair adds it, pruning keeps it).
Graphs with no edges (or no nodes) have the empty cover, of weight 0.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import scatter

from pyg_ext.combopt.maxcut import (
    batch_of,
    check_graph_data,
    check_node_matrix,
    check_signs,
    check_vectors,
    local_maxima,
)
from pyg_ext.utils.validation import (
    check_int,
    check_probability,
    check_real,
    check_tensor,
)


def _check(data: Data, S: Tensor | None = None, name: str = 'S') -> int:
    if torch.compiler.is_compiling():
        return int(data.num_nodes)
    n = check_graph_data(data, node_weight=True)
    if S is not None:
        check_node_matrix(S, n, name)
    return n


def loop_nodes(data: Data) -> Tensor:
    """Boolean ``[N]``: nodes with a self-loop (in every vertex cover)."""
    src, dst = data.edge_index
    out = torch.zeros(data.num_nodes, dtype=torch.bool, device=src.device)
    return out.index_fill(0, src[src == dst], True)


def node_weight_of(data: Data) -> Tensor:
    """``data.node_weight`` as float, or ones."""
    w = getattr(data, 'node_weight', None)
    if w is None:
        return torch.ones(data.num_nodes, device=data.edge_index.device)
    return w.float().view(-1)


def cover_weight(data: Data, s: Tensor) -> Tensor:
    """Weight of the vertices with ``s > 0`` per graph (``[B]`` or
    ``[B, K]``).

    Raises:
        TypeError, ValueError: invalid ``data`` or ``s``.
    """
    _check(data, s, 's')
    return _cover_weight(data, s)


def _cover_weight(data: Data, s: Tensor) -> Tensor:
    batch, b = batch_of(data)
    w = node_weight_of(data)
    x = (s > 0).float()
    if x.dim() == 2:
        w = w.view(-1, 1)
    return scatter(w * x, batch, 0, dim_size=b, reduce='sum')


def uncovered_edges(data: Data, s: Tensor) -> Tensor:
    """Number of undirected edges with no endpoint in the cover, per graph
    (a self-loop ``(i, i)`` counts as an edge, uncovered unless ``i`` is in
    the cover).

    Raises:
        TypeError, ValueError: invalid ``data`` or ``s``.
    """
    _check(data, s, 's')
    return _uncovered_edges(data, s)


def _uncovered_edges(data: Data, s: Tensor) -> Tensor:
    batch, b = batch_of(data)
    src, dst = data.edge_index
    c = s > 0
    unc = (~c[src] & ~c[dst]).float()
    # both directions of an edge are listed; a loop once
    ew = torch.where(src == dst, 1.0, 0.5).to(unc.dtype)
    unc = unc * (ew if unc.dim() == 1 else ew.view(-1, 1))
    return scatter(unc, batch[src], 0, dim_size=b, reduce='sum')


def is_vertex_cover(data: Data, s: Tensor) -> bool:
    """Whether ``s`` covers every edge of every graph."""
    return bool((uncovered_edges(data, s) == 0).all())


def vc_repair(data: Data, S: Tensor, V: Tensor | None = None) -> Tensor:
    """Make every column of ``S`` (``[N, K]``, ±1 or 0/1) a vertex cover.

    Rounds: every vertex touching an uncovered edge gets the score
    ``uncovered degree / weight`` (ties broken by the relaxation value
    ``<v_i, e1>`` when ``V`` is given, else randomly); those that beat all
    candidate neighbours join the cover. Terminates after at most ``N``
    rounds, usually a handful. Nodes with a self-loop always join. Returns
    ±1 with ``+1`` = in cover.

    Raises:
        TypeError, ValueError: invalid ``data``, ``S`` or ``V``.
    """
    n = _check(data, S)
    if V is not None and not torch.compiler.is_compiling():
        check_tensor(V, 'V', dim=2, floating=True)
        check_node_matrix(V, n, 'V')
    squeeze = S.dim() == 1
    c = ((S if S.dim() == 2 else S.unsqueeze(1)) > 0)
    src, dst = data.edge_index
    n = c.size(0)
    w = node_weight_of(data).view(-1, 1)
    pr = torch.rand(n, 1, device=c.device)
    if V is not None:  # prefer nodes the relaxation puts in the cover
        pr = pr + 2 * V[:, :1].to(pr.dtype)
    loops = src == dst
    c = c | loop_nodes(data).view(-1, 1)
    for _ in range(n + 1):
        unc = ~c[src] & ~c[dst] & ~loops.view(-1, 1)
        if not bool(unc.any()):
            break
        udeg = scatter(unc.float(), dst, 0, dim_size=n, reduce='sum')
        cand = udeg > 0
        # restrict the comparison to neighbours across uncovered edges
        sel = _local_max_on(udeg / w, pr, cand, unc, src, dst, n)
        c = c | sel
    out = torch.where(c, 1.0, -1.0)
    return out.view(-1) if squeeze else out


def vc_prune(data: Data, S: Tensor, priority: Tensor | None = None
             ) -> Tensor:
    """Remove redundant vertices (all neighbours in the cover) until the cover
    is minimal; heavier vertices (then higher ``priority``) go first, in
    parallel over independent sets. Keeps a cover a cover; a node with a
    self-loop is never redundant.

    Raises:
        TypeError, ValueError: invalid ``data``, ``S`` or ``priority``.
    """
    n = _check(data, S)
    if priority is not None and not torch.compiler.is_compiling():
        check_node_matrix(priority, n, 'priority')
    return _prune(data, S, priority)


def _prune(data: Data, S: Tensor, priority: Tensor | None = None
           ) -> Tensor:
    squeeze = S.dim() == 1
    c = ((S if S.dim() == 2 else S.unsqueeze(1)) > 0)
    src, dst = data.edge_index
    n = c.size(0)
    w = node_weight_of(data).view(-1, 1)
    pr = torch.rand(n, 1, device=c.device)
    if priority is not None:
        pr = pr + (priority if priority.dim() == 2 else priority.unsqueeze(1))
    pr = pr.expand_as(c).contiguous()
    key = w.expand_as(pr)
    notloop = (src != dst).view(-1, 1)
    keep = loop_nodes(data).view(-1, 1)
    for _ in range(n + 1):
        # a vertex is redundant when no neighbour is outside the cover
        outside_nb = scatter((~c[src] & notloop).float(), dst, 0,
                             dim_size=n, reduce='sum')
        red = c & (outside_nb == 0) & ~keep
        if not bool(red.any()):
            break
        c = c & ~local_maxima(key, pr, red, data.edge_index)
    out = torch.where(c, 1.0, -1.0)
    return out.view(-1) if squeeze else out


def _local_max_on(key: Tensor, pr: Tensor, active: Tensor, emask: Tensor,
                  src: Tensor, dst: Tensor, n: int) -> Tensor:
    """Like :func:`local_maxima`, comparing only across edges in ``emask``
    (``[E, K]``)."""
    neg = torch.finfo(key.dtype).min
    pr = pr.expand_as(key)
    k = torch.where(active, key, torch.full_like(key, neg))
    ok = emask & active[src]
    m1 = scatter(torch.where(ok, k[src], torch.full_like(k[src], neg)), dst,
                 0, dim_size=n, reduce='max')
    same = ok & (k[src] == k[dst])
    m2 = scatter(torch.where(same, pr[src], torch.full_like(pr[src], -1e9)),
                 dst, 0, dim_size=n, reduce='max')
    return active & ((k > m1) | ((k == m1) & (pr > m2)))


def vc_local_search(data: Data, S: Tensor, rounds: int = 30,
                    p_add: float = 0.05,
                    generator: torch.Generator | None = None) -> Tensor:
    """Perturb-and-prune local search on covers ``S`` (``[N, K]``): each round
    adds a random ``p_add`` fraction of the outside vertices, prunes (the added
    vertices last, so their neighbours drop out: the (1, 2)-swap of
    independent-set local search) and keeps the change per column only when
    the cover got lighter. Covers stay valid.

    Raises:
        TypeError, ValueError: invalid ``data`` or ``S``, ``rounds < 0``,
            ``p_add`` outside ``[0, 1]``.
    """
    _check(data, S)
    rounds = check_int(rounds, 'rounds', low=0)
    p_add = check_probability(p_add, 'p_add')
    S = vc_prune(data, vc_repair(data, S))
    best_w = _node_weight_per_column(data, S)
    n = S.size(0)
    for _ in range(rounds):
        add = (torch.rand(S.shape, generator=generator) < p_add).to(S.device)
        T = torch.where(add, 1.0, S)
        pr = torch.where(add & (S < 0), -1e3, 0.0)
        T = _prune(data, T, priority=pr)
        tw = _node_weight_per_column(data, T)
        better = tw < best_w - 1e-9  # [B, K]
        batch, _ = batch_of(data)
        S = torch.where(better[batch], T, S)
        best_w = torch.where(better, tw, best_w)
    del n
    return S


def _node_weight_per_column(data: Data, S: Tensor) -> Tensor:
    return _cover_weight(data, S)


class VertexCover:
    """Minimum weighted vertex cover as an OptGNN problem (minimisation, fixed
    vector ``e1``).

    Args:
        penalty: ``rho > 0``, the weight of the squared edge residuals.
            ``0`` is refused: without the penalty the loss ignores the
            edges and is minimised by the empty set, which is not a cover.
        normalize: divide each graph's loss by its number of nodes.
        ls_rounds: rounds of :func:`vc_local_search` in :meth:`improve`.

    ``loss``, ``relaxation``, ``penalised`` and ``direction`` take node
    vectors ``V`` (a finite floating ``[N, r]`` tensor); ``score``,
    ``prescore`` and ``objective`` take sign candidates ``S`` (``[N]`` or
    ``[N, K]``, entries ±1). All raise ``TypeError`` / ``ValueError``
    naming ``data``, ``V`` or ``S`` on invalid input.
    """

    name = 'vertex_cover'
    sense = 'min'
    uses_e1 = True

    def __init__(self, penalty: float = 2.0, normalize: bool = True,
                 ls_rounds: int = 30) -> None:
        self.penalty = check_real(penalty, 'penalty', low=0.0,
                                  low_open=True)
        if not isinstance(normalize, bool):
            raise TypeError(f'normalize must be a bool, got '
                            f'{type(normalize).__name__}')
        self.normalize = normalize
        self.ls_rounds = check_int(ls_rounds, 'ls_rounds', low=0)

    def __repr__(self) -> str:
        return (f'VertexCover(penalty={self.penalty}, '
                f'normalize={self.normalize}, ls_rounds={self.ls_rounds})')

    def _residual(self, data: Data, V: Tensor) -> tuple[Tensor, Tensor]:
        """Edge residuals times the edge multiplicity: both directions of an
        edge are listed (weight 1 each, halved in the penalty), a self-loop
        once (weight 2; its residual is ``2 - 2 x_i`` for unit vectors)."""
        src, dst = data.edge_index
        x = V[:, 0]
        res = (V[src] * V[dst]).sum(-1) - x[src] - x[dst] + 1
        return res, torch.where(src == dst, 2.0, 1.0).to(res.dtype)

    def _check_v(self, data: Data, V: Tensor) -> None:
        if not torch.compiler.is_compiling():
            check_vectors(data, V, node_weight=True)

    def _check_s(self, data: Data, S: Tensor) -> None:
        if not torch.compiler.is_compiling():
            _check(data, S)
            check_signs(S, 'S')

    def relaxation(self, data: Data, V: Tensor) -> Tensor:
        """Fractional cover value ``sum_i w_i (1 + x_i) / 2`` per graph."""
        self._check_v(data, V)
        return self._relaxation(data, V)

    def _relaxation(self, data: Data, V: Tensor) -> Tensor:
        batch, b = batch_of(data)
        w = node_weight_of(data)
        return scatter(w * (1 + V[:, 0]) / 2, batch, 0, dim_size=b,
                       reduce='sum')

    def penalised(self, data: Data, V: Tensor) -> Tensor:
        """Relaxation plus penalty, per graph (what training minimises)."""
        self._check_v(data, V)
        return self._penalised(data, V)

    def _penalised(self, data: Data, V: Tensor) -> Tensor:
        batch, b = batch_of(data)
        src, dst = data.edge_index
        res, mult = self._residual(data, V)
        pen = scatter(mult * (res / 2) ** 2, batch[src], 0, dim_size=b,
                      reduce='sum') / 2  # both directions
        return self._relaxation(data, V) + self.penalty * pen

    def loss(self, data: Data, V: Tensor) -> Tensor:
        """Mean over graphs of the penalised objective (divided by the number
        of nodes with ``normalize``)."""
        self._check_v(data, V)
        val = self._penalised(data, V)
        if self.normalize:
            batch, b = batch_of(data)
            n = scatter(torch.ones_like(batch, dtype=V.dtype), batch, 0,
                        dim_size=b, reduce='sum')
            val = val / n.clamp(min=1)
        return val.mean()

    def direction(self, data: Data, V: Tensor) -> Tensor:
        """Descent direction of the penalised objective."""
        self._check_v(data, V)
        return self._direction(data, V)

    def _direction(self, data: Data, V: Tensor) -> Tensor:
        """:meth:`direction` without validation (``OptGNN`` validates once
        per forward, not once per layer)."""
        src, dst = data.edge_index
        w = node_weight_of(data)
        res, mult = self._residual(data, V)
        res = res * mult
        e1 = V.new_zeros(1, V.size(1))
        e1[0, 0] = 1.0
        msg = res.view(-1, 1) * (V[src] - e1)
        agg = scatter(msg, dst, 0, dim_size=V.size(0), reduce='sum')
        g = self.penalty / 2 * agg
        g[:, 0] = g[:, 0] + w / 2
        return -g

    def score(self, data: Data, S: Tensor) -> Tensor:
        """Negative cover weight minus a large penalty per uncovered edge
        (lower cover weight is better; feasible covers first)."""
        self._check_s(data, S)
        return _cover_weight(data, S) + 1e3 * _uncovered_edges(data, S)

    def prescore(self, data: Data, S: Tensor) -> Tensor:
        """Cheap pre-repair estimate: cover weight plus one per uncovered
        edge."""
        self._check_s(data, S)
        return _cover_weight(data, S) + _uncovered_edges(data, S)

    def objective(self, data: Data, S: Tensor) -> Tensor:
        """Cover weight of sign candidates ``S`` per graph."""
        self._check_s(data, S)
        return _cover_weight(data, S)

    def repair(self, data: Data, S: Tensor, V: Tensor | None = None
               ) -> Tensor:
        return vc_prune(data, vc_repair(data, S, V))

    def improve(self, data: Data, S: Tensor) -> Tensor:
        return vc_local_search(data, S, rounds=self.ls_rounds)


__all__ = [
    'VertexCover',
    'cover_weight',
    'is_vertex_cover',
    'loop_nodes',
    'node_weight_of',
    'uncovered_edges',
    'vc_local_search',
    'vc_prune',
    'vc_repair',
]
