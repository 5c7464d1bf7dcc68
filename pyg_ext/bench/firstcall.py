"""First calls in a fresh process with an empty numba cache: eigen
precompute against PyG's AddLaplacianEigenvectorPE (each in its own fresh
process), 1-WIS on a 100k-edge graph, one TMD pair, a TMD and a DIDM matrix,
each against the same call once the compiled kernels are loaded.

Every case runs in a new Python process (``sys.executable``) whose
``$PYG_EXT_CACHE`` is a new empty folder (``$NUMBA_CACHE_DIR`` removed), so
numba has nothing cached: what a user sees right after ``pip install``. The
inputs are built before the clock starts; the first ``--calls`` calls are
timed one by one (wall and CPU time of the calling process; the background
compiler is a child process, not counted in CPU, but it shares the
machine's cores). Then the case waits for the kernels (``--wait`` seconds
at most) and times one more call ("loaded"). Each seed of ``--seeds`` is
one round: a fresh process per case, inputs drawn from that seed; the
rounds give mean ± std.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from pyg_ext.bench._common import (
    fmt_mean_std,
    format_table,
    positive_float,
    positive_int,
)

CASES = ('eigen', 'eigen-pyg', 'wis', 'tmd-pair', 'tmd-matrix', 'didm')
_MARK = 'FIRSTCALL-RESULT '


def _kernel_module(case: str) -> tuple | None:
    """The kernel module a case's first call starts compiling (as its
    library code names it), or ``None`` (PyG's case)."""
    if case == 'eigen':
        from pyg_ext.utils.eigen import _KERNELS
        return _KERNELS
    if case == 'wis':
        from pyg_ext.utils.walk_index import _WIS_KERNELS
        return _WIS_KERNELS
    if case == 'eigen-pyg':
        return None
    from pyg_ext.metrics._ot import NUMBA_KERNELS
    return NUMBA_KERNELS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this suite (validated by argparse)."""
    parser.add_argument('--cases', default=','.join(CASES),
                        help='comma-separated subset of ' + ', '.join(CASES))
    parser.add_argument('--calls', type=positive_int, default=2,
                        help='calls timed one by one from the first')
    parser.add_argument('--wait', type=positive_float, default=300.0,
                        help='seconds to wait for the background compile '
                        'before the "loaded" call')
    parser.add_argument('--graphs', type=positive_int, default=1000,
                        help='eigen: graphs (10-30 nodes, molecule-like)')
    parser.add_argument('--k', type=positive_int, default=8,
                        help='eigen: eigenpairs per graph')
    parser.add_argument('--wis-edges', type=positive_int, default=100_000,
                        help='wis: undirected edges (on edges / 5 nodes)')


def _inputs(case: str, opts: dict[str, Any]) -> Any:
    """The case's call, as a function of no arguments, with its inputs
    built (untimed)."""
    import numpy as np
    import torch
    from torch_geometric.data import Data
    from torch_geometric.utils import to_undirected

    from pyg_ext.bench.eigen import molecule_like

    if case in ('eigen', 'eigen-pyg'):
        graphs = molecule_like(opts['graphs'], 10, 30, opts['seed'])
        k = opts['k']
        if case == 'eigen':
            from pyg_ext.transforms.eigen import precompute_eigen_pe

            def call() -> None:
                precompute_eigen_pe([Data(edge_index=g.edge_index,
                                          num_nodes=g.num_nodes)
                                     for g in graphs], k)
            return call
        from torch_geometric.transforms import AddLaplacianEigenvectorPE
        tr = AddLaplacianEigenvectorPE(k, is_undirected=True)

        def call() -> None:
            for g in graphs:
                tr(Data(edge_index=g.edge_index, num_nodes=g.num_nodes))
        return call
    if case == 'wis':
        from pyg_ext.utils.walk_index import walk_index_sparsify
        m = opts['wis_edges']
        n = max(2, m // 5)
        rng = np.random.default_rng(opts['seed'])
        a, b = rng.integers(0, n, 2 * m), rng.integers(0, n, 2 * m)
        keep = a != b
        code = np.unique(np.minimum(a, b)[keep] * n
                         + np.maximum(a, b)[keep])[:m]
        rng.shuffle(code)
        ei = to_undirected(torch.from_numpy(np.stack([code // n, code % n])),
                           num_nodes=n)
        return lambda: walk_index_sparsify(ei, ratio=0.5, num_nodes=n)

    def rg(n: int, seed: int) -> Data:
        g = torch.Generator().manual_seed(seed)
        ei = torch.randint(0, n, (2, 2 * n), generator=g)
        ei = ei[:, ei[0] != ei[1]]
        return Data(x=torch.randint(0, 3, (n, 1), generator=g).float(),
                    edge_index=to_undirected(ei, num_nodes=n))
    if case == 'tmd-pair':
        from pyg_ext.metrics import tree_movers_distance
        g1, g2 = rg(150, 2 * opts['seed']), rg(150, 2 * opts['seed'] + 1)
        return lambda: tree_movers_distance(g1, g2, 3)
    graphs = [rg(15 + s % 10, 40 * opts['seed'] + s) for s in range(40)]
    if case == 'tmd-matrix':
        from pyg_ext.metrics import tmd_pairwise
        return lambda: tmd_pairwise(graphs, 4)
    from pyg_ext.metrics import didm_pairwise
    return lambda: didm_pairwise(graphs, 3)


def child(case: str, opts_json: str) -> None:
    """Run one case in this (fresh) process and print its times as one
    JSON line."""
    opts = json.loads(opts_json)
    cache = os.environ.get('PYG_EXT_CACHE', '')
    # what the cache held when the case started (0 files: nothing compiled)
    cached = sum(len(files) for _, _, files in os.walk(cache)) if cache else -1
    call = _inputs(case, opts)
    out: dict[str, Any] = {'wall': [], 'cpu': [], 'cache_files': cached}
    for _ in range(opts['calls']):
        t0, c0 = time.perf_counter(), time.process_time()
        call()
        out['wall'].append(time.perf_counter() - t0)
        out['cpu'].append(time.process_time() - c0)
    module = _kernel_module(case)
    if module is not None:
        from pyg_ext.utils import _numba_setup as S
        t0 = time.perf_counter()
        ready = S.wait_for_kernels(*module, timeout=opts['wait'])
        out['waited'] = time.perf_counter() - t0
        if ready is not None:
            t0, c0 = time.perf_counter(), time.process_time()
            call()
            out['loaded_wall'] = time.perf_counter() - t0
            out['loaded_cpu'] = time.process_time() - c0
    print(_MARK + json.dumps(out), flush=True)


def _fresh(case: str, opts: dict[str, Any]) -> dict[str, Any]:
    """One case in a new process with an empty cache folder."""
    with tempfile.TemporaryDirectory(prefix='pyg_ext_firstcall_') as cache:
        env = {k: v for k, v in os.environ.items()
               if k != 'NUMBA_CACHE_DIR'}
        env.update(PYG_EXT_CACHE=cache, OMP_NUM_THREADS='1')
        code = ('import sys; from pyg_ext.bench.firstcall import child; '
                'child(sys.argv[1], sys.argv[2])')
        proc = subprocess.run([sys.executable, '-c', code, case,
                               json.dumps(opts)], env=env,
                              capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(_MARK):
            return json.loads(line[len(_MARK):])
    raise RuntimeError(f'first-call case {case!r} failed (exit '
                       f'{proc.returncode}): {proc.stderr.strip()[-2000:]}')


COMMON_HELP: dict[str, str] = {
    'seeds': "rounds: a number N (seeds 0..N-1) or a list like '0,3,7'; "
             'each round runs every case in a fresh process on inputs drawn '
             'from its seed (default: 3)'}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the suite.

    Raises:
        ValueError: an unknown name in ``--cases``.
    """
    from pyg_ext.utils.log import progress

    cases = [c.strip() for c in args.cases.split(',') if c.strip()]
    bad = [c for c in cases if c not in CASES]
    if bad or not cases:
        raise ValueError(f'--cases: unknown {bad or args.cases!r}; choose '
                         f'from {", ".join(CASES)}')
    opts = {'calls': args.calls, 'wait': args.wait, 'graphs': args.graphs,
            'k': args.k, 'wis_edges': args.wis_edges}
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in cases}
    # cases interleaved round by round, so that a change of load hits all
    for seed in progress(args.seeds, args.progress,
                         desc='first-call rounds', unit='round'):
        for c in cases:
            runs[c].append(_fresh(c, {**opts, 'seed': seed}))
    rows = []
    result: dict[str, Any] = {'options': opts, 'seeds': args.seeds,
                              'runs': runs}
    for c in cases:
        rs = runs[c]
        row = {'case': c}
        for i in range(args.calls):
            row[f'call {i + 1} wall s'] = fmt_mean_std(
                [r['wall'][i] for r in rs], 3)
            row[f'call {i + 1} CPU s'] = fmt_mean_std(
                [r['cpu'][i] for r in rs], 3)
        loaded = [r['loaded_wall'] for r in rs if 'loaded_wall' in r]
        row['loaded wall s'] = (fmt_mean_std(loaded, 3) if loaded else '-')
        if loaded and len(loaded) == len(rs):
            row['first / loaded'] = fmt_mean_std(
                [r['wall'][0] / r['loaded_wall'] for r in rs], 2)
        rows.append(row)
    if 'eigen' in runs and 'eigen-pyg' in runs:
        # the bar: our first call against PyG's, both in fresh processes
        ratio = [p['wall'][0] / e['wall'][0]
                 for e, p in zip(runs['eigen'], runs['eigen-pyg'])]
        result['eigen_first_vs_pyg_first'] = ratio
        print('eigen: PyG first call / pyg_ext first call (wall, each '
              f'round), ratio {fmt_mean_std(ratio, 2)}')
    print(f'{len(args.seeds)} fresh process(es) per case (one per seed), '
          f'empty numba cache each, {args.calls} call(s) timed, then one '
          'once the kernels are loaded')
    print(format_table(rows))
    return result
