"""Graph metrics: exact TMD and DIDM matrices, TMD-SVM, GIN stability.

Reports, on a TU dataset (``<root>/tu``):

1. **Matrix time**: the full pairwise TMD matrix (``--depth``, ``--weights``)
   with each available backend (numpy/scipy only; numba), mean ± std over
   ``--repeats``, against the *reference-style* implementation timed in the
   same run on ``--ref-pairs`` random pairs and extrapolated to all pairs.
   The anchor re-implements the structure of the original research code
   (chingyaoc/TMD ``tmd.py``: one pair at a time, Python loops over node
   pairs, one ``ot.emd2`` per node pair and level, blank distances
   recomputed per pair); the ratio is anchor time / our time.
2. **Accuracy**: max relative deviation from the anchor on those pairs, and
   with ``--check-pairs N`` on N random pairs for depths 2, 4, 6 and weights
   0.5, 1.0 and Pascal (the issue's bar uses 200).
3. **TMD-SVM**: stratified 10-fold CV accuracy, mean ± std over ``--seeds``.
4. **Stability**: Pearson/Spearman between a trained GIN's output distances
   and TMD (Pascal weights) on ``--stability-pairs`` random pairs, mean ±
   std over seeds, and the Lipschitz-bound checks.
5. **DIDM** (Rauchwerger-Jegelka-Levie) matrix time at ``--didm-depth``.

Skip parts with ``--skip svm,stability,didm,accuracy``.

``--n-jobs 1,2`` times the matrix once per thread count (numba's own
thread pool; the result must not change, and the run says so).

``--pair N`` runs one single-pair case instead: two graphs of about ``N``
nodes (``--pair-kind random``: G(N, 4/N) with 8-dim Gaussian features,
every computation tree distinct, the worst case for memoisation;
``dataset``: the two graphs of ``--dataset`` closest to ``N`` nodes), our
backends timed ``--pair-repeats`` times (mean ± std) against the
reference-style anchor timed ``--pair-ref-repeats`` times on the same pair;
prints the ratio and, with ``--json``, writes it.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from pyg_ext.bench._common import (
    choice_list,
    float_list,
    fmt_mean_std,
    format_table,
    load_registered,
    mean_std,
    nonneg_int,
    positive_int,
)

PARTS = ('svm', 'stability', 'didm', 'accuracy')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this suite (validated by argparse)."""
    parser.add_argument('--dataset', default='MUTAG',
                        help='TU dataset: MUTAG | PTC_MR | PROTEINS | ... '
                        '(default: MUTAG)')
    parser.add_argument('--depth', type=positive_int, default=4,
                        help='TMD depth (tree levels)')
    parser.add_argument('--weights', default='0.5', type=weights_arg,
                        help="TMD level weights: a float, a comma-separated "
                        "list (one per level after the first) or 'pascal'")
    parser.add_argument('--repeats', type=positive_int, default=3,
                        help='timed repeats of the full matrix')
    parser.add_argument('--backends', default=None,
                        type=choice_list(('numpy', 'numba'), what='backend'),
                        help='comma-separated TMD backends to time '
                        '(numpy, numba; default: all installed)')
    parser.add_argument('--n-jobs', type=n_jobs_list_arg, default=[1],
                        help='threads for the matrix (-1: all cores); a '
                        'list like 1,2 times each count in the same run')
    parser.add_argument('--pair', type=nonneg_int, default=0,
                        help='single-pair case: two graphs of about this '
                        'many nodes against the reference-style anchor '
                        '(0: the matrix suite)')
    parser.add_argument('--pair-kind', default='random',
                        choices=('random', 'dataset'),
                        help="--pair graphs: 'random' (G(N, 4/N), 8-dim "
                        "Gaussian features) or 'dataset' (the two graphs "
                        'of --dataset closest to N nodes)')
    parser.add_argument('--pair-repeats', type=positive_int, default=20,
                        help='timed repeats of our backends on the pair')
    parser.add_argument('--pair-ref-repeats', type=positive_int, default=1,
                        help='timed repeats of the reference-style anchor '
                        'on the pair (about a minute each at N = 300)')
    parser.add_argument('--ref-pairs', type=positive_int, default=20,
                        help='random pairs timed with the reference-style '
                        'implementation')
    parser.add_argument('--check-pairs', type=nonneg_int, default=0,
                        help='random pairs for the depth x weight accuracy '
                        'grid (0: skip)')
    parser.add_argument('--stability-pairs', type=positive_int,
                        default=1000,
                        help='random graph pairs of the stability study')
    parser.add_argument('--epochs', type=positive_int, default=100,
                        help='GIN training epochs for the stability study')
    parser.add_argument('--layers', type=positive_int, default=3,
                        help='GIN layers (TMD depth = layers + 1)')
    parser.add_argument('--didm-depth', type=positive_int, default=3,
                        help='DIDM depth')
    parser.add_argument('--skip', default='',
                        type=choice_list(PARTS, allow_empty=True, what='part'),
                        help=f"comma-separated parts to skip: "
                        f"{', '.join(PARTS)} (default: none)")


def weights_arg(text: str) -> Any:
    """``type=`` of ``--weights``: ``'pascal'``, one weight or a list (each
    finite and >= 0).

    Raises:
        argparse.ArgumentTypeError: for anything else.
    """
    if str(text).strip().lower() == 'pascal':
        return 'pascal'
    try:
        vals = float_list(text)
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"{e}, or 'pascal'") from None
    if any(v < 0 for v in vals):
        raise argparse.ArgumentTypeError(f'weights must be >= 0, got {text!r}')
    return vals[0] if len(vals) == 1 else vals


def n_jobs_arg(text: str) -> int:
    """``type=`` of ``--n-jobs``: ``-1`` (all cores) or a count ``>= 1``.

    Raises:
        argparse.ArgumentTypeError: for anything else.
    """
    if str(text).strip() == '-1':
        return -1
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f'{e} (or -1 for all cores)'
                                         ) from None


def n_jobs_list_arg(text: str) -> list[int]:
    """``type=`` of ``--n-jobs``: one thread count or a comma-separated
    list of them (each ``-1`` or ``>= 1``).

    Raises:
        argparse.ArgumentTypeError: for anything else.
    """
    parts = [t for t in str(text).split(',')]
    if not parts or any(not t.strip() for t in parts):
        raise argparse.ArgumentTypeError(
            f'expected thread counts like 1 or 1,2, got {text!r}')
    return [n_jobs_arg(t) for t in parts]


def _jobs_list(value: Any) -> list[int]:
    """``args.n_jobs`` as a list (Python callers may pass one int)."""
    if isinstance(value, str):
        return n_jobs_list_arg(value)
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return [int(value)]


def _weights(text: Any) -> Any:
    """``--weights`` as parsed by :func:`weights_arg` (a string from Python
    callers is parsed here)."""
    return weights_arg(text) if isinstance(text, str) else text


def reference_style_tmd(g1: Any, g2: Any, depth: int, weights: Any) -> float:
    """Per-pair TMD with the structure of the original research code: Python
    loops over node pairs, one ``ot.emd2`` per pair of nodes and level (unit
    masses, the smaller child set padded with blank trees), blank distances
    recomputed for each pair, a final padded ``ot.emd2``."""
    import ot
    if isinstance(weights, str):
        from pyg_ext.metrics import pascal_weights
        w = pascal_weights(depth)
    elif np.ndim(weights) == 0:
        w = [float(weights)] * (depth - 1)
    else:
        w = list(weights)
    x1 = g1.x.double().numpy()
    x2 = g2.x.double().numpy()
    n1, n2 = len(x1), len(x2)
    adj1: dict[int, list[int]] = {i: [] for i in range(n1)}
    adj2: dict[int, list[int]] = {j: [] for j in range(n2)}
    for a, b in g1.edge_index.t().tolist():
        adj1[b].append(a)
    for a, b in g2.edge_index.t().tolist():
        adj2[b].append(a)
    D = np.zeros((n1, n2))
    for i in range(n1):
        for j in range(n2):
            D[i, j] = np.linalg.norm(x1[i] - x2[j])
    M = np.zeros((n1 + 1, n2 + 1))
    M[:n1, :n2] = D
    M[:n1, n2] = np.linalg.norm(x1, axis=1)
    M[n1, :n2] = np.linalg.norm(x2, axis=1)
    for level in range(depth - 1):
        prev = M
        M = np.zeros((n1 + 1, n2 + 1))
        for i in range(n1):
            for j in range(n2):
                ci, cj = adj1[i], adj2[j]
                k = max(len(ci), len(cj))
                if k == 0:
                    M[i, j] = D[i, j]
                    continue
                ri = ci + [n1] * (k - len(ci))
                rj = cj + [n2] * (k - len(cj))
                cost = prev[np.ix_(ri, rj)]
                M[i, j] = D[i, j] + w[level] * ot.emd2(
                    np.ones(k), np.ones(k), cost)
        for i in range(n1):
            M[i, n2] = np.linalg.norm(x1[i]) + w[level] * sum(
                prev[c, n2] for c in adj1[i])
        for j in range(n2):
            M[n1, j] = np.linalg.norm(x2[j]) + w[level] * sum(
                prev[n1, c] for c in adj2[j])
    n = max(n1, n2)
    r = list(range(n1)) + [n1] * (n - n1)
    c = list(range(n2)) + [n2] * (n - n2)
    return float(ot.emd2(np.ones(n), np.ones(n), M[np.ix_(r, c)]))


def _load() -> float | None:
    """The 1-minute load average (``None`` where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None


def random_pair_graph(n: int, seed: int) -> Any:
    """G(n, 4/n), undirected, with 8-dim standard Gaussian features: every
    computation tree distinct (no memoisation), the ``--pair`` worst case
    (the same graphs as the 500-node example of ``docs/metrics.md``)."""
    import torch
    from torch_geometric.data import Data
    g = torch.Generator().manual_seed(seed)
    A = (torch.rand(n, n, generator=g) < 4 / n).triu(1)
    ei = A.nonzero().t()
    return Data(x=torch.randn(n, 8, generator=g),
                edge_index=torch.cat([ei, ei.flip(0)], 1))


def run_pair(args: argparse.Namespace, w: Any,
             jobs: list[int]) -> dict[str, Any]:
    """The ``--pair`` case: one pair of graphs of about ``args.pair`` nodes,
    our backends against the reference-style anchor in the same run.

    Raises:
        ValueError: an unavailable backend; ``--pair-kind dataset`` with a
            dataset of fewer than 2 graphs.
        DatasetMissingError: ``--pair-kind dataset`` and the dataset is
            absent and cannot be downloaded.
    """
    from pyg_ext.metrics import tmd_cross
    n = int(args.pair)
    kind = getattr(args, 'pair_kind', 'random')
    if kind == 'dataset':
        graphs = list(load_registered(args.dataset, args.root))
        if len(graphs) < 2:
            raise ValueError(f'--dataset {args.dataset} has {len(graphs)} '
                             'graph(s); --pair needs 2')
        sizes = np.array([g.num_nodes for g in graphs])
        a, b = np.argsort(np.abs(sizes - n), kind='stable')[:2]
        g1, g2 = graphs[int(a)], graphs[int(b)]
        what = (f'{args.dataset} graphs {int(a)} and {int(b)} '
                f'({g1.num_nodes} and {g2.num_nodes} nodes)')
    else:
        g1, g2 = random_pair_graph(n, 0), random_pair_graph(n, 1)
        what = f'two G({n}, 4/{n}) graphs, 8-dim Gaussian features'
    print(f'pair: {what}, {g1.num_edges} and {g2.num_edges} edges, depth '
          f'{args.depth}, weights {w}')
    backends = _selected_backends(args)
    small = (random_pair_graph(20, 3), random_pair_graph(20, 4))
    rows, values = [], {}
    for be in backends:
        for nj in jobs:
            tmd_cross([small[0]], [small[1]], args.depth, w, backend=be)
            times, cpu = [], []
            for _ in range(args.pair_repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                val = float(tmd_cross([g1], [g2], args.depth, w, backend=be,
                                      n_jobs=nj)[0, 0])
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            values[(be, nj)] = val
            rows.append({'backend': be, 'n_jobs': nj,
                         'pair_ms': fmt_mean_std(times, 2, 1e3),
                         'cpu_ms': fmt_mean_std(cpu, 2, 1e3),
                         'value': val, 'times': times, 'cpu_times': cpu,
                         'load_avg': _load()})
    ref_t, ref_cpu = [], []
    ref = float('nan')
    for _ in range(args.pair_ref_repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        ref = reference_style_tmd(g1, g2, args.depth, w)
        ref_t.append(time.perf_counter() - t0)
        ref_cpu.append(time.process_time() - c0)
    rm, rc = mean_std(ref_t)[0], mean_std(ref_cpu)[0]
    for row in rows:
        row['speedup_wall'] = rm / mean_std(row['times'])[0]
        row['speedup_cpu'] = rc / mean_std(row['cpu_times'])[0]
        row['rel_dev'] = abs(row['value'] - ref) / max(abs(ref), 1e-300)
    print(format_table([{k: v for k, v in r.items()
                         if k not in ('times', 'cpu_times')} for r in rows]))
    print(f'reference-style: {fmt_mean_std(ref_t, 2)} s wall '
          f'({fmt_mean_std(ref_cpu, 2)} s CPU) over {len(ref_t)} run(s), '
          f'value {ref!r}')
    return {'pair': n, 'pair_kind': kind, 'graphs': what,
            'depth': args.depth, 'weights': w, 'rows': rows,
            'reference': {'times': ref_t, 'cpu_times': ref_cpu,
                          'value': ref}}


def _backends() -> list[str]:
    from pyg_ext.typing import WITH_NUMBA
    return ['numpy'] + (['numba'] if WITH_NUMBA else [])


def _selected_backends(args: argparse.Namespace) -> list[str]:
    """The ``--backends`` asked for (all available ones by default); raises
    ``ValueError`` naming ``--backends`` for one not available here."""
    backends = _backends() if args.backends is None else (
        choice_list(('numpy', 'numba'))(args.backends)
        if isinstance(args.backends, str) else list(args.backends))
    for be in backends:
        if be not in _backends():
            raise ValueError(f'--backends: {be!r} is not available here '
                             f'(available: {_backends()})')
    return backends


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the suite.

    Raises:
        ValueError: an unavailable backend, a list of ``--weights`` whose
            length does not match ``--depth``.
        DatasetMissingError: the dataset is absent and cannot be downloaded.
    """
    from pyg_ext.metrics import (
        didm_pairwise,
        stability_study,
        tmd_pairwise,
        tmd_svm_cv,
    )

    skip = set(choice_list(PARTS, allow_empty=True)(args.skip)
               if isinstance(args.skip, str) else args.skip)
    w = _weights(args.weights)
    if isinstance(w, list) and len(w) != args.depth - 1:
        raise ValueError(f'--weights: a list needs depth - 1 = '
                         f'{args.depth - 1} values, got {len(w)}')
    jobs = _jobs_list(args.n_jobs)
    if getattr(args, 'pair', 0):
        return run_pair(args, w, jobs)
    ds = load_registered(args.dataset, args.root)
    graphs = list(ds)
    G = len(graphs)
    if G < 2:
        raise ValueError(f'--dataset {args.dataset} has {G} graph(s); TMD '
                         'pairs need at least 2')
    result: dict[str, Any] = {'dataset': args.dataset, 'graphs': G,
                              'depth': args.depth, 'weights': w}
    print(f'{args.dataset}: {G} graphs, depth {args.depth}, weights {w}')

    # 1. matrix time per backend
    rows = []
    D = None
    first: dict[str, Any] = {}  # each backend's first matrix
    backends = _selected_backends(args)
    for be in backends:
        for nj in jobs:
            try:
                tmd_pairwise(graphs[:4], args.depth, w, backend=be)  # compile
                times, cpu = [], []
                for _ in range(max(1, args.repeats)):
                    t0, c0 = time.perf_counter(), time.process_time()
                    Db = tmd_pairwise(graphs, args.depth, w, backend=be,
                                      n_jobs=nj, progress_bar=args.progress)
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
            except MemoryError as e:  # the numpy path memoises every level
                print(f'backend {be}: not computed: {e}')
                result.setdefault('errors', {})[be] = str(e)
                break
            row = {'backend': be, 'n_jobs': nj,
                   'matrix_s': fmt_mean_std(times),
                   'cpu_s': fmt_mean_std(cpu), 'times': times,
                   'cpu_times': cpu, 'load_avg': _load()}
            row['same_as_first'] = ''
            if be in first:
                # more threads must not change a single bit: against the
                # backend's first row, not the previous one
                row['same_as_first'] = bool(np.array_equal(Db, first[be]))
            else:
                first[be] = Db
            D = Db
            rows.append(row)
    if D is None:
        result['error'] = 'no backend computed the matrix'
        return result
    assert D is not None
    # reference-style anchor on random pairs
    rng = np.random.default_rng(0)
    iu, ju = np.triu_indices(G, k=1)
    pick = rng.choice(len(iu), size=min(args.ref_pairs, len(iu)),
                      replace=False)
    ref_t, ref_cpu, rel = [], [], []
    for t in pick:
        i, j = int(iu[t]), int(ju[t])
        t0, c0 = time.perf_counter(), time.process_time()
        r = reference_style_tmd(graphs[i], graphs[j], args.depth, w)
        ref_t.append(time.perf_counter() - t0)
        ref_cpu.append(time.process_time() - c0)
        rel.append(abs(D[i, j] - r) / max(abs(r), 1e-300))
    per_pair = float(np.mean(ref_t))
    per_pair_cpu = float(np.mean(ref_cpu))
    extrapolated = per_pair * len(iu)
    extrapolated_cpu = per_pair_cpu * len(iu)
    for row in rows:
        m, _ = mean_std(row['times'])
        mc, _ = mean_std(row['cpu_times'])
        row['reference_extrapolated_s'] = extrapolated
        row['speedup_wall'] = extrapolated / m
        row['speedup_cpu'] = extrapolated_cpu / mc
    print(format_table([{k: v for k, v in r.items()
                         if k not in ('times', 'cpu_times')} for r in rows]))
    print(f'reference-style: {per_pair * 1e3:.1f} ms/pair wall '
          f'({per_pair_cpu * 1e3:.1f} ms CPU) on {len(pick)} pairs -> '
          f'{extrapolated:.0f} s for {len(iu)} pairs; max rel. deviation '
          f'{max(rel):.2e}')
    result['matrix'] = rows
    result['reference'] = {'ms_per_pair': per_pair * 1e3,
                           'cpu_ms_per_pair': per_pair_cpu * 1e3,
                           'pairs': len(pick),
                           'extrapolated_s': extrapolated,
                           'extrapolated_cpu_s': extrapolated_cpu,
                           'max_rel_dev': float(max(rel))}

    # 2. accuracy grid
    if args.check_pairs > 0 and 'accuracy' not in skip:
        grid = []
        pick = rng.choice(len(iu), size=min(args.check_pairs, len(iu)),
                          replace=False)
        for depth in (2, 4, 6):
            for ww in (0.5, 1.0, 'pascal'):
                Dg = tmd_pairwise(graphs, depth, ww)
                dev = max(
                    abs(Dg[iu[t], ju[t]] - (r := reference_style_tmd(
                        graphs[iu[t]], graphs[ju[t]], depth, ww)))
                    / max(abs(r), 1e-300) for t in pick)
                grid.append({'depth': depth, 'weights': ww,
                             'pairs': len(pick), 'max_rel_dev': dev})
        print(format_table(grid))
        result['accuracy'] = grid

    # 3. TMD-SVM
    if 'svm' not in skip:
        from pyg_ext.typing import WITH_SKLEARN
        if WITH_SKLEARN:
            t0 = time.perf_counter()
            svm = tmd_svm_cv(D, ds.y, seeds=args.seeds)
            print(f'TMD-SVM 10-fold CV accuracy: '
                  f'{fmt_mean_std(svm["per_seed"], 2, 100)} % over '
                  f'{len(args.seeds)} seed(s) (fold std '
                  f'{100 * svm["fold_std"]:.1f}) '
                  f'[{time.perf_counter() - t0:.1f} s]')
            result['svm'] = {k: svm[k] for k in ('mean', 'std', 'per_seed',
                                                 'fold_mean', 'fold_std')}
        else:
            print('TMD-SVM skipped: scikit-learn not installed')

    # 4. stability
    if 'stability' not in skip:
        stats = []
        for seed in args.seeds:
            s = stability_study(graphs, num_layers=args.layers,
                                epochs=args.epochs,
                                num_pairs=args.stability_pairs, seed=seed)
            stats.append(s)
        pear = [s['pearson'] for s in stats]
        spear = [s['spearman'] for s in stats]
        print(f'stability (GIN {args.layers} layers, TMD depth '
              f'{args.layers + 1}, Pascal): Pearson {fmt_mean_std(pear)}, '
              f'Spearman {fmt_mean_std(spear)}; proven bound holds on all '
              f'pairs: {all(s["proven_bound_holds"] for s in stats)}; '
              f'max |dh| / (prod K * TMD_pascal) = '
              f'{max(s["max_ratio_paper_form"] for s in stats):.3g}')
        result['stability'] = [{k: v for k, v in s.items()
                                if k not in ('output_dist', 'tmd')}
                               for s in stats]

    # 5. DIDM
    if 'didm' not in skip:
        be_times = []
        for be in _backends():
            didm_pairwise(graphs[:4], args.didm_depth, backend=be)
            t0 = time.perf_counter()
            didm_pairwise(graphs, args.didm_depth, backend=be,
                          n_jobs=jobs[0])
            be_times.append({'backend': be,
                             'didm_matrix_s': time.perf_counter() - t0})
        print(format_table(be_times))
        result['didm'] = be_times
    return result
