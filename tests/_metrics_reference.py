"""Slow, obviously correct reference implementations of the graph metrics,
written straight from the papers' definitions (recursion over computation
trees, every transport problem solved with POT's ``ot.emd2``). The fast
paths in :mod:`pyg_ext.metrics` are tested against these.

Only memoisation of a recursive call on ``(node, node, depth)`` is used (the
same call always returns the same value); nothing else is shared between
sub-problems.
"""

from __future__ import annotations

import functools

import numpy as np
import ot


def _graph(g, flow='source_to_target'):
    x = g.x.detach().cpu().numpy().astype(np.float64)
    ei = g.edge_index.detach().cpu().numpy()
    children = [[] for _ in range(x.shape[0])]
    if flow == 'source_to_target':
        pairs = zip(ei[1], ei[0])
    else:
        pairs = zip(ei[0], ei[1])
    for parent, child in pairs:
        children[int(parent)].append(int(child))
    return x, children


def _pad(items, n):
    return list(items) + [None] * (n - len(items))


def reference_tmd(g1, g2, depth, weights, flow='source_to_target', p=2.0):
    """TMD of Chuang & Jegelka (NeurIPS 2022), Definitions 3-4: tree distance
    = root feature distance + w * OT between child multisets padded with
    blank (zero-feature, childless) trees; graph distance = OT between the
    graphs' depth-L trees, padded with blank trees. Unit masses."""
    if np.ndim(weights) == 0:
        w = [float(weights)] * (depth - 1)
    else:
        w = [float(v) for v in weights]
    x1, ch1 = _graph(g1, flow)
    x2, ch2 = _graph(g2, flow)
    zero = np.zeros(x1.shape[1])

    @functools.cache
    def td(v, u, level):
        xa = x1[v] if v is not None else zero
        xb = x2[u] if u is not None else zero
        root = float(np.linalg.norm(xa - xb, ord=p))
        if level == 1:
            return root
        a = ch1[v] if v is not None else []
        b = ch2[u] if u is not None else []
        n = max(len(a), len(b))
        if n == 0:
            return root
        a, b = _pad(a, n), _pad(b, n)
        M = np.array([[td(i, j, level - 1) for j in b] for i in a])
        return root + w[level - 2] * float(ot.emd2(np.ones(n), np.ones(n), M))

    n = max(x1.shape[0], x2.shape[0])
    if n == 0:
        return 0.0
    a = _pad(range(x1.shape[0]), n)
    b = _pad(range(x2.shape[0]), n)
    M = np.array([[td(i, j, depth) for j in b] for i in a])
    return float(ot.emd2(np.ones(n), np.ones(n), M, numItermax=10_000_000))


def reference_didm(g1, g2, depth, flow='source_to_target', p=2.0,
                   unmatched='blank', aggregation='normalized_sum'):
    """DIDM mover's distance (Rauchwerger, Jegelka & Levie, ICLR 2025) as
    implemented in :func:`pyg_ext.metrics.didm_movers_distance` (see its
    docstring for the equations and the stated assumption on unbalanced
    OT): node mass 1/n, neighbour measures of mass deg/n,
    d^{t+1} = d^t + OT_{d^t}(nu, nu'), unmatched mass sent to the blank IDM
    (or a point at constant distance c, the inner OT's ground distance then
    capped at 2c), graph level balanced OT."""
    x1, ch1 = _graph(g1, flow)
    x2, ch2 = _graph(g2, flow)
    n1, n2 = x1.shape[0], x2.shape[0]
    zero = np.zeros(x1.shape[1])
    # node ids: ('a', v), ('b', u) or None (blank IDM of every order)
    xs = {'a': x1, 'b': x2}
    chs = {'a': ch1, 'b': ch2}
    ns = {'a': n1, 'b': n2}

    def mass(s):
        # per-neighbour mass: 1/n (normalised sum) or 1/deg(v) (mean)
        if s is None:
            return 0.0
        if aggregation == 'mean':
            return 1.0 / max(len(chs[s[0]][s[1]]), 1)
        return 1.0 / ns[s[0]]

    @functools.cache
    def d(s, t, level):
        # distance between order-`level` IDMs of nodes s and t
        xa = xs[s[0]][s[1]] if s is not None else zero
        xb = xs[t[0]][t[1]] if t is not None else zero
        if level == 0:
            return float(np.linalg.norm(xa - xb, ord=p))
        prev = d(s, t, level - 1)
        a = [(s[0], c) for c in chs[s[0]][s[1]]] if s is not None else []
        b = [(t[0], c) for c in chs[t[0]][t[1]]] if t is not None else []
        ma = mass(s)
        mb = mass(t)
        return prev + uot(a, ma, b, mb, level - 1)

    def uot(a, ma, b, mb, level):
        mass_a, mass_b = len(a) * ma, len(b) * mb
        wa = [ma] * len(a)
        wb = [mb] * len(b)
        pa, pb = list(a), list(b)
        if mass_a < mass_b:
            pa.append(None)
            wa.append(mass_b - mass_a)
        elif mass_b < mass_a:
            pb.append(None)
            wb.append(mass_a - mass_b)
        if not pa or not pb:
            return 0.0

        def cost(i, j):
            if i is None and j is None:
                return 0.0
            if unmatched != 'blank' and (i is None or j is None):
                return float(unmatched)
            if unmatched != 'blank':  # ground distance capped at 2c
                return min(d(i, j, level), 2 * float(unmatched))
            return d(i, j, level)

        M = np.array([[cost(i, j) for j in pb] for i in pa])
        return float(ot.emd2(np.array(wa), np.array(wb), M,
                             numItermax=10_000_000))

    a = [('a', v) for v in range(n1)]
    b = [('b', u) for u in range(n2)]
    M = np.array([[d(i, j, depth) for j in b] for i in a])
    return float(ot.emd2(np.full(n1, 1.0 / n1), np.full(n2, 1.0 / n2), M,
                         numItermax=10_000_000))
