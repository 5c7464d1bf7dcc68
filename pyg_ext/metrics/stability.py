r"""Stability of GNNs with respect to TMD (Chuang & Jegelka, NeurIPS 2022, §6).

:func:`stability_study` trains (or not) a sum-aggregation GIN, draws random
graph pairs and relates output distances :math:`\|h(G) - h(G')\|` to
:math:`\mathrm{TMD}^{L+1}_w(G, G')` (Pascal weights by default, as the
reference ``stability.py``):

* Pearson and Spearman correlations (the paper's stability experiment);
* the paper's Lipschitz form :math:`\|h(G) - h(G')\| \le \prod_l K_l \cdot
  \mathrm{TMD}^{L+1}_w(G, G')`, reported as the largest observed ratio (an
  empirical check: the constants of Theorem 8 could not be verified against
  the paper text here);
* a bound proved for exactly this model and checked on every pair
  (:func:`proven_lipschitz_bound`).

The model, :class:`StableGIN`, keeps the assumptions under which such bounds
hold: :math:`h^l_v = \phi_l\big(h^{l-1}_v + \sum_{u \in N(v)} h^{l-1}_u\big)`
with bias-free ReLU MLPs :math:`\phi_l` (so :math:`\phi_l(0) = 0` and blank
trees embed to 0), sum pooling and a bias-free linear head;
:math:`K_l = \prod \|W\|_2` over an MLP's weight matrices.

**Proved bound.** Let :math:`M_l(a, b) = \|h^l_a - h^l_b\|` for two depth-
:math:`(l + 1)` trees (a blank tree has :math:`h = 0`). Then
:math:`M_l(a, b) \le K_l\big(M_{l-1}(a, b) + \mathrm{OT}_{M_{l-1}}(\rho(
\text{children}))\big)` (the neighbour sums differ by at most any blank-padded
matching's cost). With unit weights :math:`T_l = \mathrm{TD}^{l+1}_{w=1}`
satisfies :math:`T_{l-1} \le T_l` and :math:`\mathrm{OT}_{T_{l-1}}
(\text{children}) \le T_l`, so by induction :math:`M_l \le 2^l
\prod_{i \le l} K_i \, T_l`; sum pooling adds one more OT (blank padded) and
the head its norm:

.. math::
    \|h(G) - h(G')\| \le 2^L \, \|W_{\mathrm{out}}\|_2 \prod_{l=1}^{L} K_l
    \cdot \mathrm{TMD}^{L+1}_{w=1}(G, G').
"""

from __future__ import annotations

from collections.abc import Sequence
from math import nan
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pyg_ext.utils.validation import (
    check_edge_index,
    check_finite,
    check_index,
    check_int,
    check_param_dtype,
    check_positive_int,
    check_tensor,
)


class StableGIN(torch.nn.Module):
    """Sum-aggregation GIN with bias-free MLPs, sum pooling and a bias-free
    linear head (the model class of the TMD stability bound).

    Args:
        in_channels: input feature dimension.
        hidden_channels: hidden width.
        out_channels: output dimension (classes).
        num_layers: message-passing layers :math:`L`.
    """

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, num_layers: int = 3) -> None:
        super().__init__()
        from torch_geometric.nn import GINConv
        in_channels = check_positive_int(in_channels, 'in_channels')
        hidden_channels = check_positive_int(hidden_channels,
                                             'hidden_channels')
        out_channels = check_positive_int(out_channels, 'out_channels')
        num_layers = check_positive_int(num_layers, 'num_layers')
        self.convs = torch.nn.ModuleList()
        dims = [in_channels] + [hidden_channels] * num_layers
        for i in range(num_layers):
            mlp = torch.nn.Sequential(
                torch.nn.Linear(dims[i], hidden_channels, bias=False),
                torch.nn.ReLU(),
                torch.nn.Linear(hidden_channels, hidden_channels, bias=False),
                torch.nn.ReLU(),
            )
            self.convs.append(GINConv(mlp, eps=0.0, train_eps=False))
        self.head = torch.nn.Linear(hidden_channels, out_channels, bias=False)
        self.num_layers = num_layers
        self.in_channels = in_channels

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()
        self.head.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor,
                batch: Tensor | None = None) -> Tensor:
        """``[B, out_channels]`` graph outputs (``B = 1`` without
        ``batch``).

        Raises:
            ValueError: ``x`` not ``[N, in_channels]``, ``edge_index`` not
                ``[2, E]`` with ids in ``[0, N)``, ``batch`` not ``[N]``
                with ids ``>= 0``.
            TypeError: non-tensor ``x``, ``x`` of another dtype than the
                parameters, non-integer ``edge_index`` or ``batch``.

        A graph with no nodes (``batch=None``) gives a zero row (sum
        pooling over nothing).

        NaN in ``x`` propagates to the output (as in any layer).
        """
        from torch_geometric.nn import global_add_pool
        if not torch.compiler.is_compiling():
            self._check_inputs(x, edge_index, batch)
        for conv in self.convs:
            x = conv(x, edge_index)
        if batch is None:  # one graph: one output row, also when empty
            batch = x.new_zeros(x.size(0), dtype=torch.long)
            return self.head(global_add_pool(x, batch, size=1))
        return self.head(global_add_pool(x, batch))

    def _check_inputs(self, x: Any, edge_index: Any,
                      batch: Any) -> None:
        check_tensor(x, 'x', dim=2)
        check_param_dtype(x, 'x', self.head.weight.dtype)
        if x.size(1) != self.in_channels:
            raise ValueError(f'x has {x.size(1)} features per node but the '
                             f'model has in_channels={self.in_channels}')
        if isinstance(edge_index, Tensor) and edge_index.layout == \
                torch.strided:
            check_edge_index(edge_index, x.size(0))
        if batch is not None:
            check_index(batch, 'batch')
            if batch.numel() != x.size(0):
                raise ValueError(f'batch has {batch.numel()} entries but x '
                                 f'has {x.size(0)} nodes')
            check_index(batch, 'batch', max(x.size(0), 1))

    @torch.no_grad()
    def lipschitz_constants(self) -> list[float]:
        """``[K_1, ..., K_L, K_head]``: products of spectral norms."""
        out = []
        for conv in self.convs:
            k = 1.0
            for m in conv.nn.modules():
                if isinstance(m, torch.nn.Linear):
                    k *= float(torch.linalg.matrix_norm(m.weight, ord=2))
            out.append(k)
        out.append(float(torch.linalg.matrix_norm(self.head.weight, ord=2)))
        return out


def proven_lipschitz_bound(model: StableGIN) -> float:
    r"""The constant :math:`C` with :math:`\|h(G) - h(G')\| \le C \cdot
    \mathrm{TMD}^{L+1}_{w=1}(G, G')` proved in the module docstring."""
    ks = model.lipschitz_constants()
    return float(2 ** model.num_layers * np.prod(ks))


def train_gin(dataset: Sequence[Any], num_layers: int = 3,
              hidden_channels: int = 32, epochs: int = 100,
              lr: float = 0.01, batch_size: int = 32,
              seed: int = 0) -> StableGIN:
    """Train a :class:`StableGIN` for graph classification on ``dataset``
    (all graphs; the stability study looks at the learned function, not at
    held-out accuracy)."""
    from torch_geometric.loader import DataLoader
    torch.manual_seed(seed)
    graphs = list(dataset)
    num_classes = int(max(int(g.y.max()) for g in graphs)) + 1
    model = StableGIN(graphs[0].x.size(1), hidden_channels, num_classes,
                      num_layers)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(graphs, batch_size=batch_size, shuffle=True,
                        generator=gen)
    model.train()
    for _ in range(epochs):
        for b in loader:
            opt.zero_grad()
            out = model(b.x.float(), b.edge_index, b.batch)
            loss = torch.nn.functional.cross_entropy(out, b.y.view(-1))
            loss.backward()
            opt.step()
    model.eval()
    return model


@torch.no_grad()
def outputs(model: torch.nn.Module, dataset: Sequence[Any]) -> np.ndarray:
    """``[G, out]`` model outputs, one graph at a time (float64)."""
    res = [model(g.x.float(), g.edge_index).double().view(-1)
           for g in dataset]
    return torch.stack(res).numpy()


def _check_graphs(graphs: list[Any], model: StableGIN | None,
                  need_y: bool) -> None:
    """Every graph has a finite ``[N, F]`` ``x`` of one width (the
    model's ``in_channels`` when given), a valid ``edge_index`` and, when
    training, integer graph labels ``y >= 0``."""
    width = None if model is None else model.in_channels
    for i, g in enumerate(graphs):
        x = getattr(g, 'x', None)
        if x is None:
            raise ValueError(f'dataset[{i}] has no node features x')
        check_tensor(x, f'dataset[{i}].x', dim=2)
        check_finite(x, f'dataset[{i}].x')
        if width is None:
            width = x.size(1)
        elif x.size(1) != width:
            what = ('the model has in_channels' if model is not None else
                    'dataset[0].x has')
            raise ValueError(f'dataset[{i}].x has {x.size(1)} features but '
                             f'{what} {width}')
        check_edge_index(getattr(g, 'edge_index', None),
                         x.size(0), f'dataset[{i}].edge_index')
        if need_y:
            y = getattr(g, 'y', None)
            if y is None:
                raise ValueError(
                    f'dataset[{i}] has no graph label y (needed to train '
                    'the GIN; pass train=False or a model)')
            check_index(y, f'dataset[{i}].y', dim=(0, 1, 2))
            if y.numel() and int(y.min()) < 0:
                raise ValueError(f'dataset[{i}].y must be >= 0, got '
                                 f'{int(y.min())}')


def stability_study(dataset: Sequence[Any], num_layers: int = 3,
                    hidden_channels: int = 32, epochs: int = 100,
                    num_pairs: int = 1000, weights: Any = 'pascal',
                    seed: int = 0, train: bool = True,
                    model: StableGIN | None = None,
                    backend: str = 'auto') -> dict[str, Any]:
    """Correlate GIN output distances with TMD on random pairs.

    Args:
        dataset: graphs with ``x``, ``edge_index`` and (when training) ``y``.
        num_layers, hidden_channels, epochs: the GIN and its training.
        num_pairs: random distinct pairs (without repetition).
        weights: TMD weights for the correlation (default: Pascal, depth
            ``num_layers + 1``).
        seed: seeds training and pair sampling.
        train: train the GIN (``False``: random initialisation).
        model: use this model instead of building one.

    Raises:
        ValueError: fewer than 2 graphs, non-positive ``num_layers``,
            ``hidden_channels`` or ``num_pairs``, negative ``epochs`` or
            ``seed``, a graph without ``x`` (or with non-finite ``x``, or
            a width other than the ``model``'s ``in_channels``), without
            ``y`` when training, and the TMD errors (bad graphs,
            ``backend``).
        TypeError: ``dataset`` not a sequence of graphs, a ``model`` that
            is not a :class:`StableGIN`, non-integer counts.

    Returns:
        dict with ``pearson``, ``spearman`` (``nan`` with a single pair,
        e.g. two graphs or ``num_pairs=1``, and where either side is
        constant), ``max_ratio_paper_form``
        (:math:`\\max \\|\\Delta h\\| / (\\prod K \\cdot TMD_w)`),
        ``proven_bound_holds`` (every pair within
        :func:`proven_lipschitz_bound`), ``max_ratio_proven`` and the raw
        ``output_dist`` / ``tmd`` arrays.
    """
    from scipy.stats import pearsonr, spearmanr

    from pyg_ext.metrics.tmd import tmd_cross

    num_layers = check_positive_int(num_layers, 'num_layers')
    hidden_channels = check_positive_int(hidden_channels, 'hidden_channels')
    epochs = check_int(epochs, 'epochs', low=0)
    num_pairs = check_positive_int(num_pairs, 'num_pairs')
    seed = check_int(seed, 'seed', low=0)
    if model is not None and not isinstance(model, StableGIN):
        raise TypeError(f'model must be a StableGIN, got '
                        f'{type(model).__name__}')
    if hasattr(dataset, 'edge_index') or not hasattr(dataset, '__iter__'):
        raise TypeError(f'dataset must be a sequence of graphs, got '
                        f'{type(dataset).__name__}')
    graphs = list(dataset)
    if len(graphs) < 2:
        raise ValueError(f'dataset needs at least 2 graphs for pairs, got '
                         f'{len(graphs)}')
    _check_graphs(graphs, model, need_y=model is None and bool(train))
    if model is None:
        if train:
            model = train_gin(graphs, num_layers, hidden_channels, epochs,
                              seed=seed)
        else:
            torch.manual_seed(seed)
            # labels (where given) only size the untrained head
            ys = [int(g.y.max()) for g in graphs
                  if isinstance(getattr(g, 'y', None), Tensor)
                  and g.y.numel() and not g.y.is_floating_point()]
            num_classes = max(2, max(ys, default=0) + 1)
            model = StableGIN(graphs[0].x.size(1), hidden_channels,
                              num_classes, num_layers).eval()
    L = model.num_layers
    h = outputs(model, graphs)
    rng = np.random.default_rng(seed)
    G = len(graphs)
    total = G * (G - 1) // 2
    k = min(num_pairs, total)
    flat = rng.choice(total, size=k, replace=False)
    iu, ju = np.triu_indices(G, k=1)
    pi, pj = iu[flat], ju[flat]
    need = np.unique(np.concatenate([pi, pj]))
    pos = {int(g): t for t, g in enumerate(need)}
    sub = [graphs[i] for i in need]
    Dw = tmd_cross(sub, sub, L + 1, weights, backend=backend)
    D1 = tmd_cross(sub, sub, L + 1, 1.0, backend=backend)
    a = np.array([pos[int(i)] for i in pi])
    b = np.array([pos[int(j)] for j in pj])
    tmd_w, tmd_1 = Dw[a, b], D1[a, b]
    dh = np.linalg.norm(h[pi] - h[pj], axis=1)
    ks = model.lipschitz_constants()
    prod_k = float(np.prod(ks))
    C = proven_lipschitz_bound(model)
    ok = tmd_w > 0
    ratio_paper = float(np.max(dh[ok] / (prod_k * tmd_w[ok]))) if ok.any() \
        else 0.0
    ok1 = tmd_1 > 0
    ratio_proven = float(np.max(dh[ok1] / (C * tmd_1[ok1]))) if ok1.any() \
        else 0.0
    # pairs at TMD 0 must have equal outputs (1-WL cannot tell them apart)
    zero_ok = bool(np.all(dh[~ok1] <= 1e-6 * max(1.0, float(dh.max()))))
    return {
        'num_pairs': int(k),
        'num_layers': L,
        'trained': bool(train),
        # a correlation needs two pairs (one pair, e.g. two graphs: nan)
        'pearson': float(pearsonr(dh, tmd_w)[0]) if k >= 2 else nan,
        'spearman': float(spearmanr(dh, tmd_w)[0]) if k >= 2 else nan,
        'lipschitz_constants': ks,
        'prod_k': prod_k,
        'max_ratio_paper_form': ratio_paper,
        'max_ratio_proven': ratio_proven,
        'proven_bound_holds': bool(ratio_proven <= 1 + 1e-6 and zero_ok),
        'output_dist': dh,
        'tmd': tmd_w,
    }


__all__ = [
    'StableGIN',
    'outputs',
    'proven_lipschitz_bound',
    'stability_study',
    'train_gin',
]
