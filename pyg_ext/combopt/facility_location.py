r"""Uniform facility location (UniFL): instances, objective, radii, expected
cost and a vectorised local search.

Problem (`"Learning to Approximate Uniform Facility Location via Graph Neural
Networks" <https://arxiv.org/abs/2602.13155>`_, Qian, Morris, Jegelka and
Sohler, ICML 2026, §2): points :math:`X` in a metric space, every point is a
client and a candidate facility, every facility costs the same :math:`f > 0`.
For an open set :math:`F \neq \emptyset`

.. math::
    \mathrm{cost}(F) = f\,|F| + \sum_{x \in X} d(x, F).

Only pairs with :math:`d(x, y) \le f` matter: a client farther than :math:`f`
from every open facility is better off opening itself, so every optimal
solution serves each client within :math:`f`. The instance graph therefore
joins points at distance :math:`\le f` (radius graph); the sparse ILP
restricted to those pairs is exact.

Tensors are kept in a padded, distance-sorted *neighbour table*
(:class:`NeighborTable`): row :math:`x` lists :math:`x` itself (distance 0)
followed by its graph neighbours in increasing distance. Radii, the expected
cost, assignments and local-search gains are all row-wise ``cumsum`` /
``cumprod`` / gather operations on that table: no Python loop over nodes.

Equation numbers: the paper text was not available in full when this was
written; formulas below follow the paper's definitions and are re-derived
here (each docstring states the derivation), so they do not depend on an
equation number being right.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, InMemoryDataset

from pyg_ext.utils.validation import (
    check_choice,
    check_edge_index,
    check_finite,
    check_index,
    check_int,
    check_num_nodes,
    check_positive_int,
    check_real,
    check_tensor,
)

__all__ = [
    'FACILITY_FAMILIES',
    'FacilityLocationDataset',
    'NeighborTable',
    'assign_open',
    'expected_facility_cost',
    'facility_cost',
    'facility_graph',
    'facility_radii',
    'facility_table',
    'facility_table_cost',
    'generate_facility_points',
    'make_facility_instance',
    'neighbor_table',
    'repair_open',
    'facility_local_search',
]

#: Instance families of :func:`generate_facility_points`.
FACILITY_FAMILIES = ('uniform', 'gaussian', 'clustered')


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------
def _check_cost(f: float | Tensor, n: int | None = None) -> None:
    if isinstance(f, bool) or not isinstance(f, (Tensor, numbers.Real)):
        raise TypeError(f'opening cost f must be a real number or a tensor, '
                        f'got {type(f).__name__}')
    if isinstance(f, Tensor):
        if f.numel() == 0:
            raise ValueError('opening cost f is empty')
        if not bool(torch.isfinite(f).all()) or bool((f <= 0).any()):
            raise ValueError('opening cost f must be finite and > 0, got '
                             f'min {float(f.min())}')
        if f.dim() > 0 and f.numel() not in (1, n):
            raise ValueError(f'opening cost f has {f.numel()} entries; '
                             f'expected 1 or one per node ({n})')
    else:
        if not math.isfinite(float(f)) or float(f) <= 0:
            raise ValueError(f'opening cost f must be finite and > 0, got {f}')


def _check_points(pos: Tensor | np.ndarray, name: str = 'pos') -> Tensor:
    if not isinstance(pos, (Tensor, np.ndarray)):
        raise TypeError(f'{name} must be a tensor or numpy array of points, '
                        f'got {type(pos).__name__}')
    if isinstance(pos, np.ndarray) and not (
            np.issubdtype(pos.dtype, np.number)
            and not np.issubdtype(pos.dtype, np.complexfloating)):
        raise TypeError(f'{name} must have a real dtype, got {pos.dtype}')
    pos = torch.as_tensor(pos)
    if pos.dtype == torch.bool or pos.is_complex():
        raise TypeError(f'{name} must have a real dtype, got {pos.dtype}')
    if pos.dim() != 2:
        raise ValueError(f'{name} (points) must be a [num_points, dim] '
                         f'array, got shape {tuple(pos.shape)}')
    if pos.size(0) == 0:
        raise ValueError(f'{name}: empty facility-location instance '
                         '(0 points)')
    if pos.size(1) == 0:
        raise ValueError(f'{name}: points have dimension 0')
    if not pos.is_floating_point():
        pos = pos.double()
    if not bool(torch.isfinite(pos).all()):
        raise ValueError(f'{name} (points) contain NaN or infinite '
                         'coordinates')
    return pos


def _check_table(table: Any, name: str = 'table') -> int:
    """Validate a :class:`NeighborTable` and return its number of rows."""
    if not isinstance(table, NeighborTable):
        raise TypeError(f'{name} must be a NeighborTable (from '
                        f'neighbor_table / facility_table), got '
                        f'{type(table).__name__}')
    if torch.compiler.is_compiling():
        return table.index.size(0)
    n = _check_table_fields(table.index, table.dist, table.mask, name)
    if n == 0:
        raise ValueError(f'{name}: empty facility-location instance '
                         '(0 points)')
    return n


def _check_table_fields(index: Any, dist: Any, mask: Any,
                        name: str = 'table', nonnegative: bool = False
                        ) -> int:
    """Check the three fields of a :class:`NeighborTable`: ``[n, K]``
    tensors of one shape, integer ``index`` with ids in ``[0, n)``, finite
    floating ``dist`` (non-negative with ``nonnegative``; the functions
    taking a table do not ask for it, so that ``gradcheck`` may perturb
    zero padding distances), bool ``mask``. Returns ``n``."""
    check_tensor(index, f'{name}.index', dim=2, floating=False)
    check_tensor(dist, f'{name}.dist', dim=2, floating=True)
    check_tensor(mask, f'{name}.mask', dim=2)
    if mask.dtype != torch.bool:
        raise TypeError(f'{name}.mask must be a bool tensor, got '
                        f'{mask.dtype}')
    if dist.shape != index.shape or mask.shape != index.shape:
        raise ValueError(f'{name}.index, .dist and .mask must have one '
                         f'shape, got {tuple(index.shape)}, '
                         f'{tuple(dist.shape)}, {tuple(mask.shape)}')
    n = index.size(0)
    check_index(index, f'{name}.index', n, dim=2)
    check_finite(dist, f'{name}.dist')
    if nonnegative and dist.numel() and bool((dist < 0).any()):
        raise ValueError(f'{name}.dist (distances) must be non-negative')
    return n


def _check_open_mask(open_mask: Any, n: int, name: str = 'open_mask'
                     ) -> Tensor:
    """``open_mask`` as a ``[n]`` bool tensor (bool, or 0/1 values)."""
    if isinstance(open_mask, np.ndarray):
        open_mask = torch.from_numpy(open_mask)
    check_tensor(open_mask, name)
    om = open_mask.reshape(-1) if open_mask.dim() == 2 and \
        open_mask.size(1) == 1 else open_mask
    if om.dim() != 1 or om.numel() != n:
        raise ValueError(f'{name} must have shape [{n}], got '
                         f'{tuple(open_mask.shape)}')
    if om.dtype != torch.bool:
        if not bool(((om == 0) | (om == 1)).all()):
            raise ValueError(f'{name} must be boolean (or hold only 0 and '
                             '1)')
        om = om != 0
    return om


def _node_cost(f: float | Tensor, n: int, ref: Tensor) -> Tensor:
    """``f`` broadcast to a ``[n]`` tensor of ``ref``'s dtype/device."""
    if isinstance(f, Tensor):
        f = f.to(ref.dtype).to(ref.device)
        return f.expand(n) if f.numel() == 1 else f.view(n)
    return torch.full((n,), float(f), dtype=ref.dtype, device=ref.device)


# ---------------------------------------------------------------------------
# instances
# ---------------------------------------------------------------------------
def facility_graph(pos: Tensor | np.ndarray, f: float = 1.0,
                   radius: float | None = None, k: int | None = None) -> Data:
    r"""Build a UniFL instance graph from points.

    Edges (both directions, no self-loops, sorted by target) join points at
    Euclidean distance
    :math:`\le` ``radius`` (default :math:`f`, which is exact for the ILP, the
    radii and the expected cost) or, with ``k``, each point to its ``k``
    nearest neighbours (symmetrised; a restriction: radii and the ILP are exact
    only if every pair at distance :math:`\le f` is present).

    Args:
        pos (Tensor): ``[n, d]`` coordinates (float; NaN/inf rejected).
        f (float, optional): opening cost, :math:`> 0`. (default: :obj:`1.0`)
        radius (float, optional): neighbourhood radius. (default: ``f``)
        k (int, optional): use a symmetrised kNN graph instead.
            (default: :obj:`None`)

    Returns:
        :class:`~torch_geometric.data.Data` with ``pos``, ``edge_index``,
        ``edge_attr`` (``[E, 1]`` distances), ``opening_cost`` (``[1]``) and
        ``graph_radius`` (``[1]``, ``inf`` for kNN graphs).

    Raises:
        TypeError, ValueError: bad ``pos`` (shape, NaN, empty), ``f``,
            ``radius`` or ``k``.
    """
    from scipy.spatial import cKDTree

    pos = _check_points(pos)
    _check_cost(f)
    if k is not None:
        k = check_positive_int(k, 'k')
    if radius is not None:
        radius = check_real(radius, 'radius', low=0.0, low_open=True)
    n = pos.size(0)
    pts = pos.detach().cpu().double().numpy()
    tree = cKDTree(pts)
    if k is not None:
        if k < 1:
            raise ValueError(f'k must be >= 1, got {k}')
        kk = min(k + 1, n)
        _, nb = tree.query(pts, k=kk)
        nb = np.asarray(nb).reshape(n, kk)
        row = np.repeat(np.arange(n), kk)
        col = nb.reshape(-1)
        keep = row != col
        row, col = row[keep], col[keep]
        pairs = np.unique(np.concatenate(
            [np.stack([row, col], 1), np.stack([col, row], 1)]), axis=0)
        graph_radius = math.inf
    else:
        radius = float(f) if radius is None else float(radius)
        if not radius > 0:
            raise ValueError(f'radius must be > 0, got {radius}')
        p = tree.query_pairs(radius, output_type='ndarray')
        pairs = np.concatenate([p, p[:, ::-1]]) if len(p) else \
            np.zeros((0, 2), dtype=np.int64)
        graph_radius = radius
    if len(pairs):  # sort by target (edge_index[1]) then source: CSR-ready
        pairs = pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))]
    ei = torch.from_numpy(np.ascontiguousarray(pairs.T)).long()
    dist = np.linalg.norm(pts[pairs[:, 0]] - pts[pairs[:, 1]], axis=1) \
        if len(pairs) else np.zeros(0)
    data = Data(pos=pos, edge_index=ei,
                edge_attr=torch.from_numpy(dist).to(pos.dtype).view(-1, 1),
                num_nodes=n)
    data.opening_cost = torch.tensor([float(f)], dtype=pos.dtype)
    data.graph_radius = torch.tensor([graph_radius], dtype=pos.dtype)
    return data


def generate_facility_points(family: str, n: int, dim: int = 2,
                             avg_neighbors: float = 20.0,
                             seed: int | None = None,
                             generator: np.random.Generator | None = None
                             ) -> np.ndarray:
    r"""Random points for UniFL benchmarks, scaled so that a point has about
    ``avg_neighbors`` others within distance 1 (the opening cost).

    Families (all in a box of side :math:`L = (n\,V_1/\text{avg})^{1/d}`,
    :math:`V_1` the unit-ball volume, so the density does not change with
    :math:`n`):

    * ``'uniform'``: i.i.d. uniform points in the box.
    * ``'gaussian'``: a mixture of :math:`\lceil n/150 \rceil` isotropic
      Gaussians (random centres, :math:`\sigma \in [2, 3.5]`, Dirichlet(5)
      weights), 10% uniform background.
    * ``'clustered'``: Matérn-style clusters: :math:`\lceil n/40 \rceil`
      parents, children uniform in discs of radius :math:`U[0.8, 2]` around
      them, 20% uniform background (dense groups with empty space between).

    Raises:
        TypeError, ValueError: unknown ``family``, ``n < 1``, ``dim < 1``,
            ``avg_neighbors <= 0``, ``generator`` not a
            ``numpy.random.Generator``.
    """
    if not isinstance(family, str) or family not in FACILITY_FAMILIES:
        raise ValueError(f"unknown family '{family}'; choose one of "
                         f'{FACILITY_FAMILIES}')
    n = check_positive_int(n, 'n')
    dim = check_positive_int(dim, 'dim')
    avg_neighbors = check_real(avg_neighbors, 'avg_neighbors', low=0.0,
                               low_open=True)
    if generator is not None and not isinstance(generator,
                                                np.random.Generator):
        raise TypeError('generator must be a numpy.random.Generator, got '
                        f'{type(generator).__name__}')
    rng = generator if generator is not None else np.random.default_rng(seed)
    unit_ball = math.pi ** (dim / 2) / math.gamma(dim / 2 + 1)
    side = (n * unit_ball / avg_neighbors) ** (1.0 / dim)
    if family == 'uniform':
        return rng.uniform(0, side, size=(n, dim))
    if family == 'gaussian':
        m = max(1, math.ceil(n / 150))
        n_bg = n // 10
        centres = rng.uniform(0, side, size=(m, dim))
        sig = rng.uniform(2.0, 3.5, size=m)
        w = rng.dirichlet(np.full(m, 5.0))
        comp = rng.choice(m, size=n - n_bg, p=w)
        pts = centres[comp] + rng.standard_normal((n - n_bg, dim)) * \
            sig[comp, None]
        bg = rng.uniform(0, side, size=(n_bg, dim))
        return np.concatenate([pts, bg])
    # clustered
    m = max(1, math.ceil(n / 40))
    n_bg = n // 5
    centres = rng.uniform(0, side, size=(m, dim))
    rad = rng.uniform(1.2, 2.5, size=m)
    comp = rng.integers(0, m, size=n - n_bg)
    direction = rng.standard_normal((n - n_bg, dim))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True) + 1e-12
    r = rad[comp] * rng.uniform(0, 1, size=n - n_bg) ** (1.0 / dim)
    pts = centres[comp] + direction * r[:, None]
    bg = rng.uniform(0, side, size=(n_bg, dim))
    return np.concatenate([pts, bg])


def make_facility_instance(family: str, n: int, seed: int = 0, f: float = 1.0,
                           dim: int = 2, avg_neighbors: float = 20.0) -> Data:
    """One generated instance as a graph (:func:`generate_facility_points` +
    :func:`facility_graph` with radius ``f``). Points are generated for
    ``f = 1`` and scaled by ``f`` so the instance family does not change.

    Raises:
        TypeError, ValueError: as :func:`generate_facility_points` and
            :func:`facility_graph`.
    """
    _check_cost(f)
    pts = generate_facility_points(family, n, dim=dim,
                                   avg_neighbors=avg_neighbors, seed=seed)
    data = facility_graph(torch.from_numpy(pts * f), f=f)
    data.family = family
    return data


class FacilityLocationDataset(InMemoryDataset):
    r"""Generated uniform-facility-location instances (see
    :func:`generate_facility_points`), as radius-:math:`f` graphs.

    Args:
        root (str): where ``processed/`` is written.
        family (str): ``'uniform'``, ``'gaussian'`` or ``'clustered'``.
        num_nodes (int or list of int): points per instance (100 to 10,000
            in the benchmarks); a list gives one instance per entry, cycled.
        num_graphs (int): number of instances. (default: :obj:`10`)
        seed (int): base seed; instance ``i`` uses ``seed + i``.
        dim (int): point dimension. (default: :obj:`2`)
        avg_neighbors (float): expected neighbours within distance ``f``.
        opening_cost (float): :math:`f`. (default: :obj:`1.0`)
        transform, pre_transform, force_reload: as in PyG.

    Each graph has ``pos``, ``edge_index``, ``edge_attr`` (distances),
    ``opening_cost`` and ``graph_radius``.
    """

    def __init__(self, root: str, family: str = 'uniform',
                 num_nodes: int | Sequence[int] = 1000, num_graphs: int = 10,
                 seed: int = 0, dim: int = 2, avg_neighbors: float = 20.0,
                 opening_cost: float = 1.0, transform=None,
                 pre_transform=None, force_reload: bool = False) -> None:
        if not isinstance(family, str) or family not in FACILITY_FAMILIES:
            raise ValueError(f"unknown family '{family}'; choose one of "
                             f'{FACILITY_FAMILIES}')
        _check_cost(opening_cost)
        if isinstance(num_nodes, (str, bytes)) or not isinstance(
                num_nodes, (numbers.Integral, Sequence)):
            raise TypeError('num_nodes must be an int or a sequence of '
                            f'ints, got {type(num_nodes).__name__}')
        self.family = family
        if isinstance(num_nodes, numbers.Integral):
            self.sizes = [check_positive_int(num_nodes, 'num_nodes')]
        else:
            if len(num_nodes) == 0:
                raise ValueError('num_nodes must not be empty')
            self.sizes = [check_positive_int(s, 'num_nodes')
                          for s in num_nodes]
        self.num_graphs_ = check_positive_int(num_graphs, 'num_graphs')
        self.seed = check_int(seed, 'seed')
        self.dim = check_positive_int(dim, 'dim')
        self.avg_neighbors = check_real(avg_neighbors, 'avg_neighbors',
                                        low=0.0, low_open=True)
        self.f = float(opening_cost)
        super().__init__(root, transform, pre_transform,
                         force_reload=force_reload)
        self.load(self.processed_paths[0])

    @property
    def raw_file_names(self) -> list[str]:
        return []

    @property
    def processed_file_names(self) -> str:
        sizes = '-'.join(str(s) for s in self.sizes)
        return (f'unifl_{self.family}_n{sizes}_g{self.num_graphs_}_'
                f's{self.seed}_d{self.dim}_a{self.avg_neighbors:g}_'
                f'f{self.f:g}.pt')

    def download(self) -> None:
        pass

    def process(self) -> None:
        data_list = []
        for i in range(self.num_graphs_):
            n = self.sizes[i % len(self.sizes)]
            d = make_facility_instance(self.family, n, seed=self.seed + i,
                                       f=self.f, dim=self.dim,
                                       avg_neighbors=self.avg_neighbors)
            del d.family
            if self.pre_transform is not None:
                d = self.pre_transform(d)
            data_list.append(d)
        self.save(data_list, self.processed_paths[0])

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(family={self.family}, '
                f'num_nodes={self.sizes}, num_graphs={self.num_graphs_})')


# ---------------------------------------------------------------------------
# neighbour table
# ---------------------------------------------------------------------------
class _NeighborTableFields(NamedTuple):
    index: Tensor
    dist: Tensor
    mask: Tensor


class NeighborTable(_NeighborTableFields):
    """Padded, distance-sorted neighbour lists (row ``x``: ``x`` itself, then
    its neighbours by increasing distance).

    Attributes:
        index: ``[n, K]`` integer; padding entries hold the row's own index.
        dist: ``[n, K]`` float; padding entries hold 0.
        mask: ``[n, K]`` bool, ``True`` on real entries.

    Constructing one validates the fields (outside ``torch.compile``).
    ``NeighborTable._make`` / ``_replace`` skip that check (for tables built
    from validated parts); every function taking a table checks it again.

    Raises:
        TypeError: a field is not a tensor, ``index`` is not integer,
            ``dist`` not floating or ``mask`` not bool.
        ValueError: the fields differ in shape or are not 2-D, an id is
            outside ``[0, n)``, a distance is NaN, infinite or negative.
    """

    __slots__ = ()

    def __new__(cls, index: Tensor, dist: Tensor, mask: Tensor
                ) -> NeighborTable:
        if not torch.compiler.is_compiling():
            _check_table_fields(index, dist, mask, 'NeighborTable',
                                nonnegative=True)
        return super().__new__(cls, index, dist, mask)

    @property
    def num_nodes(self) -> int:
        return self.index.size(0)


def neighbor_table(edge_index: Tensor, dist: Tensor, num_nodes: int,
                   max_neighbors: int | None = None) -> NeighborTable:
    r"""Build the :class:`NeighborTable` of a graph (``edge_index[0]`` are the
    clients, ``edge_index[1]`` their neighbours; self-loops in ``edge_index``
    are ignored, the point itself is always added at distance 0).

    ``max_neighbors`` keeps only the closest neighbours of each row (radii and
    expected costs are then exact only if no dropped neighbour is closer than
    :math:`f`). An arc given more than once counts once, at its shortest
    distance. Differentiable with respect to ``dist``.

    Raises:
        TypeError, ValueError: ``num_nodes < 1`` (empty instance), a bad
            ``edge_index`` (shape, ids), ``dist`` not ``[E]`` / ``[E, 1]``,
            NaN or negative distances, ``max_neighbors < 1`` (every row
            keeps the point itself plus at least one neighbour slot).
    """
    num_nodes = check_num_nodes(num_nodes)
    if num_nodes <= 0:
        raise ValueError('num_nodes: empty facility-location instance '
                         '(0 points)')
    check_edge_index(edge_index, num_nodes)
    check_tensor(dist, 'dist', dim=(1, 2), floating=True)
    if dist.dim() == 2 and dist.size(1) != 1:
        raise ValueError(f'dist must be [num_edges] or [num_edges, 1], got '
                         f'{tuple(dist.shape)}')
    if max_neighbors is not None:
        max_neighbors = check_positive_int(max_neighbors, 'max_neighbors')
    dist = dist.view(-1)
    if edge_index.size(1) != dist.numel():
        raise ValueError(f'dist has {dist.numel()} distances for '
                         f'{edge_index.size(1)} edges')
    if dist.numel() and not bool(torch.isfinite(dist).all()):
        raise ValueError('dist (distances) contain NaN or infinite values')
    if dist.numel() and bool((dist < 0).any()):
        raise ValueError('dist (distances) must be non-negative')
    row, col = edge_index[0], edge_index[1]
    keep = row != col
    row, col, dist = row[keep], col[keep], dist[keep]
    if row.numel():
        # a neighbour listed twice counts once, at its shortest distance
        # (twice would double it in every radius sum and cost product)
        pair = row * num_nodes + col
        by_dist = torch.argsort(dist.detach(), stable=True)
        perm = by_dist[torch.argsort(pair[by_dist], stable=True)]
        pair = pair[perm]
        first = torch.ones_like(pair, dtype=torch.bool)
        first[1:] = pair[1:] != pair[:-1]
        perm = perm[first]
        row, col, dist = row[perm], col[perm], dist[perm]
    ar = torch.arange(num_nodes, device=row.device)
    row = torch.cat([ar, row])
    col = torch.cat([ar, col])
    dist = torch.cat([dist.new_zeros(num_nodes), dist])
    # one stable sort by (row, dist); the point itself was put first, so it
    # stays ahead of neighbours at distance 0 (duplicates)
    span = 2.0 * float(dist.detach().max()) + 1.0 if dist.numel() else 1.0
    key = row.double() * span + dist.detach().double()
    perm = torch.argsort(key, stable=True)
    row, col, dist = row[perm], col[perm], dist[perm]
    deg = torch.bincount(row, minlength=num_nodes)
    ptr = torch.cumsum(deg, 0) - deg
    slot = torch.arange(row.numel(), device=row.device) - ptr[row]
    K = int(deg.max())
    if max_neighbors is not None:
        K = min(K, int(max_neighbors) + 1)
        sel = slot < K
        row, col, dist, slot = row[sel], col[sel], dist[sel], slot[sel]
    index = ar.view(-1, 1).repeat(1, K)
    index[row, slot] = col
    d = dist.new_zeros(num_nodes, K)
    d = d.index_put((row, slot), dist)
    mask = torch.zeros(num_nodes, K, dtype=torch.bool, device=row.device)
    mask[row, slot] = True
    return NeighborTable._make((index, d, mask))  # valid by construction


_TABLE_SOURCES = ('pos', 'edge_index', 'edge_attr', 'opening_cost')


def cached_table(data: Data, how: str, max_neighbors: int | None,
                 build: Any) -> NeighborTable:
    """``data._unifl_table`` when it was built ``how`` (``'pos'`` /
    ``'edges'``) with this ``max_neighbors`` from the ``pos``,
    ``edge_index``, ``edge_attr`` and ``opening_cost`` ``data`` holds now
    (the same tensor objects, not modified in place); else ``build()``,
    cached with that key. A table set by hand (no key) is used as given."""
    key = (how, max_neighbors, tuple(
        (t, t._version) if isinstance(t, Tensor) else (t, None)
        for t in (getattr(data, k, None) for k in _TABLE_SOURCES)))
    t = getattr(data, '_unifl_table', None)
    if t is not None:
        old = data.__dict__.get('_unifl_table_key')
        if old is None:
            return t
        if old[:2] == key[:2] and all(
                a is b and va == vb
                for (a, va), (b, vb) in zip(old[2], key[2])):
            return t
    t = build()
    data._unifl_table = t
    data.__dict__['_unifl_table_key'] = key  # holds the tensors it names
    return t


def facility_table(pos: Tensor | np.ndarray, f: float = 1.0,
                   max_neighbors: int = 31, workers: int = 1
                   ) -> NeighborTable:
    r"""Neighbour table straight from points: each point's
    ``max_neighbors`` nearest others within distance :math:`f` (KD-tree
    query), sorted, the point itself first. The fast path of
    :func:`~pyg_ext.nn.unifl_solve`; equals :func:`neighbor_table` of the
    radius-:math:`f` graph truncated to ``max_neighbors`` per row (ties in
    distance may order differently).

    Raises:
        TypeError, ValueError: bad ``pos``, ``f``, ``max_neighbors < 1`` or
            ``workers`` not an int.
    """
    from scipy.spatial import cKDTree

    pos = _check_points(pos)
    _check_cost(f)
    max_neighbors = check_positive_int(max_neighbors, 'max_neighbors')
    workers = check_int(workers, 'workers')
    n = pos.size(0)
    pts = pos.detach().cpu().double().numpy()
    k = min(int(max_neighbors) + 1, n)
    d, i = cKDTree(pts).query(pts, k=k, distance_upper_bound=float(f),
                              workers=workers)
    d = np.asarray(d).reshape(n, k)
    i = np.asarray(i).reshape(n, k)
    mask = np.isfinite(d)
    # the point itself first (a duplicate at distance 0 may come earlier):
    # swap it to column 0; both entries are at distance 0
    own = np.arange(n)
    bad = np.nonzero(i[:, 0] != own)[0]
    for r in bad:
        c = np.nonzero(i[r] == r)[0]
        if len(c):
            i[r, c[0]] = i[r, 0]
        i[r, 0], d[r, 0], mask[r, 0] = r, 0.0, True
    i = np.where(mask, i, own[:, None])
    d = np.where(mask, d, 0.0)
    return NeighborTable._make((torch.from_numpy(i).long(),
                                torch.from_numpy(d).to(pos.dtype),
                                torch.from_numpy(mask)))


# ---------------------------------------------------------------------------
# radii
# ---------------------------------------------------------------------------
def facility_radii(table: NeighborTable, f: float | Tensor) -> Tensor:
    r"""Exact Mettu–Plaxton radii: :math:`r_x` solving

    .. math::
        \sum_{y} \max(0, r_x - d(x, y)) = f

    (the sum includes :math:`y = x`, so :math:`0 < r_x \le f`). Let
    :math:`d_1 = 0 \le d_2 \le \dots` be row :math:`x` of the table,
    :math:`S_k = \sum_{j \le k} d_j` and :math:`g_k = k\,d_k - S_k` (the
    left side at :math:`r = d_k`, non-decreasing in :math:`k`). With
    :math:`k^* = \#\{k : g_k < f\}`, the solution is
    :math:`r_x = (f + S_{k^*}) / k^*`. Vectorised over the table (one
    ``cumsum``); differentiable in the distances (and in ``f``). Exact when the
    graph holds every pair at distance :math:`< f` (radius graph,
    :func:`facility_graph` default).

    Args:
        table (NeighborTable): from :func:`neighbor_table`.
        f (float or Tensor): opening cost (scalar or one per node).

    Returns:
        ``[n]`` radii.

    Raises:
        TypeError, ValueError: invalid ``table`` or ``f``.
    """
    _check_table(table)
    n, K = table.index.shape
    _check_cost(f, n)
    d, m = table.dist, table.mask
    fx = _node_cost(f, n, d)
    S = torch.cumsum(d * m, dim=1)
    k = torch.arange(1, K + 1, dtype=d.dtype, device=d.device)
    g = k * d - S
    valid = m & (g < fx.view(-1, 1))
    kstar = valid.sum(1).clamp(min=1)  # >= 1: g_1 = 0 < f
    s = S.gather(1, (kstar - 1).view(-1, 1)).view(-1)
    return (fx + s) / kstar.to(d.dtype)


# ---------------------------------------------------------------------------
# expected cost
# ---------------------------------------------------------------------------
def expected_facility_cost(p: Tensor, table: NeighborTable,
                           f: float | Tensor, reduce: str = 'sum'
                           ) -> Tensor:
    r"""Closed-form expected cost of the randomised opening rule of
    SimpleUniformFL / UniFL-MPNN (paper §3, the unsupervised loss; the note's
    summary of the paper's closed form).

    Rule: every point :math:`x` opens independently with probability
    :math:`p_x` (set :math:`F_1`); every point with no :math:`F_1` facility
    within distance :math:`f` opens too (:math:`F_2`). Each client is served by
    its nearest :math:`F_1` facility within :math:`f`, else by itself. Then

    .. math::
        \mathbb{E}[\mathrm{cost}] = f\sum_x p_x
        + f\sum_x \prod_{y \in B(x, f)} (1 - p_y)
        + \sum_x \sum_{k} d(x, y_k)\, p_{y_k} \prod_{j < k} (1 - p_{y_j}),

    where :math:`y_1 = x, y_2, \dots` are the points of :math:`B(x, f)` by
    increasing distance (ties in any fixed order give the same value). This is
    the cost of the rule's canonical assignment; the realised cost with
    nearest-facility reassignment (clients may be closer to an :math:`F_2`
    point) can only be lower. Derivation: client :math:`x` pays
    :math:`d(x, y_k)` exactly when :math:`y_k` is the first open point in its
    sorted ball. Computed with one ``cumprod`` per table row: :math:`O(n K)`
    (the pairwise form is :math:`O(n K^2)`); differentiable in ``p`` and the
    distances.

    Args:
        p (Tensor): ``[n]`` opening probabilities in :math:`[0, 1]`.
        table (NeighborTable): the radius-:math:`f` neighbour table.
        f (float or Tensor): opening cost.
        reduce (str): ``'sum'`` (total) or ``'none'`` (per-client share:
            :math:`f p_x` + the fallback and connection terms of client
            :math:`x`).

    Raises:
        TypeError, ValueError: invalid ``table`` or ``f``, ``p`` not a
            floating ``[n]`` tensor in ``[0, 1]``, unknown ``reduce``.
    """
    n = _check_table(table)
    check_tensor(p, 'p', floating=True)
    if p.dim() != 1 or p.numel() != n:
        raise ValueError(f'p must have shape [{n}], got {tuple(p.shape)}')
    check_choice(reduce, 'reduce', ('sum', 'none'))
    if not torch.compiler.is_compiling():
        check_finite(p, 'p')
        if p.numel() and bool(((p < 0) | (p > 1)).any()):
            raise ValueError('p must hold probabilities in [0, 1]')
    _check_cost(f, n)
    fx = _node_cost(f, n, p)
    q = _take(p, table.index) * table.mask
    surv = torch.cumprod(1 - q, dim=1)
    excl = torch.cat([torch.ones_like(surv[:, :1]), surv[:, :-1]], dim=1)
    conn = (table.dist.to(p.dtype) * q * excl).sum(1)
    per = fx * p + fx * surv[:, -1] + conn
    if reduce == 'none':
        return per
    if reduce != 'sum':
        raise ValueError(f"reduce must be 'sum' or 'none', got {reduce!r}")
    return per.sum()


def _expected_distance(q: Tensor, table: NeighborTable, fx: Tensor) -> Tensor:
    """Expected distance to the nearest point of a random set (independent
    membership ``q``), capped at ``f`` (``f`` when none is within ``f``)."""
    qq = _take(q, table.index) * table.mask
    surv = torch.cumprod(1 - qq, dim=1)
    excl = torch.cat([torch.ones_like(surv[:, :1]), surv[:, :-1]], dim=1)
    return (table.dist.to(q.dtype) * qq * excl).sum(1) + fx * surv[:, -1]


# ---------------------------------------------------------------------------
# objective on solutions
# ---------------------------------------------------------------------------
def facility_cost(pos: Tensor | np.ndarray, open_mask: Tensor | np.ndarray,
                  f: float) -> float:
    r"""Exact objective :math:`f|F| + \sum_x \min_{y \in F} \|x - y\|_2` of an
    open set (Euclidean, all pairs via a KD-tree, no graph restriction).

    Raises:
        TypeError, ValueError: bad ``pos`` or ``f``, ``open_mask`` of the
            wrong shape or values, no facility open.
    """
    from scipy.spatial import cKDTree

    pos = _check_points(pos)
    _check_cost(f)
    om = _check_open_mask(open_mask, pos.size(0)).cpu().numpy()
    if not om.any():
        raise ValueError('open_mask: no facility is open')
    pts = pos.detach().cpu().double().numpy()
    d, _ = cKDTree(pts[om]).query(pts, k=1)
    return float(f) * int(om.sum()) + float(np.sum(d))


class Assignment(NamedTuple):
    """Nearest and second-nearest open facility per client (within the
    table); ``big`` marks "none in the table"."""

    d1: Tensor
    i1: Tensor
    d2: Tensor
    served: Tensor


def _take(v: Tensor, index: Tensor) -> Tensor:
    """``v[index]`` for a 2-D ``index`` via ``index_select`` (faster)."""
    return v.index_select(0, index.reshape(-1)).view(index.shape)


def assign_open(table: NeighborTable, open_mask: Tensor,
                big: float = math.inf) -> Assignment:
    """Nearest and second-nearest open facility of every client within its
    table row (rows are sorted, so this is a ``cumsum`` and an ``argmax``).
    ``big`` (``> 0``, ``inf`` allowed) is the distance reported when a
    client has no (second) open facility in its row.

    Raises:
        TypeError, ValueError: invalid ``table`` or ``open_mask``, ``big``
            not a real number ``> 0`` (NaN refused).
    """
    n = _check_table(table)
    open_mask = _check_open_mask(open_mask, n)
    if isinstance(big, bool) or not isinstance(big, numbers.Real):
        raise TypeError(f'big must be a real number, got '
                        f'{type(big).__name__} {big!r}')
    if math.isnan(big) or big <= 0:
        raise ValueError(f'big must be > 0 (inf allowed), got {big}')
    return _assign_open(table, open_mask, big)


def _assign_open(table: NeighborTable, open_mask: Tensor,
                 big: float) -> Assignment:
    # unchecked core of assign_open, for callers that validated (the local
    # search calls it once per candidate move)
    o = _take(open_mask, table.index) & table.mask
    c = torch.cumsum(o.to(torch.int16), dim=1)
    last = c[:, -1]
    has1 = last >= 1
    has2 = last >= 2
    k1 = torch.argmax((c >= 1).to(torch.uint8), dim=1, keepdim=True)
    k2 = torch.argmax((c >= 2).to(torch.uint8), dim=1, keepdim=True)
    d = table.dist.detach()
    d1 = torch.where(has1, d.gather(1, k1).view(-1), big)
    d2 = torch.where(has2, d.gather(1, k2).view(-1), big)
    i1 = torch.where(has1, table.index.gather(1, k1).view(-1), -1)
    return Assignment(d1, i1, d2, has1)


def repair_open(table: NeighborTable, open_mask: Tensor) -> Tensor:
    """Open every point with no open facility within its table row (the
    :math:`F_2` step of SimpleUniformFL); returns a new mask.

    Raises:
        TypeError, ValueError: invalid ``table`` or ``open_mask``.
    """
    n = _check_table(table)
    om = _check_open_mask(open_mask, n).clone()
    o = (_take(om, table.index) & table.mask).any(1)
    om |= ~o
    return om


def facility_table_cost(table: NeighborTable, open_mask: Tensor,
                        f: float | Tensor) -> float:
    """Objective using only table distances (equals :func:`facility_cost` for
    a radius-:math:`f` table once every client has an open facility in its
    row; ``inf`` otherwise).

    Raises:
        TypeError, ValueError: invalid ``table``, ``open_mask`` or ``f``.
    """
    n = _check_table(table)
    open_mask = _check_open_mask(open_mask, n)
    _check_cost(f, n)
    fx = _node_cost(f, n, table.dist.detach().double())
    a = assign_open(table, open_mask)
    if not bool(a.served.all()):
        return math.inf
    return float((fx * open_mask.double()).sum() + a.d1.double().sum())


# ---------------------------------------------------------------------------
# local search
# ---------------------------------------------------------------------------
def _row_max(table: NeighborTable, v: Tensor) -> Tensor:
    vv = _take(v, table.index).masked_fill(~table.mask, -math.inf)
    return vv.amax(1)


def _swap_gains(table: NeighborTable, om: Tensor, a: Assignment, R: Tensor,
                L: Tensor) -> tuple[Tensor, Tensor]:
    """Best swap (open row node ``y``, close ``z``) per closed ``y``."""
    n, K = table.index.shape
    idx, m, d = table.index, table.mask, table.dist
    d1, d2, i1 = a.d1, a.d2, a.i1.clamp(min=0)
    zx = _take(i1, idx)
    d1x, d2x = _take(d1, idx), _take(d2, idx)
    c = ((d2x - d1x) - torch.clamp(torch.minimum(d2x, d) - d1x, min=0)) * m
    zk = torch.where(m, zx, n)  # padding: a dummy group
    zs, perm = torch.sort(zk, dim=1)
    cs = torch.cumsum(c.gather(1, perm), dim=1)
    last = torch.ones_like(m)
    last[:, :-1] = zs[:, 1:] != zs[:, :-1]
    start = torch.searchsorted(zs, zs)  # first slot of each z group
    prev = torch.where(start > 0, cs.gather(1, (start - 1).clamp(min=0)),
                       torch.zeros_like(cs))
    C = cs - prev
    ar = torch.arange(n, device=idx.device).view(-1, 1)
    valid = last & (zs < n) & (zs != ar) & ~om.view(-1, 1)
    zsafe = zs.clamp(max=n - 1)
    g = torch.where(valid, R.view(-1, 1) - _take(L, zsafe) + C, -math.inf)
    gs, ks = g.max(1)
    return gs, zsafe.gather(1, ks.view(-1, 1)).view(-1)


def _unique_priority(key: Tensor) -> Tensor:
    """Distinct float64 priorities ordered like ``(key, -index)``: the
    largest key first, ties broken by the smaller index; ``-inf`` stays
    ``-inf``. Makes "largest among the neighbours" a strict test, so that
    tied moves (e.g. duplicate points) are never applied together."""
    n = key.numel()
    order = torch.argsort(key, descending=True, stable=True)
    rank = torch.empty(n, dtype=torch.float64, device=key.device)
    rank[order] = torch.arange(n, 0, -1, dtype=torch.float64,
                               device=key.device)
    return torch.where(torch.isfinite(key), rank,
                       torch.full_like(rank, -math.inf))


def facility_local_search(table: NeighborTable, open_mask: Tensor,
                          f: float | Tensor, max_iter: int = 50,
                          swap: bool = True, tol: float = 1e-9,
                          rel_tol: float = 0.0) -> tuple[Tensor, dict]:
    r"""Parallel close / open / swap local search with vectorised gains.

    With :math:`d_1(x), d_2(x)` the distances of client :math:`x` to its
    nearest and second-nearest open facility (:math:`i_1(x)` the nearest):

    * close open :math:`z`: :math:`f - L(z)`,
      :math:`L(z) = \sum_{x: i_1(x)=z} (d_2(x) - d_1(x))`;
    * open closed :math:`y`: :math:`R(y) - f`,
      :math:`R(y) = \sum_x \max(0, d_1(x) - d(x, y))`;
    * swap (open :math:`y`, close :math:`z`):
      :math:`R(y) - L(z) + C(y, z)` with
      :math:`C(y,z) = \sum_{x: i_1(x) = z} [(d_2 - d_1) -
      \max(0, \min(d_2, d(x,y)) - d_1)]` (clients of :math:`z` near
      :math:`y`); every :math:`(y, z)` pair with a client of :math:`z` in
      :math:`B(y, f)` is scored, grouped per row by a sort.

    Gains and costs are computed in float64. A round applies, in parallel,
    the improving move of every node whose gain is strictly the largest
    among its neighbours (ties broken by node index, so tied moves such as
    closing duplicate points are never applied together), falling back to
    two hops and then to the single best move when parallel moves
    interfere. A move is accepted only if it lowers the cost by more than
    ``tol`` times the cost scale (:math:`\max(\mathrm{cost}, f)`); when no
    move improves, facilities whose closing does not increase the cost are
    closed one at a time. Swaps are scored once no open/close move
    improves. Clients with no open facility in their row count as very far,
    so a move never leaves one unserved. Without ``rel_tol`` the result is
    a local optimum for single open / close / swap moves (unless
    ``max_iter`` rounds run out).

    Args:
        table (NeighborTable): radius-:math:`f` table.
        open_mask (Tensor): ``[n]`` bool (or 0/1) starting solution
            (repaired with :func:`repair_open` first).
        f (float or Tensor): opening cost, :math:`> 0`.
        max_iter (int): maximum rounds. (default: :obj:`50`)
        swap (bool): also score swaps. (default: :obj:`True`)
        tol (float): relative tolerance of the strict-improvement test.
            (default: :obj:`1e-9`)
        rel_tol (float): stop early once a round lowers the cost by less
            than this fraction (0: run to a local optimum).
            (default: :obj:`0.0`)

    Returns:
        ``(open_mask, info)`` with ``info = {'iterations', 'cost'}``.

    Raises:
        TypeError, ValueError: invalid ``table``, ``open_mask`` of the wrong
            shape or values, bad ``f``, ``max_iter < 0``, negative
            tolerances.
    """
    n = _check_table(table)
    _check_cost(f, n)
    open_mask = _check_open_mask(open_mask, n)
    max_iter = check_int(max_iter, 'max_iter', low=0)
    if not isinstance(swap, bool):
        raise TypeError(f'swap must be a bool, got {type(swap).__name__}')
    tol = check_real(tol, 'tol', low=0.0)
    rel_tol = check_real(rel_tol, 'rel_tol', low=0.0)
    n, K = table.index.shape
    idx, m = table.index, table.mask
    d = table.dist.detach().double()
    tab = NeighborTable._make((idx, d, m))  # checked above
    fx = _node_cost(f, n, d)
    fmax = float(fx.max())
    big = 1e3 * fmax + float(d.max()) * 10 + 1.0
    flat_idx = idx.reshape(-1)

    def total(o: Tensor, a: Assignment) -> float:
        return float((fx * o.double()).sum() + a.d1.sum())

    def eps(c: float) -> float:
        return tol * max(abs(c), fmax)

    om = repair_open(tab, open_mask)
    a = _assign_open(tab, om, big)
    cost = total(om, a)
    rounds, swap_phase = 0, False
    prev_cost = cost
    for rounds in range(1, max_iter + 1):  # noqa: B007
        d1, d2, i1 = a.d1, a.d2, a.i1.clamp(min=0)
        L = torch.zeros(n, dtype=d.dtype).index_add_(0, i1, d2 - d1)
        gain_x = torch.clamp(d1.view(-1, 1) - d, min=0) * m
        R = torch.zeros(n, dtype=d.dtype).index_add_(0, flat_idx,
                                                     gain_x.reshape(-1))
        close_gain = torch.where(om, fx - L, -math.inf)
        best_move = torch.where(om, close_gain, R - fx)
        swap_z = None
        if swap_phase:
            gs, zbest = _swap_gains(tab, om, a, R, L)
            use = gs > best_move
            best_move = torch.where(use, gs, best_move)
            swap_z = torch.where(use, zbest, -1)
        key = torch.where(best_move > eps(cost), best_move, -math.inf)

        def apply(sel: Tensor, om: Tensor = om,
                  swap_z: Tensor | None = swap_z
                  ) -> tuple[Tensor, Assignment, float]:
            new = om.clone()
            new[sel] = ~new[sel]
            if swap_z is not None:
                new[swap_z[sel & (swap_z >= 0)]] = False
            new = repair_open(tab, new)
            a_new = _assign_open(tab, new, big)
            return new, a_new, total(new, a_new)

        moved = False
        if bool(torch.isfinite(key).any()):
            prio = _unique_priority(key)
            h = _row_max(tab, prio)
            for hops in (1, 2, 0):
                if hops == 2:
                    h = _row_max(tab, h)
                if hops == 0:  # the single best move
                    sel = prio == prio.max()
                else:
                    sel = torch.isfinite(prio) & (prio >= h)
                new, a_new, c_new = apply(sel)
                if c_new < cost - eps(cost):
                    om, a, cost, moved = new, a_new, c_new, True
                    break
        else:
            # no strictly improving move: close a facility whose closing
            # does not increase the cost (redundant duplicates, ties)
            ok = om & (close_gain >= -eps(cost))
            if bool(ok.any()):
                z = int(torch.argmax(torch.where(ok, close_gain,
                                                 -math.inf)))
                new = om.clone()
                new[z] = False
                new = repair_open(tab, new)
                if int(new.sum()) < int(om.sum()):
                    a_new = _assign_open(tab, new, big)
                    c_new = total(new, a_new)
                    if c_new <= cost + eps(cost):
                        om, a, cost, moved = new, a_new, c_new, True
        if moved and not (rel_tol > 0
                          and prev_cost - cost <= rel_tol * prev_cost):
            prev_cost = cost
            continue
        prev_cost = cost
        if swap and not swap_phase:
            swap_phase = True
            continue
        break
    return om, {'iterations': rounds, 'cost': cost}
