r"""Homophily measures for node-labelled graphs (function first).

Every measure takes ``edge_index`` (``[2, E]``, PyG convention: an edge
``(j, i)`` sends a message from the source ``j`` to the target ``i``) and the
node labels ``y`` (``[N]`` integers, or one-hot / ``[N, 1]``) and returns a
Python ``float``. A ``[N, C]`` ``y`` must be exactly one-hot (a
:class:`HomophilyError` otherwise): scores or probabilities are not taken
to mean their argmax, which would silently invent hard labels.

**Directed or not.** The measures work on the arcs exactly as given. A PyG
undirected graph stores every edge in both directions, and then every formula
below is the undirected definition of its paper. A directed graph (each arc
once) gets the directed generalisation (in/out degrees, the neighbour is the
*source* of an arc, the node whose label is predicted is its *target*). For an
edge list that stores each undirected edge once (the raw Platonov ``.npz``
files), pass ``undirected=True`` to symmetrise it first.

**Conventions.** With ``undirected=False`` self-loops and duplicate arcs are
kept as given (a multigraph: each arc counts once per occurrence), except in
:func:`aggregation_homophily`, whose definition uses the 0/1 adjacency
matrix, so duplicate arcs are merged there. ``undirected=True`` takes the
*union* of the arcs and their reverses and merges duplicates (as
:func:`torch_geometric.utils.to_undirected` and DGL's ``to_bidirected``):
a self-loop stays one arc and an edge given in both directions is not
counted twice, so ``f(edge_index, undirected=True) ==
f(to_undirected(edge_index))`` for every measure. A graph in which no arc
has its reverse (clearly directed) triggers a :class:`UserWarning` (once per
call) from the measures whose directed value differs from the undirected
one; pass ``undirected=True`` to symmetrise, or silence it with
:mod:`warnings` when the directed generalisation is meant. Nodes of degree
zero are skipped by the node-level
averages (:func:`node_homophily`, :func:`label_informativeness` with
``method='node'``). The number of classes is ``y.max() + 1`` unless
``num_classes`` is given.

**Errors** (:class:`HomophilyError`, a ``ValueError``): labels of the wrong
length or shape, negative labels, out-of-range node indices, a graph without
edges, and -- for the measures that divide by it -- a graph whose edges see a
single class (adjusted homophily, label informativeness, class-insensitive
homophily). Pass ``single_class='nan'`` to get ``nan`` there instead.

Measures and their papers:

* :func:`edge_homophily` -- Zhu et al., NeurIPS 2020.
* :func:`node_homophily` -- Pei et al. (Geom-GCN), ICLR 2020.
* :func:`class_insensitive_homophily` -- Lim et al. (LINKX), NeurIPS 2021.
* :func:`adjusted_homophily`, :func:`label_informativeness` (edge and node
  versions) -- Platonov et al., `"Characterizing Graph Datasets for Node
  Classification: Homophily-Heterophily Dichotomy and Beyond"
  <https://arxiv.org/abs/2209.06177>`_, NeurIPS 2023.
* :func:`aggregation_homophily` -- Luan et al., `"Revisiting Heterophily for
  Graph Neural Networks" <https://arxiv.org/abs/2210.07606>`_, NeurIPS 2022
  (used by the Heterophilic Graph Learning Handbook, 2024).
* :func:`compatibility_matrix` + :func:`plot_compatibility_matrix` -- Zhu et
  al., NeurIPS 2020 / 2021.
* :func:`homophily_report` -- all of the above at once.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pyg_ext.utils.validation import check_int

__all__ = [
    'HomophilyError',
    'adjusted_homophily',
    'aggregation_homophily',
    'class_insensitive_homophily',
    'compatibility_matrix',
    'edge_homophily',
    'homophily_report',
    'label_informativeness',
    'node_homophily',
    'plot_compatibility_matrix',
]


class HomophilyError(ValueError):
    """Invalid input for a homophily measure."""


class _HomophilyTypeError(HomophilyError, TypeError):
    """An argument of the wrong type (also a :class:`TypeError`)."""


# --- input checking -----------------------------------------------------------

def _labels(y: Tensor | Any) -> Tensor:
    try:
        y = torch.as_tensor(y)
    except (TypeError, ValueError, RuntimeError):
        raise _HomophilyTypeError(
            f'y (labels) must be a tensor of class ids, got '
            f'{type(y).__name__}') from None
    if y.dtype == torch.bool or y.is_complex():
        raise _HomophilyTypeError(f'y (labels) must hold integer class ids, '
                                  f'got dtype {y.dtype}')
    if y.dim() == 2 and y.size(1) == 1:
        y = y.view(-1)
    elif y.dim() == 2:  # one-hot only: argmax of scores would be a guess
        if y.size(1) == 0:
            if y.size(0):
                raise HomophilyError(
                    f'y (labels) of shape {tuple(y.shape)} has no class '
                    'columns: a one-hot y needs one column per class')
            return torch.zeros(0, dtype=torch.long, device=y.device)
        if y.numel() and not bool(((y == 0) | (y == 1)).all()
                                  and (y.sum(dim=1) == 1).all()):
            raise HomophilyError(
                f'y (labels) of shape {tuple(y.shape)} must be one-hot (one '
                '1 per row, zeros elsewhere); pass y.argmax(dim=1) to use '
                'class scores or probabilities as labels')
        y = y.argmax(dim=1)
    if y.dim() != 1:
        raise HomophilyError(
            f'y (labels) must have shape [N], [N, 1] or one-hot [N, C]; got '
            f'{tuple(y.shape)}')
    if y.is_floating_point():
        if not torch.equal(y, y.round()):
            raise HomophilyError('y (labels) must be integer class ids '
                                 '(found NaN or fractional values)')
    y = y.long()
    if y.numel() and int(y.min()) < 0:
        raise HomophilyError(
            f'y (labels) must be >= 0 (got {int(y.min())}); drop or relabel '
            'unlabelled nodes first')
    return y


def _check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise _HomophilyTypeError(f'{name} must be a bool, got '
                                  f'{type(value).__name__} {value!r}')
    return value


def _check_count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        return check_int(value, name, low=0)
    except TypeError as e:
        raise _HomophilyTypeError(str(e)) from None
    except ValueError as e:
        raise HomophilyError(str(e)) from None


def _coalesce(edge_index: Tensor, n: int) -> Tensor:
    """Sorted unique arcs."""
    key = torch.unique(edge_index[0] * max(n, 1) + edge_index[1])
    return torch.stack([key // max(n, 1), key % max(n, 1)])


def _warn_if_directed(edge_index: Tensor, n: int, what: str) -> None:
    """Warn (once per call) when no arc (self-loops aside) has its reverse:
    the graph is clearly directed and the measure's value differs from
    that of its symmetrisation."""
    src, dst = edge_index
    keep = src != dst
    if not bool(keep.any()):
        return
    src, dst = src[keep], dst[keep]
    # cheap first pass (true at once for a symmetric graph): is one of the
    # first few arcs reversed somewhere?
    for k in range(min(4, src.numel())):
        if bool(((src == dst[k]) & (dst == src[k])).any()):
            return
    # unordered pair key and orientation: a reversed arc exists iff some
    # pair occurs in both orientations
    lo, hi = torch.minimum(src, dst), torch.maximum(src, dst)
    key = torch.unique((lo * n + hi) * 2 + (src < dst).long())
    if bool((key[1:] // 2 == key[:-1] // 2).any()):
        return
    warnings.warn(
        f'{what}: no arc of edge_index has its reverse, so the graph is '
        'treated as directed (the directed generalisation, which differs '
        'from the value on the symmetrised graph); pass undirected=True if '
        'each undirected edge is stored once', UserWarning, stacklevel=4)


def _prepare(edge_index: Tensor | Any, y: Tensor | Any,
             num_nodes: int | None, undirected: bool,
             num_classes: int | None = None,
             allow_empty: bool = False, *, what: str | None = None,
             coalesce: bool = False) -> tuple[Tensor, Tensor, Tensor, int]:
    """Validate and return ``(src, dst, y, num_classes)``.

    ``what``: the measure's name, to warn about clearly directed graphs
    (``None``: a direction-insensitive measure, no warning). ``coalesce``:
    merge duplicate arcs (always done with ``undirected=True``).
    """
    y = _labels(y)
    undirected = _check_flag(undirected, 'undirected')
    num_nodes = _check_count(num_nodes, 'num_nodes')
    num_classes = _check_count(num_classes, 'num_classes')
    if hasattr(edge_index, 'coo') and not torch.is_tensor(edge_index):
        row, col, _ = edge_index.coo()  # SparseTensor (adj_t: row = target)
        edge_index = torch.stack([col, row])
    try:
        edge_index = torch.as_tensor(edge_index)
    except (TypeError, ValueError, RuntimeError):
        raise _HomophilyTypeError(
            f'edge_index must be a [2, E] tensor of node ids, got '
            f'{type(edge_index).__name__}') from None
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        hint = (' (it looks transposed: use edge_index.t())'
                if edge_index.dim() == 2 and edge_index.size(1) == 2 else '')
        raise HomophilyError(
            f'edge_index must have shape [2, E]; got '
            f'{tuple(edge_index.shape)}{hint}')
    if (edge_index.is_floating_point() or edge_index.is_complex()
            or edge_index.dtype == torch.bool):
        raise _HomophilyTypeError(
            f'edge_index must hold integer node indices, got dtype '
            f'{edge_index.dtype}')
    edge_index = edge_index.long().to(y.device)
    n = y.numel() if num_nodes is None else num_nodes
    if num_nodes is not None and y.numel() != n:
        raise HomophilyError(
            f'y (labels) has length {y.numel()} but num_nodes={n}; pass one '
            'label per node')
    if edge_index.numel():
        lo, hi = int(edge_index.min()), int(edge_index.max())
        if lo < 0 or hi >= y.numel():
            raise HomophilyError(
                f'edge_index refers to node {lo if lo < 0 else hi} but there '
                f'are {y.numel()} labels in y (valid indices '
                f'0..{y.numel() - 1}); labels of the wrong length?')
    elif not allow_empty:
        raise HomophilyError('the graph has no edges (edge_index is empty): '
                             'homophily is undefined')
    n = y.numel()
    if undirected:
        # union with the reverse arcs, duplicates merged (to_undirected)
        edge_index = _coalesce(
            torch.cat([edge_index, edge_index.flip(0)], dim=1), n)
    else:
        if coalesce:
            edge_index = _coalesce(edge_index, n)
        if what is not None and edge_index.numel():
            _warn_if_directed(edge_index, n, what)
    c = int(y.max()) + 1 if y.numel() else 0
    if num_classes is not None:
        if num_classes < c:
            raise HomophilyError(
                f'num_classes={num_classes} but y (labels) goes up to '
                f'{c - 1}')
        c = int(num_classes)
    return edge_index[0], edge_index[1], y, c


def _check_single(single_class: Any) -> None:
    if not isinstance(single_class, str) or single_class not in ('raise',
                                                                 'nan'):
        raise HomophilyError(
            f"single_class must be 'raise' or 'nan', got {single_class!r}")


def _single(single_class: str, what: str) -> float:
    if single_class == 'nan':
        return math.nan
    if single_class != 'raise':
        raise HomophilyError(
            f"single_class must be 'raise' or 'nan', got {single_class!r}")
    raise HomophilyError(
        f'{what} is undefined when the edges see a single class (it divides '
        "by zero); pass single_class='nan' to get nan instead")


#: largest class table (entries) a measure allocates: 2 GiB of float64
MAX_CLASS_TABLE = 1 << 28


def _check_table(rows: int, c: int) -> None:
    """Refuse a ``[rows, C]`` table too large to allocate (class ids far
    above the number of classes, e.g. raw ids instead of ``0..C-1``)."""
    if rows * c > MAX_CLASS_TABLE:
        raise HomophilyError(
            f'y (labels) goes up to {c - 1}, so this measure needs a '
            f'{rows} x {c} class table ({rows * c * 8 / 2**30:.1f} GiB); '
            'relabel the classes to 0..C-1 (torch.unique(y, '
            'return_inverse=True)[1]) if the ids are not meant as classes')


def _class_pairs(src: Tensor, dst: Tensor, y: Tensor, c: int,
                 weight: Tensor | None = None) -> Tensor:
    """``[C, C]`` counts of arcs by (source class, target class)."""
    _check_table(c, c)
    idx = y[src] * c + y[dst]
    w = None if weight is None else weight.to(torch.float64)
    out = torch.bincount(idx, weights=w, minlength=c * c)
    return out.to(torch.float64).view(c, c)


# --- measures -----------------------------------------------------------------

def edge_homophily(edge_index: Tensor, y: Tensor, *,
                   num_nodes: int | None = None,
                   undirected: bool = False) -> float:
    r"""Edge homophily: the fraction of arcs joining nodes of one class.

    .. math::
        h_{edge} = \frac{|\{(u,v) \in \mathcal{E} : y_u = y_v\}|}
        {|\mathcal{E}|}

    Same as ``torch_geometric.utils.homophily(method='edge')``.

    Args:
        edge_index (Tensor): ``[2, E]`` arcs.
        y (Tensor): node labels.
        num_nodes (int, optional): checked against ``len(y)``.
        undirected (bool, optional): symmetrise ``edge_index`` first (it does
            not change this measure). (default: :obj:`False`)
    """
    src, dst, y, _ = _prepare(edge_index, y, num_nodes, undirected)
    return float((y[src] == y[dst]).double().mean())


def node_homophily(edge_index: Tensor, y: Tensor, *,
                   num_nodes: int | None = None,
                   undirected: bool = False) -> float:
    r"""Node homophily: the mean over nodes of the fraction of a node's
    (in-)neighbours that share its class.

    .. math::
        h_{node} = \frac{1}{|\mathcal{V}'|} \sum_{v \in \mathcal{V}'}
        \frac{|\{u \in \mathcal{N}(v) : y_u = y_v\}|}{|\mathcal{N}(v)|}

    where :math:`\mathcal{V}'` are the nodes with at least one incoming arc.
    PyG's ``homophily(method='node')`` counts isolated nodes as 0 instead;
    the two agree on graphs without isolated nodes.
    """
    src, dst, y, _ = _prepare(edge_index, y, num_nodes, undirected,
                              what='node_homophily')
    n = y.numel()
    same = (y[src] == y[dst]).double()
    hits = torch.zeros(n, dtype=torch.float64).index_add_(0, dst, same)
    deg = torch.bincount(dst, minlength=n).double()
    mask = deg > 0
    return float((hits[mask] / deg[mask]).mean())


def class_insensitive_homophily(edge_index: Tensor, y: Tensor, *,
                                num_nodes: int | None = None,
                                num_classes: int | None = None,
                                undirected: bool = False,
                                single_class: str = 'raise') -> float:
    r"""Class-insensitive edge homophily of LINKX (Lim et al., NeurIPS 2021).

    .. math::
        \hat h = \frac{1}{C-1} \sum_{k=1}^{C}
        \left[h_k - \frac{|\mathcal{C}_k|}{|\mathcal{V}|}\right]_+ ,
        \qquad h_k = \frac{\sum_{v \in \mathcal{C}_k}
        |\{u \in \mathcal{N}(v) : y_u = k\}|}{\sum_{v \in \mathcal{C}_k} d(v)}

    with :math:`h_k = 0` for a class without incoming arcs. Same as
    ``torch_geometric.utils.homophily(method='edge_insensitive')`` (the
    :math:`1/(C-1)` normalisation fixed in pyg PR #4152). ``C = 1`` divides by
    zero (see ``single_class``).
    """
    src, dst, y, c = _prepare(edge_index, y, num_nodes, undirected,
                              num_classes, what='class_insensitive_homophily')
    _check_single(single_class)
    if c < 2:
        return _single(single_class, 'class-insensitive homophily')
    pairs = _class_pairs(src, dst, y, c)  # [source class, target class]
    incoming = pairs.sum(0)
    h = torch.where(incoming > 0, pairs.diag() / incoming.clamp(min=1),
                    torch.zeros_like(incoming))
    prop = torch.bincount(y, minlength=c).double() / y.numel()
    return float((h - prop).clamp(min=0).sum() / (c - 1))


def adjusted_homophily(edge_index: Tensor, y: Tensor, *,
                       num_nodes: int | None = None,
                       num_classes: int | None = None,
                       undirected: bool = False,
                       single_class: str = 'raise') -> float:
    r"""Adjusted homophily (Platonov et al., NeurIPS 2023, Eq. (2)):
    edge homophily corrected for the expected share of same-class arcs under
    a null model that keeps the degrees.

    .. math::
        h_{adj} = \frac{h_{edge} - \sum_k \bar p_{out}(k)\,\bar p_{in}(k)}
        {1 - \sum_k \bar p_{out}(k)\,\bar p_{in}(k)},\qquad
        \bar p_{out}(k) = \frac{\sum_{v: y_v = k} d_{out}(v)}{|\mathcal{E}|}

    For an undirected graph (both directions stored) :math:`\bar p_{out} =
    \bar p_{in} = \bar p`, the degree-weighted class distribution, which is the
    paper's undirected formula; the directed form is the paper's directed
    generalisation. 0 means independent of labels, negative means
    heterophilous. Undefined (division by zero) when all arcs touch one class.
    """
    src, dst, y, c = _prepare(edge_index, y, num_nodes, undirected,
                              num_classes, what='adjusted_homophily')
    _check_single(single_class)
    m = src.numel()
    p_out = torch.bincount(y[src], minlength=c).double() / m
    p_in = torch.bincount(y[dst], minlength=c).double() / m
    expected = float((p_out * p_in).sum())
    if expected >= 1.0 - 1e-12:
        return _single(single_class, 'adjusted homophily')
    h = float((y[src] == y[dst]).double().mean())
    return (h - expected) / (1.0 - expected)


def _xlogx(p: Tensor) -> Tensor:
    return torch.where(p > 0, p * torch.log(p.clamp(min=1e-300)),
                       torch.zeros_like(p))


def label_informativeness(edge_index: Tensor, y: Tensor, *,
                          method: str = 'edge',
                          num_nodes: int | None = None,
                          num_classes: int | None = None,
                          undirected: bool = False,
                          single_class: str = 'raise',
                          node_marginal: str = 'all') -> float:
    r"""Label informativeness (Platonov et al., NeurIPS 2023, Eq. (3)): how
    much a neighbour's label tells about a node's label.

    Sample an arc :math:`(\eta, \xi)` (neighbour :math:`\eta` = source, node
    :math:`\xi` = target) and normalise the mutual information of the two
    labels by the entropy of the node's label:

    .. math::
        \mathrm{LI} = \frac{I(y_\xi, y_\eta)}{H(y_\xi)}

    * ``method='edge'`` (:math:`\mathrm{LI}_{edge}`): arcs are sampled
      uniformly. For an undirected graph this is
      :math:`2 - \sum_{c_1,c_2} p(c_1,c_2)\log p(c_1,c_2) /
      \sum_c \bar p(c) \log \bar p(c)`; for a directed graph the marginals of
      sources and targets differ and the exact mutual information is used.
    * ``method='node'`` (:math:`\mathrm{LI}_{node}`): a node is sampled
      uniformly among the nodes with incoming arcs, then one of its incoming
      arcs uniformly. As in the paper (and DGL's
      ``node_label_informativeness``), the neighbour's marginal is the
      degree-weighted class distribution :math:`\bar p` and the node's is the
      class distribution :math:`p`:
      :math:`-\sum p(c_1,c_2)\log\frac{p(c_1,c_2)}{p(c_1)\bar p(c_2)} /
      \sum_c p(c)\log p(c)`.
      ``node_marginal='all'`` (default) takes :math:`p` over all nodes, as
      the reference implementation (DGL's ``node_label_informativeness``,
      torch version) does; ``node_marginal='sampled'`` takes it over the
      nodes with incoming arcs only (the marginal of the sampled node, as in
      the authors' networkx code), so that isolated nodes do not change the
      value. The two differ only on graphs with nodes without in-arcs
      (CiteSeer, 48 isolated nodes: 0.445447 with ``'all'``, 0.445680 with
      ``'sampled'``). Ignored for ``method='edge'``.

    0 means the neighbour's label carries no information, 1 that it determines
    the node's label. Undefined (division by zero) when all nodes with arcs
    share one class.
    """
    if not isinstance(method, str) or method not in ('edge', 'node'):
        raise HomophilyError(f"method must be 'edge' or 'node', got "
                             f'{method!r}')
    src, dst, y, c = _prepare(edge_index, y, num_nodes, undirected,
                              num_classes, what='label_informativeness')
    _check_single(single_class)
    if node_marginal not in ('all', 'sampled'):
        raise HomophilyError("node_marginal must be 'all' or 'sampled', got "
                             f'{node_marginal!r}')
    if method == 'edge':
        joint = _class_pairs(src, dst, y, c)  # [neighbour class, node class]
        joint = joint / joint.sum()
        p_nb, p_node = joint.sum(1), joint.sum(0)
        h_node = -float(_xlogx(p_node).sum())
        if h_node <= 1e-12:
            return _single(single_class, 'label informativeness')
        mi = (-float(_xlogx(p_nb).sum()) + h_node + float(_xlogx(joint).sum()))
        return mi / h_node
    if method != 'node':
        raise HomophilyError(f"method must be 'edge' or 'node', got "
                             f'{method!r}')
    n = y.numel()
    deg_in = torch.bincount(dst, minlength=n).double()
    has = deg_in > 0
    n_nz = int(has.sum())
    # joint[node class, neighbour class]: node uniform, then an in-arc
    w = 1.0 / (n_nz * deg_in[dst])
    joint = _class_pairs(dst, src, y, c, weight=w)
    if node_marginal == 'all':
        p_node = torch.bincount(y, minlength=c).double() / n
    else:
        p_node = torch.bincount(y[has], minlength=c).double() / n_nz
    p_bar = torch.bincount(y[src], minlength=c).double() / src.numel()
    h_node = -float(_xlogx(p_node).sum())
    if h_node <= 1e-12:
        return _single(single_class, 'label informativeness')
    denom = p_node[:, None] * p_bar[None, :]
    ratio = torch.where(joint > 0, joint / denom.clamp(min=1e-300),
                        torch.ones_like(joint))
    mi = float((joint * torch.log(ratio)).sum())
    return mi / h_node


def aggregation_homophily(edge_index: Tensor, y: Tensor, *,
                          num_nodes: int | None = None,
                          num_classes: int | None = None,
                          undirected: bool = False) -> float:
    r"""Aggregation homophily (Luan et al., NeurIPS 2022; Heterophilic Graph
    Learning Handbook, 2024): the fraction of nodes whose *aggregated* label
    distribution is on average more similar to same-class nodes than to
    other-class nodes.

    With :math:`\hat A = \tilde D^{-1}(A + I)` (row-normalised, one self-loop
    per node; existing self-loops are replaced; :math:`A` is the 0/1
    adjacency matrix, so duplicate arcs are merged first), one-hot labels
    :math:`Z` and the post-aggregation similarity
    :math:`S = \hat A Z (\hat A Z)^\top`,

    .. math::
        H_{agg} = \frac{1}{|\mathcal{V}|}\Big|\Big\{v :
        \operatorname{mean}_{u: y_u = y_v} S_{v,u} \ge
        \operatorname{mean}_{u: y_u \ne y_v} S_{v,u}\Big\}\Big|

    (means over all nodes :math:`u`, :math:`v` itself included on the
    same-class side). Row :math:`v` of :math:`\hat A` aggregates over the
    in-neighbours of :math:`v`. Computed in :math:`O(NC)` memory as
    :math:`S_{v,\cdot} Z = (\hat A Z)_v (Z^\top \hat A Z)`. A node with no
    other-class node in the graph counts as homophilous (so a single-class
    graph gives 1).
    """
    src, dst, y, c = _prepare(edge_index, y, num_nodes, undirected,
                              num_classes, allow_empty=True,
                              what='aggregation_homophily',
                              coalesce=True)
    n = y.numel()
    if n == 0:
        raise HomophilyError(
            'aggregation_homophily is undefined for an empty graph (y has no '
            'nodes): it is a mean over the nodes')
    keep = src != dst
    src, dst = src[keep], dst[keep]
    loops = torch.arange(n, device=y.device)
    src = torch.cat([src, loops])
    dst = torch.cat([dst, loops])
    _check_table(max(n, c), c)
    deg = torch.bincount(dst, minlength=n).double()
    z = torch.nn.functional.one_hot(y, c).double()
    az = torch.zeros(n, c, dtype=torch.float64).index_add_(0, dst, z[src])
    az = az / deg[:, None]
    # sums[v, k] = sum_{u in class k} S[v, u] = az[v] . (sum_{u in k} az[u])
    class_sum = torch.zeros(c, c, dtype=torch.float64).index_add_(0, y, az)
    sums = az @ class_sum.t()
    counts = torch.bincount(y, minlength=c).double()
    same = sums.gather(1, y[:, None]).squeeze(1)
    n_same = counts[y]
    other = sums.sum(1) - same
    n_other = n - n_same
    mean_same = same / n_same
    mean_other = torch.where(n_other > 0, other / n_other.clamp(min=1),
                             torch.full_like(other, -math.inf))
    return float((mean_same >= mean_other - 1e-12).double().mean())


def compatibility_matrix(edge_index: Tensor, y: Tensor, *,
                         num_nodes: int | None = None,
                         num_classes: int | None = None,
                         undirected: bool = False,
                         normalize: bool = True) -> Tensor:
    r"""The class-compatibility matrix :math:`H \in \mathbb{R}^{C \times C}`
    (Zhu et al., NeurIPS 2020): :math:`H_{ij}` is the fraction of the arcs
    into class-:math:`i` nodes that come from class-:math:`j` nodes (rows sum
    to 1; a class without incoming arcs gets a zero row). Its diagonal are the
    per-class homophilies :math:`h_k` of :func:`class_insensitive_homophily`.

    Args:
        normalize (bool, optional): row-normalise; :obj:`False` returns the
            raw arc counts. (default: :obj:`True`)

    Returns:
        A ``[C, C]`` ``float64`` tensor.
    """
    src, dst, y, c = _prepare(edge_index, y, num_nodes, undirected,
                              num_classes, allow_empty=True,
                              what='compatibility_matrix')
    normalize = _check_flag(normalize, 'normalize')
    counts = _class_pairs(dst, src, y, c)  # [target class, source class]
    if not normalize:
        return counts
    rows = counts.sum(1, keepdim=True)
    return torch.where(rows > 0, counts / rows.clamp(min=1),
                       torch.zeros_like(counts))


def plot_compatibility_matrix(matrix: Tensor | Any, *,
                              class_names: list[str] | None = None,
                              ax: Any = None, title: str | None = None,
                              annotate: bool | None = None,
                              cmap: str = 'viridis') -> tuple[Any, Any]:
    """Draw a compatibility matrix as a heat map (needs matplotlib, imported
    here).

    Args:
        matrix: the output of :func:`compatibility_matrix`.
        class_names (list, optional): tick labels.
        ax (matplotlib.axes.Axes, optional): draw there instead of a new
            figure.
        title (str, optional): axes title.
        annotate (bool, optional): write the values in the cells (default:
            when ``C <= 12``).
        cmap (str, optional): colour map.

    Returns:
        ``(fig, ax)``.

    Raises:
        HomophilyError: ``matrix`` not square, empty or not finite;
            ``class_names`` of the wrong length; ``ax`` not an Axes
            (a :class:`TypeError` too).
    """
    try:
        m = torch.as_tensor(matrix).double().cpu().numpy()
    except (TypeError, ValueError, RuntimeError):
        raise _HomophilyTypeError(
            f'matrix must be a [C, C] tensor, got {type(matrix).__name__}'
        ) from None
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise HomophilyError(f'matrix must be square [C, C], got shape '
                             f'{m.shape}')
    if not np.isfinite(m).all():
        raise HomophilyError('matrix contains NaN or infinite values')
    c = m.shape[0]
    if c == 0:
        raise HomophilyError('matrix is empty (0 classes): nothing to plot')
    if class_names is not None:
        try:
            names = [str(v) for v in class_names]
        except TypeError:
            raise _HomophilyTypeError(
                f'class_names must be a sequence of {c} names, got '
                f'{type(class_names).__name__}') from None
        if len(names) != c:
            raise HomophilyError(
                f'class_names has {len(names)} names but matrix has {c} '
                'classes')
    else:
        names = [str(i) for i in range(c)]
    if ax is not None and not (hasattr(ax, 'imshow')
                               and hasattr(ax, 'figure')):
        raise _HomophilyTypeError(
            f'ax must be a matplotlib Axes, got {type(ax).__name__}')
    # the inputs are checked first: bad input is a clear error with or
    # without matplotlib installed
    from pyg_ext.typing import require
    require('matplotlib', 'plot_compatibility_matrix')
    import matplotlib
    if matplotlib.get_backend().lower() not in ('agg', 'pdf', 'svg', 'ps'):
        try:
            import matplotlib.pyplot as plt
        except Exception:  # pragma: no cover - headless fallback
            matplotlib.use('Agg')
            import matplotlib.pyplot as plt
    else:
        import matplotlib.pyplot as plt
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.0 + 0.5 * max(c, 4),
                                        0.8 + 0.5 * max(c, 4)))
    else:
        fig = ax.figure
    im = ax.imshow(m, cmap=cmap, vmin=0.0, vmax=max(1e-12, float(m.max())))
    ax.set_xticks(range(c), names, rotation=90 if c > 6 else 0)
    ax.set_yticks(range(c), names)
    ax.set_xlabel('neighbour class')
    ax.set_ylabel('node class')
    if title:
        ax.set_title(title)
    if annotate if annotate is not None else c <= 12:
        for i in range(c):
            for j in range(c):
                ax.text(j, i, f'{m[i, j]:.2f}', ha='center', va='center',
                        color='w' if m[i, j] < 0.6 * m.max() else 'k',
                        fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return fig, ax


def homophily_report(edge_index: Tensor, y: Tensor, *,
                     num_nodes: int | None = None,
                     undirected: bool = False) -> dict[str, float]:
    """Every measure of this module in one dict (``nan`` where a measure is
    undefined for the graph)."""
    kw: dict[str, Any] = dict(num_nodes=num_nodes, undirected=undirected)
    safe = dict(kw, single_class='nan')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        report = _report(edge_index, y, kw, safe)
    seen: set[str] = set()
    for w in caught:  # the directed-graph warning once, not per measure
        msg = str(w.message).split(': ', 1)[-1]
        if msg not in seen:
            seen.add(msg)
            warnings.warn(f'homophily_report: {msg}', w.category,
                          stacklevel=2)
    return report


def _report(edge_index: Tensor, y: Tensor, kw: dict[str, Any],
            safe: dict[str, Any]) -> dict[str, float]:
    return {
        'edge_homophily': edge_homophily(edge_index, y, **kw),
        'node_homophily': node_homophily(edge_index, y, **kw),
        'class_insensitive_homophily':
            class_insensitive_homophily(edge_index, y, **safe),
        'adjusted_homophily': adjusted_homophily(edge_index, y, **safe),
        'label_informativeness_edge':
            label_informativeness(edge_index, y, method='edge', **safe),
        'label_informativeness_node':
            label_informativeness(edge_index, y, method='node', **safe),
        'aggregation_homophily': aggregation_homophily(edge_index, y, **kw),
    }
