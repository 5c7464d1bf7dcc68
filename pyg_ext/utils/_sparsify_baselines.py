r"""Baseline edge-removal orders for sparsification studies.

* Random removal: a uniformly random order over the removable edges.
* Spectral sparsification by effective resistance (Spielman and Srivastava,
  `"Graph Sparsification by Effective Resistances"
  <https://arxiv.org/abs/0803.0929>`_), as the WIS paper's reference code
  uses it: edges are sampled without replacement with probability
  proportional to :math:`w_e R_e`; the sampled order is the keep order and its
  reverse is the removal order.

Both return a :class:`~pyg_ext.utils.walk_index.WISResult` so that every
sparsifier offers the same prefix-order interface.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from pyg_ext.utils.validation import (
    check_choice,
    check_int,
    check_positive_int,
    check_real,
)
from pyg_ext.utils.walk_index import (
    WISResult,
    _as_numpy_edge_index,
    _build_result,
    _candidates,
    _check_optional_bool,
    _num_nodes,
    _resolve_num_remove,
)

__all__ = ['effective_resistance', 'effective_resistance_order',
           'random_edge_order']

#: components up to this many vertices get exact (dense) resistances
EXACT_MAX_NODES = 4000
METHODS = ('auto', 'exact', 'approx')


def _check_seed(seed: Any) -> int | None:
    return None if seed is None else check_int(seed, 'seed')


def _check_bool(value: Any, name: str) -> bool:
    out = _check_optional_bool(value, name)
    if out is None:
        raise TypeError(f'{name} must be a bool, got None')
    return out


def _generator(seed: int | None) -> torch.Generator | None:
    if seed is None:
        return None
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def random_edge_order(edge_index: Tensor, num_remove: int | None = None,
                      ratio: float | None = None,
                      num_nodes: int | None = None,
                      undirected: bool | None = None,
                      seed: int | None = None) -> WISResult:
    """A uniformly random removal order (self loops kept; an undirected edge
    goes with both directions).

    Raises:
        ValueError: on a bad ``edge_index``, ``num_nodes`` or budget (as
            :func:`~pyg_ext.utils.walk_index.walk_index_sparsify`).
        TypeError: on arguments of the wrong type (e.g. a float ``seed``).
    """
    seed = _check_seed(seed)
    undirected = _check_optional_bool(undirected, 'undirected')
    ei = _as_numpy_edge_index(edge_index)
    cand = _candidates(ei, _num_nodes(ei, num_nodes), undirected)
    m = cand.a.shape[0]
    k = _resolve_num_remove(num_remove, ratio, m)
    order = torch.randperm(m, generator=_generator(seed)).numpy()
    return _build_result(cand, order, k, edge_index.device
                         if torch.is_tensor(edge_index) else None)


def _laplacian(n: int, a: np.ndarray, b: np.ndarray):  # noqa: ANN202
    import scipy.sparse as sp
    w = np.ones(a.shape[0])
    adj = sp.coo_matrix((np.concatenate([w, w]),
                         (np.concatenate([a, b]), np.concatenate([b, a]))),
                        shape=(n, n)).tocsr()
    deg = np.asarray(adj.sum(axis=1)).reshape(-1)
    return sp.diags(deg) - adj, deg


def _exact_resistance(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import scipy.linalg as la
    from scipy.sparse.csgraph import connected_components
    lap, _ = _laplacian(n, a, b)
    ncomp, label = connected_components(lap, directed=False)
    out = np.zeros(a.shape[0])
    comp_of_edge = label[a]
    lap = lap.tocsr()
    for c in np.unique(comp_of_edge):
        nodes = np.flatnonzero(label == c)
        local = np.full(n, -1, dtype=np.int64)
        local[nodes] = np.arange(nodes.shape[0])
        # ground the first vertex: the reduced Laplacian is positive definite
        sub = lap[nodes[1:]][:, nodes[1:]].toarray()
        inv = np.zeros((nodes.shape[0], nodes.shape[0]))
        if sub.shape[0]:
            inv[1:, 1:] = la.cho_solve(la.cho_factor(sub),
                                       np.eye(sub.shape[0]))
        sel = np.flatnonzero(comp_of_edge == c)
        u, v = local[a[sel]], local[b[sel]]
        out[sel] = inv[u, u] + inv[v, v] - 2 * inv[u, v]
    return np.maximum(out, 0.0)


def _approx_resistance(n: int, a: np.ndarray, b: np.ndarray, jl_dim: int,
                       tol: float, seed: int | None,
                       max_iter: int = 2000) -> np.ndarray:
    """Spielman-Srivastava: JL projection of ``W^1/2 B L^+`` with block
    Jacobi-preconditioned conjugate gradients (one column per projection)."""
    lap, deg = _laplacian(n, a, b)
    rng = np.random.default_rng(seed)
    m = a.shape[0]
    q = rng.choice([-1.0, 1.0], size=(m, jl_dim)) / np.sqrt(jl_dim)
    rhs = np.zeros((n, jl_dim))
    np.add.at(rhs, a, q)
    np.add.at(rhs, b, -q)
    inv_d = np.where(deg > 0, 1.0 / np.maximum(deg, 1e-12), 0.0)[:, None]
    x = np.zeros_like(rhs)
    r = rhs.copy()
    z = inv_d * r
    p = z.copy()
    rz = (r * z).sum(0)
    norm0 = np.linalg.norm(rhs, axis=0) + 1e-30
    for _ in range(max_iter):
        ap = lap @ p
        pap = (p * ap).sum(0)
        alpha = np.where(pap > 0, rz / np.where(pap > 0, pap, 1.0), 0.0)
        x += alpha * p
        r -= alpha * ap
        if (np.linalg.norm(r, axis=0) / norm0).max() < tol:
            break
        z = inv_d * r
        rz_new = (r * z).sum(0)
        beta = np.where(rz > 0, rz_new / np.where(rz > 0, rz, 1.0), 0.0)
        p = z + beta * p
        rz = rz_new
    diff = x[a] - x[b]
    return (diff * diff).sum(1)


def effective_resistance(edge_index: Tensor, num_nodes: int | None = None,
                         method: str = 'auto', jl_dim: int = 64,
                         tol: float = 1e-6,
                         seed: int | None = None) -> Tensor:
    r"""Effective resistance of every edge of an undirected graph (unit
    weights), per column of ``edge_index`` (0 for self loops).

    Args:
        edge_index (torch.Tensor): undirected edges ``[2, E]``.
        num_nodes (int, optional): number of vertices.
        method (str): ``'exact'`` (grounded dense Cholesky per connected
            component), ``'approx'`` (Spielman-Srivastava random projection
            with ``jl_dim`` conjugate-gradient solves) or ``'auto'`` (exact
            when every component has at most
            :obj:`EXACT_MAX_NODES` vertices). (default: ``'auto'``)
        jl_dim (int): projections for ``'approx'``. (default: :obj:`64`)
        tol (float): relative residual for the CG solves.
        seed (int, optional): seed of the projections.

    Raises:
        ValueError: on a bad ``edge_index`` (or a directed one),
            ``num_nodes``, ``method``, ``jl_dim`` or ``tol``.
        TypeError: on arguments of the wrong type.
    """
    check_choice(method, 'method', METHODS)
    jl_dim = check_positive_int(jl_dim, 'jl_dim')
    tol = check_real(tol, 'tol', low=0.0, low_open=True)
    seed = _check_seed(seed)
    ei = _as_numpy_edge_index(edge_index)
    n = _num_nodes(ei, num_nodes)
    cand = _candidates(ei, n, undirected=True)
    if method == 'auto':
        from scipy.sparse.csgraph import connected_components
        lap, _ = _laplacian(n, cand.a, cand.b)
        _, label = connected_components(lap, directed=False)
        biggest = np.bincount(label).max() if n else 0
        method = 'exact' if biggest <= EXACT_MAX_NODES else 'approx'
    if method == 'exact':
        res = _exact_resistance(n, cand.a, cand.b)
    else:
        res = _approx_resistance(n, cand.a, cand.b, jl_dim, tol, seed)
    out = np.zeros(ei.shape[1])
    has = cand.column_to_cand >= 0
    out[has] = res[cand.column_to_cand[has]]
    return torch.from_numpy(out)


def effective_resistance_order(edge_index: Tensor,
                               num_remove: int | None = None,
                               ratio: float | None = None,
                               num_nodes: int | None = None,
                               sample: bool = True,
                               method: str = 'auto', jl_dim: int = 64,
                               seed: int | None = None) -> WISResult:
    r"""Removal order of spectral sparsification by effective resistance.

    With ``sample=True`` (as the WIS paper's baseline) edges are drawn without
    replacement with probability :math:`\propto R_e` (exponential keys
    :math:`E_e / R_e`, smallest first, which is the same distribution); the
    draw order is the keep order and edges are removed from its end. With
    ``sample=False`` the edges with the smallest resistance go first.
    Undirected graphs only.

    Raises:
        ValueError: on a bad ``edge_index`` (or a directed one),
            ``num_nodes``, budget, ``method`` or ``jl_dim``.
        TypeError: on arguments of the wrong type.
    """
    if method not in METHODS:
        raise ValueError(f'unknown method {method!r}: method must be one of '
                         f'{METHODS}')
    sample = _check_bool(sample, 'sample')
    jl_dim = check_positive_int(jl_dim, 'jl_dim')
    seed = _check_seed(seed)
    ei = _as_numpy_edge_index(edge_index)
    n = _num_nodes(ei, num_nodes)
    cand = _candidates(ei, n, undirected=True)
    m = cand.a.shape[0]
    k = _resolve_num_remove(num_remove, ratio, m)
    res_cols = effective_resistance(torch.from_numpy(ei), n, method, jl_dim,
                                    seed=seed).numpy()
    res = res_cols[cand.pos]
    if sample:
        g = _generator(seed)
        expo = torch.empty(m, dtype=torch.float64).exponential_(
            generator=g).numpy()
        with np.errstate(divide='ignore'):
            keys = np.where(res > 0, expo / np.maximum(res, 1e-300), np.inf)
        keep_order = np.argsort(keys, kind='stable')
        order = keep_order[::-1].copy()
    else:
        order = np.argsort(res, kind='stable')
    return _build_result(cand, order.astype(np.int64), k, edge_index.device
                         if torch.is_tensor(edge_index) else None)
