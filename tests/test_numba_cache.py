"""Where the numba kernels cache (issue #16, defect 15).

The end-to-end tests run a copy of the package in a fresh interpreter with
``HOME`` / ``XDG_CACHE_HOME`` under a temporary directory, so that they
neither see nor touch the caches of the real checkout (other processes may be
compiling there at the same time) and can check that nothing is written next
to the package sources.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import pyg_ext
from pyg_ext.typing import WITH_NUMBA
from pyg_ext.utils import _numba_setup as S

PKG_SRC = Path(pyg_ext.__file__).parent

# TMD (numba vs numpy), 1-WIS (numba vs python) and, unless 'no-eigen' is
# passed, the compiled eigenpairs (vs LAPACK) on tiny inputs; prints one line
# per check
PROBE = r'''
import logging, sys, warnings
logging.basicConfig(level=logging.INFO, format='LOG %(name)s %(message)s')
warnings.simplefilter('always')
import numpy as np
import torch
from torch_geometric.data import Data
import pyg_ext
print('PKG', pyg_ext.__file__, flush=True)
from pyg_ext.metrics.tmd import tmd_pairwise
g = torch.Generator().manual_seed(0)
graphs = []
for n in (4, 5, 6):
    ring = list(range(n)), [(i + 1) % n for i in range(n)]
    ei = torch.tensor([ring[0] + ring[1], ring[1] + ring[0]])
    graphs.append(Data(x=torch.rand(n, 2, generator=g), edge_index=ei))
a = tmd_pairwise(graphs, 2, 0.5, backend='numba')
b = tmd_pairwise(graphs, 2, 0.5, backend='numpy')
assert np.allclose(a, b, rtol=1e-10, atol=1e-12), (a, b)
print('TMD ok', flush=True)
from pyg_ext.utils.walk_index import walk_index_sparsify
ei = torch.tensor([[0, 1, 1, 2, 2, 0, 2, 3], [1, 0, 2, 1, 0, 2, 3, 2]])
r1 = walk_index_sparsify(ei, backend='numba')
r2 = walk_index_sparsify(ei, backend='python')
assert torch.equal(r1.order, r2.order) and r1.order.numel() == 4
print('WIS ok', flush=True)
if 'no-eigen' in sys.argv:
    sys.exit(0)
import pyg_ext.utils.eigen as E
E.COMPILED_MIN_GRAPHS = 1
assert E.wait_for_kernels(timeout=900)  # 'auto' compiles in the background
ei = torch.cat([graphs[0].edge_index, graphs[1].edge_index], 1)
eg = torch.tensor([0] * 8 + [1] * 10)
n = torch.tensor([4, 5])
A = E.batched_eigenpairs(ei, eg, n, 2, dtype=torch.float64)
E.USE_COMPILED = False
B = E.batched_eigenpairs(ei, eg, n, 2, dtype=torch.float64)
assert torch.allclose(A.eigvals, B.eigvals, atol=1e-10)
print('EIGEN ok', flush=True)
'''

KERNEL_MODULES = ('_numba', '_wis_numba', '_eigen_numba')


def _copy_package(root: Path) -> Path:
    dst = root / 'pkg'
    shutil.copytree(PKG_SRC, dst / 'pyg_ext', ignore=shutil.ignore_patterns(
        '__pycache__', '*.nbi', '*.nbc', '*.pyc'))
    return dst


def _numba_files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob('*') if p.suffix in ('.nbi', '.nbc'))


def _run(pkg: Path, cwd: Path, env_over: dict[str, str],
         eigen: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ('NUMBA_CACHE_DIR', 'PYG_EXT_CACHE', 'PYTHONPATH')}
    env.update(PYTHONPATH=str(pkg), OMP_NUM_THREADS='1',
               PYTHONDONTWRITEBYTECODE='1', **env_over)
    cmd = [sys.executable, '-c', PROBE] + ([] if eigen else ['no-eigen'])
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f'PKG {pkg / "pyg_ext"}' in out.stdout, out.stdout
    for check in ('TMD ok', 'WIS ok') + (('EIGEN ok',) if eigen else ()):
        assert check in out.stdout, out.stdout + out.stderr
    return out


@pytest.mark.slow
@pytest.mark.skipif(not WITH_NUMBA, reason='numba not installed')
def test_kernels_cache_in_user_dir_not_next_to_sources(tmp_path) -> None:
    pkg = _copy_package(tmp_path)
    xdg = tmp_path / 'xdg'
    env = {'HOME': str(tmp_path / 'home'), 'XDG_CACHE_HOME': str(xdg)}
    out = _run(pkg, tmp_path, env)
    cache = xdg / 'pyg_ext' / 'numba'
    files = _numba_files(cache)
    for mod in KERNEL_MODULES:  # every kernel module cached there
        assert any(p.name.startswith(mod + '.') and p.suffix == '.nbi'
                   for p in files), (mod, files)
    assert any(p.suffix == '.nbc' for p in files)
    # nothing next to the sources, nor in numba's own user-wide cache
    assert _numba_files(pkg) == []
    assert _numba_files(tmp_path / 'home') == []
    # one INFO line per kernel module, naming the cache directory
    logged = [line for line in out.stderr.splitlines()
              if 'compiling numba kernels for' in line]
    assert len(logged) == 3, out.stderr
    assert all(f'cached afterwards in {cache}' in line for line in logged)
    assert 'not writable' not in out.stderr

    # a second process loads them from there: nothing compiled, no message
    before = {p: p.stat().st_mtime_ns for p in _numba_files(cache)}
    again = _run(pkg, tmp_path, env)
    assert 'compiling numba kernels' not in again.stderr, again.stderr
    assert {p: p.stat().st_mtime_ns for p in _numba_files(cache)} == before
    assert _numba_files(pkg) == []


@pytest.mark.slow
@pytest.mark.skipif(not WITH_NUMBA, reason='numba not installed')
def test_no_writable_cache_dir_compiles_without_cache(tmp_path) -> None:
    """No writable location at all (the tests run as root, so permission
    bits would not stop a write: every path lies under a regular file, and
    the package's own ``__pycache__`` directories are regular files): the
    kernels still load and give the reference results, with one warning
    (TMD and 1-WIS: the old code failed there with ``'NoneType' object has
    no attribute ...`` and ``cannot cache function``)."""
    pkg = _copy_package(tmp_path)
    for sub in ('metrics', 'utils'):
        (pkg / 'pyg_ext' / sub / '__pycache__').write_text('not a dir')
    blocker = tmp_path / 'blocker'
    blocker.write_text('a regular file')
    env = {'HOME': str(blocker / 'home'),
           'XDG_CACHE_HOME': str(blocker / 'xdg'),
           'NUMBA_CACHE_DIR': str(blocker / 'numba')}
    out = _run(pkg, tmp_path, env, eigen=False)
    assert out.stderr.count('is not writable') == 1, out.stderr
    assert str(blocker / 'numba') in out.stderr
    assert 'cannot cache function' not in out.stderr
    assert _numba_files(tmp_path) == []


# --------------------------------------------------------------------------
# resolution of the directory (in process, no compilation)
# --------------------------------------------------------------------------
@pytest.fixture
def fresh_setup(monkeypatch):
    for var in ('NUMBA_CACHE_DIR', 'PYG_EXT_CACHE', 'XDG_CACHE_HOME'):
        monkeypatch.delenv(var, raising=False)
    S._reset()
    yield S
    S._reset()


def test_default_cache_dir(fresh_setup, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv('HOME', str(tmp_path / 'h'))
    assert S.default_cache_dir() == str(tmp_path / 'h' / '.cache' /
                                        'pyg_ext' / 'numba')
    monkeypatch.setenv('XDG_CACHE_HOME', 'relative/ignored')
    assert S.default_cache_dir().startswith(str(tmp_path / 'h'))
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'x'))
    assert S.default_cache_dir() == str(tmp_path / 'x' / 'pyg_ext' /
                                        'numba')
    monkeypatch.setenv('PYG_EXT_CACHE', str(tmp_path / 'p'))
    assert S.default_cache_dir() == str(tmp_path / 'p' / 'numba')
    assert S.numba_cache_dir() == str(tmp_path / 'p' / 'numba')
    assert (tmp_path / 'p' / 'numba').is_dir()


def test_user_numba_cache_dir_wins(fresh_setup, monkeypatch,
                                   tmp_path) -> None:
    monkeypatch.setenv('PYG_EXT_CACHE', str(tmp_path / 'p'))
    monkeypatch.setenv('NUMBA_CACHE_DIR', str(tmp_path / 'user'))
    assert S.numba_cache_dir() == str(tmp_path / 'user')


def test_unwritable_dir_warns_once(fresh_setup, monkeypatch,
                                   tmp_path) -> None:
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    monkeypatch.setenv('PYG_EXT_CACHE', str(blocker / 'sub'))
    with pytest.warns(RuntimeWarning, match='is not writable') as rec:
        assert S.numba_cache_dir() is None
        assert S.numba_cache_dir() is None
    assert len([w for w in rec if 'not writable' in str(w.message)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert S.numba_cache_dir() is None


@pytest.mark.skipif(not WITH_NUMBA, reason='numba not installed')
def test_njit_scopes_the_cache_dir(fresh_setup, monkeypatch,
                                   tmp_path) -> None:
    """The cache dir applies to pyg_ext's kernels only (numba's config is
    restored, even when numba was imported first), and a missing dir turns
    caching off instead of failing."""
    import numba
    monkeypatch.setenv('PYG_EXT_CACHE', str(tmp_path / 'p'))
    before = numba.config.CACHE_DIR

    @S.njit(cache=True)
    def add_one(x):  # pragma: no cover - compiled
        return x + 1

    assert add_one(1) == 2
    assert add_one._cache._cache_path.startswith(str(tmp_path / 'p'))
    assert numba.config.CACHE_DIR == before

    S._reset()
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    monkeypatch.setenv('PYG_EXT_CACHE', str(blocker / 'sub'))
    with pytest.warns(RuntimeWarning, match='not writable'):
        @S.njit(cache=True)
        def add_two(x):  # pragma: no cover - compiled
            return x + 2
    assert add_two(1) == 3
    assert not hasattr(add_two._cache, '_cache_path')  # numba's NullCache


def test_import_does_not_import_numba() -> None:
    code = ('import sys, pyg_ext.utils._numba_setup\n'
            'print("numba" in sys.modules)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip() == 'False', out.stderr
