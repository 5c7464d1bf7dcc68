"""`pyg-ext bench firstcall`: each case in a fresh process whose numba cache
starts empty, times reported per call."""

from __future__ import annotations

import pytest

from pyg_ext.bench import run_suite
from pyg_ext.bench.firstcall import _fresh


def test_case_runs_in_a_fresh_process_with_an_empty_cache() -> None:
    opts = {'calls': 2, 'wait': 60.0, 'graphs': 20, 'k': 3,
            'wis_edges': 500, 'seed': 0}
    out = _fresh('eigen-pyg', opts)
    assert out['cache_files'] == 0
    assert len(out['wall']) == len(out['cpu']) == 2
    assert all(t > 0 for t in out['wall'])
    assert 'loaded_wall' not in out  # PyG compiles nothing


def test_suite_reports_the_eigen_ratio_per_round() -> None:
    res = run_suite('firstcall', ['--cases', 'eigen,eigen-pyg', '--graphs',
                                  '20', '--k', '3', '--seeds', '3,',
                                  '--calls', '1'])
    assert res['seeds'] == [3]
    assert len(res['eigen_first_vs_pyg_first']) == 1
    for r in res['runs']['eigen']:
        assert r['cache_files'] == 0 and len(r['wall']) == 1


def test_unknown_case_names_the_option() -> None:
    with pytest.raises(ValueError, match='--cases'):
        run_suite('firstcall', ['--cases', 'eigen,nope'])
