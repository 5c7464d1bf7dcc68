"""A name registry over every dataset pyg_ext knows how to load.

``get_dataset('MUTAG', root)`` builds the right PyG / OGB / pyg_ext class under
a fixed sub-folder of the data root (``tu/``, ``planetoid/``, ``webkb/``,
``actor/``, ``heterophilous/``, ``ogb/``, ...), so one root serves every bench
suite. Capabilities add their own datasets with :func:`register_dataset`.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyg_ext.utils.data_root import resolve_root
from pyg_ext.utils.validation import check_choice

logger = logging.getLogger(__name__)

#: The task levels a :class:`DatasetSpec` may declare.
TASKS = ('graph', 'node')


class UnknownDatasetError(ValueError):
    """Raised for a dataset name that is not registered."""


@dataclass(frozen=True)
class DatasetSpec:
    """How to build one named dataset.

    Attributes:
        name: the canonical name (lookup is case-insensitive, and ``-``/``_``
            are interchangeable).
        family: the sub-folder of the data root it lives in.
        loader: ``loader(folder, name, **kwargs)`` returning the dataset.
        task: ``'graph'`` or ``'node'`` level.
        card: the dataset card under the top-level ``datasets/`` folder.
        aliases: other accepted names.
        folder: the loader's own sub-folder of ``family`` when it is not
            named after ``name`` (e.g. ``texas`` for ``texas-platonov``);
            :func:`dataset_present` looks there too.
    """

    name: str
    family: str
    loader: Callable[..., Any]
    task: str = 'graph'
    card: str = ''
    aliases: tuple[str, ...] = field(default_factory=tuple)
    folder: str = ''

    def __post_init__(self) -> None:
        """Validate the fields.

        Raises:
            TypeError: a field of the wrong type (``loader`` not callable,
                ``aliases`` not a tuple or list of strings).
            ValueError: an empty ``name``/``family``, a ``family`` that is
                not a plain folder name, or a ``task`` other than
                ``'graph'``/``'node'``.
        """
        for attr in ('name', 'family'):
            value = getattr(self, attr)
            if not isinstance(value, str):
                raise TypeError(f'DatasetSpec {attr} must be a str, got '
                                f'{type(value).__name__} {value!r}')
            if not value.strip():
                raise ValueError(f'DatasetSpec {attr} must be non-empty')
        if (self.family in ('.', '..') or '/' in self.family
                or '\\' in self.family):
            raise ValueError(f'DatasetSpec family must be a plain folder '
                             f'name, got {self.family!r}')
        if not callable(self.loader):
            raise TypeError(f'DatasetSpec loader must be callable, got '
                            f'{type(self.loader).__name__}')
        check_choice(self.task, 'DatasetSpec task', TASKS)
        if not isinstance(self.card, str):
            raise TypeError(f'DatasetSpec card must be a str, got '
                            f'{type(self.card).__name__}')
        if (not isinstance(self.aliases, (tuple, list))
                or not all(isinstance(a, str) and a.strip()
                           for a in self.aliases)):
            raise TypeError(f'DatasetSpec aliases must be a tuple of '
                            f'non-empty str, got {self.aliases!r}')
        object.__setattr__(self, 'aliases', tuple(self.aliases))
        if not isinstance(self.folder, str) or (
                self.folder in ('.', '..') or '/' in self.folder
                or '\\' in self.folder):
            raise ValueError(f'DatasetSpec folder must be a plain folder '
                             f'name or empty, got {self.folder!r}')


_REGISTRY: dict[str, DatasetSpec] = {}

#: Modules that register more datasets when imported; imported on the first
#: lookup (a module that does not exist yet is skipped).
EXTRA_MODULES: list[str] = [
    'pyg_ext.datasets.heterophily',
    'pyg_ext.datasets.csl',
    'pyg_ext.combopt.datasets',
]
_extras_loaded = False


def _load_extras() -> None:
    global _extras_loaded
    if _extras_loaded:
        return
    _extras_loaded = True
    import importlib
    for mod in EXTRA_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:  # a real missing dependency inside it
                raise


def _key(name: str) -> str:
    return name.strip().lower().replace('-', '_')


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add ``spec`` to the registry (a later registration replaces one with
    the same name).

    Raises:
        TypeError: when ``spec`` is not a :class:`DatasetSpec`.
    """
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f'spec must be a DatasetSpec, got '
                        f'{type(spec).__name__}')
    for n in (spec.name, *spec.aliases):
        _REGISTRY[_key(n)] = spec
    return spec


def list_datasets(family: str | None = None) -> list[DatasetSpec]:
    """All registered datasets, optionally of one ``family``, by name.

    Raises:
        TypeError: when ``family`` is not a str (or ``None``).
        ValueError: when no registered dataset has that ``family`` (the
            message lists the families).
    """
    _load_extras()
    specs = {id(s): s for s in _REGISTRY.values()}.values()
    if family is not None:
        check_choice(family, 'family', sorted({s.family for s in specs}))
    return sorted((s for s in specs if family in (None, s.family)),
                  key=lambda s: (s.family, s.name.lower()))


def get_spec(name: str) -> DatasetSpec:
    """Look up a dataset by name; raises :class:`UnknownDatasetError` with a
    suggestion when the name is not registered."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownDatasetError(f'dataset name must be a non-empty string, '
                                  f'got {name!r}')
    _load_extras()
    spec = _REGISTRY.get(_key(name))
    if spec is None:
        names = sorted({s.name for s in _REGISTRY.values()})
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else ''
        raise UnknownDatasetError(
            f"unknown dataset '{name}'{hint}; run 'pyg-ext datasets' for the "
            'list')
    return spec


def get_dataset(name: str, root: str | os.PathLike[str] | None = None,
                **kwargs: Any) -> Any:
    """Build the dataset registered as ``name`` under ``root/<family>``.

    Args:
        name: a registered name, e.g. ``'MUTAG'``, ``'Cora'``, ``'texas'``,
            ``'minesweeper'``, ``'ogbg-molbace'``.
        root: the data root (see :func:`pyg_ext.utils.resolve_root`).
        **kwargs: passed to the loader (``transform``, ``pre_transform``...).

    Raises:
        UnknownDatasetError: for a name that is not registered.
        DataRootError: when an explicit ``root`` does not exist.
        TypeError: when ``root`` is not a path.
        FileNotFoundError: the dataset is absent and downloading it failed
            (offline, DNS, refused connection), naming the folder.
    """
    spec = get_spec(name)
    base = resolve_root(root, create=False)
    folder = base / spec.family
    # Remember what existed, so that a failed download (offline, a bad URL,
    # Ctrl-C) does not leave empty folders that look like a dataset.
    existed = _existing_dirs(base, folder)
    base.mkdir(parents=True, exist_ok=True)
    try:
        return spec.loader(str(folder), spec.name, **kwargs)
    except BaseException as e:
        _remove_new_empty(base, folder, existed)
        if _network_error(e):
            raise FileNotFoundError(
                f"dataset '{spec.name}' is not under '{folder}' and "
                f'downloading it failed ({type(e).__name__}: {e}); copy its '
                f'files there first (`pyg-ext datasets` lists where each '
                f'dataset goes)') from e
        raise


#: modules whose exceptions mean "the download failed" (PyG downloads with
#: fsspec / aiohttp or urllib)
_NETWORK_MODULES = ('aiohttp', 'urllib', 'http', 'socket', 'ssl', 'fsspec',
                    'requests')


def _network_error(e: BaseException) -> bool:
    """Whether ``e`` is a failed download (offline, DNS, refused, timed
    out) rather than a problem with the files or the arguments."""
    if isinstance(e, (ConnectionError, TimeoutError)):
        return True
    module = type(e).__module__ or ''
    return isinstance(e, OSError) and not isinstance(
        e, FileNotFoundError) and module.split('.')[0] in _NETWORK_MODULES


def _existing_dirs(base: Path, folder: Path) -> set[Path] | None:
    """Every directory under ``folder`` now (``None`` for an absent ``base``,
    meaning that all of it is new)."""
    if not base.is_dir():
        return None
    out = {p for p in (base, folder) if p.is_dir()}
    if folder.is_dir():
        for top, dirs, _ in os.walk(folder):
            out.update(Path(top) / d for d in dirs)
    return out


def _remove_new_empty(base: Path, folder: Path,
                      existed: set[Path] | None) -> None:
    """Remove the directories under ``folder`` (and ``folder`` / ``base``)
    that did not exist in ``existed`` and are empty now, deepest first;
    nothing that held a file, or existed before, is touched."""
    def is_new(path: Path) -> bool:
        return existed is None or path not in existed

    candidates: list[Path] = []
    if folder.is_dir():
        for top, dirs, _ in os.walk(folder, topdown=False):
            candidates.extend(Path(top) / d for d in dirs)
    candidates += [folder, base]
    for path in candidates:
        if is_new(path) and path.is_dir() and not any(path.iterdir()):
            try:
                path.rmdir()
                logger.debug('removed empty folder %s left by a failed '
                             'load', path)
            except OSError:  # raced with another process; leave it
                pass


# --- loaders for PyG / OGB classes -------------------------------------------

def _tu(folder: str, name: str, **kwargs: Any) -> Any:
    from torch_geometric.datasets import TUDataset
    return TUDataset(folder, name, **kwargs)


def _planetoid(folder: str, name: str, **kwargs: Any) -> Any:
    from torch_geometric.datasets import Planetoid
    return Planetoid(folder, name, **kwargs)


def _webkb(folder: str, name: str, **kwargs: Any) -> Any:
    from torch_geometric.datasets import WebKB
    return WebKB(folder, name, **kwargs)


def _actor(folder: str, name: str, **kwargs: Any) -> Any:
    from torch_geometric.datasets import Actor
    return Actor(folder, **kwargs)


def _wikipedia(folder: str, name: str, **kwargs: Any) -> Any:
    from torch_geometric.datasets import WikipediaNetwork
    kwargs.setdefault('geom_gcn_preprocess', False)
    return WikipediaNetwork(folder, name.split('-')[-1], **kwargs)


def _heterophilous(folder: str, name: str, **kwargs: Any) -> Any:
    from torch_geometric.datasets import HeterophilousGraphDataset
    return HeterophilousGraphDataset(folder, name, **kwargs)


def _ogbg(folder: str, name: str, **kwargs: Any) -> Any:
    from pyg_ext.utils.ogb_compat import load_ogb_graphprop
    os.makedirs(folder, exist_ok=True)  # under a validated data root
    return load_ogb_graphprop(name, folder, **kwargs)[0]


def _ogbn(folder: str, name: str, **kwargs: Any) -> Any:
    from pyg_ext.utils.ogb_compat import load_ogb_nodeprop
    os.makedirs(folder, exist_ok=True)  # under a validated data root
    return load_ogb_nodeprop(name, folder, **kwargs)[0]


for _n in ('MUTAG', 'PTC_MR', 'PROTEINS', 'NCI1', 'IMDB-BINARY', 'ENZYMES',
           'NCI109', 'Mutagenicity', 'DD', 'COLLAB', 'REDDIT-BINARY', 'AIDS',
           'BZR', 'COX2'):
    register_dataset(DatasetSpec(_n, 'tu', _tu, 'graph', 'tu.md'))
for _n in ('Cora', 'CiteSeer', 'PubMed'):
    register_dataset(DatasetSpec(_n, 'planetoid', _planetoid, 'node',
                                 'planetoid.md'))
for _n in ('Cornell', 'Texas', 'Wisconsin'):
    register_dataset(DatasetSpec(_n, 'webkb', _webkb, 'node', 'webkb.md'))
register_dataset(DatasetSpec('Actor', 'actor', _actor, 'node', 'actor.md',
                             aliases=('film',)))
register_dataset(DatasetSpec('wiki-chameleon', 'wikipedia', _wikipedia, 'node',
                             'wikipedia.md'))
for _n in ('Roman-empire', 'Amazon-ratings', 'Minesweeper', 'Tolokers',
           'Questions'):
    register_dataset(DatasetSpec(_n, 'heterophilous', _heterophilous, 'node',
                                 'heterophilous.md'))
for _n in ('ogbg-molbace', 'ogbg-molbbbp', 'ogbg-molesol', 'ogbg-molfreesolv',
           'ogbg-molhiv', 'ogbg-molpcba', 'ogbg-moltox21', 'ogbg-molclintox',
           'ogbg-molsider', 'ogbg-moltoxcast', 'ogbg-mollipo', 'ogbg-molmuv'):
    register_dataset(DatasetSpec(_n, 'ogb', _ogbg, 'graph', 'ogb.md'))
register_dataset(DatasetSpec('ogbn-arxiv', 'ogb', _ogbn, 'node', 'ogb.md'))


# --- is a dataset on disk? ----------------------------------------------------

#: ``loader -> layout(folder, name)`` giving ``(dataset folder, files raw/ must
#: hold, files processed/ must hold)`` for the built-in loaders: a dataset is
#: present when either set is there, every file non-empty.
_Layout = tuple[Path, tuple[str, ...], tuple[str, ...]]
_GEOM_GCN = ('out1_node_feature_label.txt', 'out1_graph_edges.txt')
_OGB_RAW = ('edge.csv.gz', 'num-node-list.csv.gz', 'num-edge-list.csv.gz')
_LAYOUTS: dict[Callable[..., Any], Callable[[Path, str], _Layout]] = {
    _tu: lambda f, n: (f / n, (f'{n}_A.txt', f'{n}_graph_indicator.txt'),
                       ('data.pt',)),
    _planetoid: lambda f, n: (
        f / n, tuple(f'ind.{n.lower()}.{x}' for x in (
            'x', 'tx', 'allx', 'y', 'ty', 'ally', 'graph', 'test.index')),
        ('data.pt',)),
    _webkb: lambda f, n: (f / n.lower(), _GEOM_GCN, ('data.pt',)),
    _actor: lambda f, n: (f, _GEOM_GCN, ('data.pt',)),
    _wikipedia: lambda f, n: (f / n.split('-')[-1],
                              (f"{n.split('-')[-1]}.npz",), ('data.pt',)),
    _heterophilous: lambda f, n: (
        f / _key(n), (f'{_key(n)}.npz',), ('data.pt',)),
    _ogbg: lambda f, n: (f / n.replace('-', '_'), _OGB_RAW,
                         ('geometric_data_processed.pt',)),
    _ogbn: lambda f, n: (f / n.replace('-', '_'), _OGB_RAW,
                         ('geometric_data_processed.pt',)),
}


def _nonempty_file(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


def _any_nonempty_file(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    return any(_nonempty_file(Path(top) / f)
               for top, _, files in os.walk(folder) for f in files)


def dataset_present(name: str,
                    root: str | os.PathLike[str] | None = None) -> bool:
    """Whether the files of dataset ``name`` are under ``root`` (nothing is
    downloaded or created).

    A dataset is present when its ``raw/`` folder holds the files its loader
    reads, or its ``processed/`` folder holds the processed data; every file
    must be non-empty. An empty folder left by a failed download does not
    count. For a dataset registered by a capability (whose layout the
    registry does not know) a non-empty file under ``raw/`` or
    ``processed*/`` of ``<root>/<family>/<name>`` counts.

    Raises:
        UnknownDatasetError: for a name that is not registered.
        DataRootError: when an explicit ``root`` does not exist.
        TypeError: when ``root`` is not a path.
    """
    spec = get_spec(name)
    folder = resolve_root(root, create=False) / spec.family
    if not folder.is_dir():
        return False
    layout = _LAYOUTS.get(spec.loader)
    if layout is not None:
        where, raw, processed = layout(folder, spec.name)
        return (all(_nonempty_file(where / 'raw' / f) for f in raw)
                or all(_nonempty_file(where / 'processed' / f)
                       for f in processed))
    variants = (spec.name, spec.name.lower(), _key(spec.name))
    if spec.folder:
        variants = (spec.folder, *variants)
    for variant in dict.fromkeys(variants):
        where = folder / variant
        if not where.is_dir():
            continue
        subs = [where / 'raw'] + [p for p in where.iterdir()
                                  if p.name.startswith('processed')]
        if any(_any_nonempty_file(p) for p in subs):
            return True
    return False


#: Where the dataset cards ship inside the package.
CARDS_DIR = Path(__file__).resolve().parent / 'cards'


def card_path(name: str) -> Path:
    """The path of dataset ``name``'s card (a Markdown file).

    The cards ship inside the package (``pyg_ext/datasets/cards/``, copies
    of the top-level ``datasets/*.md`` of a source checkout), so the path
    exists in an installed wheel too.

    Raises:
        UnknownDatasetError: for a name that is not registered.
        FileNotFoundError: when the dataset declares no card, or its card is
            missing from the installation.
    """
    spec = get_spec(name)
    if not spec.card:
        raise FileNotFoundError(f"dataset '{spec.name}' has no card")
    path = CARDS_DIR / spec.card
    if not path.is_file():
        raise FileNotFoundError(
            f"card '{spec.card}' of dataset '{spec.name}' is not in "
            f"'{CARDS_DIR}'")
    return path
