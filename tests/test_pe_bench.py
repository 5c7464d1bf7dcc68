"""The CSL demo and the OGB runner, on tiny settings (the full runs are in
docs/pe.md)."""

from __future__ import annotations

import pytest
import torch

from pyg_ext.bench import run_suite
from pyg_ext.datasets import get_dataset
from pyg_ext.datasets.csl import CSL_SKIPS, CSLDataset, csl_edge_index


def test_csl_dataset() -> None:
    ds = CSLDataset()
    assert len(ds) == 150 and ds.num_classes == 10
    assert 'CSLDataset(150' in repr(ds)
    for skip in CSL_SKIPS:  # 4-regular
        ei = csl_edge_index(41, skip)
        assert torch.all(torch.bincount(ei[0], minlength=41) == 4)
    split = ds.get_idx_split()
    assert [len(split[s]) for s in ('train', 'valid', 'test')] == [90, 30, 30]
    assert len(set(torch.cat(list(split.values())).tolist())) == 150
    assert torch.all(torch.bincount(ds.y[split['test']]) == 3)
    assert len(get_dataset('CSL', graphs_per_class=2)) == 20


def test_csl_bench_none_is_at_chance() -> None:
    res = run_suite('csl', ['--pe', 'none,spe', '--epochs', '1', '--seeds',
                            '1', '--hidden', '16', '--layers', '2'])
    # message passing on constant features: identical predictions
    assert res['none']['test'] == [pytest.approx(0.1)]
    assert res['spe']['params'] > res['none']['params']


@pytest.mark.dataset
def test_ogb_runner_smoke(shared_root, tmp_path) -> None:  # noqa: ANN001
    pytest.importorskip('ogb')
    root = shared_root('ogb')
    res = run_suite('ogb', [
        '--dataset', 'ogbg-molbace', '--root', str(root), '--quick', '--pe',
        'none,signnet', '--epochs', '1', '--seeds', '1', '--max-graphs',
        '48', '--hidden', '16', '--layers', '1', '--json',
        str(tmp_path / 'r.json')])
    assert res['metric'] == 'rocauc'
    for pe in ('none', 'signnet'):
        (run,) = res['runs'][pe]
        assert 0.0 <= run['test'] <= 1.0 and run['params'] > 0
    assert (tmp_path / 'r.json').exists()


def test_ogb_runner_rejects_unknown_pe(shared_root) -> None:  # noqa: ANN001
    pytest.importorskip('ogb')
    root = shared_root('ogb')
    with pytest.raises(ValueError, match='unknown --pe'):
        run_suite('ogb', ['--root', str(root), '--pe', 'foo'])
