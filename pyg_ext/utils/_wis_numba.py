"""Numba kernel for 1-WIS (imported lazily by :mod:`pyg_ext.utils.walk_index`).

A binary min-heap on ``(key, candidate)`` with lazy re-insertion: degrees only
decrease, so a popped entry whose key is out of date is pushed back with its
current key, and a popped entry that is up to date is the next removal.
"""

from __future__ import annotations

import numpy as np

from pyg_ext.utils._numba_setup import njit

__all__ = ['one_wis_kernel']


@njit(cache=True, nogil=True)
def _less(p1: int, c1: int, p2: int, c2: int) -> bool:
    return p1 < p2 or (p1 == p2 and c1 < c2)


@njit(cache=True, nogil=True)
def one_wis_kernel(a, b, deg, undirected, k):  # pragma: no cover
    m = a.shape[0]
    deg = deg.copy()
    big = np.int64(deg.max() + 1) if deg.shape[0] > 0 else np.int64(1)
    hp = np.empty(m, dtype=np.int64)
    hc = np.empty(m, dtype=np.int64)
    for c in range(m):
        du = deg[a[c]]
        dv = deg[b[c]]
        lo = min(du, dv)
        hi = max(du, dv)
        hp[c] = -lo * big - hi
        hc[c] = c
    idx = np.argsort(hp, kind='mergesort')  # stable: ties by c
    hp = hp[idx]
    hc = hc[idx]
    size = m
    order = np.empty(k, dtype=np.int64)
    n_out = 0
    while n_out < k and size > 0:
        p = hp[0]
        c = hc[0]
        # pop
        size -= 1
        lp = hp[size]
        lc = hc[size]
        i = 0
        while True:
            j = 2 * i + 1
            if j >= size:
                break
            if j + 1 < size and _less(hp[j + 1], hc[j + 1], hp[j],
                                      hc[j]):
                j += 1
            if _less(hp[j], hc[j], lp, lc):
                hp[i] = hp[j]
                hc[i] = hc[j]
                i = j
            else:
                break
        if size > 0:
            hp[i] = lp
            hc[i] = lc
        du = deg[a[c]]
        dv = deg[b[c]]
        lo = min(du, dv)
        hi = max(du, dv)
        cur = -lo * big - hi
        if cur != p:
            # push back with the current (worse) key
            i = size
            size += 1
            while i > 0:
                par = (i - 1) // 2
                if _less(cur, c, hp[par], hc[par]):
                    hp[i] = hp[par]
                    hc[i] = hc[par]
                    i = par
                else:
                    break
            hp[i] = cur
            hc[i] = c
            continue
        order[n_out] = c
        n_out += 1
        deg[b[c]] -= 1
        if undirected:
            deg[a[c]] -= 1
    return order[:n_out]

