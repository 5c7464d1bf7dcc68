r"""The Platonov et al. heterophilous-graph collection as one dataset class.

``PlatonovHeterophilyDataset(root, name)`` loads any graph of
`yandex-research/heterophilous-graphs
<https://github.com/yandex-research/heterophilous-graphs>`_
(``data/<name>.npz``, MIT licence): the five graphs introduced in
`"A Critical Look at the Evaluation of GNNs under Heterophily: Are We
Really Making Progress?" <https://arxiv.org/abs/2302.11640>`_ (ICLR 2023),
the filtered (de-duplicated) chameleon / squirrel of the same paper, their
directed versions, and the classic graphs re-released in the same format
with the geom-gcn splits. Importing this module registers every name with
:func:`pyg_ext.datasets.register_dataset`.
"""

from __future__ import annotations

import os
import os.path as osp
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset, download_url
from torch_geometric.utils import to_undirected

from pyg_ext.datasets.registry import DatasetSpec, register_dataset

#: name -> (#nodes, #edges as stored in the npz, #features, #classes, metric)
#: (#edges counts each undirected edge once; directed graphs count arcs).
STATS: dict[str, tuple[int, int, int, int, str]] = {
    'roman_empire': (22662, 32927, 300, 18, 'accuracy'),
    'amazon_ratings': (24492, 93050, 300, 5, 'accuracy'),
    'minesweeper': (10000, 39402, 7, 2, 'roc_auc'),
    'tolokers': (11758, 519000, 10, 2, 'roc_auc'),
    'questions': (48921, 153540, 301, 2, 'roc_auc'),
    'chameleon_filtered': (890, 8854, 2325, 5, 'accuracy'),
    'chameleon_filtered_directed': (890, 13584, 2325, 5, 'accuracy'),
    'squirrel_filtered': (2223, 46998, 2089, 5, 'accuracy'),
    'squirrel_filtered_directed': (2223, 65718, 2089, 5, 'accuracy'),
    'chameleon': (2277, 31371, 2325, 5, 'accuracy'),
    'chameleon_directed': (2277, 36101, 2325, 5, 'accuracy'),
    'squirrel': (5201, 198353, 2089, 5, 'accuracy'),
    'squirrel_directed': (5201, 217073, 2089, 5, 'accuracy'),
    'actor': (7600, 26659, 932, 5, 'accuracy'),
    'texas': (183, 279, 1703, 5, 'accuracy'),
    'texas_4_classes': (183, 279, 1703, 5, 'accuracy'),
    'cornell': (183, 277, 1703, 5, 'accuracy'),
    'wisconsin': (251, 450, 1703, 5, 'accuracy'),
}

#: The five graphs PyG's ``HeterophilousGraphDataset`` also serves.
NEW_GRAPHS = ('roman_empire', 'amazon_ratings', 'minesweeper', 'tolokers',
              'questions')

NAMES = tuple(STATS)


def canonical_name(name: str) -> str:
    """``'Roman-empire'`` -> ``'roman_empire'``; raises ``TypeError`` for a
    non-string and ``ValueError`` (with the list of names) for a name outside
    the collection."""
    if not isinstance(name, str):
        raise TypeError(f'name must be a str, got {type(name).__name__} '
                        f'{name!r}')
    key = name.strip().lower().replace('-', '_')
    if key not in STATS:
        import difflib
        close = difflib.get_close_matches(key, NAMES, n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(close)}?)" if close else ''
        raise ValueError(
            f"unknown heterophilous graph name '{name}'{hint}; available: "
            f"{', '.join(NAMES)}")
    return key


class PlatonovHeterophilyDataset(InMemoryDataset):
    r"""Every graph of the Platonov et al. heterophily collection, from the
    `"A Critical Look at the Evaluation of GNNs under Heterophily: Are We
    Really Making Progress?" <https://arxiv.org/abs/2302.11640>`_ paper
    (ICLR 2023).

    The graph has ``x``, ``y``, ``edge_index`` and the 10 fixed splits as
    boolean masks ``train_mask`` / ``val_mask`` / ``test_mask`` of shape
    ``[num_nodes, 10]`` (column ``i`` is split ``i``). Undirected graphs are
    stored with both directions of every edge (the ``.npz`` files store each
    edge once); the ``*_directed`` graphs keep their arcs as given
    (``source -> target``), self-loops included.

    Names (``-`` and ``_`` are interchangeable, case is ignored):

    * new graphs: :obj:`"roman_empire"`, :obj:`"amazon_ratings"`,
      :obj:`"minesweeper"`, :obj:`"tolokers"`, :obj:`"questions"`;
    * chameleon / squirrel without the duplicated nodes that leak test labels:
      :obj:`"chameleon_filtered"`, :obj:`"squirrel_filtered"` and
      :obj:`"chameleon_filtered_directed"`, :obj:`"squirrel_filtered_directed"`;
    * the classics in the same format, with the geom-gcn 48/32/20 splits:
      :obj:`"chameleon"`, :obj:`"squirrel"`, :obj:`"chameleon_directed"`,
      :obj:`"squirrel_directed"`, :obj:`"actor"`, :obj:`"texas"`,
      :obj:`"texas_4_classes"`, :obj:`"cornell"`, :obj:`"wisconsin"`.

    Binary graphs (minesweeper, tolokers, questions) are evaluated with
    ROC-AUC, the others with accuracy (:attr:`metric`).

    Args:
        root (str): Root directory; the graph lives in ``root/<name>/raw``
            (the ``.npz``, shared with PyG's ``HeterophilousGraphDataset``)
            and ``root/<name>/processed_pyg_ext``.
        name (str): The name of the dataset (see above).
        transform (callable, optional): A function/transform applied to the
            :class:`~torch_geometric.data.Data` object on every access.
            (default: :obj:`None`)
        pre_transform (callable, optional): A function/transform applied
            before saving to disk. (default: :obj:`None`)
        force_reload (bool, optional): Whether to re-process the dataset.
            (default: :obj:`False`)

    Raises:
        TypeError: ``root`` not a path, ``name`` not a str, or
            ``transform`` / ``pre_transform`` not callable.
        ValueError: an unknown ``name``, or a raw ``.npz`` that is not in
            the collection's format (see :func:`read_platonov_npz`).
        FileNotFoundError: the raw file is missing and cannot be
            downloaded.

    **STATS:**

    .. list-table::
        :widths: 26 10 10 10 10 12
        :header-rows: 1

        * - Name
          - #nodes
          - #edges
          - #features
          - #classes
          - metric
        * - roman_empire
          - 22,662
          - 32,927
          - 300
          - 18
          - accuracy
        * - amazon_ratings
          - 24,492
          - 93,050
          - 300
          - 5
          - accuracy
        * - minesweeper
          - 10,000
          - 39,402
          - 7
          - 2
          - ROC-AUC
        * - tolokers
          - 11,758
          - 519,000
          - 10
          - 2
          - ROC-AUC
        * - questions
          - 48,921
          - 153,540
          - 301
          - 2
          - ROC-AUC
        * - chameleon_filtered
          - 890
          - 8,854
          - 2,325
          - 5
          - accuracy
        * - chameleon_filtered_directed
          - 890
          - 13,584 arcs
          - 2,325
          - 5
          - accuracy
        * - squirrel_filtered
          - 2,223
          - 46,998
          - 2,089
          - 5
          - accuracy
        * - squirrel_filtered_directed
          - 2,223
          - 65,718 arcs
          - 2,089
          - 5
          - accuracy
        * - chameleon
          - 2,277
          - 31,371
          - 2,325
          - 5
          - accuracy
        * - chameleon_directed
          - 2,277
          - 36,101 arcs
          - 2,325
          - 5
          - accuracy
        * - squirrel
          - 5,201
          - 198,353
          - 2,089
          - 5
          - accuracy
        * - squirrel_directed
          - 5,201
          - 217,073 arcs
          - 2,089
          - 5
          - accuracy
        * - actor
          - 7,600
          - 26,659
          - 932
          - 5
          - accuracy
        * - texas / texas_4_classes
          - 183
          - 279
          - 1,703
          - 5
          - accuracy
        * - cornell
          - 183
          - 277
          - 1,703
          - 5
          - accuracy
        * - wisconsin
          - 251
          - 450
          - 1,703
          - 5
          - accuracy

    #edges counts each undirected edge once (``edge_index`` holds twice as
    many arcs) and each arc of a directed graph once.
    """

    url = ('https://github.com/yandex-research/heterophilous-graphs/raw/'
           'main/data')

    def __init__(self, root: str, name: str,
                 transform: Callable | None = None,
                 pre_transform: Callable | None = None,
                 force_reload: bool = False) -> None:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f'root must be a str or os.PathLike path, got '
                            f'{type(root).__name__} {root!r}')
        for arg, fn in (('transform', transform),
                        ('pre_transform', pre_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f'{arg} must be callable or None, got '
                                f'{type(fn).__name__}')
        self.name = canonical_name(name)
        root = os.fspath(root)
        super().__init__(root, transform, pre_transform,
                         force_reload=force_reload)
        self.load(self.processed_paths[0])

    @property
    def directed(self) -> bool:
        """Whether the graph keeps directed arcs."""
        return self.name.endswith('_directed')

    @property
    def metric(self) -> str:
        """``'roc_auc'`` for the binary graphs, else ``'accuracy'``."""
        return STATS[self.name][4]

    @property
    def raw_dir(self) -> str:
        return osp.join(self.root, self.name, 'raw')

    @property
    def processed_dir(self) -> str:
        # not 'processed': that is where PyG's class caches the same graphs
        return osp.join(self.root, self.name, 'processed_pyg_ext')

    @property
    def raw_file_names(self) -> str:
        return f'{self.name}.npz'

    @property
    def processed_file_names(self) -> str:
        return 'data.pt'

    def download(self) -> None:
        url = f'{self.url}/{self.name}.npz'
        import http.client
        try:
            download_url(url, self.raw_dir)
        except (OSError, http.client.HTTPException) as e:
            # URLError, no network, a transfer cut short (IncompleteRead):
            # drop a partial file, which would fail differently next time
            if osp.exists(self.raw_paths[0]):
                os.remove(self.raw_paths[0])
            raise FileNotFoundError(
                f"raw file '{self.raw_paths[0]}' is missing and downloading "
                f'it from {url} failed ({e}); copy {self.name}.npz there '
                'or check the root') from e

    def process(self) -> None:
        data = read_platonov_npz(self.raw_paths[0], directed=self.directed)
        if self.pre_transform is not None:
            data = self.pre_transform(data)
        self.save([data], self.processed_paths[0])

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(name={self.name})'


_KEYS = ('node_features', 'node_labels', 'edges', 'train_masks', 'val_masks',
         'test_masks')


def read_platonov_npz(path: str, directed: bool = False) -> Data:
    """Read one ``.npz`` of the collection into a
    :class:`~torch_geometric.data.Data` (masks ``[N, num_splits]``).

    Raises ``ValueError`` naming the problem for a file that is not in the
    collection's format (not an ``.npz``, missing keys, NaN/inf features,
    negative labels, non-integer or out-of-range edges, mis-shaped masks).
    """
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f'{path}: not a heterophilous-graphs .npz file '
                         f'({e})') from e
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f'{path}: not a heterophilous-graphs .npz file '
                         '(a single array, not an archive)')
    with npz as raw:
        missing = [k for k in _KEYS if k not in raw.files]
        if missing:
            raise ValueError(f'{path}: not a heterophilous-graphs .npz file '
                             f"(missing {', '.join(missing)})")
        feats = np.asarray(raw['node_features'])
        labels = np.asarray(raw['node_labels'])
        raw_edges = np.asarray(raw['edges'])
        for key, arr in (('node_labels', labels), ('edges', raw_edges)):
            if arr.dtype.kind == 'f' and (
                    not np.all(np.isfinite(arr))
                    or not np.array_equal(arr, np.round(arr))):
                raise ValueError(f'{path}: {key} must hold integers')
            if arr.dtype.kind not in 'iuf':
                raise ValueError(f'{path}: {key} must hold integers, got '
                                 f'dtype {arr.dtype}')
        if feats.dtype.kind not in 'iufb' or feats.ndim != 2:
            raise ValueError(f'{path}: node_features must be a numeric '
                             f'[num_nodes, num_features] array, got dtype '
                             f'{feats.dtype} and shape {feats.shape}')
        x = torch.from_numpy(np.asarray(feats, np.float32))
        if x.numel() and not bool(torch.isfinite(x).all()):
            raise ValueError(f'{path}: node_features contains NaN or '
                             'infinite values')
        y = torch.from_numpy(labels.astype(np.int64))
        edges = torch.from_numpy(raw_edges.astype(np.int64))
        masks = [torch.from_numpy(np.asarray(raw[k], bool))
                 for k in _KEYS[3:]]
    n = x.size(0)
    if y.shape != (n,):
        raise ValueError(f'{path}: {y.numel()} labels for {n} nodes')
    if y.numel() and int(y.min()) < 0:
        raise ValueError(f'{path}: node_labels must be >= 0, found '
                         f'{int(y.min())}')
    if edges.dim() != 2 or edges.size(1) != 2:
        raise ValueError(f'{path}: edges must have shape [E, 2], got '
                         f'{tuple(edges.shape)}')
    if edges.numel() and (int(edges.min()) < 0 or int(edges.max()) >= n):
        raise ValueError(f'{path}: edge index out of range for {n} nodes')
    for k, m in zip(_KEYS[3:], masks):
        if m.dim() != 2 or m.size(1) != n:
            raise ValueError(f'{path}: {k} must have shape [splits, {n}], '
                             f'got {tuple(m.shape)}')
    if len({m.size(0) for m in masks}) > 1:
        raise ValueError(f'{path}: train_masks, val_masks and test_masks '
                         f'must hold the same number of splits, got '
                         f'{[m.size(0) for m in masks]}')
    edge_index = edges.t().contiguous()
    if not directed:
        edge_index = to_undirected(edge_index, num_nodes=n)
    train, val, test = (m.t().contiguous() for m in masks)
    return Data(x=x, y=y, edge_index=edge_index, train_mask=train,
                val_mask=val, test_mask=test)


def _loader(folder: str, name: str,
            **kwargs: Any) -> PlatonovHeterophilyDataset:
    name = canonical_name(name.lower().replace('-platonov', ''))
    return PlatonovHeterophilyDataset(folder, name, **kwargs)


# Registry names: the Platonov names; the four that PyG's WebKB / Actor
# already own in the registry (cornell, texas, wisconsin, actor) get a
# '-platonov' suffix so both versions stay reachable.
_CLASH = {'cornell', 'texas', 'wisconsin', 'actor'}
REGISTRY_NAMES: dict[str, str] = {}
for _n in NAMES:
    _reg = f'{_n}-platonov' if _n in _CLASH else _n.replace('_', '-')
    REGISTRY_NAMES[_n] = _reg
    if _n in NEW_GRAPHS:
        _family, _card = 'heterophilous', 'heterophilous.md'
        _pretty = {'roman_empire': 'Roman-empire',
                   'amazon_ratings': 'Amazon-ratings'}.get(_n, _n.title())
        _reg = REGISTRY_NAMES[_n] = _pretty
    else:
        _family, _card = 'heterophilous_extra', 'heterophilous.md'
    register_dataset(DatasetSpec(_reg, _family, _loader, 'node', _card,
                                 folder=_n))


__all__ = ['NAMES', 'NEW_GRAPHS', 'PlatonovHeterophilyDataset', 'STATS',
           'canonical_name', 'read_platonov_npz']
