"""The first call in a fresh process with an empty numba cache never waits
for a compilation: it runs the exact fallback (LAPACK / scipy / a Python
heap) while the kernels compile in the background (a compiler subprocess,
then a watcher thread loads them: test_first_call_process.py), and the
results of both paths agree (issue #25).

Each check runs in a subprocess with its own empty cache directory. Which
path served a call is observed, not timed: every kernel import goes through
``_numba_setup.load_kernels``, which the subprocess wraps to record the
thread it ran in (the watcher's, after the child wrote the cache); the old
code compiled in the calling (main) thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from pyg_ext.typing import WITH_NUMBA

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not WITH_NUMBA, reason='needs numba'),
]

_SPY = '''
import threading
from pyg_ext.utils import _numba_setup as S
loaded_in = []
_orig = S.load_kernels
def _spy(*args, **kwargs):
    loaded_in.append(threading.current_thread().name)
    return _orig(*args, **kwargs)
S.load_kernels = _spy
'''


def _run(tmp_path, body: str) -> str:  # noqa: ANN001
    env = dict(os.environ)
    env.pop('NUMBA_CACHE_DIR', None)
    env.pop('PYG_EXT_NUMBA_BACKGROUND', None)
    env['PYG_EXT_CACHE'] = str(tmp_path / 'cache')  # empty
    env['OMP_NUM_THREADS'] = '1'
    code = _SPY + textwrap.dedent(body)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=1500, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_eigen_first_call_uses_lapack_then_kernels(tmp_path) -> None:  # noqa: ANN001
    out = _run(tmp_path, '''
        import torch
        import pyg_ext.utils.eigen as E
        from pyg_ext.utils.eigen import batched_eigenpairs
        g = torch.Generator().manual_seed(0)
        eis, egs, sizes, ws = [], [], [], []
        for b in range(80):  # >= COMPILED_MIN_GRAPHS, all <= 64 nodes
            n = 5 + b % 16
            adj = torch.triu(torch.rand(n, n, generator=g) < 0.4, 1)
            adj[torch.arange(n - 1), torch.arange(1, n)] = True  # connected
            ei = adj.nonzero().t()
            ei = torch.cat([ei, ei.flip(0)], 1)
            w = torch.rand(ei.size(1) // 2, generator=g) + 0.5
            eis.append(ei)
            ws.append(torch.cat([w, w]))
            egs.append(torch.full((ei.size(1),), b))
            sizes.append(n)
        args = (torch.cat(eis, 1), torch.cat(egs), torch.tensor(sizes), 4)
        kw = dict(edge_weight=torch.cat(ws), drop_trivial=True,
                  dtype=torch.float64)
        assert S.kernel_state(E._KERNELS[0]) == 'idle'
        first = batched_eigenpairs(*args, **kw)
        assert 'MainThread' not in loaded_in, loaded_in
        assert S.kernel_state(E._KERNELS[0]) in ('loading', 'ready')
        assert E.wait_for_kernels(timeout=1200)
        assert E._eigen_kernels() is not None
        again = batched_eigenpairs(*args, **kw)
        assert loaded_in and 'MainThread' not in loaded_in, loaded_in
        assert torch.equal(first.mask, again.mask)
        assert torch.equal(first.cut, again.cut)
        assert torch.allclose(first.eigvals, again.eigvals, atol=1e-10)
        # random weights: simple spectra, so the canonical-sign vectors of
        # LAPACK and of the compiled solver are the same vectors
        assert torch.allclose(first.eigvecs, again.eigvecs, atol=1e-7)
        print('ok')
    ''')
    assert out.strip().endswith('ok')


def test_one_wis_first_call_uses_python_then_kernel(tmp_path) -> None:  # noqa: ANN001
    out = _run(tmp_path, '''
        import numpy as np, torch
        from pyg_ext.utils.walk_index import (
            NUMBA_MIN_EDGES, _WIS_KERNELS, walk_index_sparsify)
        rng = np.random.default_rng(0)
        n, m = 3000, NUMBA_MIN_EDGES + 500  # 'auto' wants the kernel
        a, b = rng.integers(0, n, 3 * m), rng.integers(0, n, 3 * m)
        keep = a != b
        code = np.unique(np.minimum(a, b)[keep] * n
                         + np.maximum(a, b)[keep])[:m]
        rng.shuffle(code)
        ei = torch.from_numpy(np.stack([code // n, code % n]))
        ei = torch.cat([ei, ei.flip(0)], 1)
        directed = torch.from_numpy(np.stack([a[keep][:m], b[keep][:m]]))
        for graph in (ei, directed):
            first = walk_index_sparsify(graph, num_nodes=n)
            assert 'MainThread' not in loaded_in, loaded_in
            assert S.wait_for_kernels(*_WIS_KERNELS, timeout=1200)
            assert S.kernel_state(_WIS_KERNELS[0]) == 'ready'
            again = walk_index_sparsify(graph, num_nodes=n)
            ref = walk_index_sparsify(graph, num_nodes=n, backend='python')
            assert torch.equal(first.order, again.order)
            assert torch.equal(first.order, ref.order)
            assert torch.equal(first.edge_rank, again.edge_rank)
        assert loaded_in and 'MainThread' not in loaded_in, loaded_in
        print('ok')
    ''')
    assert out.strip().endswith('ok')


def test_foreground_loading_when_asked(tmp_path) -> None:  # noqa: ANN001
    """``PYG_EXT_NUMBA_BACKGROUND=0``: the first call loads the kernels
    itself (and waits), as before."""
    env_code = '''
        import os
        os.environ['PYG_EXT_NUMBA_BACKGROUND'] = '0'
        mod = S.kernels_if_ready('pyg_ext.utils._wis_numba', '1-WIS', 3)
        assert mod is not None
        assert loaded_in == ['MainThread'], loaded_in
        assert S.kernel_state('pyg_ext.utils._wis_numba') == 'ready'
        print('ok')
    '''
    assert _run(tmp_path, env_code).strip().endswith('ok')
