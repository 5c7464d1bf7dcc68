"""``pyg-ext bench wis`` on real Cora and on a generated OGB-format dataset
loaded by the real ``ogb`` class."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from pyg_ext.bench import run_suite
from pyg_ext.typing import WITH_MATPLOTLIB, WITH_OGB


def _write_csv_gz(path: Path, rows: np.ndarray, fmt: str = '%d') -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, 'wt') as f:
        np.savetxt(f, rows, fmt=fmt, delimiter=',')


def make_ogb_nodeprop(folder: Path, num_nodes: int = 80, seed: int = 0
                      ) -> dict:
    """A small planted-partition graph in OGB's node-property file layout;
    returns the ``meta_dict`` for :class:`ogb.nodeproppred.
    PygNodePropPredDataset`."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, num_nodes)
    src, dst = [], []
    for u in range(num_nodes):
        for v in range(u + 1, num_nodes):
            p = 0.15 if y[u] == y[v] else 0.02
            if rng.random() < p:
                src.append(u)
                dst.append(v)
    edges = np.stack([src, dst], axis=1)
    feat = np.eye(3)[y] + 0.8 * rng.standard_normal((num_nodes, 3))
    raw = folder / 'raw'
    _write_csv_gz(raw / 'edge.csv.gz', edges)
    _write_csv_gz(raw / 'num-node-list.csv.gz', np.array([[num_nodes]]))
    _write_csv_gz(raw / 'num-edge-list.csv.gz', np.array([[len(src)]]))
    _write_csv_gz(raw / 'node-feat.csv.gz', feat, fmt='%.6f')
    _write_csv_gz(raw / 'node-label.csv.gz', y.reshape(-1, 1))
    perm = rng.permutation(num_nodes)
    a, b = int(0.6 * num_nodes), int(0.8 * num_nodes)
    split = folder / 'split' / 'random'
    _write_csv_gz(split / 'train.csv.gz', perm[:a].reshape(-1, 1))
    _write_csv_gz(split / 'valid.csv.gz', perm[a:b].reshape(-1, 1))
    _write_csv_gz(split / 'test.csv.gz', perm[b:].reshape(-1, 1))
    (folder / 'RELEASE_v1.txt').write_text('generated for tests\n')
    return {
        'dir_path': str(folder), 'version': 1, 'download_name': 'toy',
        'url': '', 'num tasks': 1, 'task type': 'multiclass classification',
        'eval metric': 'acc', 'num classes': 3, 'is hetero': 'False',
        'binary': 'False', 'add_inverse_edge': 'False',
        'has_node_attr': 'True', 'has_edge_attr': 'False',
        'additional node files': 'None', 'additional edge files': 'None',
        'split': 'random',
    }


@pytest.mark.skipif(not WITH_OGB, reason='ogb is not installed')
def test_bench_on_generated_ogb_dataset(tmp_path: Path) -> None:
    from pyg_ext.utils import load_ogb_nodeprop
    meta = make_ogb_nodeprop(tmp_path / 'ogb' / 'ogbn_toy')
    ds, split = load_ogb_nodeprop('ogbn-toy', tmp_path / 'ogb',
                                  meta_dict=meta)
    assert ds[0].num_nodes == 80 and len(split['train']) == 48
    meta_path = tmp_path / 'meta.json'
    meta_path.write_text(json.dumps(meta))
    argv = ['--dataset', 'ogbn-toy', '--ogb-meta', str(meta_path),
            '--root', str(tmp_path), '--seeds', '2', '--epochs', '5',
            '--ratios', '0,0.5', '--ref-steps', '5',
            '--json', str(tmp_path / 'out.json')]
    if WITH_MATPLOTLIB:
        argv += ['--plot', str(tmp_path / 'wis.png')]
    res = run_suite('wis', argv)
    assert res['split'] == 'official'
    assert set(res['methods']) == {'1-wis', '2-wis', 'random', 'spectral'}
    for key, accs in res['accuracy'].items():
        assert len(accs) == 2 and all(0.0 <= a <= 1.0 for a in accs), key
    assert res['timing']['speedup_1wis_vs_reference'] > 0
    assert (tmp_path / 'out.json').exists()
    if WITH_MATPLOTLIB:
        assert (tmp_path / 'wis.png').stat().st_size > 1000


@pytest.mark.dataset
def test_bench_on_cora(shared_root, tmp_path: Path) -> None:  # noqa: ANN001
    root = shared_root('planetoid')
    res = run_suite('wis', ['--dataset', 'Cora', '--root', str(root),
                            '--seeds', '1', '--epochs', '2',
                            '--ratios', '0,0.5', '--methods', '1-wis',
                            '--ref-steps', '5', '--model', 'sage',
                            '--table', str(tmp_path / 't.md')])
    assert '| 50%' in res['table']
    assert (tmp_path / 't.md').read_text().startswith('| removed')
    # the reference protocol's model on sparse features and a CSR adjacency
    res = run_suite('wis', ['--dataset', 'Cora', '--root', str(root),
                            '--seeds', '2', '--epochs', '3',
                            '--ratios', '0.5', '--methods', 'random',
                            '--ref-steps', '0', '--model', 'gcn',
                            '--arch', 'paper', '--dropout', '0',
                            '--split-seed', '1', '--min-delta', '1e-4'])
    accs = res['accuracy']['random@0.5']
    assert len(accs) == 2 and all(0.0 < a <= 1.0 for a in accs)
    assert res['split_seed'] == 1 and res['training']['arch'] == 'paper'


def test_bench_bad_input() -> None:
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        run_suite('wis', ['--ratios', '0,1.5'])
    with pytest.raises(ValueError, match='unknown method'):
        run_suite('wis', ['--methods', 'wis9'])


def test_paper_arch_and_fixed_split() -> None:
    import torch

    from pyg_ext.bench.wis import _Net, random_split
    net = _Net('gcn', 5, 8, 3, 3, 0.0, 'paper')
    # reference layout: every conv to the hidden width, LayerNorm after each,
    # a linear head to the classes
    assert [c.out_channels for c in net.convs] == [8, 8, 8]
    assert len(net.norms) == 3 and net.head.out_features == 3
    x = torch.randn(6, 5)
    ei = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    assert net(x, ei).shape == (6, 3)
    pyg = _Net('gcn', 5, 8, 3, 3, 0.5)
    assert pyg.convs[-1].out_channels == 3 and pyg.head is None
    with pytest.raises(ValueError, match='arch'):
        _Net('gcn', 5, 8, 3, 3, 0.0, 'other')
    a, b = random_split(100, 1), random_split(100, 1)
    assert torch.equal(a['test'], b['test'])
    assert not torch.equal(a['test'], random_split(100, 2)['test'])
    from pyg_ext.bench import build_parser
    args = build_parser('wis').parse_args(
        ['--split-seed', '1', '--arch', 'paper', '--min-delta', '1e-4'])
    assert args.split_seed == 1 and args.arch == 'paper'
    assert args.min_delta == 1e-4


# --- 2026-12-03 review: the reference estimate follows the removal order --

def test_reference_estimate_integrates_along_the_order(monkeypatch):
    import torch

    from pyg_ext.bench import wis as W
    from pyg_ext.utils.walk_index import walk_index_sparsify
    g = torch.Generator().manual_seed(0)
    ei = torch.randint(0, 30, (2, 120), generator=g)
    ei = torch.cat([ei, ei.flip(0)], 1)
    order = walk_index_sparsify(ei, num_nodes=30, num_layers=2)
    seen = []

    def per_removal(edge_index, num_nodes, steps):
        seen.append(edge_index.size(1))
        return float(edge_index.size(1))  # cost proportional to the edges

    monkeypatch.setattr(W, 'reference_one_wis_seconds_per_removal',
                        per_removal)
    total, per0 = W.reference_one_wis_full_order_seconds(ei, 30, 5, order)
    m = order.num_candidates
    assert per0 == ei.size(1) and seen[0] == ei.size(1)
    assert seen == sorted(seen, reverse=True) and len(seen) == 5
    # cheaper than the whole-graph cost for every removal (the old estimate)
    assert total < per0 * m
    # roughly half of it for a cost falling linearly to ~0
    assert 0.4 * per0 * m < total < 0.65 * per0 * m


def test_single_value_prints_n1():
    from pyg_ext.bench._common import fmt_mean_std
    assert fmt_mean_std([0.5]) == '0.500 (n=1)'
    assert fmt_mean_std([1.0, 3.0], 1) == '2.0 ± 1.4'
