"""Instance generators (seeded, reproducible) and a Gset reader.

Graphs come out in the PyG convention used by every problem here: a
symmetric, coalesced ``edge_index`` without self-loops and ``num_nodes``
set; 3-SAT instances as ``clause_index [3, C]`` / ``clause_sign [C, 3]``
(see :mod:`pyg_ext.combopt.max3sat`).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce

from pyg_ext.utils.validation import (
    check_choice,
    check_int,
    check_probability,
    check_real,
)


def _from_pairs(u: np.ndarray, v: np.ndarray, n: int,
                w: np.ndarray | None = None) -> Data:
    u = torch.as_tensor(np.asarray(u), dtype=torch.long)
    v = torch.as_tensor(np.asarray(v), dtype=torch.long)
    keep = u != v
    u, v = u[keep], v[keep]
    ei = torch.stack([torch.cat([u, v]), torch.cat([v, u])])
    if w is None:
        ei = coalesce(ei, num_nodes=n)
        return Data(edge_index=ei, num_nodes=n)
    wt = torch.as_tensor(np.asarray(w), dtype=torch.float)[keep]
    ei, wt = coalesce(ei, torch.cat([wt, wt]), num_nodes=n, reduce='max')
    return Data(edge_index=ei, edge_weight=wt, num_nodes=n)


def _check_seed(seed: int) -> int:
    """``seed`` as an ``int >= 0`` (what numpy and networkx accept)."""
    return check_int(seed, 'seed', low=0)


def _nx_to_data(g) -> Data:
    edges = np.array(list(g.edges()), dtype=np.int64).reshape(-1, 2)
    return _from_pairs(edges[:, 0], edges[:, 1], g.number_of_nodes())


def erdos_renyi(n: int, p: float, seed: int = 0) -> Data:
    """G(n, p) (each pair independently with probability ``p``).

    Raises:
        TypeError, ValueError: ``n < 0``, ``p`` outside ``[0, 1]`` or
            ``seed`` not an int ``>= 0``.
    """
    n = check_int(n, 'n', low=0)
    p = check_probability(p, 'p')
    seed = _check_seed(seed)
    rng = np.random.default_rng(seed)
    iu, ju = np.triu_indices(n, 1)
    keep = rng.random(len(iu)) < p
    return _from_pairs(iu[keep], ju[keep], n)


def barabasi_albert(n: int, m: int = 4, seed: int = 0) -> Data:
    """Barabasi-Albert preferential attachment (networkx).

    Raises:
        TypeError, ValueError: unless ``1 <= m < n``; ``seed`` not an int
            ``>= 0``.
    """
    n = check_int(n, 'n', low=2)
    m = check_int(m, 'm', low=1, high=n - 1)
    seed = _check_seed(seed)
    import networkx as nx
    return _nx_to_data(nx.barabasi_albert_graph(n, m, seed=seed))


def random_regular(n: int, d: int = 3, seed: int = 0) -> Data:
    """Uniform random ``d``-regular graph (networkx). ``n = 0`` gives the
    empty graph (as :func:`erdos_renyi` does).

    Raises:
        TypeError, ValueError: unless ``0 <= d < n`` (or ``n = d = 0``) and
            ``n * d`` is even; ``seed`` not an int ``>= 0``.
    """
    n = check_int(n, 'n', low=0)
    d = check_int(d, 'd', low=0, high=max(n - 1, 0))
    if (n * d) % 2:
        raise ValueError(f'd: n * d must be even, got n={n}, d={d}')
    seed = _check_seed(seed)
    if n == 0:
        return Data(edge_index=torch.zeros(2, 0, dtype=torch.long),
                    num_nodes=0)
    import networkx as nx
    return _nx_to_data(nx.random_regular_graph(d, n, seed=seed))


def watts_strogatz(n: int, k: int = 4, p: float = 0.25, seed: int = 0
                   ) -> Data:
    """Watts-Strogatz small world (networkx): a ring where each node is
    joined to its ``k`` nearest neighbours (``k / 2`` on each side), each
    edge rewired with probability ``p``.

    Raises:
        TypeError, ValueError: ``k`` odd or outside ``[0, n)`` (networkx
            would silently use ``k - 1``), ``p`` outside ``[0, 1]``,
            ``seed`` not an int ``>= 0``.
    """
    n = check_int(n, 'n', low=1)
    k = check_int(k, 'k', low=0, high=n - 1)
    if k % 2:
        raise ValueError(f'k must be even (k / 2 neighbours on each side of '
                         f'the ring), got {k}')
    p = check_probability(p, 'p')
    seed = _check_seed(seed)
    import networkx as nx
    return _nx_to_data(nx.watts_strogatz_graph(n, k, p, seed=seed))


def random_3sat(n: int, ratio: float = 4.2, seed: int = 0,
                num_clauses: int | None = None) -> Data:
    """Uniform random 3-SAT: ``round(ratio * n)`` clauses over ``n``
    variables, three distinct variables per clause, each negated with
    probability 1/2.

    Raises:
        TypeError, ValueError: ``n < 3`` (three distinct variables per
            clause), ``ratio < 0``, ``num_clauses < 0`` or ``seed`` not an
            int ``>= 0``.
    """
    n = check_int(n, 'n', low=3)
    ratio = check_real(ratio, 'ratio', low=0.0)
    if num_clauses is not None:
        num_clauses = check_int(num_clauses, 'num_clauses', low=0)
    seed = _check_seed(seed)
    rng = np.random.default_rng(seed)
    C = int(round(ratio * n)) if num_clauses is None else num_clauses
    idx = np.argsort(rng.random((C, n)), axis=1)[:, :3]
    sign = rng.integers(0, 2, (C, 3)) * 2 - 1
    return Data(clause_index=torch.as_tensor(idx.T.copy(), dtype=torch.long),
                clause_sign=torch.as_tensor(sign, dtype=torch.float),
                num_nodes=n)


def make_graph(kind: str, n: int, seed: int = 0, **kwargs) -> Data:
    """``kind`` in ``'er'`` (``p``), ``'ba'`` (``m``), ``'regular'``
    (``d``), ``'ws'`` (``k``, ``p``)."""
    fns = {'er': erdos_renyi, 'ba': barabasi_albert,
           'regular': random_regular, 'ws': watts_strogatz}
    check_choice(kind, 'kind', tuple(sorted(fns)))
    defaults = {'er': {'p': 0.15}, 'ba': {'m': 4}, 'regular': {'d': 3},
                'ws': {'k': 4, 'p': 0.25}}[kind]
    defaults.update(kwargs)
    return fns[kind](n, seed=seed, **defaults)


def read_gset(path: str | os.PathLike[str]) -> Data:
    """Read a Gset file (first line ``n m``, then ``m`` lines ``i j w`` with
    1-based node ids ``1..n``; blank lines are skipped) into a weighted graph
    (weights ±1 are kept; real weights are accepted). A file with ``m = 0``
    is the edgeless graph on ``n`` nodes.

    Raises:
        ValueError: a malformed header or edge line, an edge count other
            than ``m``, a node id outside ``1..n`` (the message gives the
            line; 0-based files are refused) or a non-finite weight.
    """
    with open(path) as f:
        head = f.readline().split()
        try:
            n, m = int(head[0]), int(head[1])
        except (IndexError, ValueError):
            raise ValueError(f'read_gset: {path} line 1 must be "n m" (node '
                             f'and edge counts), got {" ".join(head)!r}'
                             ) from None
        if n < 0 or m < 0:
            raise ValueError(f'read_gset: {path} line 1: n and m must be >= '
                             f'0, got n={n}, m={m}')
        ids: list[tuple[int, int]] = []
        wts: list[float] = []
        lines: list[int] = []
        for lineno, line in enumerate(f, start=2):
            tok = line.split()
            if not tok:
                continue
            try:
                if len(tok) != 3:
                    raise ValueError
                ids.append((int(tok[0]), int(tok[1])))
                wts.append(float(tok[2]))
            except ValueError:
                raise ValueError(f'read_gset: {path} line {lineno} must be '
                                 f'"i j w" (integer ids, a weight), got '
                                 f'{line.strip()!r}') from None
            lines.append(lineno)
    if len(ids) != m:
        raise ValueError(f'read_gset: {path} announces {m} edges, has '
                         f'{len(ids)}')
    arr = np.array(ids, dtype=np.int64).reshape(-1, 2)
    w = np.array(wts, dtype=np.float64)
    bad = np.nonzero((arr < 1).any(1) | (arr > n).any(1))[0]
    if len(bad):
        i = int(bad[0])
        node = int(arr[i][(arr[i] < 1) | (arr[i] > n)][0])
        hint = ' (node ids are 1-based)' if node == 0 else ''
        raise ValueError(f'read_gset: {path} line {lines[i]}: node id {node} '
                         f'outside 1..{n}{hint}')
    if not np.isfinite(w).all():
        i = int(np.nonzero(~np.isfinite(w))[0][0])
        raise ValueError(f'read_gset: {path} line {lines[i]}: weight must '
                         f'be finite, got {w[i]}')
    return _from_pairs(arr[:, 0] - 1, arr[:, 1] - 1, n, w)


__all__ = [
    'barabasi_albert',
    'erdos_renyi',
    'make_graph',
    'random_3sat',
    'random_regular',
    'read_gset',
    'watts_strogatz',
]
