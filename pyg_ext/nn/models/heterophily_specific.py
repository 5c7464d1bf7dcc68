r"""The heterophily-specific models evaluated by Platonov et al. (ICLR 2023).

`"A Critical Look at the Evaluation of GNNs under Heterophily: Are We Really
Making Progress?" <https://arxiv.org/abs/2302.11640>`_ (Table 4) compares its
baselines (:class:`~pyg_ext.nn.models.HeterophilyBaseline`) with H2GCN,
CPGNN, GPR-GNN, FSGNN, GloGNN, FAGCN, GBK-GNN and JacobiConv, run with the
authors' code as adapted in ``Godofnothing/HeterophilySpecificModels``
(commit ``10d0637``), and with two graph-agnostic ResNets fed graph-derived
features: ResNet+SGC (:math:`[X, \hat{A}^5 X]`) and ResNet+adj
(:math:`[X, A]`). Each model here is written from its paper and its
authors' code, in pure PyTorch / PyG (no DGL, TensorFlow or
``torch_sparse``).

Every model is called as ``model(x, edge_index)`` on a PyG graph that
stores both directions of every undirected edge, and returns logits:
``[N, out_channels]``, or ``[N]`` when ``out_channels == 1`` (binary tasks
trained with ``binary_cross_entropy_with_logits``, as the baselines). Models
whose internals are class-structured (CPGNN's compatibility matrix,
GloGNN's class-space propagation, JacobiConv's filter per class channel,
GPR-GNN's dropout on the class channels) run with two classes internally
when ``out_channels == 1`` and return ``z_1 - z_0``, which is what a
two-class softmax cross-entropy (the authors' setting) reduces to.

**Training protocol** (the runner calls these generically; each is
optional, check with ``hasattr``):

* ``model.set_train_labels(y, train_mask)`` once before training: CPGNN
  (compatibility-matrix estimate, co-training of the prior) and GBK-GNN
  (the gate's supervision) use the training labels; the other models
  ignore the call. ``y`` is ``[N]`` (class ids, or 0/1 floats for binary
  tasks), ``train_mask`` a ``[N]`` bool mask.
* after every *training* forward: ``extra = model.extra_loss()``; when it is
  not ``None``, ``loss = loss + extra``. GBK-GNN returns its gate loss,
  CPGNN (after pretraining) the prior's cross-entropy plus its
  :math:`\Phi(\bar{H})` regulariser; the others return ``None``.
* ``model.parameter_groups(weight_decay)`` gives optimiser parameter groups
  that exempt the parameters the authors did not decay (GPR-GNN's
  :math:`\gamma_k`); every model has it.
* CPGNN's pretraining is internal: its first ``pretrain_steps`` training
  forwards (400 in the reference) return the prior MLP's logits; the next
  one initialises the compatibility matrix from the prior and the training
  labels and switches belief propagation on (``model.bp_active``).
  Evaluation forwards do not count.

:data:`SPECIFIC_DEFAULTS` holds the hyperparameters of Platonov et al.'s
runs (``run_*.sh`` of ``Godofnothing/HeterophilySpecificModels``): the
fixed architecture settings, the searched learning-rate and weight-decay
grids (a representative default from each), the optimiser (Adam with
coupled L2 weight decay in every reference script, not AdamW), the number
of epochs and the early-stopping patience. ResNet+SGC and ResNet+adj use the
baselines' protocol (AdamW, lr 3e-5, 1000 steps, 1-5 layers).
"""

from __future__ import annotations

import inspect
import logging
import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch_geometric.nn import FAConv, SAGEConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import scatter

from pyg_ext.nn.models.heterophily import HeterophilyBaseline
from pyg_ext.utils.validation import (
    check_bool,
    check_choice,
    check_edge_index,
    check_finite,
    check_index,
    check_int,
    check_param_dtype,
    check_positive_int,
    check_probability,
    check_real,
    check_tensor,
)

logger = logging.getLogger(__name__)

SPECIFIC_MODELS: tuple[str, ...] = (
    'h2gcn', 'cpgnn', 'gprgnn', 'fsgnn', 'glognn', 'fagcn', 'gbkgnn',
    'jacobiconv', 'resnet-sgc', 'resnet-adj')

_BASELINE_PROTOCOL = dict(optimizer='adamw', lr=3e-5, weight_decay=0.0,
                          steps=1000, patience=None, hidden=512,
                          layers_grid=(1, 2, 3, 4, 5))

#: Hyperparameters of Platonov et al.'s runs per model (from the run scripts
#: of ``Godofnothing/HeterophilySpecificModels``, settings for the five new
#: graphs). ``lr``/``weight_decay`` are one point of the searched grids
#: (``lr_grid``/``weight_decay_grid``; the paper picks the best on
#: validation); ``steps`` are full-batch epochs with early stopping after
#: ``patience`` epochs without improvement; ``model_kwargs`` are the
#: model-specific arguments of :func:`build_specific_model` (its defaults).
SPECIFIC_DEFAULTS: dict[str, dict[str, Any]] = {
    'h2gcn': dict(
        optimizer='adam', lr=0.01, lr_grid=(0.001, 0.003, 0.01, 0.03),
        weight_decay=1e-5, weight_decay_grid=(0.0, 1e-6, 1e-5, 1e-4),
        hidden=64, layers=2, dropout=0.5, steps=1000, patience=100,
        model_kwargs={},
        source='H2GCN/h2gcn/run_experiments.sh: network_setup '
               'M64-R-T1-G-V-T2-G-V-C1-C2-D0.5-MO, adj_nhood 1 2'),
    'cpgnn': dict(
        optimizer='adam', lr=0.01, lr_grid=(0.001, 0.003, 0.01, 0.03),
        weight_decay=1e-5, weight_decay_grid=(0.0, 1e-6, 1e-5, 1e-4),
        hidden=64, layers=2, dropout=0.0, steps=1000, patience=100,
        model_kwargs=dict(pretrain_steps=400, prior_weight=1.0),
        source='CPGNN/cpgnn/run_experiments.sh: network_setup '
               'M64-D-R-MO-E-BP2, dropout 0, train_bp_after 400'),
    'gprgnn': dict(
        optimizer='adam', lr=0.01, lr_grid=(0.005, 0.01, 0.05, 0.1),
        weight_decay=1e-5, weight_decay_grid=(0.0, 1e-5, 1e-4, 1e-3),
        hidden=64, layers=2, dropout=0.5, steps=1000, patience=200,
        model_kwargs=dict(K=10, alpha=0.0, dprate=0.7),
        source='GPRGNN/src/Reproduce_GPRGNN.sh: --alpha 0 --dprate 0.7, '
               'K 10, Init PPR; gamma_k not weight-decayed'),
    'fsgnn': dict(
        optimizer='adam', lr=0.01, lr_grid=(0.001, 0.003, 0.01, 0.02, 0.04),
        weight_decay=1e-5,
        weight_decay_grid=(0.0, 1e-5, 3e-5, 1e-4, 3e-4),
        hidden=64, layers=3, dropout=0.7, steps=1500, patience=100,
        model_kwargs=dict(layer_norm=True, feat_type='all', adj_norm='none'),
        source='FSGNN/run_train_fsgnn.sh: --num-layers 3 --hidden-dim 64 '
               '--layer-norm 1 --dropout 0.7 --feat-type all (raw A powers)'),
    'glognn': dict(
        optimizer='adam', lr=0.01, lr_grid=(3e-4, 1e-3, 3e-3, 1e-2, 3e-2),
        weight_decay=1e-5, weight_decay_grid=(0.0, 1e-5, 5e-5, 1e-4, 1e-3),
        hidden=64, layers=2, dropout=0.8, steps=2000, patience=200,
        model_kwargs=dict(alpha=1.0, beta=1.0, gamma=0.0, delta=0.0,
                          orders=1),
        source='glognn/small-scale/run_glognn.sh, second block (mlp_norm, '
               'norm_layers 2, orders 1, orders_func_id 2, norm_func_id 1); '
               'its third block (beta 0, delta 1) makes the model '
               'graph-agnostic'),
    'fagcn': dict(
        optimizer='adam', lr=0.01, lr_grid=(0.003, 0.01, 0.03, 0.1),
        weight_decay=1e-5, weight_decay_grid=(0.0, 1e-5, 1e-4, 1e-3),
        hidden=32, layers=2, dropout=0.5, steps=500, patience=100,
        model_kwargs=dict(eps=0.3),
        source='FAGCN/src/run_train.sh: --eps 0.3 --hidden 32 --dropout '
               '0.5 --epochs 500 --patience 100, layer_num 2'),
    'gbkgnn': dict(
        optimizer='adam', lr=0.01, lr_grid=(0.001, 0.003, 0.01, 0.03, 0.1),
        weight_decay=1e-5, weight_decay_grid=(0.0, 1e-5, 1e-4, 1e-3),
        hidden=16, layers=2, dropout=0.5, steps=500, patience=100,
        model_kwargs=dict(lamda=30.0, bi_kernel=False),
        source='GBK-GNN/run_train.sh: GraphSage, --lamda 30, dim_size 16; '
               'the script runs without --aug (its README says not to set '
               'it), i.e. plain GraphSAGE: bi_kernel=False'),
    'jacobiconv': dict(
        optimizer='adam', lr=0.05, lr_grid=(0.01, 0.03, 0.05, 0.1),
        weight_decay=1e-5, weight_decay_grid=(0.0, 1e-6, 1e-5, 1e-4),
        hidden=64, layers=1, dropout=0.4, steps=1000, patience=100,
        model_kwargs=dict(K=10, a=0.5, b=0.25, alpha=2.0,
                          dropout_trans=0.1, reference_sign=True),
        source='JacobiConv/run_real_world.sh: --dpb 0.4 --dpt 0.1 --a 0.5 '
               '--b 0.25 --alpha 2.0, conv_layer 10, aggr gcn; hidden is '
               'unused with layers=1 (the linear map goes to the classes); '
               'impl/PolyConv.py JacobiConv recurrence (reference_sign)'),
    'resnet-sgc': dict(
        dropout=0.2, layers=2, model_kwargs=dict(num_props=5),
        source='yandex-research/heterophilous-graphs train.py --model '
               'ResNet --use_sgc_features', **_BASELINE_PROTOCOL),
    'resnet-adj': dict(
        dropout=0.2, layers=2, model_kwargs={},
        source='yandex-research/heterophilous-graphs train.py --model '
               'ResNet --use_adjacency_features (needs num_nodes)',
        **_BASELINE_PROTOCOL),
}


def canonical_specific_model(name: str) -> str:
    """The registry key of a model name: ``'ResNet_SGC'`` -> ``'resnet-sgc'``
    (case-insensitive, ``'_' == '-'``).

    Raises:
        ValueError: an unknown model (the message names ``name``).
    """
    key = str(name).strip().lower().replace('_', '-')
    if key not in SPECIFIC_MODELS:
        raise ValueError(f"unknown model name '{name}'; choose from "
                         f"{', '.join(SPECIFIC_MODELS)}")
    return key


# --- sparse helpers ----------------------------------------------------------

def _csr(row: Tensor, col: Tensor, value: Tensor, n: int) -> Tensor:
    """``[n, n]`` CSR matrix with entries ``value`` at ``(row, col)``
    (duplicates summed)."""
    with warnings.catch_warnings():  # 'Sparse CSR support is in beta'
        warnings.simplefilter('ignore', UserWarning)
        coo = torch.sparse_coo_tensor(torch.stack([row, col]), value,
                                      (n, n)).coalesce()
        return coo.to_sparse_csr()


def _spmm(adj: Tensor, x: Tensor) -> Tensor:
    """``adj @ x`` in float32 (float64 for float64 ``x``), also under
    autocast: sparse CSR products have no float16/bfloat16 kernels."""
    dt = torch.float64 if x.dtype == torch.float64 else torch.float32
    if adj.dtype != dt:
        adj = adj.to(dt)
    with warnings.catch_warnings(), torch.autocast(x.device.type,
                                                   enabled=False):
        warnings.simplefilter('ignore', UserWarning)
        return adj @ x.to(dt)


def _simple_arcs(edge_index: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """``(dst, src)`` of the distinct non-loop arcs ``src -> dst``."""
    src, dst = edge_index[0], edge_index[1]
    keep = src != dst
    key = torch.unique(dst[keep] * n + src[keep])
    return key // n, key % n


def adjacency(edge_index: Tensor, num_nodes: int, *, norm: str = 'none',
              self_loops: bool = False, dtype: torch.dtype = torch.float32
              ) -> Tensor:
    r"""Sparse ``[N, N]`` CSR aggregation matrix :math:`M` with
    :math:`M_{vu} \neq 0` for every arc ``u -> v`` of ``edge_index`` (so
    ``M @ x`` sums over in-neighbours, PyG's ``source_to_target`` flow).

    Existing self-loops and repeated arcs are dropped (a simple graph), then
    one self-loop per node is added when ``self_loops``. ``norm``:
    ``'none'`` (0/1 entries), ``'sym'`` (:math:`D^{-1/2} A D^{-1/2}`, ``D``
    the row sums, 0 for isolated nodes) or ``'row'`` (:math:`D^{-1} A`).

    Raises:
        ValueError: an unknown ``norm``; bad ``edge_index`` / ``num_nodes``.
        TypeError: wrongly typed arguments.
    """
    check_choice(norm, 'norm', ('none', 'sym', 'row'))
    _check_graph(edge_index, num_nodes)
    dst, src = _simple_arcs(edge_index, num_nodes)
    if self_loops:
        loop = torch.arange(num_nodes, device=edge_index.device)
        dst, src = torch.cat([dst, loop]), torch.cat([src, loop])
    w = torch.ones(dst.numel(), dtype=dtype, device=edge_index.device)
    if norm != 'none':
        deg = scatter(w, dst, dim_size=num_nodes, reduce='sum')
        if norm == 'sym':
            inv = deg.pow(-0.5).masked_fill(deg == 0, 0.0)
            w = inv[dst] * inv[src]
        else:
            w = deg.reciprocal().masked_fill(deg == 0, 0.0)[dst]
    return _csr(dst, src, w, num_nodes)


def _check_graph(edge_index: Any, num_nodes: Any) -> int:
    """Validate ``num_nodes`` and ``edge_index`` (ids in range)."""
    num_nodes = check_int(num_nodes, 'num_nodes', low=0)
    check_edge_index(edge_index, num_nodes)
    return num_nodes


def h2gcn_neighbourhoods(edge_index: Tensor, num_nodes: int
                         ) -> tuple[Tensor, Tensor]:
    r"""H2GCN's 1-hop and exact 2-hop neighbourhoods as ``[2, E_k]``
    ``edge_index`` tensors (``source -> target``, sorted by target then
    source): ``u -> v`` in the first when ``u`` is an in-neighbour of ``v``
    (``u != v``), in the second when the shortest path from ``u`` to ``v``
    has exactly two arcs (neither ``v`` itself nor a 1-hop neighbour).

    Raises:
        TypeError, ValueError: bad ``edge_index`` or ``num_nodes``.
    """
    num_nodes = _check_graph(edge_index, num_nodes)
    dst, src = _simple_arcs(edge_index, num_nodes)
    ei1 = torch.stack([src, dst])
    if dst.numel() == 0:
        return ei1, ei1.clone()
    ones = torch.ones(dst.numel(), device=dst.device)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        a = torch.sparse_coo_tensor(torch.stack([dst, src]), ones,
                                    (num_nodes, num_nodes)).coalesce()
        a2 = torch.sparse.mm(a, a).coalesce()
    r2, c2 = a2.indices()
    key2 = r2 * num_nodes + c2
    key1 = dst * num_nodes + src  # sorted (from torch.unique)
    pos = torch.searchsorted(key1, key2).clamp(max=key1.numel() - 1)
    keep = (r2 != c2) & (key1[pos] != key2)
    key2 = key2[keep]
    return ei1, torch.stack([key2 % num_nodes, key2 // num_nodes])


def _sym_csr(ei: Tensor, n: int, dtype: torch.dtype) -> Tensor:
    """``D^{-1/2} A D^{-1/2}`` of the 0/1 matrix with arcs ``ei``."""
    src, dst = ei[0], ei[1]
    w = torch.ones(src.numel(), dtype=dtype, device=ei.device)
    deg = scatter(w, dst, dim_size=n, reduce='sum')
    inv = deg.pow(-0.5).masked_fill(deg == 0, 0.0)
    return _csr(dst, src, inv[dst] * inv[src], n)


def gcn_adjacency(edge_index: Tensor, num_nodes: int, *,
                  self_loops: bool = True,
                  dtype: torch.dtype = torch.float32) -> Tensor:
    r"""PyG's ``gcn_norm`` as a CSR matrix: :math:`\hat{A} = \tilde{D}^{-1/2}
    (A + I) \tilde{D}^{-1/2}` (``add_remaining_self_loops``; in-degrees),
    arcs counted with multiplicity.

    Raises:
        TypeError, ValueError: bad ``edge_index`` or ``num_nodes``.
    """
    num_nodes = _check_graph(edge_index, num_nodes)
    ei, w = gcn_norm(edge_index, None, num_nodes, add_self_loops=self_loops,
                     dtype=dtype)
    return _csr(ei[1], ei[0], w, num_nodes)


def sgc_features(x: Tensor, edge_index: Tensor, num_props: int = 5) -> Tensor:
    r"""SGC features :math:`\hat{A}^K X` with :math:`\hat{A} =
    \tilde{D}^{-1/2}(A + I)\tilde{D}^{-1/2}` (self-loops replaced by one
    per node), as ``Dataset.compute_sgc_features`` of Platonov et al.'s code
    (``num_props=5``).

    Raises:
        TypeError, ValueError: bad ``x``, ``edge_index`` or ``num_props``.
    """
    check_tensor(x, 'x', dim=2, floating=True)
    check_edge_index(edge_index, x.size(0))
    num_props = check_int(num_props, 'num_props', low=0)
    adj = adjacency(edge_index, x.size(0), norm='sym', self_loops=True,
                    dtype=x.dtype)
    for _ in range(num_props):
        x = _spmm(adj, x)
    return x


def jacobi_basis(x: Tensor, adj: Tensor, K: int, a: float, b: float,
                 alphas: list[Tensor] | list[float] | None = None,
                 lo: float = -1.0, hi: float = 1.0,
                 reference_sign: bool = False) -> list[Tensor]:
    r"""JacobiConv's basis ``[P_0 x, ..., P_K x]`` on the matrix ``adj``
    (dense or sparse): the Jacobi three-term recurrence of
    :math:`P_k^{(a, b)}` on ``adj`` (spectrum mapped from ``[lo, hi]``),
    step ``k`` scaled by ``alphas[k - 1]`` (and ``alphas[k-1] alphas[k-2]``
    on the ``P_{k-2}`` term), so equal ``alphas`` :math:`\gamma` give
    :math:`\gamma^k P_k^{(a,b)}(\text{adj})\,x`.

    ``reference_sign=True`` reproduces the authors' ``PolyConv.JacobiConv``,
    which subtracts the :math:`(2k+a+b-1)(a^2-b^2)` term of the recurrence
    where the Jacobi recurrence adds it: for ``a != b`` its ``P_k`` (``k >=
    2``) are other polynomials of degree ``k`` (same span, so the same
    filters can be learned, with another parametrisation).

    Raises:
        TypeError, ValueError: ``K < 0``, ``a`` or ``b`` not above ``-1``,
            ``lo >= hi``, ``adj`` not ``[N, N]`` for ``x`` ``[N, F]``, too
            few ``alphas``.
    """
    check_tensor(x, 'x', dim=2, floating=True)
    check_tensor(adj, 'adj')
    if adj.dim() != 2 or adj.size(0) != adj.size(1) or adj.size(
            0) != x.size(0):
        raise ValueError(f'adj must be [N, N] with N = {x.size(0)} (rows of '
                         f'x), got shape {tuple(adj.shape)}')
    K = check_int(K, 'K', low=0)
    a = check_real(a, 'a', low=-1.0, low_open=True)
    b = check_real(b, 'b', low=-1.0, low_open=True)
    lo, hi = check_real(lo, 'lo'), check_real(hi, 'hi')
    if lo >= hi:
        raise ValueError(f'lo must be < hi, got lo={lo}, hi={hi}')
    if alphas is not None and len(alphas) < K:
        raise ValueError(f'alphas needs at least K={K} entries, got '
                         f'{len(alphas)}')
    if alphas is None:
        alphas = [1.0] * max(K, 1)
    mm = _spmm if adj.is_sparse or adj.layout == torch.sparse_csr else (
        lambda m, v: m @ v)
    xs = [x]
    if K >= 1:
        c1 = (a - b) / 2 - (a + b + 2) / 2 * (lo + hi) / (hi - lo)
        c2 = (a + b + 2) / (hi - lo)
        xs.append(alphas[0] * (c1 * x + c2 * mm(adj, x)))
    for k in range(2, K + 1):
        cl = 2 * k * (k + a + b) * (2 * k - 2 + a + b)
        c11 = (2 * k + a + b - 1) * (2 * k + a + b) * (2 * k + a + b - 2)
        c12 = (2 * k + a + b - 1) * (a ** 2 - b ** 2)
        c2 = 2 * (k - 1 + a) * (k - 1 + b) * (2 * k + a + b)
        t1 = alphas[k - 1] * (c11 / cl)
        t2 = alphas[k - 1] * (c12 / cl)
        t3 = alphas[k - 1] * alphas[k - 2] * (c2 / cl)
        t2 = -t2 if reference_sign else t2
        nx = (t1 * (2 / (hi - lo))) * mm(adj, xs[-1]) - (
            t1 * ((hi + lo) / (hi - lo)) - t2) * xs[-1]
        xs.append(nx - t3 * xs[-2])
    return xs


# --- base class --------------------------------------------------------------

class _SpecificModel(nn.Module):
    """Shared input checks, graph cache, the training protocol hooks and
    the binary-output convention."""

    #: parameter name prefixes exempt from weight decay
    _no_decay: tuple[str, ...] = ()

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, 'in_channels')
        self.out_channels = check_positive_int(out_channels, 'out_channels')
        self._cache: dict[str, tuple[Any, tuple, Any]] = {}

    # protocol ---------------------------------------------------------------
    def set_train_labels(self, y: Tensor, train_mask: Tensor) -> None:
        """Store the training labels (used by CPGNN and GBK-GNN; see the
        module docstring).

        Raises:
            TypeError, ValueError: ``y`` not ``[N]``, ``train_mask`` not a
                ``[N]`` bool tensor, labels outside the classes.
        """
        check_tensor(y, 'y', dim=1)
        check_tensor(train_mask, 'train_mask', dim=1)
        if train_mask.dtype != torch.bool:
            raise TypeError(f'train_mask must be a bool tensor, got '
                            f'{train_mask.dtype}')
        if train_mask.numel() != y.numel():
            raise ValueError(f'train_mask has {train_mask.numel()} entries '
                             f'for {y.numel()} labels in y')
        if y.is_floating_point():
            check_finite(y, 'y')
            if bool((y != y.round()).any()):
                raise ValueError('y must hold class ids (0/1 for binary '
                                 'tasks)')
        y = y.long()
        classes = max(self.out_channels, 2)
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= classes):
            raise ValueError(f'y must hold class ids in [0, {classes}), '
                             f'found {int(y.min())}..{int(y.max())}')
        self._y = y
        self._train_mask = train_mask

    def extra_loss(self) -> Tensor | None:
        """Loss term to add after a training forward (``None``: none)."""
        return None

    def parameter_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """Optimiser groups: ``weight_decay`` on every parameter except the
        ones the authors' code exempts (GPR-GNN's :math:`\\gamma`)."""
        weight_decay = check_real(weight_decay, 'weight_decay', low=0.0)
        decay, free = [], []
        for name, p in self.named_parameters():
            exempt = bool(self._no_decay) and name.startswith(self._no_decay)
            (free if exempt else decay).append(p)
        groups = [{'params': decay, 'weight_decay': weight_decay}]
        if free:
            groups.append({'params': free, 'weight_decay': 0.0})
        return groups

    # helpers ---------------------------------------------------------------
    def check_input(self, x: Tensor, edge_index: Tensor) -> None:
        """``x`` a finite floating ``[N, in_channels]`` tensor (``N >=
        1``), ``edge_index`` a ``[2, E]`` integer tensor on ``x``'s device
        with ids in ``[0, N)``.

        Raises:
            TypeError: non-tensor or wrongly typed ``x``/``edge_index``.
            ValueError: wrong shapes, NaN/inf in ``x``, ids out of range.
        """
        check_tensor(x, 'x', dim=2, floating=True)
        if x.size(1) != self.in_channels:
            raise ValueError(f'x must have in_channels={self.in_channels} '
                             f'columns, got shape {tuple(x.shape)}')
        param = next(self.parameters(), None)
        if param is not None:
            check_param_dtype(x, 'x', param.dtype)
        if x.size(0) == 0:
            raise ValueError('x must hold at least one node, got shape '
                             f'{tuple(x.shape)}')
        check_finite(x, 'x')
        check_edge_index(edge_index)
        if edge_index.device != x.device:
            raise ValueError(f'edge_index is on {edge_index.device} but x is '
                             f'on {x.device}')
        check_edge_index(edge_index, x.size(0))

    def _cached(self, slot: str, tensors: tuple[Tensor, ...], extra: tuple,
                build: Callable[[], Any]) -> Any:
        """``build()`` memoised while ``tensors`` (same objects, unchanged)
        and ``extra`` stay the same."""
        key = tuple((t.data_ptr(), tuple(t.shape), t._version, t.device,
                     t.dtype) for t in tensors) + extra
        hit = self._cache.get(slot)
        if (hit is not None and len(hit[0]) == len(tensors)
                and all(a is b for a, b in zip(hit[0], tensors))
                and hit[1] == key):
            return hit[2]
        value = build()
        self._cache[slot] = (tensors, key, value)  # holds the tensors
        return value

    def _output(self, z: Tensor) -> Tensor:
        """``[N, C]`` internal logits -> the model's output convention."""
        if self.out_channels == 1:
            return z[:, 1] - z[:, 0] if z.size(1) == 2 else z.squeeze(-1)
        return z

    def _clear_cache(self) -> None:
        self._cache = {}

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> nn.Module:
        self._clear_cache()  # cached matrices live on the old device
        return super()._apply(fn, *args, **kwargs)

    def __repr__(self) -> str:
        # the constructor's hyperparameters, as stored on the instance
        parts = [str(self.in_channels), str(self.out_channels)]
        names = list(inspect.signature(type(self).__init__).parameters)[3:]
        scalar = (bool, int, float, str, tuple)
        for name in names:
            value = getattr(self, name, None)
            if not isinstance(value, scalar):  # kept by a wrapped module
                value = next((getattr(m, name) for m in self.children()
                              if isinstance(getattr(m, name, None), scalar)),
                             None)
            if isinstance(value, scalar):
                parts.append(f'{name}={value!r}')
        return f'{self.__class__.__name__}({", ".join(parts)})'


def _dropout(p: Any, name: str = 'dropout') -> float:
    return check_probability(p, name, allow_one=False)


# --- H2GCN -------------------------------------------------------------------

class H2GCN(_SpecificModel):
    r"""H2GCN from `"Beyond Homophily in Graph Neural Networks: Current
    Limitations and Effective Designs" <https://arxiv.org/abs/2006.11468>`_
    (Zhu et al., NeurIPS 2020; authors' code GemsLab/H2GCN).

    .. math::
        r_0 = \mathrm{ReLU}(X W_e), \quad
        r_k = [\bar{A}_1 r_{k-1}, \bar{A}_2 r_{k-1}], \quad
        \mathrm{logits} = \mathrm{dropout}([r_0, \ldots, r_K]) W_o

    with :math:`\bar{A}_1`, :math:`\bar{A}_2` the symmetric-normalised
    1-hop and *exact* 2-hop neighbourhoods (no self-loops; see
    :func:`h2gcn_neighbourhoods`), no bias and no nonlinearity after the
    embedding (the reference network ``M64-R-T1-G-V-T2-G-V-C1-C2-D0.5-MO``).

    Args:
        in_channels (int), out_channels (int): sizes.
        hidden_channels (int, optional): :math:`W_e` width. (default: 64)
        num_layers (int, optional): rounds :math:`K`. (default: 2)
        dropout (float, optional): before the output layer. (default: 0.5)

    Raises:
        TypeError, ValueError: bad sizes or dropout; in forward, bad input.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 64, num_layers: int = 2,
                 dropout: float = 0.5) -> None:
        super().__init__(in_channels, out_channels)
        self.hidden_channels = check_positive_int(hidden_channels,
                                                  'hidden_channels')
        self.num_layers = check_positive_int(num_layers, 'num_layers')
        self.dropout = _dropout(dropout)
        self.embed = nn.Linear(in_channels, hidden_channels, bias=False)
        width = hidden_channels * (2 ** (num_layers + 1) - 1)
        self.out = nn.Linear(width, out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform weights (Keras' default initialiser)."""
        nn.init.xavier_uniform_(self.embed.weight)
        nn.init.xavier_uniform_(self.out.weight)
        self._clear_cache()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Logits; see the class docstring."""
        if not torch.compiler.is_compiling():
            self.check_input(x, edge_index)
        n = x.size(0)

        def build() -> tuple[Tensor, Tensor]:
            ei1, ei2 = h2gcn_neighbourhoods(edge_index, n)
            return _sym_csr(ei1, n, x.dtype), _sym_csr(ei2, n, x.dtype)

        a1, a2 = self._cached('hops', (edge_index,), (n, x.dtype), build)
        r = F.relu(self.embed(x))
        reps = [r]
        for _ in range(self.num_layers):
            r = torch.cat([_spmm(a1, r), _spmm(a2, r)], dim=-1)
            reps.append(r)
        h = F.dropout(torch.cat(reps, dim=-1), self.dropout, self.training)
        return self._output(self.out(h))


# --- CPGNN -------------------------------------------------------------------

def estimate_compatibility(adj_rw: Tensor, prior_logits: Tensor,
                           y: Tensor | None, train_mask: Tensor | None,
                           num_classes: int, max_iter: int = 3000
                           ) -> Tensor:
    r"""CPGNN's initial compatibility estimate (``estimateH`` of the
    authors' code): beliefs :math:`B` = softmax of the prior, with the
    training nodes' rows replaced by their one-hot labels; :math:`H_{ij}` =
    mean over training nodes of class ``i`` of :math:`(D^{-1} A B)_{\cdot
    j}`; classes without training nodes take the transposed entries, or
    the uniform remainder of the row; then Sinkhorn-normalised to a doubly
    stochastic matrix. Without labels, the argmax of the prior stands in
    for them (all nodes).

    Raises:
        TypeError, ValueError: ``prior_logits`` not ``[N, num_classes]``,
            ``y``/``train_mask`` of another length, labels out of range.
    """
    num_classes = check_int(num_classes, 'num_classes', low=2)
    check_tensor(prior_logits, 'prior_logits', dim=2, floating=True)
    if prior_logits.size(1) != num_classes:
        raise ValueError(f'prior_logits must have num_classes={num_classes} '
                         f'columns, got shape {tuple(prior_logits.shape)}')
    n = prior_logits.size(0)
    if tuple(adj_rw.shape) != (n, n):
        raise ValueError(f'adj_rw must be [{n}, {n}], got '
                         f'{tuple(adj_rw.shape)}')
    if (y is None) != (train_mask is None):
        raise ValueError('give both y and train_mask, or neither')
    if y is not None:
        check_index(y, 'y', num_classes)
        check_tensor(train_mask, 'train_mask', dim=1)
        if y.numel() != n or train_mask.numel() != n:
            raise ValueError(f'y and train_mask must have N={n} entries, '
                             f'got {y.numel()} and {train_mask.numel()}')
        if train_mask.dtype != torch.bool:
            raise TypeError('train_mask must be a bool tensor, got '
                            f'{train_mask.dtype}')
    max_iter = check_int(max_iter, 'max_iter', low=1)
    belief = torch.softmax(prior_logits.detach().double(), dim=-1)
    if y is None or train_mask is None:
        labels = belief.argmax(-1)
        mask = torch.ones_like(labels, dtype=torch.bool)
    else:
        labels, mask = y, train_mask
        onehot = F.one_hot(labels, num_classes).double()
        belief = torch.where(mask[:, None], onehot, belief)
    node_h = _spmm(adj_rw.double(), belief)
    sums = scatter(node_h[mask], labels[mask], dim=0, dim_size=num_classes,
                   reduce='sum')
    counts = torch.bincount(labels[mask], minlength=num_classes).double()
    h = sums / counts[:, None]  # NaN rows for absent classes
    h = torch.where(torch.isnan(h), h.t(), h)
    nan = torch.isnan(h)
    if bool(nan.any()):
        h = h.masked_fill(nan, 0.0)
        miss = (1 - h.sum(1, keepdim=True)) / nan.sum(1, keepdim=True).clamp(
            min=1)
        h = torch.where(nan, miss.expand_as(h), h)
    h = h.clamp(min=1e-12)
    for _ in range(max_iter):
        prev = h
        h = h / h.sum(0, keepdim=True)
        h = h / h.sum(1, keepdim=True)
        if float((h - prev).abs().sum()) < 1e-12:
            break
    return h


class CPGNN(_SpecificModel):
    r"""CPGNN-MLP from `"Graph Neural Networks with Heterophily"
    <https://arxiv.org/abs/2009.13566>`_ (Zhu et al., AAAI 2021; authors'
    code GemsLab/CPGNN).

    A prior belief estimator (MLP without biases: linear, dropout, ReLU,
    linear) gives :math:`\bar{B}^{(0)} = \mathrm{softmax}(\text{prior}) -
    1/C`; compatibility-guided propagation with the learned
    :math:`\bar{H}` (zero row sums) then runs
    :math:`\bar{B}^{(k)} = \bar{B}^{(0)} + A \bar{B}^{(k-1)} \bar{H}` for
    ``num_layers`` iterations on the 0/1 adjacency :math:`A` (no
    self-loops); the logits are :math:`\bar{B}^{(K)} + 1/C`.

    Training (see the module docstring): the first ``pretrain_steps``
    training forwards return the prior's logits; then :math:`\bar{H}` is
    initialised with :func:`estimate_compatibility` (symmetrised, minus
    :math:`1/C`) and :meth:`extra_loss` returns ``prior_weight`` times the
    prior's cross-entropy on the training nodes plus
    :math:`\Phi(\bar{H}) = \sum_i |\sum_j \bar{H}_{ij}|`.

    Args:
        in_channels (int), out_channels (int): sizes (``1``: binary, run
            with two classes internally).
        hidden_channels (int, optional): (default: 64)
        num_layers (int, optional): propagation iterations. (default: 2)
        dropout (float, optional): in the prior MLP. (default: 0.0)
        pretrain_steps (int, optional): (default: 400)
        prior_weight (float, optional): :math:`\eta`. (default: 1.0)

    Raises:
        TypeError, ValueError: bad arguments; in forward, bad input.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 64, num_layers: int = 2,
                 dropout: float = 0.0, pretrain_steps: int = 400,
                 prior_weight: float = 1.0) -> None:
        super().__init__(in_channels, out_channels)
        self.hidden_channels = check_positive_int(hidden_channels,
                                                  'hidden_channels')
        self.num_layers = check_positive_int(num_layers, 'num_layers')
        self.dropout = _dropout(dropout)
        self.pretrain_steps = check_int(pretrain_steps, 'pretrain_steps',
                                        low=0)
        self.prior_weight = check_real(prior_weight, 'prior_weight', low=0.0)
        self.num_classes = max(out_channels, 2)
        self.lin1 = nn.Linear(in_channels, hidden_channels, bias=False)
        self.lin2 = nn.Linear(hidden_channels, self.num_classes, bias=False)
        self.H_hat = nn.Parameter(torch.zeros(self.num_classes,
                                              self.num_classes))
        self._y: Tensor | None = None
        self._train_mask: Tensor | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the MLP, zero :math:`\\bar{H}` and restart
        pretraining."""
        nn.init.xavier_uniform_(self.lin1.weight)
        nn.init.xavier_uniform_(self.lin2.weight)
        with torch.no_grad():
            self.H_hat.zero_()
        self.bp_active = False
        self.train_steps = 0
        self._last_prior: Tensor | None = None
        self._last_bp = False
        self._clear_cache()

    def get_extra_state(self) -> dict[str, Any]:
        """The training phase travels with ``state_dict``."""
        return {'bp_active': self.bp_active, 'train_steps': self.train_steps}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        """Restore the training phase saved by :meth:`get_extra_state`."""
        self.bp_active = bool(state['bp_active'])
        self.train_steps = int(state['train_steps'])

    def _adj(self, edge_index: Tensor, n: int, norm: str,
             dtype: torch.dtype) -> Tensor:
        return self._cached(f'adj_{norm}', (edge_index,), (n, dtype),
                            lambda: adjacency(edge_index, n, norm=norm,
                                              dtype=dtype))

    @torch.no_grad()
    def start_propagation(self, x: Tensor, edge_index: Tensor) -> None:
        """Initialise :math:`\\bar{H}` from the current prior (and the
        labels given to :meth:`set_train_labels`) and switch propagation
        on; the forward does this by itself after pretraining."""
        self.check_input(x, edge_index)
        if self._y is not None and self._y.numel() != x.size(0):
            raise ValueError(f'set_train_labels got {self._y.numel()} labels '
                             f'for {x.size(0)} nodes')
        prior = self.prior(x)
        rw = self._adj(edge_index, x.size(0), 'row', x.dtype)
        if self._y is None:
            logger.warning('CPGNN: no training labels (set_train_labels); '
                           'estimating H from the prior alone')
        h = estimate_compatibility(rw, prior, self._y, self._train_mask,
                                   self.num_classes)
        h = 0.5 * (h + h.t()) - 1.0 / self.num_classes
        self.H_hat.copy_(h.to(self.H_hat.dtype))
        self.bp_active = True

    def prior(self, x: Tensor) -> Tensor:
        """The prior belief estimator's logits ``[N, C]``."""
        h = F.dropout(self.lin1(x), self.dropout, self.training)
        return self.lin2(F.relu(h))

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Logits (the prior's during pretraining)."""
        if not torch.compiler.is_compiling():
            self.check_input(x, edge_index)
        if self.training:
            self.train_steps += 1
            if not self.bp_active and self.train_steps > self.pretrain_steps:
                was = self.training
                self.eval()
                self.start_propagation(x, edge_index)
                self.train(was)
        prior = self.prior(x)
        self._last_prior = prior if self.training else None
        self._last_bp = self.bp_active and self.training
        if not self.bp_active:
            return self._output(prior)
        c = self.num_classes
        adj = self._adj(edge_index, x.size(0), 'none', x.dtype)
        e = torch.softmax(prior, dim=-1) - 1.0 / c
        b = e
        for _ in range(self.num_layers):
            b = e + _spmm(adj, b @ self.H_hat)
        return self._output(b + 1.0 / c)

    def extra_loss(self) -> Tensor | None:
        """After a training forward with propagation on: ``prior_weight *
        CE(prior[train], y[train]) + sum_i |sum_j H_hat[i, j]|``; else
        ``None``."""
        if not self._last_bp:
            return None
        loss = self.H_hat.sum(1).abs().sum()
        if (self._y is not None and self._last_prior is not None
                and self.prior_weight > 0):
            if self._y.numel() != self._last_prior.size(0):
                raise ValueError(f'set_train_labels got {self._y.numel()} '
                                 f'labels for a graph of '
                                 f'{self._last_prior.size(0)} nodes')
            m = self._train_mask
            loss = loss + self.prior_weight * F.cross_entropy(
                self._last_prior[m], self._y[m])
        return loss


# --- GPR-GNN -----------------------------------------------------------------

class GPRProp(nn.Module):
    r"""GPR-GNN's propagation :math:`\sum_{k=0}^K \gamma_k \hat{A}^k H`,
    :math:`\hat{A}` PyG's ``gcn_norm`` (self-loops added), learnable
    :math:`\gamma` initialised PPR-like: :math:`\gamma_k = \alpha
    (1-\alpha)^k`, :math:`\gamma_K = (1-\alpha)^K`."""

    def __init__(self, K: int = 10, alpha: float = 0.0) -> None:
        super().__init__()
        self.K = check_positive_int(K, 'K')
        self.alpha = check_probability(alpha, 'alpha')
        self.temp = nn.Parameter(torch.empty(self.K + 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PPR initialisation (as the reference's ``reset_parameters``)."""
        a, k = self.alpha, torch.arange(self.K + 1, dtype=torch.float64)
        g = a * (1 - a) ** k
        g[-1] = (1 - a) ** self.K
        with torch.no_grad():
            self.temp.copy_(g.float())

    def forward(self, x: Tensor, adj: Tensor) -> Tensor:
        """``adj``: the sparse :math:`\\hat{A}` (:func:`gcn_adjacency`).

        Raises:
            TypeError, ValueError: ``x`` not 2-D floating, ``adj`` not
                ``[N, N]``.
        """
        if not torch.compiler.is_compiling():
            check_tensor(x, 'x', dim=2, floating=True)
            check_tensor(adj, 'adj')
            if tuple(adj.shape) != (x.size(0), x.size(0)):
                raise ValueError(f'adj must be [N, N] with N = {x.size(0)}, '
                                 f'got shape {tuple(adj.shape)}')
        out = self.temp[0] * x
        for k in range(self.K):
            x = _spmm(adj, x)
            out = out + self.temp[k + 1] * x
        return out


class GPRGNN(_SpecificModel):
    r"""GPR-GNN from `"Adaptive Universal Generalized PageRank Graph Neural
    Network" <https://arxiv.org/abs/2006.07988>`_ (Chien et al., ICLR 2021;
    authors' code jianhao2016/GPRGNN): an MLP (dropout, linear, ReLU,
    dropout, linear) followed by dropout ``dprate`` and :class:`GPRProp`.

    Args:
        in_channels (int), out_channels (int): sizes.
        hidden_channels (int, optional): (default: 64)
        num_layers (int, optional): MLP layers. (default: 2)
        dropout (float, optional): MLP dropout. (default: 0.5)
        K (int, optional): propagation steps. (default: 10)
        alpha (float, optional): PPR initialisation of :math:`\gamma`
            (``0``: :math:`\gamma = e_K`, Platonov et al.'s runs).
            (default: 0.0)
        dprate (float, optional): dropout before propagation. (default: 0.7)

    :math:`\gamma` is exempt from weight decay in
    :meth:`parameter_groups`, as in the reference optimiser. With
    ``out_channels == 1`` the MLP outputs two class channels, dropped out
    (``dprate``) and propagated each on its own, and the model returns
    :math:`z_1 - z_0` (the authors' two-class model; one channel would be
    dropped as a whole).

    Raises:
        TypeError, ValueError: bad arguments; in forward, bad input.
    """

    _no_decay = ('prop.',)

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 64, num_layers: int = 2,
                 dropout: float = 0.5, K: int = 10, alpha: float = 0.0,
                 dprate: float = 0.7) -> None:
        super().__init__(in_channels, out_channels)
        self.hidden_channels = hidden_channels = check_positive_int(
            hidden_channels, 'hidden_channels')
        self.num_layers = check_positive_int(num_layers, 'num_layers')
        self.dropout = _dropout(dropout)
        self.dprate = _dropout(dprate, 'dprate')
        # a binary task keeps two class channels (the authors' two-class
        # model): ``dprate`` drops each channel on its own
        self.num_classes = max(out_channels, 2)
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [
            self.num_classes]
        self.lins = nn.ModuleList(nn.Linear(a, b)
                                  for a, b in zip(dims[:-1], dims[1:]))
        self.prop = GPRProp(K, alpha)

    def reset_parameters(self) -> None:
        """Re-initialise the MLP and :math:`\\gamma`."""
        for lin in self.lins:
            lin.reset_parameters()
        self.prop.reset_parameters()
        self._clear_cache()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Logits."""
        if not torch.compiler.is_compiling():
            self.check_input(x, edge_index)
        n = x.size(0)
        adj = self._cached('gcn', (edge_index,), (n, x.dtype),
                           lambda: gcn_adjacency(edge_index, n,
                                                 dtype=x.dtype))
        for i, lin in enumerate(self.lins):
            x = lin(F.dropout(x, self.dropout, self.training))
            if i < len(self.lins) - 1:
                x = F.relu(x)
        x = F.dropout(x, self.dprate, self.training)
        return self._output(self.prop(x, adj))


# --- FSGNN -------------------------------------------------------------------

def fsgnn_features(x: Tensor, edge_index: Tensor, num_hops: int,
                   adj_norm: str = 'none', feat_type: str = 'all'
                   ) -> list[Tensor]:
    r"""FSGNN's precomputed features: ``X`` then, for ``k = 1..num_hops``,
    :math:`A^k X` (``feat_type`` ``'all'``/``'heterophily'``) and
    :math:`(A + I)^k X` (``'all'``/``'homophily'``). ``adj_norm='none'``
    uses the 0/1 matrices (Platonov et al.'s adaptation); ``'sym'`` the
    symmetric normalisation of each (the FSGNN paper).

    Raises:
        TypeError, ValueError: bad ``x``, ``edge_index``, ``num_hops``,
            ``adj_norm`` or ``feat_type``.
    """
    check_tensor(x, 'x', dim=2, floating=True)
    check_finite(x, 'x')
    check_edge_index(edge_index, x.size(0))
    num_hops = check_int(num_hops, 'num_hops', low=0)
    check_choice(adj_norm, 'adj_norm', ('none', 'sym'))
    check_choice(feat_type, 'feat_type', ('all', 'homophily', 'heterophily'))
    n = x.size(0)
    a = adjacency(edge_index, n, norm=adj_norm, dtype=x.dtype)
    ai = adjacency(edge_index, n, norm=adj_norm, self_loops=True,
                   dtype=x.dtype)
    out, p, q = [x], x, x
    for _ in range(num_hops):
        p, q = _spmm(a, p), _spmm(ai, q)
        if feat_type in ('all', 'heterophily'):
            out.append(p)
        if feat_type in ('all', 'homophily'):
            out.append(q)
    return out


class FSGNN(_SpecificModel):
    r"""FSGNN from `"Improving Graph Neural Networks with Simple
    Architecture Design" <https://arxiv.org/abs/2105.07634>`_ (Maurya et
    al., 2021; authors' code sunilkmaurya/FSGNN): one linear map per
    precomputed feature matrix (:func:`fsgnn_features`), each row
    L2-normalised (``layer_norm``) and scaled by a softmax weight, then
    concatenated, ReLU, dropout, linear.

    Args:
        in_channels (int), out_channels (int): sizes.
        hidden_channels (int, optional): (default: 64)
        num_layers (int, optional): hops. (default: 3)
        dropout (float, optional): (default: 0.7)
        layer_norm (bool, optional): (default: True)
        feat_type (str, optional): ``'all'``, ``'homophily'`` or
            ``'heterophily'``. (default: ``'all'``)
        adj_norm (str, optional): ``'sym'`` (FSGNN paper) or ``'none'``
            (Platonov et al.'s runs). (default: ``'sym'``)

    Raises:
        TypeError, ValueError: bad arguments; in forward, bad input.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 64, num_layers: int = 3,
                 dropout: float = 0.7, layer_norm: bool = True,
                 feat_type: str = 'all', adj_norm: str = 'sym') -> None:
        super().__init__(in_channels, out_channels)
        self.hidden_channels = hidden_channels = check_positive_int(
            hidden_channels, 'hidden_channels')
        self.num_layers = check_positive_int(num_layers, 'num_layers')
        self.dropout = _dropout(dropout)
        self.layer_norm = check_bool(layer_norm, 'layer_norm')
        self.feat_type = check_choice(feat_type, 'feat_type',
                                      ('all', 'homophily', 'heterophily'))
        self.adj_norm = check_choice(adj_norm, 'adj_norm', ('sym', 'none'))
        m = 1 + (2 if feat_type == 'all' else 1) * num_layers
        self.fc1 = nn.ModuleList(nn.Linear(in_channels, hidden_channels)
                                 for _ in range(m))
        self.att = nn.Parameter(torch.ones(m))
        self.fc2 = nn.Linear(hidden_channels * m, out_channels)

    def reset_parameters(self) -> None:
        """Re-initialise every parameter (``att`` to ones)."""
        for lin in self.fc1:
            lin.reset_parameters()
        self.fc2.reset_parameters()
        with torch.no_grad():
            self.att.fill_(1.0)
        self._clear_cache()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Logits (the hop features are cached while ``x`` and
        ``edge_index`` are unchanged and ``x`` needs no gradient)."""
        if not torch.compiler.is_compiling():
            self.check_input(x, edge_index)

        def build() -> list[Tensor]:
            return fsgnn_features(x, edge_index, self.num_layers,
                                  self.adj_norm, self.feat_type)

        if x.requires_grad:
            feats = build()
        else:
            feats = self._cached('feats', (x, edge_index), (), build)
        w = torch.softmax(self.att, dim=0)
        outs = []
        for i, (lin, f) in enumerate(zip(self.fc1, feats)):
            h = lin(f)
            if self.layer_norm:
                h = F.normalize(h, p=2.0, dim=1)
            outs.append(w[i] * h)
        h = F.dropout(F.relu(torch.cat(outs, dim=1)), self.dropout,
                      self.training)
        return self._output(self.fc2(h))


# --- GloGNN ------------------------------------------------------------------

class GloGNN(_SpecificModel):
    r"""GloGNN from `"Finding Global Homophily in Graph Neural Networks When
    Meeting Heterophily" <https://arxiv.org/abs/2205.07308>`_ (Li et al.,
    ICML 2022; authors' code RecklessRonan/GloGNN, model ``MLP_NORM``).

    :math:`H^{(0)} = \mathrm{fc}_2(\mathrm{dropout}(\mathrm{ReLU}(\delta\,
    \mathrm{fc}_1(X) + (1 - \delta)\, \mathrm{fc}_3(\hat{A}))))` (class
    space, :math:`\hat{A} = D^{-1}(A + I)`, its rows as features), then
    ``num_layers`` closed-form global aggregations (``norm_func1``,
    ``orders_func_id=2``):

    .. math::
        Z^* H = c_1 c H - c_1 c^2 H (c_2^2 I + c H^\top H)^{-1} H^\top H,
        \quad
        H \leftarrow c_1 H H^\top Z^*H + \beta \sum_{k=1}^{o} w_k
        \hat{A}^k Z^*H - \gamma c_1 H^{(0)} H^\top Z^*H + \gamma H^{(0)}

    with :math:`c = 1/(\alpha + \beta)`, :math:`c_1 = 1 - \gamma`,
    :math:`c_2 = 1/c_1`; the :math:`N \times N` coefficient matrix is never
    formed.

    Args:
        in_channels (int), out_channels (int): sizes (``1``: binary, two
            classes internally).
        hidden_channels (int, optional): (default: 64)
        num_layers (int, optional): global aggregation layers. (default: 2)
        dropout (float, optional): (default: 0.8)
        alpha, beta, gamma, delta (float, optional): as in the paper
            (default: Platonov et al.'s ``1, 1, 0, 0``; :math:`\gamma < 1`,
            :math:`\alpha + \beta > 0`, :math:`\delta \in [0, 1]`).
        orders (int, optional): powers of :math:`\hat{A}`. (default: 1)
        num_nodes (int, optional): needed when ``delta < 1`` (the width of
            :math:`\mathrm{fc}_3`).

    Raises:
        TypeError, ValueError: bad arguments (``num_nodes`` missing when
            needed); in forward, bad input or a graph of another size.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 64, num_layers: int = 2,
                 dropout: float = 0.8, alpha: float = 1.0, beta: float = 1.0,
                 gamma: float = 0.0, delta: float = 0.0, orders: int = 1,
                 num_nodes: int | None = None) -> None:
        super().__init__(in_channels, out_channels)
        self.hidden_channels = hidden_channels = check_positive_int(
            hidden_channels, 'hidden_channels')
        self.num_layers = check_int(num_layers, 'num_layers', low=0)
        self.dropout = _dropout(dropout)
        self.alpha = check_real(alpha, 'alpha', low=0.0)
        self.beta = check_real(beta, 'beta', low=0.0)
        if self.alpha + self.beta <= 0:
            raise ValueError('alpha + beta must be > 0, got '
                             f'alpha={alpha}, beta={beta}')
        self.gamma = check_real(gamma, 'gamma', low=0.0, high=1.0,
                                high_open=True)
        self.delta = check_probability(delta, 'delta')
        self.orders = check_positive_int(orders, 'orders')
        self.num_classes = max(out_channels, 2)
        self.num_nodes = None
        if self.delta < 1:
            if num_nodes is None:
                raise ValueError('GloGNN with delta < 1 needs num_nodes '
                                 '(its fc3 reads adjacency rows)')
            self.num_nodes = check_positive_int(num_nodes, 'num_nodes')
        self.fc1 = nn.Linear(in_channels, hidden_channels)
        self.fc2 = nn.Linear(hidden_channels, self.num_classes)
        self.fc3 = (nn.Linear(self.num_nodes, hidden_channels)
                    if self.num_nodes else None)
        self.orders_weight = nn.Parameter(torch.empty(self.orders))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every parameter (order weights ``1/orders``)."""
        self.fc1.reset_parameters()
        self.fc2.reset_parameters()
        if self.fc3 is not None:
            self.fc3.reset_parameters()
        with torch.no_grad():
            self.orders_weight.fill_(1.0 / self.orders)
        self._clear_cache()

    def check_input(self, x: Tensor, edge_index: Tensor) -> None:
        """As the base class, plus ``N == num_nodes`` when ``fc3`` is
        used."""
        super().check_input(x, edge_index)
        if self.num_nodes is not None and x.size(0) != self.num_nodes:
            raise ValueError(f'x has {x.size(0)} nodes but the model was '
                             f'built for num_nodes={self.num_nodes}')

    def _global(self, h: Tensor, h0: Tensor, adj: Tensor) -> Tensor:
        c = 1.0 / (self.alpha + self.beta)
        c1 = 1.0 - self.gamma
        c2 = 1.0 / c1
        hth = h.t() @ h
        eye = torch.eye(h.size(1), dtype=h.dtype, device=h.device)
        m = c2 * c2 * eye + c * hth
        # (C x C) solve in float64: the reference runs in float64
        res = torch.linalg.solve(m.double(), hth.double()).to(h.dtype)
        res = c1 * c * h - c1 * c * c * (h @ res)  # Z* H
        tmp = h.t() @ res
        t = res
        orders = 0.0
        for k in range(self.orders):
            t = _spmm(adj, t)
            orders = orders + self.orders_weight[k] * t
        out = c1 * (h @ tmp) + self.beta * orders
        if self.gamma:
            out = out - self.gamma * c1 * (h0 @ tmp) + self.gamma * h0
        return out

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Logits."""
        if not torch.compiler.is_compiling():
            self.check_input(x, edge_index)
        n = x.size(0)
        adj = self._cached('adj', (edge_index,), (n, x.dtype),
                           lambda: adjacency(edge_index, n, norm='row',
                                             self_loops=True, dtype=x.dtype))
        h = self.delta * self.fc1(x)  # the reference drops no input here
        if self.fc3 is not None:
            xa = _spmm(adj, self.fc3.weight.t()) + self.fc3.bias
            h = h + (1 - self.delta) * xa
        h = F.dropout(F.relu(h), self.dropout, self.training)
        h = self.fc2(h)
        h0 = h
        for _ in range(self.num_layers):
            h = self._global(h, h0, adj)
        return self._output(h)


# --- FAGCN -------------------------------------------------------------------

class FAGCN(_SpecificModel):
    r"""FAGCN from `"Beyond Low-frequency Information in Graph Convolutional
    Networks" <https://arxiv.org/abs/2101.00797>`_ (Bo et al., AAAI 2021;
    authors' code bdy9527/FAGCN): dropout, linear, ReLU, dropout, then
    ``num_layers`` :class:`torch_geometric.nn.FAConv` layers
    (:math:`h \leftarrow \epsilon h^{(0)} + \sum_{u \to v}
    \tanh(a^\top[h_v, h_u] + c) h_u / \sqrt{d_u d_v}`, no self-loops,
    attention dropout), then linear. The gate has the reference's bias
    :math:`c` (``FALayer.gate = nn.Linear(2 * d, 1)``; PyG's ``FAConv`` has
    none: it is put on ``att_r``) and its initialisation (Xavier-normal,
    gain 1.414, of the whole :math:`[1, 2d]` gate).

    Args:
        in_channels (int), out_channels (int): sizes.
        hidden_channels (int, optional): (default: 32)
        num_layers (int, optional): (default: 2)
        dropout (float, optional): (default: 0.5)
        eps (float, optional): :math:`\epsilon`. (default: 0.3)

    Raises:
        TypeError, ValueError: bad arguments; in forward, bad input.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 32, num_layers: int = 2,
                 dropout: float = 0.5, eps: float = 0.3) -> None:
        super().__init__(in_channels, out_channels)
        self.hidden_channels = hidden_channels = check_positive_int(
            hidden_channels, 'hidden_channels')
        self.num_layers = check_positive_int(num_layers, 'num_layers')
        self.dropout = _dropout(dropout)
        self.eps = check_real(eps, 'eps')
        self.t1 = nn.Linear(in_channels, hidden_channels)
        self.convs = nn.ModuleList(
            FAConv(hidden_channels, eps=self.eps, dropout=self.dropout,
                   add_self_loops=False) for _ in range(num_layers))
        for conv in self.convs:  # the reference gate's bias
            conv.att_r = nn.Linear(hidden_channels, 1)
        self.t2 = nn.Linear(hidden_channels, out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-normal (gain 1.414) weights, the gate's as one
        ``[1, 2 * hidden]`` matrix (target half on ``att_r``, source half on
        ``att_l``), PyTorch's default bias, as the reference."""
        self.t1.reset_parameters()
        self.t2.reset_parameters()
        nn.init.xavier_normal_(self.t1.weight, gain=1.414)
        nn.init.xavier_normal_(self.t2.weight, gain=1.414)
        for conv in self.convs:
            conv.reset_parameters()
            d = conv.channels
            gate = nn.Linear(2 * d, 1)
            nn.init.xavier_normal_(gate.weight, gain=1.414)
            with torch.no_grad():
                conv.att_r.weight.copy_(gate.weight[:, :d])
                conv.att_l.weight.copy_(gate.weight[:, d:])
                conv.att_r.bias.copy_(gate.bias)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Logits."""
        if not torch.compiler.is_compiling():
            self.check_input(x, edge_index)
        x = F.dropout(x, self.dropout, self.training)
        h = F.relu(self.t1(x))
        h = F.dropout(h, self.dropout, self.training)
        raw = h
        for conv in self.convs:
            h = conv(h, raw, edge_index)
        return self._output(self.t2(h))


# --- GBK-GNN -----------------------------------------------------------------

class GBKConv(nn.Module):
    r"""One gated bi-kernel layer of GBK-GNN (GraphSAGE form):

    .. math::
        h_v' = W_s h_v + \frac{1}{|N(v)|} \sum_{u \in N(v)}
        \big(\sigma_{uv} W_l h_u + (1 - \sigma_{uv}) W_h h_u\big) + b,
        \quad \sigma_{uv} = \mathrm{sigmoid}(\mathrm{LeakyReLU}(
        a_s^\top W_g h_u + a_t^\top W_g h_v))
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, 'in_channels')
        self.out_channels = check_positive_int(out_channels, 'out_channels')
        self.lin_gate = nn.Linear(in_channels, out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(out_channels))
        self.att_dst = nn.Parameter(torch.empty(out_channels))
        self.lin_pos = nn.Linear(in_channels, out_channels)
        self.lin_neg = nn.Linear(in_channels, out_channels)
        self.lin_root = nn.Linear(in_channels, out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform gate and kernels (as the reference)."""
        for lin in (self.lin_gate, self.lin_pos, self.lin_neg,
                    self.lin_root):
            lin.reset_parameters()
            nn.init.xavier_uniform_(lin.weight)
        bound = math.sqrt(6.0 / (1 + self.att_src.numel()))
        nn.init.uniform_(self.att_src, -bound, bound)
        nn.init.uniform_(self.att_dst, -bound, bound)

    def forward(self, x: Tensor, edge_index: Tensor, inv_deg: Tensor
                ) -> tuple[Tensor, Tensor]:
        """``(h', sigma)``; ``inv_deg`` is ``1 / max(in-degree, 1)``.

        Raises:
            TypeError, ValueError: ``x`` not ``[N, in_channels]``, bad
                ``edge_index``, ``inv_deg`` not ``[N]``.
        """
        if not torch.compiler.is_compiling():
            check_tensor(x, 'x', dim=2, floating=True)
            if x.size(1) != self.in_channels:
                raise ValueError(f'x must have in_channels='
                                 f'{self.in_channels} columns, got shape '
                                 f'{tuple(x.shape)}')
            check_edge_index(edge_index, x.size(0))
            check_tensor(inv_deg, 'inv_deg', dim=1, floating=True)
            if inv_deg.numel() != x.size(0):
                raise ValueError(f'inv_deg must have {x.size(0)} entries, '
                                 f'got {inv_deg.numel()}')
        src, dst = edge_index[0], edge_index[1]
        g = self.lin_gate(x)
        s = (g @ self.att_src)[src] + (g @ self.att_dst)[dst]
        sigma = torch.sigmoid(F.leaky_relu(s, 0.2))
        # the kernels commute with the mean: aggregate W x, not x
        xp = F.linear(x, self.lin_pos.weight)[src]
        xn = F.linear(x, self.lin_neg.weight)[src]
        msg = sigma[:, None] * xp + (1 - sigma)[:, None] * xn
        agg = scatter(msg, dst, dim=0, dim_size=x.size(0), reduce='sum')
        out = agg * inv_deg[:, None] + self.lin_pos.bias + self.lin_neg.bias
        return out + self.lin_root(x), sigma


class GBKGNN(_SpecificModel):
    r"""GBK-GNN from `"GBK-GNN: Gated Bi-Kernel Graph Neural Networks for
    Modeling Both Homophily and Heterophily"
    <https://arxiv.org/abs/2110.15777>`_ (Du et al., WWW 2022), GraphSAGE
    variant: :class:`GBKConv` layers with ReLU and dropout in between.

    The gate is supervised: after a training forward, :meth:`extra_loss`
    returns ``lamda`` times the sum over layers of the binary cross-entropy
    between :math:`\sigma_{uv}` and :math:`[y_u = y_v]` over the arcs whose
    two ends are training nodes (labels from :meth:`set_train_labels`).

    ``bi_kernel=False`` is the reference script's path without ``--aug``
    (``GBK-GNN/run_train.sh`` of Platonov et al.'s adaptation, whose README
    says not to set ``--aug``): plain GraphSAGE layers
    (:class:`torch_geometric.nn.SAGEConv`, mean aggregation, root weight),
    no gate and no gate loss. That is the model behind the paper's GBK-GNN
    numbers, so :data:`SPECIFIC_DEFAULTS` (the runner) uses it;
    the class default is the gated model of the GBK-GNN paper.

    Args:
        in_channels (int), out_channels (int): sizes.
        hidden_channels (int, optional): (default: 16)
        num_layers (int, optional): (default: 2)
        dropout (float, optional): (default: 0.5)
        lamda (float, optional): gate-loss weight. (default: 30.0)
        bi_kernel (bool, optional): gated bi-kernel layers; ``False``:
            GraphSAGE layers (see above). (default: :obj:`True`)

    Raises:
        TypeError, ValueError: bad arguments; in forward, bad input.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 16, num_layers: int = 2,
                 dropout: float = 0.5, lamda: float = 30.0,
                 bi_kernel: bool = True) -> None:
        super().__init__(in_channels, out_channels)
        self.hidden_channels = hidden_channels = check_positive_int(
            hidden_channels, 'hidden_channels')
        self.num_layers = check_positive_int(num_layers, 'num_layers')
        self.dropout = _dropout(dropout)
        self.lamda = check_real(lamda, 'lamda', low=0.0)
        self.bi_kernel = check_bool(bi_kernel, 'bi_kernel')
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [
            out_channels]
        layer = GBKConv if self.bi_kernel else SAGEConv
        self.convs = nn.ModuleList(layer(a, b)
                                   for a, b in zip(dims[:-1], dims[1:]))
        self._y: Tensor | None = None
        self._train_mask: Tensor | None = None
        self._sigmas: list[Tensor] = []
        self._edge_index: Tensor | None = None

    def reset_parameters(self) -> None:
        """Re-initialise every layer."""
        for conv in self.convs:
            conv.reset_parameters()
        self._clear_cache()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Logits (the gates of a training forward are kept for
        :meth:`extra_loss`)."""
        if not torch.compiler.is_compiling():
            self.check_input(x, edge_index)
        n = x.size(0)
        inv_deg = self._cached(
            'deg', (edge_index,), (n, x.dtype),
            lambda: 1.0 / torch.bincount(edge_index[1], minlength=n).clamp(
                min=1).to(x.dtype))
        sigmas = []
        for i, conv in enumerate(self.convs):
            if self.bi_kernel:
                x, sigma = conv(x, edge_index, inv_deg)
                sigmas.append(sigma)
            else:
                x = conv(x, edge_index)
            if i < len(self.convs) - 1:
                x = F.dropout(F.relu(x), self.dropout, self.training)
        self._sigmas = sigmas if self.training else []
        self._num_nodes = n
        self._edge_index = edge_index if self.training else None
        return self._output(x)

    def extra_loss(self) -> Tensor | None:
        """``lamda * sum_l BCE(sigma_l, same label)`` over training arcs, or
        ``None`` (no labels set, no training forward, or no such arc)."""
        if (not self._sigmas or self._y is None or self.lamda == 0
                or self._edge_index is None):
            return None
        src, dst = self._edge_index
        if self._y.numel() != self._num_nodes:
            raise ValueError(f'set_train_labels got {self._y.numel()} labels '
                             f'for a graph of {self._num_nodes} nodes')
        m = self._train_mask[src] & self._train_mask[dst]
        target = (self._y[src] == self._y[dst]).to(self._sigmas[0].dtype)
        loss = self._sigmas[0].new_zeros(())
        for s in self._sigmas:
            loss = loss + F.binary_cross_entropy(
                s[m].clamp(1e-7, 1 - 1e-7), target[m], reduction='sum')
        count = m.sum().clamp(min=1)
        return self.lamda * loss / count


# --- JacobiConv --------------------------------------------------------------

class JacobiConv(_SpecificModel):
    r"""JacobiConv from `"How Powerful are Spectral Graph Neural Networks"
    <https://arxiv.org/abs/2205.11172>`_ (Wang & Zhang, ICML 2022;
    authors' code GraphPKU/JacobiConv): a linear map of the (dropped-out)
    features to ``out_channels``, dropout, then a per-channel combination
    :math:`\sum_{k=0}^K w_{k,c} P_k^{(a,b)}(\hat{A}) H` of the Jacobi basis
    (:func:`jacobi_basis`) on :math:`\hat{A} = D^{-1/2} A D^{-1/2}` (no
    self-loops), each recurrence step scaled by a learnable
    :math:`\alpha_k = \alpha_{\max} \tanh(\theta_k)` (polynomial coefficient
    dilation, :math:`\theta_k` initialised to :math:`\min(1/\alpha_{\max},
    1)`), :math:`w` initialised to ones. With ``out_channels == 1`` it
    filters two class channels and returns :math:`z_1 - z_0` (a filter per
    class, as the authors' two-class model; one channel would learn a
    single filter).

    Args:
        in_channels (int), out_channels (int): sizes.
        hidden_channels (int, optional): width of the hidden layers when
            ``num_layers > 1`` (ignored otherwise). (default: 64)
        num_layers (int, optional): linear layers before filtering (1 in
            the paper). (default: 1)
        dropout (float, optional): input dropout (``dpb``). (default: 0.4)
        dropout_trans (float, optional): dropout after the linear map
            (``dpt``). (default: 0.1)
        K (int, optional): polynomial order. (default: 10)
        a, b (float, optional): Jacobi parameters (> -1).
            (default: 0.5, 0.25)
        alpha (float, optional): :math:`\alpha_{\max}`. (default: 2.0)
        reference_sign (bool, optional): the authors' recurrence (see
            :func:`jacobi_basis`; Platonov et al. ran it) instead of the
            Jacobi polynomials of the paper. (default: :obj:`False`)

    Raises:
        TypeError, ValueError: bad arguments; in forward, bad input.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 64, num_layers: int = 1,
                 dropout: float = 0.4, dropout_trans: float = 0.1,
                 K: int = 10, a: float = 0.5, b: float = 0.25,
                 alpha: float = 2.0, reference_sign: bool = False) -> None:
        super().__init__(in_channels, out_channels)
        self.hidden_channels = hidden_channels = check_positive_int(
            hidden_channels, 'hidden_channels')
        self.num_layers = check_positive_int(num_layers, 'num_layers')
        self.dropout = _dropout(dropout)
        self.dropout_trans = _dropout(dropout_trans, 'dropout_trans')
        self.K = check_positive_int(K, 'K')
        self.a = check_real(a, 'a', low=-1.0, low_open=True)
        self.b = check_real(b, 'b', low=-1.0, low_open=True)
        self.alpha = check_real(alpha, 'alpha', low=0.0, low_open=True)
        self.reference_sign = check_bool(reference_sign, 'reference_sign')
        # one filter per class channel: a binary task keeps two channels
        # (the authors' two-class softmax), not one
        self.num_classes = max(out_channels, 2)
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [
            self.num_classes]
        self.lins = nn.ModuleList(nn.Linear(p, q)
                                  for p, q in zip(dims[:-1], dims[1:]))
        self.theta = nn.Parameter(torch.empty(self.K + 1))
        self.comb = nn.Parameter(torch.empty(1, self.K + 1,
                                             self.num_classes))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the linear maps; :math:`\\theta`, :math:`w` as the
        reference."""
        for lin in self.lins:
            lin.reset_parameters()
        with torch.no_grad():
            self.theta.fill_(min(1.0 / self.alpha, 1.0))
            self.comb.fill_(1.0)
        self._clear_cache()

    def alphas(self) -> Tensor:
        """:math:`\\alpha_k = \\alpha_{\\max} \\tanh(\\theta_k)`."""
        return self.alpha * torch.tanh(self.theta)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Logits."""
        if not torch.compiler.is_compiling():
            self.check_input(x, edge_index)
        n = x.size(0)
        adj = self._cached('adj', (edge_index,), (n, x.dtype),
                           lambda: adjacency(edge_index, n, norm='sym',
                                             dtype=x.dtype))
        x = F.dropout(x, self.dropout, self.training)
        for i, lin in enumerate(self.lins):
            x = lin(x)
            if i < len(self.lins) - 1:
                x = F.relu(x)
        x = F.dropout(x, self.dropout_trans, self.training)
        al = self.alphas()
        xs = jacobi_basis(x, adj, self.K, self.a, self.b,
                          [al[k] for k in range(self.K + 1)],
                          reference_sign=self.reference_sign)
        out = (torch.stack(xs, dim=1) * self.comb).sum(1)
        return self._output(out)


# --- ResNet + graph features -------------------------------------------------

class ResNetSGC(_SpecificModel):
    r"""ResNet+SGC of Platonov et al.: the graph-agnostic ResNet baseline
    (:class:`~pyg_ext.nn.models.HeterophilyBaseline` ``'resnet'``) on
    :math:`[X, \hat{A}^{K} X]` (:func:`sgc_features`, :math:`K=5`).

    Args:
        in_channels (int), out_channels (int): sizes.
        hidden_channels, num_layers, dropout: the ResNet's. (default:
            512, 2, 0.2)
        num_props (int, optional): :math:`K`. (default: 5)
        **kwargs: passed to :class:`HeterophilyBaseline`.

    Raises:
        TypeError, ValueError: bad arguments; in forward, bad input.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: int = 512, num_layers: int = 2,
                 dropout: float = 0.2, num_props: int = 5,
                 **kwargs: Any) -> None:
        super().__init__(in_channels, out_channels)
        self.num_props = check_int(num_props, 'num_props', low=0)
        self.resnet = HeterophilyBaseline(
            'resnet', 2 * in_channels, out_channels,
            hidden_channels=hidden_channels, num_layers=num_layers,
            dropout=dropout, **kwargs)

    def reset_parameters(self) -> None:
        """Re-initialise the ResNet."""
        self.resnet.reset_parameters()
        self._clear_cache()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Logits (SGC features cached while the inputs are unchanged and
        ``x`` needs no gradient)."""
        if not torch.compiler.is_compiling():
            self.check_input(x, edge_index)

        def build() -> Tensor:
            return torch.cat([x, sgc_features(x, edge_index,
                                              self.num_props)], dim=1)

        feats = (build() if x.requires_grad else
                 self._cached('sgc', (x, edge_index), (), build))
        return self.resnet(feats, None)


class ResNetAdj(_SpecificModel):
    r"""ResNet+adj of Platonov et al.: the ResNet baseline on
    :math:`[X, A]` (each node's adjacency row, 0/1, no self-loops). The
    input layer's product with :math:`A` runs as a sparse product, never
    forming the dense ``[N, N]`` features (same result).

    Args:
        in_channels (int), out_channels (int): sizes.
        num_nodes (int): :math:`N` (the input width is ``in_channels +
            num_nodes``).
        hidden_channels, num_layers, dropout: the ResNet's. (default:
            512, 2, 0.2)
        **kwargs: passed to :class:`HeterophilyBaseline`.

    Raises:
        TypeError, ValueError: bad arguments; in forward, bad input or a
            graph with another number of nodes.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 num_nodes: int | None = None, hidden_channels: int = 512,
                 num_layers: int = 2, dropout: float = 0.2,
                 **kwargs: Any) -> None:
        super().__init__(in_channels, out_channels)
        if num_nodes is None:
            raise ValueError('ResNetAdj needs num_nodes (its input width is '
                             'in_channels + num_nodes)')
        self.num_nodes = check_positive_int(num_nodes, 'num_nodes')
        self.resnet = HeterophilyBaseline(
            'resnet', in_channels + self.num_nodes, out_channels,
            hidden_channels=hidden_channels, num_layers=num_layers,
            dropout=dropout, **kwargs)

    def reset_parameters(self) -> None:
        """Re-initialise the ResNet."""
        self.resnet.reset_parameters()
        self._clear_cache()

    def check_input(self, x: Tensor, edge_index: Tensor) -> None:
        """As the base class, plus ``N == num_nodes``."""
        super().check_input(x, edge_index)
        if x.size(0) != self.num_nodes:
            raise ValueError(f'x has {x.size(0)} nodes but the model was '
                             f'built for num_nodes={self.num_nodes}')

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Logits, equal to ``resnet(cat([x, A]), None)``."""
        if not torch.compiler.is_compiling():
            self.check_input(x, edge_index)
        n, f = x.size(0), self.in_channels
        # row i of A: the arcs i -> j (DGL's adjacency_matrix()[src, dst])
        adj = self._cached('adj', (edge_index,), (n, x.dtype),
                           lambda: adjacency(edge_index.flip(0), n,
                                             dtype=x.dtype))
        r = self.resnet
        w = r.lin_in.weight
        h = x @ w[:, :f].t() + _spmm(adj, w[:, f:].t()) + r.lin_in.bias
        h = F.gelu(r.dropout(h))
        for block in r.blocks:
            h = block(h, None)
        h = r.lin_out(r.norm_out(h))
        return h.squeeze(-1) if self.out_channels == 1 else h


# --- registry ----------------------------------------------------------------

_CLASSES: dict[str, type[nn.Module]] = {
    'h2gcn': H2GCN, 'cpgnn': CPGNN, 'gprgnn': GPRGNN, 'fsgnn': FSGNN,
    'glognn': GloGNN, 'fagcn': FAGCN, 'gbkgnn': GBKGNN,
    'jacobiconv': JacobiConv, 'resnet-sgc': ResNetSGC,
    'resnet-adj': ResNetAdj,
}


def build_specific_model(name: str, in_channels: int, out_channels: int, *,
                         hidden_channels: int = 512, num_layers: int = 2,
                         dropout: float = 0.2, **kwargs: Any) -> nn.Module:
    """Build one of :data:`SPECIFIC_MODELS` (``name`` case-insensitive,
    ``'_' == '-'``).

    ``hidden_channels``, ``num_layers`` and ``dropout`` are passed as given
    (their defaults are the baselines'; pass ``SPECIFIC_DEFAULTS[name]``'s
    ``hidden``/``layers``/``dropout`` for Platonov et al.'s settings).
    Model-specific arguments not in ``kwargs`` take
    ``SPECIFIC_DEFAULTS[name]['model_kwargs']`` (Platonov et al.'s runs).
    ``resnet-adj`` needs ``num_nodes=``, as ``glognn`` with ``delta < 1``
    (its default). JacobiConv maps its linear layer straight to the classes
    (``hidden_channels`` is used only with ``num_layers > 1``).

    Raises:
        ValueError: unknown ``name`` (named in the message); bad arguments
            (see each class).
        TypeError: unknown keyword arguments for the model.
    """
    key = canonical_specific_model(name)
    cls = _CLASSES[key]
    params = {**SPECIFIC_DEFAULTS[key].get('model_kwargs', {}), **kwargs}
    try:
        return cls(in_channels, out_channels,
                   hidden_channels=hidden_channels, num_layers=num_layers,
                   dropout=dropout, **params)
    except TypeError as e:
        if 'unexpected keyword' in str(e) or 'missing' in str(e):
            raise TypeError(f'{key}: {e}') from None
        raise


__all__ = [
    'SPECIFIC_MODELS', 'SPECIFIC_DEFAULTS', 'build_specific_model',
    'canonical_specific_model', 'H2GCN', 'CPGNN', 'GPRGNN', 'GPRProp',
    'FSGNN', 'GloGNN', 'FAGCN', 'GBKConv', 'GBKGNN', 'JacobiConv',
    'ResNetSGC', 'ResNetAdj', 'adjacency', 'gcn_adjacency',
    'h2gcn_neighbourhoods', 'sgc_features', 'fsgnn_features',
    'jacobi_basis', 'estimate_compatibility',
]
