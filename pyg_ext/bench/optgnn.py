"""OptGNN (NeurIPS 2024): Max-Cut, vertex cover, Max-3-SAT vs ILP and baselines.

Examples::

    pyg-ext bench optgnn --problem maxcut --dataset MUTAG --root DIR
    pyg-ext bench optgnn --problem vertex_cover --dataset PROTEINS --root DIR
    pyg-ext bench optgnn --problem max3sat --dataset sat3_100_4.3
    pyg-ext bench optgnn --problem maxcut --dataset er500   # speed at n=500
    pyg-ext bench optgnn --problem maxcut --dataset er1000  # learning matters?
    pyg-ext bench optgnn --problem max3sat --dataset sat3_100_4.3 \
        --preset reference --max-graphs 20

``--dataset er1000`` (Erdos-Renyi ``n = --n``, ``p = --er-p``, default
1000 / 0.01, one graph per seed) compares, at the paper's depth, the trained
reference-preset network with the *same network untrained* and with
Burer-Monteiro run for the same number of iterations (same rounding: 10
passes x 1000 hyperplanes), then with local search against simulated
annealing given the same CPU time, greedy, SCS Goemans-Williamson (when
cvxpy is installed) and the HiGHS ILP (time-limited), and writes a
quality-vs-time curve (JSON, plus a PNG when matplotlib is importable).
The local search is the greedy 1-flip descent, then (``--local-search
anneal`` (default) / ``tabu``) warm-started annealing or tabu search from
OptGNN's best cut for ``--ls-seconds``; the SA bar compares it with SA from
random signs given the same total CPU time (OptGNN inference + rounding +
greedy + that stage), and the warm-vs-cold row with SA given only the
stage's time.
Times there are CPU seconds of this process (``time.process_time``), so
other load on a shared machine does not distort the comparison.

Objectives are in true units: Max-Cut counts the cut weight once per
undirected edge (the paper's OptGNN/Gurobi/SDP Max-Cut columns add |E|/2),
vertex cover reports the cover weight, Max-3-SAT the number of unsatisfied
clauses. Each method's ratio is taken per graph against the ILP optimum
(HiGHS; cached under ``<root>/combopt/optima``) and averaged. OptGNN is
reported twice: the model + hyperplane rounding (+ repair for vertex cover),
and after the local search.
"""

# ruff: noqa: B023  (the lambdas passed to _timed run immediately)
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch_geometric.loader import DataLoader

from pyg_ext.bench._common import (
    fmt_mean_std,
    format_table,
    load_registered,
    mean_std,
    nonneg_int,
    positive_float,
    positive_int,
    probability,
)

TU = ('MUTAG', 'ENZYMES', 'PROTEINS', 'IMDB-BINARY')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this suite (validated by argparse)."""
    parser.add_argument('--problem', default='maxcut',
                        choices=['maxcut', 'vertex_cover', 'max3sat'],
                        help='the combinatorial problem')
    parser.add_argument('--dataset', default='MUTAG',
                        help="TU name (MUTAG, ENZYMES, PROTEINS, IMDB-BINARY),"
                        " a generated set (er_50_100, ba_400_500, "
                        "sat3_100_4.0, sat3_100_4.15, sat3_100_4.3, ...) or "
                        "'er500' (speed at n = 500) (default: MUTAG)")
    parser.add_argument('--checkpoint', default=None,
                        help='load this checkpoint, saved by --save or '
                        'OptGNN.save (default: the packaged pretrained '
                        'model)')
    parser.add_argument('--train', action='store_true',
                        help='train on the training split instead of loading')
    parser.add_argument('--train-seconds', type=positive_float, default=120.0,
                        help='training time limit in seconds (--train)')
    parser.add_argument('--epochs', type=positive_int, default=20,
                        help='training epochs (--train)')
    parser.add_argument('--save', default=None,
                        help='save the (trained) model here (default: not '
                        'saved)')
    parser.add_argument('--rank', type=positive_int, default=16,
                        help='rank of the SDP embedding (--train)')
    parser.add_argument('--layers', type=positive_int, default=None,
                        help="model layers (--train; default: the problem's "
                        'default configuration)')
    parser.add_argument('--preset', default=None,
                        choices=['pyg_ext', 'reference'],
                        help="model preset (default: 'reference' for "
                        "--dataset er1000, else 'pyg_ext'); 'reference' "
                        'loads optgnn_<problem>_reference.pt')
    parser.add_argument('--restarts', type=positive_int, default=None,
                        help="random restarts of the rounding (default: the "
                        "preset's, 4 for pyg_ext, 10 for reference)")
    parser.add_argument('--hyperplanes', type=positive_int, default=None,
                        help="random hyperplanes per restart (default: the "
                        "preset's, 256 for pyg_ext, 1000 for reference)")
    parser.add_argument('--top-k', type=positive_int, default=8,
                        help='best roundings kept for the local search')
    parser.add_argument('--max-graphs', type=positive_int, default=None,
                        help='evaluate on the first N test instances only '
                        '(default: all)')
    parser.add_argument('--ilp-time-limit', type=positive_float,
                        default=120.0,
                        help='seconds per instance for the exact ILP solver')
    parser.add_argument('--no-ilp', action='store_true',
                        help='skip the exact solver (ratios use the best '
                        'value found instead)')
    parser.add_argument('--certificates', action='store_true',
                        help='also compute dual certificates (Max-Cut, '
                        'vertex cover)')
    parser.add_argument('--er-p', type=_edge_probability, default=None,
                        help='edge probability for --dataset er500 (default '
                        '0.02) and er1000 (default 0.01)')
    parser.add_argument('--n', type=positive_int, default=1000,
                        help='nodes for --dataset er1000 (default: 1000)')
    parser.add_argument('--curve-out', default=None,
                        help='path prefix of the quality-vs-time curve '
                        '(.json, .png) of --dataset er1000 (default: next '
                        'to --json, else ./optgnn_curve)')
    parser.add_argument('--scs-time-limit', type=positive_float,
                        default=300.0,
                        help='seconds for cvxpy + SCS (er1000; skipped '
                        'when cvxpy is not installed)')
    parser.add_argument('--walksat-flips', type=nonneg_int, default=2000,
                        help='WalkSAT flips per instance (max3sat); every '
                        'WalkSAT row gets this total, flips of a greedy '
                        'local search before it included')
    parser.add_argument('--walksat-noise', type=probability, default=0.5,
                        help='WalkSAT random-walk probability (max3sat, '
                        'default 0.5)')
    parser.add_argument('--local-search', default='anneal',
                        choices=['greedy', 'anneal', 'tabu'],
                        help="Max-Cut (--dataset er1000): the local search "
                        "after OptGNN's rounding for the simulated-annealing"
                        " bar: 'greedy' 1-flip descent only, or greedy then"
                        " warm-started annealing / tabu search for "
                        "--ls-seconds (default: anneal); all three are "
                        'reported')
    parser.add_argument('--ls-seconds', type=positive_float, default=1.0,
                        help='CPU seconds per graph of the anneal / tabu '
                        'stage (er1000; default 1.0); simulated annealing '
                        'from random signs gets the same total CPU time as '
                        'OptGNN + local search')


def _edge_probability(text: str) -> float:
    """``type=`` of ``--er-p``: a probability in ``(0, 1]``."""
    value = probability(text)
    if value == 0.0:
        raise argparse.ArgumentTypeError('must be > 0, got 0')
    return value


def load_checkpoint(path: str) -> Any:
    """``OptGNN.load(path)`` with one clear error for a bad file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is not an OptGNN checkpoint.
    """
    from pyg_ext.nn import OptGNN
    if not os.path.isfile(path):
        raise FileNotFoundError(f'--checkpoint {path}: no such file')
    try:
        return OptGNN.load(path)
    except Exception as e:  # torch.load / config errors of any kind
        msg = ' '.join(str(e).split()).split('. ')[0][:120]
        raise ValueError(f'--checkpoint {path} is not an OptGNN checkpoint '
                         f'(saved by --save or OptGNN.save): '
                         f'{type(e).__name__}: {msg}') from e


# --- data --------------------------------------------------------------------

def load_instances(problem: str, dataset: str, root: str | None,
                   max_graphs: int | None = None
                   ) -> tuple[list[Any], list[Any]]:
    """``(train, test)`` instance lists for ``dataset``."""
    from pyg_ext.combopt.datasets import INSTANCE_SETS, CombOptInstances
    key = dataset.lower().replace('-', '_').removeprefix('optgnn_')
    if dataset.upper() in TU or dataset.upper().replace('_', '-') in TU:
        from pyg_ext.combopt.datasets import tu_split
        ds = load_registered(dataset, root)
        tr, _va, te = tu_split(ds)
        train = [ds[i] for i in tr]
        test = [ds[i] for i in te]
        for i, d in zip(te, test):
            d.instance_id = torch.tensor([i])
    elif key in INSTANCE_SETS:
        from pyg_ext.utils.data_root import resolve_root
        folder = str(resolve_root(root) / 'combopt')
        train = list(CombOptInstances(folder, key, num_graphs=200, seed=1))
        test = list(CombOptInstances(folder, key, num_graphs=100, seed=2))
        for i, d in enumerate(test):
            d.instance_id = torch.tensor([i])
    else:
        raise ValueError(f'unknown --dataset {dataset!r}: use a TU name '
                         f"({', '.join(TU)}), one of "
                         f"{', '.join(INSTANCE_SETS)} or 'er500'")
    if problem == 'max3sat' and not hasattr(test[0], 'clause_index'):
        raise ValueError(f'--problem max3sat needs a SAT set (sat3_...), '
                         f'got {dataset}')
    if problem != 'max3sat' and hasattr(test[0], 'clause_index'):
        raise ValueError(f'{dataset} is a SAT set; use --problem max3sat')
    if max_graphs:
        test = test[:max_graphs]
    return train, test


def _optima_cache(root: str | None, problem: str, dataset: str) -> Path:
    from pyg_ext.utils.data_root import resolve_root
    folder = resolve_root(root) / 'combopt' / 'optima'
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f'{problem}_{dataset.lower()}.json'


def exact_optima(problem: str, test: list[Any], root: str | None,
                 dataset: str, time_limit: float) -> tuple[torch.Tensor,
                                                           torch.Tensor,
                                                           float]:
    """ILP values per test graph (cached), whether each is proven optimal,
    and the solve time of the uncached ones."""
    from pyg_ext.combopt import baselines as B
    fn = {'maxcut': B.maxcut_ilp, 'vertex_cover': B.vertex_cover_ilp,
          'max3sat': B.max3sat_ilp}[problem]
    path = _optima_cache(root, problem, dataset)
    cache: dict[str, Any] = json.loads(path.read_text()) if path.exists() \
        else {}
    vals, proven, secs = [], [], 0.0
    for d in test:
        key = str(int(d.instance_id))
        hit = cache.get(key)
        if hit is None or (not hit[1] and hit[2] < time_limit):
            r = fn(d, time_limit=time_limit)
            hit = [r.value, bool(r.optimal), time_limit]
            cache[key] = hit
            secs += r.seconds
        vals.append(hit[0])
        proven.append(hit[1])
    path.write_text(json.dumps(cache))
    return torch.tensor(vals), torch.tensor(proven), secs


# --- model -------------------------------------------------------------------

def get_model(args: argparse.Namespace, train: list[Any], log=print):
    from pyg_ext.combopt.training import (
        default_config,
        load_pretrained,
        train_optgnn,
    )
    from pyg_ext.nn import OptGNN
    if args.checkpoint and not args.train:
        return load_checkpoint(args.checkpoint), 'checkpoint'
    preset = getattr(args, 'preset', None) or 'pyg_ext'
    if preset == 'reference':
        return _reference_model(args, train, log)
    if not args.train:
        model = load_pretrained(args.problem)
        if model is not None:
            return model, 'pretrained'
        log('no pretrained checkpoint; training')
    cfg = default_config(args.problem)
    if args.layers:
        cfg['num_layers'] = args.layers
    cfg['rank'] = args.rank
    model = OptGNN(args.problem, **cfg)
    n_val = max(1, len(train) // 10)
    hist = train_optgnn(model, train[n_val:], epochs=args.epochs,
                        val=train[:n_val], max_seconds=args.train_seconds)
    log(f'trained: val loss {hist["val_loss"][0]:.4f} (untrained) -> '
        f'{min(hist["val_loss"]):.4f}')
    if args.save:
        model.save(args.save)
        log(f'saved {args.save}')
    return model, 'trained'


def _reference_model(args: argparse.Namespace, train: list[Any], log=print):
    """The packaged reference-preset checkpoint, or one trained here the
    reference way (infinite stream drawn from ``train``, rounded-score
    validation, best checkpoint kept)."""
    from pyg_ext.combopt.training import (
        load_pretrained_reference,
        train_reference,
    )
    from pyg_ext.nn import OptGNN
    if not args.train:
        model = load_pretrained_reference(args.problem)
        if model is not None:
            return model, 'pretrained (reference preset)'
        log('no reference-preset checkpoint; training')
    if args.problem == 'max3sat':
        from pyg_ext.combopt.max3sat import sat_pair_graph
        train = [sat_pair_graph(d) for d in train]
    n_val = max(1, min(16, len(train) // 10))
    pool = train[n_val:] or train

    def sample(rng):
        return pool[int(rng.integers(len(pool)))]

    model = OptGNN(args.problem, rank=args.rank,
                   num_layers=args.layers or 16, preset='reference')
    hist = train_reference(model, sample, steps=100_000,
                           val=train[:n_val], valid_every=50,
                           max_seconds=args.train_seconds)
    log(f'trained: val rounded score {hist["val_score"][0]:.3f} '
        f'(untrained) -> best {_best(hist["val_score"], model):.3f}')
    if args.save:
        model.save(args.save)
        log(f'saved {args.save}')
    return model, 'trained (reference preset)'


def _best(vals: list[float], model: Any) -> float:
    return max(vals) if model.problem.sense == 'max' else min(vals)


def _fresh_like(model: Any, seed: int) -> Any:
    """The same architecture as ``model`` with a fresh (untrained)
    initialisation drawn with ``seed``."""
    from pyg_ext.nn import OptGNN
    torch.manual_seed(seed)
    cfg = dict(model.config)
    cfg.pop('problem')
    fresh = OptGNN(model.problem, **cfg)
    fresh.eval()
    return fresh


def bm_rounded(data: Any, rank: int, steps: int, restarts: int,
               hyperplanes: int, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Burer-Monteiro (:func:`~pyg_ext.combopt.sdp.maxcut_bm`) for
    ``steps`` iterations from ``restarts`` random starts, each rounded with
    ``hyperplanes`` hyperplanes (the OptGNN decoding without the network):
    ``(best signs [N], best cut per graph, best relaxation per graph)``."""
    from pyg_ext.combopt.maxcut import maxcut_value
    from pyg_ext.combopt.rounding import best_per_graph, hyperplane_signs
    from pyg_ext.combopt.sdp import maxcut_bm
    best_s, best_v, best_r = None, None, None
    for _ in range(restarts):
        V, relax = maxcut_bm(data, rank=rank, steps=steps,
                             generator=generator)
        S = hyperplane_signs(V, hyperplanes, generator=generator)
        s = best_per_graph(data, S, maxcut_value(data, S), 'max')
        v = maxcut_value(data, s)
        if best_v is None:
            best_s, best_v, best_r = s, v, relax
            continue
        from pyg_ext.combopt.maxcut import batch_of
        batch, _ = batch_of(data)
        better = v > best_v
        best_s = torch.where(better[batch], s, best_s)
        best_v = torch.maximum(v, best_v)
        best_r = torch.maximum(relax, best_r)
    assert best_s is not None and best_v is not None and best_r is not None
    return best_s, best_v, best_r


# --- suite -------------------------------------------------------------------

def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the suite.

    Raises:
        ValueError: an unknown dataset, a problem/dataset mismatch, a file
            that is not a checkpoint.
        DatasetMissingError: a TU dataset is absent and cannot be
            downloaded.
    """
    from pyg_ext.utils.log import progress

    torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.checkpoint and not args.train:
        load_checkpoint(args.checkpoint)  # fail before loading data
    if args.dataset.lower() == 'er500':
        return run_speed(args)
    if args.dataset.lower() == 'er1000':
        return run_learning(args)
    train, test = load_instances(args.problem, args.dataset, args.root,
                                 args.max_graphs)
    model, origin = get_model(args, train)
    model.eval()
    mtest = test
    if model.problem.name == 'max3sat_pairs':
        from pyg_ext.combopt.max3sat import sat_pair_graph
        mtest = []
        for d in test:
            g = sat_pair_graph(d)
            g.instance_id = d.instance_id
            mtest.append(g)
    batch = next(iter(DataLoader(mtest, batch_size=len(mtest))))
    B = len(test)
    print(f'OptGNN {args.problem} on {args.dataset}: {B} test instances, '
          f'model {origin} ({model!r})')
    from pyg_ext.combopt import baselines as BL

    results: dict[str, list[torch.Tensor]] = {}
    times: dict[str, list[float]] = {}

    def add(name: str, vals: torch.Tensor, secs: float) -> None:
        results.setdefault(name, []).append(vals.double().cpu())
        times.setdefault(name, []).append(secs / B)

    extra: dict[str, Any] = {}
    for seed in progress(args.seeds, args.progress, desc='optgnn seeds',
                         unit='seed'):
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        (sol, st), secs = _timed(lambda: model.solve(
            batch, restarts=args.restarts, num_hyperplanes=args.hyperplanes,
            top_k=args.top_k, improve=False, generator=gen))
        add('OptGNN (model + rounding)', st['rounded'], secs)
        torch.manual_seed(seed)
        (sol, st), secs = _timed(lambda: model.solve(
            batch, restarts=args.restarts, num_hyperplanes=args.hyperplanes,
            top_k=args.top_k, improve=True, generator=gen))
        add('OptGNN + local search', st['improved'], secs)
        # ablation: the same architecture untrained, same decoding
        fresh = _fresh_like(model, 1000 + seed)
        (_, st_u), secs = _timed(lambda: fresh.solve(
            batch, restarts=args.restarts, num_hyperplanes=args.hyperplanes,
            top_k=args.top_k, improve=False, generator=gen))
        add('ablation: untrained network (model + rounding)', st_u['rounded'],
            secs)
        if args.problem == 'vertex_cover':
            from pyg_ext.combopt.vertex_cover import is_vertex_cover
            extra['all_covers_valid'] = extra.get('all_covers_valid', True) \
                and is_vertex_cover(batch, sol)
        if args.problem == 'maxcut':
            (_, v, _), secs = _timed(lambda: bm_rounded(
                batch, model.rank, model.num_layers,
                args.restarts or (10 if model.preset == 'reference' else 4),
                args.hyperplanes or (1000 if model.preset == 'reference'
                                     else 256), gen))
            add(f'ablation: Burer-Monteiro {model.num_layers} iterations + '
                f'same rounding', v, secs)
            (s, v, sdp), secs = _timed(lambda: BL.goemans_williamson(
                batch, generator=gen))
            add('Goemans-Williamson (BM SDP, 1000 hyperplanes)', v, secs)
            from pyg_ext.combopt.maxcut import maxcut_value
            s, secs = _timed(lambda: BL.maxcut_greedy(batch, 1, gen))
            add('greedy 1-flip local search', maxcut_value(batch, s), secs)
        elif args.problem == 'vertex_cover':
            from pyg_ext.combopt.vertex_cover import cover_weight
            if seed == args.seeds[0]:
                x, secs = _timed(lambda: torch.cat([
                    BL.vertex_cover_2approx(d) for d in test]))
                add('networkx 2-approx', cover_weight(batch, x * 2 - 1), secs)
                x, secs = _timed(lambda: BL.vertex_cover_greedy(batch))
                add('greedy (max degree + prune)', cover_weight(batch, x),
                    secs)
        else:
            from pyg_ext.combopt.max3sat import (
                sat_local_search,
                unsat_count,
                walksat_polish,
            )
            F, pn = args.walksat_flips, args.walksat_noise
            torch.manual_seed(seed)
            (sol0, _), secs0 = _timed(lambda: model.solve(
                batch, restarts=args.restarts,
                num_hyperplanes=args.hyperplanes, improve=False,
                generator=gen))
            s1, secs1 = _timed(lambda: walksat_polish(
                batch, sol0, F, seed, p_noise=pn))
            add(f'OptGNN start (no local search) + WalkSAT ({F} flips, '
                f'p={pn:g})', unsat_count(batch, s1), secs0 + secs1)
            # greedy descent from the same start, its flips charged to the
            # WalkSAT budget (equal total flips per instance)
            (g1, used), secs_g = _timed(lambda: sat_local_search(
                batch, sol0, model.problem.ls_iters, return_flips=True))
            s2, secs2 = _timed(lambda: walksat_polish(
                batch, g1, (F - used).clamp(min=0), seed, p_noise=pn))
            add(f'OptGNN start + greedy local search + WalkSAT ({F} flips '
                f'in total)', unsat_count(batch, s2),
                secs0 + secs_g + secs2)
            extra['greedy_flips_per_instance'] = round(float(
                used.float().mean()), 2)
            rnd = torch.randint(0, 2, (batch.num_nodes,), generator=gen
                                ).float() * 2 - 1
            s3, secs3 = _timed(lambda: walksat_polish(
                batch, rnd, F, seed, p_noise=pn))
            add(f'WalkSAT ({F} flips, p={pn:g}, random start)',
                unsat_count(batch, s3), secs3)

    sense = model.problem.sense
    if args.no_ilp:
        # the best value any method reached on each instance, in any seed
        stack = torch.cat([torch.stack(v) for v in results.values()])
        ref = stack.max(0).values if sense == 'max' else stack.min(0).values
        ref_name = 'best found'
    else:
        ref, proven, secs = exact_optima(args.problem, test, args.root,
                                         args.dataset, args.ilp_time_limit)
        ref = ref.double()
        results['exact ILP (HiGHS)'] = [ref]
        times['exact ILP (HiGHS)'] = [secs / B]
        ref_name = ('ILP optimum' if bool(proven.all()) else
                    f'ILP best ({int(proven.sum())}/{B} proven)')
    rows = []
    out: dict[str, Any] = {'problem': args.problem, 'dataset': args.dataset,
                           'num_instances': B, 'model': origin,
                           'reference': ref_name, 'methods': {}}
    for name, vals in results.items():
        means = [float(v.mean()) for v in vals]
        if args.problem == 'max3sat':
            ratios = [float(v.mean() - ref.mean()) for v in vals]
            rlabel = f'excess over {ref_name}'
        else:
            ratios = [float((v / ref.clamp(min=1e-9)).where(
                ref > 0, torch.ones_like(v)).mean()) for v in vals]
            rlabel = f'ratio to {ref_name}'
        rows.append({'method': name, 'objective': fmt_mean_std(means, 3),
                     rlabel: fmt_mean_std(ratios, 4),
                     'ms / instance': f'{mean_std(times[name])[0] * 1e3:.1f}'})
        out['methods'][name] = {'objective': mean_std(means),
                                'ratio': mean_std(ratios),
                                'ratios': ratios,
                                'seconds_per_instance': mean_std(
                                    times[name])}
    print(format_table(rows))
    out.update(extra)
    if extra:
        print(', '.join(f'{k}: {v}' for k, v in extra.items()))
    if args.certificates and args.problem in ('maxcut', 'vertex_cover'):
        out['certificates'] = certificates(args, model, batch, ref)
    if args.problem == 'maxcut':
        print('units: cut weight once per undirected edge (the paper\'s '
              'OptGNN/Gurobi/SDP Max-Cut columns are cut + |E|/2)')
    return out


def certificates(args, model, batch, ref) -> dict[str, Any]:
    from pyg_ext.combopt.certificates import (
        maxcut_certificate,
        vertex_cover_certificate,
    )
    torch.manual_seed(0)
    with torch.no_grad():
        V = model(batch)
    if args.problem == 'maxcut':
        from pyg_ext.combopt.sdp import maxcut_bm
        ub_model, secs = _timed(lambda: maxcut_certificate(batch, V))
        V2, _ = maxcut_bm(batch, rank=model.rank, steps=100, V=V)
        ub, secs2 = _timed(lambda: maxcut_certificate(batch, V2))
        Vs, sdp = maxcut_bm(batch, rank=32, steps=2000)
        ub_ref = maxcut_certificate(batch, Vs)
        gap = float(((ub - sdp.double()) / sdp.double().clamp(min=1e-9)
                     ).max())
        gap_model = float(((ub_model - sdp.double()) /
                           sdp.double().clamp(min=1e-9)).max())
        valid = bool((ub + 1e-6 >= ref).all())
        print(f'certificates: from OptGNN embeddings mean UB '
              f'{float(ub_model.mean()):.3f} (max gap to SDP {gap_model:.2%})'
              f'; after 100 BM refinement steps {float(ub.mean()):.3f} '
              f'(max gap {gap:.2%}); SDP (BM r=32, 2000 steps, certified '
              f'{float(ub_ref.mean()):.3f}) {float(sdp.mean()):.3f}; '
              f'optimum {float(ref.mean()):.3f}; all UB >= optimum: {valid}')
        return {'ub_model': float(ub_model.mean()),
                'ub_refined': float(ub.mean()), 'sdp': float(sdp.mean()),
                'max_gap_model': gap_model, 'max_gap_refined': gap,
                'valid': valid, 'seconds': secs + secs2}
    lb, secs = _timed(lambda: vertex_cover_certificate(batch, V))
    valid = bool((lb - 1e-6 <= ref).all())
    print(f'certificates: vertex-cover lower bound mean {float(lb.mean()):.3f}'
          f' vs optimum {float(ref.mean()):.3f}; all LB <= optimum: {valid}')
    return {'lb': float(lb.mean()), 'valid': valid, 'seconds': secs}


def run_speed(args: argparse.Namespace) -> dict[str, Any]:
    """n = 500 Erdos-Renyi: OptGNN relaxation value and cut vs the SDP."""
    from pyg_ext.combopt.certificates import maxcut_certificate
    from pyg_ext.combopt.generators import erdos_renyi
    from pyg_ext.combopt.sdp import maxcut_bm, maxcut_sdp_cvxpy
    from pyg_ext.typing import has_package
    if args.problem != 'maxcut':
        raise ValueError('--dataset er500 is a Max-Cut speed benchmark')
    model, origin = get_model(args, [erdos_renyi(
        80, 0.15, seed=s) for s in range(64)])
    model.eval()
    from pyg_ext.utils.log import progress
    er_p = args.er_p if args.er_p is not None else 0.02
    rows, out = [], {'p': er_p, 'model': origin, 'graphs': []}
    for seed in progress(args.seeds, args.progress, desc='er500 seeds',
                         unit='seed'):
        d = erdos_renyi(500, er_p, seed=100 + seed)
        (Vs, sdp), t_bm = _timed(lambda: maxcut_bm(d, rank=32, steps=2000))
        ub = float(maxcut_certificate(d, Vs))
        sdp = float(sdp)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            model(d, generator=gen)  # warm-up
        gen = torch.Generator().manual_seed(seed)
        V, t_fwd = _timed(lambda: model(d, generator=gen).detach())
        relax = float(model.problem.relaxation(d, V))
        (sol, st), t_solve = _timed(lambda: model.solve(
            d, restarts=1, num_hyperplanes=64, top_k=4, generator=gen))
        rec = {'seed': seed, 'edges': int(d.edge_index.size(1) // 2),
               'sdp_bm': sdp, 'sdp_certified_ub': ub,
               'optgnn_relaxation': relax, 'relax_ratio': relax / sdp,
               'forward_s': t_fwd, 'cut': float(st['improved']),
               'cut_ratio_to_sdp': float(st['improved']) / sdp,
               'solve_s': t_solve, 'bm_s': t_bm}
        if has_package('cvxpy'):
            (_, v), t_cvx = _timed(lambda: maxcut_sdp_cvxpy(d))
            rec['cvxpy_scs_s'] = t_cvx
            rec['cvxpy_value'] = float(v)
        out['graphs'].append(rec)
        rows.append({'seed': seed, 'm': rec['edges'],
                     'SDP (BM 2000 steps) / cert. UB': f'{sdp:.2f} / {ub:.2f}',
                     'OptGNN relax / SDP': f'{relax / sdp:.5f}',
                     'forward s': f'{t_fwd:.3f}',
                     'cut / SDP (rounding + LS)':
                     f'{rec["cut_ratio_to_sdp"]:.4f}',
                     'full solve s': f'{t_solve:.3f}',
                     'BM 2000 s': f'{t_bm:.2f}',
                     'cvxpy+SCS s':
                     f'{rec.get("cvxpy_scs_s", float("nan")):.1f}'})
    print(f'Max-Cut speed, Erdos-Renyi n=500 p={er_p}, model {origin}, '
          f'{torch.get_num_threads()} thread(s)')
    print(format_table(rows))
    print('An integral cut cannot reach 99.9% of the SDP value (integrality '
          'gap); the 99.9% bar is read for the OptGNN relaxation value.')
    return out


def _cpu(fn):
    """``(fn(), CPU seconds of this process)``."""
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


def run_learning(args: argparse.Namespace) -> dict[str, Any]:
    """Max-Cut on held-out Erdos-Renyi graphs (``n = --n``, ``p = --er-p``,
    one per seed): does learning matter? See the module docstring.

    Raises:
        ValueError: ``--problem`` is not maxcut, no reference checkpoint.
    """
    from pyg_ext.combopt import baselines as BL
    from pyg_ext.combopt.certificates import maxcut_certificate
    from pyg_ext.combopt.generators import erdos_renyi
    from pyg_ext.combopt.maxcut import maxcut_value
    from pyg_ext.combopt.sdp import maxcut_bm
    from pyg_ext.typing import has_package
    from pyg_ext.utils.log import progress
    if args.problem != 'maxcut':
        raise ValueError('--dataset er1000 is a Max-Cut benchmark; use '
                         '--problem maxcut')
    if args.preset is None:
        args.preset = 'reference'
    p = args.er_p if args.er_p is not None else 0.01
    n = args.n
    train = [erdos_renyi(int(k), p, seed=90_000 + k)
             for k in range(200, 400, 25)]
    model, origin = get_model(args, train)
    model.eval()
    L, r = model.num_layers, model.rank
    R = args.restarts or (10 if model.preset == 'reference' else 4)
    H = args.hyperplanes or (1000 if model.preset == 'reference' else 256)
    print(f'Max-Cut, Erdos-Renyi n={n} p={p}, {len(args.seeds)} seed(s); '
          f'model {origin} ({model!r}); decoding {R} passes x {H} '
          f'hyperplanes; times are CPU seconds of this process')
    recs: list[dict[str, Any]] = []
    curve: dict[str, list[list[float]]] = {}

    def point(name: str, secs: float, ratio: float, k: int) -> None:
        pts = curve.setdefault(name, [])
        while len(pts) <= k:
            pts.append([])
        pts[k].append((secs, ratio))

    d0 = erdos_renyi(60, 0.1, seed=0)
    model.solve(d0, restarts=1, num_hyperplanes=8, improve=True)  # warm-up
    BL.maxcut_simulated_annealing(d0, sweeps=2)  # compile (numba)
    s0 = torch.ones(d0.num_nodes)
    for ls in ('anneal', 'tabu'):  # both timed kernels, outside the budgets
        BL.maxcut_polish(d0, s0, ls, 0.01)
    for seed in progress(args.seeds, args.progress, desc='er seeds',
                         unit='seed'):
        d = erdos_renyi(n, p, seed=1000 + seed)
        m = int(d.edge_index.size(1) // 2)
        (Vs, sdp), t_sdp = _cpu(lambda: maxcut_bm(d, rank=32, steps=2000))
        sdp = float(sdp)
        ub = float(maxcut_certificate(d, Vs))
        rec: dict[str, Any] = {'seed': seed, 'edges': m, 'sdp_bm': sdp,
                               'sdp_certified_ub': ub, 'sdp_bm_s': t_sdp}

        def cut_of(s_: torch.Tensor) -> float:
            return float(maxcut_value(d, s_))

        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        with torch.no_grad():
            relax_t = float(model.problem.relaxation(d, model(
                d, generator=gen)))
        fresh = _fresh_like(model, 1000 + seed)
        with torch.no_grad():
            relax_u = float(fresh.problem.relaxation(d, fresh(
                d, generator=gen)))
        rec['relax_trained'] = relax_t
        rec['relax_untrained'] = relax_u
        for k, rr in enumerate((1, 3, R)):
            (_, st), t = _cpu(lambda: model.solve(
                d, restarts=rr, num_hyperplanes=H, improve=False,
                generator=gen))
            point('OptGNN trained (no local search)', t,
                  float(st['rounded']) / sdp, k)
            if rr == R:
                rec['trained'] = float(st['rounded'])
                rec['trained_s'] = t
        (_, st), t = _cpu(lambda: fresh.solve(
            d, restarts=R, num_hyperplanes=H, improve=False, generator=gen))
        rec['untrained'] = float(st['rounded'])
        rec['untrained_s'] = t
        point('OptGNN untrained (no local search)', t, rec['untrained'] / sdp,
              0)
        for k, steps in enumerate((L, 4 * L, 16 * L, 64 * L)):
            (_, v, rlx), t = _cpu(lambda: bm_rounded(d, r, steps, R, H, gen))
            point('Burer-Monteiro + rounding', t, float(v) / sdp, k)
            if steps == L:
                rec['bm_same_iters'] = float(v)
                rec['bm_same_iters_relax'] = float(rlx)
                rec['bm_same_iters_s'] = t
        sol_ls = None
        for k, rr in enumerate((1, R)):
            (sol_, st), t = _cpu(lambda: model.solve(
                d, restarts=rr, num_hyperplanes=H, improve=True,
                generator=gen))
            point('OptGNN trained + greedy local search', t,
                  float(st['improved']) / sdp, k)
            if rr == R:
                rec['trained_ls'] = float(st['improved'])
                rec['trained_ls_s'] = t
                sol_ls = sol_
        t_ls = rec['trained_ls_s']
        assert sol_ls is not None
        # stronger local searches from OptGNN's best (greedy) cut, for
        # --ls-seconds more, and the annealing baseline at the same totals
        for ls in ('anneal', 'tabu'):
            s_, t = _cpu(lambda: BL.maxcut_polish(
                d, sol_ls, ls, args.ls_seconds, seed=seed))
            rec[f'trained_{ls}'] = cut_of(s_)
            rec[f'trained_{ls}_s'] = t_ls + t
            rec[f'{ls}_stage_s'] = t
            point(f'OptGNN trained + greedy + {ls}', t_ls + t,
                  cut_of(s_) / sdp, 0)
        if args.local_search != 'greedy':
            t_tot = rec[f'trained_{args.local_search}_s']
            s_, t = _cpu(lambda: BL.maxcut_simulated_annealing(
                d, time_limit=t_tot, seed=seed))
            rec['sa_same_total'] = cut_of(s_)
            rec['sa_same_total_s'] = t
            t_stage = rec[f'{args.local_search}_stage_s']
            s_, t = _cpu(lambda: BL.maxcut_simulated_annealing(
                d, time_limit=t_stage, seed=seed))
            rec['sa_stage_time'] = cut_of(s_)
            rec['sa_stage_time_s'] = t
        for k, f in enumerate((0.25, 0.5, 1.0, 2.0, 4.0)):
            s_, t = _cpu(lambda: BL.maxcut_simulated_annealing(
                d, time_limit=f * t_ls, seed=seed))
            point('simulated annealing', t, cut_of(s_) / sdp, k)
            if f == 1.0:
                rec['sa_same_time'] = cut_of(s_)
                rec['sa_same_time_s'] = t
        for k, rr in enumerate((1, 4, 16)):
            s_, t = _cpu(lambda: BL.maxcut_greedy(d, rr, gen))
            point('greedy 1-flip local search', t, cut_of(s_) / sdp, k)
            if rr == 1:
                rec['greedy'] = cut_of(s_)
                rec['greedy_s'] = t
        if has_package('cvxpy'):
            from pyg_ext.combopt.sdp import maxcut_sdp_cvxpy
            try:
                (Vc, vc), t = _cpu(lambda: maxcut_sdp_cvxpy(
                    d, time_limit_secs=args.scs_time_limit))
                from pyg_ext.combopt.rounding import (
                    best_per_graph,
                    hyperplane_signs,
                )
                S = hyperplane_signs(Vc, 1000, generator=gen)
                s_ = best_per_graph(d, S, maxcut_value(d, S), 'max')
                rec['scs_gw'] = cut_of(s_)
                rec['scs_gw_s'] = t
                rec['scs_sdp'] = float(vc)
                point('Goemans-Williamson (cvxpy + SCS)', t,
                      rec['scs_gw'] / sdp, 0)
            except Exception as e:  # solver failure / time limit
                rec['scs_gw_error'] = f'{type(e).__name__}: {e}'[:200]
        else:
            rec['scs_gw_error'] = 'cvxpy not installed (skipped)'
        if not args.no_ilp:
            res, t = _cpu(lambda: BL.maxcut_ilp(
                d, time_limit=args.ilp_time_limit))
            rec['ilp'] = float(res.value)
            rec['ilp_bound'] = float(res.bound)
            rec['ilp_optimal'] = bool(res.optimal)
            rec['ilp_s'] = float(res.seconds)
            point('exact ILP (HiGHS, time-limited)', float(res.seconds),
                  float(res.value) / sdp, 0)
        recs.append(rec)

    def mean(key: str) -> float:
        vals = [r_[key] for r_ in recs if key in r_]
        return sum(vals) / len(vals) if vals else float('nan')

    def ratios(key: str) -> list[float]:
        return [r_[key] / r_['sdp_bm'] for r_ in recs if key in r_]

    names = [('trained', f'OptGNN trained ({L} layers, {R}x{H} rounding, no '
              'local search)'),
             ('untrained', 'ablation: same network untrained'),
             ('bm_same_iters', f'ablation: Burer-Monteiro {L} iterations + '
              'same rounding'),
             ('trained_ls', 'OptGNN trained + greedy local search'),
             ('sa_same_time', 'simulated annealing (same CPU time as '
              'OptGNN + greedy LS)'),
             ('trained_anneal', f'OptGNN trained + greedy + warm-started '
              f'annealing ({args.ls_seconds:g} s)'),
             ('trained_tabu', f'OptGNN trained + greedy + tabu search '
              f'({args.ls_seconds:g} s)'),
             ('sa_same_total', f'simulated annealing (same CPU time as '
              f'OptGNN + {args.local_search})'),
             ('sa_stage_time', f'simulated annealing, random start (same '
              f'CPU time as the {args.local_search} stage alone)'),
             ('greedy', 'greedy 1-flip local search'),
             ('scs_gw', 'Goemans-Williamson (cvxpy + SCS)'),
             ('ilp', f'exact ILP (HiGHS, {args.ilp_time_limit:g} s limit)')]
    rows = []
    out: dict[str, Any] = {'n': n, 'p': p, 'model': origin,
                           'layers': L, 'rank': r, 'passes': R,
                           'hyperplanes': H, 'graphs': recs, 'methods': {}}
    for key, label in names:
        if not any(key in r_ for r_ in recs):
            rows.append({'method': label, 'cut': 'n/a', 'cut / SDP': 'n/a',
                         'CPU s': 'n/a'})
            continue
        rt = ratios(key)
        rows.append({'method': label,
                     'cut': fmt_mean_std([r_[key] for r_ in recs
                                          if key in r_], 1),
                     'cut / SDP': fmt_mean_std(rt, 4),
                     'CPU s': f'{mean(key + "_s"):.2f}'})
        out['methods'][label] = {'cut': mean(key), 'ratio_to_sdp':
                                 mean_std(rt), 'cpu_s': mean(key + '_s')}
    print(format_table(rows))
    print(f'SDP (BM r=32, 2000 steps) mean {mean("sdp_bm"):.2f}, certified '
          f'UB {mean("sdp_certified_ub"):.2f}; relaxation value: trained '
          f'{mean("relax_trained") / mean("sdp_bm"):.4f}, untrained '
          f'{mean("relax_untrained") / mean("sdp_bm"):.4f}, BM {L} it. '
          f'{mean("bm_same_iters_relax") / mean("sdp_bm"):.4f} of SDP')
    if any('scs_gw_error' in r_ for r_ in recs):
        print('SCS Goemans-Williamson: ' + recs[0].get('scs_gw_error', ''))
    # the bars
    gap_u = [(a - b) for a, b in zip(ratios('trained'), ratios('untrained'))]
    gap_b = [(a - b) for a, b in zip(ratios('trained'),
                                     ratios('bm_same_iters'))]
    if args.local_search == 'greedy':
        mine, theirs = 'trained_ls', 'sa_same_time'
    else:
        mine, theirs = f'trained_{args.local_search}', 'sa_same_total'
    gap_sa = [(b - a) / b for a, b in zip(
        [r_[mine] for r_ in recs], [r_[theirs] for r_ in recs])]
    bars = {
        'trained_minus_untrained_pct_sdp': [100 * x for x in gap_u],
        'trained_minus_bm_same_iters_pct_sdp': [100 * x for x in gap_b],
        'sa_minus_optgnn_ls_pct_of_sa': [100 * x for x in gap_sa]}
    bars['learning_bar_met'] = bool(min(gap_u + gap_b) >= 0.01)
    bars['sa_bar_met'] = bool(max(gap_sa) <= 0.003)
    out['bars'] = bars
    print('bar 1 (trained beats untrained and BM with the same iterations '
          'by >= 1% of the SDP value), per seed: untrained '
          + ', '.join(f'{x:+.2f}%' for x in bars[
              'trained_minus_untrained_pct_sdp'])
          + '; BM ' + ', '.join(f'{x:+.2f}%' for x in bars[
              'trained_minus_bm_same_iters_pct_sdp'])
          + f' -> {"met" if bars["learning_bar_met"] else "NOT met"}')
    bars['local_search'] = args.local_search
    if args.local_search != 'greedy':
        warm = [r_[mine] - r_['sa_stage_time'] for r_ in recs]
        bars['warm_minus_cold_same_stage_time'] = warm
        print(f'warm start vs random start at the same {args.local_search}'
              f'-stage CPU time (OptGNN + greedy + {args.local_search} minus '
              f'SA from random signs), per seed: '
              + ', '.join(f'{x:+.0f}' for x in warm))
    print(f'bar 2 (OptGNN + local search ({args.local_search}) within 0.3% '
          'of simulated annealing at the same total CPU time), SA minus '
          'OptGNN+LS per seed: '
          + ', '.join(f'{x:+.2f}%' for x in bars[
              'sa_minus_optgnn_ls_pct_of_sa'])
          + f' -> {"met" if bars["sa_bar_met"] else "NOT met"}')
    # the curve: mean CPU seconds and mean cut / SDP per budget level
    agg = {name: [[sum(t for t, _ in pts) / len(pts),
                   sum(q for _, q in pts) / len(pts)] for pts in levels
                  if pts] for name, levels in curve.items()}
    out['curve'] = agg
    prefix = args.curve_out
    if prefix is None:
        jp = getattr(args, 'json_path', None)
        prefix = (str(Path(jp).with_suffix('')) + '_curve') if jp else \
            'optgnn_curve'
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    Path(prefix + '.json').write_text(json.dumps(
        {'n': n, 'p': p, 'seeds': list(args.seeds), 'x': 'CPU seconds',
         'y': 'cut / SDP value (BM r=32, 2000 steps)', 'curve': agg},
        indent=1))
    print(f'quality-vs-time curve: {prefix}.json', end='')
    if has_package('matplotlib'):
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name, pts in agg.items():
            xs, ys = zip(*sorted(pts))
            ax.plot(xs, ys, marker='o', label=name)
        ax.set_xscale('log')
        ax.set_xlabel('CPU seconds per graph')
        ax.set_ylabel('cut / SDP value')
        ax.set_title(f'Max-Cut, ER(n={n}, p={p}), {len(recs)} graph(s)')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(prefix + '.png', dpi=110)
        plt.close(fig)
        print(f', {prefix}.png')
    else:
        print(' (matplotlib not installed: no PNG)')
    return out


__all__ = ['add_arguments', 'bm_rounded', 'exact_optima', 'get_model',
           'load_instances', 'run', 'run_learning', 'run_speed']

if __name__ == '__main__':  # pragma: no cover
    import sys

    from pyg_ext.bench import run_suite
    run_suite('optgnn', sys.argv[1:])
    del os, sys
