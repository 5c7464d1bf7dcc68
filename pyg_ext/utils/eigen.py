"""Laplacian eigendecompositions for positional encodings (the math behind
:class:`pyg_ext.transforms.AddEigenPE`).

Everything here works on a *collated* description of many graphs at once:
per-graph local ``edge_index`` (``[2, E]``, node ids ``0..n_g-1`` of their own
graph), ``edge_graph`` (``[E]``, the graph of each edge) and ``num_nodes``
(``[B]``). Small graphs are grouped into buckets of equal size and solved with
one batched dense :func:`torch.linalg.eigh` call per bucket (float64). Graphs
above ``dense_threshold`` are split into connected components: the null space
is known exactly (one vector per component), small components are solved
densely, large ones by shift-invert Lanczos on the complement of their null
vector (deterministic start, more Ritz pairs than asked, Rayleigh-Ritz
clean-up) whose result is *verified* by an inertia count (no eigenvalue, and
no copy of a repeated one, missed) with a dense fallback; the per-component
spectra are merged. The null space dropped by ``drop_trivial`` is counted by
connected components on every path, never by an eigenvalue tolerance.

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
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pyg_ext.utils.validation import (
    check_choice,
    check_edge_index,
    check_edge_weight,
    check_finite,
    check_int,
    check_num_nodes,
    check_positive_int,
    check_real,
    check_tensor,
)

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
    if normalization is not None and not isinstance(normalization, str):
        raise TypeError(f'normalization must be a str, got '
                        f'{type(normalization).__name__}')
    norm = _ALIASES.get(normalization, normalization)
    check_choice(norm, 'normalization', NORMALIZATIONS + tuple(
        a for a in _ALIASES if a is not None))
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

    Raises:
        TypeError: ``vecs`` is not a floating tensor.
        ValueError: ``vecs`` has fewer than 2 dimensions, holds NaN or
            infinite values (not checked under :func:`torch.compile`), or
            ``tol < 0``.
    """
    check_tensor(vecs, 'vecs', floating=True)
    if vecs.dim() < 2:
        raise ValueError(f'vecs must be [..., n, k], got shape '
                         f'{tuple(vecs.shape)}')
    tol = check_real(tol, 'tol', low=0.0)
    if not torch.compiler.is_compiling():
        check_finite(vecs, 'vecs')
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

    Raises:
        TypeError: ``eigvals`` is not floating or ``mask`` not bool.
        ValueError: ``eigvals`` is not 2-D or holds NaN or infinite values
            (padding included; not checked under :func:`torch.compile`),
            ``mask`` has another shape, ``tol < 0``.
    """
    _check_eigvals(eigvals, mask)
    tol = check_real(tol, 'tol', low=0.0)
    B, k = eigvals.shape
    if k == 0:
        return torch.zeros(B, 0, dtype=torch.long, device=eigvals.device)
    same = (eigvals[:, 1:] - eigvals[:, :-1]).abs() <= tol
    if mask is not None:
        same = same & mask[:, 1:] & mask[:, :-1]
    new = torch.cat([torch.ones(B, 1, dtype=torch.long, device=eigvals.device),
                     (~same).long()], dim=1)
    return new.cumsum(1) - 1


def _check_eigvals(eigvals: Tensor, mask: Tensor | None) -> None:
    check_tensor(eigvals, 'eigvals', dim=2, floating=True)
    if not torch.compiler.is_compiling():  # one host sync
        check_finite(eigvals, 'eigvals')
    if mask is not None:
        check_tensor(mask, 'mask')
        if mask.dtype != torch.bool:
            raise TypeError(f'mask must be a bool tensor, got {mask.dtype}')
        if mask.shape != eigvals.shape:
            raise ValueError(f'mask must have the shape of eigvals '
                             f'{tuple(eigvals.shape)}, got '
                             f'{tuple(mask.shape)}')


def multiplicities(eigvals: Tensor, mask: Tensor | None = None,
                   tol: float = 1e-5) -> Tensor:
    """Multiplicity (within the ``k`` kept) of each slot's eigenvalue,
    ``[B, k]`` (0 for padding). Raises as :func:`eigenspace_ids`."""
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
    ``[..., n, n]`` (zero diagonal).

    Raises:
        TypeError: ``adj`` is not a floating tensor.
        ValueError: ``adj`` is not ``[..., n, n]``, holds NaN, infinite or
            negative entries, or ``normalization`` is unknown.
    """
    norm = check_normalization(normalization)
    check_tensor(adj, 'adj', floating=True)
    if adj.dim() < 2 or adj.size(-1) != adj.size(-2):
        raise ValueError(f'adj must be [..., n, n], got shape '
                         f'{tuple(adj.shape)}')
    check_finite(adj, 'adj')
    if adj.numel() and bool((adj < 0).any()):
        raise ValueError('adj must be >= 0')
    deg = adj.sum(-1)
    return _laplacian_from_degrees(adj, deg, norm)


def _laplacian_of_weights(adj: Tensor, norm: str) -> Tensor:
    """:func:`dense_laplacian` (``'none'``, else ``'sym'``) of adjacency
    matrices summed from checked (finite, non-negative) edge weights: no
    entry can be negative or NaN, only a sum can overflow to infinity,
    which shows in the degrees (one ``[..., n]`` check instead of three
    ``[..., n, n]`` ones per bucket)."""
    deg = adj.sum(-1)
    if not bool(torch.isfinite(deg).all()):
        raise ValueError('edge_weight: the summed weights of some node '
                         'overflow to infinity')
    return _laplacian_from_degrees(adj, deg, norm)


def _laplacian_from_degrees(adj: Tensor, deg: Tensor, norm: str) -> Tensor:
    """``D - A`` (``'none'``) or ``I - D^-1/2 A D^-1/2`` (else; isolated
    nodes get a zero row) from checked adjacency matrices and degrees."""
    if norm == 'none':
        return torch.diag_embed(deg) - adj
    dinv = torch.where(deg > 0, deg.clamp_min(1e-300).rsqrt(),
                       torch.zeros_like(deg))
    eye = torch.diag_embed((deg > 0).to(adj.dtype))
    return eye - dinv.unsqueeze(-1) * adj * dinv.unsqueeze(-2)


def _stable_argsort(keys: Tensor) -> Tensor:
    """``torch.argsort(keys, stable=True)``; on CPU through numpy (a radix
    sort for small keys: 7x torch's on 76,000 bucket ids)."""
    if keys.device.type != 'cpu' or keys.numel() == 0:
        return torch.argsort(keys, stable=True)
    np_keys = keys.numpy()
    top = int(np_keys.max())
    if 0 <= int(np_keys.min()) and top < 32768:
        np_keys = np_keys.astype(np.int16)
    return torch.from_numpy(np.argsort(np_keys, kind='stable'))


def _rw_vectors(vecs: Tensor, deg: Tensor) -> Tensor:
    # right eigenvectors of I - D^-1 A from those of the sym Laplacian
    scale = torch.where(deg > 0, deg.clamp_min(1e-300).rsqrt(),
                        torch.ones_like(deg))
    out = vecs * scale.unsqueeze(-1)
    norm = out.norm(dim=-2, keepdim=True)
    return out / torch.where(norm > 0, norm, torch.ones_like(norm))


# --------------------------------------------------------------------------
# selection of the k kept pairs

def _select(evals: Tensor, evecs: Tensor, k: int, ntriv: Tensor | None,
            cut_tol: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """evals [B, n] ascending, evecs [B, n, n] -> the k kept pairs, after
    the first ``ntriv[b]`` (the null space, counted by components) when
    ``ntriv`` is given."""
    B, n = evals.shape  # n: pairs available
    n_rows = evecs.size(1)
    dev = evals.device
    if ntriv is not None:
        start = ntriv.to(dev, torch.long).clamp(max=n)
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
# connected components (the null space, counted exactly)

def _adjacency_csr(src: np.ndarray, dst: np.ndarray, w: np.ndarray,
                   n: int) -> Any:
    """``max(A, A^T)`` as scipy CSR, without self-loops or zero entries
    (a zero-weight edge is no edge: it changes neither the Laplacian nor the
    components)."""
    import scipy.sparse as sp
    A = sp.coo_matrix((w, (src, dst)), shape=(n, n)).tocsr()
    A = A.maximum(A.T).tocsr()
    A.setdiag(0)
    A.eliminate_zeros()
    return A


def _trivial_counts(edge_index: Tensor, edge_graph: Tensor,
                    edge_weight: Tensor | None, num_nodes: Tensor) -> Tensor:
    """Connected components of every graph (isolated nodes count), ``[B]``
    long on CPU: the exact number of zero Laplacian eigenvalues, for every
    normalisation. Edges of weight 0 and self-loops connect nothing. One
    pass over all graphs: a compiled union-find, else scipy on the
    block-diagonal union (ids must be checked already)."""
    sizes = num_nodes.detach().cpu().numpy().astype(np.int64, copy=False)
    B = sizes.shape[0]
    nptr = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(sizes, out=nptr[1:])
    src, dst = edge_index.detach().cpu().numpy().astype(np.int64,
                                                        copy=False)
    eg = edge_graph.detach().cpu().numpy().astype(np.int64, copy=False)
    w = (edge_weight.detach().cpu().view(-1).numpy().astype(np.float64,
                                                             copy=False)
         if edge_weight is not None else np.ones(src.shape[0]))
    return torch.from_numpy(_component_counts_np(src, dst, w, eg, nptr))


def _component_counts_np(src: np.ndarray, dst: np.ndarray, w: np.ndarray,
                         eg: np.ndarray, nptr: np.ndarray) -> np.ndarray:
    """Numpy core of :func:`_trivial_counts` (int64 ids, float64 weights,
    ``nptr`` the node offsets of the graphs)."""
    B = nptr.shape[0] - 1
    out = np.empty(B, dtype=np.int64)
    kern = _eigen_kernels() if USE_COMPILED else None
    if kern is not None:  # ~100x cheaper than scipy on one small graph
        kern.count_components(np.ascontiguousarray(src),
                              np.ascontiguousarray(dst),
                              np.ascontiguousarray(w), eg, nptr, out)
        return out
    from scipy.sparse.csgraph import connected_components
    N = int(nptr[-1])
    if N == 0:
        return np.zeros(B, dtype=np.int64)
    keep = (src != dst) & (w > 0)
    off = nptr[eg[keep]]
    A = _adjacency_csr(src[keep] + off, dst[keep] + off,
                       np.ones(int(keep.sum())), N)
    _, labels = connected_components(A, directed=False)
    comp_graph = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    comp_graph[labels] = np.repeat(np.arange(B), np.diff(nptr))
    return np.bincount(comp_graph, minlength=B)


# --------------------------------------------------------------------------
# sparse path: per connected component, verified


def _null_vector(deg: np.ndarray, normalization: str) -> np.ndarray:
    """Unit null vector of a connected component's Laplacian (constant for
    ``'none'``, ``sqrt(deg)`` for ``'sym'``; ``[1]`` for an isolated node)."""
    if normalization == 'none' or deg.size == 1:
        z = np.ones(deg.size)
    else:
        z = np.sqrt(deg)
    return z / np.linalg.norm(z)


def _count_below(L: Any, tau: float) -> int | None:
    """Number of eigenvalues of the symmetric sparse ``L`` below ``tau``
    (Sylvester's law of inertia: negative pivots of a symmetric ``LDL^T`` of
    ``L - tau I``, SuperLU in symmetric mode without row pivoting). ``None``
    when the factorisation is singular or not symmetric (caller falls
    back)."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla
    M = sp.csc_matrix(L - tau * sp.identity(L.shape[0], format='csc'))
    try:
        lu = spla.splu(M, permc_spec='MMD_AT_PLUS_A', diag_pivot_thresh=0.0,
                       options=dict(SymmetricMode=True))
    except RuntimeError:  # exactly singular pivot
        return None
    if not np.array_equal(lu.perm_r, lu.perm_c):
        return None
    piv = lu.U.diagonal()
    if not np.all(np.isfinite(piv)) or np.any(piv == 0):
        return None
    return int((piv < 0).sum())


def _component_lowest(L: Any, z: np.ndarray, p: int, scale: float,
                      cut_tol: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``p`` smallest non-zero eigenpairs of a *connected* component's
    sparse Laplacian ``L`` (null vector ``z``, eigenvalues ``<= scale``).

    Shift-invert Lanczos on ``z``'s orthogonal complement (the null space is
    deflated exactly) with a fixed start vector and more Ritz pairs than
    asked, then a Rayleigh-Ritz step. The result is accepted only if every
    residual is small *and* an inertia count (:func:`_count_below`) shows
    that no eigenvalue below a threshold above the ``p``-th was missed
    (Lanczos can miss copies of a repeated eigenvalue); otherwise the block
    is enlarged to hold every eigenvalue the count found (at least doubled),
    and once it would exceed a quarter of the component a dense ``eigh``
    decides.

    Returns ``(mu [p], X [s, p])``, ``X`` orthonormal and orthogonal to
    ``z``."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla
    s = L.shape[0]
    p = min(p, s - 1)
    L = sp.csr_matrix(L)
    delta = max(1e-7 * scale, 4.0 * cut_tol)
    res_tol = 1e-8 * scale
    nev = p + max(10, p)
    if 4 * nev < s:
        sigma = -1e-3 * scale
        try:
            lu = spla.splu(sp.csc_matrix(
                L - sigma * sp.identity(s, format='csc')))
        except RuntimeError:  # pragma: no cover - L - sigma I is definite
            lu = None
        v0 = np.random.default_rng(0).standard_normal(s)
        v0 -= z * (z @ v0)

        def op(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x).reshape(-1)
            x = x - z * (z @ x)
            y = lu.solve(x)
            return y - z * (z @ y)

        while lu is not None and 4 * nev < s:
            OP = spla.LinearOperator((s, s), matvec=op, dtype=np.float64)
            try:
                _, V = spla.eigsh(OP, k=nev, which='LM', v0=v0,
                                  ncv=min(s - 1, max(2 * nev + 1, nev + 20)),
                                  maxiter=1000)
            except Exception as e:  # ArpackNoConvergence, ...
                logger.info('shift-invert eigsh failed (%s)', e)
                nev *= 2
                continue
            W = V - np.outer(z, z @ V)
            Q, _ = np.linalg.qr(W)
            H = Q.T @ (L @ Q)
            mu, U = np.linalg.eigh((H + H.T) / 2)
            X = Q @ U
            res = np.linalg.norm(L @ X - X * mu, axis=0)
            tau = mu[-1] + delta  # above every Ritz value, or in a gap
            for j in range(p, nev):
                if mu[j] - mu[j - 1] > 2 * delta:
                    tau = 0.5 * (mu[j - 1] + mu[j])
                    break
            ok = False
            below = None
            for t in (tau, tau + 0.37 * delta):
                below = _count_below(L, t)
                if below is not None:
                    ok = below - 1 == int((mu < t).sum())  # - null vector
                    break
            if ok and res[:p].max() <= res_tol:
                return mu[:p], X[:, :p]
            logger.info('sparse solve of a %d-node component missed '
                        'eigenvalues with %d Ritz pairs; retrying', s, nev)
            nev = max(2 * nev, (below or 0) + 10)
    logger.info('dense eigh fallback for a component of %d nodes', s)
    Ld = L.toarray()
    P = np.eye(s) - np.outer(z, z)
    # deflate the exact null vector: it moves above every other eigenvalue
    mu, X = np.linalg.eigh(P @ Ld @ P + 2.0 * scale * np.outer(z, z))
    return mu[:p], X[:, :p]


def _large_graph_pairs(src: np.ndarray, dst: np.ndarray, w: np.ndarray,
                       n: int, k: int, normalization: str,
                       drop_trivial: bool, dense_threshold: int,
                       cut_tol: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                  np.ndarray]:
    """Candidate eigenpairs of a graph above the dense threshold, solved per
    connected component and merged.

    The null space is exact: one unit vector per component (constant,
    ``sqrt(deg)`` for ``'sym'``; isolated nodes are components), eigenvalue
    ``0``. Components up to ``dense_threshold`` nodes are solved by batched
    dense ``eigh`` (grouped by size), larger ones by
    :func:`_component_lowest`. Each component contributes its ``k + 1``
    smallest non-trivial pairs, so the ``k + 1`` smallest of the union are
    exact (the extra one decides ``cut``).

    Returns ``(vals [m], vecs [n, m], trivial [m] bool, deg [n])``, ``m``
    candidates sorted by eigenvalue, trivial pairs first among equals, then
    by component (components numbered by their smallest node).
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    A = _adjacency_csr(src, dst, w, n)
    deg = np.asarray(A.sum(1)).ravel()
    ncomp, labels = connected_components(A, directed=False)
    sizes = np.bincount(labels, minlength=ncomp)
    order = np.argsort(labels, kind='stable')
    cptr = np.zeros(ncomp + 1, dtype=np.int64)
    np.cumsum(sizes, out=cptr[1:])
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n) - cptr[labels[order]]
    if normalization == 'none':
        M = A.tocoo()
        diag = deg
        scale = 2.0 * float(deg.max()) if n else 1.0
    else:
        dinv = np.zeros(n)
        np.divide(1.0, np.sqrt(deg), out=dinv, where=deg > 0)
        M = (sp.diags(dinv) @ A @ sp.diags(dinv)).tocoo()
        diag = (deg > 0).astype(np.float64)
        scale = 2.0
    scale = max(scale, 1e-300)
    kp = k + 1
    c_vals: list[np.ndarray] = []
    c_comp: list[np.ndarray] = []
    c_col: list[np.ndarray] = []
    blocks: dict[int, np.ndarray] = {}  # component -> [s, p] vectors
    e_comp = labels[M.row]
    e_size = sizes[e_comp]
    for size in np.unique(sizes):
        size = int(size)
        if size == 1:
            continue
        comps = np.nonzero(sizes == size)[0]
        p = min(size - 1, kp)
        if size <= dense_threshold:
            chunk = max(1, MAX_BUCKET_ENTRIES // (size * size))
            slot = np.full(ncomp, -1, dtype=np.int64)
            for c0 in range(0, len(comps), chunk):
                cs = comps[c0:c0 + chunk]
                slot[cs] = np.arange(len(cs))
                Ls = np.zeros((len(cs), size, size))
                sel = (e_size == size) & (slot[e_comp] >= 0)
                Ls[slot[e_comp[sel]], pos[M.row[sel]],
                   pos[M.col[sel]]] = -M.data[sel]
                nodes = order[np.repeat(cptr[cs], size)
                              + np.tile(np.arange(size), len(cs))]
                Ls[np.repeat(np.arange(len(cs)), size),
                   np.tile(np.arange(size), len(cs)),
                   np.tile(np.arange(size), len(cs))] = diag[nodes]
                ev, evec = np.linalg.eigh(Ls)
                for j, c in enumerate(cs.tolist()):
                    blocks[c] = evec[j][:, 1:1 + p]
                c_vals.append(np.maximum(ev[:, 1:1 + p], 0.0).reshape(-1))
                c_comp.append(np.repeat(cs, p))
                c_col.append(np.tile(np.arange(p), len(cs)))
                slot[cs] = -1
        else:
            for c in comps.tolist():
                nodes = order[cptr[c]:cptr[c + 1]]
                Lc = (sp.diags(diag[nodes])
                      - M.tocsr()[nodes][:, nodes])
                z = _null_vector(deg[nodes], normalization)
                mu, X = _component_lowest(Lc, z, p, scale, cut_tol)
                blocks[c] = X
                c_vals.append(np.maximum(mu, 0.0))
                c_comp.append(np.full(len(mu), c))
                c_col.append(np.arange(len(mu)))
    vals = np.concatenate(c_vals) if c_vals else np.zeros(0)
    comp = (np.concatenate(c_comp) if c_comp
            else np.zeros(0, dtype=np.int64))
    col = np.concatenate(c_col) if c_col else np.zeros(0, dtype=np.int64)
    n_triv = 0 if drop_trivial else min(ncomp, kp)
    vals = np.concatenate([np.zeros(n_triv), vals])
    comp = np.concatenate([np.arange(n_triv), comp])
    col = np.concatenate([np.full(n_triv, -1), col])
    trivial = col < 0
    sel = np.lexsort((col, comp, ~trivial, vals))[:kp]
    vecs = np.zeros((n, len(sel)))
    for j, i in enumerate(sel.tolist()):
        c = int(comp[i])
        nodes = order[cptr[c]:cptr[c + 1]]
        if trivial[i]:
            vecs[nodes, j] = _null_vector(deg[nodes], normalization)
        else:
            vecs[nodes, j] = blocks[c][:, col[i]]
    return vals[sel], vecs, trivial[sel], deg


# --------------------------------------------------------------------------
# main entry point

def batched_eigenpairs(*args: Any, **kwargs: Any) -> EigenResult:
    _wanted.flag = False
    try:
        return _batched_eigenpairs(*args, **kwargs)
    finally:
        if getattr(_wanted, 'flag', False):
            # the compiled solver would have served this call: compile or
            # load it in the background now that the call is done
            _wanted.flag = False
            from pyg_ext.utils._numba_setup import start_loading
            start_loading(*_KERNELS)


def _batched_eigenpairs(
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
    zero_tol: float | None = None,
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
        drop_trivial: skip the null space and keep the next ``k`` pairs. The
            null space is counted exactly, not by a tolerance: one pair per
            connected component (isolated nodes included; self-loops and
            edges of weight 0 connect nothing), so a tiny but non-zero
            eigenvalue (a weak bridge) is kept.
        canonical_signs: apply :func:`canonicalize_signs` (otherwise the
            solver's signs, still deterministic).
        dtype: dtype of the returned tensors (computation is float64).
        dense_threshold: graphs with more nodes are split into connected
            components; components up to this size are solved densely,
            larger ones by a sparse solver whose result is verified by an
            inertia count (no eigenvalue missed, repeated ones included).
        zero_tol: deprecated and ignored (the null space is counted by
            connected components); kept for backward compatibility.
        cut_tol: the ``k``-th and the next eigenvalue closer than this mark a
            cut eigenspace.
        device: where to compute the dense decompositions (default: the
            device of ``edge_index``); on CUDA, buckets with ``n <= 32`` use
            cuSOLVER's batched Jacobi solver.

    Raises:
        TypeError: a tensor argument is not a tensor or has the wrong dtype,
            ``k`` or ``dense_threshold`` is not an int.
        ValueError: ``k < 1``, ``dense_threshold < 1``, an unknown
            ``normalization``, malformed ``edge_index`` / ``edge_graph`` /
            ``num_nodes`` (shapes, ids out of range of their graph), an
            ``edge_weight`` of the wrong length or with NaN, infinite or
            negative entries, a negative ``cut_tol``.
    """
    norm = check_normalization(normalization)
    k = check_positive_int(k, 'k')
    dense_threshold = check_int(dense_threshold, 'dense_threshold', low=1)
    cut_tol = check_real(cut_tol, 'cut_tol', low=0.0)
    if zero_tol is not None:
        check_real(zero_tol, 'zero_tol', low=0.0)
    check_edge_index(edge_index)
    if isinstance(num_nodes, (list, tuple)):
        num_nodes = torch.as_tensor(num_nodes, dtype=torch.long)
    check_tensor(num_nodes, 'num_nodes', dim=1, floating=False)
    if num_nodes.numel() and int(num_nodes.min()) < 0:
        raise ValueError(f'num_nodes must be >= 0, got '
                         f'{int(num_nodes.min())}')
    check_tensor(edge_graph, 'edge_graph', dim=1, floating=False)
    check_edge_weight(edge_weight, edge_index.size(1), nonnegative=True)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f'dtype must be a floating torch.dtype, got '
                        f'{dtype!r}')
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
    # the exact size of every null space (connected components), one
    # vectorised pass; only needed to drop it
    single = B == 1 and 0 < total <= dense_threshold
    ntriv = (_trivial_counts(edge_index, edge_graph, edge_weight, num_nodes)
             if drop_trivial and not single else None)
    if dev.type == 'cpu' and B >= COMPILED_MIN_GRAPHS and 0 < int(
            num_nodes.max()) <= min(COMPILED_MAX_NODES, dense_threshold):
        res = _compiled_pairs(edge_index, edge_graph, edge_weight, node_ptr,
                              k, norm, ntriv, canonical_signs, cut_tol)
        if res is not None:
            return EigenResult(*(t.to(out_dev) for t in (
                res[0].to(dtype), res[1].to(dtype), res[2], res[3])))
    if single:  # per-graph fast path
        return _dense_single(edge_index.to(dev), edge_weight, total, k, norm,
                             drop_trivial, canonical_signs, dtype, cut_tol,
                             out_dev)
    ei = edge_index.to(dev)
    eg = edge_graph.to(dev, torch.long)
    ew = (edge_weight.to(dev, f64).view(-1) if edge_weight is not None
          else torch.ones(ei.size(1), dtype=f64, device=dev))
    keep = ei[0] != ei[1]  # self-loops do not change D - A
    ei, eg, ew = ei[:, keep], eg[keep], ew[keep]

    sizes, bucket_of_graph = torch.unique(num_nodes, return_inverse=True)
    # edges sorted by the bucket of their graph -> contiguous segments
    edge_bucket = bucket_of_graph.to(dev)[eg]
    order = _stable_argsort(edge_bucket)
    ei, eg, ew = ei[:, order], eg[order], ew[order]
    e_counts = torch.bincount(edge_bucket, minlength=len(sizes)).cpu()
    e_ptr = [0, *e_counts.cumsum(0).tolist()]
    g_order = _stable_argsort(bucket_of_graph)
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
                            drop_trivial, dense_threshold, cut_tol,
                            node_ptr, vecs_all, vals_all, mask_all, cut_all)
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
            gs = graphs_d[c0:c1]
            sel_triv = ntriv[gs.cpu()] if ntriv is not None else None
            sel_out = (_compiled_pairs(sel_ei, sel_pos, sel_w,
                                       torch.arange(nb + 1) * n, k, norm,
                                       sel_triv, False, cut_tol)
                       if dev.type == 'cpu' and n <= COMPILED_MAX_NODES
                       and nb >= COMPILED_MIN_GRAPHS
                       else None)
            if sel_out is not None:  # signs are canonicalised below
                vecs, vals, mask, cut = sel_out
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
            lap = _laplacian_of_weights(adj, norm)
            evals, evecs = torch.linalg.eigh(lap)
            evals = evals.clamp_min(0.0)
            vals, vecs, mask, cut = _select(evals, evecs, k, sel_triv,
                                            cut_tol)
            if norm == 'rw':
                vecs = _rw_vectors(vecs, adj.sum(-1))
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


# the public name carries the implementation's signature and docstring
functools.update_wrapper(batched_eigenpairs, _batched_eigenpairs)
batched_eigenpairs.__name__ = batched_eigenpairs.__qualname__ = \
    'batched_eigenpairs'


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


def _compiled_pairs(edge_index: Tensor, edge_graph: Tensor,
                    edge_weight: Tensor | None, node_ptr: Tensor, k: int,
                    norm: str, ntriv: Tensor | None, canonical_signs: bool,
                    cut_tol: float
                    ) -> tuple[Tensor, Tensor, Tensor, Tensor] | None:
    """``(vecs, vals, mask, cut)`` of the graphs owning nodes
    ``node_ptr[g]:node_ptr[g + 1]`` in one compiled call
    (:func:`._eigen_numba.graphs_lowest`: Laplacian, lowest pairs, ``'rw'``
    scaling and optionally canonical signs), no per-bucket tensor work.
    ``ntriv``: null-space size (components) of each graph, to drop it.
    ``None`` without numba or if QL failed to converge on some graph (the
    caller takes the LAPACK path)."""
    kern = _eigen_kernels(want=True) if USE_COMPILED else None
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
    triv = (np.ascontiguousarray(ntriv.cpu().numpy(), dtype=np.int64)
            if ntriv is not None else np.zeros(B, dtype=np.int64))
    kern.graphs_lowest(np.ascontiguousarray(ei[0].numpy()),
                       np.ascontiguousarray(ei[1].numpy()),
                       np.ascontiguousarray(ew.numpy()), eptr,
                       node_ptr.numpy(), code, k, triv, cut_tol,
                       canonical_signs, 1e-6, vecs, vals, mask, cut, ok)
    if not ok.all():  # pragma: no cover - QL did not converge
        return None
    return (torch.from_numpy(vecs), torch.from_numpy(vals),
            torch.from_numpy(mask), torch.from_numpy(cut))


#: the compiled kernels for :mod:`._numba_setup`: (module, what, seconds)
_KERNELS = ('pyg_ext.utils._eigen_numba', 'eigenpairs', 20)
_wanted = threading.local()  # a call that would have used the kernels


def _eigen_kernels(want: bool = False) -> Any:
    """The compiled kernels if they are loaded, else ``None``: never waits
    for a compilation (the callers' LAPACK / scipy paths are exact).
    ``want``: this call would use them, so :func:`batched_eigenpairs` starts
    loading them in the background when it returns (once per process)."""
    from pyg_ext.typing import WITH_NUMBA
    if not WITH_NUMBA:
        return None
    from pyg_ext.utils._numba_setup import kernels_if_ready
    kern = kernels_if_ready(*_KERNELS, start=False)
    if kern is None and want:
        _wanted.flag = True
    return kern


def wait_for_kernels(timeout: float | None = None) -> bool:
    """Load the compiled eigensolver now, waiting at most ``timeout``
    seconds (e.g. before timing a benchmark); ``True`` when it is ready.
    Without this, the first calls in a process use LAPACK while the kernels
    compile in a background process (or load from the disk cache in a
    background thread: :func:`._numba_setup.start_loading`)."""
    from pyg_ext.typing import WITH_NUMBA
    if not WITH_NUMBA:
        return False
    from pyg_ext.utils._numba_setup import wait_for_kernels as wait
    return wait(*_KERNELS, timeout=timeout) is not None


def _dense_single(ei: Tensor, edge_weight: Tensor | None, n: int, k: int,
                  norm: str, drop_trivial: bool, canonical_signs: bool,
                  dtype: torch.dtype, cut_tol: float,
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
    # the null space: one pair per connected component, counted exactly
    start = (int(_component_counts_np(
        src.astype(np.int64, copy=False), dst.astype(np.int64, copy=False),
        w.astype(np.float64, copy=False), np.zeros(len(src), np.int64),
        np.array([0, n], dtype=np.int64))[0]) if drop_trivial else 0)
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
                drop_trivial: bool, dense_threshold: int, cut_tol: float,
                node_ptr: Tensor, vecs_all: Tensor, vals_all: Tensor,
                mask_all: Tensor, cut_all: Tensor) -> None:
    # one graph above the dense threshold: per component (exact null space),
    # merged; see _large_graph_pairs
    vals, vecs, _, deg = _large_graph_pairs(
        ei[0].cpu().numpy(), ei[1].cpu().numpy(),
        ew.detach().cpu().double().numpy(), n, k, norm, drop_trivial,
        dense_threshold, cut_tol)
    m = min(k, len(vals))
    V = torch.zeros(n, k, dtype=torch.float64)
    V[:, :m] = torch.from_numpy(vecs[:, :m])
    if norm == 'rw':
        V = _rw_vectors(V.unsqueeze(0), torch.from_numpy(deg).unsqueeze(0))[0]
    dev = vecs_all.device
    r0 = int(node_ptr[g])
    vecs_all[r0:r0 + n] = V.to(dev)
    lam = torch.zeros(k, dtype=torch.float64)
    lam[:m] = torch.from_numpy(vals[:m])
    vals_all[g] = lam.to(dev)
    mask = torch.zeros(k, dtype=torch.bool)
    mask[:m] = True
    mask_all[g] = mask.to(dev)
    cut_all[g] = bool(len(vals) > k and abs(vals[k] - vals[k - 1]) <= cut_tol)


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
    """:func:`batched_eigenpairs` for a single graph (raises as it does;
    ``num_nodes`` must be an int >= 0 and bound every id)."""
    check_edge_index(edge_index)
    num_nodes = check_num_nodes(num_nodes)
    check_edge_index(edge_index, num_nodes)
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
