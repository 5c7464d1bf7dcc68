"""TMD performance paths (issue #25): the small-assignment solvers and the
Hungarian algorithm of the numba kernels against brute force / scipy, the
single-pair path against the numpy path and the reference implementation,
thread counts that change no bit, and the ``bench metrics --pair`` case."""

from __future__ import annotations

import json
from itertools import permutations

import numpy as np
import pytest
import torch
from _metrics_reference import reference_tmd
from torch_geometric.data import Data

from pyg_ext.metrics import tmd_cross, tmd_pairwise, tree_movers_distance
from pyg_ext.testing import assert_close_rel
from pyg_ext.typing import WITH_NUMBA

needs_numba = pytest.mark.skipif(not WITH_NUMBA,
                                 reason='numba not installed')


def _graph(n: int, p: float, d: int, seed: int) -> Data:
    g = torch.Generator().manual_seed(seed)
    A = (torch.rand(n, n, generator=g) < p).triu(1)
    ei = A.nonzero().t()
    return Data(x=torch.randn(n, d, generator=g),
                edge_index=torch.cat([ei, ei.flip(0)], 1))


def _brute(C: np.ndarray) -> float:
    """Min over all injective row -> column maps (``n <= m``)."""
    n, m = C.shape
    perms = np.array(list(permutations(range(m), n)))
    return float(C[np.arange(n)[None, :], perms].sum(1).min())


def _problems(rng: np.random.Generator, n: int, m: int, count: int):
    """Gaussian costs and small integers (many ties, equal rows/columns)."""
    for t in range(count):
        if t % 3 == 0:
            yield rng.integers(-2, 3, (n, m)).astype(float)
        elif t % 3 == 1:
            yield rng.normal(size=(n, m))
        else:  # one column best for every row: the conflict case
            C = rng.random((n, m)) + 1.0
            C[:, rng.integers(m)] = rng.random(n) * 0.1
            yield C


@needs_numba
def test_small_assign_matches_brute_force():
    """Two rows (best / second best), three rows (candidate triples) and
    larger problems (rect_min) give the enumerated optimum, for every shape
    up to 5 x 8, ties included."""
    from pyg_ext.metrics import _numba as K
    rng = np.random.default_rng(0)
    Kmax = 8
    u, v, minv, p, way, used, dp = K._solver_work(Kmax)
    W = np.empty((Kmax, Kmax))
    for n in range(2, 6):
        for m in range(n, Kmax + 1):
            for C in _problems(rng, n, m, 12):
                W[:n, :m] = C
                got = K.small_assign(W, n, m, u, v, p, way, minv, used, dp)
                assert got == pytest.approx(_brute(C), rel=1e-12,
                                            abs=1e-12), (n, m, C)


def test_small_ot_module_is_generated():
    """The written-out solvers are exactly the generator's output (a change
    to the generator must be followed by regenerating the module)."""
    from pyg_ext.metrics import _small_ot_gen
    assert _small_ot_gen.target().read_text() == _small_ot_gen.generate()


@needs_numba
def test_assign_small_matches_brute_force():
    """Every written-out shape ``2 <= n <= m <= 6`` gives the enumerated
    optimum bit for bit up to summation order, ties and negative costs
    included, reading only its ``n * m`` entries; another shape is NaN."""
    from pyg_ext.metrics._small_ot import SMALL_MAX, assign_small
    rng = np.random.default_rng(3)
    for n in range(2, SMALL_MAX + 1):
        for m in range(n, SMALL_MAX + 1):
            for C in _problems(rng, n, m, 15):
                c = np.full(SMALL_MAX * SMALL_MAX + 4, np.nan)
                c[:n * m] = C.ravel()
                got = assign_small(c, n, m)
                assert got == pytest.approx(_brute(C), rel=1e-12,
                                            abs=1e-12), (n, m, C)
    assert np.isnan(assign_small(np.zeros(64), 3, 7))
    assert np.isnan(assign_small(np.zeros(64), 1, 1))


@needs_numba
@pytest.mark.parametrize('n,m', [(1, 1), (1, 7), (4, 4), (6, 9), (9, 9),
                                 (12, 30), (40, 40), (37, 61), (19, 74),
                                 (90, 250)])
def test_rect_hungarian_matches_scipy(n, m):
    """The Hungarian algorithm (one Dijkstra search per row, potentials
    updated once per search) against scipy's linear_sum_assignment, square
    and rectangular, with ties and negative costs."""
    from scipy.optimize import linear_sum_assignment

    from pyg_ext.metrics import _numba as K
    rng = np.random.default_rng(n * 100 + m)
    u, v, minv, p, way, used, dp = K._solver_work(m)
    for C in _problems(rng, n, m, 9):
        r, c = linear_sum_assignment(C)
        want = C[r, c].sum()
        got = K.rect_hungarian(C.copy(), n, m, u, v, p, way, minv, used)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
    if n <= 6 and m <= 9:
        C = rng.normal(size=(n, m))
        got = K.rect_hungarian(C.copy(), n, m, u, v, p, way, minv, used)
        assert got == pytest.approx(_brute(C), rel=1e-12, abs=1e-12)


@needs_numba
def test_large_degree_pair_matches_numpy_and_reference():
    """A pair with degrees up to ~12 (child problems of 2 and 3 rows
    against more than 6 columns, and Hungarian-sized ones) and all trees
    distinct: the numba path equals the numpy path and the reference."""
    g1 = _graph(26, 0.35, 3, seed=5)
    g2 = _graph(23, 0.4, 3, seed=6)
    deg = torch.bincount(g1.edge_index[1], minlength=26)
    assert int(deg.max()) >= 10
    for depth, w in [(2, 1.0), (3, [0.5, 1.5])]:
        a = tree_movers_distance(g1, g2, depth, w, backend='numba')
        b = tree_movers_distance(g1, g2, depth, w, backend='numpy')
        assert_close_rel(a, b, rtol=1e-12)
        ref = reference_tmd(g1, g2, depth, w if isinstance(w, list)
                            else [w] * (depth - 1))
        assert_close_rel(a, ref, rtol=1e-9)


@needs_numba
def test_300_node_pair_numba_equals_numpy():
    """The bench's 300-node worst case (G(300, 4/300), 8-dim Gaussian
    features, depth 4): numba and numpy agree to 1e-12."""
    from pyg_ext.bench.metrics import random_pair_graph
    g1, g2 = random_pair_graph(300, 0), random_pair_graph(300, 1)
    a = tree_movers_distance(g1, g2, 4, 0.5, backend='numba')
    b = tree_movers_distance(g1, g2, 4, 0.5, backend='numpy')
    assert_close_rel(a, b, rtol=1e-12)


@needs_numba
@pytest.mark.parametrize('memo', [True, False])
def test_threads_change_no_bit(monkeypatch, memo):
    """n_jobs=2 (numba's own thread pool) gives bit-for-bit the n_jobs=1
    matrix, with the top level memoised and solved per graph pair, pairwise
    and cross."""
    import pyg_ext.metrics.tmd as T
    monkeypatch.setattr(T, '_memoise_top', lambda *a: memo)
    graphs = [_graph(8 + s % 9, 0.3, 2, seed=s) for s in range(24)]
    for g in graphs[::3]:  # discrete features too: shared trees cancel
        g.x = (g.x > 0).float()
    D1 = tmd_pairwise(graphs, 3, 0.5, backend='numba', n_jobs=1)
    D2 = tmd_pairwise(graphs, 3, 0.5, backend='numba', n_jobs=2)
    assert np.array_equal(D1, D2)
    C1 = tmd_cross(graphs[:9], graphs[9:], 3, 0.5, backend='numba',
                   n_jobs=1)
    C2 = tmd_cross(graphs[:9], graphs[9:], 3, 0.5, backend='numba',
                   n_jobs=2)
    assert np.array_equal(C1, C2)
    assert_close_rel(C1, D1[:9, 9:], rtol=1e-12, atol=1e-12)


def test_n_jobs_list_option():
    import argparse

    from pyg_ext.bench.metrics import n_jobs_list_arg
    assert n_jobs_list_arg('1') == [1]
    assert n_jobs_list_arg('1,2') == [1, 2]
    assert n_jobs_list_arg('-1') == [-1]
    for bad in ('0', '1,,2', '', 'a', '1,0'):
        with pytest.raises(argparse.ArgumentTypeError):
            n_jobs_list_arg(bad)


def test_bench_pair_case(tmp_path):
    """``bench metrics --pair N``: our backends against the reference-style
    anchor on one pair, ratio and deviation in the JSON."""
    from pyg_ext.cli import main
    out = tmp_path / 'pair.json'
    assert main(['bench', 'metrics', '--pair', '24', '--depth', '3',
                 '--pair-repeats', '2', '--backends', 'numpy',
                 '--json', str(out)]) == 0
    res = json.loads(out.read_text())
    res = res.get('result', res)
    assert res['pair'] == 24 and res['pair_kind'] == 'random'
    (row,) = res['rows']
    assert row['backend'] == 'numpy' and len(row['times']) == 2
    assert row['rel_dev'] < 1e-9
    assert row['speedup_cpu'] > 0
    assert res['reference']['value'] == pytest.approx(row['value'],
                                                      rel=1e-9)


@needs_numba
def test_numba_call_leaves_torch_threads_alone():
    """Regression: with numba's 'omp' threading layer a numba TMD call
    (even n_jobs=1) set the shared OpenMP runtime to numba's thread count,
    so torch.get_num_threads() went from 1 to 2 and later torch ops ran
    oversubscribed. A fresh process (torch's count from OMP_NUM_THREADS=1),
    two numba threads allowed."""
    import os
    import subprocess
    import sys
    code = (
        'import torch\n'
        'assert torch.get_num_threads() == 1\n'
        'from torch_geometric.data import Data\n'
        'from pyg_ext.metrics import tmd_pairwise\n'
        'gs = [Data(x=torch.rand(5, 2), edge_index=torch.tensor('
        '[[0, 1, 2, 3], [1, 2, 3, 4]])) for _ in range(4)]\n'
        'for nj in (1, 2):\n'
        '    tmd_pairwise(gs, 3, backend="numba", n_jobs=nj)\n'
        '    assert torch.get_num_threads() == 1, torch.get_num_threads()\n'
        'import numba\n'
        'print(numba.threading_layer())\n')
    env = dict(os.environ, NUMBA_NUM_THREADS='2', OMP_NUM_THREADS='1')
    res = subprocess.run([sys.executable, '-c', code], env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]


@pytest.mark.dataset
def test_bench_same_as_first_compares_with_the_first_row(shared_root,
                                                         monkeypatch):
    """Regression: ``same_as_first`` compared each thread count with the
    row before it, so a bad middle row made the next good row read False
    (and a bad row after an equally bad one read True). A backend whose
    ``n_jobs=2`` matrix differs must show ``False`` there and ``True`` for
    the ``n_jobs=3`` row that equals the first."""
    import pyg_ext.metrics as M
    from pyg_ext.bench import run_suite
    real = M.tmd_pairwise

    def flaky(*args, **kwargs):
        D = real(*args, **kwargs)
        if kwargs.get('n_jobs') == 2:
            D = D.copy()
            D[0, 1] = D[1, 0] = D[0, 1] + 1.0
        return D

    monkeypatch.setattr(M, 'tmd_pairwise', flaky)
    root = shared_root('tu')
    res = run_suite('metrics', [
        '--dataset', 'MUTAG', '--root', str(root), '--depth', '2',
        '--backends', 'numpy', '--n-jobs', '1,2,3', '--repeats', '1',
        '--ref-pairs', '1', '--skip', 'svm,stability,didm,accuracy',
        '--seeds', '1', '--no-progress'])
    rows = res['matrix']
    assert [r['same_as_first'] for r in rows] == ['', False, True]
