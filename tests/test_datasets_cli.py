"""`pyg-ext datasets`: presence means files, a listing creates nothing, a
failed download leaves no empty folders, and every card ships in the
package."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest

import pyg_ext
from pyg_ext.datasets import (
    UnknownDatasetError,
    card_path,
    dataset_present,
    get_dataset,
    list_datasets,
)
from pyg_ext.datasets.registry import (
    _REGISTRY,
    DatasetSpec,
    register_dataset,
)
from pyg_ext.utils import resolve_root

REPO = Path(__file__).resolve().parents[1]


def run_listing(*args: str, cwd: Path,
                env: dict[str, str] | None = None) -> dict[str, str]:
    """Run ``python -m pyg_ext datasets ARGS`` in ``cwd``; return
    ``{name: present column}`` (and the raw stdout under ``''``)."""
    full_env = {k: v for k, v in os.environ.items() if k != 'PYG_EXT_DATA'}
    full_env.update(OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, '-m', 'pyg_ext', 'datasets',
                           *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = {}
    for line in proc.stdout.splitlines()[2:]:
        parts = line.split()
        rows[parts[0]] = parts[-1]
    rows[''] = proc.stdout
    return rows


def _write(path: Path, text: str = '1, 2\n') -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --- presence means files ----------------------------------------------------

def test_empty_folders_are_not_present_cli(tmp_path: Path) -> None:
    """What a failed download leaves (empty raw/, an empty dataset folder)
    is not reported as present; the real files are."""
    for d in ('tu/MUTAG/raw', 'tu/PTC_MR', 'planetoid/Cora/raw',
              'webkb/texas/raw', 'actor/raw', 'wikipedia/chameleon/raw',
              'heterophilous/minesweeper/raw', 'ogb/ogbg_molbace/raw',
              'heterophilous_extra/chameleon_filtered/raw'):
        (tmp_path / d).mkdir(parents=True)
    # an empty file is a failed download too
    _write(tmp_path / 'tu/ENZYMES/raw/ENZYMES_A.txt', '')
    _write(tmp_path / 'tu/ENZYMES/raw/ENZYMES_graph_indicator.txt', '')
    # one of the two files TUDataset needs: still absent
    _write(tmp_path / 'tu/NCI1/raw/NCI1_A.txt')
    # complete raw files, or processed data, count
    _write(tmp_path / 'tu/PROTEINS/raw/PROTEINS_A.txt')
    _write(tmp_path / 'tu/PROTEINS/raw/PROTEINS_graph_indicator.txt')
    _write(tmp_path / 'tu/DD/processed/data.pt')
    _write(tmp_path / 'heterophilous_extra/squirrel/raw/squirrel.npz')
    rows = run_listing('--root', str(tmp_path), cwd=tmp_path)
    for name in ('MUTAG', 'PTC_MR', 'Cora', 'Texas', 'Actor',
                 'wiki-chameleon', 'Minesweeper', 'ogbg-molbace', 'ENZYMES',
                 'NCI1', 'chameleon-filtered'):
        assert rows[name] == '-', (name, rows[''])
    for name in ('PROTEINS', 'DD', 'squirrel'):
        assert rows[name] == 'yes', (name, rows[''])


SHARED = REPO.parent / 'shared' / 'datasets'


@pytest.mark.dataset
@pytest.mark.skipif(not SHARED.is_dir(), reason='no ../shared/datasets')
def test_real_copies_are_present(tmp_path: Path) -> None:
    """The layout checks match where the real PyG / OGB classes keep their
    files: every dataset copied from the shared folder is present, and one
    whose files were not copied is not."""
    from pyg_ext.testing import copy_dataset

    for family in ('tu', 'planetoid', 'webkb', 'actor', 'wikipedia',
                   'heterophilous', 'heterophilous_extra', 'ogb'):
        copy_dataset(SHARED, family, tmp_path)
    for name in ('MUTAG', 'PTC_MR', 'ENZYMES', 'IMDB-BINARY', 'Cora',
                 'CiteSeer', 'Texas', 'Cornell', 'Wisconsin', 'Actor',
                 'wiki-chameleon', 'Minesweeper', 'Tolokers',
                 'ogbg-molbace', 'ogbg-molesol', 'chameleon-filtered'):
        assert dataset_present(name, tmp_path), name
    for name in ('PubMed', 'COLLAB', 'Roman-empire', 'ogbg-molhiv',
                 'ogbn-arxiv'):
        assert not dataset_present(name, tmp_path), name


def test_dataset_present_creates_nothing(tmp_path: Path) -> None:
    before = sorted(tmp_path.rglob('*'))
    assert not dataset_present('MUTAG', tmp_path)
    assert sorted(tmp_path.rglob('*')) == before
    with pytest.raises(UnknownDatasetError):
        dataset_present('no-such-dataset', tmp_path)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        dataset_present('MUTAG', tmp_path / 'missing')


# --- a failed download leaves nothing behind --------------------------------

def _fail_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make PyG's TUDataset download fail the way an offline one does, after
    PyG has created ``raw/``."""
    from torch_geometric.datasets import tu_dataset

    def cp(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError('offline')

    monkeypatch.setattr(tu_dataset.fs, 'cp', cp)


def test_failed_download_removes_new_empty_folders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_download(monkeypatch)
    # the failed download is a FileNotFoundError naming the folder
    with pytest.raises(FileNotFoundError, match='downloading it failed'
                       ) as info:
        get_dataset('PTC_MR', tmp_path)
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    assert str(tmp_path / 'tu') in str(info.value)
    assert list(tmp_path.iterdir()) == []  # not even tu/
    rows = run_listing('--root', str(tmp_path), '--family', 'tu',
                       cwd=tmp_path)
    assert rows['PTC_MR'] == '-'


def test_failed_download_keeps_what_existed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_download(monkeypatch)
    (tmp_path / 'tu' / 'MUTAG' / 'raw').mkdir(parents=True)  # pre-existing
    _write(tmp_path / 'tu' / 'MUTAG' / 'notes.txt')
    (tmp_path / 'tu' / 'keep').mkdir()
    with pytest.raises(FileNotFoundError, match='downloading it failed'):
        get_dataset('PTC_MR', tmp_path)
    assert not (tmp_path / 'tu' / 'PTC_MR').exists()
    assert (tmp_path / 'tu' / 'keep').is_dir()
    with pytest.raises(FileNotFoundError, match='downloading it failed'):
        get_dataset('MUTAG', tmp_path)
    assert (tmp_path / 'tu' / 'MUTAG' / 'raw').is_dir()
    assert (tmp_path / 'tu' / 'MUTAG' / 'notes.txt').is_file()


def test_failed_load_keeps_new_files(tmp_path: Path) -> None:
    """Only empty folders go: one the failed attempt put a file in stays."""
    def loader(folder: str, name: str) -> None:
        os.makedirs(os.path.join(folder, name, 'raw'))
        os.makedirs(os.path.join(folder, name, 'empty'))
        _write(Path(folder) / name / 'raw' / 'part.bin')
        raise RuntimeError('boom')

    spec = register_dataset(DatasetSpec('pyg-ext-test-fail', 'testfail',
                                        loader))
    try:
        with pytest.raises(RuntimeError, match='boom'):
            get_dataset(spec.name, tmp_path)
    finally:
        del _REGISTRY['pyg_ext_test_fail']
    base = tmp_path / 'testfail' / 'pyg-ext-test-fail'
    assert (base / 'raw' / 'part.bin').is_file()
    assert not (base / 'empty').exists()


def test_failed_download_under_default_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_download(monkeypatch)
    monkeypatch.delenv('PYG_EXT_DATA', raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match='downloading it failed'):
        get_dataset('PTC_MR')
    assert not (tmp_path / 'datasets').exists()


# --- a listing creates nothing ----------------------------------------------

def test_listing_does_not_create_default_root(tmp_path: Path) -> None:
    rows = run_listing(cwd=tmp_path)
    assert not (tmp_path / 'datasets').exists()
    assert 'does not exist yet' in rows['']
    assert rows['MUTAG'] == '-'
    missing = tmp_path / 'env_root'
    rows = run_listing('--family', 'tu', cwd=tmp_path,
                       env={'PYG_EXT_DATA': str(missing)})
    assert not missing.exists()
    assert str(missing) in rows['']


def test_resolve_root_create_flag(tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('PYG_EXT_DATA', raising=False)
    monkeypatch.chdir(tmp_path)
    path = resolve_root(create=False)
    assert path == tmp_path.resolve() / 'datasets' and not path.exists()
    assert resolve_root().is_dir()  # loading still creates it
    with pytest.raises(TypeError, match='create'):
        resolve_root(create='no')  # type: ignore[arg-type]


# --- dataset cards ship in the package ----------------------------------------

def test_every_card_path_exists_in_the_package() -> None:
    package = Path(pyg_ext.__file__).resolve().parent
    families = {}
    for spec in list_datasets():
        families.setdefault(spec.family, spec.name)
    assert {'tu', 'planetoid', 'ogb', 'generated', 'combopt'} <= set(families)
    for spec in list_datasets():
        path = card_path(spec.name)
        assert path.is_file(), spec.name
        # inside the package folder, so flit puts it in the wheel
        assert path.is_relative_to(package), path
        assert path.read_text().startswith('# '), path
        # the packaged copy is the repository's card, not a stale one
        top = REPO / 'datasets' / spec.card
        if top.is_file():
            assert path.read_bytes() == top.read_bytes(), (
                f'{path} differs from {top}; copy the card over')


def test_card_path_errors() -> None:
    with pytest.raises(UnknownDatasetError):
        card_path('no-such-dataset')
    spec = register_dataset(DatasetSpec('pyg-ext-test-nocard', 'testfail',
                                        lambda f, n: None))
    try:
        with pytest.raises(FileNotFoundError, match='no card'):
            card_path(spec.name)
    finally:
        del _REGISTRY['pyg_ext_test_nocard']
