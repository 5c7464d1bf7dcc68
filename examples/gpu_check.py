"""Check and measure every CUDA path of pyg_ext in one run (a few minutes on
one GPU): the Triton kernels against float64 (the CUDA tests), the segment
kernel variants and configurations (``--tune``: the fastest on the headline
case becomes the default for the later stages) with the per-call overhead,
the scatter headline case, the dispatcher's calibration (kept for the
matrix unless ``--keep-rules``), the PyG switch's training steps, batched
eigen precompute on CUDA vs CPU, one heterophily run timed per step, and
the scatter matrix (``--matrix-sizes``/``--matrix-degs`` for a part).

    python examples/gpu_check.py --out gpu_out --data DATA_ROOT

``DATA_ROOT`` holds ``heterophilous/minesweeper/raw/minesweeper.npz`` (or
is any folder the heterophily runner may download into). Every stage has a
time cap and ``--budget`` bounds the whole run: the matrix runs last and
stops at the budget, reporting the cases it reached. Results go to
``OUT/gpu_check.json`` (rewritten after each stage), the test report to
``OUT/junit.xml``, the dispatcher rules to ``OUT/scatter_rules.json`` (load
them with ``PYG_EXT_SCATTER_RULES=...``) and the matrix rows to
``OUT/scatter_matrix.json``.

``--tiny`` runs the same stages on tiny sizes on the CPU under
``TRITON_INTERPRET=1`` (set before import): a dry run of the script, not a
measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
T0 = time.perf_counter()


def _elapsed() -> float:
    return time.perf_counter() - T0


def _log(msg: str) -> None:
    print(f'[{_elapsed():7.1f} s] {msg}', flush=True)


class Report:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.data: dict[str, Any] = {'stages': {}}

    def stage(self, name: str, fn: Any, *args: Any) -> Any:
        _log(f'stage {name} ...')
        t = time.perf_counter()
        try:
            res = fn(*args)
            status = 'ok'
        except Exception as e:  # keep going: later stages are independent
            traceback.print_exc()
            res, status = {'error': f'{type(e).__name__}: {e}'}, 'error'
        secs = time.perf_counter() - t
        self.data['stages'][name] = {'status': status, 'seconds': secs,
                                     'result': res}
        _log(f'stage {name}: {status} in {secs:.1f} s')
        self.save()
        return res

    def save(self) -> None:
        with open(self.out / 'gpu_check.json', 'w') as f:
            json.dump(self.data, f, indent=1, default=str)


# ------------------------------------------------------------------ stages

def env(dev: Any) -> dict[str, Any]:
    import torch
    import torch_geometric
    info: dict[str, Any] = {
        'python': platform.python_version(), 'torch': torch.__version__,
        'torch_geometric': torch_geometric.__version__,
        'cuda': torch.version.cuda, 'device': str(dev)}
    try:
        import triton
        info['triton'] = triton.__version__
    except ImportError:
        info['triton'] = None
    try:
        import torch_scatter  # noqa: F401
        info['torch_scatter'] = getattr(torch_scatter, '__version__', '?')
    except ImportError:
        info['torch_scatter'] = None
    if dev.type == 'cuda':
        p = torch.cuda.get_device_properties(dev)
        info.update(name=p.name, sms=p.multi_processor_count,
                    memory_GiB=p.total_memory / 2**30)
        try:
            info['nvidia_smi'] = subprocess.run(
                ['nvidia-smi', '--query-gpu=name,driver_version,clocks.max.sm'
                 ',clocks.max.mem', '--format=csv,noheader'],
                capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError) as e:
            info['nvidia_smi'] = str(e)
    _log(json.dumps(info))
    return info


def tests(out: Path, tiny: bool, cap: float, select: str | None = None
          ) -> dict[str, Any]:
    files = (['tests/test_ops_triton.py'] if tiny else
             ['tests/test_ops_cuda.py', 'tests/test_ops_triton.py',
              'tests/test_ops_trust.py', 'tests/test_ops_compile.py',
              'tests/test_ops_fallback.py', 'tests/test_properties.py'])
    cmd = [sys.executable, '-m', 'pytest', '-q', '-rfE', '-p',
           'no:cacheprovider', '-m', 'triton or gpu',
           f'--junitxml={out / "junit.xml"}', *files]
    if tiny:
        cmd += ['-k', select or 'segment_kernel_matches_float64 and sum']
    else:
        if select:
            cmd += ['-k', select]
        try:
            import xdist  # noqa: F401
            cmd += ['-n', '8']
        except ImportError:
            pass
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                           timeout=cap)
        tail = (p.stdout + p.stderr)[-6000:]
        rc: int | str = p.returncode
    except subprocess.TimeoutExpired as e:
        so = e.stdout.decode() if isinstance(e.stdout, bytes) else (
            e.stdout or '')
        tail, rc = so[-6000:], 'timeout'
    print(tail, flush=True)
    last = [ln for ln in tail.splitlines() if ln.strip()][-1:] or ['']
    return {'cmd': ' '.join(cmd[2:]), 'rc': rc, 'summary': last[0],
            'tail': tail[-3000:]}


def headline(dev: Any, tiny: bool) -> dict[str, Any]:
    import torch

    from pyg_ext.bench.scatter import _case, _copy_bandwidth
    gpu = dev.type == 'cuda'
    bw = _copy_bandwidth(dev)
    E, F = (2_000, 8) if tiny else (10**7, 64)
    rows = _case(dev, gpu, E, E // 10, 10, F, torch.float32, 'power',
                 ['segment', 'scatter', 'spmm'], ['sum', 'mean', 'max'], bw,
                 [0])
    for r in rows:
        _log(f"{r['op']:8s} {r['reduce']:5s} {r['method']:30s} "
             f"{r['ms']:9.4f} ms {r['pct_copy']:6.1f}% copy "
             f"{r['vs_best']:6.2f}x best")
    return {'copy_GBps': bw / 1e9, 'E': E, 'F': F, 'rows': rows,
            'bars': _headline_bars(rows)}


def _headline_bars(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def ms(op: str, red: str, method: str) -> float:
        for r in rows:
            if (r['op'], r['reduce'], r['method']) == (op, red, method):
                return r['ms']
        return math.nan

    bars: dict[str, Any] = {}
    for red in ('sum', 'mean', 'max'):
        tri = ms('segment', red, 'pyg_ext (triton)')
        pct = [r['pct_copy'] for r in rows if r['op'] == 'segment'
               and r['reduce'] == red and r['method'] == 'pyg_ext (triton)']
        bars[f'segment_{red}'] = {
            'pct_copy': pct[0] if pct else math.nan,
            'vs_scatter_reduce_': ms('segment', red,
                                     'torch.scatter_reduce_') / tri,
            'vs_torch_scatter_segment_csr': ms(
                'segment', red, 'torch_scatter.segment_csr') / tri,
        }
        bars[f'spmm_{red}_vs_pyg_default'] = ms(
            'spmm', red, 'pyg default (gather+scatter)') / ms(
            'spmm', red, 'pyg_ext (triton)')
    _log(f'headline bars: {json.dumps(bars)}')
    return bars


def calibrate(dev: Any, out: Path, tiny: bool, keep: bool = False
              ) -> dict[str, Any]:
    from pyg_ext.ops import dispatch
    kw: dict[str, Any] = {}
    if tiny:
        kw = {'sizes': (256, 1024), 'features': 8}
    before = {op: dict(v) for op, v in dispatch.RULES.items()}
    rules = dispatch.calibrate(dev, path=str(out / 'scatter_rules.json'),
                               **kw)
    _log(f'rules: {rules}')
    if keep:  # the later stages measure what a user gets: built-in rules
        dispatch.RULES.clear()
        dispatch.RULES.update(before)
        _log(f'auto keeps using: {before}')
    else:  # ... or these fresh rules
        _log(f'rules replaced: {before}')
    return {'rules': rules, 'replaced': before}


def switch(dev: Any, tiny: bool) -> dict[str, Any]:
    import copy

    import torch
    from torch_geometric.nn import GATConv, GCNConv, SAGEConv

    from pyg_ext.ops import pyg_switch, use_backend
    n, e, f, h = (60, 400, 8, 8) if tiny else (100_000, 1_600_000, 128, 128)
    g = torch.Generator().manual_seed(0)
    ei = torch.randint(0, n, (2, e), generator=g).to(dev)
    x = torch.randn(n, f, generator=g).to(dev)
    y = torch.randint(0, 7, (n,), generator=g).to(dev)
    make = {'gcn': lambda i, o: GCNConv(i, o),
            'sage': lambda i, o: SAGEConv(i, o),
            'gat': lambda i, o: GATConv(i, o, heads=4, concat=False)}
    res: dict[str, Any] = {'nodes': n, 'edges': e, 'features': f}

    def sync() -> None:
        if dev.type == 'cuda':
            torch.cuda.synchronize()

    for name, mk in make.items():
        torch.manual_seed(0)
        model = torch.nn.ModuleList([mk(f, h), mk(h, 7)]).to(dev)

        def steps(m: Any, k: int = 5) -> tuple[list[float], float]:
            opt = torch.optim.SGD(m.parameters(), lr=0.05)
            losses, times = [], []
            for _ in range(k):
                sync()
                t = time.perf_counter()
                opt.zero_grad()
                out = m[1](m[0](x, ei).relu(), ei)
                loss = torch.nn.functional.cross_entropy(out, y)
                loss.backward()
                opt.step()
                sync()
                times.append(time.perf_counter() - t)
                losses.append(float(loss.detach()))
            return losses, 1e3 * statistics.median(times[1:])

        ref, t_ref = steps(copy.deepcopy(model))
        per: dict[str, Any] = {'pyg_ms_per_step': t_ref, 'losses': ref}
        for backend in ('triton', 'auto'):
            with use_backend(backend), pyg_switch():
                got, t = steps(copy.deepcopy(model))
            diff = max(abs(a - b) for a, b in zip(got, ref))
            per[backend] = {'ms_per_step': t, 'max_loss_diff': diff,
                            'speedup': t_ref / t}
        _log(f'{name}: {json.dumps(per)}')
        res[name] = per
    return res


def eigen(dev: Any, tiny: bool) -> dict[str, Any]:
    import torch

    from pyg_ext.bench.eigen import molecule_like
    from pyg_ext.utils.eigen import batched_eigenpairs
    num = 200 if tiny else 10_000
    graphs = molecule_like(num, 18, 32, 0)
    nn_ = torch.tensor([g.num_nodes for g in graphs])
    ei = torch.cat([g.edge_index for g in graphs], 1)
    eg = torch.cat([torch.full((g.edge_index.size(1),), i)
                    for i, g in enumerate(graphs)])

    def best(device: Any, threads: int | None = None) -> tuple[float, Any]:
        old = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
        try:
            ts, r = [], None
            for _ in range(3):
                if dev.type == 'cuda':
                    torch.cuda.synchronize()
                t = time.perf_counter()
                r = batched_eigenpairs(ei, eg, nn_, 8, device=device)
                if dev.type == 'cuda':
                    torch.cuda.synchronize()
                ts.append(time.perf_counter() - t)
            return min(ts), r
        finally:
            torch.set_num_threads(old)

    t_cpu1, r_cpu = best('cpu', 1)
    t_cpu, _ = best('cpu')
    res: dict[str, Any] = {'graphs': num, 'k': 8,
                           'cpu_1thread_graphs_per_s': num / t_cpu1,
                           'cpu_threads': torch.get_num_threads(),
                           'cpu_graphs_per_s': num / t_cpu}
    if dev.type == 'cuda':
        t_gpu, r_gpu = best(dev)
        res['cuda_graphs_per_s'] = num / t_gpu
        res['cuda_vs_cpu_1thread'] = t_cpu1 / t_gpu
        res['cuda_vs_cpu'] = t_cpu / t_gpu
        res['max_eigval_diff'] = float(
            (r_gpu.eigvals.cpu().double() - r_cpu.eigvals.double()).abs()
            .max())
    _log(json.dumps(res))
    return res


def heterophily(dev: Any, out: Path, data: str, tiny: bool,
                cap: float) -> dict[str, Any]:
    cmd = [sys.executable, '-m', 'pyg_ext', 'bench', 'heterophily',
           '--dataset', 'minesweeper', '--model', 'gat-sep', '--splits',
           '0,', '--root', data, '--json', str(out / 'heterophily.json'),
           '--history', str(out / 'heterophily_history.json'),
           '--log-every', '5', '--no-progress']
    cmd += (['--quick', '--steps', '5', '--device', 'cpu'] if tiny
            else ['--layers', '4', '--amp', '--device', 'cuda'])
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                           timeout=cap)
        tail, rc = (p.stdout + p.stderr)[-5000:], p.returncode
    except subprocess.TimeoutExpired as e:
        so = e.stdout.decode() if isinstance(e.stdout, bytes) else (
            e.stdout or '')
        tail, rc = so[-5000:], 'timeout'
    print(tail, flush=True)
    return {'cmd': ' '.join(cmd[2:]), 'rc': rc,
            'wall_s': time.perf_counter() - t, 'tail': tail[-2500:]}


def kernels(dev: Any, tiny: bool, tune: bool = False,
            quick: bool = False) -> dict[str, Any]:
    """Segment kernel variants and configurations: the whole grid
    (``'scan'``, ``'rows'`` and ``'tiles'``, over chunk, tile and warp
    counts; ``quick``: a few around the shipped default) on the headline
    case (E = 1e7, degree 10, F = 64, power-law, fp32), then the best eight
    of it and the best of each kernel on six more cases, each against
    torch's segment kernel and ``index_add_`` and checked against torch;
    the shipped default is timed on every case as ``'default'``. With
    ``tune`` the fastest variant of the headline case becomes the default
    (``_triton.SEGMENT_KERNEL`` and ``TUNED``) for the later stages. Then
    the per-call overhead on a small case (launcher, op entry, public op,
    one torch op)."""
    import torch

    from pyg_ext.bench.scatter import _copy_bandwidth, _graph, _timer
    from pyg_ext.ops import _triton
    from pyg_ext.ops import functional as fn
    from pyg_ext.ops._custom import segment_csr_op
    from pyg_ext.ops._torch import index2ptr
    from pyg_ext.ops._triton import segment_csr_triton
    gpu = dev.type == 'cuda'
    bw = _copy_bandwidth(dev)
    timer = _timer(dev, True, None if gpu else 5.0)
    # (kernel, BLOCK_E, TILE_E, num_warps) at 64 features
    if tiny:
        cases = [(2_000, 10, 16, 'power', torch.float32, False),
                 (2_000, 10, 1, 'power', torch.float32, False)]
        grid = [('scan', 64, 0, 4), ('rows', 64, 16, 4),
                ('tiles', 64, 16, 1), ('tiles', 128, 8, 2)]
    else:
        cases = [(10**7, 10, 64, 'power', torch.float32, False),
                 (10**7, 10, 64, 'uniform', torch.float32, False),
                 (10**7, 50, 64, 'uniform', torch.float32, False),
                 (10**7, 10, 1, 'power', torch.float32, False),
                 (10**7, 10, 256, 'power', torch.float32, False),
                 (10**7, 10, 64, 'power', torch.bfloat16, False),
                 (10**7, 10, 64, 'power', torch.float32, True)]
        grid = ([('scan', be, 0, nw) for be, nw in
                 ((64, 4), (64, 1), (32, 1), (128, 2), (128, 4))]
                + [('rows', be, te, nw) for be, te, nw in
                   ((1024, 16, 4), (2048, 16, 4), (4096, 16, 8),
                    (2048, 32, 4))]
                + [('tiles', be, te, nw) for be in (1024, 4096)
                   for te in (8, 16, 32) for nw in (1, 2)]
                + [('tiles', 512, 16, 1), ('tiles', 16384, 16, 1),
                   ('tiles', 4096, 32, 4), ('tiles', 4096, 64, 4)])
        if quick:
            grid = [('scan', 128, 0, 4), ('tiles', 1024, 32, 1),
                    ('tiles', 512, 32, 1), ('tiles', 2048, 32, 1),
                    ('tiles', 1024, 64, 1), ('tiles', 1024, 64, 2),
                    ('tiles', 2048, 64, 2)]
    out: dict[str, Any] = {'copy_GBps': bw / 1e9, 'cases': []}
    head = _kernel_case(dev, timer, bw, grid, *cases[0])
    out['cases'].append(head)
    ranked = sorted((v['ms'], k) for k, v in head['times'].items()
                    if 'ms' in v and k in head['variants'])
    best = ranked[0][1] if ranked else None
    keep = [k for _, k in ranked[:8]]
    for fam in ('scan', 'rows', 'tiles'):
        fam_best = [k for _, k in ranked if k.startswith(fam)][:1]
        keep += [k for k in fam_best if k not in keep]
    sub = [head['variants'][k] for k in keep]
    if best is not None and tune:
        kern, be, te, nw = head['variants'][best]
        _triton.SEGMENT_KERNEL = kern
        _triton.TUNED[kern] = (be, te, nw)
        out['tuned'] = {'kernel': kern, 'BLOCK_E': be, 'TILE_E': te,
                        'num_warps': nw, 'ms': head['times'][best]['ms']}
        _log(f"tuned default: {out['tuned']}")
    for case in cases[1:]:
        if gpu:
            torch.cuda.empty_cache()
        out['cases'].append(_kernel_case(dev, timer, bw, sub, *case))
    if gpu:
        torch.cuda.empty_cache()
    # per-call overhead on a small case: where the fixed cost goes
    E, F, N = (200, 4, 20) if tiny else (10_000, 16, 1_000)
    gen = torch.Generator(device=dev).manual_seed(1)
    srt = _graph(E, N, 'power', gen, dev).sort()[0]
    ptr = index2ptr(srt, N)
    src = torch.randn(E, F, generator=gen, device=dev)
    small = _timer(dev, False, None if gpu else 5.0)
    calls = {
        'launcher (segment_csr_triton)': lambda: segment_csr_triton(
            src, srt, ptr, 'sum'),
        'op entry (segment_csr_op)': lambda: segment_csr_op(
            src, srt, ptr, 'sum'),
        "segment(backend='triton')": lambda: fn.segment(
            src, ptr, 'sum', index=srt, backend='triton'),
        "segment(backend='torch')": lambda: fn.segment(
            src, ptr, 'sum', index=srt, backend='torch'),
        "segment(backend='auto')": lambda: fn.segment(
            src, ptr, 'sum', index=srt, backend='auto'),
        'torch.index_add_': lambda: src.new_zeros(N, F).index_add_(
            0, srt, src),
        'torch.empty': lambda: torch.empty(N, F, device=dev),
    }
    out['overhead_us'] = {}
    for name, call in calls.items():
        try:
            out['overhead_us'][name] = 1e3 * small(call)
        except Exception as e:
            out['overhead_us'][name] = f'{type(e).__name__}: {e}'
    _log(f"per-call cost (us): {json.dumps(out['overhead_us'])}")
    return out


def _kernel_case(dev: Any, timer: Any, bw: float, grid: list[Any], E: int,
                 deg: int, F: int, dist: str, dtype: Any, gather: bool
                 ) -> dict[str, Any]:
    """One case of :func:`kernels`: every variant timed and checked."""
    import torch

    from pyg_ext.bench.scatter import _graph
    from pyg_ext.ops._torch import index2ptr, scatter_torch, segment_torch
    from pyg_ext.ops._triton import scaled_config, segment_csr_triton
    N = E // deg
    gen = torch.Generator(device=dev).manual_seed(0)
    idx = _graph(E, N, dist, gen, dev)
    srt = idx.sort()[0]
    ptr = index2ptr(srt, N)
    extra: dict[str, Any] = {}
    if gather:
        src = torch.randn(N, F, generator=gen, device=dev).to(dtype)
        col = torch.randint(0, N, (E,), generator=gen, device=dev)
        extra = {'col': col}
        ref = scatter_torch(src.float()[col], srt, 0, N, 'sum')
        nbytes = 2 * N * F * src.element_size() + E * 8 + (N + 1) * 8
    else:
        src = torch.randn(E, F, generator=gen, device=dev).to(dtype)
        ref = segment_torch(src.float(), ptr, 'sum')
        nbytes = (E + N) * F * src.element_size() + (N + 1) * 8
    row: dict[str, Any] = {'E': E, 'deg': deg, 'F': F, 'dist': dist,
                           'dtype': str(dtype), 'gather': gather,
                           'times': {}, 'variants': {}}

    def record(name: str, call: Any) -> None:
        try:
            err = float((call().float() - ref).abs().max())
            ms = timer(call)
            row['times'][name] = {'ms': ms, 'max_err': err,
                                  'pct_copy': 100 * nbytes / (ms * 1e-3)
                                  / bw}
        except Exception as e:  # a config that does not compile
            row['times'][name] = {'error': f'{type(e).__name__}: {e}'}

    for kern, be, te, nw in grid:
        # the 64-feature configuration adapted to F as the defaults are
        cfg = scaled_config(kern, F, be, te, nw)
        name = f'{kern} ' + '/'.join(map(str, (be, te, nw)))
        row['variants'][name] = (kern, be, te, nw)
        record(name, lambda cfg=cfg, kern=kern: segment_csr_triton(
            src, srt, ptr, 'sum', config=cfg, kernel=kern, **extra))
    record('default', lambda: segment_csr_triton(
        src, srt, ptr, 'sum', **extra))
    if not gather:
        record('torch.segment_reduce', lambda: segment_torch(
            src, ptr, 'sum'))
        record('torch.index_add_', lambda: src.new_zeros(
            N, F).index_add_(0, srt, src))
    ok = {k: v for k, v in row['times'].items() if 'ms' in v}
    row['best'] = min(ok, key=lambda k: ok[k]['ms']) if ok else None
    top = sorted(ok.items(), key=lambda kv: kv[1]['ms'])[:4]
    _log(f'kernels E={E} deg={deg} F={F} {dist} {dtype} gather={gather}: '
         + ', '.join(f"{k} {v['ms']:.3f} ms ({v['pct_copy']:.0f}%)"
                     for k, v in top)
         + f" | default {ok.get('default', {}).get('ms', math.nan)}")
    return row


def matrix(dev: Any, out: Path, tiny: bool, deadline: float,
           rep_ms: float, sizes_arg: str | None = None,
           degs_arg: str | None = None) -> dict[str, Any]:
    import itertools

    import torch

    from pyg_ext.bench.scatter import _case, _copy_bandwidth
    gpu = dev.type == 'cuda'
    bw = _copy_bandwidth(dev)
    if tiny:
        sizes, degs, feats = [500, 2000], [2, 10], [1, 16]
        dtypes = [torch.float32]
    else:
        sizes, degs, feats = [10**4, 10**5, 10**6, 10**7], [2, 10, 50], \
            [1, 16, 64, 256]
        dtypes = [torch.float32, torch.bfloat16]
    if sizes_arg:
        sizes = [int(float(v)) for v in sizes_arg.split(',')]
    if degs_arg:
        degs = [int(v) for v in degs_arg.split(',')]
    cases = list(itertools.product(sizes, degs, feats, dtypes,
                                   ['power', 'uniform']))
    rows: list[dict[str, Any]] = []
    done = 0
    for E, deg, F, dtype, dist in cases:
        if _elapsed() > deadline:
            break
        rows += _case(dev, gpu, E, max(E // deg, 1), deg, F, dtype, dist,
                      ['segment', 'scatter', 'spmm'], ['sum', 'mean', 'max'],
                      bw, [0], rep_ms)
        done += 1
        if done % 12 == 0:
            _log(f'matrix: {done}/{len(cases)} cases')
            with open(out / 'scatter_matrix.json', 'w') as f:
                json.dump({'copy_GBps': bw / 1e9, 'rows': rows}, f)
        if gpu:
            torch.cuda.empty_cache()
    with open(out / 'scatter_matrix.json', 'w') as f:
        json.dump({'copy_GBps': bw / 1e9, 'rows': rows}, f)
    auto = [r for r in rows if r['method'] == 'pyg_ext (auto)']
    tri = [r for r in rows if r['method'] == 'pyg_ext (triton)']
    worst = sorted(auto, key=lambda r: r['vs_best'])[:8]
    res = {'cases_run': done, 'cases': len(cases), 'copy_GBps': bw / 1e9,
           'auto_vs_best_min': min((r['vs_best'] for r in auto),
                                   default=math.nan),
           'auto_vs_best_geomean': math.exp(statistics.fmean(
               math.log(r['vs_best']) for r in auto)) if auto else math.nan,
           'triton_vs_best_geomean': math.exp(statistics.fmean(
               math.log(r['vs_best']) for r in tri)) if tri else math.nan,
           'auto_worst': [{k: r[k] for k in ('op', 'reduce', 'E', 'deg',
                                             'F', 'dtype', 'dist', 'ms',
                                             'vs_best')} for r in worst]}
    _log(f"matrix: {done}/{len(cases)} cases; auto vs best worst "
         f"{res['auto_vs_best_min']:.3f}, geomean "
         f"{res['auto_vs_best_geomean']:.3f}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', required=True)
    ap.add_argument('--data', default=None,
                    help='dataset root for the heterophily stage')
    ap.add_argument('--tiny', action='store_true',
                    help='tiny sizes on CPU under TRITON_INTERPRET=1')
    ap.add_argument('--budget', type=float, default=430.0,
                    help='seconds for the whole run (the matrix stops '
                    'there)')
    ap.add_argument('--rep-ms', type=float, default=8.0,
                    help='do_bench repeat time per matrix timing')
    ap.add_argument('--skip', default='',
                    help='comma list of stages to skip')
    ap.add_argument('--tune', action='store_true',
                    help="the 'kernels' stage makes its fastest variant the "
                    'default for the later stages')
    ap.add_argument('--quick-kernels', action='store_true',
                    help="a few configurations in the 'kernels' stage")
    ap.add_argument('--tests-k', default=None,
                    help="pytest -k expression for the 'tests' stage")
    ap.add_argument('--matrix-sizes', default=None,
                    help='comma list of E for the matrix (default 1e4-1e7)')
    ap.add_argument('--matrix-degs', default=None,
                    help='comma list of degrees for the matrix')
    ap.add_argument('--keep-rules', action='store_true',
                    help="the 'calibrate' stage restores the rules in use "
                    'before it (the built-in ones) for the later stages')
    ap.add_argument('--segment-kernel', default=None,
                    choices=('scan', 'rows', 'tiles'),
                    help='the Triton segment kernel (PYG_EXT_SEGMENT_KERNEL; '
                    "default: 'tiles', 'scan' for one feature column)")
    args = ap.parse_args()
    if args.tiny:
        os.environ['TRITON_INTERPRET'] = '1'
    if args.segment_kernel:
        os.environ['PYG_EXT_SEGMENT_KERNEL'] = args.segment_kernel
    os.environ.setdefault('PYG_EXT_NUMBA_BACKGROUND', '0')
    sys.path.insert(0, str(ROOT))
    import torch
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device('cpu' if args.tiny or not torch.cuda.is_available()
                       else 'cuda')
    skip = set(filter(None, args.skip.split(',')))
    rep = Report(out)
    rep.data['args'] = vars(args)
    rep.stage('env', env, dev)
    stages: list[tuple[str, Any, tuple[Any, ...]]] = [
        ('tests', tests, (out, args.tiny, 150.0, args.tests_k)),
        ('kernels', kernels, (dev, args.tiny, args.tune,
                              args.quick_kernels)),
        ('headline', headline, (dev, args.tiny)),
        ('calibrate', calibrate, (dev, out, args.tiny, args.keep_rules)),
        ('switch', switch, (dev, args.tiny)),
        ('eigen', eigen, (dev, args.tiny)),
        ('heterophily', heterophily,
         (dev, out, args.data or str(ROOT / 'datasets'), args.tiny, 100.0)),
        ('matrix', matrix, (dev, out, args.tiny, args.budget, args.rep_ms,
                            args.matrix_sizes, args.matrix_degs)),
    ]
    for name, fn, a in stages:
        if name not in skip:
            rep.stage(name, fn, *a)
    _log('done')


if __name__ == '__main__':
    main()
