"""Compiled small symmetric eigensolver for the lowest eigenpairs of many
small Laplacians (optional; imported only when numba is installed).

LAPACK's ``syevd`` spends ~60 us on a 25 x 25 matrix, most of it forming all
``n`` eigenvectors, while a positional encoding needs the lowest ``k``
(``k`` around 8). Per matrix, one thread:

1. Householder reduction to tridiagonal form ``A = Q T Q^T``, keeping the
   reflectors instead of forming ``Q`` (:func:`tridiagonalize`);
2. all eigenvalues of ``T`` by the implicit QL algorithm with Wilkinson
   shifts, without vectors (:func:`ql_eigenvalues`, ``O(n^2)``);
3. the eigenvectors of ``T`` for the wanted eigenvalues only, by inverse
   iteration with a pivoted tridiagonal LU, eigenvalues of a cluster nudged
   apart and the vectors of a cluster Gram-Schmidt orthogonalised after every
   solve, as LAPACK's ``stein`` does (:func:`inverse_iteration`);
4. ``V = Q Y`` for those ``k`` vectors only, applying the reflectors
   (:func:`apply_q`).

:func:`graphs_lowest` runs all of it, with the Laplacian, the ``'rw'``
scaling and the sign canonicalisation, for a whole collection in one call.

Eigenvalues are backward stable like LAPACK's; eigenvectors of a cluster
(eigenvalues within ``1e-3 ||T||_1``, which includes every repeated
eigenvalue) are orthonormal to rounding, and vectors of different clusters
orthogonal to ``eps ||T|| / gap``. Checked against ``torch.linalg.eigh`` in
``tests/test_eigen.py``.
"""

from __future__ import annotations

import numpy as np

from pyg_ext.utils._numba_setup import njit  # caches in the user cache dir

EPS = 2.220446049250313e-16


@njit(cache=True, nogil=True)
def apply_q(a, h, Y, m):  # pragma: no cover - compiled
    """``Y[:, :m] <- Q Y[:, :m]`` with ``Q = P_{n-1} ... P_1`` from
    :func:`tridiagonalize`."""
    n = a.shape[0]
    for i in range(1, n):
        if h[i] == 0.0:
            continue
        for c in range(m):
            g = 0.0
            for k in range(i):
                g += a[i, k] * Y[k, c]
            for k in range(i):
                Y[k, c] -= g * a[k, i]


@njit(cache=True, nogil=True)
def tridiagonalize(a, d, e, hvec):  # pragma: no cover - compiled
    """Reduce the symmetric ``a`` to tridiagonal ``T``: diagonal ``d``,
    ``e[i]`` couples rows ``i - 1`` and ``i`` (``e[0] = 0``). ``a`` keeps
    the Householder reflectors (``P_i = I - u u^T / hvec[i]`` with
    ``u = a[i, :i]`` and ``a[:i, i] = u / hvec[i]``), applied later to the few
    wanted vectors by :func:`apply_q` (cheaper than forming all of ``Q``)."""
    n = a.shape[0]
    for i in range(n - 1, 0, -1):
        m = i - 1
        h = 0.0
        if m > 0:
            scale = 0.0
            for k in range(m + 1):
                scale += abs(a[i, k])
            if scale == 0.0:
                e[i] = a[i, m]
            else:
                for k in range(m + 1):
                    a[i, k] /= scale
                    h += a[i, k] * a[i, k]
                f = a[i, m]
                g = -np.sqrt(h) if f >= 0.0 else np.sqrt(h)
                e[i] = scale * g
                h -= f * g
                a[i, m] = f - g
                f = 0.0
                for j in range(m + 1):
                    a[j, i] = a[i, j] / h
                    g = 0.0
                    for k in range(j + 1):
                        g += a[j, k] * a[i, k]
                    for k in range(j + 1, m + 1):
                        g += a[k, j] * a[i, k]
                    e[j] = g / h
                    f += e[j] * a[i, j]
                hh = f / (h + h)
                for j in range(m + 1):
                    f = a[i, j]
                    g = e[j] - hh * f
                    e[j] = g
                    for k in range(j + 1):
                        a[j, k] -= f * e[k] + g * a[i, k]
        else:
            e[i] = a[i, m]
        d[i] = h
    d[0] = 0.0
    e[0] = 0.0
    for i in range(n):
        hvec[i] = d[i]
        d[i] = a[i, i]


@njit(cache=True, nogil=True)
def ql_eigenvalues(d, e, w, f):  # pragma: no cover - compiled
    """All eigenvalues of the tridiagonal ``(d, e)`` into ``w`` (ascending)
    by implicit QL with shifts (absolute error ``<= eps ||T||`` per
    deflation, like LAPACK's); ``f`` is work of length ``n``. Returns
    ``False`` if an eigenvalue did not converge in 60 sweeps."""
    n = d.shape[0]
    tnorm = 0.0
    for i in range(n):
        w[i] = d[i]
        tnorm = max(tnorm, abs(d[i]) + 2.0 * abs(e[i]))
    for i in range(1, n):
        f[i - 1] = e[i]
    f[n - 1] = 0.0
    # an absolute deflation test (eps ||T||): Laplacians have eigenvalues at
    # or near 0, where a test relative to |w[m]| + |w[m + 1]| stalls. Plain
    # sqrt instead of hypot (a libm call, most of the time otherwise): the
    # entries of a normalised or small combinatorial Laplacian cannot
    # overflow.
    thresh = EPS * max(tnorm, 1e-300)
    for m0 in range(n):
        it = 0
        while True:
            m = m0
            while m < n - 1:
                if abs(f[m]) <= thresh:
                    break
                m += 1
            if m == m0:
                break
            it += 1
            if it > 60:
                return False
            g = (w[m0 + 1] - w[m0]) / (2.0 * f[m0])
            r = np.sqrt(g * g + 1.0)
            g = w[m] - w[m0] + f[m0] / (g + (r if g >= 0.0 else -r))
            s = 1.0
            c = 1.0
            p = 0.0
            i = m - 1
            early = False
            while i >= m0:
                ff = s * f[i]
                b = c * f[i]
                r = np.sqrt(ff * ff + g * g)
                f[i + 1] = r
                if r == 0.0:
                    w[i + 1] -= p
                    f[m] = 0.0
                    early = True
                    break
                s = ff / r
                c = g / r
                g = w[i + 1] - p
                r = (w[i] - g) * s + 2.0 * c * b
                p = s * r
                w[i + 1] = g + p
                g = c * r - b
                i -= 1
            if early:
                continue
            w[m0] -= p
            f[m0] = g
            f[m] = 0.0
    w.sort()
    return True


@njit(cache=True, nogil=True)
def _lu(d, e, lam, tiny, dg, du, du2, fact, swap):  # pragma: no cover
    """Pivoted LU of ``T - lam I`` (``dgttrf``-style): ``dg`` reciprocal
    pivots,
    ``du``/``du2`` the two super-diagonals of ``U``, ``fact``/``swap`` the
    elimination steps; zero or tiny pivots are replaced by ``tiny``."""
    n = d.shape[0]
    for i in range(n):
        dg[i] = d[i] - lam
    for i in range(n - 1):
        du[i] = e[i + 1]
        du2[i] = 0.0
    for i in range(n - 1):
        sub = e[i + 1]
        if abs(dg[i]) >= abs(sub):
            swap[i] = False
            if abs(dg[i]) < tiny:
                dg[i] = tiny if dg[i] >= 0.0 else -tiny
            fc = sub / dg[i]
            fact[i] = fc
            dg[i + 1] -= fc * du[i]
        else:
            swap[i] = True
            fc = dg[i] / sub
            fact[i] = fc
            dg[i] = sub
            tmp = dg[i + 1]
            dg[i + 1] = du[i] - fc * tmp
            if i < n - 2:
                du2[i] = du[i + 1]
                du[i + 1] = -fc * du[i + 1]
            du[i] = tmp
    if abs(dg[n - 1]) < tiny:
        dg[n - 1] = tiny if dg[n - 1] >= 0.0 else -tiny
    for i in range(n):  # the solves multiply by reciprocal pivots
        dg[i] = 1.0 / dg[i]


@njit(cache=True, nogil=True)
def _solve(dg, du, du2, fact, swap, x):  # pragma: no cover - compiled
    """Overwrite ``x`` with ``(T - lam I)^{-1} x`` from :func:`_lu`."""
    n = dg.shape[0]
    for i in range(n - 1):
        if swap[i]:
            tmp = x[i]
            x[i] = x[i + 1]
            x[i + 1] = tmp - fact[i] * x[i + 1]
        else:
            x[i + 1] -= fact[i] * x[i]
    x[n - 1] *= dg[n - 1]
    if n > 1:
        x[n - 2] = (x[n - 2] - du[n - 2] * x[n - 1]) * dg[n - 2]
    for i in range(n - 3, -1, -1):
        x[i] = (x[i] - du[i] * x[i + 1] - du2[i] * x[i + 2]) * dg[i]


@njit(cache=True, nogil=True)
def inverse_iteration(d, e, w, lo, hi, Y, work):  # pragma: no cover
    """Eigenvectors of the tridiagonal ``(d, e)`` for the eigenvalues
    ``w[lo:hi]`` (ascending) into the columns ``0 .. hi - lo - 1`` of ``Y``.
    ``work``: float ``[6, n]``."""
    n = d.shape[0]
    onenrm = 0.0
    for i in range(n):
        r = abs(d[i])
        if i > 0:
            r += abs(e[i])
        if i < n - 1:
            r += abs(e[i + 1])
        onenrm = max(onenrm, r)
    if onenrm == 0.0:  # T = 0: any orthonormal basis; take unit vectors
        for j in range(lo, hi):
            for i in range(n):
                Y[i, j - lo] = 1.0 if i == j else 0.0
        return
    ortol = 1e-3 * onenrm
    pertol = 10.0 * EPS * onenrm
    tiny = EPS * onenrm
    dg = work[0]
    du = work[1]
    du2 = work[2]
    fact = work[3]
    x = work[4]
    swap = np.empty(n, np.bool_)
    seed = np.uint64(0x9E3779B97F4A7C15)
    cluster = lo
    lam_prev = 0.0
    for j in range(lo, hi):
        lam = w[j]
        if j > lo:
            if lam - w[j - 1] > ortol:
                cluster = j
            elif lam - lam_prev < pertol:
                lam = lam_prev + pertol
        lam_prev = lam
        _lu(d, e, lam, tiny, dg, du, du2, fact, swap)
        # deterministic pseudo-random start (xorshift)
        for i in range(n):
            seed ^= seed << np.uint64(13)
            seed ^= seed >> np.uint64(7)
            seed ^= seed << np.uint64(17)
            x[i] = (float(seed >> np.uint64(11)) * (1.0 / 9007199254740992.0)
                    - 0.5)
        for _ in range(3):
            _solve(dg, du, du2, fact, swap, x)
            for q in range(cluster, j):
                dot = 0.0
                for i in range(n):
                    dot += x[i] * Y[i, q - lo]
                for i in range(n):
                    x[i] -= dot * Y[i, q - lo]
            big = 0.0  # scale first: the solves can grow x by 1 / tiny
            for i in range(n):
                big = max(big, abs(x[i]))
            if big > 0.0:
                for i in range(n):
                    x[i] /= big
            nrm = 0.0
            for i in range(n):
                nrm += x[i] * x[i]
            nrm = np.sqrt(nrm)
            if nrm == 0.0:  # pragma: no cover - cannot happen in exact math
                x[j % n] = 1.0
                nrm = 1.0
            inv = 1.0 / nrm
            for i in range(n):
                x[i] *= inv
        for i in range(n):
            Y[i, j - lo] = x[i]


@njit(cache=True, nogil=True)
def _canonical_column(V, c, n, tol):  # pragma: no cover - compiled
    """Sign of column ``c`` of ``V[:n]`` as
    :func:`pyg_ext.utils.eigen.canonicalize_signs` picks it: the sign of
    the sum, else of the sum of cubes, else of the first entry of largest
    magnitude."""
    s1 = 0.0
    s3 = 0.0
    mx = 0.0
    for i in range(n):
        v = V[i, c]
        s1 += v
        s3 += v * v * v
        mx = max(mx, abs(v))
    if abs(s1) > tol:
        return 1.0 if s1 > 0.0 else -1.0
    if abs(s3) > tol:
        return 1.0 if s3 > 0.0 else -1.0
    for i in range(n):
        if abs(V[i, c]) >= mx - 1e-12:
            v = V[i, c]
            return -1.0 if v < 0.0 else 1.0
    return 1.0


@njit(cache=True)
def graphs_lowest(src, dst, w, eptr, nptr, norm, k, ntriv, cut_tol,
                  canonical, sign_tol, vecs, vals, mask, cut,
                  ok):  # pragma: no cover - compiled
    """The whole dense precompute for ``B`` small graphs in one call.

    Graph ``b`` has nodes ``nptr[b]:nptr[b + 1]`` and edges
    ``src/dst/w[eptr[b]:eptr[b + 1]]`` (local ids, no self-loops). Its
    adjacency sums repeated edges and takes ``max(A, A^T)``; ``norm`` is 0
    (combinatorial), 1 (symmetric normalised) or 2 (random walk: the
    symmetric problem's vectors scaled by ``D^-1/2`` and renormalised). The
    ``k`` kept pairs (after the first ``ntriv[b]``: the null space, whose
    size, the number of connected components, the caller counts exactly;
    zeros keep it) go to
    ``vecs[nptr[b]:nptr[b + 1]]``, ``vals[b]``, ``mask[b]``; ``cut[b]`` flags a
    repeated eigenvalue split by ``k``; signs canonical with ``canonical``.
    ``ok[b]`` is ``False`` where QL did not converge (nothing written)."""
    B = eptr.shape[0] - 1
    nmax = 1
    for b in range(B):
        nmax = max(nmax, nptr[b + 1] - nptr[b])
    Abuf = np.empty((nmax, nmax))
    d = np.empty(nmax)
    e = np.empty(nmax)
    f = np.empty(nmax)
    ev = np.empty(nmax)
    dinv = np.empty(nmax)
    hbuf = np.empty(nmax)
    Y = np.empty((nmax, k))
    work = np.empty((6, nmax))
    for b in range(B):
        n = nptr[b + 1] - nptr[b]
        base = nptr[b]
        if n == 0:
            for c in range(k):
                vals[b, c] = 0.0
                mask[b, c] = False
            cut[b] = False
            ok[b] = True
            continue
        A = Abuf[:n, :n]
        for r in range(n):
            for c in range(n):
                A[r, c] = 0.0
        for t in range(eptr[b], eptr[b + 1]):
            A[src[t], dst[t]] += w[t]
        for r in range(n):
            for c in range(r + 1, n):
                m = max(A[r, c], A[c, r])
                A[r, c] = m
                A[c, r] = m
        for r in range(n):
            deg = 0.0
            for c in range(n):
                deg += A[r, c]
            dinv[r] = deg
        if norm != 0:
            for r in range(n):
                dinv[r] = 1.0 / np.sqrt(dinv[r]) if dinv[r] > 0.0 else 0.0
            for r in range(n):
                for c in range(n):
                    A[r, c] = -dinv[r] * A[r, c] * dinv[c]
                A[r, r] = 1.0 if dinv[r] > 0.0 else 0.0
        else:
            for r in range(n):
                for c in range(n):
                    A[r, c] = -A[r, c]
                A[r, r] = dinv[r]
        dn = d[:n]
        en = e[:n]
        wn = ev[:n]
        tridiagonalize(A, dn, en, hbuf[:n])
        if not ql_eigenvalues(dn, en, wn, f[:n]):
            ok[b] = False
            continue
        ok[b] = True
        s = min(ntriv[b], n)
        for i in range(n):
            if wn[i] < 0.0:
                wn[i] = 0.0
        hi = min(n, s + k)
        mcount = max(hi - s, 0)
        if mcount > 0:
            inverse_iteration(dn, en, wn, s, hi, Y[:n], work[:, :n])
        for c in range(k):
            if c < mcount:
                vals[b, c] = wn[s + c]
                mask[b, c] = True
            else:
                vals[b, c] = 0.0
                mask[b, c] = False
        nxt = s + k
        cut[b] = (k > 0 and nxt < n and mcount == k
                  and abs(wn[nxt] - wn[nxt - 1]) <= cut_tol)
        out = vecs[base:base + n]
        if mcount > 0:
            apply_q(A, hbuf[:n], Y[:n], mcount)
        for r in range(n):
            for c in range(mcount):
                out[r, c] = Y[r, c]
            for c in range(mcount, k):
                out[r, c] = 0.0
        if norm == 2:  # random walk: D^-1/2 v, renormalised
            for c in range(mcount):
                nrm = 0.0
                for r in range(n):
                    sc = dinv[r] if dinv[r] > 0.0 else 1.0
                    out[r, c] *= sc
                    nrm += out[r, c] * out[r, c]
                if nrm > 0.0:
                    inv = 1.0 / np.sqrt(nrm)
                    for r in range(n):
                        out[r, c] *= inv
        if canonical:
            for c in range(mcount):
                sg = _canonical_column(out, c, n, sign_tol)
                if sg < 0.0:
                    for r in range(n):
                        out[r, c] = -out[r, c]


@njit(cache=True, nogil=True)
def _find(parent, i):  # pragma: no cover - compiled
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@njit(cache=True, nogil=True)
def count_components(src, dst, w, eg, nptr, out):  # pragma: no cover
    """Connected components of every graph (union-find, ``O(E)``): graph
    ``b`` has nodes ``nptr[b]:nptr[b + 1]``, edge ``t`` joins local nodes
    ``src[t]``, ``dst[t]`` of graph ``eg[t]``; self-loops and edges of
    weight ``<= 0`` join nothing. Isolated nodes are components. The
    callers check every id beforehand."""
    B = nptr.shape[0] - 1
    parent = np.arange(nptr[B])
    for t in range(src.shape[0]):
        if src[t] == dst[t] or not w[t] > 0.0:
            continue
        off = nptr[eg[t]]
        a = _find(parent, off + src[t])
        b = _find(parent, off + dst[t])
        if a != b:
            if a < b:
                parent[b] = a
            else:
                parent[a] = b
    for g in range(B):
        cnt = 0
        for i in range(nptr[g], nptr[g + 1]):
            if parent[i] == i:
                cnt += 1
        out[g] = cnt


def warmup() -> None:
    """Compile (or load from the disk cache) every kernel for the argument
    types :mod:`pyg_ext.utils.eigen` passes (int64 ids, float64 weights,
    Python ``int``/``float``/``bool`` scalars, C-contiguous outputs): run
    by :func:`pyg_ext.utils._numba_setup.start_loading` in a compiler
    subprocess (empty disk cache) or a background thread (loading from the
    cache), so that no user call waits for a compilation."""
    src = np.array([0, 1], dtype=np.int64)
    dst = np.array([1, 2], dtype=np.int64)
    w = np.ones(2)
    eptr = np.array([0, 2], dtype=np.int64)
    nptr = np.array([0, 3], dtype=np.int64)
    comps = np.empty(1, dtype=np.int64)
    count_components(src, dst, w, np.zeros(2, dtype=np.int64), nptr, comps)
    k = 2
    vecs = np.empty((3, k))
    vals = np.empty((1, k))
    mask = np.empty((1, k), dtype=np.bool_)
    cut = np.empty(1, dtype=np.bool_)
    ok = np.empty(1, dtype=np.bool_)
    for canonical in (True, False):
        graphs_lowest(src, dst, w, eptr, nptr, 1, k,
                      np.ones(1, dtype=np.int64), 1e-6, canonical, 1e-6,
                      vecs, vals, mask, cut, ok)
