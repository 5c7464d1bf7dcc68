"""``pyg-ext bench ogb --protocol ogb``: OGB's example settings, the
models (GIN, GIN-virtual, GPS + PE), the leaderboard-format report, resume
and the offline error (tiny settings; the full runs are in docs/pe.md)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import torch

from pyg_ext.bench import (
    BenchArgumentError,
    build_parser,
    prepare_args,
    run_suite,
)

pytest.importorskip('ogb')

from pyg_ext.bench import ogb as bench  # noqa: E402
from pyg_ext.nn.models.ogb import GPSMol, OGBMolGNN  # noqa: E402

# snap-stanford/ogb examples/graphproppred/mol/main_pyg.py (argparse
# defaults), gnn.py (JK='last', graph_pooling='mean', residual=False)
OGB_EXAMPLE = {'num_layers': 5, 'hidden': 300, 'dropout': 0.5,
               'batch_size': 32, 'epochs': 100, 'lr': 1e-3,
               'optimizer': 'adam', 'jk': 'last', 'pool': 'mean',
               'residual': False}


def test_protocol_config_equals_ogb_example() -> None:
    for key, value in OGB_EXAMPLE.items():
        assert bench.OGB_PROTOCOL[key] == value, key
    for model in ('gin', 'gin-virtual'):
        cfg = bench.cell_config(model, 'none', 'ogb')
        for key, value in OGB_EXAMPLE.items():
            assert cfg[key] == value, (model, key)
        assert cfg['weight_decay'] == 0.0
    # the default command is the protocol: 10 seeds, GIN and GIN-virtual
    args = prepare_args(build_parser('ogb').parse_args([]))
    assert args.seeds is None and args.model is None
    assert bench.default_seeds('ogb') == list(range(10))
    assert bench.default_seeds('quick') == [0, 1, 2]
    # the hook that gives ogb its own default leaves the other suites alone
    other = prepare_args(build_parser('eigen').parse_args([]))
    assert other.seeds == [0, 1, 2]
    # explicit options still override
    cfg = bench.cell_config('gin', 'none', 'ogb', {'epochs': 2,
                                                    'hidden': None})
    assert cfg['epochs'] == 2 and cfg['hidden'] == 300


def test_protocol_model_sizes_match_ogb() -> None:
    # OGB's leaderboard lists 1,885,206 (GIN) and 3,336,306 (GIN-virtual)
    # for ogbg-molhiv; ogb >= 1.3.5 has one more chirality category
    # ('misc', snap-stanford/ogb commit 184e2bf), i.e. 300 more weights in
    # the AtomEncoder, which OGB's own example model counts too.
    from ogb.utils.features import get_atom_feature_dims
    extra = 300 * (sum(get_atom_feature_dims()) - 173)
    n = bench.build_protocol_model
    gin = n(bench.cell_config('gin', 'none', 'ogb'), 1)
    vn = n(bench.cell_config('gin-virtual', 'none', 'ogb'), 1)
    assert sum(p.numel() for p in gin.parameters()) == 1885206 + extra
    assert sum(p.numel() for p in vn.parameters()) == 3336306 + extra
    pcba = n(bench.cell_config('gin', 'none', 'ogb'), 128)
    assert sum(p.numel() for p in pcba.parameters()) == 1923433 + extra
    assert bench.ANCHORS[('ogbg-molhiv', 'gin', 'none')]['params'] == 1885206


def _reference_forward(model: OGBMolGNN, data: Any) -> torch.Tensor:
    """OGB's GNN_node / GNN_node_Virtualnode written out with explicit
    scatter sums, on ``model``'s weights (eval mode)."""
    x, ei, ea, batch = data.x, data.edge_index, data.edge_attr, data.batch
    B = int(batch.max()) + 1
    h = model.input.atom_encoder(x)
    vn = model.vn_embedding.weight.expand(B, -1) if model.virtual_node \
        else None
    for i in range(model.num_layers):
        if model.virtual_node:
            h = h + vn[batch]
        e = model.bond_encoders[i](ea)
        msg = torch.relu(h[ei[0]] + e)
        agg = torch.zeros_like(h).index_add_(0, ei[1], msg)
        conv = model.convs[i]
        out = model.norms[i](conv.nn((1 + conv.eps) * h + agg))
        if i < model.num_layers - 1:
            out = out.relu()
        if model.virtual_node and i < model.num_layers - 1:
            pooled = torch.zeros(B, h.size(1)).index_add_(0, batch, h)
            vn = model.vn_mlps[i](pooled + vn)
        h = out
    sums = torch.zeros(B, h.size(1)).index_add_(0, batch, h)
    counts = torch.bincount(batch, minlength=B).clamp(min=1)
    return model.head(sums / counts.unsqueeze(1))


def _batch(root: Path, name: str = 'ogbg-molfreesolv', k: int | None = None,
           normalization: str = 'sym', n: int = 12) -> Any:
    from torch_geometric.loader import DataLoader
    ds, split, _ = bench.load_dataset(name, root, k=k,
                                      normalization=normalization)
    return next(iter(DataLoader(ds[split['train'][:n]], batch_size=n)))


@pytest.mark.dataset
@pytest.mark.parametrize('virtual', [False, True])
def test_ogb_gin_matches_reference(shared_root, virtual: bool) -> None:  # noqa: ANN001
    data = _batch(shared_root('ogb'), n=10)
    model = OGBMolGNN(1, num_layers=3, hidden_channels=16,
                      virtual_node=virtual)
    with torch.no_grad():  # non-trivial eps and virtual-node weights
        for conv in model.convs:
            conv.eps.fill_(0.3)
        if virtual:
            model.vn_embedding.weight.normal_()
    model.train()
    model(data)  # BatchNorm running statistics become non-trivial
    model.eval()
    with torch.no_grad():
        ref = _reference_forward(model, data)
        out = model(data)
    assert out.shape == (data.num_graphs, 1)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.dataset
@pytest.mark.parametrize('pe', ['lap', 'signnet', 'spe'])
def test_gps_with_pe_forward(shared_root, pe: str) -> None:  # noqa: ANN001
    cfg = bench.cell_config('gps', pe, 'ogb', {'num_layers': 2,
                                               'hidden': 32})
    data = _batch(shared_root('ogb'), k=cfg['k'],
                  normalization=cfg['normalization'])
    assert data.eigvecs.shape == (data.num_nodes, cfg['k'])
    model = bench.build_protocol_model(cfg, 1)
    assert isinstance(model, GPSMol)
    out = model(data)
    assert out.shape == (data.num_graphs, 1) and torch.isfinite(out).all()
    out.sum().backward()
    grads = [p.grad for p in model.pe_encoder.parameters()
             if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    # eval: SignNet and SPE ignore eigenvector signs, LapPE does not
    model.eval()
    flipped = data.clone()
    flipped.eigvecs = data.eigvecs * -1
    with torch.no_grad():
        a, b = model(data), model(flipped)
    if pe == 'lap':
        assert not torch.allclose(a, b, atol=1e-4)
    else:
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_command_round_trips_the_seeds() -> None:
    import argparse

    from pyg_ext.bench._common import seeds_from_arg
    for seeds in ([0, 1, 2], [1], [7], [0], [2, 5]):
        cmd = bench._command(argparse.Namespace(), 'ogbg-molesol', 'ogb',
                             ['gin'], ['none'], seeds)
        words = cmd.split()
        # the printed command reruns exactly these seeds
        assert seeds_from_arg(words[words.index('--seeds') + 1]) == seeds


def test_protocol_rejects_undefined_cells() -> None:
    with pytest.raises(ValueError, match='gine'):
        bench.cell_config('gine', 'none', 'ogb')
    with pytest.raises(ValueError, match='basisnet'):
        bench.cell_config('gin', 'basisnet', 'ogb')
    assert bench.cell_config('gine', 'basisnet', 'quick')['model'] == 'gine'
    with pytest.raises(BenchArgumentError, match='--pairs'):
        run_suite('ogb', ['--pairs', 'gin+foo'])
    with pytest.raises(BenchArgumentError, match='--model'):
        run_suite('ogb', ['--model', 'gat'])
    assert bench.pairs_type('gin+none, gps+lap,gin+none') == [
        ('gin', 'none'), ('gps', 'lap')]


TINY = ['--dataset', 'ogbg-molfreesolv', '--epochs', '2', '--max-graphs',
        '20', '--hidden', '16', '--layers', '2', '--pairs',
        'gin+none,gin-virtual+none,gin+spe,gps+lap']


@pytest.mark.dataset
def test_tiny_protocol_run_report_and_json(shared_root, tmp_path,  # noqa: ANN001
                                           capsys) -> None:
    root = shared_root('ogb')
    path = tmp_path / 'r.json'
    res = run_suite('ogb', TINY + ['--root', str(root), '--seeds', '2',
                                   '--json', str(path)])
    assert res['protocol'] == 'ogb' and res['metric'] == 'rmse'
    assert res['complete'] and res['cells_run'] == 8
    methods = [r['Method'] for r in res['table']]
    assert methods == ['GIN', 'GIN-virtual', 'GIN + SPE', 'GPS + LapPE']
    for row in res['table']:  # the leaderboard's columns
        for col in ('Test rmse', 'Validation rmse', '#Params', 'Hardware'):
            assert row[col], (row, col)
        assert ' ± ' in row['Test rmse'] and row['Seeds'] == '2'
    for cells in res['runs'].values():
        assert [c['seed'] for c in cells] == [0, 1]
        for c in cells:
            assert len(c['valid_curve']) == 2 and 1 <= c['epoch'] <= 2
            # the reported scores are those of the best-validation epoch
            assert c['valid'] == min(c['valid_curve'])
            assert c['test'] == c['test_curve'][c['epoch'] - 1]
    assert res['command'].startswith('pyg-ext bench ogb --dataset '
                                     'ogbg-molfreesolv --protocol ogb')
    comps = {(c['model'], c['pe']): c for c in res['comparisons']}
    assert set(comps) == {('gin', 'spe')}  # GPS has no 'none' cell here
    assert isinstance(comps[('gin', 'spe')]['beats'], bool)
    out = capsys.readouterr().out
    assert 'GIN + SPE: gain' in out and 'command: pyg-ext bench ogb' in out
    assert 'No published result' in out
    stored = json.loads(path.read_text())
    assert stored['suite'] == 'ogb' and 'environment' in stored
    assert len(stored['result']['cells']) == 8
    assert stored['result']['table'] == res['table']


@pytest.mark.dataset
def test_resume_skips_finished_cells(shared_root, tmp_path,  # noqa: ANN001
                                     monkeypatch) -> None:
    root = shared_root('ogb')
    path = tmp_path / 'r.json'
    argv = TINY + ['--root', str(root), '--seeds', '2', '--json', str(path)]
    real = bench.run_cell
    calls: list[tuple[str, str, int]] = []

    def stop_after_three(*a: Any, **kw: Any) -> dict[str, Any]:
        if len(calls) == 3:
            raise KeyboardInterrupt  # the process is stopped mid-run
        calls.append((a[1], a[2], a[3]))
        return real(*a, **kw)

    monkeypatch.setattr(bench, 'run_cell', stop_after_three)
    with pytest.raises(KeyboardInterrupt):
        run_suite('ogb', argv)
    stored = json.loads(path.read_text())
    assert not stored['result']['complete']
    assert len(stored['result']['cells']) == 3  # written as they finished

    calls.clear()
    monkeypatch.setattr(bench, 'run_cell',
                        lambda *a, **kw: calls.append(a[1:4]) or real(*a,
                                                                      **kw))
    res = run_suite('ogb', argv)
    assert res['cells_skipped'] == 3 and res['cells_run'] == 5
    assert len(calls) == 5  # seed-major: seed 0's 4th cell, then seed 1
    assert calls[0] == ('gps', 'lap', 0)
    assert res['complete'] and len(res['cells']) == 8
    # a third run has nothing left to do
    calls.clear()
    res = run_suite('ogb', argv)
    assert res['cells_skipped'] == 8 and calls == []
    # another setting is another cell, not a resumed one
    res = run_suite('ogb', argv[:-2] + ['--json', str(path), '--epochs',
                                        '1'])
    assert res['cells_run'] == 8


@pytest.mark.dataset
def test_resume_refuses_foreign_json(shared_root, tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / 'other.json'
    path.write_text(json.dumps({'suite': 'wis', 'result': {}}))
    with pytest.raises(ValueError, match='no ogb bench cells'):
        run_suite('ogb', TINY + ['--root', str(shared_root('ogb')),
                                 '--seeds', '1', '--json', str(path)])


@pytest.mark.dataset
def test_eigen_precompute_is_cached_on_its_repr(shared_root,  # noqa: ANN001
                                                monkeypatch) -> None:
    import pyg_ext.transforms as transforms
    root = shared_root('ogb')
    bench._LOADED.clear()
    ds, _, secs = bench.load_dataset('ogbg-molesol', root, k=5)
    assert secs > 0
    vecs = ds._data.eigvecs.clone()
    bench._LOADED.clear()

    def boom(*a: Any, **kw: Any) -> None:
        raise AssertionError('recomputed despite the cache')

    monkeypatch.setattr(transforms, 'precompute_eigen_pe', boom)
    ds2, _, secs2 = bench.load_dataset('ogbg-molesol', root, k=5)
    assert secs2 == 0.0
    torch.testing.assert_close(ds2._data.eigvecs, vecs)
    assert ds2[3].eigvecs.shape == (ds2[3].num_nodes, 5)
    bench._LOADED.clear()
    with pytest.raises(AssertionError, match='recomputed'):
        bench.load_dataset('ogbg-molesol', root, k=5, normalization='rw')
    bench._LOADED.clear()


def test_missing_dataset_offline_is_one_line(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    def offline(*a: Any, **kw: Any) -> None:
        raise urllib.error.URLError('network is unreachable')

    monkeypatch.setattr(urllib.request, 'urlopen', offline)
    root = tmp_path / 'empty'
    root.mkdir()
    # one line from pyg_ext (DatasetMissingError or the OGB loader's own
    # FileNotFoundError), never urllib's traceback
    with pytest.raises(FileNotFoundError) as info:
        run_suite('ogb', ['--dataset', 'ogbg-molhiv', '--root', str(root)])
    msg = str(info.value)
    assert '\n' not in msg
    assert 'ogbg-molhiv' in msg and str(root) in msg
    assert 'download' in msg.lower() and 'failed' in msg.lower()
    assert not (root / 'ogb' / 'ogbg_molhiv').exists()  # nothing half-made
