"""Optional numba kernels for the graph metrics (imported only when numba is
installed; see :func:`pyg_ext.metrics._ot.numba_kernels`).

Exact: assignment problems by closed forms (two rows), candidate
enumeration (three rows), enumeration, subset DP or a rectangular Hungarian
algorithm (potentials in float64, the returned value re-summed from the
optimal assignment), run in parallel over independent problems with
``prange``; the TMD kernels are described in the section comment below.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from pyg_ext.metrics._small_ot import SMALL_MAX, assign_small
from pyg_ext.utils._numba_setup import njit  # caches in the user cache dir


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
    (Kuhn-Munkres, O(n^2 m)), one Dijkstra search per row, with the
    potentials updated once per search (not after every step); among
    equally short paths a free column is taken first, which matters with
    the many ties of discrete features.

    Two things make it ~2x faster than the textbook loop on the TMD node
    assignments (PROTEINS pairs, 19 x 74 on average): a row reduction first
    (``u`` = row minima, ``v = 0``: every reduced cost stays >= 0, and each
    row whose cheapest column is free takes it, a third of the rows there),
    and a search step that is three branch-free passes over all ``m``
    columns (relax, minimum, first free column at the minimum) instead of
    one branchy pass over a list of the columns not reached; reached
    columns are masked by adding ``inf``. The value is re-summed from the
    optimal assignment. Work arrays: ``u`` (rows), ``v``, ``minv``,
    ``way`` of length ``>= m``, ``p`` of length ``>= 2 m + n``
    (:func:`_solver_work`); ``used`` is not needed any more (kept for the
    signature)."""
    inf = np.inf
    row4col = p[:m]
    col4row = p[m:m + n]
    shortest = minv
    path = way
    for j in range(m):
        v[j] = 0.0
        row4col[j] = -1
    for i in range(n):
        u[i] = 0.0
        col4row[i] = -1
    # row reduction: u = row minima (v = 0 keeps every reduced cost >= 0),
    # and each row whose cheapest column is still free takes it (a tight
    # edge); the searches below start only from the rows left
    for i in range(n):
        best = C[i, 0]
        bj = 0
        for j in range(1, m):
            if C[i, j] < best:
                best = C[i, j]
                bj = j
        u[i] = best
        if row4col[bj] == -1:
            row4col[bj] = i
            col4row[i] = bj
    reach = p[m + n:2 * m + n]
    sp = np.empty(m)
    off = np.empty(m)
    for cur in range(n):
        if col4row[cur] != -1:
            continue
        for j in range(m):
            sp[j] = inf
            off[j] = 0.0
        nreach = 0
        min_val = 0.0
        i = cur
        sink = -1
        while sink == -1:
            ui = u[i]
            for j in range(m):
                r = min_val + C[i, j] - ui - v[j] + off[j]
                old = sp[j]
                path[j] = i if r < old else path[j]
                sp[j] = min(old, r)
            lowest = inf
            for j in range(m):
                lowest = min(lowest, sp[j])
            if lowest == inf:  # pragma: no cover - only with infinite costs
                return inf
            index = -1
            for j in range(m):
                if sp[j] == lowest:
                    if row4col[j] == -1:
                        index = j
                        break
                    if index == -1:
                        index = j
            j = index
            min_val = lowest
            shortest[j] = lowest
            sp[j] = inf
            off[j] = inf
            reach[nreach] = j
            nreach += 1
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
        # potentials of the rows and columns this search reached
        u[cur] += min_val
        for it in range(nreach):
            j = reach[it]
            if j != sink:
                d = min_val - shortest[j]
                u[row4col[j]] += d
                v[j] -= d
        # augment along the path back to ``cur``
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            prev = col4row[i]
            col4row[i] = j
            if i == cur:
                break
            j = prev
    cost = 0.0
    for i in range(n):
        cost += C[i, col4row[i]]
    return cost


#: largest ``Eprev`` (entries) for which a level whose trees share no child
#: colour keeps two blank-subtracted copies (:func:`level_matrix`)
DISJOINT_MAX = 1 << 22

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
def _cancel(rchc, i, ka, cchc, j, kb, ia, ib):  # pragma: no cover
    """Positions (``ia``, ``ib``) of the children of row ``i`` / column
    ``j`` whose colour (``rchc``/``cchc``, sorted ascending) the other side
    lacks, multiplicities counted: a merge of the two sorted lists. Returns
    their numbers ``na``, ``nb``."""
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
    return na, nb


@njit(cache=True, nogil=True)
def children_ot(Eprev, rch, rchc, i, ka, cch, cchc, j, kb, blank_r, blank_c,
                W, ia, ib, u, v, p, way, minv, used,
                dp):  # pragma: no cover - compiled
    """Assignment between the child lists ``rch[i, :ka]`` (rows of
    ``Eprev``) and ``cch[j, :kb]`` (columns), the shorter padded with blank
    trees (``Eprev``'s row ``blank_r`` / column ``blank_c``).
    ``rchc``/``cchc`` are the children's colours, sorted ascending along
    each row: equal colours on both sides cancel first (see the section
    comment). ``ia``/``ib``: int work arrays of length ``>= max(ka, kb)``.
    One problem at a time: :func:`tree_block` uses it for the shapes it
    does not batch."""
    na, nb = _cancel(rchc, i, ka, cchc, j, kb, ia, ib)
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


# --- small rectangular assignments by candidate columns --------------------
#
# In a min-cost assignment of ``n`` rows to distinct columns (``n <= m``)
# some optimal solution gives every row one of *its own* ``n`` cheapest
# columns: if row ``r`` sits on a column outside that list, at most ``n - 1``
# of the list are taken by the other rows, so a free one exists and costs
# no more; moving ``r`` there keeps the others. Two rows are then a closed
# form (each row's best and second best), three an enumeration of at most
# 27 candidate triples (larger problems go to :func:`rect_min`). Exact: the
# same minimum.


@njit(cache=True, nogil=True)
def _two_rows(W, m):  # pragma: no cover - compiled
    """Min-cost assignment of the two rows of ``W[:2, :m]`` (``m >= 2``)
    from each row's cheapest and second cheapest column."""
    b0 = 0
    for y in range(1, m):
        if W[0, y] < W[0, b0]:
            b0 = y
    b1 = 0
    for y in range(1, m):
        if W[1, y] < W[1, b1]:
            b1 = y
    if b0 != b1:
        return W[0, b0] + W[1, b1]
    # both want column b0: one of them takes its best other column
    s0 = np.inf
    s1 = np.inf
    for y in range(m):
        if y != b0:
            if W[0, y] < s0:
                s0 = W[0, y]
            if W[1, y] < s1:
                s1 = W[1, y]
    return min(W[0, b0] + s1, s0 + W[1, b0])


@njit(cache=True, nogil=True, inline='always')
def _top3(W, r, m):  # pragma: no cover - compiled
    """The three cheapest columns of row ``r`` of ``W[:, :m]`` (``m >= 3``),
    cheapest first."""
    c0 = 0
    c1 = 1
    if W[r, c1] < W[r, c0]:
        c0 = 1
        c1 = 0
    c2 = 2
    if W[r, c2] < W[r, c1]:
        c2 = c1
        c1 = 2
        if W[r, c1] < W[r, c0]:
            c1 = c0
            c0 = 2
    for y in range(3, m):
        val = W[r, y]
        if val < W[r, c2]:
            if val < W[r, c1]:
                c2 = c1
                if val < W[r, c0]:
                    c1 = c0
                    c0 = y
                else:
                    c1 = y
            else:
                c2 = y
    return c0, c1, c2


@njit(cache=True, nogil=True)
def _three_rows(W, m):  # pragma: no cover - compiled
    """Min-cost assignment of the three rows of ``W[:3, :m]`` (``m >= 3``)
    over each row's three cheapest columns."""
    a0, a1, a2 = _top3(W, 0, m)
    b0, b1, b2 = _top3(W, 1, m)
    c0, c1, c2 = _top3(W, 2, m)
    best = np.inf
    for ka in range(3):
        ca = a0 if ka == 0 else (a1 if ka == 1 else a2)
        va = W[0, ca]
        for kb in range(3):
            cb = b0 if kb == 0 else (b1 if kb == 1 else b2)
            if cb == ca:
                continue
            vb = va + W[1, cb]
            for kc in range(3):
                cc = c0 if kc == 0 else (c1 if kc == 1 else c2)
                if cc == ca or cc == cb:
                    continue
                val = vb + W[2, cc]
                if val < best:
                    best = val
                break  # the cheaper candidates of row 2 come first
    return best


@njit(cache=True, nogil=True)
def small_assign(W, n, m, u, v, p, way, minv, used,
                 dp):  # pragma: no cover - compiled
    """Min-cost assignment of the ``2 <= n <= m`` rows of ``W`` to distinct
    columns (``W`` may be overwritten): closed form for two rows,
    candidate triples for three (see the section comment), otherwise
    :func:`rect_min`, whose work arrays it takes."""
    if n == 2:
        return _two_rows(W, m)
    if n == 3:
        return _three_rows(W, m)
    return rect_min(W, n, m, u, v, p, way, minv, used, dp)


# --- batched small assignments -----------------------------------------------
#
# After cancellation most child problems are tiny (PROTEINS, depth 4: 3 x 4,
# 4 x 4, 4 x 5, 3 x 5, 3 x 3 are two thirds of them; 97 % have at most 6
# columns). Those with at most ``BATCH_MAX`` (= ``SMALL_MAX``) columns are
# solved one at a time by the written-out column-subset DP of
# :mod:`._small_ot` (~10-40 ns each; it replaced a batched version of the
# same DP, 1.5x on PROTEINS depth 4). The next shapes, 3 to ``ROW_DP_MAX``
# rows against ``BATCH_MAX + 1`` to ``ROW_DP_COLS`` columns (random graphs
# of mean degree 4: 15 % of the problems, each ~1 us in the Hungarian), are
# bucketed by shape and stored entry-major (entry ``e`` of problem ``k`` at
# ``buf[row0 + e, k]``), and a bucket is solved all at once by a dynamic
# programme whose every transition is one vectorised
# ``dp[t] = min(dp[t], dp[s] + w_e)`` sweep over the bucket: over the
# subsets of *rows* matched so far, columns taken in order (column ``j`` is
# left free or given to one unmatched row): ``2^n`` states, updated in
# place with the states in decreasing order within a column so that each
# reads the previous column's values; states that can no longer be
# completed (more rows unmatched than columns left) or not yet reached are
# skipped.
#
# Exact: the same minimum, summed in another order.

#: most columns of the child problems solved written out (larger: buckets)
BATCH_MAX = SMALL_MAX
#: most rows / columns of the problems solved by the row-subset DP
ROW_DP_MAX = 6
ROW_DP_COLS = 10
#: problems a bucket collects before it is solved
BATCH_CAP = 256
#: bucket of shape ``(n, m)``: ``B_SLOT[n * SLOT_W + m]`` (-1: none)
SLOT_W = 16


def _batch_tables(mx: int, rmx: int,
                  rcols: int) -> tuple[np.ndarray, ...]:
    """Buckets: the shapes ``3 <= n <= rmx``, ``mx < m <= rcols`` (row-subset
    DP; fewer columns are written out, :mod:`._small_ot`). Returns the
    bucket of each shape code ``n * SLOT_W + m``, first buffer row, shape,
    DP transitions ``(s, t, e)`` (``dp[t] = min(dp[t], dp[s] + entry e)``,
    in order) and final states (the answer is their minimum), both as CSR
    lists over the buckets, buffer rows in all and DP states per bucket."""
    slot = np.full(SLOT_W * SLOT_W, -1, np.int64)
    row0: list[int] = []
    shape: list[tuple[int, int]] = []
    states: list[int] = []
    trp, fnp = [0], [0]
    tr: list[tuple[int, int, int]] = []
    fn: list[int] = []
    rows = 0

    def add(n: int, m: int, nst: int) -> None:
        nonlocal rows
        slot[n * SLOT_W + m] = len(row0)
        row0.append(rows)
        shape.append((n, m))
        states.append(nst)
        rows += n * m
        trp.append(len(tr))
        fnp.append(len(fn))

    for n in range(3, rmx + 1):
        for m in range(mx + 1, rcols + 1):
            for j in range(m):
                for t in range((1 << n) - 1, 0, -1):  # t: rows matched
                    r = bin(t).count('1')
                    if r > j + 1 or n - r > m - j - 1:
                        continue  # not reached yet / cannot be completed
                    tr.extend((t ^ 1 << x, t, x * m + j) for x in range(n)
                              if t >> x & 1)
            fn.append((1 << n) - 1)
            add(n, m, 1 << n)
    return (slot, np.array(row0, np.int64), np.array(shape, np.int64),
            np.array(trp, np.int64), np.array(tr, np.int64).reshape(-1, 3),
            np.array(fnp, np.int64), np.array(fn, np.int64),
            np.array([rows], np.int64), np.array(states, np.int64))


(B_SLOT, B_ROW0, B_SHAPE, B_TRP, B_TR, B_FNP, B_FN, B_ROWS,
 B_STATES) = _batch_tables(BATCH_MAX, ROW_DP_MAX, ROW_DP_COLS)
NUM_BUCKETS = len(B_ROW0)
B_DP_ROWS = int(B_STATES.max())


@njit(cache=True, nogil=True, inline='always')
def _bucket(n, m):  # pragma: no cover - compiled
    """Bucket of an ``n x m`` child problem (``n <= m``), or -1: two rows
    (closed form) and the shapes without a bucket are solved at once."""
    if n > 2 and m < SLOT_W:
        return B_SLOT[n * SLOT_W + m]
    return -1


@njit(cache=True, nogil=True)
def _batch_work(cap):  # pragma: no cover - compiled
    """Buffers of the batched solver for buckets of ``cap`` problems:
    entries, DP table, results, target row / column, base value, counts."""
    return (np.empty((B_ROWS[0], cap)), np.empty((B_DP_ROWS, cap)),
            np.empty(cap), np.empty((NUM_BUCKETS, cap), np.int64),
            np.empty((NUM_BUCKETS, cap), np.int64),
            np.empty((NUM_BUCKETS, cap)), np.zeros(NUM_BUCKETS, np.int64))


@njit(cache=True, nogil=True)
def _flush(bk, buf, dp, res, ta, tb, bas, cnt, out, w,
           mirror):  # pragma: no cover - compiled
    """Solve bucket ``bk`` (subset DP, all problems at once) and add
    ``w * (base + value)`` to ``out[ta, tb]`` (also ``out[tb, ta]`` with
    ``mirror``); empties the bucket."""
    P = cnt[bk]
    if P == 0:
        return
    r0 = B_ROW0[bk]
    inf = np.inf
    for st in range(1, B_STATES[bk]):
        row = dp[st]
        for k in range(P):
            row[k] = inf
    row = dp[0]
    for k in range(P):
        row[k] = 0.0
    for q in range(B_TRP[bk], B_TRP[bk + 1]):
        src = dp[B_TR[q, 0]]
        dst = dp[B_TR[q, 1]]
        we = buf[r0 + B_TR[q, 2]]
        for k in range(P):
            dst[k] = min(dst[k], src[k] + we[k])
    for k in range(P):
        res[k] = inf
    for q in range(B_FNP[bk], B_FNP[bk + 1]):
        row = dp[B_FN[q]]
        for k in range(P):
            res[k] = min(res[k], row[k])
    for k in range(P):
        a = ta[bk, k]
        b = tb[bk, k]
        out[a, b] += w * (bas[bk, k] + res[k])
        if mirror:
            out[b, a] = out[a, b]
    cnt[bk] = 0


@njit(cache=True, nogil=True)
def colour_masks(chc, deg):  # pragma: no cover - compiled
    """Per tree ``i`` the bit set of its child colours ``chc[i, :deg[i]]``
    modulo 64: two trees whose sets do not meet share no child colour."""
    out = np.zeros(deg.shape[0], np.uint64)
    one = np.uint64(1)
    for i in range(deg.shape[0]):
        mask = np.uint64(0)
        for x in range(deg[i]):
            mask |= one << np.uint64(chc[i, x] & 63)
        out[i] = mask
    return out


@njit(cache=True, nogil=True, inline='always')
def _push(bk, cw, ne, ta_k, tb_k, base, buf, dp, res, ta, tb, bas, cnt, out,
          w, mirror):  # pragma: no cover - compiled
    """Queue the problem ``cw[:ne]`` (row-major) in bucket ``bk`` for
    ``out[ta_k, tb_k]`` (which holds the root distance); solve the bucket
    when it is full."""
    k = cnt[bk]
    r0 = B_ROW0[bk]
    for e in range(ne):
        buf[r0 + e, k] = cw[e]
    ta[bk, k] = ta_k
    tb[bk, k] = tb_k
    bas[bk, k] = base
    cnt[bk] = k + 1
    if k + 1 == buf.shape[1]:
        _flush(bk, buf, dp, res, ta, tb, bas, cnt, out, w, mirror)


@njit(cache=True, nogil=True)
def tree_block(Eprev, E1, w, rroot, rch, rchc, rdeg, rows, croot, cch, cchc,
               cdeg, cols, blank_r, blank_c, W, ia, ib, u, v, p, way, minv,
               used, dp1, buf, dp, res, ta, tb, bas, cnt, out, orow, ocol,
               mirror, cancel, rmask, cmask):  # pragma: no cover - compiled
    """``out[orow[a], ocol[b]] = E1[roots] + w * children_ot(rows[a],
    cols[b])`` for a block of tree pairs (``mirror``: also written to
    ``out[ocol[b], orow[a]]``), as :func:`children_ot` with the child
    problems of up to ``BATCH_MAX`` columns written out (:mod:`._small_ot`)
    and the next shapes batched (see the section comment). ``cancel``: merge
    the child colour lists first; ``False`` when the row and column trees
    share no child colour (nothing would cancel: the same values, without
    the merge's unpredictable branches). ``rmask[i]`` / ``cmask[j]``: the
    trees' child colours as bit sets modulo 64 (:func:`colour_masks`); a
    pair whose sets do not meet shares no colour and skips the merge too
    (three quarters of the depth-3 pairs of 300 PROTEINS graphs)."""
    cw = W.reshape(W.size)  # n * m <= K * K entries
    for a in range(rows.shape[0]):
        i = rows[a]
        ka = rdeg[i]
        for b in range(cols.shape[0]):
            j = cols[b]
            kb = cdeg[j]
            root = E1[rroot[i], croot[j]]
            if cancel and rmask[i] & cmask[j]:
                # ra / cb: the remaining children (ids in Eprev)
                na, nb = _cancel(rchc, i, ka, cchc, j, kb, ia, ib)
                for x in range(na):
                    ia[x] = rch[i, ia[x]]
                for y in range(nb):
                    ib[y] = cch[j, ib[y]]
                ra = ia
                cb = ib
            else:
                na = ka
                nb = kb
                ra = rch[i]
                cb = cch[j]
            base = 0.0
            if na <= nb:
                n = na
                m = nb
                for y in range(nb):
                    base += Eprev[blank_r, cb[y]]
            else:
                n = nb
                m = na
                for x in range(na):
                    base += Eprev[ra[x], blank_c]
            if n <= 1:  # nothing left, or one row: its cheapest column
                val = base
                if n == 1:
                    best = np.inf
                    if na <= nb:
                        row = ra[0]
                        for y in range(nb):
                            col = cb[y]
                            best = min(best, Eprev[row, col]
                                       - Eprev[blank_r, col])
                    else:
                        col = cb[0]
                        for x in range(na):
                            row = ra[x]
                            best = min(best, Eprev[row, col]
                                       - Eprev[row, blank_c])
                    val += best
                out[orow[a], ocol[b]] = root + w * val
                if mirror:
                    out[ocol[b], orow[a]] = root + w * val
                continue
            # the problem left, rows the shorter side, row-major in cw
            if na <= nb:
                for x in range(na):
                    row = ra[x]
                    for y in range(nb):
                        col = cb[y]
                        cw[x * m + y] = Eprev[row, col] - Eprev[blank_r, col]
            else:
                for y in range(nb):
                    col = cb[y]
                    for x in range(na):
                        row = ra[x]
                        cw[y * m + x] = Eprev[row, col] - Eprev[row, blank_c]
            if m <= SMALL_MAX:  # written out (see _small_ot)
                val = base + assign_small(cw, n, m)
            else:
                bk = _bucket(n, m)
                if bk >= 0:  # batched: the value comes with the flush
                    out[orow[a], ocol[b]] = root
                    _push(bk, cw, n * m, orow[a], ocol[b], base, buf, dp,
                          res, ta, tb, bas, cnt, out, w, mirror)
                    continue
                val = base + small_assign(cw[:n * m].reshape((n, m)), n, m,
                                          u, v, p, way, minv, used, dp1)
            out[orow[a], ocol[b]] = root + w * val
            if mirror:
                out[ocol[b], orow[a]] = root + w * val
    for bk in range(NUM_BUCKETS):
        _flush(bk, buf, dp, res, ta, tb, bas, cnt, out, w, mirror)


@njit(cache=True, nogil=True)
def _disjoint(acol, alo, ahi, bcol, blo, bhi):  # pragma: no cover
    """Whether the sorted colour lists ``acol[alo:ahi]`` and
    ``bcol[blo:bhi]`` share no colour."""
    x = alo
    y = blo
    while x < ahi and y < bhi:
        if acol[x] == bcol[y]:
            return False
        if acol[x] < bcol[y]:
            x += 1
        else:
            y += 1
    return True


@njit(cache=True, nogil=True)
def _blank_subtracted(S, rch, rdeg, rows, cch, cdeg,
                      cols):  # pragma: no cover - compiled
    """The inputs of :func:`tree_block_disjoint` from a level matrix ``S``
    (last row / column: the blank tree): ``SR[x, y] = S[x, y] - S[blank,
    y]``, ``SC[x, y] = S[x, y] - S[x, blank]`` and, per tree ``rows[a]`` /
    ``cols[b]``, its children's summed blank distances ``baseR[a]`` /
    ``baseC[b]``, summed in child order as :func:`tree_block` does."""
    nl = S.shape[0] - 1
    ml = S.shape[1] - 1
    SR = np.empty((nl, ml))
    SC = np.empty((nl, ml))
    for x in range(nl):
        for y in range(ml):
            SR[x, y] = S[x, y] - S[nl, y]
            SC[x, y] = S[x, y] - S[x, ml]
    baseR = np.zeros(rows.shape[0])
    for a in range(rows.shape[0]):
        e = rows[a]
        for x in range(rdeg[e]):
            baseR[a] += S[rch[e, x], ml]
    baseC = np.zeros(cols.shape[0])
    for b in range(cols.shape[0]):
        e = cols[b]
        for y in range(cdeg[e]):
            baseC[b] += S[nl, cch[e, y]]
    return SR, SC, baseR, baseC


@njit(cache=True, nogil=True)
def tree_block_disjoint(SR, SC, baseR, baseC, E1, w, rroot, rch, rdeg,
                        rows, croot, cch, cdeg, cols, W, u, v, p, way,
                        minv, used, dp1, buf, dp, res, ta, tb, bas, cnt,
                        out):  # pragma: no cover - compiled
    """:func:`tree_block` for two child sets that share no colour (nothing
    cancels), from the pair's local matrices with the blank distances
    already subtracted: ``SR[x, y] = S[x, y] - S[blank, y]`` (rows padded),
    ``SC[x, y] = S[x, y] - S[x, blank]`` (columns padded) and each tree's
    summed child blank distances ``baseR[a]`` / ``baseC[b]`` (``a``, ``b``:
    positions in ``rows`` / ``cols``, also those of ``out``); the same
    floating-point operations in the same order, so the same values."""
    cw = W.reshape(W.size)
    for a in range(rows.shape[0]):
        i = rows[a]
        ka = rdeg[i]
        for b in range(cols.shape[0]):
            j = cols[b]
            kb = cdeg[j]
            root = E1[rroot[i], croot[j]]
            if ka <= kb:
                n = ka
                m = kb
                base = baseC[b]
            else:
                n = kb
                m = ka
                base = baseR[a]
            if n <= 1:
                val = base
                if n == 1:
                    best = np.inf
                    if ka <= kb:
                        row = rch[i, 0]
                        for y in range(kb):
                            best = min(best, SR[row, cch[j, y]])
                    else:
                        col = cch[j, 0]
                        for x in range(ka):
                            best = min(best, SC[rch[i, x], col])
                    val += best
                out[a, b] = root + w * val
                continue
            if ka <= kb:
                for x in range(ka):
                    row = rch[i, x]
                    for y in range(kb):
                        cw[x * m + y] = SR[row, cch[j, y]]
            else:
                for y in range(kb):
                    col = cch[j, y]
                    for x in range(ka):
                        cw[y * m + x] = SC[rch[i, x], col]
            if m <= SMALL_MAX:  # written out (see _small_ot)
                val = base + assign_small(cw, n, m)
            else:
                bk = _bucket(n, m)
                if bk >= 0:
                    out[a, b] = root
                    _push(bk, cw, n * m, a, b, base, buf, dp, res, ta, tb,
                          bas, cnt, out, w, False)
                    continue
                val = base + small_assign(cw[:n * m].reshape((n, m)), n, m,
                                          u, v, p, way, minv, used, dp1)
            out[a, b] = root + w * val
    for bk in range(NUM_BUCKETS):
        _flush(bk, buf, dp, res, ta, tb, bas, cnt, out, w, False)


@njit(cache=True, nogil=True)
def _share_colour(rchc, rdeg, cchc, cdeg):  # pragma: no cover - compiled
    """Whether a child colour of some row tree (``rchc[i, :rdeg[i]]``) is
    also one of some column tree."""
    top = 0
    for i in range(rdeg.shape[0]):
        for x in range(rdeg[i]):
            top = max(top, rchc[i, x])
    seen = np.zeros(top + 1, np.bool_)
    for i in range(rdeg.shape[0]):
        for x in range(rdeg[i]):
            seen[rchc[i, x]] = True
    for j in range(cdeg.shape[0]):
        for y in range(cdeg[j]):
            c = cchc[j, y]
            if c <= top and seen[c]:
                return True
    return False


@njit(parallel=True, cache=True)
def level_matrix(Eprev, E1, rroot, rch, rchc, rdeg, croot, cch, cchc, cdeg,
                 w, brow, bcol, symmetric, out):  # pragma: no cover
    """``out[i, j] = E1[rroot[i], croot[j]] + w * children_ot(i, j)`` for
    every row colour ``i`` and column colour ``j`` (children: positions
    ``rch`` into ``Eprev``, colours ``rchc``); ``out``'s last row / column
    are the blank distances ``bcol`` / ``brow``. With ``symmetric`` only
    ``j >= i`` is solved and mirrored (rows are paired first with last over
    the threads so that the triangle is balanced); a symmetric ``out`` of
    one row, ``[1, (R + 1) * (R + 2) / 2]``, receives the upper triangle
    packed row by row instead (see :func:`_packed_block`), half the memory
    and no mirrored writes."""
    R = rdeg.shape[0]
    Cn = cdeg.shape[0]
    blank_r = Eprev.shape[0] - 1
    blank_c = Eprev.shape[1] - 1
    K = 1
    for i in range(R):
        K = max(K, rdeg[i])
    for j in range(Cn):
        K = max(K, cdeg[j])
    # rows and columns with no child colour in common: nothing cancels
    cancel = symmetric or _share_colour(rchc, rdeg, cchc, cdeg)
    packed = symmetric and R > 0 and out.shape[0] == 1
    rmask = colour_masks(rchc, rdeg)
    cmask = colour_masks(cchc, cdeg)
    # symmetric: one row at a time (its columns j >= i), rows paired first
    # with last; otherwise blocks of up to 32 rows (at least 16 blocks for
    # the threads), each solved as one block: fuller buckets (a random
    # 300-node pair 70 vs 78 ms)
    half = (R + 1) // 2
    nch = min(half, 256) if symmetric else min(R, max(16, R // 32))
    # nothing cancels (no shared child colour; always with continuous
    # features): the blank distances are subtracted once for the level, as
    # in :func:`tree_block_disjoint` (same values), while the two
    # subtracted copies of ``Eprev`` stay small
    nl = Eprev.shape[0] - 1
    ml = Eprev.shape[1] - 1
    disjoint = not cancel and nl * ml <= DISJOINT_MAX
    if disjoint:
        SR, SC, baseR, baseC = _blank_subtracted(
            Eprev, rch, rdeg, np.arange(R), cch, cdeg, np.arange(Cn))
    else:
        SR = SC = np.empty((0, 0))
        baseR = baseC = np.empty(0)
    for c in prange(nch):
        W = np.empty((K, K))
        ia = np.empty(K, np.int64)
        ib = np.empty(K, np.int64)
        u, v, minv, p, way, used, dp = _solver_work(K)
        buf, dpb, res, ta, tb, bas, cnt = _batch_work(BATCH_CAP)
        if not symmetric:
            r0 = c * R // nch
            r1 = (c + 1) * R // nch
            rows = np.arange(r0, r1)
            cols = np.arange(Cn)
            if disjoint:
                tree_block_disjoint(SR, SC, baseR[r0:r1], baseC, E1, w,
                                    rroot, rch, rdeg, rows, croot, cch, cdeg,
                                    cols, W, u, v, p, way, minv, used, dp,
                                    buf, dpb, res, ta, tb, bas, cnt,
                                    out[r0:r1])
                for i in rows:
                    out[i, Cn] = brow[i]
                continue
            tree_block(Eprev, E1, w, rroot, rch, rchc, rdeg, rows, croot,
                       cch, cchc, cdeg, cols, blank_r, blank_c, W, ia, ib,
                       u, v, p, way, minv, used, dp, buf, dpb, res, ta, tb,
                       bas, cnt, out, rows, cols, False, cancel, rmask,
                       cmask)
            for i in rows:
                out[i, Cn] = brow[i]
            continue
        one = np.empty(1, np.int64)
        zero = np.zeros(1, np.int64)
        for h in range(c * half // nch, (c + 1) * half // nch):
            for rep in range(2):
                i = np.int64(h) if rep == 0 else np.int64(R - 1 - h)
                if rep == 1 and i == h:
                    break
                one[0] = i
                cols = np.arange(i, Cn)
                if packed:  # row i of the triangle: columns i .. Cn
                    off = i * (Cn + 1) - i * (i - 1) // 2
                    tree_block(Eprev, E1, w, rroot, rch, rchc, rdeg, one,
                               croot, cch, cchc, cdeg, cols, blank_r,
                               blank_c, W, ia, ib, u, v, p, way, minv, used,
                               dp, buf, dpb, res, ta, tb, bas, cnt, out,
                               zero, cols - i + off, False, True, rmask,
                               cmask)
                    out[0, off + Cn - i] = brow[i]
                    continue
                tree_block(Eprev, E1, w, rroot, rch, rchc, rdeg, one, croot,
                           cch, cchc, cdeg, cols, blank_r, blank_c, W, ia,
                           ib, u, v, p, way, minv, used, dp, buf, dpb, res,
                           ta, tb, bas, cnt, out, one, cols, True, True,
                           rmask, cmask)
                out[i, Cn] = brow[i]
    if packed:
        out[0, out.shape[1] - 1] = 0.0
        return
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
            np.empty(3 * K + 3, np.int64), np.empty(K + 1, np.int64),
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


@njit(cache=True, nogil=True)
def _packed_block(P, npk, rows, cols, S):  # pragma: no cover - compiled
    """``S[:-1, :-1] = E[rows][:, cols]`` and the blank row / column
    ``S[:-1, -1] = E[rows, b]``, ``S[-1, :-1] = E[b, cols]`` (``b = npk -
    1``) of a symmetric ``npk x npk`` matrix ``E`` whose upper triangle is
    packed row by row into ``P`` (row ``a`` holds columns ``a .. npk - 1``
    from offset ``a * npk - a * (a - 1) / 2``). ``rows`` and ``cols`` are
    sorted: each entry is read from the packed row of the smaller of its
    two indices, so the block is gathered in two passes that each walk
    one packed row at a time (read in the mirrored order, half the entries
    would each land in a different row)."""
    nl = rows.shape[0]
    ml = cols.shape[0]
    b = npk - 1
    y0 = 0
    for x in range(nl):  # entries with cols[y] >= rows[x]: packed row x
        r = rows[x]
        while y0 < ml and cols[y0] < r:
            y0 += 1
        off = r * npk - r * (r - 1) // 2 - r
        for y in range(y0, ml):
            S[x, y] = P[off + cols[y]]
        S[x, ml] = P[off + b]
    x0 = 0
    for y in range(ml):  # entries with rows[x] > cols[y]: packed row y
        c = cols[y]
        while x0 < nl and rows[x0] <= c:
            x0 += 1
        off = c * npk - c * (c - 1) // 2 - c
        for x in range(x0, nl):
            S[x, y] = P[off + rows[x]]
        S[nl, y] = P[off + b]


@njit(parallel=True, cache=True)
def fused_local_pairs(Eprev, npk, E1, w, rlptr, rlpos, rdptr, rdcol, rdcnt,
                      rroot, rch, rchc, rdeg, rblank, rlcol, clptr, clpos,
                      cdptr, cdcol, cdcnt, croot, cch, cchc, cdeg, cblank,
                      clcol, pi, pj, out):  # pragma: no cover - compiled
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
    any distance is solved. ``rlcol`` holds the colours of the graphs'
    level-``L-1`` lists (aligned with ``rlpos``): when two graphs share
    none of them (most PROTEINS pairs at depth 4) no child problem can
    cancel anything and :func:`tree_block_disjoint` solves the pair with
    the blank distances subtracted once per pair (15 % less CPU on the
    top level, the same values bit for bit). ``npk > 0``: ``Eprev`` is the
    packed triangle of a symmetric ``npk x npk`` level
    (:func:`_packed_block`).
    """
    blank_r = Eprev.shape[0] - 1 if npk == 0 else npk - 1
    blank_c = Eprev.shape[1] - 1 if npk == 0 else npk - 1
    K = 1
    for i in range(rdeg.shape[0]):
        K = max(K, rdeg[i])
    for j in range(cdeg.shape[0]):
        K = max(K, cdeg[j])
    rmask = colour_masks(rchc, rdeg)
    cmask = colour_masks(cchc, cdeg)
    nt = pi.shape[0]
    nch = min(nt, 1024)
    for c in prange(nch):
        # buffers of the batched child solver, once per chunk of pairs
        buf, dpb, res, ta, tb, bas, cnt = _batch_work(BATCH_CAP)
        for t in range(c * nt // nch, (c + 1) * nt // nch):
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
            if npk > 0:
                _packed_block(Eprev[0], npk, rlpos[rlptr[g]:rlptr[g + 1]],
                              clpos[clptr[h]:clptr[h + 1]], S)
            else:
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
            if _disjoint(rlcol, rlptr[g], rlptr[g + 1], clcol, clptr[h],
                         clptr[h + 1]):
                # nothing cancels: subtract the blank distances once per
                # pair instead of once per child problem
                SR, SC, baseR, baseC = _blank_subtracted(
                    S, rch, rdeg, gi, cch, cdeg, hi)
                tree_block_disjoint(SR, SC, baseR, baseC, E1, w, rroot, rch,
                                    rdeg, gi, croot, cch, cdeg, hi, W, u, v,
                                    p, way, minv, used, dp, buf, dpb, res,
                                    ta, tb, bas, cnt, M)
            else:
                tree_block(S, E1, w, rroot, rch, rchc, rdeg, gi, croot, cch,
                           cchc, cdeg, hi, nl, ml, W, ia, ib, u, v, p, way,
                           minv, used, dp, buf, dpb, res, ta, tb, bas, cnt,
                           M, np.arange(ka), np.arange(kb), False, True,
                           rmask, cmask)
            for a in range(ka):
                gbl[a] = rblank[gi[a]]
            for b in range(kb):
                hbl[b] = cblank[hi[b]]
            out[t] = _node_assignment(M, grk, hrk, gbl, hbl, ng, nh, u, v, p,
                                      way, minv, used, dp)


def warmup() -> None:
    """Compile (or load from the disk cache) the kernels for the argument
    types the TMD and DIDM paths pass, by running both on a few tiny graphs
    with ``backend='numba'``: run in a background thread by
    :func:`pyg_ext.utils._numba_setup.kernels_if_ready`, so that
    ``backend='auto'`` never waits for a compilation (it uses the exact
    numpy / scipy path until this finished)."""
    import torch
    from torch_geometric.data import Data

    from pyg_ext.metrics.rjl import didm_pairwise
    from pyg_ext.metrics.tmd import tmd_cross, tmd_pairwise
    gen = torch.Generator().manual_seed(0)
    graphs = []
    for n in (3, 4, 5, 4):
        ei = torch.tensor([list(range(n - 1)) + list(range(1, n)),
                           list(range(1, n)) + list(range(n - 1))])
        graphs.append(Data(x=torch.rand(n, 2, generator=gen),
                           edge_index=ei))
    tmd_pairwise(graphs, depth=3, backend='numba')
    tmd_cross(graphs[:2], graphs[2:], depth=3, backend='numba')
    for unmatched in ('blank', 1.0):
        didm_pairwise(graphs, depth=3, unmatched=unmatched, backend='numba')
