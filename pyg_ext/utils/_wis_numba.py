"""Numba kernel for 1-WIS (imported lazily by :mod:`pyg_ext.utils.walk_index`).

A binary min-heap on ``(key, candidate)`` with lazy re-insertion: degrees only
decrease, so a popped entry whose key is out of date is pushed back with its
current key, and a popped entry that is up to date is the next removal. The
caller builds the initial heap (sorted keys, numpy) so that the kernel needs
no compiled sort (which tripled its compile time).
"""

from __future__ import annotations

import numpy as np

from pyg_ext.utils._numba_setup import njit

__all__ = ['one_wis_kernel']


@njit(cache=True, nogil=True)
def _less(p1: int, c1: int, p2: int, c2: int) -> bool:
    return p1 < p2 or (p1 == p2 and c1 < c2)


@njit(cache=True, nogil=True)
def one_wis_kernel(a, b, deg, undirected, k, hp, hc,
                   big):  # pragma: no cover
    """The first ``k`` removals. ``hp``/``hc``: the heap (keys
    ``-min(d_u, d_v) * big - max(d_u, d_v)`` sorted ascending, ties by
    candidate), overwritten; ``deg`` is not modified."""
    m = hp.shape[0]
    deg = deg.copy()
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



def warmup() -> None:
    """Compile (or load from the cache) the kernel for the argument types
    :mod:`pyg_ext.utils.walk_index` passes (background thread, see
    :func:`pyg_ext.utils._numba_setup.kernels_if_ready`)."""
    a = np.array([0, 1], dtype=np.int64)
    b = np.array([1, 2], dtype=np.int64)
    deg = np.array([1, 2, 1], dtype=np.int64)
    hp = np.array([-4, -4], dtype=np.int64)
    hc = np.array([0, 1], dtype=np.int64)
    one_wis_kernel(a, b, deg, True, 2, hp, hc, 3)
