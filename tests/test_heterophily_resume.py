"""Checkpoint / resume of the heterophily runner (``--checkpoint``).

A run stopped halfway (an exception raised from the step hook, as a killed
process would leave it) and started again with the same arguments must end
exactly where the uninterrupted run ends: same per-step validation/test
history, so the same best-validation step and scores, bit for bit on CPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from pyg_ext.bench.heterophily import (
    StepReporter,
    cell_paths,
    model_code_version,
    run_cell,
    train_one,
)


class Stop(Exception):
    """Stands in for a killed process."""


@pytest.fixture(scope='module')
def chameleon(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real chameleon_filtered graph (890 nodes, sparse bag-of-words
    features: the CPU run takes the sparse input path)."""
    import shutil

    from conftest import shared_data_dir  # tests/ is on sys.path

    from pyg_ext.datasets.heterophily import PlatonovHeterophilyDataset
    src = shared_data_dir()
    if src is None:
        pytest.skip('../shared/datasets not present')
    root = tmp_path_factory.mktemp('het')
    shutil.copytree(src / 'heterophilous_extra' / 'chameleon_filtered',
                    root / 'chameleon_filtered')
    return PlatonovHeterophilyDataset(str(root), 'chameleon_filtered')[0]


CFG = dict(hidden=16, heads=4, dropout=0.2, lr=3e-3, steps=30,
           device='cpu', seed=3)


def _curve() -> tuple[dict[str, Any], Any]:
    store: dict[str, Any] = {}

    def on_step(done: int, hist: torch.Tensor) -> None:
        store['hist'] = hist.clone()
        store['done'] = done

    return store, on_step


@pytest.mark.parametrize('model', ['gcn', 'gat-sep'])
def test_resumed_run_equals_uninterrupted_run(chameleon: Any, tmp_path: Path,
                                              model: str) -> None:
    ref_store, ref_cb = _curve()
    ref = run_cell(chameleon, 'chameleon_filtered', 'accuracy', model, 2, 1,
                   on_step=ref_cb, **CFG)
    ckdir = tmp_path / 'ck'

    def kill_at_17(done: int) -> None:
        if done == 17:
            raise Stop

    with pytest.raises(Stop):
        run_cell(chameleon, 'chameleon_filtered', 'accuracy', model, 2, 1,
                 checkpoint_dir=ckdir, checkpoint_every=5,
                 step_hook=kill_at_17, **CFG)
    pt, done_json = cell_paths(ckdir, 'chameleon_filtered', model, 2, 1, 3, {
        'hidden': 16, 'heads': 4, 'dropout': 0.2, 'lr': 3e-3, 'steps': 30,
        'amp': False, 'weight_decay': 0.0, 'metric': 'accuracy',
        'self_loop_mode': 'append', 'gcn_degree': 'out', 'format': 1,
        'code': model_code_version(model)})
    assert pt.exists() and not done_json.exists()
    state = torch.load(pt, weights_only=True)
    assert state['step'] == 15  # the last multiple of 5 before the stop
    assert state['history'].shape == (15, 2)

    store, cb = _curve()
    res = run_cell(chameleon, 'chameleon_filtered', 'accuracy', model, 2, 1,
                   checkpoint_dir=ckdir, checkpoint_every=5, on_step=cb,
                   **CFG)
    assert res['resumed_from'] == 15
    # bit for bit: the whole curve, hence the best step and its scores
    assert torch.equal(store['hist'], ref_store['hist'])
    assert res['best_step'] == ref['best_step']
    assert res['val'] == ref['val'] and res['test'] == ref['test']
    # finished: the checkpoint is gone, the result is stored
    assert not pt.exists() and done_json.exists()
    stored = json.loads(done_json.read_text())
    assert stored['best_step'] == ref['best_step']
    assert stored['val'] == ref['val']

    # a third start trains nothing and returns the stored result
    calls = []
    again = run_cell(chameleon, 'chameleon_filtered', 'accuracy', model, 2,
                     1, checkpoint_dir=ckdir, step_hook=calls.append, **CFG)
    assert calls == [] and again['finished_earlier']
    assert again['test'] == ref['test']


def test_checkpoint_of_another_run_is_refused(chameleon: Any,
                                              tmp_path: Path) -> None:
    ck = tmp_path / 'x.pt'

    def stop(done: int) -> None:
        if done == 4:
            raise Stop

    kw = dict(hidden=8, heads=2, dropout=0.0, lr=1e-3, steps=6,
              device=torch.device('cpu'))
    with pytest.raises(Stop):
        train_one(chameleon, 'gcn', 1, 0, 'accuracy', checkpoint=ck,
                  checkpoint_every=2, step_hook=stop, **kw)
    assert ck.exists()
    with pytest.raises(ValueError, match='belongs to another run'):
        train_one(chameleon, 'gcn', 1, 1, 'accuracy', checkpoint=ck, **kw)
    ck.write_bytes(ck.read_bytes()[:100])  # a truncated file
    with pytest.raises(ValueError, match='cannot be read'):
        train_one(chameleon, 'gcn', 1, 0, 'accuracy', checkpoint=ck, **kw)


def test_progress_lines_on_a_resumed_run(chameleon: Any, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    kw = dict(CFG, checkpoint_dir=tmp_path, checkpoint_every=10,
              log_every=1e-9)

    def stop(done: int) -> None:
        if done == 12:
            raise Stop

    with pytest.raises(Stop):
        run_cell(chameleon, 'chameleon_filtered', 'accuracy', 'sage', 1, 0,
                 step_hook=stop, **kw)
    capsys.readouterr()
    run_cell(chameleon, 'chameleon_filtered', 'accuracy', 'sage', 1, 0, **kw)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('  sage L=1 split 0: resumed at step 10/30')
    steps = [ln for ln in lines if ': step ' in ln]
    # one line per step after the resume (log_every ~ 0), the first at 11
    assert len(steps) == 20 and 'step 11/30' in steps[0]
    assert all('best ' in ln and 's/step' in ln for ln in steps)


def test_step_reporter_time_per_step_counts_steps_since_resume(
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pyg_ext.bench.heterophily as het
    now = [100.0]
    monkeypatch.setattr(het.time, 'perf_counter', lambda: now[0])
    hist = torch.zeros(10, 2, dtype=torch.float64)
    rep = StepReporter('m', 10, every=1.0)
    rep.resume(8, hist)
    now[0] += 4.0  # 2 steps in 4 s: 2 s/step (not 4/9)
    rep(9, hist)
    rep(10, hist)
    out = capsys.readouterr().out
    assert 'resumed at step 8/10' in out
    assert 'step 9/10' in out and '4.000 s/step' in out


def test_cli_resume_skips_finished_runs(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    from test_heterophily_datasets import write_npz

    from pyg_ext.bench import run_suite
    write_npz(tmp_path / 'heterophilous', 'questions', n=40, c=2, e=80)
    argv = ['--dataset', 'questions', '--model', 'gcn', '--steps', '6',
            '--hidden', '8', '--layers', '1', '--splits', '2', '--root',
            str(tmp_path), '--checkpoint', str(tmp_path / 'ck'),
            '--checkpoint-every', '2']
    first = run_suite('heterophily', argv)
    capsys.readouterr()
    second = run_suite('heterophily', argv)
    out = capsys.readouterr().out
    assert out.count('finished earlier') == 2
    a, b = first['summary']['gcn'], second['summary']['gcn']
    assert a['test_mean'] == b['test_mean']
    assert [r['best_step'] for r in a['runs']] == \
        [r['best_step'] for r in b['runs']]
    # another protocol (lr) is another folder: trained again
    run_suite('heterophily', [*argv, '--lr', '0.01'])
    assert 'finished earlier' not in capsys.readouterr().out
    assert len(list((tmp_path / 'ck' / 'questions').iterdir())) == 2


def test_changed_model_code_is_trained_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A run finished under older model code is not read back: the model's
    source files enter the protocol hash (before, only the hyperparameters
    did, so a fixed model still reported its old, stale scores)."""
    from test_heterophily_datasets import write_npz

    import pyg_ext.bench.heterophily as H
    from pyg_ext.bench import run_suite
    write_npz(tmp_path / 'heterophilous', 'questions', n=40, c=2, e=80)
    argv = ['--dataset', 'questions', '--model', 'gcn', '--steps', '4',
            '--hidden', '8', '--layers', '1', '--splits', '1', '--root',
            str(tmp_path), '--checkpoint', str(tmp_path / 'ck')]
    run_suite('heterophily', argv)
    capsys.readouterr()
    run_suite('heterophily', argv)
    assert 'finished earlier' in capsys.readouterr().out
    # the same arguments after an edit of the model's module
    monkeypatch.setattr(H, 'model_code_version', lambda name: 'edited')
    run_suite('heterophily', argv)
    assert 'finished earlier' not in capsys.readouterr().out
    assert len(list((tmp_path / 'ck' / 'questions').iterdir())) == 2


def test_model_code_version_follows_the_model_source() -> None:
    """The hash is the model's own source files: baselines share one module,
    specific models another; it leaves the caller's RNG untouched."""
    import pyg_ext.bench.heterophily as H
    H.model_code_version.cache_clear()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    v = {m: H.model_code_version(m) for m in ('gcn', 'gat-sep', 'h2gcn')}
    assert torch.equal(torch.rand(3), expected)
    assert v['gcn'] == v['gat-sep'] != v['h2gcn']
    assert all(len(x) == 12 for x in v.values())


def test_grid_cell_protocol_includes_model_code() -> None:
    import pyg_ext.bench.heterophily as H
    proto = dict(hidden=8, lr=0.01, steps=4, dropout=0.2, weight_decay=0.0,
                 optimizer='adamw', patience=None)
    dev = torch.device('cpu')
    a = H.cell_protocol(proto, 2, False, 'accuracy', dev, 'gcn')
    b = H.cell_protocol(proto, 2, False, 'accuracy', dev, 'h2gcn')
    assert a != b
