"""The Circular Skip Link (CSL) dataset, generated in code (no download)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data, InMemoryDataset

from pyg_ext.datasets.registry import DatasetSpec, register_dataset
from pyg_ext.utils.validation import check_int, check_positive_int

#: The skip lengths of the 10 classes (Murphy et al., 2019).
CSL_SKIPS: tuple[int, ...] = (2, 3, 4, 5, 6, 9, 11, 12, 13, 16)


#: Smallest ``num_nodes`` for which every class is a distinct 4-regular
#: graph (:math:`R < n/2` for the largest skip).
MIN_NUM_NODES: int = 2 * max(CSL_SKIPS) + 1


def csl_edge_index(num_nodes: int, skip: int) -> Tensor:
    """Undirected ``edge_index`` of the circular skip-link graph
    :math:`C_{n,R}`: a cycle plus the chords :math:`i \\sim i + R \\bmod n`
    (4-regular for :math:`2 \\le R < n/2`).

    Raises:
        TypeError: when ``num_nodes`` or ``skip`` is not an int.
        ValueError: unless ``num_nodes >= 3`` and ``1 <= skip < num_nodes``.
    """
    num_nodes = check_int(num_nodes, 'num_nodes', low=3)
    skip = check_int(skip, 'skip', low=1, high=num_nodes - 1)
    i = torch.arange(num_nodes)
    src = torch.cat([i, i])
    dst = torch.cat([(i + 1) % num_nodes, (i + skip) % num_nodes])
    ei = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    return torch.unique(ei, dim=1)


class CSLDataset(InMemoryDataset):
    r"""Circular Skip Link graphs from `"Relational Pooling for Graph
    Representations" <https://arxiv.org/abs/1903.02541>`_ (Murphy et al.,
    ICML 2019), as used in `"Benchmarking Graph Neural Networks"
    <https://arxiv.org/abs/2003.00982>`_, generated in code.

    Class :math:`c` holds copies of :math:`C_{n,R_c}` with
    :math:`R \in \{2, 3, 4, 5, 6, 9, 11, 12, 13, 16\}`, each under a random
    node permutation. All graphs are 4-regular with the same number of
    nodes, so 1-WL (and any message-passing GNN on constant features) cannot
    tell the classes apart: it is at chance (10%). Laplacian spectra differ
    between classes, so spectral positional encodings separate them.

    Nothing is downloaded or written: ``root`` is accepted for registry
    compatibility and ignored.

    Args:
        root (str, optional): ignored.
        num_nodes (int, optional): nodes per graph. (default: :obj:`41`)
        graphs_per_class (int, optional): permuted copies per class.
            (default: :obj:`15`)
        seed (int, optional): seed of the node permutations.
            (default: :obj:`0`)
        transform (callable, optional): applied on access.
        pre_transform (callable, optional): applied once at generation.

    Raises:
        TypeError: ``num_nodes``, ``graphs_per_class`` or ``seed`` not an
            int; ``transform`` / ``pre_transform`` not callable.
        ValueError: ``num_nodes < 33`` (the largest skip, 16, needs
            :math:`R < n/2`, else classes collapse into the same graph) or
            ``graphs_per_class < 1``.

    **STATS:**

    .. list-table::
        :header-rows: 1

        * - #graphs
          - #nodes
          - #edges
          - #features
          - #classes
        * - 150
          - 41
          - 164 (undirected)
          - 1 (constant)
          - 10
    """

    def __init__(self, root: str | None = None, num_nodes: int = 41,
                 graphs_per_class: int = 15, seed: int = 0,
                 transform: Callable[..., Any] | None = None,
                 pre_transform: Callable[..., Any] | None = None,
                 force_reload: bool = False) -> None:
        num_nodes = check_int(num_nodes, 'num_nodes', low=MIN_NUM_NODES)
        graphs_per_class = check_positive_int(graphs_per_class,
                                              'graphs_per_class')
        seed = check_int(seed, 'seed')
        for name, fn in (('transform', transform),
                         ('pre_transform', pre_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f'{name} must be callable or None, got '
                                f'{type(fn).__name__}')
        self.num_nodes_per_graph = num_nodes
        self.graphs_per_class = graphs_per_class
        self.seed = seed
        super().__init__(None, transform, pre_transform)
        gen = torch.Generator().manual_seed(seed)
        data_list = []
        for label, skip in enumerate(CSL_SKIPS):
            base = csl_edge_index(num_nodes, skip)
            for _ in range(graphs_per_class):
                perm = torch.randperm(num_nodes, generator=gen)
                data = Data(x=torch.ones(num_nodes, 1),
                            edge_index=perm[base],
                            y=torch.tensor([label]), num_nodes=num_nodes)
                if pre_transform is not None:
                    data = pre_transform(data)
                data_list.append(data)
        self._data, self.slices = self.collate(data_list)

    def get_idx_split(self, fold: int = 0, num_folds: int = 5
                      ) -> dict[str, Tensor]:
        """Stratified split, 3:1:1 per class (``fold`` rotates it): for the
        default 15 graphs per class, 9 train, 3 valid, 3 test.

        Raises:
            TypeError: ``fold`` or ``num_folds`` not an int.
            ValueError: ``num_folds < 3`` (train, valid and test each need a
                part), more folds than graphs per class (empty parts), or
                ``fold`` outside ``[0, num_folds)``.
        """
        num_folds = check_int(num_folds, 'num_folds', low=3)
        if num_folds > self.graphs_per_class:
            raise ValueError(f'num_folds ({num_folds}) must be <= '
                             f'graphs_per_class ({self.graphs_per_class}), '
                             'else some parts are empty')
        fold = check_int(fold, 'fold', low=0, high=num_folds - 1)
        y = self.y.view(-1)
        out: dict[str, list[Tensor]] = {'train': [], 'valid': [], 'test': []}
        for c in range(len(CSL_SKIPS)):
            idx = (y == c).nonzero().view(-1)
            parts = torch.tensor_split(idx, num_folds)
            order = [(fold + j) % num_folds for j in range(num_folds)]
            out['test'].append(parts[order[0]])
            out['valid'].append(parts[order[1]])
            out['train'].extend(parts[o] for o in order[2:])
        return {k: torch.cat(v) for k, v in out.items()}

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({len(self)}, '
                f'num_nodes={self.num_nodes_per_graph}, '
                f'graphs_per_class={self.graphs_per_class}, seed={self.seed})')


def _load_csl(folder: str, name: str, **kwargs: Any) -> CSLDataset:
    return CSLDataset(folder, **kwargs)


register_dataset(DatasetSpec('CSL', 'generated', _load_csl, 'graph', 'csl.md',
                             aliases=('csl-generated',)))

__all__ = ['CSLDataset', 'CSL_SKIPS', 'MIN_NUM_NODES', 'csl_edge_index']
