"""Scaling run of the Ray block engine: one TMD (or DIDM) matrix computed
single-process and on local Ray clusters of 1, 2, ... workers, in the same
run, with the results checked bit for bit.

Usage::

    python -m pyg_ext.distributed.scaling --dataset PROTEINS --depth 3 \\
        --workers 1,2 --json scaling.json

Each Ray cluster is started on this machine (loopback only) with
``num_cpus`` = workers, warmed up with a small matrix (worker processes
started, kernels loaded) and then timed; the cold start is reported apart.

On a shared Linux machine with ``kernel.sched_autogroup_enabled=1`` all
processes of one session share one CPU share: a local cluster started from
the driver then gets no faster with more workers. Start separate nodes in
separate sessions instead (``setsid ray start ...``, see
``docs/distributed.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np


def _load(root: str, name: str) -> list[Any]:
    from torch_geometric.datasets import TUDataset
    ds = TUDataset(os.path.join(root, 'tu'), name)
    return [ds[i] for i in range(len(ds))]


def _matrix(metric: str, graphs: list[Any], depth: int,
            **kw: Any) -> np.ndarray:
    from pyg_ext.metrics import pairwise
    # explicit backend: 'auto' may run numpy while numba loads
    return pairwise(graphs, metric, depth=depth, backend=_BACKEND, **kw)


_BACKEND = 'numba'


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', default='data')
    parser.add_argument('--dataset', default='PROTEINS')
    parser.add_argument('--metric', default='tmd', choices=('tmd', 'didm'))
    parser.add_argument('--depth', type=int, default=3)
    parser.add_argument('--workers', default='1,2')
    parser.add_argument('--block-size', type=int, default=None)
    parser.add_argument('--limit', type=int, default=None,
                        help='first N graphs only')
    parser.add_argument('--json', default=None)
    args = parser.parse_args(argv)
    import logging

    import ray
    logging.basicConfig(format='%(asctime)s %(name)s: %(message)s')
    logging.getLogger('pyg_ext.distributed').setLevel(logging.INFO)

    graphs = _load(args.root, args.dataset)
    if args.limit:
        graphs = graphs[:args.limit]
    print(f'{args.dataset}: {len(graphs)} graphs, {args.metric} depth '
          f'{args.depth}, OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS")}'
          f', load {os.getloadavg()}', flush=True)
    _matrix(args.metric, graphs[:20], args.depth)  # compile / load kernels
    t0 = time.perf_counter()
    ref = _matrix(args.metric, graphs, args.depth)
    t_local = time.perf_counter() - t0
    print(f'single process: {t_local:.2f} s', flush=True)
    rows: list[dict[str, Any]] = [{'engine': 'local', 'workers': 1,
                                   'seconds': t_local, 'identical': True}]
    for w in [int(v) for v in args.workers.split(',')]:
        t0 = time.perf_counter()
        ray.init(num_cpus=w, include_dashboard=False, address='local',
                 logging_level='WARNING')
        _matrix(args.metric, graphs[:40], args.depth, engine='ray',
                block_size=8)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        D = _matrix(args.metric, graphs, args.depth, engine='ray',
                    block_size=args.block_size)
        t = time.perf_counter() - t0
        same = bool(np.array_equal(D, ref))
        rows.append({'engine': 'ray', 'workers': w, 'seconds': t,
                     'identical': same, 'cold_start_s': t_cold})
        print(f'ray {w} worker(s): {t:.2f} s (identical: {same}; cluster '
              f'start + warm-up {t_cold:.1f} s)', flush=True)
        ray.shutdown()
    one = next((r['seconds'] for r in rows
                if r['engine'] == 'ray' and r['workers'] == 1), None)
    for r in rows:
        r['vs_ray_1_worker'] = r['seconds'] / one if one else None
    out = {'dataset': args.dataset, 'graphs': len(graphs),
           'metric': args.metric, 'depth': args.depth,
           'pairs': len(graphs) * (len(graphs) - 1) // 2,
           'rows': rows,
           'load_after': os.getloadavg()}
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == '__main__':
    main()
