"""Uniform facility location: UniFL-MPNN vs classical baselines and HiGHS.

Methods: UniFL-MPNN, Mettu-Plaxton, SimpleUniformFL, greedy, k-means++ and the
exact ILP (HiGHS), on 100 to 10,000 points.

Protocol: one UniFL-MPNN is trained without supervision (closed-form expected
cost) on small generated instances (n <= 1,000, all families, seeds disjoint
from the test seeds) and evaluated, without retraining, on every size. For each
family, size and seed the suite reports cost / optimum (HiGHS ILP, exact on the
radius-f graph; where the ILP is skipped or hits its time limit, its dual
bound, else the sum of radii Σr_x, flagged), and times. MPNN inference time is
wall-clock and process CPU time, single thread, from points to a solution
(neighbour table, forward pass, decoding, local search), best of ``--repeat``.
"Model alone" is the rounding (``p > 0.5``) plus F2, no local search; with
``--draws K`` the (randomised) model runs K times and the cheapest rounding is
kept, for the trained and the untrained model alike.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any

import torch

from pyg_ext.bench._common import (
    choice_list,
    format_table,
    mean_std,
    nonneg_int,
    positive_float,
    positive_int,
    positive_int_list,
)

SUITE = 'unifl'
FAMILIES = ('uniform', 'gaussian', 'clustered')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this suite (validated by argparse)."""
    parser.add_argument('--sizes', default='100,1000,10000',
                        type=positive_int_list,
                        help='test sizes (comma-separated)')
    parser.add_argument('--families', default=','.join(FAMILIES),
                        type=choice_list(FAMILIES, what='family'),
                        help='instance families (comma-separated)')
    parser.add_argument('--train-sizes', default='200,500,1000',
                        type=train_sizes_arg,
                        help='training sizes, each <= 1000 (size '
                        'generalisation protocol)')
    parser.add_argument('--train-per-size', type=positive_int, default=2,
                        help='training instances per family and size')
    parser.add_argument('--train-steps', type=positive_int, default=400,
                        help='unsupervised training steps')
    parser.add_argument('--ilp-time-limit', type=positive_float,
                        default=300.0,
                        help='seconds per instance for the HiGHS ILP')
    parser.add_argument('--ilp-max-n', type=nonneg_int, default=10000,
                        help='skip the ILP above this size (use Σr)')
    parser.add_argument('--repeat', type=positive_int, default=3,
                        help='timing repeats of the MPNN (best kept)')
    parser.add_argument('--threads', type=positive_int, default=1,
                        help='torch threads')
    parser.add_argument('--quick', action='store_true',
                        help='sizes 100,1000, 150 training steps')
    parser.add_argument('--densities', default=None, type=density_list,
                        help='expected points within the opening-cost '
                        'radius f per test instance (comma-separated, e.g. '
                        '2,8,30,60); default: the generator default (20)')
    parser.add_argument('--checkpoint', default=None,
                        help="evaluate a saved model instead of training: a "
                        "path from save_unifl, or 'packaged' for the "
                        'shipped density-mixture checkpoint (default: train a '
                        'model in the run)')
    parser.add_argument('--draws', type=positive_int, default=1,
                        help='runs of the (randomised) model per instance, '
                        'each rounded without local search; the cheapest is '
                        'kept ("model alone") and, for "+ LS", searched '
                        'from (default: 1)')
    parser.add_argument('--ilp-cache', default=None,
                        help='JSON file caching ILP results per instance '
                        '(read and written; default: none)')


def train_sizes_arg(text: str) -> list[int]:
    """``type=`` of ``--train-sizes``: sizes in ``1..1000``.

    Raises:
        argparse.ArgumentTypeError: for a non-integer or a size out of range.
    """
    sizes = positive_int_list(text)
    if max(sizes) > 1000:
        raise argparse.ArgumentTypeError(
            f'train sizes must be <= 1000 (size generalisation protocol), '
            f'got {max(sizes)}')
    return sizes


def density_list(text: str) -> list[float]:
    """``type=`` of ``--densities``: positive numbers.

    Raises:
        argparse.ArgumentTypeError: for a non-number or a value <= 0.
    """
    out = []
    for tok in str(text).split(','):
        try:
            v = float(tok)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'densities must be numbers, got {tok!r}') from None
        if not (v > 0 and math.isfinite(v)):
            raise argparse.ArgumentTypeError(
                f'densities must be > 0, got {tok!r}')
        out.append(v)
    return out


def _cpu_wall(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def _load_or_train(args, families, train_sizes):
    """The evaluated model and a description of where it came from."""
    from pyg_ext.combopt.facility_location import make_facility_instance
    from pyg_ext.nn.unifl import UniFLMPNN, load_unifl, train_unifl
    from pyg_ext.testing import seed_all
    if args.checkpoint:
        path = None if args.checkpoint == 'packaged' else args.checkpoint
        model = load_unifl(path)
        print(f'loaded UniFL-MPNN {model!r} from {args.checkpoint}; '
              f'trained by: {model.meta.get("command", "?")}')
        return model, {'checkpoint': args.checkpoint,
                       'meta': model.meta}
    seed_all(0)
    train = [make_facility_instance(fam, n, seed=10_000 + 97 * i + n)
             for fam in families for n in train_sizes
             for i in range(args.train_per_size)]
    model = UniFLMPNN()
    (losses, t_wall, t_cpu) = _cpu_wall(
        lambda: train_unifl(model, train, steps=args.train_steps, seed=0))
    print(f'trained UniFL-MPNN on {len(train)} instances (n in '
          f'{train_sizes}), {args.train_steps} steps: {t_wall:.1f} s wall, '
          f'{t_cpu:.1f} s CPU; final E[cost]/Σr '
          f'{sum(losses[-50:]) / len(losses[-50:]):.4f}')
    return model, {'steps': args.train_steps, 'instances': len(train),
                   'wall_s': t_wall, 'cpu_s': t_cpu}


def _ilp_cached(args, d, key):
    """``facility_ilp`` through the optional JSON cache."""
    import json

    from pyg_ext.combopt.facility_baselines import facility_ilp
    cache = {}
    if args.ilp_cache and os.path.exists(args.ilp_cache):
        with open(args.ilp_cache) as fh:
            cache = json.load(fh)
    hit = cache.get(key)
    # a result cut short by a shorter time limit is not reused for a longer
    # one (an optimum is final)
    if hit is not None and (hit.get('status') == 'optimal' or hit.get(
            'time_limit', -math.inf) >= args.ilp_time_limit):
        return hit
    _, info = facility_ilp(d, time_limit=args.ilp_time_limit)
    rec = {k: info.get(k) for k in ('status', 'cost', 'bound', 'time')}
    rec['time_limit'] = args.ilp_time_limit
    if args.ilp_cache:
        cache[key] = rec
        with open(args.ilp_cache, 'w') as fh:
            json.dump(cache, fh, indent=1)
    return rec


def run(args: argparse.Namespace) -> dict[str, Any]:
    from torch_geometric.data import Data

    from pyg_ext.combopt.facility_baselines import (
        facility_dual_bound,
        facility_greedy,
        facility_kmeanspp,
        facility_radius_sum,
        mettu_plaxton,
        simple_uniform_fl,
    )
    from pyg_ext.combopt.facility_location import (
        facility_cost,
        facility_local_search,
        make_facility_instance,
    )
    from pyg_ext.nn.unifl import UniFLMPNN, unifl_solve
    from pyg_ext.testing import seed_all

    torch.set_num_threads(args.threads)
    sizes = (positive_int_list(args.sizes) if isinstance(args.sizes, str)
             else list(args.sizes))
    if args.quick:
        sizes = [s for s in sizes if s <= 1000] or [100, 1000]
        args.train_steps = min(args.train_steps, 150)
    families = (choice_list(FAMILIES, what='family')(args.families)
                if isinstance(args.families, str) else list(args.families))
    train_sizes = args.train_sizes
    if isinstance(train_sizes, str):
        try:
            train_sizes = train_sizes_arg(train_sizes)
        except argparse.ArgumentTypeError as e:
            raise ValueError(f'--train-sizes: {e}') from None
    densities = getattr(args, 'densities', None)
    if isinstance(densities, str):
        try:
            densities = density_list(densities)
        except argparse.ArgumentTypeError as e:
            raise ValueError(f'--densities: {e}') from None
    for name in ('checkpoint', 'ilp_cache'):
        if not hasattr(args, name):
            setattr(args, name, None)
    draws = getattr(args, 'draws', 1)
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f'--draws must be a positive int, got {draws!r}')

    model, train_info = _load_or_train(args, families, train_sizes)
    # the same architecture with its initial weights: separates what
    # training adds from the architecture's SimpleUniformFL-like start
    torch.manual_seed(0)
    untrained = UniFLMPNN(**model.config())
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else math.nan
    print(f'threads {args.threads}, load average {load:.2f} on '
          f'{os.cpu_count()} CPUs (wall times include contention)')

    from pyg_ext.utils.log import progress
    records: list[dict[str, Any]] = []
    dens_grid = densities or [None]
    cases = [(fam, n, dn) for fam in families for n in sizes
             for dn in dens_grid]
    bar = progress(cases, args.progress, desc='unifl (family, size)',
                   unit='case')
    for fam, n, dn in bar:
        for seed in args.seeds:
            kw = {} if dn is None else {'avg_neighbors': dn}
            d = make_facility_instance(fam, n, seed=seed, **kw)
            f = float(d.opening_cost)
            rec: dict[str, Any] = {'family': fam, 'n': n, 'seed': seed,
                                   'density': dn, 'draws': draws}
            rsum = facility_radius_sum(d)
            rec['sum_r'] = rsum
            costs: dict[str, float] = {}  # absolute costs first
            times: dict[str, float] = {}

            def timed(name, fn, d=d, f=f, costs=costs, times=times):
                o, w, _ = _cpu_wall(fn)
                costs[name] = facility_cost(d.pos, o, f)
                times[name] = w
                return o

            mp = timed('mettu_plaxton', lambda d=d: mettu_plaxton(d))
            best_c = None
            for c in (0.02, 0.05, 0.1, 0.2, 0.5):
                o = simple_uniform_fl(d, c=c, seed=seed)
                v = facility_cost(d.pos, o, f)
                if best_c is None or v < best_c[1]:
                    best_c = (c, v)
            costs['simple_ufl_best_c'] = best_c[1]
            rec['simple_ufl_c'] = best_c[0]
            timed('greedy', lambda d=d: facility_greedy(d))
            # MPNN: from points (no prebuilt graph), best of repeats
            best = None
            for _ in range(args.repeat):
                pts = Data(pos=d.pos, opening_cost=d.opening_cost,
                           num_nodes=n)
                seed_all(seed)
                (o, inf), w, c = _cpu_wall(
                    lambda pts=pts: unifl_solve(model, pts, draws=draws))
                if best is None or w < best[1]:
                    best = (o, w, c, inf)
            o, w, c, inf = best
            costs['unifl_mpnn'] = facility_cost(d.pos, o, f)
            costs['unifl_mpnn_no_ls'] = inf['cost_decoded']
            times['unifl_mpnn'] = w
            rec['mpnn_cpu_time'] = c
            rec['mpnn_ls_rounds'] = inf['iterations']
            upts = Data(pos=d.pos, opening_cost=d.opening_cost, num_nodes=n)
            seed_all(seed)
            uo, uinf = unifl_solve(untrained, upts, draws=draws)
            costs['untrained_ls'] = facility_cost(d.pos, uo, f)
            costs['untrained_no_ls'] = uinf['cost_decoded']
            # MP + the same local search (separates model from search)
            tab = pts._unifl_table
            mp_ls, _ = facility_local_search(tab, mp, f)
            costs['mettu_plaxton_ls'] = facility_cost(d.pos, mp_ls, f)
            # k-means++ with UniFL's number of facilities: before the
            # reference, which is the best of every method run
            kk = int(o.sum())
            timed('kmeanspp_same_k',
                  lambda d=d, kk=kk, seed=seed: facility_kmeanspp(
                      d, kk, seed=seed))
            # reference: ILP optimum, else the best known cost with the
            # best proven lower bound stated
            key = f'{fam}|{n}|{seed}|{dn if dn is not None else 20:g}'
            lower = facility_dual_bound(d)
            rec['dual_bound'] = lower
            if n <= args.ilp_max_n:
                info = _ilp_cached(args, d, key)
                rec['ilp_time'] = info['time']
                rec['ilp_status'] = info['status']
                if info.get('bound') is not None:
                    lower = max(lower, float(info['bound']))
                if info['status'] == 'optimal':
                    rec['ref'], rec['ref_kind'] = info['cost'], 'opt'
                else:
                    cand = [v for v in costs.values()]
                    if info.get('cost') is not None and math.isfinite(
                            info['cost']):
                        cand.append(info['cost'])
                    rec['ref'], rec['ref_kind'] = min(cand), 'best'
            else:
                rec['ilp_time'], rec['ilp_status'] = None, 'skipped'
                rec['ref'], rec['ref_kind'] = min(costs.values()), 'best'
            rec['lower_bound'] = lower
            ref = rec['ref']
            rec['ref_over_lower_bound'] = ref / lower if lower > 0 else None
            rec['cost'] = dict(costs)
            rec['cost_ratio'] = {k: v / ref for k, v in costs.items()}
            rec['time'] = times
            records.append(rec)
            cr = rec['cost_ratio']
            print(f'{fam:9s} n={n:<6d} dens={dn if dn else 20:<4g} '
                  f'seed={seed} ref={rec["ref_kind"]} ILP '
                  f'{rec["ilp_status"]} {(rec["ilp_time"] or 0):.1f}s | '
                  f'alone {cr["unifl_mpnn_no_ls"]:.4f} +LS '
                  f'{cr["unifl_mpnn"]:.4f} | untrained '
                  f'{cr["untrained_no_ls"]:.4f} +LS '
                  f'{cr["untrained_ls"]:.4f} | MP {cr["mettu_plaxton"]:.4f}'
                  f' +LS {cr["mettu_plaxton_ls"]:.4f} | ({w:.3f}s wall)',
                  flush=True)

    methods = ['unifl_mpnn_no_ls', 'unifl_mpnn', 'untrained_no_ls',
               'untrained_ls', 'mettu_plaxton', 'mettu_plaxton_ls',
               'simple_ufl_best_c', 'greedy', 'kmeanspp_same_k']
    rows, summary = [], []
    for fam in families:
        for n in sizes:
            for dn in dens_grid:
                rs = [r for r in records if r['family'] == fam
                      and r['n'] == n and r['density'] == dn]
                kinds = sorted({r['ref_kind'] for r in rs})
                row = {'family': fam, 'n': n,
                       'density': dn if dn is not None else 20,
                       'ref': '/'.join(kinds)}
                for mth in methods:
                    vals = [r['cost_ratio'][mth] for r in rs]
                    row[mth] = f'{mean_std(vals)[0]:.4f}'
                lbr = [r['ref_over_lower_bound'] for r in rs
                       if r['ref_over_lower_bound']]
                row['ref/LB'] = f'{max(lbr):.4f}' if lbr else ''
                rows.append(row)
                ilp_t = [r['ilp_time'] for r in rs
                         if r['ilp_time'] is not None]
                summary.append({
                    'family': fam, 'n': n, 'density': dn,
                    **{m: mean_std([r['cost_ratio'][m] for r in rs])[0]
                       for m in methods},
                    'alone_max': max(r['cost_ratio']['unifl_mpnn_no_ls']
                                     for r in rs),
                    'mpnn': mean_std([r['cost_ratio']['unifl_mpnn']
                                      for r in rs])[0],
                    'mp': mean_std([r['cost_ratio']['mettu_plaxton']
                                    for r in rs])[0],
                    'mpnn_wall': mean_std([r['time']['unifl_mpnn']
                                           for r in rs])[0],
                    'mpnn_cpu': mean_std([r['mpnn_cpu_time']
                                          for r in rs])[0],
                    'ilp_time': mean_std(ilp_t)[0] if ilp_t else None,
                    'ref': '/'.join(kinds)})
    print()
    print('cost / ref (ref = ILP optimum "opt", else the best known cost '
          '"best"; ref/LB = worst ref over the best proven lower bound)')
    print(format_table(rows))
    print()
    print('Bars (mean over families and seeds; ref = ILP optimum where '
          'proven):')
    bars: dict[str, Any] = {}
    for n, limit in ((1000, 1.03), (10000, 1.035)):
        ss = [s for s in summary if s['n'] == n]
        if ss:
            m = sum(s['mpnn'] for s in ss) / len(ss)
            bars[f'cost_n{n}'] = m
            refs = {s['ref'] for s in ss}
            verdict = ('n/a: no proven optimum' if refs != {'opt'}
                       else 'PASS' if m <= limit else 'FAIL')
            print(f'  n={n}: UniFL-MPNN + LS cost / ref = {m:.4f} (bar <= '
                  f'{limit}) -> {verdict} [ref {",".join(sorted(refs))}]')
    worst = max(summary, key=lambda s: s['alone_max'])
    bars['alone_worst'] = worst['alone_max']
    bars['alone_draws'] = draws
    print(f'  model alone (no local search, best of {draws} draw'
          f'{"s" if draws > 1 else ""}), worst seed over every case: '
          f'{worst["alone_max"]:.4f} at n={worst["n"]}, density '
          f'{worst["density"] or 20:g} (bar <= 1.03: '
          f'{"PASS" if worst["alone_max"] <= 1.03 else "FAIL"})')
    avg = {m: sum(s[m] for s in summary) / len(summary)
           for m in ('unifl_mpnn', 'untrained_ls', 'mettu_plaxton_ls')}
    bars.update({f'mean_{k}': v for k, v in avg.items()})
    ok = avg['unifl_mpnn'] < min(avg['untrained_ls'],
                                 avg['mettu_plaxton_ls'])
    bars['trained_ls_beats_untrained_ls_and_mp_ls'] = ok
    print(f'  mean over cases: trained + LS {avg["unifl_mpnn"]:.4f}, '
          f'untrained + LS {avg["untrained_ls"]:.4f}, MP + LS '
          f'{avg["mettu_plaxton_ls"]:.4f} -> '
          f'{"PASS" if ok else "FAIL"}')
    beats = all(s['mpnn'] < s['mp'] for s in summary)
    bars['beats_mp_every_size'] = beats
    print(f'  better than Mettu-Plaxton on every family and size: '
          f'{"PASS" if beats else "FAIL"}')
    ss = [s for s in summary if s['n'] == 10000]
    if ss:
        wall = max(s['mpnn_wall'] for s in ss)
        cpu = max(s['mpnn_cpu'] for s in ss)
        ilp = [s['ilp_time'] for s in ss if s['ilp_time'] is not None]
        bars['time_n10000_wall'] = wall
        bars['time_n10000_cpu'] = cpu
        print(f'  n=10000 inference (worst case mean, best of '
              f'{args.repeat}): {wall:.3f} s wall '
              f'({"PASS" if wall < 0.3 else "FAIL"}), {cpu:.3f} s process '
              f'CPU ({"PASS" if cpu < 0.3 else "FAIL"}) (bar < 0.3 s); '
              f'ILP ' + (f'{sum(ilp) / len(ilp):.1f} s mean' if ilp
                         else 'skipped'))
    return {'records': records, 'summary': summary, 'bars': bars,
            'train': train_info, 'load_average': load}
