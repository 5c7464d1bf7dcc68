"""Exact small optimal-transport solvers used by the graph metrics.

With unit masses and blank padding every transport problem in TMD is a
square assignment problem (the transportation polytope with integral margins
has integral vertices), solved here exactly:

* :func:`batched_assignment` -- many ``K x K`` problems at once: closed forms
  for ``K <= 3``, a vectorised dynamic programme over row subsets
  (``O(K 2^K)`` per problem) for ``K <= 10``, scipy's
  :func:`~scipy.optimize.linear_sum_assignment` above;
* :func:`emd` -- general exact transport (network simplex of POT's C++
  solver) for non-uniform masses (RJL metric);
* optional numba kernels (:func:`numba_kernels`), imported lazily.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

#: largest assignment size solved by the subset dynamic programme
DP_MAX = 10
#: elements of a cost tensor per chunk
CHUNK_ELEMS = 1 << 22


def _assign_dp(C: np.ndarray) -> np.ndarray:
    """Min-cost perfect matching of each ``C[p]`` (``K x K``) by DP over the
    subsets of columns used by the first ``popcount`` rows."""
    P, K, _ = C.shape
    if K == 0:
        return np.zeros(P)
    if K == 1:
        return C[:, 0, 0].copy()
    if K == 2:
        return np.minimum(C[:, 0, 0] + C[:, 1, 1], C[:, 0, 1] + C[:, 1, 0])
    if K == 3:
        a = C
        return np.minimum.reduce([
            a[:, 0, 0] + a[:, 1, 1] + a[:, 2, 2],
            a[:, 0, 0] + a[:, 1, 2] + a[:, 2, 1],
            a[:, 0, 1] + a[:, 1, 0] + a[:, 2, 2],
            a[:, 0, 1] + a[:, 1, 2] + a[:, 2, 0],
            a[:, 0, 2] + a[:, 1, 0] + a[:, 2, 1],
            a[:, 0, 2] + a[:, 1, 1] + a[:, 2, 0],
        ])
    full = (1 << K) - 1
    dp = np.full((1 << K, P), np.inf)
    dp[0] = 0.0
    Ct = np.ascontiguousarray(C.transpose(1, 2, 0))  # [K, K, P]
    popcount = np.array([bin(m).count('1') for m in range(1 << K)])
    for mask in range(full):
        i = popcount[mask]
        base = dp[mask]
        for j in range(K):
            bit = 1 << j
            if mask & bit:
                continue
            np.minimum(dp[mask | bit], base + Ct[i, j], out=dp[mask | bit])
    return dp[full]


def _assign_lsa(C: np.ndarray) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment
    out = np.empty(C.shape[0])
    for p in range(C.shape[0]):
        r, c = linear_sum_assignment(C[p])
        out[p] = C[p][r, c].sum()
    return out


def batched_assignment(C: np.ndarray) -> np.ndarray:
    """Exact minimum-cost perfect matching value of each ``C[p]``.

    Args:
        C: costs, ``[P, K, K]``.

    Returns:
        ``[P]`` float64 optimal values.
    """
    C = np.asarray(C, dtype=np.float64)
    P, K, K2 = C.shape
    if K != K2:
        raise ValueError(f'square problems expected, got {C.shape}')
    if P == 0:
        return np.zeros(0)
    if K > DP_MAX:
        return _assign_lsa(C)
    step = max(1, CHUNK_ELEMS // max(1, (1 << K) + K * K))
    if P <= step:
        return _assign_dp(C)
    return np.concatenate([_assign_dp(C[s:s + step])
                           for s in range(0, P, step)])


def emd(a: np.ndarray, b: np.ndarray, M: np.ndarray) -> float:
    """Exact optimal-transport cost between histograms ``a`` and ``b`` (equal
    total mass) with ground cost ``M``, by POT's network simplex (its C
    solver directly, without the Python wrapper's per-call checks)."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    M = np.ascontiguousarray(M, dtype=np.float64)
    fn = _emd_c()
    if fn is None:  # pragma: no cover - POT layout changed
        import ot
        return float(ot.emd2(a, b, M))
    # emd_c drops zero-mass points itself
    _, cost, _, _, code = fn(a, b, M, 1_000_000, 1)
    if code != 1:  # pragma: no cover - solver trouble: use the wrapper
        import ot
        return float(ot.emd2(a, b, M, numItermax=10_000_000))
    return float(cost)


@functools.cache
def _emd_c() -> Any:
    try:
        from ot.lp.emd_wrap import emd_c
    except ImportError:  # pragma: no cover
        return None
    return emd_c


def assignment(M: np.ndarray) -> float:
    """Exact minimum-cost perfect matching value of one square matrix."""
    from scipy.optimize import linear_sum_assignment
    if M.size == 0:
        return 0.0
    r, c = linear_sum_assignment(M)
    return float(M[r, c].sum())


#: the graph metrics' kernel module, as :mod:`pyg_ext.utils._numba_setup`
#: loads it: ``(module, what it serves, expected compile seconds)``
NUMBA_KERNELS = ('pyg_ext.metrics._numba', 'the graph metrics', 30)


@functools.cache
def numba_kernels() -> Any:
    """Compile (once) and return the numba kernels, or ``None`` without
    numba."""
    from pyg_ext.typing import WITH_NUMBA
    if not WITH_NUMBA:
        return None
    from pyg_ext.utils._numba_setup import load_kernels
    return load_kernels(*NUMBA_KERNELS)
