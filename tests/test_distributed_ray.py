"""The Ray engine (pyg_ext.distributed): metric matrices bit for bit equal
to the single-process ones, a worker killed mid-run, an interrupted run
resumed from its store, sharded eigen PEs, benchmark grids, and clear
errors without ray or without a reachable cluster.

Ray tests start one real local cluster (loopback only, 2 CPUs) for the
module and are skipped when ray is not installed."""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from pyg_ext.distributed import matrix as dmatrix
from pyg_ext.distributed.grid import load_finished, run_grid
from pyg_ext.distributed.store import read_log
from pyg_ext.metrics import (
    cross,
    didm_cross,
    didm_pairwise,
    pairwise,
    tmd_cross,
    tmd_pairwise,
)
from pyg_ext.metrics import tmd as tmd_mod
from pyg_ext.typing import WITH_NUMBA, has_package

WITH_RAY = has_package('ray')
needs_ray = pytest.mark.skipif(not WITH_RAY, reason='ray is not installed '
                               '(pip install "pyg_ext[distributed]")')
BACKENDS = ['numpy'] + (['numba'] if WITH_NUMBA else [])
# explicit: backend='auto' may pick numpy while numba loads in the
# background, and the two backends differ in the last bits
FAST = 'numba' if WITH_NUMBA else 'numpy'
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def ray_cluster():
    """A real local Ray cluster for the module: 2 CPUs, no dashboard."""
    if not WITH_RAY:
        pytest.skip('ray is not installed')
    import ray
    from ray import cloudpickle
    # the grid cells below are functions of this module: ship them by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, address='local',
             logging_level='ERROR')
    yield ray
    ray.shutdown()


@pytest.fixture(scope='module')
def mutag(shared_root):
    from torch_geometric.datasets import TUDataset
    root = shared_root('tu')
    ds = TUDataset(str(root / 'tu'), 'MUTAG')
    return [ds[i] for i in range(0, 188, 3)]  # 63 graphs


def continuous_graphs(n_graphs: int, seed: int = 0) -> list[Data]:
    """Random graphs with continuous features: every tree distinct, so the
    numba TMD path solves the top level per pair (fused) instead of
    memoising it."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n_graphs):
        n = 4 + i % 5
        A = (torch.rand(n, n, generator=g) < 0.4).triu(1)
        ei = (A | A.t()).nonzero().t()
        out.append(Data(x=torch.randn(n, 2, generator=g), edge_index=ei))
    return out


def _store_dir(root: Path) -> Path:
    dirs = [d for d in root.iterdir() if d.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def _run_py(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=str(REPO))


# --------------------------------------------------------------------------
# without a cluster
# --------------------------------------------------------------------------
def test_import_pyg_ext_does_not_import_ray():
    res = _run_py('''
        import sys
        import pyg_ext, pyg_ext.metrics, pyg_ext.transforms
        import pyg_ext.distributed, pyg_ext.distributed.matrix
        import pyg_ext.distributed.grid
        assert 'ray' not in sys.modules, 'ray imported'
        print('ok')
    ''')
    assert res.returncode == 0, res.stderr
    assert 'ok' in res.stdout


@pytest.mark.parametrize('call', [
    "tmd_pairwise(gs, 2, engine='ray')",
    "didm_cross(gs[:1], gs[1:], 2, engine='ray')",
    "precompute_eigen_pe(gs, 2, engine='ray')",
    "run_grid([1, 2], abs, engine='ray')",
])
def test_ray_missing_is_one_clear_line(call):
    res = _run_py(f'''
        import sys
        sys.modules['ray'] = None  # as if ray were not installed
        import torch
        from torch_geometric.data import Data
        from pyg_ext.metrics import tmd_pairwise, didm_cross
        from pyg_ext.transforms import precompute_eigen_pe
        from pyg_ext.distributed import run_grid
        e = torch.tensor([[0, 1], [1, 0]])
        gs = [Data(x=torch.ones(2, 1), edge_index=e, num_nodes=2)] * 3
        try:
            {call}
        except ImportError as exc:
            print('MSG', type(exc).__name__, str(exc))
    ''')
    assert res.returncode == 0, res.stderr
    line = [x for x in res.stdout.splitlines() if x.startswith('MSG')]
    assert len(line) == 1, res.stdout + res.stderr
    assert 'pip install "pyg_ext[distributed]"' in line[0]
    assert '\n' not in line[0]


@needs_ray
def test_unreachable_address_fails_fast_with_one_line():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    res = _run_py(f'''
        import time, torch
        from torch_geometric.data import Data
        from pyg_ext.metrics import tmd_pairwise
        e = torch.tensor([[0, 1], [1, 0]])
        gs = [Data(x=torch.ones(2, 1), edge_index=e)] * 3
        t0 = time.time()
        try:
            tmd_pairwise(gs, 2, engine='ray', address='127.0.0.1:{port}')
        except RuntimeError as exc:
            print('MSG', str(exc))
        print('SECONDS', time.time() - t0)
    ''')
    assert res.returncode == 0, res.stderr
    msg = [x for x in res.stdout.splitlines() if x.startswith('MSG')]
    assert len(msg) == 1, res.stdout + res.stderr
    assert f'127.0.0.1:{port}' in msg[0]
    assert 'pyg_ext[distributed]' in msg[0]
    secs = float(res.stdout.split('SECONDS')[1])
    assert secs < 15


@needs_ray
def test_default_address_is_a_new_local_cluster_not_ray_address():
    """address=None starts a new local cluster: RAY_ADDRESS (or the
    /tmp/ray file a stopped `ray start` leaves behind) naming a dead
    cluster must not be joined (the old ray.init(address=None) did and
    failed: 'num_cpus ... must not be provided')."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    res = _run_py(f'''
        import os
        os.environ['RAY_ADDRESS'] = '127.0.0.1:{port}'
        from pyg_ext.distributed import connect
        ray = connect(None, timeout=2)
        print('CPU', ray.cluster_resources().get('CPU'))
        print('GCS', ray.get_runtime_context().gcs_address)
        ray.shutdown()
    ''')
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'CPU ' in res.stdout
    assert float(res.stdout.split('CPU ')[1].split()[0]) >= 1
    gcs = res.stdout.split('GCS ')[1].split()[0]
    assert not gcs.endswith(f':{port}')


def test_bad_engine_arguments_name_the_argument():
    gs = continuous_graphs(3)
    with pytest.raises(ValueError, match='engine'):
        tmd_pairwise(gs, 2, engine='spark')
    with pytest.raises(TypeError, match='engine'):
        pairwise(gs, 'didm', engine=1)
    with pytest.raises(ValueError, match='block_size'):
        tmd_pairwise(gs, 2, engine='local', store='x', block_size=0)
    with pytest.raises(TypeError, match='block_size'):
        didm_pairwise(gs, 2, block_size=2.5)
    with pytest.raises(ValueError, match='threads_per_worker'):
        tmd_cross(gs, gs, 2, engine='ray', threads_per_worker=0)
    with pytest.raises(ValueError, match='address'):
        tmd_pairwise(gs, 2, address='127.0.0.1:6379')  # engine='local'
    with pytest.raises(ValueError, match='address'):
        tmd_pairwise(gs, 2, engine='ray', address='no-port')
    with pytest.raises(TypeError, match='store'):
        tmd_pairwise(gs, 2, store=3)
    with pytest.raises(ValueError, match='engine'):
        run_grid([1], abs, engine='dask')


@pytest.mark.parametrize('backend', BACKENDS)
def test_local_blocks_equal_and_resume_from_store(tmp_path, monkeypatch,
                                                  backend):
    """engine='local' with a store: bit-identical blocks, an interrupted
    run keeps its finished blocks and the re-run computes only the rest."""
    gs = continuous_graphs(40)
    ref = tmd_pairwise(gs, 3, backend=backend)
    blocks = dmatrix.blocks(40, 40, 8, True)
    assert len(blocks) == 15
    # fail at the 6th block solved (blocks run largest first)
    target = blocks[5][:2]
    monkeypatch.setattr(dmatrix, '_FAULT', ('raise', *target))
    with pytest.raises(RuntimeError, match='injected'):
        tmd_pairwise(gs, 3, backend=backend, store=tmp_path, block_size=8)
    sdir = _store_dir(tmp_path)
    first = read_log(sdir)
    assert len(first) == 5
    monkeypatch.setattr(dmatrix, '_FAULT', None)
    D = tmd_pairwise(gs, 3, backend=backend, store=tmp_path, block_size=8)
    assert np.array_equal(D, ref)
    log = read_log(sdir)
    second = log[5:]
    assert len(second) == 10
    assert {tuple(e['block']) for e in first}.isdisjoint(
        tuple(e['block']) for e in second)
    # a third run computes nothing
    D2 = tmd_pairwise(gs, 3, backend=backend, store=tmp_path, block_size=8)
    assert np.array_equal(D2, ref) and len(read_log(sdir)) == 15
    # different parameters never reuse the store's blocks
    D3 = tmd_pairwise(gs, 3, weights=1.0, backend=backend, store=tmp_path,
                      block_size=8)
    assert np.array_equal(D3, tmd_pairwise(gs, 3, weights=1.0,
                                           backend=backend))
    assert len([d for d in tmp_path.iterdir() if d.is_dir()]) == 2


def test_store_recomputes_a_damaged_block(tmp_path):
    gs = continuous_graphs(20)
    ref = didm_pairwise(gs, 2, backend=FAST)
    didm_pairwise(gs, 2, store=tmp_path, block_size=8, backend=FAST)
    sdir = _store_dir(tmp_path)
    victim = sorted((sdir / 'blocks').iterdir())[0]
    victim.write_bytes(b'garbage')
    D = didm_pairwise(gs, 2, store=tmp_path, block_size=8, backend=FAST)
    assert np.array_equal(D, ref)
    assert read_log(sdir)[-1]['block'] == [int(v) for v in
                                           victim.stem.split('_')]


def test_grid_local_streams_and_resumes(tmp_path):
    path = tmp_path / 'grid.json'
    calls = tmp_path / 'calls'
    calls.mkdir()
    fn = functools.partial(_square_cell, str(calls), None)
    cells = [{'seed': s, 'x': x} for s in range(2) for x in range(3)]
    with pytest.raises(RuntimeError, match='boom'):
        run_grid(cells, functools.partial(_square_cell, str(calls), 4),
                 json_path=path, retries=1)
    assert len(load_finished(path)) == 4  # cells 0-3 finished and kept
    out = run_grid(cells, fn, json_path=path)
    assert out == [c['x'] ** 2 + c['seed'] for c in cells]
    # cells 0-3 once, cell 4 twice (retry) + once, cell 5 once
    assert len(list(calls.iterdir())) == 4 + 2 + 1 + 1
    assert len(load_finished(path)) == 6
    with pytest.raises(ValueError, match='distinct'):
        run_grid([cells[0], cells[0]], fn)


def _square_cell(calls: str, fail_at: int | None, cell: dict) -> int:
    """Grid cell for the tests: records each call as a file; the cell with
    index ``fail_at`` always raises."""
    idx = 3 * cell['seed'] + cell['x']
    Path(calls, f'{idx}-{time.time_ns()}-{os.getpid()}').touch()
    if fail_at is not None and idx == fail_at:
        raise ValueError('boom')
    return cell['x'] ** 2 + cell['seed']


# --------------------------------------------------------------------------
# on a real local cluster
# --------------------------------------------------------------------------
@needs_ray
@pytest.mark.dataset
@pytest.mark.parametrize('backend', BACKENDS)
def test_ray_matrices_equal_local_on_mutag(ray_cluster, mutag, backend):
    if backend == 'numpy':  # the slow backend: fewer graphs
        mutag = mutag[:30]
    a, b = mutag[:12], mutag[12:]
    kw = dict(backend=backend, engine='ray', block_size=16)
    assert np.array_equal(tmd_pairwise(mutag, 4, **kw),
                          tmd_pairwise(mutag, 4, backend=backend))
    assert np.array_equal(tmd_cross(a, b, 3, **kw),
                          tmd_cross(a, b, 3, backend=backend))
    assert np.array_equal(didm_pairwise(mutag, 2, **kw),
                          didm_pairwise(mutag, 2, backend=backend))
    assert np.array_equal(cross(a, b, 'didm', depth=2, **kw),
                          didm_cross(a, b, 2, backend=backend))


def test_write_rows_mirrors_like_mirror_upper():
    """Row chunks written with their mirror image (what the workers do with
    a shared level) give the level mirror_upper gives, bit for bit: the
    part of a chunk below the diagonal (solved with the other row side) is
    never used."""
    rng = np.random.default_rng(0)
    n = 23
    full = rng.standard_normal((n + 1, n + 1))
    full[3, 5], full[5, 3] = -0.0, 1.0  # the sign of zero is kept too
    ref = full.copy()
    dmatrix.mirror_upper(ref, n)
    for cuts in ([0, n], [0, 1, 7, 8, 15, n], [0, 11, n]):
        got = np.full_like(full, np.nan)
        for r0, r1 in zip(cuts[:-1], cuts[1:]):
            dmatrix.write_rows(got, full[r0:r1, r0:n], r0, r1, r0, True)
        assert np.array_equal(got[:n, :n], ref[:n, :n])
        assert np.signbit(got[3, 5]) and np.signbit(got[5, 3])
    # not symmetric: the rows as they are
    got = np.full((7, 9), np.nan)
    vals = rng.standard_normal((3, 9))
    dmatrix.write_rows(got, vals, 2, 5, 0, False)
    assert np.array_equal(got[2:5], vals) and np.isnan(got[:2]).all()


@needs_ray
@pytest.mark.skipif(not WITH_NUMBA, reason='numba kernels')
@pytest.mark.parametrize('mode', ['file', 'no-file', 'other-node'])
def test_ray_tmd_fused_and_memo_paths_equal_local(ray_cluster, monkeypatch,
                                                  mode):
    """Both numba graph-level kernels (top level memoised or solved per
    pair) give the local matrix bit for bit; a distributed level's rows
    written by the workers into the shared level file and the pair blocks
    gathering their slice from it (``'file'``), or (no such folder, or
    workers on another node than the driver) the rows sent back and written
    on the driver and the slices gathered on the driver."""
    shared = mode != 'no-file'
    if shared and (dmatrix.SHARED_LEVEL_DIR is None
                   or not os.path.isdir(dmatrix.SHARED_LEVEL_DIR)):
        pytest.skip('no shared-memory folder here')
    if not shared:
        monkeypatch.setattr(dmatrix, 'SHARED_LEVEL_DIR', None)
    if mode == 'other-node':  # the workers see another node id
        monkeypatch.setattr(dmatrix, '_driver_node', lambda ray: 'elsewhere')
    here = []
    orig_write = dmatrix.write_rows

    def write_spy(*args):
        here.append(args[2:4])
        return orig_write(*args)

    monkeypatch.setattr(dmatrix, 'write_rows', write_spy)
    gathers = []
    orig_plan = dmatrix.MemoBlockPlan.block_plan

    def plan_spy(self, *args, gather=False):
        out = orig_plan(self, *args, gather=gather)
        gathers.append(type(out).__name__)
        return out

    monkeypatch.setattr(dmatrix.MemoBlockPlan, 'block_plan', plan_spy)
    seen = []
    orig = tmd_mod._memoise_top

    def spy(*args):
        seen.append(orig(*args))
        return seen[-1]

    monkeypatch.setattr(tmd_mod, '_memoise_top', spy)
    # every memoised level by row chunks on the workers too
    monkeypatch.setattr(dmatrix, 'MIN_LEVEL_PROBLEMS', 0)
    levels = []
    orig_call = dmatrix.RayLevel.__call__

    def level_spy(self, *args):
        levels.append(len(args[5]))
        return orig_call(self, *args)

    monkeypatch.setattr(dmatrix.RayLevel, '__call__', level_spy)
    cont = continuous_graphs(45)
    disc = [Data(x=(g.x > 0).float(), edge_index=g.edge_index)
            for g in cont]
    for gs in (cont, disc):
        ref = tmd_pairwise(gs, 3, weights=[0.5, 2.0], backend='numba')
        D = pairwise(gs, 'tmd', depth=3, weights=[0.5, 2.0],
                     backend='numba', engine='ray', block_size=10)
        assert np.array_equal(D, ref)
        assert np.array_equal(
            tmd_cross(gs[:17], gs[17:], 3, backend='numba', engine='ray',
                      block_size=6),
            tmd_cross(gs[:17], gs[17:], 3, backend='numba'))
    assert True in seen and False in seen
    assert levels  # the distributed level kernel ran
    # with the shared file no row chunk comes back to the driver, and the
    # pair blocks gather their slices themselves
    assert (len(here) == 0) if mode == 'file' else (len(here) > 0)
    assert gathers  # the memoised top level went by block slices
    if mode == 'file':
        assert set(gathers) == {'SharedMemoSubPlan'}
    elif mode == 'other-node':  # each asked for again with its slice
        assert gathers.count('SharedMemoSubPlan') == gathers.count(
            'MemoSubPlan')
    else:
        assert set(gathers) == {'MemoSubPlan'}
    if shared:  # and the files are gone
        prefix = f'pyg_ext_level_{os.getpid()}_'
        assert not [f for f in os.listdir(dmatrix.SHARED_LEVEL_DIR)
                    if f.startswith(prefix)]


@needs_ray
def test_ray_worker_killed_mid_run_same_matrix(ray_cluster, monkeypatch,
                                               tmp_path):
    gs = continuous_graphs(40, seed=3)
    ref = didm_pairwise(gs, 2, backend=FAST)
    marker = tmp_path / 'killed'
    target = dmatrix.blocks(40, 40, 8, True)[2][:2]
    monkeypatch.setattr(dmatrix, '_FAULT', ('kill_once', str(marker),
                                            *target))
    D = didm_pairwise(gs, 2, engine='ray', block_size=8, backend=FAST,
                      store=tmp_path / 'store')
    assert marker.exists()  # the worker really died ...
    pid = int(marker.read_text())
    assert pid != os.getpid()
    with pytest.raises(OSError):
        os.kill(pid, 0)  # ... and is gone
    assert np.array_equal(D, ref)  # ... and its block was retried
    log = read_log(_store_dir(tmp_path / 'store'))
    assert len(log) == 15 and [*target] in [e['block'] for e in log]


@needs_ray
def test_ray_interrupted_run_resumes_unfinished_blocks(ray_cluster,
                                                       monkeypatch,
                                                       tmp_path):
    gs = continuous_graphs(48, seed=5)
    ref = tmd_pairwise(gs, 3, backend=FAST)
    all_blocks = dmatrix.blocks(48, 48, 8, True)
    target = all_blocks[-1][:2]  # submitted last: others finish first
    monkeypatch.setattr(dmatrix, '_FAULT', ('raise', *target))
    with pytest.raises(RuntimeError, match='injected'):
        tmd_pairwise(gs, 3, engine='ray', block_size=8, store=tmp_path,
                     backend=FAST)
    sdir = _store_dir(tmp_path)
    first = {tuple(e['block']) for e in read_log(sdir)}
    assert 0 < len(first) < len(all_blocks)
    assert target not in first
    monkeypatch.setattr(dmatrix, '_FAULT', None)
    D = tmd_pairwise(gs, 3, engine='ray', block_size=8, store=tmp_path,
                     backend=FAST)
    assert np.array_equal(D, ref)
    log = read_log(sdir)
    second = [tuple(e['block']) for e in log[len(first):]]
    assert len(second) == len(all_blocks) - len(first)
    assert set(second).isdisjoint(first)
    assert set(second) | first == {b[:2] for b in all_blocks}


@needs_ray
def test_ray_eigen_pe_equals_local(ray_cluster):
    from torch_geometric.datasets import FakeDataset

    from pyg_ext.transforms import precompute_eigen_pe
    ds = FakeDataset(num_graphs=60, avg_num_nodes=9, num_channels=2)
    graphs = [ds[i] for i in range(len(ds))]
    with warnings.catch_warnings(record=True) as w_loc:
        warnings.simplefilter('always')
        loc = precompute_eigen_pe([g.clone() for g in graphs], 4,
                                  chunk_size=16)
    with warnings.catch_warnings(record=True) as w_ray:
        warnings.simplefilter('always')
        dist = precompute_eigen_pe([g.clone() for g in graphs], 4,
                                   chunk_size=16, engine='ray')
    # eigengap warnings are raised on the driver, as locally
    assert [str(x.message) for x in w_ray] == [str(x.message) for x in w_loc]
    for a, b in zip(loc, dist):
        assert torch.equal(a.eigvecs, b.eigvecs)
        assert torch.equal(a.eigvals, b.eigvals)
        assert torch.equal(a.eig_mask, b.eig_mask)
    # an InMemoryDataset is updated on its collated storage, chunk by chunk
    ds_loc = precompute_eigen_pe(ds.copy(), 4, chunk_size=16,
                                 on_cut='ignore')
    ds_ray = precompute_eigen_pe(ds.copy(), 4, chunk_size=16,
                                 on_cut='ignore', engine='ray')
    for name in ('eigvecs', 'eigvals', 'eig_mask'):
        assert torch.equal(ds_loc._data[name], ds_ray._data[name])
    bad = [g.clone() for g in graphs]
    bad[40].edge_index = bad[40].edge_index + 100  # ids out of range
    with pytest.raises(ValueError), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the eigengap cuts of chunk 0
        precompute_eigen_pe(bad, 4, chunk_size=16, engine='ray')


@needs_ray
def test_ray_grid_retries_killed_worker_and_resumes(ray_cluster, tmp_path):
    path = tmp_path / 'grid.json'
    calls = tmp_path / 'calls'
    calls.mkdir()
    cells = [{'seed': s, 'x': x} for s in range(2) for x in range(3)]
    # half of the grid first (as a stopped job would leave it)
    run_grid(cells[:3], functools.partial(_square_cell, str(calls), None),
             engine='ray', json_path=path)
    assert len(load_finished(path)) == 3
    out = run_grid(cells, functools.partial(_kill_once_cell, str(calls),
                                            str(tmp_path / 'marker')),
                   engine='ray', json_path=path, retries=2)
    assert out == [c['x'] ** 2 + c['seed'] for c in cells]
    assert (tmp_path / 'marker').exists()
    entries = load_finished(path)
    assert len(entries) == 6
    # the first three were not run again: 3 + 3 + 1 (the killed attempt)
    assert len(list(calls.iterdir())) == 7


def _kill_once_cell(calls: str, marker: str, cell: dict) -> int:
    """Grid cell whose worker process dies the first time cell 4 runs."""
    idx = 3 * cell['seed'] + cell['x']
    Path(calls, f'{idx}-{time.time_ns()}-{os.getpid()}').touch()
    if idx == 4 and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        import signal
        os.kill(os.getpid(), signal.SIGKILL)
    return cell['x'] ** 2 + cell['seed']


def test_grid_json_is_valid_after_every_cell(tmp_path):
    path = tmp_path / 'g.json'
    seen = []

    def on_result(cell, result):
        seen.append(json.loads(path.read_text())['cells'][-1]['result'])

    run_grid([{'x': 1}, {'x': 2}], _double, json_path=path,
             on_result=on_result)
    assert seen == [2, 4]


def _double(cell: dict) -> int:
    return 2 * cell['x']


# --------------------------------------------------------------------------
# pyg-ext bench wis --engine / --address / --cells-json
# --------------------------------------------------------------------------
def _wis_argv(tmp_path: Path) -> list[str]:
    from test_wis_bench import make_ogb_nodeprop
    meta_path = tmp_path / 'meta.json'
    if not meta_path.exists():
        meta = make_ogb_nodeprop(tmp_path / 'ogb' / 'ogbn_toy')
        meta_path.write_text(json.dumps(meta))
    return ['--dataset', 'ogbn-toy', '--ogb-meta', str(meta_path),
            '--root', str(tmp_path), '--seeds', '2', '--epochs', '3',
            '--ratios', '0,0.5', '--methods', '1-wis,random',
            '--ref-steps', '0']


@pytest.mark.skipif(not has_package('ogb'), reason='ogb is not installed')
def test_bench_wis_cells_json_resumes(tmp_path, monkeypatch):
    from pyg_ext.bench import run_suite
    from pyg_ext.bench import wis as wis_mod
    calls = []
    orig = wis_mod.train_eval

    def counting(*args, **kwargs):
        calls.append(1)
        return orig(*args, **kwargs)

    monkeypatch.setattr(wis_mod, 'train_eval', counting)
    cells = tmp_path / 'cells.json'
    argv = _wis_argv(tmp_path) + ['--cells-json', str(cells)]
    res = run_suite('wis', argv)
    # 2 seeds x (0 % once + 2 methods at 50 %)
    assert len(calls) == 6 and len(load_finished(cells)) == 6
    again = run_suite('wis', argv)
    assert len(calls) == 6  # all cells came from the file
    assert again['accuracy'] == res['accuracy']
    assert res['accuracy']['1-wis@0.0'] == res['accuracy']['random@0.0']
    # another setting (here --epochs) is other cells: all run again, the
    # file keeps both (the old cells were keyed by seed/method/ratio only
    # and silently reused)
    run_suite('wis', argv + ['--epochs', '4'])
    assert len(calls) == 12 and len(load_finished(cells)) == 12
    from pyg_ext.bench import BenchArgumentError
    with pytest.raises(BenchArgumentError, match='--engine'):
        run_suite('wis', argv + ['--engine', 'spark'])
    with pytest.raises(BenchArgumentError, match='--address'):
        run_suite('wis', argv + ['--engine', 'ray', '--address', 'x'])
    with pytest.raises(ValueError, match='--engine ray'):
        run_suite('wis', argv + ['--address', '127.0.0.1:1'])


@needs_ray
@pytest.mark.skipif(not has_package('ogb'), reason='ogb is not installed')
def test_bench_wis_engine_ray(ray_cluster, tmp_path):
    from pyg_ext.bench import run_suite
    local = run_suite('wis', _wis_argv(tmp_path))
    dist = run_suite('wis', _wis_argv(tmp_path) + ['--engine', 'ray'])
    assert dist['accuracy'].keys() == local['accuracy'].keys()
    if torch.get_num_threads() == 1:  # same threads as the workers
        assert dist['accuracy'] == local['accuracy']
