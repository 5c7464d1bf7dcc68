"""``pyg-ext bench ogb --preset``: the preset reaches the PE encoders (tiny
settings, like ``tests/test_pe_bench.py``; the full runs are in
docs/pe.md)."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from pyg_ext.bench import BenchArgumentError, run_suite

ENCODERS = ('signnet', 'basisnet', 'spe')


def _args(preset: str | None) -> argparse.Namespace:
    ns = argparse.Namespace(hidden=16, k=8, layers=1, model='gin',
                            dropout=0.0)
    if preset is not None:
        ns.preset = preset
    return ns


@pytest.mark.parametrize('pe', ENCODERS)
def test_build_model_passes_preset(pe: str) -> None:
    pytest.importorskip('ogb')
    from pyg_ext.bench import ogb

    ref = ogb.build_model(pe, _args('reference'), 1).pe_encoder
    default = ogb.build_model(pe, _args('pyg_ext'), 1).pe_encoder
    legacy = ogb.build_model(pe, _args(None), 1).pe_encoder  # no attribute
    assert ref.preset == 'reference'
    assert default.preset == 'pyg_ext' and legacy.preset == 'pyg_ext'
    assert type(ref) is type(default)
    # the reference modules are different networks, not a relabelling
    def kinds(m: Any) -> set[str]:
        return {type(sub).__name__ for sub in m.modules()}

    assert kinds(ref) != kinds(default)


def test_build_model_preset_leaves_other_pes_alone() -> None:
    pytest.importorskip('ogb')
    from pyg_ext.bench import ogb

    enc = ogb.build_model('lap', _args('reference'), 1).pe_encoder
    assert not hasattr(enc, 'preset')
    assert ogb.build_model('none', _args('reference'), 1).pe_encoder is None


def test_build_model_rejects_unknown_preset() -> None:
    pytest.importorskip('ogb')
    from pyg_ext.bench import ogb

    with pytest.raises(ValueError, match='preset'):
        ogb.build_model('signnet', _args('paper'), 1)


@pytest.mark.dataset
def test_ogb_runner_preset_reference(shared_root, tmp_path,  # noqa: ANN001
                                     monkeypatch) -> None:
    pytest.importorskip('ogb')
    import pyg_ext.nn.pe as pe_pkg

    built: list[tuple[str, dict[str, Any]]] = []
    real = pe_pkg.build_pe_encoder

    def spy(name: str, k: int, out: int, **kwargs: Any) -> Any:
        enc = real(name, k, out, **kwargs)
        built.append((name, getattr(enc, 'preset', None)))
        return enc

    monkeypatch.setattr(pe_pkg, 'build_pe_encoder', spy)
    root = shared_root('ogb')
    common = ['--dataset', 'ogbg-molesol', '--root', str(root), '--quick',
              '--pe',
              'none,signnet,basisnet,spe', '--epochs', '1', '--seeds', '1',
              '--max-graphs', '24', '--hidden', '16', '--layers', '1']
    res = run_suite('ogb', common + ['--preset', 'reference', '--json',
                                     str(tmp_path / 'r.json')])
    assert res['preset'] == 'reference'
    assert dict(built) == {'none': None, 'signnet': 'reference',
                           'basisnet': 'reference', 'spe': 'reference'}
    labels = [row['Method'] for row in res['table']]
    assert labels == ['GIN + none', 'GIN + signnet (reference)',
                      'GIN + basisnet (reference)', 'GIN + spe (reference)']
    stored = json.loads((tmp_path / 'r.json').read_text())
    assert stored['result']['preset'] == 'reference'
    for pe in ENCODERS:
        (run,) = res['runs'][pe]
        assert run['test'] == run['test'] and run['params'] > 0  # not NaN

    built.clear()
    default = run_suite('ogb', common)  # --preset defaults to pyg_ext
    assert default['preset'] == 'pyg_ext'
    assert dict(built) == {'none': None, 'signnet': 'pyg_ext',
                           'basisnet': 'pyg_ext', 'spe': 'pyg_ext'}
    # 'none' has no encoder: the same model under both presets
    assert (default['runs']['none'][0]['params']
            == res['runs']['none'][0]['params'])
    assert (default['runs']['basisnet'][0]['params']
            != res['runs']['basisnet'][0]['params'])


def test_ogb_runner_rejects_unknown_preset(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(BenchArgumentError, match='--preset'):
        run_suite('ogb', ['--root', str(tmp_path), '--pe', 'spe',
                          '--preset', 'paper'])
    with pytest.raises(ValueError, match='--preset'):  # Python callers
        from pyg_ext.bench import ogb
        ogb.run(argparse.Namespace(dataset='ogbg-molbace', pe='spe',
                                   preset='paper', device='cpu',
                                   root=str(tmp_path)))


@pytest.mark.dataset
def test_ogb_runner_skips_single_node_batches(shared_root) -> None:  # noqa: ANN001
    # ogbg-molfreesolv has single-atom molecules; with one graph per batch
    # the first 179 training graphs of the fixed subset hold one of them
    # (position 178), which BatchNorm cannot train on: it used to abort the
    # run ('Expected more than 1 value per channel when training').
    pytest.importorskip('ogb')
    root = shared_root('ogb')
    res = run_suite('ogb', [
        '--dataset', 'ogbg-molfreesolv', '--root', str(root), '--quick',
        '--pe',
        'none', '--epochs', '1', '--seeds', '1', '--max-graphs', '179',
        '--batch-size', '1', '--hidden', '8', '--layers', '1'])
    (run,) = res['runs']['none']
    assert run['skipped_batches'] == 1
    assert run['epoch'] == 1 and run['test'] == run['test']  # trained, finite
