"""Package-level properties: fast lazy import, optional deps, flags."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pyg_ext
from pyg_ext import typing as pyg_typing

OPTIONAL = ('torch_scatter', 'ogb', 'triton', 'numba', 'sklearn',
            'matplotlib', 'cvxpy')


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_is_lazy_and_needs_no_optional_package() -> None:
    code = (
        'import sys\n'
        'import pyg_ext\n'
        f'print(sorted(m for m in {OPTIONAL!r} + ("torch",) if m in '
        'sys.modules))\n')
    assert _run(code) == '[]'


def test_import_with_optional_packages_blocked() -> None:
    # Make every optional package unimportable, then use the subpackages.
    code = (
        'import sys\n'
        f'for m in {OPTIONAL!r}: sys.modules[m] = None\n'
        'import pyg_ext\n'
        'for sub in pyg_ext._SUBPACKAGES:\n'
        '    getattr(pyg_ext, sub)\n'
        'print("ok")\n')
    assert _run(code) == 'ok'


def test_subpackages_resolve() -> None:
    for name in pyg_ext._SUBPACKAGES:
        assert getattr(pyg_ext, name).__name__ == f'pyg_ext.{name}'
    with pytest.raises(AttributeError, match='no attribute'):
        pyg_ext.does_not_exist  # noqa: B018


def test_flags_match_find_spec() -> None:
    import importlib.util
    assert pyg_typing.WITH_POT == (importlib.util.find_spec('ot') is not None)
    assert pyg_typing.has_package('torch')
    assert not pyg_typing.has_package('surely_not_a_real_package_xyz')


def test_require_names_the_extra() -> None:
    pyg_typing.require('torch')
    with pytest.raises(ImportError, match="pyg_ext\\[scatter\\]") as e:
        pyg_typing.OPTIONAL_PACKAGES['surely_missing_xyz'] = (
            'torch-scatter', 'scatter')
        pyg_typing.require('surely_missing_xyz', 'the reference')
    assert 'the reference needs' in str(e.value)
    del pyg_typing.OPTIONAL_PACKAGES['surely_missing_xyz']


def test_public_signatures_read_well() -> None:
    """``help()`` of every public callable shows readable defaults: no bare
    ``object()`` sentinels (``<object object at 0x...>``) or other reprs
    with memory addresses."""
    import importlib
    import inspect
    import re
    bad = []
    for sub in pyg_ext._SUBPACKAGES:
        mod = importlib.import_module(f'pyg_ext.{sub}')
        for name in getattr(mod, '__all__', ()):
            obj = getattr(mod, name)
            if not callable(obj):
                continue
            try:
                sig = str(inspect.signature(obj))
            except (TypeError, ValueError):
                continue
            if re.search(r' at 0x[0-9a-f]+', sig):
                bad.append(f'{sub}.{name}{sig}')
    assert not bad, bad
