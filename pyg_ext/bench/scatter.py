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
matrix is small. ``--calibrate`` (CUDA) also times Triton against torch for
the dispatcher and writes its rules (see ``pyg_ext.ops.dispatch``).
"""

from __future__ import annotations

import argparse
import itertools
import math
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
    parser.add_argument('--calibrate', default=None, metavar='PATH',
                        help='(CUDA) time Triton vs torch for the dispatcher '
                        'and write its rules to PATH (default: no '
                        'calibration)')


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
    if dist == 'uniform':
        idx = torch.randint(0, N, (E,), generator=gen)
    elif dist == 'power':
        w = 1.0 / torch.arange(1, N + 1, dtype=torch.float64)
        r = torch.multinomial(w, E, replacement=True, generator=gen)
        idx = torch.randperm(N, generator=gen)[r]
    else:
        raise ValueError(f"unknown distribution '{dist}'")
    return idx.to(device)


def _timer(device: torch.device, big: bool) -> Callable[[Callable[[], Any]],
                                                          float]:
    if device.type == 'cuda':
        from triton.testing import do_bench

        def cuda_time(fn: Callable[[], Any]) -> float:
            return float(do_bench(fn, warmup=5 if big else 10,
                                  rep=25 if big else 40,
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
    from pyg_ext.typing import has_package

    F = src.size(1)
    tred = {'sum': 'sum', 'mean': 'mean', 'max': 'amax', 'min': 'amin'}[
        reduce]
    m: dict[str, Callable[[], Any]] = {}
    ts = None
    if has_package('torch_scatter'):
        import torch_scatter as ts  # noqa: F811
    if op == 'segment':
        ib = srt.view(-1, 1).expand(-1, F)
        if gpu:
            m['pyg_ext (triton)'] = lambda: fn.segment(
                src, ptr, reduce, index=srt, backend='triton')
        m['pyg_ext (auto)'] = lambda: fn.segment(src, ptr, reduce,
                                                 index=srt)
        m['torch.segment_reduce'] = lambda: fn.segment(src, ptr, reduce,
                                                       backend='torch')
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
    if args.calibrate:
        if not gpu:
            raise ValueError('--calibrate needs a CUDA device')
        from pyg_ext.ops.dispatch import calibrate
        calibrate(dev, path=args.calibrate)
        print(f'dispatcher rules written to {args.calibrate}')
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
                      ops, reduces, copy_bw, args.seeds)
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
          copy_bw: float, seeds: list[int]) -> list[dict[str, Any]]:
    from pyg_ext.ops._torch import index2ptr
    times: dict[tuple[str, str, str], list[float]] = {}
    timer = _timer(dev, E * F >= 10**7)
    for seed in seeds:
        gen = torch.Generator().manual_seed(seed)
        idx = _graph(E, N, dist, gen, dev)
        srt = idx.sort()[0]
        ptr = index2ptr(srt, N)
        src = torch.randn(E, F, generator=gen).to(dev, dtype)
        x = torch.randn(N, F, generator=gen).to(dev, dtype)
        col = torch.randint(0, N, (E,), generator=gen).to(dev)
        w = torch.rand(E, generator=gen).to(dev, dtype)
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
