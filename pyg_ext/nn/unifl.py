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
saturation otherwise).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn import MessagePassing

from pyg_ext.combopt.facility_location import (
    NeighborTable,
    _check_cost,
    _check_table,
    _expected_distance,
    _node_cost,
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
    'train_unifl',
    'unifl_decode',
    'unifl_solve',
]


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
            m = torch.cat([torch.sparse.mm(edge_index, h),
                           torch.sparse.mm(adj_w_t, h)], dim=1)
        else:
            # propagate_type: (x: Tensor, weight: Tensor)
            m = self.propagate(edge_index, x=h, weight=weight)
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
                 p_min: float = 0.005, max_neighbors: int | None = 15
                 ) -> None:
        super().__init__()
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
        in_dim = num_bins + 8
        self.rounds = torch.nn.ModuleList()
        for t in range(recursive_steps + 1):
            extra = 0 if t == 0 else 3
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
        if hasattr(data, 'batch') and data.batch is not None and \
                f.numel() > 1:
            f = f[data.batch]
        dtype = torch.float32
        table = _prepare(data, self.max_neighbors)
        table = NeighborTable(table.index, table.dist.to(dtype), table.mask)
        fx = _node_cost(f, n, table.dist)
        r_hat, tbin = self.radius(None, None, fx, n, table=table)
        # CSR adjacency from the table rows (row = target, self excluded)
        nb = table.mask.clone()
        nb[:, 0] = False
        deg = nb.sum(1)
        ptr = torch.zeros(n + 1, dtype=torch.long, device=deg.device)
        ptr[1:] = torch.cumsum(deg, 0)
        src = table.index[nb]
        tgt = torch.arange(n, device=deg.device).repeat_interleave(deg)
        dn = table.dist[nb] / fx.index_select(0, tgt)
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
        base = torch.cat([tbin, rr.view(-1, 1), torch.log(rr).view(-1, 1),
                          torch.log1p(deg).view(-1, 1) / 4,
                          noise.view(-1, 1).to(dtype), sym], dim=1)
        q = None
        ps = []
        for t, rnd in enumerate(self.rounds):
            if t == 0:
                x = base
            else:
                ed = _expected_distance(q, table, fx) / fx
                x = torch.cat([base, q.view(-1, 1), ed.view(-1, 1),
                               (ed / rr).clamp(max=10).view(-1, 1) / 10],
                              dim=1)
            h = torch.relu(rnd['enc'](x))
            for conv in rnd['convs']:
                h = conv(h, adj, w, inv_deg, adj_w)
            logit = rnd['head'](h).view(-1) + \
                torch.exp(self.log_scale[t]) * torch.log(rr) + self.bias[t]
            if t > 0:
                # recursive rounds: open where the soft set is still far
                logit = logit + torch.log(ed.clamp(min=1e-6))
            p = self.p_min + (1 - 2 * self.p_min) * torch.sigmoid(logit)
            ps.append(p)
            q = p if q is None else 1 - (1 - q) * (1 - p)
        return (q, ps) if return_all else q

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(hidden={self.hidden_channels}, '
                f'layers={self.num_layers}, bins={self.num_bins}, '
                f'recursive_steps={self.recursive_steps})')


def _prepare(data: Data, max_neighbors: int | None = 31) -> NeighborTable:
    """The neighbour table of ``data`` (cached as ``data._unifl_table``):
    from ``pos`` by a KD-tree query when present, else from ``edge_index``,
    truncated to ``max_neighbors`` per row."""
    t = getattr(data, '_unifl_table', None)
    if t is not None:
        return t
    f = float(data.opening_cost.view(-1)[0])
    if getattr(data, 'pos', None) is not None and \
            data.opening_cost.numel() == 1:
        t = facility_table(data.pos, f, max_neighbors=max_neighbors or
                           data.num_nodes)
    else:
        _check_graph(data.edge_index, data.edge_attr.view(-1),
                     data.num_nodes)
        t = neighbor_table(data.edge_index, data.edge_attr.view(-1),
                           data.num_nodes, max_neighbors)
    data._unifl_table = t
    return t


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
                 max_iter: int = 50, seed: int = 0
                 ) -> tuple[Tensor, dict]:
    r"""Turn opening probabilities into a solution.

    ``'threshold'``: :math:`F_1 = \{x : p_x > \text{threshold}\}`;
    ``'sample'``: ``num_samples`` draws :math:`F_1 \sim p`, the cheapest kept.
    Then :math:`F_2` (every point with no open facility within :math:`f`)
    and, with ``local_search``, :func:`~pyg_ext.combopt.facility_local_search`.

    Returns:
        ``(open_mask, info)`` with the cost before and after local search.

    Raises:
        TypeError, ValueError: invalid ``table`` or ``f``, ``p`` not a
            finite ``[n]`` tensor in ``[0, 1]``, unknown ``mode``,
            ``threshold`` outside ``[0, 1]``, ``num_samples < 1``,
            ``max_iter < 0``.
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
        om, ls = facility_local_search(table, om, f, max_iter=max_iter)
        info['cost'] = ls['cost']
        info['iterations'] = ls['iterations']
    return om, info


@torch.no_grad()
def unifl_solve(model: UniFLMPNN, data: Data, mode: str = 'threshold',
                local_search: bool = True, **kwargs) -> tuple[Tensor, dict]:
    """Model forward + :func:`unifl_decode` on one instance; ``info`` adds
    the seconds spent in the table, the forward pass and decoding.

    Raises:
        TypeError, ValueError: ``model`` not a :class:`UniFLMPNN`, an
            invalid instance or decoding option (see :func:`unifl_decode`).
    """
    if not isinstance(model, UniFLMPNN):
        raise TypeError(f'model must be a UniFLMPNN, got '
                        f'{type(model).__name__}')
    _check_data(data)
    check_choice(mode, 'mode', ('threshold', 'sample'))
    model.eval()
    t0 = time.perf_counter()
    _prepare(data, model.max_neighbors)
    t1 = time.perf_counter()
    p = model(data)
    t2 = time.perf_counter()
    om, info = unifl_decode(p, data._unifl_table, data.opening_cost,
                            mode=mode, local_search=local_search, **kwargs)
    t3 = time.perf_counter()
    info.update(time_table=t1 - t0, time_forward=t2 - t1,
                time_decode=t3 - t2, time=t3 - t0)
    return om, info
