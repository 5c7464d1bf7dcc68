"""``pyg-ext bench heterophily --engine ray``: every (model, depth, split,
seed) cell a Ray task, the same scores as the local run, finished cells
streamed into ``--cells-json`` and a re-run resuming from it.

The Ray tests start one real local cluster (loopback only, 2 CPUs) for the
module, as tests/test_distributed_ray.py does, and are skipped when ray is
not installed. Data: the Platonov et al. re-release of texas (183 nodes)
copied from the shared datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pyg_ext.bench import run_suite
from pyg_ext.distributed.grid import GRID_FORMAT, load_finished
from pyg_ext.typing import has_package

WITH_RAY = has_package('ray')
needs_ray = pytest.mark.skipif(not WITH_RAY, reason='ray is not installed '
                               '(pip install "pyg_ext[distributed]")')

#: --quick (64 channels, lr 3e-3, 2 layers) with fewer steps: 2 models x 2
#: splits, a few seconds per cell on one thread.
QUICK = ['--dataset', 'texas', '--model', 'gcn,resnet', '--quick',
         '--splits', '2', '--steps', '40', '--log-every', '0']


@pytest.fixture(scope='module')
def ray_cluster():
    """A real local Ray cluster for the module: 2 CPUs, no dashboard."""
    if not WITH_RAY:
        pytest.skip('ray is not installed')
    import ray
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, address='local',
             logging_level='ERROR')
    yield ray
    ray.shutdown()


@pytest.fixture(scope='module')
def texas_argv(shared_root) -> list[str]:
    root = shared_root('heterophilous_extra')
    return [*QUICK, '--root', str(root), '--device', 'cpu']


@pytest.fixture(scope='module')
def local_run(texas_argv) -> dict[str, Any]:
    return run_suite('heterophily', texas_argv)


@pytest.fixture(scope='module')
def ray_run(ray_cluster, texas_argv, tmp_path_factory
            ) -> tuple[dict[str, Any], Path]:
    cells = tmp_path_factory.mktemp('grid') / 'cells.json'
    res = run_suite('heterophily', [*texas_argv, '--engine', 'ray',
                                    '--cells-json', str(cells)])
    return res, cells


def _scores(res: dict[str, Any]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """``(model, layers, split, seed) -> (val, test, best_step)`` of every
    run in a heterophily result."""
    out = {}
    for model, s in res['summary'].items():
        for r in s['runs']:
            key = (model, r['layers'], r['split'], r['seed'])
            assert key not in out
            out[key] = (r['val'], r['test'], r['best_step'])
    return out


def _table(res: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {m: (s['layers'], s['val_mean'], s['val_std'], s['test_mean'],
                s['test_std'], s['n'], s['splits'], s['seeds'])
            for m, s in res['summary'].items()}


@needs_ray
@pytest.mark.dataset
def test_heterophily_engine_ray_equals_local(local_run, ray_run):
    res, cells = ray_run
    local = _scores(local_run)
    assert sorted(local) == [(m, 2, s, s) for m in ('gcn', 'resnet')
                             for s in (0, 1)]
    # every cell's scores bit for bit (one thread here and on the workers)
    assert _scores(res) == local
    assert _table(res) == _table(local_run)
    assert list(res['summary']) == list(local_run['summary'])
    assert res['stopped_early'] is False
    # the scores differ between cells: a constant would not pass above
    assert len({v for v in local.values()}) > 1
    # every finished cell is in the grid file
    payload = json.loads(cells.read_text())
    assert payload['format'] == GRID_FORMAT
    stored = {(e['cell']['model'], e['cell']['layers'], e['cell']['split'],
               e['cell']['seed']): (e['result']['val'], e['result']['test'],
                                    e['result']['best_step'])
              for e in payload['cells']}
    assert stored == local


@needs_ray
@pytest.mark.dataset
def test_heterophily_engine_ray_resumes_from_cells_json(
        ray_run, local_run, texas_argv, tmp_path):
    _, full = ray_run
    payload = json.loads(full.read_text())
    # a stopped job: one finished cell, with scores no run can produce, so
    # that a re-run of that cell would show
    kept = next(e for e in payload['cells']
                if e['cell']['model'] == 'resnet' and e['cell']['split'] == 1)
    kept['result'] = {**kept['result'], 'val': 0.5, 'test': 0.25,
                      'best_step': 7}
    path = tmp_path / 'cells.json'
    path.write_text(json.dumps({'format': GRID_FORMAT, 'cells': [kept]}))
    res = run_suite('heterophily', [*texas_argv, '--engine', 'ray',
                                    '--cells-json', str(path)])
    got = _scores(res)
    want = _scores(local_run)
    assert got[('resnet', 2, 1, 1)] == (0.5, 0.25, 7)  # read, not re-run
    del got[('resnet', 2, 1, 1)], want[('resnet', 2, 1, 1)]
    assert got == want  # the three other cells ran
    entries = load_finished(path)
    assert len(entries) == 4
    assert sum(e['result']['test'] == 0.25 for e in entries.values()) == 1


@pytest.mark.dataset
def test_cells_json_of_another_protocol_is_not_reused(local_run, texas_argv,
                                                      tmp_path):
    """--cells-json without Ray runs the grid here; a cell of another
    protocol (here --lr) is a different cell, never read back."""
    path = tmp_path / 'cells.json'
    argv = [*texas_argv, '--cells-json', str(path)]
    argv[argv.index('--model') + 1] = 'gcn'
    argv[argv.index('--splits') + 1] = '1'
    first = run_suite('heterophily', argv)
    assert _scores(first) == {k: v for k, v in _scores(local_run).items()
                              if k == ('gcn', 2, 0, 0)}
    assert len(load_finished(path)) == 1
    again = run_suite('heterophily', argv)  # all from the file
    assert _scores(again) == _scores(first)
    assert len(load_finished(path)) == 1
    other = run_suite('heterophily', [*argv, '--lr', '0.05'])
    assert len(load_finished(path)) == 2
    assert _scores(other) != _scores(first)


@pytest.mark.dataset
@pytest.mark.parametrize('extra, match', [
    (['--engine', 'ray', '--time-budget', '10'], '--time-budget'),
    (['--cells-json', 'x.json', '--history', 'h.json'], '--history'),
    (['--address', '127.0.0.1:1'], '--engine ray'),
])
def test_grid_options_the_grid_cannot_honour_are_refused(
        texas_argv, tmp_path, monkeypatch, extra, match):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=match):
        run_suite('heterophily', [*texas_argv, *extra])
    assert not (tmp_path / 'x.json').exists()


def test_ray_cells_train_on_the_cpu():
    from pyg_ext.bench.heterophily import _ray_device
    assert str(_ray_device('auto')) == str(_ray_device('cpu')) == 'cpu'
    with pytest.raises(ValueError, match='--device cuda'):
        _ray_device('cuda')


# --------------------------------------------------------------------------
# pyg-ext bench ogb --engine ray (resume from its own --json)
# --------------------------------------------------------------------------
OGB_TINY = ['--dataset', 'ogbg-molfreesolv', '--epochs', '2', '--max-graphs',
            '20', '--hidden', '16', '--layers', '2', '--pairs',
            'gin+none,gin-virtual+none', '--seeds', '2']


def _ogb_scores(res: dict[str, Any]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {(c['model'], c['pe'], c['seed']): (c['valid'], c['test'],
                                               c['epoch'])
            for c in res['cells']}


@needs_ray
@pytest.mark.dataset
@pytest.mark.skipif(not has_package('ogb'), reason='ogb is not installed')
def test_ogb_engine_ray_equals_local_and_resumes(ray_cluster, shared_root,
                                                 tmp_path):
    argv = [*OGB_TINY, '--root', str(shared_root('ogb'))]
    local = run_suite('ogb', argv)
    path = tmp_path / 'r.json'
    dist = run_suite('ogb', [*argv, '--engine', 'ray', '--json', str(path)])
    assert dist['cells_run'] == 4 and dist['complete']
    assert _ogb_scores(dist) == _ogb_scores(local)
    assert len(set(_ogb_scores(local).values())) > 1
    assert dist['table'][0]['Test rmse'] == local['table'][0]['Test rmse']
    # a stopped job: one finished cell in --json, with a score no run gives
    stored = json.loads(path.read_text())
    kept = stored['result']['cells'][0]
    kept['test'] = 123.0
    stored['result']['cells'] = [kept]
    stored['result']['complete'] = False
    path.write_text(json.dumps(stored))
    again = run_suite('ogb', [*argv, '--engine', 'ray', '--json',
                              str(path)])
    assert again['cells_skipped'] == 1 and again['cells_run'] == 3
    got = _ogb_scores(again)
    key = (kept['model'], kept['pe'], kept['seed'])
    assert got.pop(key)[1] == 123.0  # read back, not re-run
    want = _ogb_scores(local)
    del want[key]
    assert got == want
    with pytest.raises(ValueError, match='--cells-json'):
        run_suite('ogb', [*argv, '--cells-json', str(tmp_path / 'c.json')])


# --- 2026-12-03 audit: a resumed grid returns what a first run returns -----

def test_run_grid_results_equal_on_first_and_resumed_runs(
        tmp_path: Path) -> None:
    import numpy as np

    from pyg_ext.distributed import run_grid
    path = tmp_path / 'g.json'

    def fn(cell: dict[str, Any]) -> Any:
        return {'t': (1, 2), 1: np.arange(2), 'x': cell['a'] * 0.5}

    cells = [{'a': 1}, {'a': 2}]
    first = run_grid(cells, fn, json_path=path)
    again = run_grid(cells, fn, json_path=path)
    assert first == again == [{'t': [1, 2], '1': [0, 1], 'x': 0.5},
                              {'t': [1, 2], '1': [0, 1], 'x': 1.0}]
    # without a file the results are returned as they are
    assert run_grid(cells[:1], fn)[0]['t'] == (1, 2)
    with pytest.raises(TypeError, match='cannot be stored'):
        run_grid([{'a': 3}], lambda c: {1, 2}, json_path=path)
