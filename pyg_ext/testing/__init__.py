"""Test helpers: decorators, seeding, dataset copying, reference checks.

Mirrors ``torch_geometric.testing`` (and re-exports its ``withPackage``) with
decorators for Triton and CUDA tests. Nothing here knows where test data lives;
the test suite's ``conftest.py`` passes the source folder to
:func:`copy_dataset`.
"""

from __future__ import annotations

import functools
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from pyg_ext.typing import has_package
from pyg_ext.utils.validation import check_int, check_real

F = TypeVar('F', bound=Callable[..., Any])


def seed_all(seed: int = 0) -> None:
    """Seed ``random``, ``numpy`` and ``torch`` (all devices).

    Raises:
        TypeError: when ``seed`` is not an int.
        ValueError: unless ``0 <= seed < 2**32`` (numpy's range).
    """
    seed = check_int(seed, 'seed', low=0, high=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def withSeed(func: F) -> F:  # noqa: N802 (PyG naming)
    """Run the decorated test with all generators seeded to 0."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        seed_all(0)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _skip_unless(cond: bool, reason: str) -> Callable[[F], F]:
    import pytest
    return pytest.mark.skipif(not cond, reason=reason)


def onlyTriton(func: F) -> F:  # noqa: N802
    """Skip unless ``triton`` is importable. On a machine without CUDA the
    test runs under ``TRITON_INTERPRET=1`` (set before ``triton`` is
    imported)."""
    import pytest
    func = pytest.mark.triton(func)
    return _skip_unless(has_package('triton'), 'triton is not installed')(func)


def onlyCUDA(func: F) -> F:  # noqa: N802
    """Skip unless a CUDA device is available."""
    import pytest
    func = pytest.mark.gpu(func)
    return _skip_unless(torch.cuda.is_available(), 'no CUDA device')(func)


def withPackage(*names: str) -> Callable[[F], F]:  # noqa: N802
    """Skip unless every named import (with optional version spec) works;
    see :func:`torch_geometric.testing.withPackage`."""
    from torch_geometric.testing import withPackage as _with_package
    return _with_package(*names)


def copy_dataset(src_root: str | os.PathLike[str], subdir: str,
                 dst_root: str | os.PathLike[str]) -> Path:
    """Copy ``src_root/subdir`` to ``dst_root/subdir`` (once) and return
    ``dst_root``.

    PyG and OGB write ``processed/`` next to ``raw/``, so tests never point a
    dataset class at a read-only or shared source folder.

    Raises:
        TypeError: a root that is not a path, or ``subdir`` not a str.
        ValueError: ``subdir`` that is empty, absolute or leaves the root
            (``..``).
        FileNotFoundError: ``src_root/subdir`` is not a folder.
    """
    for arg, value in (('src_root', src_root), ('dst_root', dst_root)):
        if not isinstance(value, (str, os.PathLike)):
            raise TypeError(f'{arg} must be a str or os.PathLike path, got '
                            f'{type(value).__name__} {value!r}')
    if not isinstance(subdir, str):
        raise TypeError(f'subdir must be a str, got {type(subdir).__name__} '
                        f'{subdir!r}')
    parts = Path(subdir).parts
    if not parts or Path(subdir).is_absolute() or '..' in parts:
        raise ValueError(f'subdir must be a relative folder inside the root, '
                         f'got {subdir!r}')
    src = Path(src_root) / subdir
    if not src.is_dir():
        raise FileNotFoundError(
            f"no dataset folder '{subdir}' under {src_root}")
    dst = Path(dst_root) / subdir
    if not dst.exists():
        shutil.copytree(src, dst)
        for path in dst.rglob('*'):  # sources may be read-only
            path.chmod(path.stat().st_mode | 0o200)
    return Path(dst_root)


def assert_close_rel(actual: Any, expected: Any, rtol: float = 1e-6,
                     atol: float = 0.0, msg: str = '') -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` elementwise
    (numpy or torch inputs).

    Raises:
        AssertionError: when the values are not close (NaN is never close).
        TypeError: ``actual`` / ``expected`` not numeric.
        ValueError: a negative or non-finite ``rtol`` / ``atol``.
    """
    rtol = check_real(rtol, 'rtol', low=0.0)
    atol = check_real(atol, 'atol', low=0.0)

    def as_array(value: Any, name: str) -> np.ndarray:
        if torch.is_tensor(value):
            value = value.detach().cpu()
        try:
            return np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f'{name} must be numeric, got '
                            f'{type(value).__name__} ({err})') from None

    a = as_array(actual, 'actual')
    e = as_array(expected, 'expected')
    if a.shape != e.shape:
        raise AssertionError(f'shape mismatch {a.shape} != {e.shape} {msg}')
    err = np.abs(a - e)
    bound = atol + rtol * np.abs(e)
    if not np.all(err <= bound):
        i = int(np.argmax(err - bound))
        raise AssertionError(
            f'not close {msg}: max violation at flat index {i}: '
            f'{a.flat[i]!r} vs {e.flat[i]!r} (rtol={rtol}, atol={atol})')


__all__ = [
    'assert_close_rel',
    'copy_dataset',
    'onlyCUDA',
    'onlyTriton',
    'seed_all',
    'withPackage',
    'withSeed',
]
