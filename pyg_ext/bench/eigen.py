"""Eigen precompute throughput: AddEigenPE (dataset precompute on a list of
Data and on an InMemoryDataset, and per graph) vs PyG's
AddLaplacianEigenvectorPE on molecule-size graphs, one thread.

The dataset precompute uses the compiled lowest-eigenpairs solver when numba
is installed (``pyg_ext.utils._eigen_numba``), LAPACK otherwise."""

from __future__ import annotations

import argparse
from typing import Any

import torch

from pyg_ext.bench._common import fmt_mean_std, format_table, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this suite (validated by argparse)."""
    parser.add_argument('--graphs', type=positive_int, default=1000,
                        help='molecule-like graphs per seed')
    parser.add_argument('--min-nodes', type=positive_int, default=18,
                        help='fewest nodes of a graph (>= 2)')
    parser.add_argument('--max-nodes', type=positive_int, default=32,
                        help='most nodes of a graph (>= --min-nodes)')
    parser.add_argument('--k', type=positive_int, default=8,
                        help='eigenpairs per graph')
    parser.add_argument('--threads', type=positive_int, default=1,
                        help='torch threads (1, as the bar asks)')


def molecule_like(num_graphs: int, lo: int, hi: int, seed: int) -> list:
    """Random trees plus two extra edges (ring closures), ``lo..hi`` nodes
    (mean about 25 for the defaults): molecule-like sparsity."""
    from torch_geometric.data import Data
    from torch_geometric.utils import to_undirected
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(num_graphs):
        n = int(torch.randint(lo, hi + 1, (1,), generator=g))
        parent = (torch.rand(n - 1, generator=g)
                  * torch.arange(1, n)).long()
        ei = torch.stack([torch.arange(1, n), parent])
        extra = torch.randint(0, n, (2, 2), generator=g)
        ei = to_undirected(torch.cat([ei, extra], 1), num_nodes=n)
        out.append(Data(edge_index=ei, num_nodes=n))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the suite.

    Raises:
        ValueError: ``--min-nodes`` below 2 or above ``--max-nodes``.
    """
    from pyg_ext.transforms.eigen import eigen_throughput
    from pyg_ext.utils.log import progress

    if args.min_nodes < 2:
        raise ValueError(f'--min-nodes must be >= 2, got {args.min_nodes}')
    if args.min_nodes > args.max_nodes:
        raise ValueError(f'--min-nodes {args.min_nodes} is larger than '
                         f'--max-nodes {args.max_nodes}')
    torch.set_num_threads(args.threads)
    res = [eigen_throughput(molecule_like(args.graphs, args.min_nodes,
                                          args.max_nodes, s), args.k)
           for s in progress(args.seeds, args.progress, desc='eigen seeds',
                             unit='seed')]
    keys = ('batched_graphs_per_s', 'collated_graphs_per_s',
            'transform_graphs_per_s',
            'pyg_graphs_per_s', 'pyg_undirected_graphs_per_s',
            'batched_vs_pyg', 'collated_vs_pyg', 'transform_vs_pyg',
            'batched_vs_pyg_undirected', 'collated_vs_pyg_undirected',
            'transform_vs_pyg_undirected')
    rows = [{'measure': k, 'mean ± std': fmt_mean_std([r[k] for r in res],
                                                       1)} for k in keys]
    print(f'{args.graphs} graphs, {args.min_nodes}-{args.max_nodes} nodes, '
          f'k={args.k}, {torch.get_num_threads()} thread(s), best of 3 per '
          f'seed, {len(args.seeds)} seed(s)')
    print(format_table(rows))
    return {k: [r[k] for r in res] for k in keys}
