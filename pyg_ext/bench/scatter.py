"""Scatter kernels: pyg_ext.ops vs torch, torch_scatter and PyG's default path.

For every case (E, average degree, F, dtype, degree distribution) and op:

* ``segment`` (sorted, CSR): pyg_ext Triton kernel, the dispatcher
  (``auto``), ``torch.segment_reduce``, ``scatter_reduce_``,
  ``scatter_add_``/``index_add_`` (sum), ``torch_scatter.segment_csr``;
* ``scatter`` (unsorted): pyg_ext atomic kernel, ``auto``,
  ``scatter_reduce_``, ``scatter_add_``/``index_add_`` (sum),
  ``torch_scatter.scatter``;
* ``spmm`` (gather + reduce): pyg_ext fused kernel, ``auto``, PyG's default
  ``MessagePassing`` path (``index_select`` then ``scatter``),
  ``torch.sparse.mm`` (sum).

``torch_geometric.utils.scatter`` is PyG's default for ``segment``/``scatter``
too (it is ``scatter_add_``/``scatter_reduce_``). Reports the median time,
the effective bandwidth on compulsory bytes (each input read once, each
output written once) as a share of a device copy measured in the same run,
and each method's speedup over the best baseline. On CPU only torch-side
methods run (the Triton interpreter is not a performance path) and the
matrix is small. ``--calibrate PATH`` (CUDA) also times Triton against
torch for the dispatcher and writes its rules (see ``pyg_ext.ops.dispatch``).
``--calibrate`` without a path on CPU runs the CPU calibration instead
(:func:`calibrate_cpu`): every CPU path of the dispatcher and every
torch/PyG baseline over E in {1e4, 1e5, 1e6} x F in {1, 16, 64} x
{uniform, power-law}, the chosen paths written to the table the dispatcher
loads, and per case our time, each baseline's, the ratio and the path.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from pyg_ext.bench._common import (
    choice_list,
    device_arg,
    format_table,
    mean_std,
    positive_float,
    positive_int_list,
)

GPU_SIZES = '1e4,1e5,1e6,1e7'
CPU_SIZES = '1e4,1e5'
OPS = ('segment', 'scatter', 'spmm')
DTYPES = ('float32', 'bfloat16', 'float16')
DISTS = ('power', 'uniform')
REDUCES = ('sum', 'mean', 'max', 'min')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this suite (validated by argparse)."""
    parser.add_argument('--ops', default='segment,scatter,spmm',
                        type=choice_list(OPS, what='op'),
                        help=f"comma list of {', '.join(OPS)}")
    parser.add_argument('--sizes', default=None, type=positive_int_list,
                        help=f'edge counts E (default: GPU {GPU_SIZES}, CPU '
                        f'{CPU_SIZES})')
    parser.add_argument('--degrees', default=None, type=positive_int_list,
                        help='average degrees (default: GPU 2,10,50; CPU 10)')
    parser.add_argument('--features', default=None, type=positive_int_list,
                        help='feature sizes F (default: GPU 1,16,64,256; CPU '
                        '16,64)')
    parser.add_argument('--dtypes', default=None,
                        type=choice_list(DTYPES, what='dtype'),
                        help='comma list of float32, bfloat16, float16 '
                        '(default: GPU float32,bfloat16; CPU float32)')
    parser.add_argument('--dists', default='power,uniform',
                        type=choice_list(DISTS, what='distribution'),
                        help='degree distributions: power (Zipf, degree '
                        'exponent ~2), uniform')
    parser.add_argument('--reduces', default='sum,mean,max',
                        type=choice_list(REDUCES, what='reduce'),
                        help=f"comma list of {', '.join(REDUCES)}")
    parser.add_argument('--headline', action='store_true',
                        help='only E=1e7, degree 10, F=64, power, fp32')
    parser.add_argument('--device', default=None, type=device_arg,
                        help='cuda or cpu (default: cuda if available)')
    parser.add_argument('--calibrate', default=None, nargs='?', const='',
                        metavar='PATH',
                        help='CPU (no PATH): run the calibration matrix '
                        '(E 1e4,1e5,1e6 x F 1,16,64 x uniform, power; '
                        'scatter, segment, softmax, spmm on edge_index and '
                        'CSR), time every CPU path of the dispatcher and '
                        'the torch/PyG baselines, and write the chosen '
                        'paths to --table; CUDA: time Triton vs torch and '
                        'write the rules to PATH (default: off)')
    parser.add_argument('--table', default=None, metavar='PATH',
                        help='where --calibrate on CPU writes the path '
                        'table (default: the pyg_ext cache, which the '
                        'dispatcher loads at import)')
    parser.add_argument('--rep-ms', default=None, type=positive_float,
                        help='CUDA: milliseconds of repeats per timing '
                        '(triton.testing.do_bench; default 40, 25 at '
                        'E*F >= 1e7); a few ms suffice for the full matrix')
    parser.add_argument('--budget', default=1.0, type=float,
                        help='--calibrate on CPU: seconds of timing per '
                        'case and phase (>= 3 interleaved rounds)')


def _as_list(value: list[int] | str | None, default: str) -> list[int]:
    """A parsed option (a list), a string (from Python callers) or the
    default, as positive ints."""
    if value is None:
        value = default
    if isinstance(value, str):
        value = positive_int_list(value)
    return list(value)


def _choices(value: list[str] | str, choices: tuple[str, ...]) -> list[str]:
    return choice_list(choices, what='value')(value) if isinstance(value, str) \
        else list(value)


def _graph(E: int, N: int, dist: str, gen: torch.Generator,
           device: torch.device) -> torch.Tensor:
    """``E`` ids in ``[0, N)``, drawn on ``gen``'s device (a CUDA
    generator draws a 1e7-edge graph in milliseconds), moved to
    ``device``."""
    on = gen.device
    if dist == 'uniform':
        idx = torch.randint(0, N, (E,), generator=gen, device=on)
    elif dist == 'power':
        w = 1.0 / torch.arange(1, N + 1, dtype=torch.float64, device=on)
        r = torch.multinomial(w, E, replacement=True, generator=gen)
        idx = torch.randperm(N, generator=gen, device=on)[r]
    else:
        raise ValueError(f"unknown distribution '{dist}'")
    return idx.to(device)


def _timer(device: torch.device, big: bool, rep_ms: float | None = None
           ) -> Callable[[Callable[[], Any]], float]:
    if device.type == 'cuda':
        from triton.testing import do_bench
        rep = rep_ms if rep_ms is not None else (25 if big else 40)
        warm = max(1.0, rep / 5) if rep_ms is not None else (
            5 if big else 10)

        def cuda_time(fn: Callable[[], Any]) -> float:
            return float(do_bench(fn, warmup=warm, rep=rep,
                                  return_mode='median'))
        return cuda_time

    def cpu_time(fn: Callable[[], Any]) -> float:
        fn()
        ts: list[float] = []
        while len(ts) < 5 or (sum(ts) < 30.0 and len(ts) < 200):
            t0 = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(ts)
    return cpu_time


def _copy_bandwidth(device: torch.device) -> float:
    """Bytes read + written per second by a large device copy."""
    n = (1 << 28) if device.type == 'cuda' else (1 << 22)
    x = torch.empty(n, device=device)
    y = torch.empty_like(x)
    t = _timer(device, True)(lambda: y.copy_(x))
    return 2 * n * 4 / (t * 1e-3)


def _methods(op: str, reduce: str, src: torch.Tensor, idx: torch.Tensor,
             srt: torch.Tensor, ptr: torch.Tensor, N: int, x: torch.Tensor,
             col: torch.Tensor, w: torch.Tensor, gpu: bool
             ) -> dict[str, Callable[[], Any]]:
    """name -> call; names starting with ``pyg_ext`` are ours."""
    from torch_geometric.utils import scatter as pyg_scatter

    from pyg_ext.ops import functional as fn
    from pyg_ext.ops._torch import segment_torch
    from pyg_ext.typing import has_package

    F = src.size(1)
    tred = {'sum': 'sum', 'mean': 'mean', 'max': 'amax', 'min': 'amin'}[
        reduce]
    m: dict[str, Callable[[], Any]] = {}
    ts = None
    if has_package('torch_scatter'):
        import torch_scatter as ts  # noqa: F811
        if str(getattr(ts, '__version__', '')).endswith('+pygext'):
            ts = None  # our own scatter_compat under the alias: no anchor
    if op == 'segment':
        ib = srt.view(-1, 1).expand(-1, F)
        if gpu:
            m['pyg_ext (triton)'] = lambda: fn.segment(
                src, ptr, reduce, index=srt, backend='triton')
        m['pyg_ext (auto)'] = lambda: fn.segment(src, ptr, reduce,
                                                 index=srt)
        m['torch.segment_reduce'] = lambda: segment_torch(src, ptr, reduce)
        m['torch.scatter_reduce_'] = lambda: src.new_zeros(
            N, F).scatter_reduce_(0, ib, src, tred, include_self=False)
        m['pyg.utils.scatter'] = lambda: pyg_scatter(src, srt, 0, N, reduce)
        if reduce == 'sum':
            m['torch.index_add_'] = lambda: src.new_zeros(N, F).index_add_(
                0, srt, src)
        if ts is not None:
            m['torch_scatter.segment_csr'] = lambda: ts.segment_csr(
                src, ptr, reduce=reduce)
    elif op == 'scatter':
        ib = idx.view(-1, 1).expand(-1, F)
        if gpu:
            m['pyg_ext (triton)'] = lambda: fn.scatter(
                src, idx, 0, N, reduce, backend='triton')
        m['pyg_ext (auto)'] = lambda: fn.scatter(src, idx, 0, N, reduce)
        m['torch.scatter_reduce_'] = lambda: src.new_zeros(
            N, F).scatter_reduce_(0, ib, src, tred, include_self=False)
        m['pyg.utils.scatter'] = lambda: pyg_scatter(src, idx, 0, N, reduce)
        if reduce == 'sum':
            m['torch.scatter_add_'] = lambda: src.new_zeros(
                N, F).scatter_add_(0, ib, src)
            m['torch.index_add_'] = lambda: src.new_zeros(N, F).index_add_(
                0, idx, src)
        if ts is not None:
            m['torch_scatter.scatter'] = lambda: ts.scatter(
                src, idx, 0, dim_size=N, reduce=reduce)
    else:  # spmm: out[i] = reduce_{e in row i} w[e] * x[col[e]]
        if gpu:
            m['pyg_ext (triton)'] = lambda: fn.spmm_csr(
                ptr, col, x, w, reduce, row=srt, backend='triton')
        m['pyg_ext (auto)'] = lambda: fn.spmm_csr(ptr, col, x, w, reduce,
                                                  row=srt)
        m['pyg default (gather+scatter)'] = lambda: pyg_scatter(
            x.index_select(0, col) * w.view(-1, 1), srt, 0, N, reduce)
        if reduce == 'sum' and x.dtype == torch.float32:
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', UserWarning)  # beta notice
                csr = torch.sparse_csr_tensor(ptr, col, w, (N, x.size(0)))
            m['torch.sparse.mm'] = lambda: torch.sparse.mm(csr, x)
    return m


def _bytes(op: str, E: int, N: int, F: int, esize: int) -> int:
    if op == 'segment':
        return E * F * esize + N * F * esize + (N + 1) * 8
    if op == 'scatter':
        return E * F * esize + E * 8 + N * F * esize
    # spmm: x read once, col + weight per edge, ptr, output
    return 2 * N * F * esize + E * (8 + esize) + (N + 1) * 8


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the suite.

    Raises:
        ValueError: ``--device cuda`` without CUDA, ``--calibrate`` on CPU.
        ImportError: CUDA without Triton.
    """
    from pyg_ext.utils.log import progress

    try:
        device = device_arg(args.device) if args.device else 'auto'
    except argparse.ArgumentTypeError as e:  # a Namespace from Python
        raise ValueError(f'--device: {e}') from None
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    dev = torch.device(device)
    gpu = dev.type == 'cuda'
    if gpu:
        from pyg_ext.typing import require
        require('triton', 'pyg-ext bench scatter on CUDA')
    if args.calibrate is not None and not gpu:
        if args.calibrate:
            raise ValueError('--calibrate PATH writes Triton rules and needs '
                             'a CUDA device; on CPU use --calibrate without '
                             'a PATH (and --table PATH)')
        return calibrate_cpu(args)
    if args.calibrate is not None:
        from pyg_ext.ops.dispatch import calibrate, rules_cache_path
        path = args.calibrate or rules_cache_path(dev)
        calibrate(dev, path=path)
        print(f'dispatcher rules written to {path}')
    if args.headline:
        sizes, degrees, feats = [10**7], [10], [64]
        dtypes, dists = ['float32'], ['power']
    else:
        sizes = _as_list(args.sizes, GPU_SIZES if gpu else CPU_SIZES)
        degrees = _as_list(args.degrees, '2,10,50' if gpu else '10')
        feats = _as_list(args.features, '1,16,64,256' if gpu else '16,64')
        dtypes = args.dtypes or (['float32', 'bfloat16'] if gpu
                                 else ['float32'])
        if isinstance(dtypes, str):
            dtypes = choice_list(DTYPES)(dtypes)
        dists = _choices(args.dists, DISTS)
    ops = _choices(args.ops, OPS)
    reduces = _choices(args.reduces, REDUCES)
    copy_bw = _copy_bandwidth(dev)
    print(f'device: {torch.cuda.get_device_name(dev) if gpu else "cpu"}; '
          f'copy bandwidth {copy_bw / 1e9:.1f} GB/s (read + write)')
    rows: list[dict[str, Any]] = []
    cases = list(itertools.product(sizes, degrees, feats, dtypes, dists))
    for E, deg, F, dname, dist in progress(cases, args.progress,
                                           desc='scatter cases',
                                           unit='case'):
        N = max(E // deg, 1)
        rows += _case(dev, gpu, E, N, deg, F, getattr(torch, dname), dist,
                      ops, reduces, copy_bw, args.seeds,
                      getattr(args, 'rep_ms', None))
    _report(rows)
    worst = [r for r in rows if r['method'] == 'pyg_ext (auto)']
    summary = {
        'copy_GBps': copy_bw / 1e9,
        'auto_vs_best_min': min((r['vs_best'] for r in worst),
                                default=math.nan),
        'auto_vs_best_geomean': math.exp(statistics.fmean(
            math.log(r['vs_best']) for r in worst)) if worst else math.nan,
    }
    print(f"dispatcher (auto) vs best baseline: worst "
          f"{summary['auto_vs_best_min']:.2f}x, geomean "
          f"{summary['auto_vs_best_geomean']:.2f}x")
    return {'rows': rows, 'summary': summary}


def _case(dev: torch.device, gpu: bool, E: int, N: int, deg: int, F: int,
          dtype: torch.dtype, dist: str, ops: list[str], reduces: list[str],
          copy_bw: float, seeds: list[int], rep_ms: float | None = None
          ) -> list[dict[str, Any]]:
    """Time every method of ``ops`` x ``reduces`` on one graph shape (one
    graph per seed); rows with mean ± std over seeds, effective bandwidth
    and the ratio to the best baseline. On CUDA the data is drawn on the
    GPU (seeded, not the same numbers as a CPU draw)."""
    from pyg_ext.ops._torch import index2ptr
    times: dict[tuple[str, str, str], list[float]] = {}
    timer = _timer(dev, E * F >= 10**7, rep_ms)
    on = dev if gpu else torch.device('cpu')
    for seed in seeds:
        gen = torch.Generator(device=on).manual_seed(seed)
        idx = _graph(E, N, dist, gen, dev)
        srt = idx.sort()[0]
        ptr = index2ptr(srt, N)
        src = torch.randn(E, F, generator=gen, device=on).to(dev, dtype)
        x = torch.randn(N, F, generator=gen, device=on).to(dev, dtype)
        col = torch.randint(0, N, (E,), generator=gen, device=on).to(dev)
        w = torch.rand(E, generator=gen, device=on).to(dev, dtype)
        for op in ops:
            for reduce in reduces:
                for name, call in _methods(op, reduce, src, idx, srt, ptr, N,
                                           x, col, w, gpu).items():
                    try:
                        t = timer(call)
                    except (RuntimeError, NotImplementedError):
                        continue  # e.g. a dtype a baseline does not support
                    times.setdefault((op, reduce, name), []).append(t)
        del src, x
    rows = []
    esize = torch.empty(0, dtype=dtype).element_size()
    for op in ops:
        for reduce in reduces:
            entries = {n: t for (o, r, n), t in times.items()
                       if o == op and r == reduce}
            base = [statistics.fmean(t) for n, t in entries.items()
                    if not n.startswith('pyg_ext')]
            best = min(base) if base else math.nan
            nbytes = _bytes(op, E, N, F, esize)
            for name, ts in entries.items():
                m, s = mean_std(ts)
                bw = nbytes / (m * 1e-3)
                rows.append({
                    'op': op, 'reduce': reduce, 'E': E, 'deg': deg, 'F': F,
                    'dtype': str(dtype).replace('torch.', ''), 'dist': dist,
                    'method': name, 'ms': m, 'ms_std': s,
                    'GBps': bw / 1e9, 'pct_copy': 100 * bw / copy_bw,
                    'vs_best': best / m if base else math.nan,
                })
    return rows


def _report(rows: list[dict[str, Any]]) -> None:
    cols = ['op', 'reduce', 'E', 'deg', 'F', 'dtype', 'dist', 'method', 'ms',
            'GBps', 'pct_copy', 'vs_best']
    print(format_table(rows, cols))


# ------------------------------------------------------- CPU calibration

CAL_SIZES = '1e4,1e5,1e6'
CAL_FEATURES = '1,16,64'
CAL_REDUCES = ('sum', 'mean', 'max')


#: most interleaved rounds per case: cheap cases (E = 1e4, 25-300 us a
#: call) get up to this many within their budget, so that their medians
#: are stable to ~1 % (with at most 101 rounds, identical calls measured
#: up to 10-20 % apart there)
MAX_ROUNDS = 2001


def _interleaved(calls: dict[str, Callable[[], Any]],
                 budget: float) -> dict[str, tuple[float, float]]:
    """``(CPU ms, wall ms)`` medians of each call, timed in interleaved
    rounds (one call of each per round, in a random order) until
    ``budget`` seconds of wall time are spent (3 to :data:`MAX_ROUNDS`
    rounds), with
    Python's garbage collector off during the rounds (a collection landing
    in one call would charge it for everyone's garbage; a full collection
    costs ~0.1 s with torch loaded, so none is forced either: tensors are
    freed by reference counting). The CPU time is
    this thread's (``time.thread_time``): on a machine shared with other
    jobs it leaves out the time the thread waits for a core, which
    dominates wall times there. Calls that raise are left out."""
    import gc

    ok: dict[str, Callable[[], Any]] = {}
    for name, fn in calls.items():
        try:
            fn()  # warm-up (and the caches of the ops)
            ok[name] = fn
        except (RuntimeError, NotImplementedError, ValueError):
            continue
    cpu: dict[str, list[float]] = {n: [] for n in ok}
    wall: dict[str, list[float]] = {n: [] for n in ok}
    names = list(ok)
    # a new random order every round: a call that follows a heavy one
    # finds the caches cold, and a fixed (or rotating) order would make
    # that the same call every round
    order = random.Random(len(names) * 7919)
    enabled = gc.isenabled()
    gc.disable()
    start = time.perf_counter()
    try:
        rounds = 0
        # rounds until the budget of wall time is spent (a round-count
        # estimate from one pass overshoots many times over on a busy
        # machine, where this process gets a fraction of a core)
        while rounds < 3 or (rounds < MAX_ROUNDS and
                             time.perf_counter() - start < budget):
            rounds += 1
            order.shuffle(names)
            for name in names:
                c0 = time.thread_time_ns()
                t0 = time.perf_counter_ns()
                ok[name]()
                wall[name].append((time.perf_counter_ns() - t0) * 1e-6)
                cpu[name].append((time.thread_time_ns() - c0) * 1e-6)
    finally:
        if enabled:
            gc.enable()
    return {n: (statistics.median(cpu[n]), statistics.median(wall[n]))
            for n in ok}


def _cal_cases(src: torch.Tensor, idx: torch.Tensor, srt: torch.Tensor,
               ptr: torch.Tensor, N: int, x: torch.Tensor,
               col: torch.Tensor) -> list[dict[str, Any]]:
    """Every calibration case of one graph: key (op, reduce) of the path
    table (or None), our call, the baselines."""
    import warnings

    from torch_geometric.utils import scatter as pyg_scatter
    from torch_geometric.utils import segment as pyg_segment
    from torch_geometric.utils import softmax as pyg_softmax
    from torch_geometric.utils import spmm as pyg_spmm

    from pyg_ext.ops import functional as fn

    F = src.size(1)
    ei = torch.stack([col, idx])  # unsorted edge_index, targets idx
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        # the same matrix as CSR (rows = srt) and as a coalesced COO tensor
        csr = torch.sparse_csr_tensor(ptr, col, torch.ones(col.numel()),
                                      (N, N))
        coo = torch.sparse_coo_tensor(torch.stack([idx, col]),
                                      torch.ones(col.numel()),
                                      (N, N)).coalesce()
    tred = {'sum': 'sum', 'mean': 'mean', 'max': 'amax'}
    cases: list[dict[str, Any]] = []
    for r in CAL_REDUCES:
        t = tred[r]
        base: dict[str, Callable[[], Any]] = {
            'torch.scatter_reduce_': lambda t=t: src.new_zeros(
                N, F).scatter_reduce_(0, idx.view(-1, 1).expand(-1, F), src,
                                      t, include_self=False),
            'pyg.utils.scatter': lambda r=r: pyg_scatter(src, idx, 0, N, r),
        }
        if r == 'sum':
            base['torch.scatter_add_'] = lambda: src.new_zeros(
                N, F).scatter_add_(0, idx.view(-1, 1).expand(-1, F), src)
            base['torch.index_add_'] = lambda: src.new_zeros(
                N, F).index_add_(0, idx, src)
        cases.append({'op': 'scatter', 'reduce': r,
                      'key': ('scatter', r), 'ours': lambda r=r: fn.scatter(
                          src, idx, 0, N, r), 'base': base})
        base = {
            'torch.segment_reduce': lambda t=t: torch.segment_reduce(
                src, t if t != 'sum' else 'sum', offsets=ptr,
                **({} if t == 'amax' else {'initial': 0})),
            'torch.scatter_reduce_ (sorted)': lambda t=t: src.new_zeros(
                N, F).scatter_reduce_(0, srt.view(-1, 1).expand(-1, F), src,
                                      t, include_self=False),
            'pyg.utils.segment': lambda r=r: pyg_segment(src, ptr, r),
        }
        if r == 'sum':
            base['torch.index_add_ (sorted)'] = lambda: src.new_zeros(
                N, F).index_add_(0, srt, src)
            base['torch.scatter_add_ (sorted)'] = lambda: src.new_zeros(
                N, F).scatter_add_(0, srt.view(-1, 1).expand(-1, F), src)
        cases.append({'op': 'segment', 'reduce': r,
                      'key': ('segment', r), 'ours': lambda r=r: fn.segment(
                          src, ptr, r), 'base': base})
        base = {
            'pyg gather+scatter': lambda r=r: pyg_scatter(
                x.index_select(0, col), idx, 0, N, r),
            'pyg.utils.spmm (COO)': lambda r=r: pyg_spmm(coo, x, r),
        }
        if r == 'sum':
            base['torch gather+index_add_'] = lambda: x.new_zeros(
                N, F).index_add_(0, idx, x.index_select(0, col))
            base['torch.sparse.mm (COO)'] = lambda: torch.sparse.mm(coo, x)
        cases.append({'op': 'spmm', 'reduce': r, 'key': ('spmm', r),
                      'ours': lambda r=r: fn.spmm(ei, x, r), 'base': base})
        base = {
            'torch.sparse.mm (CSR)': lambda t=t: torch.sparse.mm(
                csr, x, t) if t != 'sum' else torch.sparse.mm(csr, x),
            'pyg.utils.spmm (CSR)': lambda r=r: pyg_spmm(csr, x, r),
            'pyg gather+scatter': lambda r=r: pyg_scatter(
                x.index_select(0, col), srt, 0, N, r),
        }
        cases.append({'op': 'spmm_csr', 'reduce': r,
                      'key': ('spmm_csr', r), 'ours': lambda r=r: fn.spmm_csr(
                          ptr, col, x, None, r), 'base': base})
    cases.append({'op': 'softmax', 'reduce': 'index', 'key': None,
                  'ours': lambda: fn.softmax(src, idx, num_nodes=N),
                  'base': {'pyg.utils.softmax': lambda: pyg_softmax(
                      src, idx, num_nodes=N)}})
    cases.append({'op': 'softmax', 'reduce': 'ptr',
                  'key': ('softmax_ptr', 'sum'),
                  'ours': lambda: fn.softmax(src, None, ptr),
                  'base': {'pyg.utils.softmax': lambda: pyg_softmax(
                      src, None, ptr)}})
    return cases


def _cal_graph(E: int, F: int, dist: str, seed: int
               ) -> tuple[torch.Tensor, ...]:
    from pyg_ext.ops._torch import index2ptr
    gen = torch.Generator().manual_seed(seed)
    N = max(E // 10, 1)
    idx = _graph(E, N, dist, gen, torch.device('cpu'))
    srt = idx.sort()[0]
    ptr = index2ptr(srt, N)
    src = torch.randn(E, F, generator=gen)
    x = torch.randn(N, F, generator=gen)
    col = torch.randint(0, N, (E,), generator=gen)
    return src, idx, srt, ptr, N, x, col


#: phase 1 re-times the two best paths of a cell when the second one's
#: worst-case slowdown is within this factor of the first one's
CLOSE = 1.10
#: after the re-timing, a path within this factor of the best counts as
#: tied: the built-in choice (or phase 1's) is kept among tied paths
TIE = 1.03


def _company(case: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """The case's baselines, interleaved (and not counted) with the
    paths that phase 1 times: a path is then timed amid the same calls,
    and so the same cache state, as phase 2 times the chosen one (paths
    timed only among themselves ranked otherwise: at E = 1e4, F = 64,
    ``segment`` sum's ``scatter_add_`` path measured 1 % faster than its
    ``index_add_`` path there and 12 % slower than the ``index_add_``
    baseline in phase 2, in three runs)."""
    return {f'\0{name}': fn for name, fn in case['base'].items()}


def _best_of_company(t: dict[str, tuple[float, float]]) -> float:
    """The best baseline's CPU time among :func:`_interleaved`'s results
    (``inf`` when none ran)."""
    return min((v[0] for p, v in t.items() if p.startswith('\0')),
               default=math.inf)


def _ranked(per: dict[str, list[float]], n: int,
            ref: list[float] | None = None) -> list[tuple[float, str]]:
    """``(worst slowdown over the n distributions, path)``, best first;
    ``per`` maps a path to its time on each distribution (a path timed on
    fewer of them ranks last). The slowdown is against ``ref`` (the best
    baseline's time on each distribution, measured with the paths: the
    bar is the ratio to it) where given and finite, else against the
    fastest path."""
    best = [min(v[i] for v in per.values() if len(v) > i) for i in range(n)]
    if ref is not None and len(ref) == n and all(
            0 < r < math.inf for r in ref):
        best = list(ref)
    return sorted(((max(ms / b for ms, b in zip(v, best)) if len(v) == n
                    else math.inf), p) for p, v in per.items())


def _retimed_choice(per: dict[str, list[float]], n: int, first: str,
                    default: str | None,
                    ref: list[float] | None = None) -> str:
    """The path of a re-timed close call: the one with the smallest worst
    slowdown (against ``ref``, see :func:`_ranked`), but among paths
    within :data:`TIE` of it the built-in ``default``, else phase 1's
    ``first`` (a difference below the noise does not flip the choice)."""
    ranked = _ranked(per, n, ref)
    tied = [p for score, p in ranked if score <= TIE * ranked[0][0]]
    for keep in (default, first):
        if keep in tied:
            return keep
    return ranked[0][1]


def _forced(case: dict[str, Any], path: str) -> Any:
    """``case``'s call of ours with its CPU path forced to ``path``."""
    from pyg_ext.ops import dispatch
    op, reduce = case['key']
    with dispatch.force_cpu_path(op, reduce, path):
        return case['ours']()


def _time_paths(case: dict[str, Any], paths: Any, budget: float
                ) -> tuple[float, dict[str, tuple[float, float]]]:
    """Every path of ``paths`` forced on ``case``, timed amid the case's
    baselines (:func:`_company`): the best baseline's ms and the paths'
    ``(CPU ms, wall ms)`` (paths that raise left out)."""
    calls = {p: functools.partial(_forced, case, p) for p in paths}
    t = _interleaved({**calls, **_company(case)}, budget)
    return (_best_of_company(t),
            {p: v for p, v in t.items() if p in calls})


def calibrate_cpu(args: argparse.Namespace) -> dict[str, Any]:
    """``--calibrate`` on CPU: for each cell (E, F) and op, time every CPU
    path of the dispatcher (forced) with both index distributions, amid
    the case's baselines (:func:`_company`), choose the path with the
    smallest worst-case slowdown over them (the two best re-timed when
    within :data:`CLOSE`, see :func:`_retimed_choice`), then time the
    dispatcher (``auto``, with the new table) against every baseline in
    interleaved rounds and report ``best baseline / ours``. Writes the
    table to ``--table`` (default: the cache file the dispatcher loads).
    All forward, no gradient, one graph per case (degree 10, seed
    ``--seeds``' first), caches warm (a graph passed again)."""
    import json

    from pyg_ext.ops import dispatch

    sizes = _as_list(args.sizes, CAL_SIZES)
    feats = _as_list(args.features, CAL_FEATURES)
    dists = _choices(args.dists, DISTS)
    seed = args.seeds[0] if args.seeds else 0
    budget = float(getattr(args, 'budget', 1.0))
    threads = torch.get_num_threads()
    print(f'CPU calibration: torch {torch.__version__}, {threads} '
          f'thread(s), E {sizes}, F {feats}, {dists}, budget {budget} s per '
          f'case and phase', flush=True)
    # the optional numba path of segment max/min is timed loaded (its
    # kernels load in the background on first use otherwise)
    from pyg_ext.ops import functional
    from pyg_ext.typing import has_package
    if has_package('numba'):
        from pyg_ext.utils._numba_setup import wait_for_kernels
        ready = wait_for_kernels(*functional.NUMBA_KERNELS, timeout=600)
        print(f"numba kernels: {'loaded' if ready else 'not available'}",
              flush=True)
    dispatch.set_cpu_table(None)
    table: dict[tuple[str, str], dict[tuple[int, int], str]] = {}
    phase1: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for E in sizes:
        for F in feats:
            cell = dispatch.cpu_bucket(E, F)
            # phase 1: every path of every keyed case, both distributions
            cand: dict[tuple[str, str], dict[str, list[float]]] = {}
            # the best baseline's time per distribution, timed with them
            ref: dict[tuple[str, str], list[float]] = {}
            for dist in dists:
                g = _cal_graph(E, F, dist, seed)
                for case in _cal_cases(*g):
                    key = case['key']
                    if key is None or len(dispatch.CPU_PATHS[key]) < 2:
                        continue
                    best, t = _time_paths(case, dispatch.CPU_PATHS[key],
                                          budget)
                    ref.setdefault(key, []).append(best)
                    for path, (ms, _) in t.items():
                        cand.setdefault(key, {}).setdefault(
                            path, []).append(ms)
                    phase1.append({'E': E, 'F': F, 'dist': dist,
                                   'op': case['op'],
                                   'reduce': case['reduce'],
                                   'paths_ms': t})
                del g
            close: dict[tuple[str, str], list[str]] = {}
            for key, per in cand.items():
                ranked = _ranked(per, len(dists), ref.get(key))
                table.setdefault(key, {})[cell] = ranked[0][1]
                if len(ranked) > 1 and ranked[1][0] <= CLOSE * ranked[0][0]:
                    close[key] = [ranked[0][1], ranked[1][1]]
            # phase 1b: the top two of a close call again, alone, with
            # twice the budget, so that noise does not pick the path
            retimed: dict[tuple[str, str], dict[str, list[float]]] = {}
            ref2: dict[tuple[str, str], list[float]] = {}
            for dist in dists if close else ():
                g = _cal_graph(E, F, dist, seed)
                for case in _cal_cases(*g):
                    key = case['key']
                    if key not in close:
                        continue
                    best, t = _time_paths(case, close[key], 2 * budget)
                    ref2.setdefault(key, []).append(best)
                    for path, (ms, _) in t.items():
                        retimed.setdefault(key, {}).setdefault(
                            path, []).append(ms)
                    phase1.append({'E': E, 'F': F, 'dist': dist,
                                   'op': case['op'],
                                   'reduce': case['reduce'],
                                   'retimed_ms': t})
                del g
            for key, per in retimed.items():
                table[key][cell] = _retimed_choice(
                    per, len(dists), close[key][0],
                    dispatch.CPU_DEFAULTS.get(key, {}).get(cell),
                    ref2.get(key))
            dispatch.set_cpu_table(table)
            # phase 2: the dispatcher against the baselines
            for dist in dists:
                g = _cal_graph(E, F, dist, seed)
                for case in _cal_cases(*g):
                    calls = {'ours': case['ours'], **case['base']}
                    tw = _interleaved(calls, budget)
                    if 'ours' not in tw:
                        continue
                    t = {n: v[0] for n, v in tw.items()}
                    base = {n: ms for n, ms in t.items() if n != 'ours'}
                    wbase = {n: v[1] for n, v in tw.items() if n != 'ours'}
                    best = min(base, key=base.get) if base else ''
                    key = case['key']
                    path = (dispatch.cpu_path(key[0], key[1], E, F) if key
                            else 'scatter')
                    if path == 'by_degree':  # the choice for this graph
                        path = f'by_degree:{dispatch.degree_path(g[3])}'
                    row = {'op': case['op'], 'reduce': case['reduce'],
                           'E': E, 'F': F, 'dist': dist, 'path': path,
                           'ours_ms': t['ours'], 'best': best,
                           'best_ms': base.get(best, math.nan),
                           'ratio': (base[best] / t['ours']) if base
                           else math.nan, 'baselines_ms': base,
                           'ours_wall_ms': tw['ours'][1],
                           'wall_ratio': (min(wbase.values()) / tw['ours'][1])
                           if wbase else math.nan,
                           'baselines_wall_ms': wbase}
                    rows.append(row)
                    print(f"{case['op']:8s} {case['reduce']:5s} E={E:<8d} "
                          f"F={F:<3d} {dist:7s} path={path:16s} ours="
                          f"{t['ours']:.4g} ms best={row['best_ms']:.4g} ms "
                          f"({best}) ratio={row['ratio']:.3f} (wall "
                          f"{row['wall_ratio']:.3f})  " + ', '.join(
                              f'{n}={ms:.4g}' for n, ms in base.items()),
                          flush=True)
                del g
    cols = ['op', 'reduce', 'E', 'F', 'dist', 'path', 'ours_ms', 'best',
            'best_ms', 'ratio', 'wall_ratio']
    print(format_table(rows, cols))
    ratios = [r['ratio'] for r in rows if not math.isnan(r['ratio'])]
    below = [r for r in rows if r['ratio'] < 0.9]
    summary = {
        'cases': len(rows),
        'min_ratio': min(ratios) if ratios else math.nan,
        'geomean_ratio': math.exp(statistics.fmean(
            math.log(v) for v in ratios)) if ratios else math.nan,
        'below_0.9': len(below),
        'min_wall_ratio': min((r['wall_ratio'] for r in rows),
                              default=math.nan),
        'timer': 'median of per-call thread CPU time (time.thread_time)',
        'torch_threads': threads,
    }
    print(f"dispatcher vs best baseline over {len(rows)} cases: min "
          f"{summary['min_ratio']:.3f}x, geomean "
          f"{summary['geomean_ratio']:.3f}x, {len(below)} below 0.9x")
    for r in below:
        print(f"  below 0.9x: {r['op']} {r['reduce']} E={r['E']} F={r['F']} "
              f"{r['dist']}: {r['ratio']:.3f} ({r['best']})")
    path = args.table or dispatch.cpu_table_path()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump({'torch': torch.__version__, 'threads': threads,
                   'candidates': dispatch.candidates_json(),
                   'table': dispatch.table_to_json(table)}, f, indent=2)
    print(f'CPU path table written to {path}')
    return {'rows': rows, 'phase1': phase1, 'summary': summary,
            'table': dispatch.table_to_json(table), 'table_path': path}
