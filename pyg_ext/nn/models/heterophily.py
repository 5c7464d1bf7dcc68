r"""The baselines of Platonov et al. (ICLR 2023): graph-agnostic ResNet and
standard GNNs with residual connections and layer normalisation.

`"A Critical Look at the Evaluation of GNNs under Heterophily: Are We Really
Making Progress?" <https://arxiv.org/abs/2302.11640>`_ shows that GCN, SAGE,
GAT and a graph transformer, each wrapped as

.. math::
    \mathbf{h} \leftarrow \mathbf{h} +
    \mathrm{Module}(\mathrm{LayerNorm}(\mathbf{h}))

between an input projection (linear, dropout, GELU) and an output
(LayerNorm, linear), match or beat heterophily-specific models. Every module
ends in a two-layer GELU feed-forward network; the ``-sep`` variants
concatenate the node's own representation with the aggregated message
(ego/neighbour separation) instead of mixing them. Written for PyG (pure
PyTorch, no DGL): aggregation runs over the *incoming* arcs of
``edge_index`` (``source -> target``), so undirected graphs must store both
directions, as PyG's do.
"""

from __future__ import annotations

import logging
import math
import warnings

import torch
from torch import Tensor, nn
from torch_geometric.utils import softmax

from pyg_ext.utils.validation import (
    check_choice,
    check_edge_index,
    check_finite,
    check_int,
    check_positive_int,
    check_probability,
    check_real,
    check_tensor,
)

logger = logging.getLogger(__name__)

MODELS = ('resnet', 'gcn', 'sage', 'gat', 'gat-sep', 'gt', 'gt-sep')

#: Models that see self-loops (the reference code adds one per node for
#: GCN, GAT and GT; SAGE and the -sep variants keep ego and neighbours apart).
SELF_LOOP_MODELS = ('gcn', 'gat', 'gt')


def canonical_model(name: str) -> str:
    """``'GAT-sep'`` / ``'gat_sep'`` -> ``'gat-sep'``; ``ValueError`` for an
    unknown model."""
    key = str(name).strip().lower().replace('_', '-')
    if key not in MODELS:
        raise ValueError(f"unknown model '{name}'; choose from "
                         f"{', '.join(MODELS)}")
    return key


def _csr(crow: Tensor, col: Tensor, values: Tensor, n: int) -> Tensor:
    with warnings.catch_warnings():  # 'CSR support is in beta state'
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, (n, n),
                                       check_invariants=False)


def _crow(rows: Tensor, n: int) -> Tensor:
    """CSR row pointers ``[n + 1]`` of entries with row indices ``rows``
    (sorted by row)."""
    counts = torch.bincount(rows, minlength=n)
    return torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])


def _spmm_heads(crow: Tensor, col: Tensor, values: Tensor, x: Tensor
                ) -> Tensor:
    """``out[:, h] = A_h @ x[:, h]`` per head, ``A_h`` the CSR matrix
    ``(crow, col)`` with values ``values[:, h]``; ``x`` is ``[N, H, D]``."""
    out = torch.empty_like(x)
    for h in range(x.size(1)):
        out[:, h] = _csr(crow, col, values[:, h], x.size(0)) @ x[:, h]
    return out


def _sddmm_heads(crow: Tensor, col: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``out[e, h] = <a[row_e, h], b[col_e, h]>`` for every stored entry
    ``e`` of the CSR pattern ``(crow, col)``: sampled dense-dense products,
    no ``[E, H, D]`` gathers."""
    zeros = torch.zeros(col.numel(), dtype=a.dtype, device=a.device)
    pattern = _csr(crow, col, zeros, a.size(0))
    out = a.new_empty(col.numel(), a.size(1))
    for h in range(a.size(1)):
        out[:, h] = torch.sparse.sampled_addmm(
            pattern, a[:, h], b[:, h].t(), beta=0.0).values()
    return out


class _CSRAttend(torch.autograd.Function):
    r"""``out[v, h] = sum over arcs e = (u -> v) of alpha[e, h] * x[u, h]``
    with the arcs in CSR order (sorted by target): one sparse-dense product
    per head forward, the transposed product and a sampled dense-dense
    product (``dalpha[e, h] = <dout[v, h], x[u, h]>``) backward. Never
    gathers the ``[E, H, D]`` message tensor (2 GB per layer on tolokers)."""

    @staticmethod
    def forward(ctx: object, alpha: Tensor, x: Tensor, crow: Tensor,
                col: Tensor, crow_t: Tensor, col_t: Tensor, perm_t: Tensor
                ) -> Tensor:
        ctx.save_for_backward(alpha, x, crow, col, crow_t, col_t, perm_t)
        return _spmm_heads(crow, col, alpha, x)

    @staticmethod
    def backward(ctx: object, dout: Tensor) -> tuple:
        alpha, x, crow, col, crow_t, col_t, perm_t = ctx.saved_tensors
        dout = dout.contiguous()
        dalpha = dx = None
        if ctx.needs_input_grad[1]:
            dx = _spmm_heads(crow_t, col_t, alpha[perm_t], dout)
        if ctx.needs_input_grad[0]:
            dalpha = _sddmm_heads(crow, col, dout, x)
        return dalpha, dx, None, None, None, None, None


class _CSRDot(torch.autograd.Function):
    r"""``s[e, h] = <q[v, h], k[u, h]>`` for every arc ``e = (u -> v)`` in
    CSR order: a sampled dense-dense product per head forward, two sparse
    products backward (``dq = A(ds) k``, ``dk = A(ds)^T q``); never gathers
    ``[E, H, D]`` tensors."""

    @staticmethod
    def forward(ctx: object, q: Tensor, k: Tensor, crow: Tensor,
                col: Tensor, crow_t: Tensor, col_t: Tensor, perm_t: Tensor
                ) -> Tensor:
        ctx.save_for_backward(q, k, crow, col, crow_t, col_t, perm_t)
        return _sddmm_heads(crow, col, q, k)

    @staticmethod
    def backward(ctx: object, ds: Tensor) -> tuple:
        q, k, crow, col, crow_t, col_t, perm_t = ctx.saved_tensors
        ds = ds.contiguous()
        dq = dk = None
        if ctx.needs_input_grad[0]:
            dq = _spmm_heads(crow, col, ds, k)
        if ctx.needs_input_grad[1]:
            dk = _spmm_heads(crow_t, col_t, ds[perm_t], q)
        return dq, dk, None, None, None, None, None


def _acc_dtype(x: Tensor) -> torch.dtype:
    """Accumulation dtype of the sparse products: float64 input stays
    float64, anything else (float32, or float16/bfloat16 under autocast)
    runs in float32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


class _Graph:
    """Graph quantities shared by all layers (cached by the model while
    ``edge_index`` is unchanged). Arcs are kept sorted by (target, source):
    the CSR order of every sparse product (repeated arcs stay separate
    entries and count twice, as in a scatter-sum).

    ``self_loops`` adds one self-loop per node: ``loop_mode='append'``
    keeps the loops already in ``edge_index`` (a node with one gets two, as
    ``dgl.add_self_loop`` in the reference code), ``'replace'`` drops them
    first (exactly one per node). ``degree`` is the degree of the GCN
    normalisation :math:`1 / \\sqrt{d_u d_v}` of an arc ``u -> v``:
    ``'out'`` (out-degrees of both ends, as the reference code's
    ``graph.out_degrees()``) or ``'in'`` (in-degrees, PyG's ``gcn_norm``);
    both agree on graphs that store both directions of every edge."""

    def __init__(self, edge_index: Tensor, num_nodes: int,
                 self_loops: bool, loop_mode: str = 'replace',
                 degree: str = 'in') -> None:
        src, dst = edge_index[0], edge_index[1]
        if self_loops:
            loop = torch.arange(num_nodes, device=src.device)
            if loop_mode == 'replace':
                keep = src != dst
                src, dst = src[keep], dst[keep]
            src = torch.cat([src, loop])
            dst = torch.cat([dst, loop])
        order = torch.argsort(dst * num_nodes + src)
        self.src, self.dst, self.n = src[order], dst[order], num_nodes
        self.crow = _crow(self.dst, num_nodes)
        self.deg = self.crow.diff().float()  # in-degrees
        self.gcn_deg = (self.deg if degree == 'in' else
                        torch.bincount(self.src, minlength=num_nodes).float())
        self._transposed: tuple[Tensor, ...] | None = None
        self._mean: dict[torch.dtype, Tensor] = {}
        self._sym: dict[torch.dtype, Tensor] = {}

    def mean(self, x: Tensor) -> Tensor:
        """Mean over in-neighbours (0 for a node without any)."""
        dt = _acc_dtype(x)
        if dt not in self._mean:
            w = 1.0 / self.deg.to(dt).clamp(min=1)[self.dst]
            self._mean[dt] = _csr(self.crow, self.src, w, self.n)
        with torch.autocast(x.device.type, enabled=False):
            # sparse products in float32 (float64 for float64 input)
            return self._mean[dt] @ x.to(dt)

    def sym(self, x: Tensor) -> Tensor:
        r"""GCN aggregation :math:`\sum_{u \to v} x_u / \sqrt{d_u d_v}`
        (``d`` the degree chosen at construction, clamped to at least 1)."""
        dt = _acc_dtype(x)
        if dt not in self._sym:
            inv = self.gcn_deg.to(dt).clamp(min=1).rsqrt()
            w = inv[self.src] * inv[self.dst]
            self._sym[dt] = _csr(self.crow, self.src, w, self.n)
        with torch.autocast(x.device.type, enabled=False):
            return self._sym[dt] @ x.to(dt)

    def csr_index(self) -> tuple[Tensor, ...]:
        """``crow``, ``col`` of the arcs (in their stored order) and of the
        transposed graph, and the permutation to the transposed order."""
        if self._transposed is None:
            perm_t = torch.argsort(self.src * self.n + self.dst)
            self._transposed = (_crow(self.src, self.n), self.dst[perm_t],
                                perm_t)
        return (self.crow, self.src, *self._transposed)

    def attend(self, scores: Tensor, values: Tensor) -> Tensor:
        """Softmax ``scores`` ``[E, H]`` over each node's in-arcs and sum
        ``values`` ``[N, H, D]`` of the sources (float32, or float64 for
        float64 values; sparse products).
        """
        dt = _acc_dtype(values)
        with torch.autocast(values.device.type, enabled=False):
            alpha = softmax(scores.to(dt), self.dst, num_nodes=self.n)
            return _CSRAttend.apply(alpha.contiguous(),
                                    values.to(dt).contiguous(),
                                    *self.csr_index())

    def dot(self, q: Tensor, k: Tensor) -> Tensor:
        """``[E, H]`` scores ``<q[target], k[source]>`` of ``[N, H, D]``
        ``q`` and ``k`` (float32, or float64 for float64 ``q``; sampled
        products)."""
        dt = _acc_dtype(q)
        with torch.autocast(q.device.type, enabled=False):
            return _CSRDot.apply(q.to(dt).contiguous(),
                                 k.to(dt).contiguous(), *self.csr_index())


class FeedForward(nn.Module):
    """Linear, dropout, GELU, linear, dropout."""

    def __init__(self, dim: int, multiplier: float, dropout: float,
                 in_multiplier: int = 1) -> None:
        super().__init__()
        hidden = int(dim * multiplier)
        self.lin1 = nn.Linear(dim * in_multiplier, hidden)
        self.lin2 = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, graph: _Graph | None = None) -> Tensor:
        x = self.dropout(self.lin1(x))
        return self.dropout(self.lin2(nn.functional.gelu(x)))


class GCNBlock(nn.Module):
    """Symmetric-normalised sum over in-neighbours (degrees as chosen by
    the model's ``gcn_degree``), then feed-forward."""

    def __init__(self, dim: int, multiplier: float, dropout: float,
                 heads: int) -> None:
        super().__init__()
        self.ff = FeedForward(dim, multiplier, dropout)

    def forward(self, x: Tensor, graph: _Graph) -> Tensor:
        return self.ff(graph.sym(x))


class SAGEBlock(nn.Module):
    """``[x, mean of in-neighbours]``, then feed-forward."""

    def __init__(self, dim: int, multiplier: float, dropout: float,
                 heads: int) -> None:
        super().__init__()
        self.ff = FeedForward(dim, multiplier, dropout, in_multiplier=2)

    def forward(self, x: Tensor, graph: _Graph) -> Tensor:
        return self.ff(torch.cat([x, graph.mean(x)], dim=-1))


class GATBlock(nn.Module):
    """GAT attention (LeakyReLU of source + target scores), then
    feed-forward; ``sep=True`` concatenates ego and message."""

    def __init__(self, dim: int, multiplier: float, dropout: float,
                 heads: int, sep: bool = False) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f'hidden_channels={dim} must be a multiple of '
                             f'num_heads={heads}')
        self.heads, self.sep = heads, sep
        self.lin = nn.Linear(dim, dim)
        self.att_src = nn.Linear(dim, heads)
        self.att_dst = nn.Linear(dim, heads, bias=False)
        self.ff = FeedForward(dim, multiplier, dropout,
                              in_multiplier=2 if sep else 1)

    def forward(self, x: Tensor, graph: _Graph) -> Tensor:
        x = self.lin(x)
        scores = self.att_src(x)[graph.src] + self.att_dst(x)[graph.dst]
        scores = nn.functional.leaky_relu(scores, 0.2)
        # heads interleave over the channels (channel c is in head
        # c % heads), as the reference's x.reshape(-1, head_dim, num_heads)
        values = x.view(x.size(0), -1, self.heads).transpose(1, 2)
        msg = graph.attend(scores, values).transpose(1, 2).reshape(x.shape)
        return self.ff(torch.cat([x, msg], dim=-1) if self.sep else msg)


class TransformerBlock(nn.Module):
    """Scaled dot-product attention over in-neighbours (arc ``u -> v``
    scored by the query of ``u`` against the key of ``v``), output
    projection (of ``[x, message]`` with ``sep=True``) and dropout; the
    model follows it with a feed-forward block."""

    def __init__(self, dim: int, multiplier: float, dropout: float,
                 heads: int, sep: bool = False) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f'hidden_channels={dim} must be a multiple of '
                             f'num_heads={heads}')
        self.heads, self.sep = heads, sep
        self.q, self.k, self.v = (nn.Linear(dim, dim) for _ in range(3))
        self.out = nn.Linear(2 * dim if sep else dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, graph: _Graph) -> Tensor:
        n, h = x.size(0), self.heads
        q = self.q(x).view(n, h, -1)
        k = self.k(x).view(n, h, -1)
        v = self.v(x).view(n, h, -1)
        # the score of an arc u -> v is <q_u, k_v> (the reference's
        # ops.u_dot_v(graph, queries, keys)), softmaxed over v's in-arcs
        scores = graph.dot(k, q) / math.sqrt(q.size(-1))
        msg = graph.attend(scores, v).reshape(x.shape)
        out = torch.cat([x, msg], dim=-1) if self.sep else msg
        return self.dropout(self.out(out))


class _Residual(nn.Module):
    def __init__(self, block: nn.Module, dim: int, norm: str) -> None:
        super().__init__()
        self.norm = _norm(norm, dim)
        self.block = block

    def forward(self, x: Tensor, graph: _Graph) -> Tensor:
        return x + self.block(self.norm(x), graph)


def _norm(kind: str, dim: int) -> nn.Module:
    kind = kind.lower()
    if kind == 'layernorm':
        return nn.LayerNorm(dim)
    if kind == 'batchnorm':
        return nn.BatchNorm1d(dim)
    if kind == 'none':
        return nn.Identity()
    raise ValueError(f"normalization must be 'layernorm', 'batchnorm' or "
                     f"'none', got {kind!r}")


class HeterophilyBaseline(nn.Module):
    r"""One of the Platonov et al. (ICLR 2023) baselines: ``'resnet'``
    (graph-agnostic), ``'gcn'``, ``'sage'``, ``'gat'``, ``'gat-sep'``,
    ``'gt'``, ``'gt-sep'``, each layer a pre-norm residual block.

    Defaults are the paper's: 512 hidden channels, 8 heads, dropout 0.2,
    feed-forward width multiplier 1, LayerNorm (train with AdamW, lr 3e-5,
    1000 full-batch steps, and pick 1-5 layers on validation).

    Args:
        model (str): the baseline (see above).
        in_channels (int): input features.
        out_channels (int): outputs (1 for binary tasks).
        hidden_channels (int, optional): (default: :obj:`512`)
        num_layers (int, optional): residual blocks; GT and GT-sep add a
            feed-forward block after each attention block, as in the paper.
            ``0`` is allowed on purpose: the graph-agnostic model
            ``lin_out(norm(gelu(lin_in(x))))`` without message passing, a
            reference point below the ResNet baseline. (default: :obj:`2`)
        num_heads (int, optional): attention heads. (default: :obj:`8`)
        dropout (float, optional): (default: :obj:`0.2`)
        hidden_multiplier (float, optional): feed-forward width over
            ``hidden_channels``. (default: :obj:`1.0`)
        normalization (str, optional): ``'layernorm'``, ``'batchnorm'`` or
            ``'none'``. (default: :obj:`'layernorm'`)
        add_self_loops (bool, optional): add one self-loop per node;
            default: for GCN, GAT and GT, as in the paper's code.
        self_loop_mode (str, optional): ``'append'`` adds the loops to the
            arcs as given, so a node that already has a self-loop gets a
            second one (the reference code's ``dgl.add_self_loop``);
            ``'replace'`` drops existing loops first, exactly one per node
            (the behaviour before this option existed). (default:
            :obj:`'append'`)
        gcn_degree (str, optional): the degree :math:`d` in GCN's
            :math:`\sum_{u \to v} x_u / \sqrt{d_u d_v}`: ``'out'``
            (out-degrees of both ends, as the reference code's
            ``graph.out_degrees()``) or ``'in'`` (in-degrees, PyG's
            ``gcn_norm``; the behaviour before this option existed).
            (default: :obj:`'out'`)

    Semantics follow the reference code (yandex-research/heterophilous-
    graphs, ``modules.py``) on directed graphs too, where earlier versions
    of this class differed (same weights, different logits): GCN
    normalised by in-degrees and existing self-loops were replaced (both
    kept as ``gcn_degree='in'``, ``self_loop_mode='replace'``); GAT now
    interleaves heads over the channels (channel ``c`` in head
    ``c % num_heads``, the reference's ``reshape(-1, head_dim,
    num_heads)``) instead of contiguous blocks, and GT scores an arc
    ``u -> v`` with ``<q_u, k_v>`` instead of ``<q_v, k_u>`` (both also on
    undirected graphs; checkpoints of those models load but compute a
    different function). On graphs that store both directions of every
    edge without self-loops the two ``gcn_degree``/``self_loop_mode``
    choices agree. A float64 model aggregates in float64 (float32
    otherwise, also under autocast).

    Raises:
        ValueError: unknown ``model`` or ``normalization``, non-positive
            sizes, ``dropout`` outside ``[0, 1)``, ``hidden_channels`` not a
            multiple of ``num_heads`` (attention models), unknown
            ``self_loop_mode`` or ``gcn_degree``; in :meth:`forward`, see
            there.
        TypeError: non-integer sizes, a non-str ``normalization``.

    Shapes:
        - **input:** node features :math:`(N, F_{in})`, edge indices
          :math:`(2, E)`
        - **output:** :math:`(N, F_{out})`, or :math:`(N,)` when
          ``out_channels == 1``
    """

    def __init__(self, model: str, in_channels: int, out_channels: int,
                 hidden_channels: int = 512, num_layers: int = 2,
                 num_heads: int = 8, dropout: float = 0.2,
                 hidden_multiplier: float = 1.0,
                 normalization: str = 'layernorm',
                 add_self_loops: bool | None = None,
                 self_loop_mode: str = 'append',
                 gcn_degree: str = 'out') -> None:
        super().__init__()
        self.model = canonical_model(model)
        in_channels = check_positive_int(in_channels, 'in_channels')
        out_channels = check_positive_int(out_channels, 'out_channels')
        hidden_channels = check_positive_int(hidden_channels,
                                             'hidden_channels')
        num_layers = check_int(num_layers, 'num_layers', low=0)
        if not isinstance(normalization, str):
            raise TypeError(f"normalization must be 'layernorm', 'batchnorm' "
                            f"or 'none', got {type(normalization).__name__} "
                            f'{normalization!r}')
        normalization = check_choice(normalization.lower(), 'normalization',
                                     ('layernorm', 'batchnorm', 'none'))
        num_heads = check_positive_int(num_heads, 'num_heads')
        dropout = check_probability(dropout, 'dropout', allow_one=False)
        hidden_multiplier = check_real(hidden_multiplier, 'hidden_multiplier',
                                       low=0.0, low_open=True)
        if int(hidden_channels * hidden_multiplier) < 1:
            raise ValueError(f'hidden_multiplier={hidden_multiplier} gives an '
                             f'empty feed-forward layer for hidden_channels='
                             f'{hidden_channels}')
        if add_self_loops is not None and not isinstance(add_self_loops,
                                                         bool):
            raise TypeError(f'add_self_loops must be a bool or None, got '
                            f'{type(add_self_loops).__name__}')
        self.self_loop_mode = check_choice(self_loop_mode, 'self_loop_mode',
                                           ('append', 'replace'))
        self.gcn_degree = check_choice(gcn_degree, 'gcn_degree',
                                       ('out', 'in'))
        self.in_channels, self.out_channels = in_channels, out_channels
        self.hidden_channels, self.num_layers = hidden_channels, num_layers
        self.add_self_loops = (self.model in SELF_LOOP_MODELS
                               if add_self_loops is None else add_self_loops)
        d, mult, p, h = hidden_channels, hidden_multiplier, dropout, num_heads
        self.lin_in = nn.Linear(in_channels, d)
        self.dropout = nn.Dropout(dropout)
        blocks: list[nn.Module] = []
        for _ in range(num_layers):
            if self.model == 'resnet':
                layer = [FeedForward(d, mult, p)]
            elif self.model == 'gcn':
                layer = [GCNBlock(d, mult, p, h)]
            elif self.model == 'sage':
                layer = [SAGEBlock(d, mult, p, h)]
            elif self.model in ('gat', 'gat-sep'):
                layer = [GATBlock(d, mult, p, h, sep=self.model == 'gat-sep')]
            else:
                layer = [TransformerBlock(d, mult, p, h,
                                          sep=self.model == 'gt-sep'),
                         FeedForward(d, mult, p)]
            blocks += [_Residual(b, d, normalization) for b in layer]
        self.blocks = nn.ModuleList(blocks)
        self.norm_out = _norm(normalization, d)
        self.lin_out = nn.Linear(d, out_channels)
        self._graph_cache: tuple[Tensor, tuple, _Graph] | None = None

    def reset_parameters(self) -> None:
        """Re-initialise every parameter."""
        for m in self.modules():
            if m is not self and hasattr(m, 'reset_parameters'):
                m.reset_parameters()

    def check_input(self, x: Tensor, edge_index: Tensor | None) -> None:
        """Validate the inputs of :meth:`forward` (run by it unless
        ``torch.compile`` traces): ``x`` a finite floating ``[N,
        in_channels]`` tensor with ``N >= 1``, ``edge_index`` a ``[2, E]``
        integer tensor on ``x``'s device with ids in ``[0, N)`` (``None`` is
        accepted for ``'resnet'``, which ignores the graph).

        Raises:
            TypeError: non-tensor or wrongly typed ``x``/``edge_index``.
            ValueError: wrong shapes, NaN/inf in ``x``, ids out of range.
        """
        check_tensor(x, 'x', dim=2, floating=True)
        if x.size(1) != self.in_channels:
            raise ValueError(f'x must have in_channels={self.in_channels} '
                             f'columns, got shape {tuple(x.shape)}')
        if x.size(0) == 0:
            raise ValueError('x must hold at least one node, got shape '
                             f'{tuple(x.shape)}')
        check_finite(x, 'x')
        if edge_index is None and self.model == 'resnet':
            return
        check_edge_index(edge_index)
        if edge_index.device != x.device:
            raise ValueError(f'edge_index is on {edge_index.device} but x is '
                             f'on {x.device}')
        # ids >= N would be read out of bounds by the unchecked sparse
        # products (non-finite, non-deterministic output)
        check_edge_index(edge_index, x.size(0))

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Node logits (squeezed to ``[N]`` for one output).

        Raises:
            TypeError, ValueError: as :meth:`check_input` (skipped while
                ``torch.compile`` traces).
        """
        if not torch.compiler.is_compiling():
            self.check_input(x, edge_index)
        graph = None
        if self.model != 'resnet':
            key = (edge_index.data_ptr(), edge_index.shape,
                   edge_index._version, edge_index.device, x.size(0))
            cached = self._graph_cache  # holds edge_index: no address reuse
            if (cached is not None and cached[0] is edge_index
                    and cached[1] == key):
                graph = cached[2]
            else:
                graph = _Graph(edge_index, x.size(0), self.add_self_loops,
                               self.self_loop_mode, self.gcn_degree)
                self._graph_cache = (edge_index, key, graph)
        x = nn.functional.gelu(self.dropout(self.lin_in(x)))
        for block in self.blocks:
            x = block(x, graph)
        # the head runs in float32 under autocast (float64 for a float64
        # model): low-precision logits tie and would blur ROC-AUC
        with torch.autocast(x.device.type, enabled=False):
            x = self.lin_out(self.norm_out(x.to(_acc_dtype(x))))
        return x.squeeze(-1) if self.out_channels == 1 else x

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.model}, '
                f'{self.in_channels}, {self.out_channels}, '
                f'hidden={self.hidden_channels}, '
                f'layers={self.num_layers})')


__all__ = ['MODELS', 'HeterophilyBaseline', 'canonical_model']
