r"""Dual certificates read from OptGNN / Burer-Monteiro embeddings.

Neither the paper's code nor its appendix ships a procedure; this module
builds a dual-feasible point from the embeddings (KKT multipliers) and makes it
feasible with a minimum-eigenvalue shift, which gives a **valid bound** by weak
duality whatever the quality of the embeddings (a poor embedding only gives a
looser bound).

**Max-Cut** (upper bound). SDP: :math:`\max \tfrac14\langle L, X\rangle`,
:math:`\mathrm{diag}\,X = 1`, :math:`X \succeq 0`; dual:
:math:`\min \sum_i y_i` s.t. :math:`\mathrm{Diag}(y) \succeq L/4`. From rows
:math:`v_i`: :math:`y_i = \tfrac14\langle (LV)_i, v_i\rangle` and

.. math::
    \mathrm{UB} = \sum_i y_i + n\,\max\big(0, \lambda_{\max}(L/4 -
    \mathrm{Diag}(y))\big) \;\ge\; \mathrm{SDP} \;\ge\; \text{max cut}.

**Vertex cover** (lower bound). Vector program with :math:`v_0 = e_1`:
:math:`\min \sum_i w_i (1 + X_{0i})/2` s.t. :math:`X_{kk} = 1`,
:math:`X_{0i} + X_{0j} - X_{ij} = 1` for every edge, :math:`X \succeq 0`. For
any multipliers :math:`(y, \mu)`,
:math:`\mathrm{LB} = \sum_i w_i/2 + \sum_k y_k + \sum_e \mu_e +
(n+1)\min(0, \lambda_{\min}(S))` with
:math:`S = C - \mathrm{Diag}(y) - \sum_e \mu_e A_e`; the multipliers are the
least-squares solution of the stationarity condition :math:`S\,V = 0`.

Eigenvalues: dense ``numpy.linalg.eigvalsh`` up to ``dense_max`` nodes per
graph (exact up to float64 rounding); above it, sparse Lanczos
(``scipy.sparse.linalg.eigsh``) plus the residual norm of the Ritz pair as a
safety margin (the standard a-posteriori estimate, assuming Lanczos found the
extreme eigenvalue).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import Data

from pyg_ext.combopt.maxcut import (
    batch_of,
    check_graph_data,
    check_node_matrix,
    check_symmetric,
    edge_weight_of,
)
from pyg_ext.utils.validation import check_int, check_tensor


def _check(data: Data, V: Tensor, dense_max: int, node_weight: bool = False
           ) -> int:
    n = check_graph_data(data, node_weight=node_weight)
    check_symmetric(data)
    check_tensor(V, 'V', dim=2, floating=True)
    check_node_matrix(V, n, 'V')
    if V.size(1) < 1:
        raise ValueError('V must have at least one column')
    return check_int(dense_max, 'dense_max', low=0)


def _split(data: Data):
    """Per graph: (node slice lo, hi, undirected edges u, v, w) with local
    ids."""
    batch, b = batch_of(data)
    bn = batch.cpu().numpy()
    ptr = np.zeros(b + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(bn, minlength=b))
    src, dst = data.edge_index.cpu().numpy()
    w = edge_weight_of(data).double().cpu().numpy()
    keep = src < dst
    src, dst, w = src[keep], dst[keep], w[keep]
    eg = bn[src]
    order = np.argsort(eg, kind='stable')
    src, dst, w, eg = src[order], dst[order], w[order], eg[order]
    eptr = np.searchsorted(eg, np.arange(b + 1))
    for g in range(b):
        lo, hi = ptr[g], ptr[g + 1]
        a, z = eptr[g], eptr[g + 1]
        yield g, lo, hi, src[a:z] - lo, dst[a:z] - lo, w[a:z]


def _extreme_eig(M: sp.spmatrix | np.ndarray, largest: bool,
                 dense_max: int) -> float:
    n = M.shape[0]
    if n == 0:
        return 0.0
    if n <= dense_max:
        dense = M.toarray() if sp.issparse(M) else M
        ev = np.linalg.eigvalsh(dense)
        return float(ev[-1] if largest else ev[0])
    from scipy.sparse.linalg import eigsh
    which = 'LA' if largest else 'SA'
    vals, vecs = eigsh(M, k=1, which=which, tol=1e-9, maxiter=20 * n)
    theta, u = float(vals[0]), vecs[:, 0]
    res = float(np.linalg.norm(M @ u - theta * u))
    return theta + res if largest else theta - res


def maxcut_certificate(data: Data, V: Tensor, dense_max: int = 2000,
                       return_parts: bool = False):
    """Certified upper bound on the Max-Cut SDP value (hence on the maximum
    cut) of every graph, from node vectors ``V``.

    Returns:
        ``[num_graphs]`` float64 bounds (and, with ``return_parts``, the dual
        objective ``sum y`` and the eigenvalue shift per graph). Valid for
        negative edge weights too (``L`` is then the signed Laplacian).

    Raises:
        TypeError, ValueError: invalid or asymmetric ``data``, ``V`` not
            ``[N, r]``, non-finite ``V``, ``dense_max < 0``.
    """
    dense_max = _check(data, V, dense_max)
    Vn = torch.nn.functional.normalize(V.detach().double(), dim=-1)
    Vn = Vn.cpu().numpy()
    bounds, duals, shifts = [], [], []
    for _g, lo, hi, u, v, w in _split(data):
        n = hi - lo
        X = Vn[lo:hi]
        L = sp.coo_matrix((np.concatenate([-w, -w]),
                           (np.concatenate([u, v]), np.concatenate([v, u]))),
                          shape=(n, n)).tocsr()
        deg = -np.asarray(L.sum(1)).ravel()
        L = L + sp.diags(deg)
        y = np.einsum('ij,ij->i', L @ X, X) / 4
        M = (L / 4 - sp.diags(y)).tocsr()
        lam = _extreme_eig(M, True, dense_max)
        shift = n * max(0.0, lam)
        duals.append(y.sum())
        shifts.append(shift)
        bounds.append(y.sum() + shift)
    out = torch.tensor(bounds, dtype=torch.float64)
    if return_parts:
        return out, torch.tensor(duals), torch.tensor(shifts)
    return out


def vertex_cover_certificate(data: Data, V: Tensor, dense_max: int = 2000
                             ) -> Tensor:
    """Certified lower bound on the minimum weighted vertex cover of every
    graph (via its vector-program relaxation), from node vectors ``V``
    (coordinate 0 is ``e1``). Returns ``[num_graphs]`` float64.

    Nodes with a self-loop belong to every cover: their weight is added and
    the bound is computed on the graph without them (and their edges), which
    keeps it valid.

    Raises:
        TypeError, ValueError: invalid ``data`` (or ``node_weight``), ``V``
            not ``[N, r]``, non-finite ``V``, ``dense_max < 0``.
    """
    from scipy.sparse.linalg import lsqr
    dense_max = _check(data, V, dense_max, node_weight=True)
    src_all, dst_all = data.edge_index.cpu().numpy()
    forced_all = np.zeros(data.num_nodes, dtype=bool)
    forced_all[src_all[src_all == dst_all]] = True
    Vn = torch.nn.functional.normalize(V.detach().double(), dim=-1)
    Vn = Vn.cpu().numpy()
    nw = getattr(data, 'node_weight', None)
    wn = (np.ones(data.num_nodes) if nw is None
          else nw.double().view(-1).cpu().numpy())
    r = Vn.shape[1]
    out = []
    for _g, lo, hi, u, v, _w in _split(data):
        forced = forced_all[lo:hi]
        base = float(wn[lo:hi][forced].sum())
        keep = ~forced
        new_id = np.cumsum(keep) - 1
        ek = keep[u] & keep[v]
        u, v = new_id[u[ek]], new_id[v[ek]]
        n = int(keep.sum())
        m = len(u)
        wg = wn[lo:hi][keep]
        Xg = Vn[lo:hi][keep]
        if m == 0:  # edgeless: the empty cover is optimal
            out.append(base)
            continue
        e1 = np.zeros(r)
        e1[0] = 1.0
        Vf = np.vstack([e1, Xg])  # [n+1, r]; row k+1 = node k
        ui, vi = u + 1, v + 1
        # unknowns z = [y_0..y_n, mu_1..mu_m]; equations: (n+1) blocks of r
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []

        def put(block: np.ndarray, col: np.ndarray, vec: np.ndarray,
                rows: list = rows, cols: list = cols, vals: list = vals
                ) -> None:
            rr = (block[:, None] * r + np.arange(r)[None, :]).ravel()
            rows.append(rr)
            cols.append(np.repeat(col, r))
            vals.append(vec.ravel())

        k = np.arange(n + 1)
        put(k, k, Vf)
        ecol = n + 1 + np.arange(m)
        put(np.zeros(m, dtype=np.int64), ecol, 0.5 * (Vf[ui] + Vf[vi]))
        put(ui, ecol, 0.5 * (e1[None, :] - Vf[vi]))
        put(vi, ecol, 0.5 * (e1[None, :] - Vf[ui]))
        A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                  np.concatenate(cols))),
                          shape=((n + 1) * r, n + 1 + m))
        rhs = np.zeros((n + 1, r))
        rhs[0] = (wg[:, None] / 4 * Vf[1:]).sum(0)
        rhs[1:] = wg[:, None] / 4 * e1[None, :]
        z = lsqr(A, rhs.ravel(), atol=1e-12, btol=1e-12, iter_lim=20000)[0]
        y, mu = z[:n + 1], z[n + 1:]
        # S = C - Diag(y) - sum mu_e A_e
        s0 = wg / 4 - 0.5 * (np.bincount(u, mu, n) + np.bincount(v, mu, n))
        ri = np.concatenate([np.zeros(n, dtype=np.int64), k[1:], ui, vi,
                             k])
        ci = np.concatenate([k[1:], np.zeros(n, dtype=np.int64), vi, ui,
                             k])
        vv = np.concatenate([s0, s0, mu / 2, mu / 2, -y])
        S = sp.csr_matrix((vv, (ri, ci)), shape=(n + 1, n + 1))
        lam = _extreme_eig(S, False, dense_max)
        lb = wg.sum() / 2 + y.sum() + mu.sum() + (n + 1) * min(0.0, lam)
        # the cover weight is >= 0 whatever the multipliers
        out.append(base + max(lb, 0.0))
    return torch.tensor(out, dtype=torch.float64)


__all__ = ['maxcut_certificate', 'vertex_cover_certificate']
