"""Generated OptGNN instance sets as PyG datasets, and the paper's TU split.

:class:`CombOptInstances` is an ``InMemoryDataset`` of seeded random
instances (Erdos-Renyi, Barabasi-Albert, Watts-Strogatz, random regular,
random 3-SAT) in the ranges of the OptGNN paper; the names below are
registered with :func:`pyg_ext.datasets.get_dataset` under the ``combopt``
family (nothing to download: ``process()`` generates them).

:func:`tu_split` reproduces the reference code's TU split
(``random_split`` 80/10/10 with ``torch.Generator().manual_seed(0)``), on which
the published vertex-cover optima (MUTAG 7.737, ENZYMES 20.000, PROTEINS
24.964, IMDB-BINARY 16.760) are reproduced exactly.
"""

from __future__ import annotations

import os.path as osp
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch_geometric.data import InMemoryDataset

from pyg_ext.datasets.registry import DatasetSpec, register_dataset

#: name -> (kind, n_min, n_max, extra params)
INSTANCE_SETS: dict[str, tuple[str, int, int, dict[str, float]]] = {
    'er_50_100': ('er', 50, 100, {'p': 0.15}),
    'er_100_200': ('er', 100, 200, {'p': 0.15}),
    'er_400_500': ('er', 400, 500, {'p': 0.15}),
    'ba_50_100': ('ba', 50, 100, {'m': 4}),
    'ba_400_500': ('ba', 400, 500, {'m': 4}),
    'ws_400_500': ('ws', 400, 500, {'k': 4, 'p': 0.25}),
    'regular3_100': ('regular', 100, 100, {'d': 3}),
    'sat3_100_4.0': ('sat', 100, 100, {'ratio': 4.0}),
    'sat3_100_4.15': ('sat', 100, 100, {'ratio': 4.15}),
    'sat3_100_4.3': ('sat', 100, 100, {'ratio': 4.3}),
}


def generate_instance(kind: str, n: int, seed: int, **params: Any):
    """One instance of ``kind`` (``'sat'`` or a graph kind of
    :func:`pyg_ext.combopt.generators.make_graph`)."""
    from pyg_ext.combopt.generators import make_graph, random_3sat
    if kind == 'sat':
        return random_3sat(n, float(params.get('ratio', 4.2)), seed=seed)
    return make_graph(kind, n, seed=seed, **params)


class CombOptInstances(InMemoryDataset):
    r"""Seeded random combinatorial-optimisation instances (OptGNN ranges).

    Args:
        root: folder; files go to ``root/<name>_<num_graphs>_<seed>/``.
        name: one of :data:`INSTANCE_SETS` (``'er_50_100'``,
            ``'er_400_500'``, ``'ba_400_500'``, ``'ws_400_500'``,
            ``'regular3_100'``, ``'sat3_100_4.0'``, ``'sat3_100_4.15'``,
            ``'sat3_100_4.3'``, ...).
        num_graphs: number of instances.
        seed: base seed (instance ``i`` uses ``seed * 1_000_003 + i``).
        transform, pre_transform, force_reload: as in PyG.

    **STATS:** ER 400-500 at p = 0.15 has about 16,000 undirected edges per
    graph; 3-SAT sets have 100 variables and ``ratio * 100`` clauses.
    """

    def __init__(self, root: str, name: str, num_graphs: int = 100,
                 seed: int = 0, transform: Callable | None = None,
                 pre_transform: Callable | None = None,
                 force_reload: bool = False) -> None:
        from pyg_ext.utils.validation import check_int, check_positive_int
        if not isinstance(name, str):
            raise TypeError(f'name must be a str, got {type(name).__name__}')
        num_graphs = check_positive_int(num_graphs, 'num_graphs')
        seed = check_int(seed, 'seed', low=0)
        key = name.lower().replace('-', '_')
        if key not in INSTANCE_SETS:
            raise ValueError(f"CombOptInstances: unknown set name {name!r}; "
                             f"available: {', '.join(INSTANCE_SETS)}")
        self.name = key
        self.num_graphs_ = int(num_graphs)
        self.seed = int(seed)
        super().__init__(root, transform, pre_transform,
                         force_reload=force_reload, log=False)
        self.load(self.processed_paths[0])

    @property
    def raw_file_names(self) -> list[str]:
        return []

    @property
    def processed_dir(self) -> str:
        return osp.join(self.root,
                        f'{self.name}_{self.num_graphs_}_{self.seed}',
                        'processed')

    @property
    def processed_file_names(self) -> str:
        return 'data.pt'

    def download(self) -> None:
        pass

    def process(self) -> None:
        kind, lo, hi, params = INSTANCE_SETS[self.name]
        rng = np.random.default_rng(self.seed)
        data_list = []
        for i in range(self.num_graphs_):
            n = int(rng.integers(lo, hi + 1))
            d = generate_instance(kind, n, self.seed * 1_000_003 + i,
                                  **params)
            if self.pre_transform is not None:
                d = self.pre_transform(d)
            data_list.append(d)
        self.save(data_list, self.processed_paths[0])

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(name={self.name}, '
                f'num_graphs={self.num_graphs_}, seed={self.seed})')


def tu_split(dataset: Any, seed: int = 0) -> tuple[list[int], list[int],
                                                   list[int]]:
    """Train / validation / test indices of the reference OptGNN split:
    ``int(0.8 n)`` train, half the rest validation, the remainder test,
    via ``torch.utils.data.random_split`` seeded with ``seed``."""
    from torch.utils.data import random_split
    n = len(dataset)
    tr = int(0.8 * n)
    va = (n - tr) // 2
    te = n - tr - va
    parts = random_split(range(n), [tr, va, te],
                         generator=torch.Generator().manual_seed(seed))
    return tuple(list(p) for p in parts)  # type: ignore[return-value]


def _gen_loader_name(name: str) -> str:
    return name.split('optgnn-', 1)[-1]


# the registry passes the canonical spec name; strip the prefix
def _prefixed_loader(folder: str, name: str, **kwargs: Any
                     ) -> CombOptInstances:
    return CombOptInstances(folder, _gen_loader_name(name), **kwargs)


for _name in INSTANCE_SETS:
    register_dataset(DatasetSpec(f'optgnn-{_name}', 'combopt',
                                 _prefixed_loader, 'graph', 'combopt.md',
                                 aliases=(f'optgnn_{_name}',)))


__all__ = ['INSTANCE_SETS', 'CombOptInstances', 'generate_instance',
           'tu_split']
