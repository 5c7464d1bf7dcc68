r"""UniFL-MPNN: a differentiable message-passing network for uniform facility
location, from `"Learning to Approximate Uniform Facility Location via Graph
Neural Networks" <https://arxiv.org/abs/2602.13155>`_ (Qian, Morris, Jegelka,
Sohler; ICML 2026).

Pieces (paper §3–4; the paper text was not available in full when this was
written, so equation numbers are not quoted and every formula is stated in
its docstring):

* :class:`UniFLRadius`: the radius-estimation layer. For bins
  :math:`0 = a_0 < a_1 < \dots < a_k = 1` (units of :math:`f`),
  :math:`t_x^{(i)} \approx [\sum_{y} \mathrm{ReLU}(a_i - d(x,y)/f) \ge 1]`
  (the sum includes :math:`y = x`): a sum aggregation followed by a two-layer
  ReLU network. Then
  :math:`\hat r_x = f \sum_i a_i (t_x^{(i)} - t_x^{(i-1)})`, within
  :math:`f/k` of the exact radius :math:`r_x`.
* :class:`UniFLConv`: distance-weighted sum aggregation used to refine the
  opening logits with neighbourhood context.
* :class:`UniFLMPNN`: radius features → message passing → opening
  probabilities :math:`p_x \in [p_{\min}, 1 - p_{\min}]`. With
  ``recursive_steps = T > 0`` it runs the differentiable analogue of
  RecursiveUniformFL (paper: :math:`p_x = \min\{1, c\,d(x, F), c\,r_x\}`,
  points served within :math:`6 r_x` removed, recurse): round :math:`t` sees
  :math:`q_x` (probability that :math:`x` is already open) and
  :math:`\mathbb E[\min(f, d(x, F_{<t}))]`, the expected distance to the
  facilities opened so far (closed form, as in the loss), and the rounds
  combine as :math:`q \leftarrow 1 - (1-q)(1-p^{(t)})`.
* :func:`train_unifl`: unsupervised training on the closed-form expected
  cost :func:`~pyg_ext.combopt.expected_facility_cost` (no solver labels).
* :func:`unifl_decode` / :func:`unifl_solve`: threshold or sample
  :math:`F_1 \sim p`, add :math:`F_2` (points with no facility within
  :math:`f`), then the vectorised close/open/swap local search.

Deviations (stated assumptions): the network does not take :math:`n` as an
input (the paper's :math:`p_x = \mathrm{FNN}(n, \hat r_x)`), so that one model
serves every size; probabilities are clamped to
:math:`[p_{\min}, 1-p_{\min}]` (a third-party reconstruction reports sigmoid
saturation otherwise); with ``grad_features`` (the packaged model) every
refinement round also sees the derivative of the closed-form expected cost
at its input (:func:`_marginal_cost`), and :func:`unifl_solve` can keep the
cheapest rounding of ``draws`` runs of the randomised model.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data
from torch_geometric.nn import MessagePassing

from pyg_ext.combopt.facility_location import (
    NeighborTable,
    _check_cost,
    _check_table,
    _expected_distance,
    _node_cost,
    _take,
    cached_table,
    expected_facility_cost,
    facility_local_search,
    facility_radii,
    facility_table,
    facility_table_cost,
    neighbor_table,
    repair_open,
)
from pyg_ext.utils.validation import (
    check_choice,
    check_edge_index,
    check_finite,
    check_index,
    check_int,
    check_num_nodes,
    check_positive_int,
    check_probability,
    check_real,
    check_tensor,
)

__all__ = [
    'UniFLConv',
    'UniFLMPNN',
    'UniFLRadius',
    'extend_unifl',
    'load_unifl',
    'pretrain_unifl',
    'save_unifl',
    'train_unifl',
    'train_unifl_mixture',
    'unifl_decode',
    'unifl_solve',
]

#: The packaged checkpoint (see :func:`load_unifl`).
PRETRAINED_UNIFL = (Path(__file__).resolve().parent.parent / 'combopt'
                    / 'pretrained' / 'unifl_density_mix.pt')


def _check_graph(edge_index: Tensor, dist: Tensor, num_nodes: int) -> None:
    num_nodes = check_num_nodes(num_nodes)
    if num_nodes <= 0:
        raise ValueError('num_nodes: empty facility-location instance '
                         '(0 points)')
    check_edge_index(edge_index, num_nodes)
    check_tensor(dist, 'dist', dim=(1, 2), floating=True)
    if dist.numel() != edge_index.size(1):
        raise ValueError(f'dist has {dist.numel()} distances for '
                         f'{edge_index.size(1)} edges')
    if dist.numel() and not bool(torch.isfinite(dist).all()):
        raise ValueError('dist (distances) contain NaN or infinite values')
    if dist.numel() and bool((dist < 0).any()):
        raise ValueError('dist (distances) must be non-negative')


def _check_csr(adj: Tensor, n: int, name: str) -> None:
    """Check a ``[n, n]`` sparse CSR adjacency before ``torch.sparse.mm``
    (which reads ``col_indices`` unchecked): a valid row pointer and every
    column id in ``[0, n)``."""
    if not (isinstance(adj, Tensor) and adj.is_sparse_csr):
        raise TypeError(f'{name} must be a sparse CSR tensor, got '
                        f'{type(adj).__name__}'
                        + (f' ({adj.layout})' if isinstance(adj, Tensor)
                           else ''))
    if tuple(adj.shape) != (n, n):
        raise ValueError(f'{name} must have size [{n}, {n}] (one row and '
                         f'column per node of h), got {tuple(adj.shape)}')
    crow, col = adj.crow_indices(), adj.col_indices()
    nnz = col.numel()
    if crow.dim() != 1 or crow.numel() != n + 1:
        raise ValueError(f'{name}.crow_indices must have {n + 1} entries, '
                         f'got shape {tuple(crow.shape)}')
    if int(crow[0]) != 0 or int(crow[-1]) != nnz or (
            n > 0 and bool((crow[1:] < crow[:-1]).any())):
        raise ValueError(f'{name}.crow_indices must be non-decreasing from '
                         f'0 to nnz={nnz}')
    check_index(col, f'{name} (col_indices)', n)


def _check_data(data: Data) -> int:
    """Validate a UniFL instance for the model; return ``num_nodes``."""
    if not isinstance(data, Data):
        raise TypeError(f'data must be a torch_geometric.data.Data, got '
                        f'{type(data).__name__}')
    if isinstance(data, Batch) and data.num_graphs > 1:
        # one neighbour table over all points would link the instances
        raise ValueError(f'data is a Batch of {data.num_graphs} instances; '
                         'UniFL solves one instance at a time: pass '
                         'data.to_data_list() one by one')
    n = data.num_nodes
    if n is None or n <= 0:
        raise ValueError('data: empty facility-location instance '
                         '(0 points)')
    oc = getattr(data, 'opening_cost', None)
    if oc is None:
        raise ValueError('data.opening_cost is missing')
    check_tensor(oc, 'data.opening_cost')
    _check_cost(oc, n)
    if getattr(data, '_unifl_table', None) is None and \
            getattr(data, 'pos', None) is None and (
                getattr(data, 'edge_index', None) is None
                or getattr(data, 'edge_attr', None) is None):
        raise ValueError('data needs pos or edge_index and edge_attr '
                         '(distances)')
    return n


class UniFLRadius(MessagePassing):
    r"""Radius estimation by message passing (UniFL-MPNN, paper §4).

    .. math::
        g_x^{(i)} = a_i + \sum_{y \in \mathcal N(x)}
        \mathrm{ReLU}\big(a_i - d(x,y)/f\big),\quad
        t_x^{(i)} = \mathrm{ReLU}(k(g_x^{(i)} - 1) + 1)
        - \mathrm{ReLU}(k(g_x^{(i)} - 1)),

    .. math::
        \hat r_x = f \sum_{i=1}^k a_i\,(t_x^{(i)} - t_x^{(i-1)})

    with :math:`a_i = i/k`, :math:`t^{(0)} = 0` (the :math:`a_i` term is the
    point itself). :math:`g_x^{(i)} \ge 1` iff :math:`a_i f \ge r_x`, and the
    two-layer ReLU ramp is a steep version of that indicator, so
    :math:`|\hat r_x - r_x| \le f/k`. (Assumption: the note summarises the
    paper's indicator as :math:`\min\{1, \sum \mathrm{ReLU}(\cdot)\}`,
    which taken literally biases :math:`\hat r` low by up to
    :math:`\approx r_x/2`; the ramp keeps the stated "two-layer ReLU network
    over a sum aggregation" form and the :math:`f/k` accuracy.)

    Args:
        num_bins (int): :math:`k`. (default: :obj:`16`)

    Shapes:
        - **input:** edge_index :math:`(2, |E|)`, distances :math:`(|E|)`,
          opening cost (scalar or :math:`(|V|)`)
        - **output:** :math:`\hat r` :math:`(|V|)`, :math:`t`
          :math:`(|V|, k)`
    """

    def __init__(self, num_bins: int = 16) -> None:
        super().__init__(aggr='add')
        num_bins = check_positive_int(num_bins, 'num_bins')
        self.num_bins = num_bins
        self.register_buffer(
            'bins', torch.arange(1, num_bins + 1).double() / num_bins)

    def forward(self, edge_index: Tensor | None, dist: Tensor | None,
                f: float | Tensor, num_nodes: int,
                table: NeighborTable | None = None) -> tuple[Tensor, Tensor]:
        """Return ``(r_hat, t)``. With a :class:`NeighborTable` of the same
        graph the sum aggregation is evaluated on the sorted rows
        (``searchsorted`` + ``cumsum``: the same sums, no ``[E, k]``
        messages).

        Raises:
            TypeError, ValueError: ``num_nodes < 1``, an invalid
                ``edge_index`` / ``dist`` (or ``table``), a bad ``f``.
        """
        if table is not None:
            if not torch.compiler.is_compiling():
                n = _check_table(table)
                num_nodes = check_num_nodes(num_nodes)
                if n != num_nodes:
                    raise ValueError(f'table has {n} rows for num_nodes='
                                     f'{num_nodes}')
                _check_cost(f, n)
            return self._from_table(table, f, num_nodes)
        if not torch.compiler.is_compiling():
            _check_graph(edge_index, dist, num_nodes)
            _check_cost(f, num_nodes)
        dist = dist.view(-1)
        fx = _node_cost(f, num_nodes, dist)
        mask = edge_index[0] != edge_index[1]
        ei = edge_index[:, mask]
        dn = (dist[mask] / fx[ei[1]]).view(-1, 1)
        a = self.bins.to(dist.dtype)
        # propagate_type: (dn: Tensor, a: Tensor)
        s = self.propagate(ei, dn=dn, a=a, size=(num_nodes, num_nodes))
        t = self._ramp(s + a)
        t_prev = torch.cat([torch.zeros_like(t[:, :1]), t[:, :-1]], dim=1)
        r_hat = fx * ((t - t_prev) * a).sum(1)
        return r_hat, t

    def message(self, dn: Tensor, a: Tensor) -> Tensor:
        return torch.relu(a.view(1, -1) - dn)

    def _ramp(self, g: Tensor) -> Tensor:
        # two-layer ReLU network: 0 below 1 - 1/k, 1 from 1 on (a steep
        # approximation of the indicator [g >= 1])
        s = float(self.num_bins)
        return torch.relu(s * (g - 1) + 1) - torch.relu(s * (g - 1))

    def _from_table(self, table: NeighborTable, f: float | Tensor,
                    n: int) -> tuple[Tensor, Tensor]:
        d = table.dist
        fx = _node_cost(f, n, d)
        a = self.bins.to(d.dtype)
        dsorted = d.masked_fill(~table.mask, math.inf)
        vals = (fx.view(-1, 1) * a.view(1, -1)).contiguous()
        cnt = torch.searchsorted(dsorted.contiguous(), vals)  # #{d < a f}
        S = torch.cumsum(d * table.mask, dim=1)
        s = torch.where(cnt > 0, S.gather(1, (cnt - 1).clamp(min=0)),
                        torch.zeros_like(vals))
        t = self._ramp((cnt.to(d.dtype) * vals - s) / fx.view(-1, 1))
        t_prev = torch.cat([torch.zeros_like(t[:, :1]), t[:, :-1]], dim=1)
        r_hat = fx * ((t - t_prev) * a).sum(1)
        return r_hat, t

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_bins={self.num_bins})'


class UniFLConv(MessagePassing):
    r"""Distance-weighted neighbourhood aggregation for UniFL-MPNN.

    .. math::
        \mathbf h_x' = \mathbf h_x + \mathrm{MLP}\Big(\Big[\mathbf h_x,
        \tfrac{1}{1+|\mathcal N(x)|}\textstyle\sum_{y} \mathbf h_y,
        \tfrac{1}{1+|\mathcal N(x)|}\sum_{y} (1 - d(x,y)/f)\,\mathbf h_y
        \Big]\Big)

    Args:
        channels (int): hidden size.

    Shapes:
        - **input:** :math:`(|V|, C)`, edge_index :math:`(2, |E|)`, weights
          :math:`(|E|)` (:math:`1 - d/f`), inverse degrees :math:`(|V|)`
        - **output:** :math:`(|V|, C)`
    """

    def __init__(self, channels: int) -> None:
        super().__init__(aggr='add')
        channels = check_positive_int(channels, 'channels')
        self.channels = channels
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(3 * channels, channels), torch.nn.ReLU(),
            torch.nn.Linear(channels, channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for mod in self.mlp:
            if hasattr(mod, 'reset_parameters'):
                mod.reset_parameters()

    def forward(self, h: Tensor, edge_index: Tensor, weight: Tensor,
                inv_deg: Tensor, adj_w_t: Tensor | None = None) -> Tensor:
        """``edge_index`` may be a ``torch.sparse_csr`` adjacency (rows =
        targets); then ``adj_w_t`` must hold the same pattern with values
        ``weight`` and both sums are sparse matrix products.

        Raises:
            TypeError, ValueError: ``h`` not ``[N, channels]``, a bad
                ``edge_index`` or ``weight`` / ``inv_deg`` of the wrong
                length; for a sparse CSR ``edge_index``: a size other than
                ``[N, N]``, ``crow_indices`` that are not a valid row
                pointer, a column id outside ``[0, N)`` (checked before
                the sparse kernel, which does not check them), a missing
                ``adj_w_t`` or one with another pattern.
        """
        c = self.channels
        if not torch.compiler.is_compiling():
            check_tensor(h, 'h', dim=2, floating=True)
            if h.size(1) != c:
                raise ValueError(f'h must have {c} channels, got '
                                 f'{h.size(1)}')
            n = h.size(0)
            check_tensor(inv_deg, 'inv_deg', floating=True)
            if inv_deg.numel() != n:
                raise ValueError(f'inv_deg has {inv_deg.numel()} entries '
                                 f'for {n} nodes')
            check_tensor(weight, 'weight', floating=True)
            if not (isinstance(edge_index, Tensor)
                    and edge_index.is_sparse_csr):
                check_edge_index(edge_index, n)
                if weight.numel() != edge_index.size(1):
                    raise ValueError(f'weight has {weight.numel()} entries '
                                     f'for {edge_index.size(1)} edges')
            else:
                if adj_w_t is None:
                    raise ValueError('UniFLConv: a sparse adjacency needs '
                                     'adj_w_t (the weighted pattern)')
                _check_csr(edge_index, n, 'edge_index')
                _check_csr(adj_w_t, n, 'adj_w_t')
                if not (torch.equal(adj_w_t.crow_indices(),
                                    edge_index.crow_indices())
                        and torch.equal(adj_w_t.col_indices(),
                                        edge_index.col_indices())):
                    raise ValueError('adj_w_t must have the sparsity pattern '
                                     'of edge_index (same crow_indices and '
                                     'col_indices)')
                nnz = edge_index.col_indices().numel()
                if weight.numel() != nnz:
                    raise ValueError(f'weight has {weight.numel()} entries '
                                     f'for {nnz} edges')
        if isinstance(edge_index, Tensor) and edge_index.is_sparse_csr:
            if adj_w_t is None:
                raise ValueError('UniFLConv: a sparse adjacency needs '
                                 'adj_w_t (the weighted pattern)')
            return self._forward_csr(h, edge_index, adj_w_t, inv_deg)
        # propagate_type: (x: Tensor, weight: Tensor)
        m = self.propagate(edge_index, x=h, weight=weight)
        m = m * inv_deg.view(-1, 1)
        return h + self.mlp(torch.cat([h, m[:, :c], m[:, c:]], dim=1))

    def _forward_csr(self, h: Tensor, adj: Tensor, adj_w_t: Tensor,
                     inv_deg: Tensor) -> Tensor:
        """The sparse-CSR path without input checks (for adjacencies built
        and validated by the caller, e.g. :class:`UniFLMPNN`, which would
        otherwise re-check the same pattern in every layer)."""
        c = self.channels
        m = torch.cat([torch.sparse.mm(adj, h),
                       torch.sparse.mm(adj_w_t, h)], dim=1)
        m = m * inv_deg.view(-1, 1)
        return h + self.mlp(torch.cat([h, m[:, :c], m[:, c:]], dim=1))

    def message(self, x_j: Tensor, weight: Tensor) -> Tensor:
        return torch.cat([x_j, x_j * weight.view(-1, 1)], dim=1)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.channels})'


class UniFLMPNN(torch.nn.Module):
    r"""UniFL-MPNN: opening probabilities for uniform facility location
    (paper §4), optionally with the recursive rounds of RecursiveUniformFL.

    Per point: radius features from :class:`UniFLRadius` (:math:`\hat r_x/f`,
    :math:`\log(\hat r_x/f)`, the bin indicators :math:`t^{(i)}_x`,
    :math:`\log(1+\deg)`), ``num_layers`` :class:`UniFLConv` layers, then a
    linear head; :math:`p_x = p_{\min} + (1 - 2p_{\min})\,\sigma(\ell_x)`.
    The logit starts as the SimpleUniformFL-like rule
    :math:`\ell_x = \log(\hat r_x / f) + b` (skip connection), which the
    layers refine. Recursive rounds (``recursive_steps > 0``) append
    :math:`q_x` and the expected capped distance to the soft open set to the
    features and combine rounds as :math:`q \leftarrow 1-(1-q)(1-p^{(t)})`.

    Args:
        hidden_channels (int): hidden size. (default: :obj:`32`)
        num_layers (int): message-passing layers per round. (default: 2)
        num_bins (int): radius bins :math:`k`. (default: :obj:`16`)
        recursive_steps (int): extra rounds :math:`T`. (default: :obj:`1`)
        p_min (float): probability clamp. (default: :obj:`0.005`)
        max_neighbors (int, optional): neighbours kept per point (nearest
            first) in the neighbour table the model, the loss and decoding
            share; :obj:`None` keeps all (exact). (default: :obj:`15`)

        scale_free (bool): density-independent inputs: every distance
            enters in units of the point's own radius :math:`\hat r_x`
            (the radius at which opening at :math:`x` pays for itself)
            instead of :math:`f`. The degree feature becomes
            :math:`\log(1 + |B(x, a \hat r_x)|)` for
            :math:`a \in \{0.5, 1, 1.5, 2, 3\}`, message passing runs over
            :math:`B(x, 3\hat r_x)` with weights
            :math:`1 - d/(3\hat r_x)`, and the recursive rounds see the
            expected distance to the soft open set over
            :math:`\hat r_x`. Only :math:`\log(\hat r_x / f)` (and the
            bins of :math:`\hat r_x / f`) still carry the density, which is
            the signal that the connection cap :math:`f` binds.
            (default: :obj:`False`, the original features)

        refine (bool): the rounds after the first *replace* :math:`q`
            instead of adding to it: each starts as the identity on
            :math:`q` (logit skip connection) and sees the expected number
            of open facilities in :math:`B(x, a\hat r_x)`,
            :math:`a \in \{1,2,3\}`, and the expected distance without
            :math:`x`, so it can close as well as open (an unrolled,
            learned local search). (default: :obj:`False`, the paper's
            additive recursion)

    ``num_layers = 0`` is allowed: no message passing, ``p_x`` is then a
    learned function of the point's own features (radius bins, degree,
    symmetry-breaking counts), which is the paper's
    :math:`p_x = \mathrm{FNN}(\hat r_x)` without :math:`n`; an ablation,
    not an error.

    Forward: ``model(data)`` with ``data.opening_cost`` and either
    ``data.pos`` (the neighbour table is then built from the points by a
    KD-tree query, ``edge_index`` / ``edge_attr`` are not read) or, without
    ``pos``, ``data.edge_index`` and ``data.edge_attr`` (distances); returns
    ``p`` of shape ``[n]``.
    """

    def __init__(self, hidden_channels: int = 32, num_layers: int = 2,
                 num_bins: int = 16, recursive_steps: int = 1,
                 p_min: float = 0.005, max_neighbors: int | None = 15,
                 scale_free: bool = False, refine: bool = False,
                 grad_features: bool = False) -> None:
        super().__init__()
        for name, val in (('scale_free', scale_free), ('refine', refine),
                          ('grad_features', grad_features)):
            if not isinstance(val, bool):
                raise TypeError(f'{name} must be a bool, got '
                                f'{type(val).__name__}')
        self.scale_free = scale_free
        self.refine = refine
        self.grad_features = grad_features
        hidden_channels = check_positive_int(hidden_channels,
                                             'hidden_channels')
        num_layers = check_int(num_layers, 'num_layers', low=0)
        num_bins = check_positive_int(num_bins, 'num_bins')
        recursive_steps = check_int(recursive_steps, 'recursive_steps',
                                    low=0)
        p_min = check_real(p_min, 'p_min', low=0.0, high=0.5,
                           high_open=True)
        if max_neighbors is not None:
            max_neighbors = check_positive_int(max_neighbors,
                                               'max_neighbors')
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.num_bins = num_bins
        self.recursive_steps = recursive_steps
        self.p_min = p_min
        self.max_neighbors = max_neighbors
        self.radius = UniFLRadius(num_bins)
        in_dim = num_bins + 8 + (len(_SF_BALLS) if scale_free else 0)
        self.rounds = torch.nn.ModuleList()
        for t in range(recursive_steps + 1):
            extra = 0 if t == 0 else (3 + _REFINE_EXTRA if refine else 3)
            if t > 0 and grad_features:
                extra += _GRAD_EXTRA
            enc = torch.nn.Linear(in_dim + extra, hidden_channels)
            convs = torch.nn.ModuleList(
                [UniFLConv(hidden_channels) for _ in range(num_layers)])
            head = torch.nn.Linear(hidden_channels, 1)
            self.rounds.append(torch.nn.ModuleDict(
                {'enc': enc, 'convs': convs, 'head': head}))
        self.log_scale = torch.nn.Parameter(torch.zeros(recursive_steps + 1))
        self.bias = torch.nn.Parameter(torch.zeros(recursive_steps + 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for r in self.rounds:
            r['enc'].reset_parameters()
            for c in r['convs']:
                c.reset_parameters()
            torch.nn.init.zeros_(r['head'].weight)
            torch.nn.init.zeros_(r['head'].bias)
        with torch.no_grad():
            self.log_scale.zero_()
            # start near p = r / (r + f) (SimpleUniformFL-like), later
            # rounds low
            self.bias.fill_(-3.0)
            self.bias[0] = 0.0

    @staticmethod
    def _symmetry_features(ei: Tensor, dn: Tensor, rr: Tensor, u: Tensor,
                           n: int) -> Tensor:
        r"""Counts over :math:`B(x, k\hat r_x)`, :math:`k \in \{1, 2\}`, of
        points ranked before :math:`x` by :math:`(\hat r, u)` (the
        Mettu–Plaxton order with random tie-breaking) and by :math:`u` alone:
        sum aggregations of an edge function of both endpoints. They let the
        network break the symmetry between neighbours (Luby-style)."""
        i, j = ei[1], ei[0]  # messages j -> i
        ri, rj = rr.index_select(0, i), rr.index_select(0, j)
        ui, uj = u.index_select(0, i), u.index_select(0, j)
        before_mp = (rj < ri) | ((rj == ri) & (uj < ui))
        before_u = uj > ui
        in1 = dn <= ri
        in2 = dn <= 2 * ri
        vals = torch.stack([in1 & before_mp, in1 & before_u,
                            in2 & before_mp, in2 & before_u], dim=1)
        c = torch.zeros(n, 4, dtype=u.dtype, device=u.device)
        c.index_add_(0, i, vals.to(u.dtype))
        return torch.log1p(c)

    def forward(self, data: Data, return_all: bool = False,
                noise: Tensor | None = None
                ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Opening probabilities ``[n]`` (and, with ``return_all``, those of
        every round).

        Raises:
            TypeError, ValueError: ``data`` not a UniFL instance (empty,
                missing ``opening_cost`` / distances, NaN, bad ids) or
                ``noise`` not a finite ``[n]`` tensor.
        """
        if torch.compiler.is_compiling():
            n = data.num_nodes
        else:
            n = _check_data(data)
            if noise is not None:
                check_tensor(noise, 'noise', floating=True)
                if noise.numel() != n:
                    raise ValueError(f'noise has {noise.numel()} entries for '
                                     f'{n} nodes')
                check_finite(noise, 'noise')
        f = data.opening_cost
        dtype = torch.float32
        table = _prepare(data, self.max_neighbors)
        table = NeighborTable(table.index, table.dist.to(dtype), table.mask)
        fx = _node_cost(f, n, table.dist)
        r_hat, tbin = self.radius(None, None, fx, n, table=table)
        # CSR adjacency from the table rows (row = target, self excluded)
        nb = table.mask.clone()
        nb[:, 0] = False
        if self.scale_free:
            # B(x, 3 r_x): a neighbourhood in units of the own radius
            nb = nb & (table.dist <= _SF_REACH * r_hat.view(-1, 1))
        deg = nb.sum(1)
        ptr = torch.zeros(n + 1, dtype=torch.long, device=deg.device)
        ptr[1:] = torch.cumsum(deg, 0)
        src = table.index[nb]
        tgt = torch.arange(n, device=deg.device).repeat_interleave(deg)
        dn = table.dist[nb] / fx.index_select(0, tgt)
        if self.scale_free:
            w = torch.clamp(1 - table.dist[nb] / (
                _SF_REACH * r_hat.index_select(0, tgt)).clamp(min=1e-12),
                min=0)
        else:
            w = torch.clamp(1 - dn, min=0)
        with warnings.catch_warnings():  # "sparse CSR support is beta"
            warnings.simplefilter('ignore')
            adj = torch.sparse_csr_tensor(ptr, src, torch.ones_like(w),
                                          size=(n, n))
            adj_w = torch.sparse_csr_tensor(ptr, src, w, size=(n, n))
        deg = deg.to(dtype)
        inv_deg = 1.0 / (1.0 + deg)
        rr = (r_hat / fx).clamp(min=1e-6)
        if noise is None:
            noise = torch.rand(n, dtype=dtype, device=fx.device)
        sym = self._symmetry_features(torch.stack([src, tgt]), dn, rr,
                                      noise.to(dtype), n)
        base = [tbin, rr.view(-1, 1), torch.log(rr).view(-1, 1),
                torch.log1p(deg).view(-1, 1) / 4,
                noise.view(-1, 1).to(dtype), sym]
        if self.scale_free:
            base.append(_ball_counts(table, r_hat))
        base = torch.cat(base, dim=1)
        # unit of the distance features of the recursive rounds
        unit = r_hat.clamp(min=1e-12) if self.scale_free else fx
        q = None
        ps = []
        for t, rnd in enumerate(self.rounds):
            if t == 0:
                x = base
            else:
                ed = _expected_distance(q, table, fx) / unit
                x = [base, q.view(-1, 1), ed.view(-1, 1),
                     (ed / rr).clamp(max=10).view(-1, 1) / 10]
                if self.refine:
                    x.append(_refine_features(q, table, fx, r_hat, unit))
                if self.grad_features:
                    x.append(_gain_features(q, table, fx))
                x = torch.cat(x, dim=1)
            h = torch.relu(rnd['enc'](x))
            for conv in rnd['convs']:
                # adj / adj_w are built above from the validated table
                h = conv._forward_csr(h, adj, adj_w, inv_deg)
            logit = rnd['head'](h).view(-1) + \
                torch.exp(self.log_scale[t]) * torch.log(rr) + self.bias[t]
            if t > 0 and self.refine:
                # refinement rounds start as the identity on q (the head is
                # zero-initialised) and learn to open and to close
                qc = q.clamp(1e-6, 1 - 1e-6)
                logit = rnd['head'](h).view(-1) + torch.log(qc) - \
                    torch.log1p(-qc)
            elif t > 0:
                # recursive rounds: open where the soft set is still far
                logit = logit + torch.log(ed.clamp(min=1e-6))
            p = self.p_min + (1 - 2 * self.p_min) * torch.sigmoid(logit)
            ps.append(p)
            if q is None or self.refine:
                q = p
            else:
                q = 1 - (1 - q) * (1 - p)
        return (q, ps) if return_all else q

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(hidden={self.hidden_channels}, '
                f'layers={self.num_layers}, bins={self.num_bins}, '
                f'recursive_steps={self.recursive_steps}, '
                f'scale_free={self.scale_free}, refine={self.refine}'
                + (', grad_features=True' if self.grad_features else '')
                + ')')

    def config(self) -> dict:
        """Constructor arguments (what :func:`load_unifl` needs)."""
        return {'hidden_channels': self.hidden_channels,
                'num_layers': self.num_layers, 'num_bins': self.num_bins,
                'recursive_steps': self.recursive_steps,
                'p_min': self.p_min, 'max_neighbors': self.max_neighbors,
                'scale_free': self.scale_free, 'refine': self.refine,
                'grad_features': self.grad_features}


_SF_BALLS = (0.5, 1.0, 1.5, 2.0, 3.0)
_SF_REACH = 3.0
_REFINE_BALLS = (1.0, 2.0, 3.0)
_REFINE_EXTRA = len(_REFINE_BALLS) + 1
_GRAD_EXTRA = 2


def _marginal_cost(q: Tensor, table: NeighborTable, fx: Tensor) -> Tensor:
    r""":math:`\partial\,\mathbb E[\mathrm{cost}(q)] / \partial q_x` of the
    closed-form expected cost (the formula of
    :func:`~pyg_ext.combopt.expected_facility_cost`, without its input
    checks): the expected change in cost from raising :math:`x`'s opening
    probability, i.e. :math:`f` minus the expected savings of the clients
    :math:`x` would serve. A two-hop sum aggregation (client rows, then back
    to the facilities), computed by autograd on a detached copy of ``q``
    (no gradient flows through it)."""
    with torch.enable_grad():
        qd = q.detach().requires_grad_(True)
        qq = _take(qd, table.index) * table.mask
        surv = torch.cumprod(1 - qq, dim=1)
        excl = torch.cat([torch.ones_like(surv[:, :1]), surv[:, :-1]],
                         dim=1)
        conn = (table.dist.to(qd.dtype) * qq * excl).sum(1)
        total = (fx * qd + fx * surv[:, -1] + conn).sum()
        (g,) = torch.autograd.grad(total, qd)
    return g.detach()


def _gain_features(q: Tensor, table: NeighborTable, fx: Tensor) -> Tensor:
    r"""Inputs of a refinement round with ``grad_features``: the marginal
    expected cost :math:`g_x` of :func:`_marginal_cost` in units of
    :math:`f` (scale-free: scaling points and :math:`f` together scales
    :math:`g` by the same factor), as :math:`\mathrm{clamp}(g/f, -4, 4)/4`
    and :math:`\tanh(g/f)`. Negative: opening more at :math:`x` would lower
    the expected cost; positive: closing would."""
    g = _marginal_cost(q, table, fx) / fx
    return torch.stack([g.clamp(-4.0, 4.0) / 4, torch.tanh(g)], dim=1)


def _refine_features(q: Tensor, table: NeighborTable, fx: Tensor,
                     r_hat: Tensor, unit: Tensor) -> Tensor:
    r"""Inputs of a refinement round: the expected number of open
    facilities in :math:`B(x, a\hat r_x)` (self excluded),
    :math:`a \in \{1, 2, 3\}`, and the expected distance to the soft open
    set without :math:`x` (what closing :math:`x` would cost its own
    client), in units of ``unit``."""
    qq = _take(q, table.index) * table.mask
    qq = torch.cat([torch.zeros_like(qq[:, :1]), qq[:, 1:]], dim=1)
    d = table.dist.to(q.dtype)
    cnt = [(qq * (d <= a * r_hat.view(-1, 1))).sum(1)
           for a in _REFINE_BALLS]
    surv = torch.cumprod(1 - qq, dim=1)
    excl = torch.cat([torch.ones_like(surv[:, :1]), surv[:, :-1]], dim=1)
    ed_x = (d * qq * excl).sum(1) + fx * surv[:, -1]
    return torch.stack([torch.log1p(c) for c in cnt]
                       + [(ed_x / unit).clamp(max=10) / 10], dim=1)


def _ball_counts(table: NeighborTable, r_hat: Tensor) -> Tensor:
    r""":math:`\log(1 + |B(x, a\,\hat r_x)|)` for ``a`` in ``_SF_BALLS``
    (self excluded; capped by the table width)."""
    d = table.dist.masked_fill(~table.mask, math.inf)[:, 1:].contiguous()
    a = torch.tensor(_SF_BALLS, dtype=d.dtype, device=d.device)
    vals = (r_hat.view(-1, 1) * a.view(1, -1)).contiguous()
    cnt = torch.searchsorted(d, vals, right=True)
    return torch.log1p(cnt.to(d.dtype)) / 2


def _prepare(data: Data, max_neighbors: int | None = 31) -> NeighborTable:
    """The neighbour table of ``data`` (cached as ``data._unifl_table``
    and rebuilt when ``pos``, the distances, ``opening_cost`` or
    ``max_neighbors`` change, see
    :func:`~pyg_ext.combopt.facility_location.cached_table`): from ``pos``
    by a KD-tree query when present, else from ``edge_index``, truncated to
    ``max_neighbors`` per row."""
    if getattr(data, 'pos', None) is not None and \
            data.opening_cost.numel() == 1:
        def build() -> NeighborTable:
            f = float(data.opening_cost.view(-1)[0])
            return facility_table(data.pos, f, max_neighbors=max_neighbors
                                  or data.num_nodes)
        return cached_table(data, 'pos', max_neighbors, build)

    def build_edges() -> NeighborTable:
        _check_graph(data.edge_index, data.edge_attr.view(-1),
                     data.num_nodes)
        return neighbor_table(data.edge_index, data.edge_attr.view(-1),
                              data.num_nodes, max_neighbors)
    return cached_table(data, 'edges', max_neighbors, build_edges)


def train_unifl(model: UniFLMPNN, instances: Sequence[Data],
                steps: int = 300, lr: float = 3e-3, seed: int = 0,
                clip: float = 1.0, log_every: int = 0) -> list[float]:
    r"""Unsupervised training on the closed-form expected cost.

    Each step draws one instance and minimises
    :math:`\mathbb E[\mathrm{cost}(p)] / \sum_x r_x` (normalised so
    instances of different sizes weigh alike;
    :func:`~pyg_ext.combopt.expected_facility_cost`), with Adam and gradient
    clipping. No solver output is used.

    Returns:
        The per-step normalised losses.

    Raises:
        TypeError, ValueError: ``model`` not a :class:`UniFLMPNN`, no or
            invalid instances, ``steps < 0``, ``lr <= 0``, ``clip <= 0``,
            ``log_every < 0``.
    """
    if not isinstance(model, UniFLMPNN):
        raise TypeError(f'model must be a UniFLMPNN, got '
                        f'{type(model).__name__}')
    if isinstance(instances, Data) or not hasattr(instances, '__len__'):
        raise TypeError('instances must be a sequence of Data, got '
                        f'{type(instances).__name__}')
    if len(instances) == 0:
        raise ValueError('instances: train_unifl needs at least one '
                         'instance')
    for i, d in enumerate(instances):
        if not isinstance(d, Data):
            raise TypeError(f'instances[{i}] must be a torch_geometric.data.'
                            f'Data, got {type(d).__name__}')
        try:
            _check_data(d)
        except (TypeError, ValueError) as e:
            cls = TypeError if isinstance(e, TypeError) else ValueError
            raise cls(f'instances[{i}]: {e}') from e
    steps = check_int(steps, 'steps', low=0)
    lr = check_real(lr, 'lr', low=0.0, low_open=True)
    seed = check_int(seed, 'seed')
    clip = check_real(clip, 'clip', low=0.0, low_open=True)
    log_every = check_int(log_every, 'log_every', low=0)
    g = torch.Generator().manual_seed(seed)
    insts = list(instances)
    for d in insts:
        _prepare(d, model.max_neighbors)
    norms = [float(facility_radii(d._unifl_table,
                                  d.opening_cost.double()).sum())
             for d in insts]
    tables = [NeighborTable(d._unifl_table.index,
                            d._unifl_table.dist.float(),
                            d._unifl_table.mask) for d in insts]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for step in range(steps):
        i = int(torch.randint(len(insts), (1,), generator=g))
        d = insts[i]
        p = model(d)
        loss = expected_facility_cost(p, tables[i],
                                      d.opening_cost.float()) / norms[i]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        losses.append(float(loss.detach()))
        if log_every and (step + 1) % log_every == 0:
            print(f'step {step + 1}: E[cost]/sum(r) = '
                  f'{sum(losses[-log_every:]) / log_every:.4f}')
    model.eval()
    return losses


def unifl_decode(p: Tensor, table: NeighborTable, f: float | Tensor,
                 mode: str = 'threshold', threshold: float = 0.5,
                 num_samples: int = 16, local_search: bool = True,
                 max_iter: int = 50, seed: int = 0,
                 ls_neighbors: int | None = 32
                 ) -> tuple[Tensor, dict]:
    r"""Turn opening probabilities into a solution.

    ``'threshold'``: :math:`F_1 = \{x : p_x > \text{threshold}\}`;
    ``'sample'``: ``num_samples`` draws :math:`F_1 \sim p`, the cheapest kept.
    Then :math:`F_2` (every point with no open facility within :math:`f`)
    and, with ``local_search``, :func:`~pyg_ext.combopt.facility_local_search`
    over the ``ls_neighbors`` nearest columns of ``table`` (rows are sorted
    by distance; :obj:`None` keeps every column). The narrower table makes
    the search several times cheaper on wide (dense) tables; the reported
    costs are always evaluated on the full ``table``.

    Returns:
        ``(open_mask, info)`` with the cost before and after local search.

    Raises:
        TypeError, ValueError: invalid ``table`` or ``f``, ``p`` not a
            finite ``[n]`` tensor in ``[0, 1]``, unknown ``mode``,
            ``threshold`` outside ``[0, 1]``, ``num_samples < 1``,
            ``max_iter < 0``, ``ls_neighbors`` not a positive int or
            :obj:`None`.
    """
    n = _check_table(table)
    _check_cost(f, n)
    check_tensor(p, 'p', floating=True)
    if p.dim() != 1 or p.numel() != n:
        raise ValueError(f'p must have shape [{n}], got {tuple(p.shape)}')
    check_finite(p, 'p')
    if bool(((p < 0) | (p > 1)).any()):
        raise ValueError('p must hold probabilities in [0, 1]')
    check_choice(mode, 'mode', ('threshold', 'sample'))
    threshold = check_probability(threshold, 'threshold')
    num_samples = check_positive_int(num_samples, 'num_samples')
    max_iter = check_int(max_iter, 'max_iter', low=0)
    seed = check_int(seed, 'seed')
    if ls_neighbors is not None:
        ls_neighbors = check_positive_int(ls_neighbors, 'ls_neighbors')
    if not isinstance(local_search, bool):
        raise TypeError(f'local_search must be a bool, got '
                        f'{type(local_search).__name__}')
    p = p.detach()
    if mode == 'threshold':
        om = repair_open(table, p > threshold)
        c0 = facility_table_cost(table, om, f)
    elif mode == 'sample':
        g = torch.Generator().manual_seed(seed)
        best, c0 = None, math.inf
        for _ in range(num_samples):
            om = repair_open(table, torch.rand(n, generator=g,
                                               dtype=p.dtype) < p)
            c = facility_table_cost(table, om, f)
            if c < c0:
                best, c0 = om, c
        om = best
    else:
        raise ValueError(f"mode must be 'threshold' or 'sample', got {mode!r}")
    info = {'cost_decoded': c0, 'cost': c0, 'iterations': 0}
    if local_search:
        om = _polish(om, table, f, max_iter, ls_neighbors, info)
    return om, info


def _polish(om: Tensor, table: NeighborTable, f: float | Tensor,
            max_iter: int, ls_neighbors: int | None, info: dict) -> Tensor:
    """The local-search stage of :func:`unifl_decode` (validated inputs):
    search on the ``ls_neighbors`` nearest columns, cost on the full table;
    sets ``info['cost']`` and ``info['iterations']``."""
    ls_table = table
    if ls_neighbors is not None and table.index.size(1) > ls_neighbors:
        w = ls_neighbors
        ls_table = NeighborTable._make(
            (table.index[:, :w].contiguous(),
             table.dist[:, :w].contiguous(),
             table.mask[:, :w].contiguous()))
    om, ls = facility_local_search(ls_table, om, f, max_iter=max_iter)
    info['cost'] = (ls['cost'] if ls_table is table
                    else facility_table_cost(table, om, f))
    info['iterations'] = ls['iterations']
    return om


@torch.no_grad()
def unifl_solve(model: UniFLMPNN, data: Data, mode: str = 'threshold',
                local_search: bool = True, draws: int = 1,
                **kwargs) -> tuple[Tensor, dict]:
    """Model forward + :func:`unifl_decode` on one instance; ``info`` adds
    the seconds spent in the table, the forward passes and decoding.

    The model is randomised (its random node features ``u``); with
    ``draws = K > 1`` it runs ``K`` times with fresh features, each output
    is rounded by :func:`unifl_decode` without local search, and the
    cheapest rounded solution is kept (``info['cost_draws']`` lists the
    ``K`` costs); then, with ``local_search``, the search starts from it.
    ``info['cost_decoded']`` is always the model-alone cost (rounding and
    :math:`F_2`, no search).

    Raises:
        TypeError, ValueError: ``model`` not a :class:`UniFLMPNN`, an
            invalid instance or decoding option (see :func:`unifl_decode`),
            ``draws`` not a positive int.
    """
    if not isinstance(model, UniFLMPNN):
        raise TypeError(f'model must be a UniFLMPNN, got '
                        f'{type(model).__name__}')
    _check_data(data)
    check_choice(mode, 'mode', ('threshold', 'sample'))
    draws = check_positive_int(draws, 'draws')
    if not isinstance(local_search, bool):
        raise TypeError(f'local_search must be a bool, got '
                        f'{type(local_search).__name__}')
    model.eval()
    t0 = time.perf_counter()
    table = _prepare(data, model.max_neighbors)
    t1 = time.perf_counter()
    if draws == 1:
        p = model(data)
        t2 = time.perf_counter()
        om, info = unifl_decode(p, table, data.opening_cost, mode=mode,
                                local_search=local_search, **kwargs)
        t3 = time.perf_counter()
        info.update(time_table=t1 - t0, time_forward=t2 - t1,
                    time_decode=t3 - t2, time=t3 - t0)
        return om, info
    t_fwd = t_dec = 0.0
    best, costs = None, []
    for _ in range(draws):
        ta = time.perf_counter()
        p = model(data)
        tb = time.perf_counter()
        om, info = unifl_decode(p, table, data.opening_cost, mode=mode,
                                local_search=False, **kwargs)
        t_dec += time.perf_counter() - tb
        t_fwd += tb - ta
        costs.append(info['cost_decoded'])
        if best is None or info['cost_decoded'] < best[1]['cost_decoded']:
            best = (om, info)
    om, info = best
    info['cost_draws'] = costs
    if local_search:
        tb = time.perf_counter()
        om = _polish(om, table, data.opening_cost,
                     check_int(kwargs.get('max_iter', 50), 'max_iter',
                               low=0),
                     kwargs.get('ls_neighbors', 32), info)
        t_dec += time.perf_counter() - tb
    info.update(time_table=t1 - t0, time_forward=t_fwd, time_decode=t_dec,
                time=time.perf_counter() - t0)
    return om, info


def save_unifl(model: UniFLMPNN, path: str | Path, meta: dict | None = None
               ) -> None:
    """Save ``model`` (constructor arguments, float32 weights and ``meta``,
    e.g. the training command) to ``path``.

    Raises:
        TypeError: ``model`` not a :class:`UniFLMPNN` or ``meta`` not a
            dict.
    """
    if not isinstance(model, UniFLMPNN):
        raise TypeError(f'model must be a UniFLMPNN, got '
                        f'{type(model).__name__}')
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f'meta must be a dict, got {type(meta).__name__}')
    state = {k: v.detach().cpu().float() if v.is_floating_point() else
             v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({'format': 'pyg_ext.unifl/1', 'config': model.config(),
                'state_dict': state, 'meta': dict(meta or {})}, str(path))


def load_unifl(path: str | Path | None = None) -> UniFLMPNN:
    """Load a model saved by :func:`save_unifl`; ``None`` loads the packaged
    density-mixture checkpoint (:data:`PRETRAINED_UNIFL`; how it was
    trained is in its ``meta``, see ``model.meta``).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not a UniFL checkpoint.
    """
    path = Path(PRETRAINED_UNIFL if path is None else path)
    if not path.is_file():
        raise FileNotFoundError(f'path: no UniFL checkpoint at {path}')
    ck = torch.load(str(path), map_location='cpu', weights_only=True)
    if not isinstance(ck, dict) or ck.get('format') != 'pyg_ext.unifl/1':
        raise ValueError(f'path: {path} is not a UniFL checkpoint '
                         '(saved by save_unifl)')
    model = UniFLMPNN(**ck['config'])
    model.load_state_dict(ck['state_dict'])
    model.meta = ck.get('meta', {})
    model.eval()
    return model


def train_unifl_mixture(model: UniFLMPNN,
                        sizes: Sequence[int] = (200, 500, 1000),
                        densities: Sequence[float] = (
                            2, 3, 5, 8, 12, 20, 30, 45, 60),
                        families: Sequence[str] = (
                            'uniform', 'gaussian', 'clustered'),
                        per_combo: int = 1,
                        schedule: Sequence[tuple[int, float]] = (
                            (2000, 3e-3), (1500, 1e-3), (1000, 3e-4)),
                        seed: int = 0, log_every: int = 0) -> list[float]:
    r"""Unsupervised training on a mixture of sizes, densities (expected
    neighbours within :math:`f`) and families: one instance per
    ``(family, size, density)`` and ``per_combo``, seeds
    ``10_000 + ...`` (disjoint from the benchmark seeds), then
    :func:`train_unifl` for each ``(steps, lr)`` of ``schedule``.

    Returns:
        The per-step normalised losses.

    Raises:
        TypeError, ValueError: as :func:`train_unifl` and
            :func:`~pyg_ext.combopt.make_facility_instance`; an empty
            ``schedule``.
    """
    from pyg_ext.combopt.facility_location import make_facility_instance
    if not isinstance(model, UniFLMPNN):
        raise TypeError(f'model must be a UniFLMPNN, got '
                        f'{type(model).__name__}')
    per_combo = check_positive_int(per_combo, 'per_combo')
    if len(schedule) == 0:
        raise ValueError('schedule must hold at least one (steps, lr)')
    insts = []
    k = 0
    for fam in families:
        for n in sizes:
            for dens in densities:
                for _ in range(per_combo):
                    insts.append(make_facility_instance(
                        fam, int(n), seed=10_000 + 7919 * k,
                        avg_neighbors=float(dens)))
                    k += 1
    losses: list[float] = []
    for i, (steps, lr) in enumerate(schedule):
        losses += train_unifl(model, insts, steps=steps, lr=lr,
                              seed=seed + i, log_every=log_every)
    return losses


def extend_unifl(model: UniFLMPNN, extra_rounds: int,
                 grad_features: bool | None = None) -> UniFLMPNN:
    r"""A copy of ``model`` with ``extra_rounds`` more refinement rounds
    (``0`` allowed) and, with ``grad_features=True`` on a model without
    them, the marginal-cost inputs (:class:`UniFLMPNN` ``grad_features``)
    added to every refinement round with zero input weights (so they change
    nothing until trained).

    The existing rounds keep their weights; each new round gets fresh
    weights from the current torch seed with a zero head, so that for a
    ``refine=True`` model it starts as the identity on :math:`q` up to the
    clamp :math:`p \mapsto p_{\min} + (1 - 2p_{\min})p` (the returned model
    computes almost the same probabilities as ``model`` until it is
    trained). Used to warm-start deeper refinement (paper: more rounds of
    the recursive rounding) from a trained checkpoint.

    Raises:
        TypeError: ``model`` not a :class:`UniFLMPNN`, ``grad_features``
            not a bool or :obj:`None`.
        ValueError: ``extra_rounds < 0``, ``model.refine`` is False (an
            additive recursive round does not start as the identity),
            ``grad_features=False`` for a model that has them.
    """
    if not isinstance(model, UniFLMPNN):
        raise TypeError(f'model must be a UniFLMPNN, got '
                        f'{type(model).__name__}')
    extra_rounds = check_int(extra_rounds, 'extra_rounds', low=0)
    if grad_features is not None and not isinstance(grad_features, bool):
        raise TypeError(f'grad_features must be a bool or None, got '
                        f'{type(grad_features).__name__}')
    if not model.refine:
        raise ValueError('model: extend_unifl needs a refine=True model '
                         '(only refinement rounds start as the identity)')
    if grad_features is False and model.grad_features:
        raise ValueError('grad_features: cannot remove the marginal-cost '
                         'inputs of a model that has them')
    add_grad = bool(grad_features) and not model.grad_features
    cfg = model.config()
    cfg['recursive_steps'] = model.recursive_steps + extra_rounds
    cfg['grad_features'] = model.grad_features or add_grad
    out = UniFLMPNN(**cfg)
    sd = out.state_dict()
    for k, v in model.state_dict().items():
        if k in ('log_scale', 'bias'):
            sd[k][:v.numel()] = v
        elif add_grad and k.endswith('enc.weight') and \
                sd[k].shape != v.shape:
            # the new input columns (marginal-cost features) start at zero
            w = torch.zeros_like(sd[k])
            w[:, :v.size(1)] = v
            sd[k] = w
        else:
            sd[k] = v.clone()
    out.load_state_dict(sd)
    out.meta = dict(getattr(model, 'meta', {}))
    out.train(model.training)
    return out


#: How the packaged checkpoint was trained (stored in its ``meta``).
PRETRAIN_COMMAND = (
    "python -c \"from pyg_ext.nn.unifl import pretrain_unifl; "
    "pretrain_unifl('unifl_density_mix.pt')\"  (OMP_NUM_THREADS=1)")


def pretrain_unifl(path: str | Path, log_every: int = 250) -> UniFLMPNN:
    """Train the packaged density-mixture model and save it to ``path``.

    Phase 1: ``UniFLMPNN(hidden_channels=32, num_layers=2,
    recursive_steps=2, max_neighbors=96, scale_free=True, refine=True)``
    after ``torch.manual_seed(0)``, :func:`train_unifl_mixture` on
    uniform / gaussian / clustered points, n in {300, 600, 1000}, densities
    {2, 4, 8, 15, 30, 45, 60} expected points per f-ball, 3000 steps at lr
    3e-3. Phase 2: the same model with ``recursive_steps=4`` (phase-1
    weights copied, the two new refinement rounds start as the identity),
    ``torch.manual_seed(1)``, 1500 steps at lr 2e-3 (seed 100), then 1000 at
    lr 5e-4 (seed 101). Phase 3: ``torch.manual_seed(2)``, n in {600,
    1000}, densities {2, 8, 15, 30, 45, 60, 60} (dense instances weigh
    more), 1500 steps at lr 1e-3 (seed 200). Phase 4:
    ``torch.manual_seed(4)``, :func:`extend_unifl` with 2 more rounds and
    ``grad_features=True`` (every refinement round also sees the marginal
    expected cost of its input), the phase-3 mixture, 4 x 1000 steps at lr
    1e-3, 1e-3, 3.3e-4, 3.3e-4 (seeds 400-403). Phase 5:
    ``torch.manual_seed(5)``, :func:`extend_unifl` with 2 more rounds (8
    refinement rounds; the new ones start as the identity), a mixture with
    more dense instances (n in {600, 1000}, densities {2, 8, 15, 30, 45, 60,
    60, 60, 80}), 1000 steps at lr 1e-3, 1e-3, 3e-4 (seeds 500-502). One
    torch thread; about 23 min of process CPU on the shared machine (phase
    4: 8 min CPU, 28 min wall; phase 5: 8 min CPU, 36 min wall).

    Raises:
        TypeError, ValueError: as :func:`train_unifl_mixture`.
    """
    mix = {'sizes': (300, 600, 1000),
           'densities': (2, 4, 8, 15, 30, 45, 60)}
    torch.manual_seed(0)
    first = UniFLMPNN(hidden_channels=32, num_layers=2, recursive_steps=2,
                      max_neighbors=96, scale_free=True, refine=True)
    train_unifl_mixture(first, schedule=[(3000, 3e-3)], seed=0,
                        log_every=log_every, **mix)
    torch.manual_seed(1)
    # the run that produced the checkpoint reloaded phase 1 from disk here,
    # which builds (and draws the initial weights of) one model first
    UniFLMPNN(**first.config())
    cfg = first.config()
    cfg['recursive_steps'] = 4
    model = UniFLMPNN(**cfg)
    sd = model.state_dict()
    for k, v in first.state_dict().items():
        if k in ('log_scale', 'bias'):
            sd[k][:v.numel()] = v
        else:
            sd[k] = v
    model.load_state_dict(sd)
    for i, st in enumerate([(1500, 2e-3), (1000, 5e-4)]):
        train_unifl_mixture(model, schedule=[st], seed=100 + i,
                            log_every=log_every, **mix)
    # phase 3: more weight on dense instances
    torch.manual_seed(2)
    UniFLMPNN(**model.config())  # (reloaded from disk there as well)
    train_unifl_mixture(model, sizes=(600, 1000),
                        densities=(2, 8, 15, 30, 45, 60, 60),
                        schedule=[(1500, 1e-3)], seed=200,
                        log_every=log_every)
    # phase 4: marginal-cost inputs for every refinement round (zero input
    # weights at first) and 2 more rounds; the shipped file ran this phase
    # from the phase-3 checkpoint loaded from disk
    torch.manual_seed(4)
    model = extend_unifl(model, 2, grad_features=True)
    for i, st in enumerate([(1000, 1e-3), (1000, 1e-3), (1000, 1e-3 / 3),
                            (1000, 1e-3 / 3)]):
        train_unifl_mixture(model, sizes=(600, 1000),
                            densities=(2, 8, 15, 30, 45, 60, 60),
                            schedule=[st], seed=400 + i,
                            log_every=log_every)
    # phase 5: 2 more refinement rounds (identity at first) and more weight
    # on dense instances (density 80 lies beyond the benchmark's range); the
    # shipped file ran this phase from the phase-4 checkpoint loaded from
    # disk
    torch.manual_seed(5)
    model = extend_unifl(model, 2)
    for i, st in enumerate([(1000, 1e-3), (1000, 1e-3), (1000, 3e-4)]):
        train_unifl_mixture(model, sizes=(600, 1000),
                            densities=(2, 8, 15, 30, 45, 60, 60, 60, 80),
                            schedule=[st], seed=500 + i,
                            log_every=log_every)
    save_unifl(model, path, meta={'command': PRETRAIN_COMMAND})
    return model
