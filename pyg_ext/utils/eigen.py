"""Laplacian eigendecompositions for positional encodings (the math behind
:class:`pyg_ext.transforms.AddEigenPE`).

Everything here works on a *collated* description of many graphs at once:
per-graph local ``edge_index`` (``[2, E]``, node ids ``0..n_g-1`` of their own
graph), ``edge_graph`` (``[E]``, the graph of each edge) and ``num_nodes``
(``[B]``). Small graphs are grouped into buckets of equal size and solved with
one batched dense :func:`torch.linalg.eigh` call per bucket (float64); large
graphs go through a shift-invert Lanczos solve with a deterministic start
vector, a fallback chain and a Rayleigh-Ritz clean-up, so the result is an
exactly orthonormal basis and never an ARPACK failure.

Conventions:

* ``'sym'``: :math:`L = I - D^{-1/2} A D^{-1/2}` with Chung's convention for
  isolated nodes (:math:`L_{ii} = 0` when :math:`d_i = 0`), so the null space
  has one dimension per connected component, isolated nodes included.
* ``'none'`` (or ``'comb'``): the combinatorial Laplacian :math:`D - A`.
* ``'rw'``: :math:`L = I - D^{-1} A`. Its eigenvalues are those of ``'sym'``;
  its (right) eigenvectors are :math:`D^{-1/2} u`, rescaled to unit norm.
  They are :math:`D`-orthogonal, not orthogonal: use ``'sym'`` or ``'none'``
  for basis-invariant encoders (BasisNet, SPE).

The graph is symmetrised as :math:`\\max(A, A^\\top)` and self-loops are
ignored. Eigenvalues are returned in ascending order; the ``k`` pairs kept are
zero-padded (with a boolean mask) when a graph has fewer than ``k`` of them.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

logger = logging.getLogger(__name__)

NORMALIZATIONS = ('sym', 'rw', 'none')
_ALIASES = {'comb': 'none', 'combinatorial': 'none', None: 'none'}

#: Largest graph solved with a dense ``eigh``; larger ones use Lanczos.
DENSE_THRESHOLD = 1000
#: Upper bound on ``B * n * n`` float64 entries per batched ``eigh`` call.
MAX_BUCKET_ENTRIES = 1 << 23
#: buckets of graphs with at most this many nodes use the compiled solver of
#: :mod:`._eigen_numba` on CPU when numba is installed (it forms only the
#: ``k`` wanted eigenvectors; 1.8x LAPACK at 25 nodes); larger ones LAPACK
COMPILED_MAX_NODES = 64
#: set to ``False`` to always use ``torch.linalg.eigh``
USE_COMPILED = True
#: fewest graphs (per call, or per size bucket) for the compiled path: its
#: one-off compilation (~10 s, then cached on disk) pays off on dataset
#: precomputes, not on a transform applied to one graph
COMPILED_MIN_GRAPHS = 64


def check_normalization(normalization: str | None) -> str:
    """Canonical name of a Laplacian normalisation (raises on unknown)."""
    norm = _ALIASES.get(normalization, normalization)
    if norm not in NORMALIZATIONS:
        raise ValueError(f"unknown Laplacian normalization {normalization!r}; "
                         f"use one of 'sym', 'rw', 'none'")
    return norm  # type: ignore[return-value]


@dataclass
class EigenResult:
    """Output of :func:`batched_eigenpairs`.

    Attributes:
        eigvecs: ``[sum n_g, k]`` eigenvectors, rows in graph order,
            zero columns where a graph has fewer than ``k`` pairs.
        eigvals: ``[B, k]`` ascending eigenvalues, zero-padded.
        mask: ``[B, k]`` bool, ``True`` for real (non-padding) pairs.
        cut: ``[B]`` bool, ``True`` where the ``k``-th kept eigenvalue equals
            the next one (``k`` cuts through a repeated eigenspace).
    """

    eigvecs: Tensor
    eigvals: Tensor
    mask: Tensor
    cut: Tensor


# --------------------------------------------------------------------------
# small dense helpers

def canonicalize_signs(vecs: Tensor, tol: float = 1e-6) -> Tensor:
    """Deterministic sign per eigenvector column (never a random flip).

    The sign makes :math:`\\sum_i v_i > 0`; where that sum vanishes (e.g. every
    non-trivial eigenvector of ``'none'``), :math:`\\sum_i v_i^3 > 0`; where
    both vanish, the entry of largest magnitude (first on ties) positive. The
    first two rules are permutation invariant.

    Args:
        vecs: ``[..., n, k]`` eigenvectors (columns).
        tol: what counts as a vanishing sum.
    """
    if vecs.numel() == 0:
        return vecs
    s1 = vecs.sum(-2)
    s3 = vecs.pow(3).sum(-2)
    idx = vecs.abs().argmax(-2, keepdim=True)
    s_max = vecs.gather(-2, idx).squeeze(-2)
    sign = torch.where(s1.abs() > tol, s1.sign(),
                       torch.where(s3.abs() > tol, s3.sign(), s_max.sign()))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    return vecs * sign.unsqueeze(-2)


def eigenspace_ids(eigvals: Tensor, mask: Tensor | None = None,
                   tol: float = 1e-5) -> Tensor:
    """Group sorted eigenvalues into eigenspaces by consecutive gaps.

    Two neighbours belong to one eigenspace when they differ by at most
    ``tol`` (chained, unlike rounding, which can split an eigenspace across a
    rounding boundary). Padding entries (``mask`` false) get their own group.

    Args:
        eigvals: ``[B, k]`` ascending eigenvalues.
        mask: ``[B, k]`` bool mask of real entries.
        tol: the largest gap inside one eigenspace.

    Returns:
        ``[B, k]`` long tensor, the group of each slot (``0..k-1``, groups
        numbered in ascending eigenvalue order).
    """
    B, k = eigvals.shape
    if k == 0:
        return torch.zeros(B, 0, dtype=torch.long, device=eigvals.device)
    same = (eigvals[:, 1:] - eigvals[:, :-1]).abs() <= tol
    if mask is not None:
        same = same & mask[:, 1:] & mask[:, :-1]
    new = torch.cat([torch.ones(B, 1, dtype=torch.long, device=eigvals.device),
                     (~same).long()], dim=1)
    return new.cumsum(1) - 1


def multiplicities(eigvals: Tensor, mask: Tensor | None = None,
                   tol: float = 1e-5) -> Tensor:
    """Multiplicity (within the ``k`` kept) of each slot's eigenvalue,
    ``[B, k]`` (0 for padding)."""
    gid = eigenspace_ids(eigvals, mask, tol)
    k = eigvals.size(1)
    onehot = torch.nn.functional.one_hot(gid, k).to(eigvals.dtype)
    if mask is not None:
        onehot = onehot * mask.unsqueeze(-1).to(eigvals.dtype)
    counts = onehot.sum(1)  # [B, k groups]
    mult = counts.gather(1, gid)
    if mask is not None:
        mult = mult * mask.to(mult.dtype)
    return mult.long()


def dense_laplacian(adj: Tensor, normalization: str) -> Tensor:
    """Laplacian of a batch of dense symmetric adjacency matrices
    ``[..., n, n]`` (zero diagonal)."""
    norm = check_normalization(normalization)
    deg = adj.sum(-1)
    if norm == 'none':
        return torch.diag_embed(deg) - adj
    dinv = torch.where(deg > 0, deg.clamp_min(1e-300).rsqrt(),
                       torch.zeros_like(deg))
    eye = torch.diag_embed((deg > 0).to(adj.dtype))
    return eye - dinv.unsqueeze(-1) * adj * dinv.unsqueeze(-2)


def _rw_vectors(vecs: Tensor, deg: Tensor) -> Tensor:
    # right eigenvectors of I - D^-1 A from those of the sym Laplacian
    scale = torch.where(deg > 0, deg.clamp_min(1e-300).rsqrt(),
                        torch.ones_like(deg))
    out = vecs * scale.unsqueeze(-1)
    norm = out.norm(dim=-2, keepdim=True)
    return out / torch.where(norm > 0, norm, torch.ones_like(norm))


# --------------------------------------------------------------------------
# selection of the k kept pairs

def _select(evals: Tensor, evecs: Tensor, k: int, drop_trivial: bool,
            zero_tol: float, cut_tol: float
            ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """evals [B, n] ascending, evecs [B, n, n] -> the k kept pairs."""
    B, n = evals.shape  # n: pairs available
    n_rows = evecs.size(1)
    dev = evals.device
    if drop_trivial:
        start = (evals <= zero_tol).sum(1)
    else:
        start = torch.zeros(B, dtype=torch.long, device=dev)
    idx = start.unsqueeze(1) + torch.arange(k, device=dev)  # [B, k]
    mask = idx < n
    idx_c = idx.clamp(max=max(n - 1, 0))
    vals = evals.gather(1, idx_c) * mask
    vecs = evecs.gather(2, idx_c.unsqueeze(1).expand(B, n_rows, k))
    vecs = vecs * mask.unsqueeze(1)
    nxt = start + k  # first eigenvalue not kept
    has_next = nxt < n
    last = evals.gather(1, (nxt - 1).clamp(0, max(n - 1, 0)).unsqueeze(1))
    after = evals.gather(1, nxt.clamp(max=max(n - 1, 0)).unsqueeze(1))
    cut = has_next & ((after - last).squeeze(1).abs() <= cut_tol)
    if k == 0:
        cut = torch.zeros(B, dtype=torch.bool, device=dev)
    return vals, vecs, mask, cut


# --------------------------------------------------------------------------
# sparse path

def _sparse_eigenpairs(src: np.ndarray, dst: np.ndarray, w: np.ndarray,
                       n: int, kk: int, normalization: str
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``kk`` smallest eigenpairs of a large sparse Laplacian.

    Shift-invert Lanczos (``sigma`` slightly below 0, so ``L - sigma I`` is
    positive definite and its LU factorisation cannot be singular), with a
    fixed pseudo-random start vector (deterministic, and not orthogonal to any
    eigenvector, unlike a vector of ones). Falls back to Lanczos on
    ``c I - L`` and finally to a dense solve. The basis is then cleaned by a
    Rayleigh-Ritz step, so it is orthonormal to machine precision.

    Returns ``(evals [kk], evecs [n, kk], deg [n])``.
    """
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    A = sp.coo_matrix((w, (src, dst)), shape=(n, n)).tocsr()
    A = A.maximum(A.T).tocsr()
    A.setdiag(0)
    A.eliminate_zeros()
    deg = np.asarray(A.sum(1)).ravel()
    if normalization == 'none':
        L = sp.diags(deg) - A
    else:
        dinv = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1)), 0)
        Dm = sp.diags(dinv)
        L = sp.diags((deg > 0).astype(np.float64)) - Dm @ A @ Dm
    L = sp.csc_matrix(L)
    v0 = np.random.default_rng(0).standard_normal(n)
    ncv = min(n, max(2 * kk + 1, 20))
    try:
        _, vecs = spla.eigsh(L, k=kk, sigma=-1e-3, which='LM', v0=v0,
                                ncv=ncv, maxiter=10 * n)
    except Exception as e:  # ArpackNoConvergence, singular factor, ...
        logger.info('shift-invert eigsh failed (%s); trying c*I - L', e)
        try:
            c = 2.0 if normalization != 'none' else 2.0 * float(deg.max())
            M = sp.identity(n, format='csc') * (c + 1e-3) - L
            _, vecs = spla.eigsh(M, k=kk, which='LA', v0=v0,
                                  ncv=min(n, max(4 * kk + 1, 40)),
                                  maxiter=100 * n)
        except Exception as e2:
            logger.warning('sparse eigensolvers failed (%s); dense fallback '
                           'for a graph of %d nodes', e2, n)
            vecs = np.linalg.eigh(L.toarray())[1][:, :kk]
    # Rayleigh-Ritz: orthonormalise, then diagonalise L on that subspace
    Q, _ = np.linalg.qr(vecs)
    H = Q.T @ (L @ Q)
    H = (H + H.T) / 2
    mu, U = np.linalg.eigh(H)
    return mu, Q @ U, deg


# --------------------------------------------------------------------------
# main entry point

def batched_eigenpairs(
    edge_index: Tensor,
    edge_graph: Tensor,
    num_nodes: Tensor,
    k: int,
    normalization: str = 'sym',
    edge_weight: Tensor | None = None,
    drop_trivial: bool = False,
    canonical_signs: bool = True,
    dtype: torch.dtype = torch.float32,
    dense_threshold: int = DENSE_THRESHOLD,
    zero_tol: float = 1e-8,
    cut_tol: float = 1e-6,
    device: torch.device | str | None = None,
) -> EigenResult:
    """The first ``k`` Laplacian eigenpairs of every graph of a collection.

    Args:
        edge_index: ``[2, E]`` edges in *local* node ids of their graph.
        edge_graph: ``[E]`` the graph of each edge (``0..B-1``).
        num_nodes: ``[B]`` node count of each graph.
        k: pairs kept per graph (zero-padded when fewer exist).
        normalization: ``'sym'``, ``'rw'`` or ``'none'``.
        edge_weight: optional ``[E]`` non-negative weights.
        drop_trivial: skip the null space (one eigenvector per connected
            component; the constant or degree-scaled indicators) and keep the
            next ``k`` pairs.
        canonical_signs: apply :func:`canonicalize_signs` (otherwise the
            solver's signs, still deterministic).
        dtype: dtype of the returned tensors (computation is float64).
        dense_threshold: graphs with more nodes use the sparse solver.
        zero_tol: eigenvalues up to this count as zero (``drop_trivial``).
        cut_tol: the ``k``-th and the next eigenvalue closer than this mark a
            cut eigenspace.
        device: where to compute the dense decompositions (default: the
            device of ``edge_index``); on CUDA, buckets with ``n <= 32`` use
            cuSOLVER's batched Jacobi solver.
    """
    norm = check_normalization(normalization)
    if k < 0:
        raise ValueError(f'k must be >= 0, got {k}')
    out_dev = edge_index.device
    dev = torch.device(device) if device is not None else out_dev
    num_nodes = num_nodes.to(torch.long).cpu()
    B = int(num_nodes.numel())
    total = int(num_nodes.sum())
    f64 = torch.float64
    vecs_all = torch.zeros(total, k, dtype=f64, device=dev)
    vals_all = torch.zeros(B, k, dtype=f64, device=dev)
    mask_all = torch.zeros(B, k, dtype=torch.bool, device=dev)
    cut_all = torch.zeros(B, dtype=torch.bool, device=dev)
    if B == 0:
        return EigenResult(vecs_all.to(dtype), vals_all.to(dtype), mask_all,
                           cut_all)

    _check_edges(edge_index, edge_graph, num_nodes, edge_weight)
    node_ptr = torch.zeros(B + 1, dtype=torch.long)
    node_ptr[1:] = num_nodes.cumsum(0)
    if dev.type == 'cpu' and B >= COMPILED_MIN_GRAPHS and 0 < int(
            num_nodes.max()) <= min(COMPILED_MAX_NODES, dense_threshold):
        res = _compiled_pairs(edge_index, edge_graph, edge_weight, node_ptr,
                              k, norm, drop_trivial, canonical_signs,
                              zero_tol, cut_tol)
        if res is not None:
            return EigenResult(*(t.to(out_dev) for t in (
                res[0].to(dtype), res[1].to(dtype), res[2], res[3])))
    if B == 1 and 0 < total <= dense_threshold:  # per-graph fast path
        return _dense_single(edge_index.to(dev), edge_weight, total, k, norm,
                             drop_trivial, canonical_signs, dtype, zero_tol,
                             cut_tol, out_dev)
    ei = edge_index.to(dev)
    eg = edge_graph.to(dev, torch.long)
    ew = (edge_weight.to(dev, f64).view(-1) if edge_weight is not None
          else torch.ones(ei.size(1), dtype=f64, device=dev))
    keep = ei[0] != ei[1]  # self-loops do not change D - A
    ei, eg, ew = ei[:, keep], eg[keep], ew[keep]

    sizes, bucket_of_graph = torch.unique(num_nodes, return_inverse=True)
    # edges sorted by the bucket of their graph -> contiguous segments
    edge_bucket = bucket_of_graph.to(dev)[eg]
    order = torch.argsort(edge_bucket, stable=True)
    ei, eg, ew = ei[:, order], eg[order], ew[order]
    e_counts = torch.bincount(edge_bucket, minlength=len(sizes)).cpu()
    e_ptr = [0, *e_counts.cumsum(0).tolist()]
    g_order = torch.argsort(bucket_of_graph, stable=True)
    g_counts = torch.bincount(bucket_of_graph, minlength=len(sizes))
    g_ptr = [0, *g_counts.cumsum(0).tolist()]
    pos_in_bucket = torch.empty(B, dtype=torch.long)

    for b, n in enumerate(sizes.tolist()):
        graphs = g_order[g_ptr[b]:g_ptr[b + 1]]
        if n == 0:
            continue
        pos_in_bucket[graphs] = torch.arange(len(graphs))
        seg = slice(e_ptr[b], e_ptr[b + 1])
        b_ei, b_eg, b_ew = ei[:, seg], eg[seg], ew[seg]
        b_pos = pos_in_bucket.to(dev)[b_eg]
        graphs_d = graphs.to(dev)
        if n > dense_threshold:
            for j, g in enumerate(graphs.tolist()):
                sel = b_pos == j
                _sparse_one(b_ei[:, sel], b_ew[sel], n, g, k, norm,
                            drop_trivial, zero_tol, cut_tol, node_ptr,
                            vecs_all, vals_all, mask_all, cut_all)
            continue
        chunk = max(1, MAX_BUCKET_ENTRIES // (n * n))
        for c0 in range(0, len(graphs), chunk):
            c1 = min(c0 + chunk, len(graphs))
            nb = c1 - c0
            if c0 == 0 and c1 == len(graphs):
                sel_ei, sel_pos, sel_w = b_ei, b_pos, b_ew
            else:
                sel = (b_pos >= c0) & (b_pos < c1)
                sel_ei, sel_pos, sel_w = b_ei[:, sel], b_pos[sel] - c0, \
                    b_ew[sel]
            sel_out = (_compiled_pairs(sel_ei, sel_pos, sel_w,
                                       torch.arange(nb + 1) * n, k, norm,
                                       drop_trivial, False, zero_tol,
                                       cut_tol)
                       if dev.type == 'cpu' and n <= COMPILED_MAX_NODES
                       and nb >= COMPILED_MIN_GRAPHS
                       else None)
            if sel_out is not None:  # signs are canonicalised below
                vecs, vals, mask, cut = sel_out
                gs = graphs_d[c0:c1]
                rows = (node_ptr[gs].unsqueeze(1)
                        + torch.arange(n)).reshape(-1)
                vecs_all[rows] = vecs.reshape(nb * n, k)
                vals_all[gs] = vals
                mask_all[gs] = mask
                cut_all[gs] = cut
                continue
            adj = torch.zeros(nb * n * n, dtype=f64, device=dev)
            adj.index_add_(0, sel_pos * (n * n) + sel_ei[0] * n + sel_ei[1],
                           sel_w)
            adj = adj.view(nb, n, n)
            adj = torch.maximum(adj, adj.transpose(1, 2))
            lap = dense_laplacian(adj, 'none' if norm == 'none' else 'sym')
            evals, evecs = torch.linalg.eigh(lap)
            evals = evals.clamp_min(0.0)
            vals, vecs, mask, cut = _select(evals, evecs, k, drop_trivial,
                                            zero_tol, cut_tol)
            if norm == 'rw':
                vecs = _rw_vectors(vecs, adj.sum(-1))
            gs = graphs_d[c0:c1]
            rows = (node_ptr.to(dev)[gs].unsqueeze(1)
                    + torch.arange(n, device=dev)).reshape(-1)
            vecs_all[rows] = vecs.reshape(nb * n, k)
            vals_all[gs] = vals
            mask_all[gs] = mask
            cut_all[gs] = cut

    if canonical_signs and total > 0 and k > 0:
        vecs_all = _canonicalize_ragged(vecs_all, node_ptr.to(dev), B)
    return EigenResult(vecs_all.to(out_dev, dtype), vals_all.to(out_dev, dtype),
                       mask_all.to(out_dev), cut_all.to(out_dev))


def _check_edges(edge_index: Tensor, edge_graph: Tensor, num_nodes: Tensor,
                 edge_weight: Tensor | None) -> None:
    """Clear errors for malformed input instead of a wrong answer (a local
    id past its graph would land in the next graph's matrix)."""
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f'edge_index must have shape [2, E], got '
                         f'{tuple(edge_index.shape)}')
    E = edge_index.size(1)
    if edge_graph.numel() != E:
        raise ValueError(f'edge_graph has {edge_graph.numel()} entries for '
                         f'{E} edges')
    if (num_nodes < 0).any():
        raise ValueError('num_nodes must be >= 0')
    if E == 0:
        return
    eg = edge_graph.cpu().long()
    B = num_nodes.numel()
    if int(eg.min()) < 0 or int(eg.max()) >= B:
        raise ValueError(f'edge_graph must be in [0, {B}) (one entry per '
                         'graph in num_nodes)')
    ei = edge_index.cpu()
    lim = num_nodes[eg]
    if bool(((ei < 0) | (ei >= lim)).any()):
        raise ValueError('edge_index has local node ids outside [0, '
                         'num_nodes) of their graph')
    if edge_weight is not None:
        ew = edge_weight.detach().view(-1)
        if ew.numel() != E:
            raise ValueError(f'edge_weight has {ew.numel()} entries for {E} '
                             'edges')
        if not bool(torch.isfinite(ew).all()) or bool((ew < 0).any()):
            raise ValueError('edge_weight must be finite and >= 0')


def _compiled_pairs(edge_index: Tensor, edge_graph: Tensor,
                    edge_weight: Tensor | None, node_ptr: Tensor, k: int,
                    norm: str, drop_trivial: bool, canonical_signs: bool,
                    zero_tol: float, cut_tol: float
                    ) -> tuple[Tensor, Tensor, Tensor, Tensor] | None:
    """``(vecs, vals, mask, cut)`` of the graphs owning nodes
    ``node_ptr[g]:node_ptr[g + 1]`` in one compiled call
    (:func:`._eigen_numba.graphs_lowest`: Laplacian, lowest pairs, ``'rw'``
    scaling and optionally canonical signs), no per-bucket tensor work.
    ``None`` without numba or if QL failed to converge on some graph (the
    caller takes the LAPACK path)."""
    kern = _eigen_kernels() if USE_COMPILED else None
    if kern is None:
        return None
    ei = edge_index.cpu()
    eg = edge_graph.cpu().long()
    ew = (edge_weight.detach().cpu().double().view(-1)
          if edge_weight is not None
          else torch.ones(ei.size(1), dtype=torch.float64))
    keep = ei[0] != ei[1]
    if not bool(keep.all()):
        ei, eg, ew = ei[:, keep], eg[keep], ew[keep]
    if eg.numel() > 1 and not bool((eg[1:] >= eg[:-1]).all()):
        order = torch.argsort(eg, stable=True)
        ei, eg, ew = ei[:, order], eg[order], ew[order]
    B = node_ptr.numel() - 1
    eptr = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(np.bincount(eg.numpy(), minlength=B), out=eptr[1:])
    N = int(node_ptr[-1])
    vecs = np.empty((N, k))
    vals = np.empty((B, k))
    mask = np.empty((B, k), dtype=np.bool_)
    cut = np.empty(B, dtype=np.bool_)
    ok = np.empty(B, dtype=np.bool_)
    code = {'none': 0, 'sym': 1, 'rw': 2}[norm]
    kern.graphs_lowest(np.ascontiguousarray(ei[0].numpy()),
                       np.ascontiguousarray(ei[1].numpy()),
                       np.ascontiguousarray(ew.numpy()), eptr,
                       node_ptr.numpy(), code, k, drop_trivial, zero_tol,
                       cut_tol, canonical_signs, 1e-6, vecs, vals, mask,
                       cut, ok)
    if not ok.all():  # pragma: no cover - QL did not converge
        return None
    return (torch.from_numpy(vecs), torch.from_numpy(vals),
            torch.from_numpy(mask), torch.from_numpy(cut))


@functools.cache
def _eigen_kernels() -> Any:
    from pyg_ext.typing import WITH_NUMBA
    if not WITH_NUMBA:
        return None
    try:
        from pyg_ext.utils import _eigen_numba
    except Exception:  # pragma: no cover - broken numba install
        return None
    return _eigen_numba


def _dense_single(ei: Tensor, edge_weight: Tensor | None, n: int, k: int,
                  norm: str, drop_trivial: bool, canonical_signs: bool,
                  dtype: torch.dtype, zero_tol: float, cut_tol: float,
                  out_dev: torch.device) -> EigenResult:
    # one small graph: numpy has far less per-op overhead than torch here;
    # the same rules as the batched path (LAPACK's symmetric solver, float64)
    src = ei[0].cpu().numpy()
    dst = ei[1].cpu().numpy()
    w = (edge_weight.detach().cpu().double().view(-1).numpy()
         if edge_weight is not None else np.ones(len(src)))
    A = np.zeros((n, n))
    np.add.at(A, (src, dst), w)
    A = np.maximum(A, A.T)
    np.fill_diagonal(A, 0.0)
    deg = A.sum(1)
    if norm == 'none':
        L = np.diag(deg) - A
    else:
        dinv = np.zeros(n)
        np.divide(1.0, np.sqrt(deg), out=dinv, where=deg > 0)
        L = np.diag((deg > 0).astype(np.float64)) - dinv[:, None] * A * dinv
    evals, evecs = np.linalg.eigh(L)
    evals = np.maximum(evals, 0.0)
    start = int((evals <= zero_tol).sum()) if drop_trivial else 0
    stop = min(start + k, n)
    m = max(stop - start, 0)
    vals = np.zeros(k)
    vecs = np.zeros((n, k))
    vals[:m] = evals[start:stop]
    vecs[:, :m] = evecs[:, start:stop]
    cut = bool(stop < n and m == k and k > 0
               and abs(evals[stop] - evals[stop - 1]) <= cut_tol)
    if norm == 'rw':
        scale = np.ones(n)
        np.divide(1.0, np.sqrt(deg), out=scale, where=deg > 0)
        vecs = vecs * scale[:, None]
        nrm = np.linalg.norm(vecs, axis=0)
        vecs = vecs / np.where(nrm > 0, nrm, 1.0)
    if canonical_signs and k > 0:
        vecs = _canonical_np(vecs)
    mask = np.zeros(k, dtype=bool)
    mask[:m] = True
    return EigenResult(torch.from_numpy(vecs).to(out_dev, dtype),
                       torch.from_numpy(vals).view(1, k).to(out_dev, dtype),
                       torch.from_numpy(mask).view(1, k).to(out_dev),
                       torch.tensor([cut], device=out_dev))


def _canonical_np(vecs: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    # numpy twin of _canonicalize_ragged for one graph
    s1 = vecs.sum(0)
    s3 = (vecs ** 3).sum(0)
    absv = np.abs(vecs)
    first = np.argmax(absv >= absv.max(0, keepdims=True) - 1e-12, axis=0)
    s_max = vecs[first, np.arange(vecs.shape[1])]
    sign = np.where(np.abs(s1) > tol, np.sign(s1),
                    np.where(np.abs(s3) > tol, np.sign(s3), np.sign(s_max)))
    sign[sign == 0] = 1.0
    return vecs * sign


def _sparse_one(ei: Tensor, ew: Tensor, n: int, g: int, k: int, norm: str,
                drop_trivial: bool, zero_tol: float, cut_tol: float,
                node_ptr: Tensor, vecs_all: Tensor, vals_all: Tensor,
                mask_all: Tensor, cut_all: Tensor) -> None:
    n_zero = 0
    src = ei[0].cpu().numpy()
    dst = ei[1].cpu().numpy()
    if drop_trivial:
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components
        A = sp.coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
        n_zero = connected_components(A, directed=False)[0]
    kk = min(n - 1, n_zero + k + 1)
    evals, evecs, deg = _sparse_eigenpairs(
        src, dst, ew.cpu().numpy(), n, kk, norm)
    ev = torch.from_numpy(evals).clamp_min(0.0).unsqueeze(0)
    V = torch.from_numpy(evecs).unsqueeze(0)
    if drop_trivial:  # use the exact component count, not a tolerance
        ev_t = ev.clone()
        ev_t[:, :n_zero] = 0.0
        ev_t[:, n_zero:] = ev_t[:, n_zero:].clamp_min(2 * zero_tol)
        ev = ev_t
    vals, vecs, mask, cut = _select(ev, V, k, drop_trivial, zero_tol, cut_tol)
    if norm == 'rw':
        vecs = _rw_vectors(vecs, torch.from_numpy(deg).unsqueeze(0))
    dev = vecs_all.device
    r0 = int(node_ptr[g])
    vecs_all[r0:r0 + n] = vecs[0].to(dev)
    vals_all[g] = vals[0].to(dev)
    mask_all[g] = mask[0].to(dev)
    cut_all[g] = cut[0].to(dev)


def _canonicalize_ragged(vecs: Tensor, node_ptr: Tensor, B: int,
                         tol: float = 1e-6) -> Tensor:
    # canonicalize_signs for [sum n, k] rows split by graph, vectorised
    n_per = node_ptr[1:] - node_ptr[:-1]
    batch = torch.repeat_interleave(torch.arange(B, device=vecs.device),
                                    n_per)
    k = vecs.size(1)
    s1 = torch.zeros(B, k, dtype=vecs.dtype, device=vecs.device)
    s1.index_add_(0, batch, vecs)
    s3 = torch.zeros_like(s1).index_add_(0, batch, vecs.pow(3))
    # entry of largest magnitude per graph and column (first on ties)
    absv = vecs.abs()
    mx = torch.zeros_like(s1).scatter_reduce_(
        0, batch.unsqueeze(1).expand_as(vecs), absv, 'amax',
        include_self=True)
    is_max = absv >= mx[batch] - 1e-12
    row = torch.arange(vecs.size(0), device=vecs.device).unsqueeze(1)
    big = torch.full_like(row, vecs.size(0)).expand_as(vecs)
    first = torch.where(is_max, row.expand_as(vecs), big)
    first_row = torch.full((B, k), vecs.size(0), dtype=torch.long,
                           device=vecs.device).scatter_reduce_(
        0, batch.unsqueeze(1).expand_as(vecs), first, 'amin',
        include_self=True)
    first_row = first_row.clamp(max=max(vecs.size(0) - 1, 0))
    s_max = vecs.gather(0, first_row)
    sign = torch.where(s1.abs() > tol, s1.sign(),
                       torch.where(s3.abs() > tol, s3.sign(), s_max.sign()))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    return vecs * sign[batch]


def eigenpairs_of_graph(edge_index: Tensor, num_nodes: int, k: int,
                        **kwargs: object) -> EigenResult:
    """:func:`batched_eigenpairs` for a single graph."""
    eg = torch.zeros(edge_index.size(1), dtype=torch.long,
                     device=edge_index.device)
    return batched_eigenpairs(edge_index, eg,
                              torch.tensor([num_nodes]), k,
                              **kwargs)  # type: ignore[arg-type]


__all__ = [
    'DENSE_THRESHOLD',
    'EigenResult',
    'NORMALIZATIONS',
    'batched_eigenpairs',
    'canonicalize_signs',
    'check_normalization',
    'dense_laplacian',
    'eigenpairs_of_graph',
    'eigenspace_ids',
    'multiplicities',
]
