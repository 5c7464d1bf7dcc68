"""Optional numba kernels for the graph metrics (imported only when numba is
installed; see :func:`pyg_ext.metrics._ot.numba_kernels`).

Exact: assignment problems by enumeration, subset DP or a rectangular
Hungarian algorithm (potentials in float64, the returned value re-summed from
the optimal assignment), run in parallel over independent problems with
``prange``; the TMD kernels are described in the section comment below.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def transport_int(supply, demand, cost):  # pragma: no cover - compiled
    """Exact min-cost transport with integer ``supply`` (rows) and
    ``demand`` (columns) of equal totals, by successive shortest paths with
    potentials (dense Dijkstra; uncapacitated forward arcs, backward arcs
    bounded by the current flow). Returns the optimal cost."""
    r = supply.shape[0]
    q = demand.shape[0]
    V = r + q
    s = supply.copy()
    d = demand.copy()
    flow = np.zeros((r, q), np.int64)
    pot = np.zeros(V)
    dist = np.empty(V)
    prev = np.empty(V, np.int64)
    done = np.empty(V, np.bool_)
    inf = np.inf
    # initial potentials: sinks at their cheapest incoming arc (feasible)
    for j in range(q):
        m = inf
        for i in range(r):
            if cost[i, j] < m:
                m = cost[i, j]
        pot[r + j] = m
    remaining = 0
    for i in range(r):
        remaining += s[i]
    while remaining > 0:
        for v in range(V):
            dist[v] = inf
            prev[v] = -1
            done[v] = False
        for i in range(r):
            if s[i] > 0:
                dist[i] = 0.0
        target = -1
        while True:
            # pick the closest unfinished node
            u = -1
            best = inf
            for v in range(V):
                if not done[v] and dist[v] < best:
                    best = dist[v]
                    u = v
            if u == -1:
                break
            done[u] = True
            if u >= r and d[u - r] > 0:
                target = u
                break
            if u < r:
                for j in range(q):
                    v = r + j
                    if not done[v]:
                        nd = dist[u] + cost[u, j] + pot[u] - pot[v]
                        if nd < dist[v]:
                            dist[v] = nd
                            prev[v] = u
            else:
                j = u - r
                for i in range(r):
                    if flow[i, j] > 0 and not done[i]:
                        nd = dist[u] - cost[i, j] + pot[u] - pot[i]
                        if nd < dist[i]:
                            dist[i] = nd
                            prev[i] = u
        if target == -1:  # cannot happen for balanced problems
            break
        dt = dist[target]
        for v in range(V):
            if done[v]:
                pot[v] += dist[v] - dt
        # bottleneck
        amt = d[target - r]
        v = target
        while prev[v] != -1:
            u = prev[v]
            if u >= r:  # backward arc sink u -> source v
                if flow[v, u - r] < amt:
                    amt = flow[v, u - r]
            v = u
        if s[v] < amt:
            amt = s[v]
        # augment
        s[v] -= amt
        d[target - r] -= amt
        remaining -= amt
        v = target
        while prev[v] != -1:
            u = prev[v]
            if u < r:
                flow[u, v - r] += amt
            else:
                flow[v, u - r] -= amt
            v = u
    total = 0.0
    for i in range(r):
        for j in range(q):
            if flow[i, j] > 0:
                total += flow[i, j] * cost[i, j]
    return total


@njit(parallel=True, cache=True)
def uot_pairs(E, rch, rdeg, rn, cch, cdeg, cn, brow, bcol, const, pi, pj,
              out):  # pragma: no cover
    """Unbalanced OT between neighbour measures ``(1/rn[i]) sum delta_rch``
    and ``(1/cn[j]) sum delta_cch`` (children as positions into ``E``); the
    surplus mass goes to a dummy at cost ``brow``/``bcol`` of the child
    (``const < 0``) or at constant cost ``const``."""
    for t in prange(pi.shape[0]):
        i = pi[t]
        j = pj[t]
        ka = rdeg[i]
        kb = cdeg[j]
        na = rn[i]
        nb = cn[j]
        ma = ka * nb  # masses scaled by na * nb
        mb = kb * na
        ra = ka + (1 if ma < mb else 0)
        qb = kb + (1 if mb < ma else 0)
        if ra == 0 or qb == 0:
            out[t] = 0.0
            continue
        sup = np.empty(ra, np.int64)
        dem = np.empty(qb, np.int64)
        C = np.zeros((ra, qb))
        for a in range(ka):
            sup[a] = nb
        if ra > ka:
            sup[ka] = mb - ma
        for b in range(kb):
            dem[b] = na
        if qb > kb:
            dem[kb] = ma - mb
        for a in range(ra):
            for b in range(qb):
                if a < ka and b < kb:
                    C[a, b] = E[rch[i, a], cch[j, b]]
                elif a < ka:
                    C[a, b] = brow[rch[i, a]] if const < 0 else const
                elif b < kb:
                    C[a, b] = bcol[cch[j, b]] if const < 0 else const
        out[t] = transport_int(sup, dem, C) / (na * nb)


@njit(parallel=True, cache=True)
def hist_pairs(E, rptr, ridx, rcnt, cptr, cidx, ccnt, rn, cn, pi, pj,
               out):  # pragma: no cover
    """Balanced OT between colour histograms (row graph ``pi[t]`` with node
    mass ``1/rn``, column graph ``pj[t]`` with ``1/cn``)."""
    for t in prange(pi.shape[0]):
        g = pi[t]
        h = pj[t]
        ug = rptr[g + 1] - rptr[g]
        uh = cptr[h + 1] - cptr[h]
        sup = np.empty(ug, np.int64)
        dem = np.empty(uh, np.int64)
        C = np.empty((ug, uh))
        for a in range(ug):
            sup[a] = rcnt[rptr[g] + a] * cn[h]
            for b in range(uh):
                C[a, b] = E[ridx[rptr[g] + a], cidx[cptr[h] + b]]
        for b in range(uh):
            dem[b] = ccnt[cptr[h] + b] * rn[g]
        out[t] = transport_int(sup, dem, C) / (rn[g] * cn[h])


# --- padded (blank-tree) assignments without padding ------------------------
#
# An assignment between ``nr`` row trees and ``nc`` column trees where the
# smaller side is padded with blank trees equals
#     sum_j bcol[j] + min over injective row -> column maps of
#                     sum_i (C[i, f(i)] - bcol[f(i)])            (nr <= nc)
# (and the transpose for nr > nc): a rectangular problem of size
# min(nr, nc) x max(nr, nc) instead of a square max x max one. A graph with
# 620 nodes against one with 40 costs 40^2 * 620 instead of 620^3.
#
# Identical trees on both sides cancel first: the tree distance of every
# level is a pseudometric on trees and the blank tree (Chuang & Jegelka,
# Theorem 1 and its proof by induction over the levels), and optimal
# transport with unit masses under a metric ground cost does not change when
# the same point is added to (or removed from) both sides (Kantorovich-
# Rubinstein). So only the children (or nodes) whose colour the other side
# lacks enter the assignment: exact, and most problems of the lower levels
# shrink to a handful of rows.

@njit(cache=True, nogil=True)
def rect_hungarian(C, n, m, u, v, p, way, minv, used):  # pragma: no cover
    """Min-cost assignment of the ``n`` rows of ``C[:n, :m]`` to distinct
    columns (``n <= m``): shortest augmenting paths with potentials
    (Kuhn-Munkres, O(n^2 m)); among equally short paths a free column is
    taken first, which matters with the many ties of discrete features.
    Work arrays have length ``>= m + 1``."""
    inf = np.inf
    for j in range(m + 1):
        v[j] = 0.0
        p[j] = 0
        way[j] = 0
    for i in range(n + 1):
        u[i] = 0.0
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        for j in range(m + 1):
            minv[j] = inf
            used[j] = False
        while True:
            used[j0] = True
            i0 = p[j0]
            ui = u[i0]
            delta = inf
            j1 = 0
            for j in range(1, m + 1):
                if not used[j]:
                    cur = C[i0 - 1, j - 1] - ui - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    mj = minv[j]
                    if mj < delta or (mj == delta and p[j] == 0):
                        delta = mj
                        j1 = j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    cost = 0.0
    for j in range(1, m + 1):
        if p[j] != 0:
            cost += C[p[j] - 1, j - 1]
    return cost


#: largest side solved by the subset dynamic programme in :func:`rect_min`
RECT_DP_MAX = 5


@njit(cache=True, nogil=True)
def rect_dp(C, n, m, dp):  # pragma: no cover - compiled
    """Same value as :func:`rect_hungarian` by a DP over the subsets of
    columns used by the first ``popcount`` rows (``m <= RECT_DP_MAX``);
    ``dp`` has length ``>= 2^m``."""
    inf = np.inf
    full = 1 << m
    for s in range(full):
        dp[s] = inf
    dp[0] = 0.0
    best = inf
    for s in range(full):
        base = dp[s]
        if base == inf:
            continue
        r = 0
        t = s
        while t:
            t &= t - 1
            r += 1
        if r == n:
            if base < best:
                best = base
            continue
        for j in range(m):
            bit = 1 << j
            if s & bit:
                continue
            val = base + C[r, j]
            if val < dp[s | bit]:
                dp[s | bit] = val
    return best


@njit(cache=True, nogil=True)
def _shift_rows(C, n, m):  # pragma: no cover - compiled
    """Subtract each row's minimum (returned summed): non-negative costs
    for the pruned enumerations."""
    sh = 0.0
    for r in range(n):
        mn = C[r, 0]
        for j in range(1, m):
            if C[r, j] < mn:
                mn = C[r, j]
        for j in range(m):
            C[r, j] -= mn
        sh += mn
    return sh


@njit(cache=True, nogil=True)
def _enum2(C, m):  # pragma: no cover - compiled
    best = np.inf
    for a in range(m):
        ca = C[0, a]
        for b in range(m):
            if b != a:
                val = ca + C[1, b]
                if val < best:
                    best = val
    return best


@njit(cache=True, nogil=True)
def _enum3(C, m):  # pragma: no cover - compiled
    """Three rows, non-negative costs: enumeration pruned by the best so
    far."""
    best = np.inf
    for a in range(m):
        ca = C[0, a]
        if ca >= best:
            continue
        for b in range(m):
            if b == a:
                continue
            cb = ca + C[1, b]
            if cb >= best:
                continue
            for c in range(m):
                if c != a and c != b:
                    val = cb + C[2, c]
                    if val < best:
                        best = val
    return best


@njit(cache=True, nogil=True)
def rect_min(C, n, m, u, v, p, way, minv, used, dp):  # pragma: no cover
    """Min-cost assignment of the ``n <= m`` rows of ``C`` to distinct
    columns; small shapes by enumeration or subset DP, the rest by
    :func:`rect_hungarian`. ``C`` may be overwritten."""
    if n == 0:
        return 0.0
    if n == 1:
        best = C[0, 0]
        for j in range(1, m):
            if C[0, j] < best:
                best = C[0, j]
        return best
    if n == 2:
        return _enum2(C, m)
    if n == 3:
        sh = _shift_rows(C, 3, m)
        return sh + _enum3(C, m)
    if m <= RECT_DP_MAX:
        return rect_dp(C, n, m, dp)
    return rect_hungarian(C, n, m, u, v, p, way, minv, used)


@njit(cache=True, nogil=True, inline='always')
def children_ot(Eprev, rch, rchc, i, ka, cch, cchc, j, kb, blank_r, blank_c,
                W, ia, ib, u, v, p, way, minv, used,
                dp):  # pragma: no cover - compiled
    """Assignment between the child lists ``rch[i, :ka]`` (rows of
    ``Eprev``) and ``cch[j, :kb]`` (columns), the shorter padded with blank
    trees (``Eprev``'s row ``blank_r`` / column ``blank_c``).
    ``rchc``/``cchc`` are the children's colours, sorted ascending along
    each row: equal colours on both sides cancel first (see the section
    comment). ``ia``/``ib``: int work arrays of length ``>= max(ka, kb)``.
    Inlined into the kernels (passing row views costs more than the
    solve)."""
    # cancel common colours (merge of two sorted lists)
    na = 0
    nb = 0
    x = 0
    y = 0
    while x < ka and y < kb:
        if rchc[i, x] == cchc[j, y]:
            x += 1
            y += 1
        elif rchc[i, x] < cchc[j, y]:
            ia[na] = x
            na += 1
            x += 1
        else:
            ib[nb] = y
            nb += 1
            y += 1
    while x < ka:
        ia[na] = x
        na += 1
        x += 1
    while y < kb:
        ib[nb] = y
        nb += 1
        y += 1
    if na == 0 and nb == 0:
        return 0.0
    base = 0.0
    if na <= nb:
        for b in range(nb):
            base += Eprev[blank_r, cch[j, ib[b]]]
        if na == 0:
            return base
        for a in range(na):
            row = rch[i, ia[a]]
            for b in range(nb):
                col = cch[j, ib[b]]
                W[a, b] = Eprev[row, col] - Eprev[blank_r, col]
        return base + rect_min(W, na, nb, u, v, p, way, minv, used, dp)
    for a in range(na):
        base += Eprev[rch[i, ia[a]], blank_c]
    if nb == 0:
        return base
    for b in range(nb):
        col = cch[j, ib[b]]
        for a in range(na):
            row = rch[i, ia[a]]
            W[b, a] = Eprev[row, col] - Eprev[row, blank_c]
    return base + rect_min(W, nb, na, u, v, p, way, minv, used, dp)


@njit(parallel=True, cache=True)
def level_matrix(Eprev, E1, rroot, rch, rchc, rdeg, croot, cch, cchc, cdeg,
                 w, brow, bcol, symmetric, out):  # pragma: no cover
    """``out[i, j] = E1[rroot[i], croot[j]] + w * children_ot(i, j)`` for
    every row colour ``i`` and column colour ``j`` (children: positions
    ``rch`` into ``Eprev``, colours ``rchc``); ``out``'s last row / column
    are the blank distances ``bcol`` / ``brow``. With ``symmetric`` only
    ``j >= i`` is solved and mirrored (rows are paired first with last over
    the threads so that the triangle is balanced)."""
    R = rdeg.shape[0]
    Cn = cdeg.shape[0]
    blank_r = Eprev.shape[0] - 1
    blank_c = Eprev.shape[1] - 1
    K = 1
    for i in range(R):
        K = max(K, rdeg[i])
    for j in range(Cn):
        K = max(K, cdeg[j])
    half = (R + 1) // 2 if symmetric else R
    for h in prange(half):
        W = np.empty((K, K))
        ia = np.empty(K, np.int64)
        ib = np.empty(K, np.int64)
        u, v, minv, p, way, used, dp = _solver_work(K)
        nrep = 2 if symmetric else 1
        for rep in range(nrep):
            i = np.int64(h)
            if rep == 1:
                i = np.int64(R - 1) - np.int64(h)
                if i == h:
                    break
            j0 = i if symmetric else np.int64(0)
            for j in range(j0, Cn):
                val = E1[rroot[i], croot[j]] + w * children_ot(
                    Eprev, rch, rchc, i, rdeg[i], cch, cchc, j, cdeg[j],
                    blank_r, blank_c, W, ia, ib, u, v, p, way, minv, used,
                    dp)
                out[i, j] = val
                if symmetric:
                    out[j, i] = val
            out[i, Cn] = brow[i]
    for j in range(Cn):
        out[R, j] = bcol[j]
    out[R, Cn] = 0.0


@njit(cache=True, nogil=True)
def _cancel_counts(gcol, gcnt, glo, ghi, hcol, hcnt, hlo, hhi, gr,
                   hr):  # pragma: no cover - compiled
    """Remaining multiplicities ``gr``/``hr`` after cancelling the trees
    (colours, sorted) the two graphs share; returns their totals."""
    x = glo
    y = hlo
    while x < ghi and y < hhi:
        if gcol[x] == hcol[y]:
            c = min(gcnt[x], hcnt[y])
            gr[x - glo] = gcnt[x] - c
            hr[y - hlo] = hcnt[y] - c
            x += 1
            y += 1
        elif gcol[x] < hcol[y]:
            gr[x - glo] = gcnt[x]
            x += 1
        else:
            hr[y - hlo] = hcnt[y]
            y += 1
    while x < ghi:
        gr[x - glo] = gcnt[x]
        x += 1
    while y < hhi:
        hr[y - hlo] = hcnt[y]
        y += 1
    ng = 0
    for a in range(ghi - glo):
        ng += gr[a]
    nh = 0
    for b in range(hhi - hlo):
        nh += hr[b]
    return ng, nh


@njit(cache=True, nogil=True)
def _node_assignment(M, gr, hr, gblank, hblank, ng, nh, u, v, p, way, minv,
                     used, dp):  # pragma: no cover - compiled
    """Blank-padded assignment between the remaining trees of two graphs:
    ``gr[a]`` copies of distinct tree ``a`` (rows of ``M``) against
    ``hr[b]`` copies of ``b``; ``gblank``/``hblank``: distances to the blank
    tree."""
    dg = gr.shape[0]
    dh = hr.shape[0]
    base = 0.0
    if ng <= nh:
        C = np.empty((ng, nh))
        x = 0
        for a in range(dg):
            for _ in range(gr[a]):
                y = 0
                for b in range(dh):
                    val = M[a, b] - hblank[b]
                    for _ in range(hr[b]):
                        C[x, y] = val
                        y += 1
                x += 1
        for b in range(dh):
            base += hr[b] * hblank[b]
        return base + rect_min(C, ng, nh, u, v, p, way, minv, used, dp)
    C = np.empty((nh, ng))
    y = 0
    for b in range(dh):
        for _ in range(hr[b]):
            x = 0
            for a in range(dg):
                val = M[a, b] - gblank[a]
                for _ in range(gr[a]):
                    C[y, x] = val
                    x += 1
            y += 1
    for a in range(dg):
        base += gr[a] * gblank[a]
    return base + rect_min(C, nh, ng, u, v, p, way, minv, used, dp)


@njit(cache=True, nogil=True)
def _kept_entries(rem, lo):  # pragma: no cover - compiled
    """Entry indices (``lo`` + position) and multiplicities of the
    positive entries of ``rem``."""
    k = 0
    for a in range(rem.shape[0]):
        if rem[a] > 0:
            k += 1
    idx = np.empty(k, np.int64)
    cnt = np.empty(k, np.int64)
    x = 0
    for a in range(rem.shape[0]):
        if rem[a] > 0:
            idx[x] = lo + a
            cnt[x] = rem[a]
            x += 1
    return idx, cnt


@njit(cache=True, nogil=True)
def _remaining_trees(rdptr, rdcol, rdcnt, g, cdptr, cdcol, cdcnt,
                     h):  # pragma: no cover - compiled
    """The distinct top-level trees of row graph ``g`` and column graph ``h``
    with copies left after the shared ones cancel: their entry indices
    (into ``rdcol``/... and ``cdcol``/...), remaining multiplicities and
    the node totals ``ng``, ``nh``."""
    glo = rdptr[g]
    ghi = rdptr[g + 1]
    hlo = cdptr[h]
    hhi = cdptr[h + 1]
    gr = np.empty(ghi - glo, np.int64)
    hr = np.empty(hhi - hlo, np.int64)
    ng, nh = _cancel_counts(rdcol, rdcnt, glo, ghi, cdcol, cdcnt, hlo, hhi,
                            gr, hr)
    gi, grk = _kept_entries(gr, glo)
    hi, hrk = _kept_entries(hr, hlo)
    return gi, grk, hi, hrk, ng, nh


@njit(cache=True, nogil=True)
def _solver_work(K):  # pragma: no cover - compiled
    """Work arrays of :func:`rect_min` for problems with at most ``K`` rows
    or columns."""
    return (np.empty(K + 1), np.empty(K + 1), np.empty(K + 1),
            np.empty(K + 1, np.int64), np.empty(K + 1, np.int64),
            np.empty(K + 1, np.bool_), np.empty(1 << RECT_DP_MAX))


@njit(parallel=True, cache=True)
def memo_graph_pairs(E, rdptr, rdist, rdcol, rdcnt, cdptr, cdist, cdcol,
                     cdcnt, pi, pj, out):  # pragma: no cover - compiled
    """Graph-level TMD for the pairs ``(pi[t], pj[t])`` from the memoised
    top-level matrix ``E`` (last row / column: the blank tree).

    ``rdist[rdptr[g]:rdptr[g + 1]]`` are the distinct top-level trees of
    row graph ``g`` (positions in ``E``), ``rdcol`` their colours (sorted)
    and ``rdcnt`` their multiplicities; the same for the column graphs.
    Trees shared by the two graphs cancel, then the blank-padded node
    assignment."""
    blank_r = E.shape[0] - 1
    blank_c = E.shape[1] - 1
    for t in prange(pi.shape[0]):
        gi, grk, hi, hrk, ng, nh = _remaining_trees(
            rdptr, rdcol, rdcnt, pi[t], cdptr, cdcol, cdcnt, pj[t])
        ka = gi.shape[0]
        kb = hi.shape[0]
        M = np.empty((ka, kb))
        gbl = np.empty(ka)
        hbl = np.empty(kb)
        for a in range(ka):
            i = rdist[gi[a]]
            gbl[a] = E[i, blank_c]
            for b in range(kb):
                M[a, b] = E[i, cdist[hi[b]]]
        for b in range(kb):
            hbl[b] = E[blank_r, cdist[hi[b]]]
        u, v, minv, p, way, used, dp = _solver_work(max(ng, nh))
        out[t] = _node_assignment(M, grk, hrk, gbl, hbl, ng, nh, u, v, p,
                                  way, minv, used, dp)


@njit(parallel=True, cache=True)
def fused_local_pairs(Eprev, E1, w, rlptr, rlpos, rdptr, rdcol, rdcnt,
                      rroot, rch, rchc, rdeg, rblank, clptr, clpos, cdptr,
                      cdcol, cdcnt, croot, cch, cchc, cdeg, cblank, pi, pj,
                      out):  # pragma: no cover - compiled
    """Graph-level TMD for the pairs ``(pi[t], pj[t])`` with the top-level
    tree distances solved inside each pair from the level below, never
    stored for the whole collection. Each pair first copies the block of
    ``Eprev`` between the two graphs' distinct level-``L-1`` trees
    (``rlpos[rlptr[g]:rlptr[g + 1]]``, sorted by colour) into a small local
    matrix, so the many child problems read cache-hot memory instead of a
    matrix of gigabytes.

    Per distinct top-level tree ``e`` of a graph (``rdptr``/``rdcol``/
    ``rdcnt`` as in :func:`memo_graph_pairs`): feature row ``rroot[e]``,
    children as local indices ``rch[e, :rdeg[e]]`` into the graph's
    level-``L-1`` list, their colours ``rchc[e]`` (sorted) and the blank
    distance ``rblank[e]``. Trees shared by the two graphs cancel before
    any distance is solved."""
    blank_r = Eprev.shape[0] - 1
    blank_c = Eprev.shape[1] - 1
    K = 1
    for i in range(rdeg.shape[0]):
        K = max(K, rdeg[i])
    for j in range(cdeg.shape[0]):
        K = max(K, cdeg[j])
    for t in prange(pi.shape[0]):
        g = pi[t]
        h = pj[t]
        gi, grk, hi, hrk, ng, nh = _remaining_trees(
            rdptr, rdcol, rdcnt, g, cdptr, cdcol, cdcnt, h)
        ka = gi.shape[0]
        kb = hi.shape[0]
        # local block of the level below (last row / column: blank)
        nl = rlptr[g + 1] - rlptr[g]
        ml = clptr[h + 1] - clptr[h]
        S = np.empty((nl + 1, ml + 1))
        for x in range(nl):
            row = rlpos[rlptr[g] + x]
            for y in range(ml):
                S[x, y] = Eprev[row, clpos[clptr[h] + y]]
            S[x, ml] = Eprev[row, blank_c]
        for y in range(ml):
            S[nl, y] = Eprev[blank_r, clpos[clptr[h] + y]]
        S[nl, ml] = 0.0
        u, v, minv, p, way, used, dp = _solver_work(max(K, max(ng, nh)))
        W = np.empty((K, K))
        ia = np.empty(K, np.int64)
        ib = np.empty(K, np.int64)
        M = np.empty((ka, kb))
        gbl = np.empty(ka)
        hbl = np.empty(kb)
        for a in range(ka):
            i = gi[a]
            gbl[a] = rblank[i]
            for b in range(kb):
                j = hi[b]
                M[a, b] = E1[rroot[i], croot[j]] + w * children_ot(
                    S, rch, rchc, i, rdeg[i], cch, cchc, j, cdeg[j], nl, ml,
                    W, ia, ib, u, v, p, way, minv, used, dp)
        for b in range(kb):
            hbl[b] = cblank[hi[b]]
        out[t] = _node_assignment(M, grk, hrk, gbl, hbl, ng, nh, u, v, p,
                                  way, minv, used, dp)
