"""PlatonovHeterophilyDataset: generated files of the real format, the real
files of ../shared/datasets, the registry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from pyg_ext.datasets import (
    PlatonovHeterophilyDataset,
    UnknownDatasetError,
    get_dataset,
    get_spec,
)
from pyg_ext.datasets.heterophily import NAMES, STATS, read_platonov_npz


def write_npz(root: Path, name: str, n: int = 30, f: int = 5, c: int = 3,
              e: int = 40, splits: int = 10, seed: int = 0) -> Path:
    """A small file in the collection's format: edges [E, 2] stored once,
    masks [splits, N]."""
    rng = np.random.default_rng(seed)
    edges = rng.integers(0, n, size=(e, 2))
    edges = edges[edges[:, 0] != edges[:, 1]]
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    perm = np.stack([rng.permutation(n) for _ in range(splits)])
    train = np.zeros((splits, n), bool)
    val = np.zeros((splits, n), bool)
    test = np.zeros((splits, n), bool)
    for s in range(splits):
        train[s, perm[s, :n // 2]] = True
        val[s, perm[s, n // 2:3 * n // 4]] = True
        test[s, perm[s, 3 * n // 4:]] = True
    folder = root / name / 'raw'
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f'{name}.npz'
    np.savez(path, node_features=rng.normal(size=(n, f)).astype(np.float32),
             node_labels=rng.integers(0, c, n), edges=edges,
             train_masks=train, val_masks=val, test_masks=test)
    return path


@pytest.mark.parametrize('name,c', [('roman-empire', 18),
                                    ('Amazon-ratings', 5), ('questions', 2)])
def test_generated_new_graphs(tmp_path: Path, name: str, c: int) -> None:
    key = name.lower().replace('-', '_')
    write_npz(tmp_path, key, n=40, c=c, e=60)
    raw = np.load(tmp_path / key / 'raw' / f'{key}.npz')
    ds = PlatonovHeterophilyDataset(str(tmp_path), name)
    data = ds[0]
    assert repr(ds) == f'PlatonovHeterophilyDataset(name={key})'
    assert data.x.shape == (40, 5) and data.x.dtype == torch.float32
    assert data.y.shape == (40,)
    # undirected: both directions of every stored edge
    assert data.edge_index.size(1) == 2 * len(raw['edges'])
    assert data.is_undirected()
    for mask in ('train_mask', 'val_mask', 'test_mask'):
        m = data[mask]
        assert m.shape == (40, 10) and m.dtype == torch.bool
    assert torch.equal(data.train_mask[:, 3],
                       torch.from_numpy(raw['train_masks'][3]))
    assert not (data.train_mask & data.test_mask).any()
    assert ds.metric == ('roc_auc' if key == 'questions' else 'accuracy')
    assert not ds.directed
    # processed once, then loaded from processed_pyg_ext
    assert (tmp_path / key / 'processed_pyg_ext' / 'data.pt').exists()
    again = PlatonovHeterophilyDataset(str(tmp_path), key)[0]
    assert torch.equal(again.edge_index, data.edge_index)


def test_directed_variant_keeps_arcs(tmp_path: Path) -> None:
    path = write_npz(tmp_path, 'squirrel_filtered_directed', e=50)
    raw = np.load(path)
    ds = PlatonovHeterophilyDataset(str(tmp_path), 'squirrel-filtered-directed')
    assert ds.directed
    assert torch.equal(ds[0].edge_index, torch.from_numpy(raw['edges']).t())


def test_bad_names_and_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='did you mean chameleon_filtered'):
        PlatonovHeterophilyDataset(str(tmp_path), 'chameleon-filterd')
    bad = tmp_path / 'bad.npz'
    np.savez(bad, node_features=np.zeros((3, 2)))
    with pytest.raises(ValueError, match='missing node_labels'):
        read_platonov_npz(str(bad))
    path = write_npz(tmp_path, 'x', n=10)
    raw = dict(np.load(path))
    raw['edges'] = np.array([[0, 10]])
    np.savez(path, **raw)
    with pytest.raises(ValueError, match='out of range'):
        read_platonov_npz(str(path))
    with pytest.raises(UnknownDatasetError):
        get_spec('no-such-graph')


def test_registry_names() -> None:
    assert get_spec('chameleon-filtered').family == 'heterophilous_extra'
    assert get_spec('squirrel_filtered_directed').family == \
        'heterophilous_extra'
    assert get_spec('roman-empire').family == 'heterophilous'
    # PyG's WebKB / Actor keep their names; the Platonov versions get a suffix
    assert get_spec('Cornell').family == 'webkb'
    assert get_spec('cornell-platonov').family == 'heterophilous_extra'
    assert get_spec('actor').family == 'actor'
    assert len(NAMES) == 18


def test_registry_loads_generated_file(tmp_path: Path) -> None:
    from pyg_ext.datasets import dataset_present
    assert not dataset_present('texas-platonov', tmp_path)
    write_npz(tmp_path / 'heterophilous_extra', 'texas')
    # the files live in texas/, not texas-platonov/: present all the same
    assert dataset_present('texas-platonov', tmp_path)
    ds = get_dataset('texas-platonov', tmp_path)
    assert isinstance(ds, PlatonovHeterophilyDataset)
    assert ds[0].train_mask.shape == (30, 10)
    assert dataset_present('texas-platonov', tmp_path)


@pytest.mark.parametrize('key,value,match', [
    ('node_features', np.float32(1.0), 'node_features must be a numeric'),
    ('node_features', np.zeros(10, np.float32), r'shape \(10,\)'),
    ('node_features', np.zeros((10, 2, 2), np.float32), 'node_features'),
    ('node_features', np.array([['a']] * 10), 'dtype <U1'),
    ('val_masks', np.zeros((2, 10), bool), 'same number of splits'),
])
def test_malformed_npz_fields_are_named(tmp_path: Path, key: str,
                                        value: np.ndarray,
                                        match: str) -> None:
    path = write_npz(tmp_path, 'x', n=10, splits=3)
    raw = dict(np.load(path))
    raw[key] = value
    np.savez(path, **raw)
    with pytest.raises(ValueError, match=match):
        read_platonov_npz(str(path))


@pytest.mark.dataset
@pytest.mark.parametrize('family,name', [
    ('heterophilous', 'minesweeper'),
    ('heterophilous', 'tolokers'),
    ('heterophilous_extra', 'chameleon_filtered'),
    ('heterophilous_extra', 'squirrel_filtered_directed'),
    ('heterophilous_extra', 'wisconsin'),
])
def test_real_files_match_stats(shared_root: Callable[..., Path],
                                family: str, name: str) -> None:
    root = shared_root(family)
    ds = PlatonovHeterophilyDataset(str(root / family), name)
    data = ds[0]
    n, e, f, c, _ = STATS[name]
    assert data.num_nodes == n and data.num_features == f
    assert int(data.y.max()) + 1 == c
    arcs = e if ds.directed else 2 * e
    assert data.edge_index.size(1) == arcs
    assert data.train_mask.shape == (n, 10)
    # the splits are disjoint
    assert not (data.train_mask & data.val_mask).any()
