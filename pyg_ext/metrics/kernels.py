r"""Kernels from graph distances and the TMD-SVM protocol.

The TMD paper classifies graphs with an SVM on the precomputed kernel
:math:`K = \exp(-\gamma D)` (reference ``svc.py``: :math:`\gamma \in \{0.01,
0.05, 0.1\}`); :func:`tmd_svm_cv` evaluates it by stratified 10-fold
cross-validation with :math:`\gamma` and :math:`C` chosen by an inner
stratified cross-validation on each training fold only (no test leakage).
Needs scikit-learn (``pip install 'pyg_ext[learn]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pyg_ext.utils.validation import check_int, check_real


def _check_distances(D: Any, square: bool = True,
                     name: str = 'D') -> np.ndarray:
    if hasattr(D, 'detach'):
        D = D.detach().cpu().numpy()
    try:
        D = np.asarray(D, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f'{name} must be a numeric distance matrix, got '
                        f'{type(D).__name__}') from None
    if D.ndim != 2 or (square and D.shape[0] != D.shape[1]):
        raise ValueError(f'{name} must be a {"square " if square else ""}2-D '
                         f'distance matrix, got shape {D.shape}')
    if not np.isfinite(D).all():
        raise ValueError(f'{name} (the distance matrix) contains NaN or inf')
    if (D < 0).any():
        raise ValueError(f'{name}: distances must be >= 0 (found '
                         f'{float(D.min())!r})')
    return D


def exp_kernel(D: Any, gamma: float = 0.1) -> np.ndarray:
    r"""The kernel :math:`\exp(-\gamma D)` of a distance matrix (square or
    rectangular, e.g. test x train).

    Not positive semi-definite in general (TMD is not a Hilbertian metric);
    :class:`sklearn.svm.SVC` still accepts it, as in the TMD paper.
    """
    gamma = check_real(gamma, 'gamma', low=0.0, low_open=True)
    return np.exp(-gamma * _check_distances(D, square=False))


def gaussian_kernel(D: Any, gamma: float = 0.1) -> np.ndarray:
    r"""The kernel :math:`\exp(-\gamma D^2)`."""
    gamma = check_real(gamma, 'gamma', low=0.0, low_open=True)
    D = _check_distances(D, square=False)
    return np.exp(-gamma * D * D)


def _grid(values: Any, name: str) -> list[Any]:
    """A grid argument as a list; a single number is a one-point grid."""
    if isinstance(values, (int, float, np.number)) and \
            not isinstance(values, bool):
        return [values]
    if isinstance(values, (str, bytes)) or not hasattr(values, '__iter__'):
        raise TypeError(f'{name} must be a number or a sequence of numbers, '
                        f'got {type(values).__name__} {values!r}')
    return list(values)


def tmd_svm_cv(distances: Any, y: Any,
               gammas: Sequence[float] = (0.01, 0.05, 0.1),
               Cs: Sequence[float] = (0.1, 1.0, 10.0, 100.0),
               n_splits: int = 10, inner_splits: int = 5,
               seeds: Sequence[int] = (0,)) -> dict[str, Any]:
    r"""Stratified ``n_splits``-fold cross-validated accuracy of an SVM on the
    precomputed kernel :math:`\exp(-\gamma D)`.

    For every outer fold, :math:`(\gamma, C)` is chosen by an inner
    stratified ``inner_splits``-fold CV on the training part only, then the
    SVM is refitted on the whole training part and scored on the held-out
    fold.

    Args:
        distances: ``[G, G]`` distance matrix (e.g. from
            :func:`~pyg_ext.metrics.pairwise`).
        y: ``[G]`` class labels.
        gammas, Cs: the grid (a single number: a one-point grid).
        n_splits, inner_splits: outer / inner folds.
        seeds: one repetition of the whole protocol per seed (fold
            shuffling; a single int: one seed).

    Raises:
        ValueError: a non-square, asymmetric, negative or non-finite
            ``distances`` or one with a non-zero diagonal, ``y``
            of the wrong length, ``n_splits`` / ``inner_splits`` < 2, a
            non-positive ``gamma`` or ``C``.
        TypeError: non-numeric grid values or split counts.

    Returns:
        dict with ``mean`` and ``std`` (over seeds of the per-seed mean fold
        accuracy), ``per_seed`` means, ``fold_mean`` / ``fold_std`` over all
        folds of all seeds, and the chosen ``params`` per fold.
    """
    from pyg_ext.typing import require
    require('sklearn', 'tmd_svm_cv')
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import SVC

    D = _check_distances(distances, name='distances')
    scale = max(float(D.max()), 1.0) if D.size else 1.0
    asym = float(np.abs(D - D.T).max()) if D.size else 0.0
    diag = float(np.abs(np.diag(D)).max()) if D.size else 0.0
    if asym > 1e-9 * scale or diag > 1e-9 * scale:
        raise ValueError(
            f'distances must be a symmetric pairwise matrix with a zero '
            f'diagonal (as tmd_pairwise returns), got max |D - D.T| = '
            f'{asym:.3g} and max |diag| = {diag:.3g}')
    gammas, Cs, seeds = (_grid(v, name) for v, name in
                         ((gammas, 'gammas'), (Cs, 'Cs'), (seeds, 'seeds')))
    y = np.asarray(y.detach().cpu() if hasattr(y, 'detach') else y).reshape(-1)
    if len(y) != D.shape[0]:
        raise ValueError(f'y has {len(y)} labels for {D.shape[0]} graphs '
                         '(distances)')
    n_splits = check_int(n_splits, 'n_splits', low=2)
    inner_splits = check_int(inner_splits, 'inner_splits', low=2)
    gammas = [check_real(g, 'gammas', low=0.0, low_open=True)
              for g in gammas]
    Cs = [check_real(C, 'Cs', low=0.0, low_open=True) for C in Cs]
    seeds = [check_int(s, 'seeds', low=0) for s in seeds]
    if not gammas or not Cs or not seeds:
        raise ValueError('gammas, Cs and seeds must not be empty')
    kernels = {g: exp_kernel(D, g) for g in gammas}
    per_seed, folds, params = [], [], []
    for seed in seeds:
        outer = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
        accs = []
        for tr, te in outer.split(np.zeros(len(y)), y):
            inner = StratifiedKFold(inner_splits, shuffle=True,
                                    random_state=seed)
            inner_splits_ = list(inner.split(np.zeros(len(tr)), y[tr]))
            best, best_score = None, -1.0
            for g in gammas:
                K = kernels[g][np.ix_(tr, tr)]
                for C in Cs:
                    score = 0.0
                    for itr, ite in inner_splits_:
                        clf = SVC(kernel='precomputed', C=C)
                        clf.fit(K[np.ix_(itr, itr)], y[tr][itr])
                        score += clf.score(K[np.ix_(ite, itr)], y[tr][ite])
                    if score > best_score + 1e-12:
                        best, best_score = (g, C), score
            g, C = best  # type: ignore[misc]
            clf = SVC(kernel='precomputed', C=C)
            clf.fit(kernels[g][np.ix_(tr, tr)], y[tr])
            accs.append(float(clf.score(kernels[g][np.ix_(te, tr)], y[te])))
            params.append({'seed': seed, 'gamma': g, 'C': C})
        folds.extend(accs)
        per_seed.append(float(np.mean(accs)))
    return {
        'mean': float(np.mean(per_seed)),
        'std': float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0,
        'per_seed': per_seed,
        'fold_mean': float(np.mean(folds)),
        'fold_std': float(np.std(folds, ddof=1)) if len(folds) > 1 else 0.0,
        'params': params,
    }


__all__ = ['exp_kernel', 'gaussian_kernel', 'tmd_svm_cv']
