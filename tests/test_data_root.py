"""The data-root resolver and the OGB torch.load shim."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from pyg_ext.utils import DataRootError, ogb_safe_load, resolve_root


def test_order_root_then_env_then_default(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    a, b = tmp_path / 'a', tmp_path / 'b'
    a.mkdir()
    b.mkdir()
    monkeypatch.setenv('PYG_EXT_DATA', str(b))
    assert resolve_root(a) == a.resolve()
    assert resolve_root() == b.resolve()
    monkeypatch.delenv('PYG_EXT_DATA')
    monkeypatch.chdir(tmp_path)
    assert resolve_root() == (tmp_path / 'datasets').resolve()
    assert (tmp_path / 'datasets').is_dir()  # default is created on demand


def test_missing_explicit_root_raises(tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataRootError, match='does not exist'):
        resolve_root(tmp_path / 'nope')
    monkeypatch.setenv('PYG_EXT_DATA', str(tmp_path / 'nope2'))
    with pytest.raises(DataRootError, match='PYG_EXT_DATA'):
        resolve_root()
    assert not (tmp_path / 'nope').exists()


def test_default_root_blocked_by_a_file(tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    monkeypatch.delenv('PYG_EXT_DATA', raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'datasets').write_text('not a folder')
    with pytest.raises(DataRootError, match='cannot be created'):
        resolve_root()


def test_failed_ogb_download_leaves_no_empty_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip('ogb')
    import urllib.error

    import ogb.graphproppred

    from pyg_ext.utils import load_ogb_graphprop

    def offline(name: str, root: str, **kw: object) -> None:
        os.makedirs(os.path.join(root, name.replace('-', '_'), 'raw'))
        raise urllib.error.URLError('network blocked by the test')

    monkeypatch.setattr(ogb.graphproppred, 'PygGraphPropPredDataset',
                        offline)
    for _ in range(2):  # the second error is the same, not 'no RELEASE'
        with pytest.raises(FileNotFoundError, match='downloading it failed'):
            load_ogb_graphprop('ogbg-molbace', tmp_path)
        assert not (tmp_path / 'ogbg_molbace').exists()


def test_ogb_safe_load_is_scoped(tmp_path: Path) -> None:
    from torch_geometric.data import Data, InMemoryDataset

    data, slices = InMemoryDataset.collate([Data(x=torch.ones(2, 1))])
    path = tmp_path / 'd.pt'
    torch.save((data.to_dict(), slices), path)
    torch.save((data, slices), path)
    with pytest.raises(Exception, match='weights_only|GLOBAL'):
        torch.load(path)
    with ogb_safe_load():
        loaded, _ = torch.load(path)
    assert torch.equal(loaded.x, data.x)
    with pytest.raises(Exception, match='weights_only|GLOBAL'):
        torch.load(path)  # the allow-list does not leak out of the block
