r"""Edge sparsification transforms: Walk Index Sparsification and baselines.

All three remove edges in a prefix order (one order serves every sparsity
level), keep self loops, remove both directions of an undirected edge
together, and keep ``edge_attr``, ``edge_weight`` and every other edge-level
attribute aligned with the kept edges. Node-level attributes and
``num_nodes`` are untouched. Use them as ``transform=`` or ``pre_transform=``
on single graphs; a :class:`~torch_geometric.data.Batch` is sparsified graph
by graph (the budget applies to each graph, the result equals batching the
per-graph outputs, and ``to_data_list()`` keeps working), never as one
batched union.

Which attributes are edge-level: those named in ``edge_attrs``; otherwise
those with ``num_edges`` entries along their concatenation dimension. When a
graph has as many nodes as edges that size says nothing, so then an
attribute is edge-level when its name contains ``'edge'`` (``edge_attr``,
``edge_weight``, ``edge_type``...), node-level when it is named in
``node_attrs`` or has a usual node-level name (``x``, ``pos``, ``y``,
``batch``, ``*_mask``, names containing ``'node'``), and anything else is
refused with a :class:`ValueError` naming it rather than silently left
misaligned (PyG's :meth:`~torch_geometric.data.Data.edge_subgraph` would treat
it as node-level). An ``edge_attr``, ``edge_weight`` or ``edge_type`` whose
length is not the number of edges is a malformed graph and is refused too.

For :class:`~torch_geometric.data.HeteroData`, every non-bipartite edge type
(same source and target node type) is sparsified on its own; bipartite edge
types are left as they are.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch, Data, HeteroData
from torch_geometric.data.datapipes import functional_transform
from torch_geometric.transforms import BaseTransform

from pyg_ext.utils._sparsify_baselines import (
    effective_resistance_order,
    random_edge_order,
)
from pyg_ext.utils.validation import (
    check_choice,
    check_edge_index,
    check_edge_weight,
    check_int,
    check_positive_int,
)
from pyg_ext.utils.walk_index import (
    ALGORITHMS,
    WISResult,
    _check_num_layers,
    _check_optional_bool,
    _check_ratio,
    walk_index_sparsify,
)

__all__ = [
    'EffectiveResistanceSparsification',
    'RandomEdgeSparsification',
    'WalkIndexSparsification',
]


#: PyG's usual edge-level names: one of them with a length other than
#: ``num_edges`` is a malformed graph, refused rather than left misaligned
EDGE_KEYS = frozenset({'edge_attr', 'edge_weight', 'edge_type'})
#: attribute names that are node-level when ``num_nodes == num_edges``
NODE_KEYS = frozenset({'x', 'pos', 'y', 'z', 'batch', 'n_id', 'norm',
                       'node_attr'})


def _check_budget(ratio: float | None, num_remove: int | None
                  ) -> tuple[float | None, int | None]:
    if (ratio is None) == (num_remove is None):
        raise ValueError('pass exactly one of ratio and num_remove')
    if ratio is not None:
        ratio = _check_ratio(ratio)
    if num_remove is not None:
        num_remove = check_int(num_remove, 'num_remove', low=0)
    return ratio, num_remove


def _check_names(names: Sequence[str] | None, arg: str) -> tuple[str, ...]:
    if names is None:
        return ()
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f'{arg} must hold attribute names (str), got '
                            f'{type(name).__name__} {name!r}')
    return names


def _check_seed(seed: Any) -> int | None:
    return None if seed is None else check_int(seed, 'seed')


def _length(value: Any, cat_dim: Any) -> int | None:
    """Size of ``value`` along its concatenation dimension (``None`` when it
    has none: scalars, strings, non-sequence objects)."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        if value.ndim == 0 or not isinstance(cat_dim, int):
            return None
        return int(value.shape[cat_dim])
    if isinstance(value, (list, tuple)):
        return len(value)
    return None


def _edge_level_keys(data: Data | HeteroData, store: Any, num_nodes: int,
                     edge_attrs: tuple[str, ...],
                     node_attrs: tuple[str, ...]) -> list[str]:
    """The attributes of ``store`` to slice with its edges (see the module
    docstring); raises for attributes that cannot be told apart."""
    num_edges = store.edge_index.size(1)
    keys = []
    for key, value in store.items():
        if key == 'edge_index' or key in node_attrs:
            continue
        size = _length(value, data.__cat_dim__(key, value, store))
        if key in edge_attrs:
            if size != num_edges:
                raise ValueError(
                    f'edge_attrs names {key!r}, but it has {size} entries '
                    f'for {num_edges} edges')
            keys.append(key)
        elif size != num_edges:
            if key in EDGE_KEYS and size is not None:
                raise ValueError(
                    f'{key!r} has {size} entries but edge_index has '
                    f'{num_edges} edges; an edge attribute must have one '
                    'entry per edge (it would be left misaligned with the '
                    'kept edges)')
            continue
        elif num_nodes != num_edges or 'edge' in key:
            keys.append(key)
        elif (key in NODE_KEYS or key.endswith('_mask') or 'node' in key):
            continue
        else:
            raise ValueError(
                f'cannot tell whether attribute {key!r} is node- or '
                f'edge-level: the graph has as many nodes as edges '
                f'({num_edges}). Pass edge_attrs=[{key!r}] or '
                f'node_attrs=[{key!r}] to the transform (or rename it to '
                "contain 'edge' if it is edge-level)")
    return keys


def _select(value: Any, keep: torch.Tensor, cat_dim: int) -> Any:
    if isinstance(value, torch.Tensor):
        return value.index_select(cat_dim, keep.nonzero().view(-1)
                                  .to(value.device))
    if isinstance(value, np.ndarray):
        return np.compress(keep.cpu().numpy(), value, axis=cat_dim)
    return type(value)(v for v, k in zip(value, keep.tolist()) if k)


class _EdgeSparsifier(BaseTransform):
    """Shared ``forward``: compute an order per edge store, keep a prefix."""

    def __init__(self, ratio: float | None, num_remove: int | None,
                 edge_attrs: Sequence[str] | None = None,
                 node_attrs: Sequence[str] | None = None) -> None:
        self.ratio, self.num_remove = _check_budget(ratio, num_remove)
        self.edge_attrs = _check_names(edge_attrs, 'edge_attrs')
        self.node_attrs = _check_names(node_attrs, 'node_attrs')
        both = set(self.edge_attrs) & set(self.node_attrs)
        if both:
            raise ValueError(f'edge_attrs and node_attrs both name '
                             f'{sorted(both)}')

    def _order(self, edge_index: torch.Tensor, num_nodes: int) -> WISResult:
        raise NotImplementedError

    def _settings(self) -> dict[str, Any]:
        return {}

    def _check_store(self, store: Any) -> None:
        """Extra checks of an edge store before sparsifying it."""

    def _sparsify_store(self, data: Data | HeteroData, store: Any,
                        out_store: Any, num_nodes: int) -> None:
        # shape and dtype only (O(1)); the id range is checked by the order
        check_edge_index(store.edge_index)
        self._check_store(store)
        keys = _edge_level_keys(data, store, num_nodes, self.edge_attrs,
                                self.node_attrs)
        keep = self._order(store.edge_index, num_nodes).keep_mask
        out_store.edge_index = _select(store.edge_index, keep, -1)
        for key in keys:
            value = store[key]
            out_store[key] = _select(value, keep,
                                     data.__cat_dim__(key, value, store))

    def _forward_batch(self, batch: Batch) -> Batch:
        """Sparsify each graph of ``batch`` with its own budget and batch
        the results again (a budget over the union would remove edges
        unevenly and break the batch's per-graph slices)."""
        if not isinstance(getattr(batch, '_slice_dict', None), dict):
            raise ValueError(
                'data is a Batch without the per-graph slices of '
                'Batch.from_data_list, so its graphs cannot be told apart: '
                'sparsify the graphs before batching them')
        graphs = batch.to_data_list()
        out = []
        for i, graph in enumerate(graphs):
            try:
                out.append(self.forward(graph))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f'graph {i} of the batch: {exc}') from exc
        follow = []
        if isinstance(batch, Data):
            follow = [k for k in batch.keys()
                      if f'{k}_batch' in batch and f'{k}_ptr' in batch]
        return Batch.from_data_list(out, follow_batch=follow)

    def forward(self, data: Data | HeteroData) -> Data | HeteroData:
        if not isinstance(data, (Data, HeteroData)):
            raise TypeError(f'data must be a Data or HeteroData object, got '
                            f'{type(data).__name__}')
        if isinstance(data, Batch):
            return self._forward_batch(data)
        if isinstance(data, HeteroData):
            out = copy.copy(data)
            for store in data.edge_stores:
                src, _, dst = store._key
                if src != dst or 'edge_index' not in store:
                    continue
                self._sparsify_store(data, store, out[store._key],
                                     data[src].num_nodes)
            return out
        if data.edge_index is None:
            return data
        num_nodes = data.num_nodes
        out = copy.copy(data)
        self._sparsify_store(data, data._store, out._store, num_nodes)
        # a graph whose size was only inferred from edge_index keeps it
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            if out.num_nodes != num_nodes:
                out.num_nodes = num_nodes
        return out

    def __repr__(self) -> str:
        budget = (f'ratio={self.ratio}' if self.ratio is not None
                  else f'num_remove={self.num_remove}')
        settings = self._settings()
        if self.edge_attrs:
            settings['edge_attrs'] = list(self.edge_attrs)
        if self.node_attrs:
            settings['node_attrs'] = list(self.node_attrs)
        extra = ''.join(f', {k}={v!r}' if isinstance(v, str)
                        else f', {k}={v}' for k, v in settings.items())
        return f'{self.__class__.__name__}({budget}{extra})'


@functional_transform('walk_index_sparsification')
class WalkIndexSparsification(_EdgeSparsifier):
    r"""Removes edges by Walk Index Sparsification (WIS) from `"On the
    Ability of Graph Neural Networks to Model Interactions Between Vertices"
    <https://arxiv.org/abs/2211.16494>`_ (functional name:
    :obj:`walk_index_sparsification`).

    :math:`(L-1)`-WIS greedily removes the edge that harms the walk indices
    of the singleton partitions the least, preserving a depth-:math:`L` GNN's
    ability to model interactions; see
    :func:`pyg_ext.utils.walk_index.walk_index_sparsify`. Deterministic (no
    seed needed).

    Args:
        ratio (float, optional): fraction of the removable (undirected) edges
            to remove (``round(ratio * count)`` of them, halves to even).
        num_remove (int, optional): number of edges to remove instead.
        num_layers (int): GNN depth :math:`L`; ``2`` is 1-WIS (Algorithm 2),
            ``3`` is 2-WIS. (default: :obj:`2`)
        algorithm (str, optional): ``'1-wis'`` or ``'general'``. (default:
            chosen from ``num_layers``)
        chunk_size (int): edges removed per re-scoring for ``'general'``
            (``1`` is the exact greedy; the reference code uses ``100``).
            (default: :obj:`1`)
        undirected (bool, optional): treat the graph as undirected.
            (default: detected)
        edge_attrs (list of str, optional): attributes to treat as
            edge-level (sliced with the kept edges) whatever their size.
        node_attrs (list of str, optional): attributes to treat as
            node-level (never sliced).

    Raises:
        ValueError: on a bad setting (budget, names) or, when applied, on a
            bad ``edge_index`` or an attribute that cannot be told node- or
            edge-level (see the module docstring).
        TypeError: on settings of the wrong type, when applied to something
            other than ``Data`` / ``HeteroData`` or with an ``edge_index``
            that is not an integer tensor.
    """

    def __init__(self, ratio: float | None = None,
                 num_remove: int | None = None, num_layers: int = 2,
                 algorithm: str | None = None, chunk_size: int = 1,
                 undirected: bool | None = None,
                 edge_attrs: Sequence[str] | None = None,
                 node_attrs: Sequence[str] | None = None) -> None:
        super().__init__(ratio, num_remove, edge_attrs, node_attrs)
        self.num_layers = _check_num_layers(num_layers)
        self.algorithm = check_choice(
            algorithm if algorithm is not None else
            ('1-wis' if self.num_layers == 2 else 'general'),
            'algorithm', ALGORITHMS)
        if self.algorithm == '1-wis' and self.num_layers != 2:
            raise ValueError("algorithm='1-wis' needs num_layers=2")
        self.chunk_size = check_positive_int(chunk_size, 'chunk_size')
        self.undirected = _check_optional_bool(undirected, 'undirected')

    def _order(self, edge_index: torch.Tensor, num_nodes: int) -> WISResult:
        return walk_index_sparsify(
            edge_index, num_remove=self.num_remove, ratio=self.ratio,
            num_layers=self.num_layers, num_nodes=num_nodes,
            algorithm=self.algorithm, undirected=self.undirected,
            chunk_size=self.chunk_size)

    def _settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {'num_layers': self.num_layers,
                               'algorithm': self.algorithm}
        if self.algorithm == 'general':
            out['chunk_size'] = self.chunk_size
        if self.undirected is not None:
            out['undirected'] = self.undirected
        return out


@functional_transform('random_edge_sparsification')
class RandomEdgeSparsification(_EdgeSparsifier):
    r"""Removes a uniformly random subset of edges (the random-pruning
    baseline of the WIS paper) (functional name:
    :obj:`random_edge_sparsification`).

    Unlike :func:`torch_geometric.utils.dropout_edge` it removes an exact
    number of edges, keeps undirected graphs undirected and self loops in
    place, and keeps every edge-level attribute aligned.

    Args:
        ratio (float, optional): fraction of the removable edges to remove.
        num_remove (int, optional): number of edges to remove instead.
        undirected (bool, optional): treat the graph as undirected.
            (default: detected)
        seed (int, optional): seed of a private generator, re-seeded on every
            call (the same graph always loses the same edges); ``None`` uses
            torch's global generator. (default: :obj:`None`)
        edge_attrs (list of str, optional): attributes to treat as
            edge-level (sliced with the kept edges) whatever their size.
        node_attrs (list of str, optional): attributes to treat as
            node-level (never sliced).

    Raises:
        ValueError: on a bad setting (budget, names) or, when applied, on a
            bad ``edge_index`` or an attribute that cannot be told node- or
            edge-level (see the module docstring).
        TypeError: on settings of the wrong type, when applied to something
            other than ``Data`` / ``HeteroData`` or with an ``edge_index``
            that is not an integer tensor.
    """

    def __init__(self, ratio: float | None = None,
                 num_remove: int | None = None,
                 undirected: bool | None = None,
                 seed: int | None = None,
                 edge_attrs: Sequence[str] | None = None,
                 node_attrs: Sequence[str] | None = None) -> None:
        super().__init__(ratio, num_remove, edge_attrs, node_attrs)
        self.undirected = _check_optional_bool(undirected, 'undirected')
        self.seed = _check_seed(seed)

    def _order(self, edge_index: torch.Tensor, num_nodes: int) -> WISResult:
        return random_edge_order(edge_index, self.num_remove, self.ratio,
                                 num_nodes, self.undirected, self.seed)

    def _settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.undirected is not None:
            out['undirected'] = self.undirected
        out['seed'] = self.seed
        return out


@functional_transform('effective_resistance_sparsification')
class EffectiveResistanceSparsification(_EdgeSparsifier):
    r"""Spectral sparsification by effective resistance (Spielman and
    Srivastava, `"Graph Sparsification by Effective Resistances"
    <https://arxiv.org/abs/0803.0929>`_), the spectral baseline of the WIS
    paper (functional name: :obj:`effective_resistance_sparsification`).

    Edges are sampled without replacement with probability proportional to
    their effective resistance; the last ones drawn are removed (as in the
    WIS reference code, which adapts PyGSP). Unit weights; kept edges are not
    re-weighted. Undirected graphs only.

    Args:
        ratio (float, optional): fraction of the edges to remove.
        num_remove (int, optional): number of edges to remove instead.
        sample (bool): sample the order (``True``) or remove the smallest
            resistances first (``False``). (default: :obj:`True`)
        method (str): ``'exact'``, ``'approx'`` (random projections + CG) or
            ``'auto'``. (default: ``'auto'``)
        seed (int, optional): seed of the sampling (and projections),
            re-applied on every call. (default: :obj:`None`)
        edge_attrs (list of str, optional): attributes to treat as
            edge-level (sliced with the kept edges) whatever their size.
        node_attrs (list of str, optional): attributes to treat as
            node-level (never sliced).

    Raises:
        ValueError: on a bad setting (budget, names) or, when applied, on a
            bad ``edge_index``, an ``edge_weight`` of the wrong length or
            with NaN, infinite or negative entries (it is not used, but such
            a graph is no resistor network), or an attribute that cannot be
            told node- or edge-level (see the module docstring).
        TypeError: on settings of the wrong type, when applied to something
            other than ``Data`` / ``HeteroData`` or with an ``edge_index``
            that is not an integer tensor.
    """

    def __init__(self, ratio: float | None = None,
                 num_remove: int | None = None, sample: bool = True,
                 method: str = 'auto', seed: int | None = None,
                 edge_attrs: Sequence[str] | None = None,
                 node_attrs: Sequence[str] | None = None) -> None:
        super().__init__(ratio, num_remove, edge_attrs, node_attrs)
        self.method = check_choice(method, 'method',
                                   ('auto', 'exact', 'approx'))
        self.sample = _check_optional_bool(sample, 'sample')
        if self.sample is None:
            raise TypeError('sample must be a bool, got None')
        self.seed = _check_seed(seed)

    def _check_store(self, store: Any) -> None:
        # resistances are computed with unit weights, but a graph that
        # carries NaN, infinite or negative weights is not a valid resistor
        # network: refuse it instead of sparsifying it as if unweighted
        ew = store.get('edge_weight')
        if ew is not None:
            check_edge_weight(ew, store.edge_index.size(1), nonnegative=True)

    def _order(self, edge_index: torch.Tensor, num_nodes: int) -> WISResult:
        return effective_resistance_order(
            edge_index, self.num_remove, self.ratio, num_nodes,
            sample=self.sample, method=self.method, seed=self.seed)

    def _settings(self) -> dict[str, Any]:
        return {'sample': self.sample, 'method': self.method,
                'seed': self.seed}
