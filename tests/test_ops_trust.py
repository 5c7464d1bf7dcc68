"""Bad input to pyg_ext.ops and the pyg_ext.nn aggregations (issue #16).

Every public name of :mod:`pyg_ext.ops` and every aggregation module must
refuse bad input with a ``ValueError``/``TypeError`` whose message names the
argument, before any unchecked kernel runs. Before the fix, out-of-range or
negative ids reached ``torch.sparse`` CSR products and the Triton kernels
unchecked: ``munmap_chunk(): invalid pointer`` aborts, segfaults, or rows of
garbage (``7e20``). Such a regression would kill the test session, so every
call with bad input runs in **one child process** (``sys.executable``) that
reports each case as a JSON line; a crash fails the remaining cases cleanly.

The child also runs the Triton kernels (``TRITON_INTERPRET=1``) with
``check=False`` on bad ids: the kernels mask every id, so they must neither
crash nor disturb the rows that only valid entries reach.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest
import torch

import pyg_ext.nn.aggr as aggr_mod
import pyg_ext.ops as ops
from pyg_ext.typing import has_package

HAS_TRITON = has_package('triton')
VALUE_ERR, TYPE_ERR = 'ValueError', 'TypeError'

# Inputs shared by the cases (built in the child): 6 entries into 5 groups,
# sorted, group 3 empty; a 5-node graph with a repeated edge.
SETUP = """
import warnings
import torch
warnings.simplefilter('ignore')
from pyg_ext import ops
from pyg_ext.nn import aggr
torch.manual_seed(0)
src = torch.randn(6, 3)
idx = torch.tensor([0, 1, 1, 2, 4, 4])
ptr = torch.tensor([0, 1, 3, 4, 4, 6])
x = torch.randn(5, 3)
ei = torch.tensor([[0, 1, 2, 3, 4, 0, 0], [1, 2, 3, 4, 0, 0, 0]])
w = torch.rand(7)
rowptr = torch.tensor([0, 3, 4, 5, 6, 7])
col = torch.tensor([0, 0, 4, 0, 1, 2, 3])
def csr(crow, colidx, n=5, m=5):
    return torch.sparse_csr_tensor(torch.tensor(crow), torch.tensor(colidx),
                                   torch.ones(len(colidx)), (n, m),
                                   check_invariants=False)
def bad(t, pos, value):
    t = t.clone()
    t[pos] = value
    return t
"""

# (case id, public name, call, exception, words the message must contain)
CASES: list[tuple[str, str, str, str, tuple[str, ...]]] = []


def _case(cid: str, name: str, call: str, exc: str, *words: str) -> None:
    CASES.append((cid, name, call, exc, words))


for b in ('torch', 'triton'):
    B = f", backend='{b}'"
    # scatter / scatter_max / scatter_min / scatter_softmax
    for fn in ('scatter', 'scatter_max', 'scatter_min', 'scatter_softmax'):
        r = ", reduce='sum'" if fn == 'scatter' else ''
        f = f'ops.{fn}'
        _case(f'{fn}-{b}-index-eq-dim_size', fn,
              f'{f}(src, idx, 0, 4{r}{B})', VALUE_ERR, 'index', 'dim_size')
        _case(f'{fn}-{b}-index-huge', fn,
              f'{f}(src, bad(idx, 2, 100000), 0, 5{r}{B})', VALUE_ERR,
              'index', '100000')
        _case(f'{fn}-{b}-index-negative', fn,
              f'{f}(src, bad(idx, 2, -1), 0, 5{r}{B})', VALUE_ERR, 'index')
        _case(f'{fn}-{b}-index-negative-no-size', fn,
              f'{f}(src, bad(idx, 2, -1){B})', VALUE_ERR, 'index')
        _case(f'{fn}-{b}-index-float', fn,
              f'{f}(src, idx.float(), 0, 5{r}{B})', TYPE_ERR, 'index')
        _case(f'{fn}-{b}-index-2d', fn,
              f'{f}(src, idx.view(-1, 1), 0, 5{r}{B})', VALUE_ERR, 'index')
        _case(f'{fn}-{b}-index-length', fn,
              f'{f}(src, idx[:4], 0, 5{r}{B})', VALUE_ERR, 'index')
        _case(f'{fn}-{b}-dim', fn, f'{f}(src, idx, 2, 5{r}{B})', VALUE_ERR,
              'dim')
        _case(f'{fn}-{b}-dim-float', fn, f'{f}(src, idx, 0.0, 5{r}{B})',
              TYPE_ERR, 'dim')
        _case(f'{fn}-{b}-dim_size-negative', fn,
              f'{f}(src, idx, 0, -2{r}{B})', VALUE_ERR, 'dim_size')
        _case(f'{fn}-{b}-dim_size-float', fn,
              f'{f}(src, idx, 0, 5.0{r}{B})', TYPE_ERR, 'dim_size')
        _case(f'{fn}-{b}-src', fn, f'{f}([1.0] * 6, idx, 0, 5{r}{B})',
              TYPE_ERR, 'src')
    _case(f'scatter-{b}-reduce', 'scatter',
          f"ops.scatter(src, idx, 0, 5, 'median'{B})", VALUE_ERR, 'reduce')
    _case(f'scatter-{b}-reduce-type', 'scatter',
          f'ops.scatter(src, idx, 0, 5, None{B})', TYPE_ERR, 'reduce')
    # segment
    _case(f'segment-{b}-ptr-first', 'segment',
          f"ops.segment(src, bad(ptr, 0, 1), 'sum'{B})", VALUE_ERR, 'ptr')
    _case(f'segment-{b}-ptr-last-short', 'segment',
          f"ops.segment(src, bad(ptr, -1, 5), 'sum'{B})", VALUE_ERR, 'ptr')
    _case(f'segment-{b}-ptr-last-long', 'segment',
          f"ops.segment(src, bad(ptr, -1, 100000), 'max'{B})", VALUE_ERR,
          'ptr')
    _case(f'segment-{b}-ptr-decreasing', 'segment',
          f"ops.segment(src, bad(ptr, 2, 0), 'sum'{B})", VALUE_ERR, 'ptr')
    _case(f'segment-{b}-ptr-negative', 'segment',
          f"ops.segment(src, bad(ptr, 1, -3), 'mean'{B})", VALUE_ERR, 'ptr')
    _case(f'segment-{b}-ptr-float', 'segment',
          f"ops.segment(src, ptr.float(), 'sum'{B})", TYPE_ERR, 'ptr')
    _case(f'segment-{b}-ptr-2d', 'segment',
          f"ops.segment(src, ptr.view(1, -1), 'sum'{B})", VALUE_ERR, 'ptr')
    _case(f'segment-{b}-index-huge', 'segment',
          f"ops.segment(src, ptr, 'sum', index=bad(idx, 5, 100000){B})",
          VALUE_ERR, 'index')
    _case(f'segment-{b}-index-negative', 'segment',
          f"ops.segment(src, ptr, 'sum', index=bad(idx, 0, -1){B})",
          VALUE_ERR, 'index')
    _case(f'segment-{b}-index-eq-N', 'segment',
          f"ops.segment(src, ptr, 'max', index=bad(idx, 5, 5){B})",
          VALUE_ERR, 'index', 'ptr')
    _case(f'segment-{b}-index-length', 'segment',
          f"ops.segment(src, ptr, 'sum', index=idx[1:]{B})", VALUE_ERR,
          'index')
    _case(f'segment-{b}-index-float', 'segment',
          f"ops.segment(src, ptr, 'sum', index=idx.float(){B})", TYPE_ERR,
          'index')
    _case(f'segment-{b}-reduce', 'segment',
          f"ops.segment(src, ptr, 'mul'{B})", VALUE_ERR, 'reduce')
    # softmax
    _case(f'softmax-{b}-index-huge', 'softmax',
          f'ops.softmax(src, bad(idx, 1, 100000), num_nodes=5{B})',
          VALUE_ERR, 'index', 'num_nodes')
    _case(f'softmax-{b}-index-eq-num_nodes', 'softmax',
          f'ops.softmax(src, idx, num_nodes=4{B})', VALUE_ERR, 'index')
    _case(f'softmax-{b}-index-negative', 'softmax',
          f'ops.softmax(src, bad(idx, 1, -1){B})', VALUE_ERR, 'index')
    _case(f'softmax-{b}-index-float', 'softmax',
          f'ops.softmax(src, idx.float(){B})', TYPE_ERR, 'index')
    _case(f'softmax-{b}-num_nodes', 'softmax',
          f'ops.softmax(src, idx, num_nodes=-1{B})', VALUE_ERR, 'num_nodes')
    _case(f'softmax-{b}-dim', 'softmax',
          f'ops.softmax(src, idx, dim=-3{B})', VALUE_ERR, 'dim')
    _case(f'softmax-{b}-ptr', 'softmax',
          f'ops.softmax(src, None, bad(ptr, -1, 100000){B})', VALUE_ERR,
          'ptr')
    _case(f'softmax-{b}-ptr-decreasing', 'softmax',
          f'ops.softmax(src, None, bad(ptr, 2, 0){B})', VALUE_ERR, 'ptr')
    _case(f'softmax-{b}-ptr-index', 'softmax',
          f'ops.softmax(src, bad(idx, 3, 5), ptr{B})', VALUE_ERR, 'index')
    # spmm_csr
    _case(f'spmm_csr-{b}-col-huge', 'spmm_csr',
          f"ops.spmm_csr(rowptr, bad(col, 1, 100000), x{B})", VALUE_ERR,
          'col')
    _case(f'spmm_csr-{b}-col-eq-M', 'spmm_csr',
          f"ops.spmm_csr(rowptr, bad(col, 1, 5), x, w, 'max'{B})", VALUE_ERR,
          'col')
    _case(f'spmm_csr-{b}-col-negative', 'spmm_csr',
          f"ops.spmm_csr(rowptr, bad(col, 1, -1), x, None, 'mean'{B})",
          VALUE_ERR, 'col')
    _case(f'spmm_csr-{b}-col-float', 'spmm_csr',
          f'ops.spmm_csr(rowptr, col.float(), x{B})', TYPE_ERR, 'col')
    _case(f'spmm_csr-{b}-rowptr-decreasing', 'spmm_csr',
          f'ops.spmm_csr(torch.tensor([0, 3, 1, 5, 6, 7]), col, x{B})',
          VALUE_ERR, 'rowptr')
    _case(f'spmm_csr-{b}-rowptr-last', 'spmm_csr',
          f'ops.spmm_csr(bad(rowptr, -1, 100000), col, x{B})', VALUE_ERR,
          'rowptr')
    _case(f'spmm_csr-{b}-rowptr-first', 'spmm_csr',
          f"ops.spmm_csr(bad(rowptr, 0, -4), col, x, None, 'max'{B})",
          VALUE_ERR, 'rowptr')
    _case(f'spmm_csr-{b}-row-out-of-range', 'spmm_csr',
          f"ops.spmm_csr(rowptr, col, x, None, 'max', "
          f"row=torch.tensor([0, 0, 0, 1, 2, 3, 9]){B})", VALUE_ERR, 'row')
    _case(f'spmm_csr-{b}-edge_weight-shape', 'spmm_csr',
          f'ops.spmm_csr(rowptr, col, x, w[:5]{B})', VALUE_ERR,
          'edge_weight')
    _case(f'spmm_csr-{b}-reduce', 'spmm_csr',
          f"ops.spmm_csr(rowptr, col, x, None, 'mul'{B})", VALUE_ERR,
          'reduce')
    # spmm: sparse CSR / COO matrices and edge_index
    _case(f'spmm-{b}-csr-col-huge', 'spmm',
          f'ops.spmm(csr([0, 1, 2, 3, 3, 3], [0, 100000, 2]), x{B})',
          VALUE_ERR, 'adj')
    _case(f'spmm-{b}-csr-col-negative', 'spmm',
          f'ops.spmm(csr([0, 1, 2, 3, 3, 3], [0, -5, 2]), x{B})', VALUE_ERR,
          'adj')
    _case(f'spmm-{b}-csr-crow-decreasing', 'spmm',
          f"ops.spmm(csr([0, 3, 1, 3, 3, 3], [0, 1, 2]), x, 'max'{B})",
          VALUE_ERR, 'adj')
    _case(f'spmm-{b}-csr-crow-last', 'spmm',
          f'ops.spmm(csr([0, 1, 2, 3, 3, 9], [0, 1, 2]), x{B})', VALUE_ERR,
          'adj')
    _case(f'spmm-{b}-csr-shape', 'spmm',
          f'ops.spmm(csr([0, 1, 2, 3, 3, 3], [0, 1, 2], 5, 9), x{B})',
          VALUE_ERR, 'adj')
    _case(f'spmm-{b}-csr-edge_weight', 'spmm',
          f'ops.spmm(csr([0, 1, 2, 3, 3, 3], [0, 1, 2]), x, '
          f"'sum', torch.rand(3){B})", VALUE_ERR, 'edge_weight')
    _case(f'spmm-{b}-coo-huge', 'spmm',
          f'ops.spmm(torch.sparse_coo_tensor(torch.tensor([[0, 1], [0, 9]]),'
          f' torch.ones(2), (5, 5)), x{B})', VALUE_ERR, 'adj')
    _case(f'spmm-{b}-edge_index-source-huge', 'spmm',
          f'ops.spmm(bad(ei, (0, 2), 100000), x{B})', VALUE_ERR,
          'edge_index')
    _case(f'spmm-{b}-edge_index-target-eq-N', 'spmm',
          f"ops.spmm(bad(ei, (1, 2), 5), x, 'mean'{B})", VALUE_ERR,
          'edge_index')
    _case(f'spmm-{b}-edge_index-negative', 'spmm',
          f"ops.spmm(bad(ei, (1, 0), -1), x, 'max'{B})", VALUE_ERR,
          'edge_index')
    _case(f'spmm-{b}-edge_index-num_nodes', 'spmm',
          f"ops.spmm(ei, x, 'sum', None, 3{B})", VALUE_ERR, 'edge_index',
          'num_nodes')
    _case(f'spmm-{b}-edge_index-float', 'spmm',
          f'ops.spmm(ei.float(), x{B})', TYPE_ERR, 'edge_index')
    _case(f'spmm-{b}-edge_index-transposed', 'spmm',
          f'ops.spmm(ei.t().contiguous(), x{B})', VALUE_ERR, 'edge_index')
    _case(f'spmm-{b}-edge_index-unsorted', 'spmm',
          f'ops.spmm(ei, x, is_sorted=True{B})', VALUE_ERR, 'edge_index',
          'sorted')
    _case(f'spmm-{b}-edge_weight-shape', 'spmm',
          f"ops.spmm(ei, x, 'sum', w[:3]{B})", VALUE_ERR, 'edge_weight')
    _case(f'spmm-{b}-edge_weight-int', 'spmm',
          f"ops.spmm(ei, x, 'sum', torch.ones(7, dtype=torch.long){B})",
          TYPE_ERR, 'edge_weight')
    _case(f'spmm-{b}-x', 'spmm', f'ops.spmm(ei, torch.tensor(1.0){B})',
          VALUE_ERR, 'x')
    _case(f'spmm-{b}-reduce', 'spmm', f"ops.spmm(ei, x, 'median'{B})",
          VALUE_ERR, 'reduce')
    # aggregation modules
    for cls in ('FastSumAggregation', 'FastMeanAggregation',
                'FastMaxAggregation', 'FastMinAggregation',
                'FastSoftmaxAggregation'):
        m = f"aggr.{cls}(backend='{b}')"
        _case(f'{cls}-{b}-index-huge', cls,
              f'{m}(src, bad(idx, 1, 100000), dim_size=5)', VALUE_ERR,
              'index')
        _case(f'{cls}-{b}-index-eq-dim_size', cls,
              f'{m}(src, idx, dim_size=4)', VALUE_ERR, 'index')
        _case(f'{cls}-{b}-index-negative', cls,
              f'{m}(src, bad(idx, 1, -1), dim_size=5)', VALUE_ERR, 'index')
        _case(f'{cls}-{b}-index-float', cls, f'{m}(src, idx.float())',
              TYPE_ERR, 'index')
        _case(f'{cls}-{b}-index-2d', cls,
              f'{m}(src, idx.view(-1, 1), dim_size=5)', VALUE_ERR, 'index')
        _case(f'{cls}-{b}-ptr', cls, f'{m}(src, ptr=bad(ptr, -1, 100000))',
              VALUE_ERR, 'ptr')
        _case(f'{cls}-{b}-ptr-index', cls,
              f'{m}(src, bad(idx, 3, 5), ptr=ptr)', VALUE_ERR, 'index')
        _case(f'{cls}-{b}-dim', cls, f'{m}(src, idx, dim=5)', VALUE_ERR,
              'dim')
        _case(f'{cls}-{b}-dim_size', cls, f'{m}(src, ptr=ptr, dim_size=9)',
              VALUE_ERR, 'dim_size')
        _case(f'{cls}-{b}-reduce', cls,
              f"{m}.reduce(src, idx, None, 5, 0, 'median')", VALUE_ERR,
              'reduce')
        _case(f'{cls}-{b}-src', cls, f'{m}(src.tolist(), idx)', TYPE_ERR,
              'x')
        # issue #16 audit: a list index reached PyG (AttributeError)
        _case(f'{cls}-{b}-index-list', cls, f'{m}(src, idx.tolist())',
              TYPE_ERR, 'index')
        _case(f'{cls}-{b}-dim_size-negative', cls,
              f'{m}(src, idx, dim_size=-1)', VALUE_ERR, 'dim_size')
        _case(f'{cls}-{b}-dim_size-float', cls,
              f'{m}(src, idx, dim_size=2.5)', TYPE_ERR, 'dim_size')

# backend choice and the PyG switch
for cid, name, call, exc, word in [
        ('set_backend-unknown', 'set_backend', "ops.set_backend('gpu')",
         VALUE_ERR, 'backend'),
        ('set_backend-type', 'set_backend', 'ops.set_backend(1)', TYPE_ERR,
         'backend'),
        ('use_backend-unknown', 'use_backend',
         "with ops.use_backend('cuda'): pass", VALUE_ERR, 'backend'),
        ('get_backend-args', 'get_backend', "ops.get_backend('torch')",
         TYPE_ERR, 'get_backend'),
        ('pyg_switch-enabled', 'pyg_switch',
         "with ops.pyg_switch('yes'): pass", TYPE_ERR, 'enabled'),
        ('enable_pyg-args', 'enable_pyg', 'ops.enable_pyg(True)', TYPE_ERR,
         'enable_pyg'),
        ('disable_pyg-args', 'disable_pyg', 'ops.disable_pyg(True)',
         TYPE_ERR, 'disable_pyg'),
        ('pyg_enabled-args', 'pyg_enabled', 'ops.pyg_enabled(1)', TYPE_ERR,
         'pyg_enabled'),
        ('aggr-backend', 'FastSumAggregation',
         "aggr.FastSumAggregation(backend='gpu')", VALUE_ERR, 'backend'),
        ('softmax-aggr-t-nan', 'FastSoftmaxAggregation',
         "aggr.FastSoftmaxAggregation(t=float('nan'))", VALUE_ERR, 't'),
        ('softmax-aggr-t-type', 'FastSoftmaxAggregation',
         "aggr.FastSoftmaxAggregation(t='hot')", TYPE_ERR, 't'),
        ('softmax-aggr-dim', 'FastSoftmaxAggregation',
         'aggr.FastSoftmaxAggregation()(src.view(6, 3, 1), idx, dim=1)',
         VALUE_ERR, 'dim')]:
    _case(cid, name, call, exc, word)

# check=False on bad ids: the Triton kernels mask them (no crash, no write
# outside the output); the child prints the outputs for the parent to check
SAFETY = """
out = {}
bad_idx = torch.tensor([0, 100000, 1, 3, -1, 1, 3, 2, -7, 0])
vals = torch.arange(1.0, 11.0).view(-1, 1).repeat(1, 3)
for r in ('sum', 'mean', 'max', 'min'):
    out['scatter-' + r] = ops.scatter(vals, bad_idx, 0, 3, r,
                                      backend='triton', check=False).tolist()
# segment: rows 0 and 1 valid, then a bad tail (ptr says row 2 owns it)
seg_ptr = torch.tensor([0, 2, 4, 7])
seg_idx = torch.tensor([0, 0, 1, 1, 100000, -1, 7])
sv = torch.arange(1.0, 8.0).view(-1, 1)
for r in ('sum', 'max'):
    out['segment-' + r] = ops.segment(sv, seg_ptr, r, index=seg_idx,
                                      backend='triton', check=False).tolist()
# spmm: row 1 reads a bad column, rows 0 and 2 are valid
sp_ptr = torch.tensor([0, 2, 4, 5])
sp_col = torch.tensor([0, 1, 100000, 2, -3])
xs = torch.tensor([[1.0], [10.0], [100.0]])
for r in ('sum', 'max'):
    out['spmm-' + r] = ops.spmm_csr(sp_ptr, sp_col, xs, None, r,
                                    backend='triton', check=False).tolist()
# the raw launchers with ids far out of range
from pyg_ext.ops import _triton as K
out['launcher-scatter'] = K.scatter_atomic_triton(
    vals, bad_idx * 1000, 3, 'sum').tolist()
print('SAFETY ' + json.dumps(out), flush=True)
"""


def _child_script(with_triton: bool) -> str:
    cases = [(cid, call) for cid, _, call, _, _ in CASES
             if with_triton or '-triton-' not in cid]
    body = textwrap.dedent("""
        import json
        CASES = {cases!r}
        for cid, call in CASES:
            try:
                exec(call)
                res = {{'id': cid, 'exc': None, 'msg': ''}}
            except Exception as e:
                res = {{'id': cid, 'exc': type(e).__name__, 'msg': str(e)}}
            print('CASE ' + json.dumps(res), flush=True)
    """).format(cases=cases)
    return SETUP + body + (SAFETY if with_triton else '')


@pytest.fixture(scope='module')
def child() -> dict[str, Any]:
    env = dict(os.environ, TRITON_INTERPRET='1', OMP_NUM_THREADS='1',
               PYTHONWARNINGS='ignore')
    proc = subprocess.run([sys.executable, '-c', _child_script(HAS_TRITON)],
                          capture_output=True, text=True, timeout=900,
                          env=env)
    results: dict[str, Any] = {}
    safety = None
    for line in proc.stdout.splitlines():
        if line.startswith('CASE '):
            res = json.loads(line[5:])
            results[res['id']] = res
        elif line.startswith('SAFETY '):
            safety = json.loads(line[7:])
    return {'rc': proc.returncode, 'stderr': proc.stderr[-3000:],
            'cases': results, 'safety': safety}


def _died(child: dict[str, Any]) -> str:
    return (f"the child process died (rc={child['rc']}) before this case; "
            f"stderr tail:\n{child['stderr']}")


@pytest.mark.parametrize('cid,name,call,exc,words', CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input_raises_naming_the_argument(
        child: dict[str, Any], cid: str, name: str, call: str, exc: str,
        words: tuple[str, ...]) -> None:
    if '-triton-' in cid and not HAS_TRITON:
        pytest.skip('triton is not installed')
    res = child['cases'].get(cid)
    assert res is not None, _died(child)
    assert res['exc'] == exc, (f'{call}: expected {exc}, got '
                               f"{res['exc']}: {res['msg']}")
    for word in words:
        assert word in res['msg'], (call, res['msg'])


def test_child_exits_cleanly(child: dict[str, Any]) -> None:
    assert child['rc'] == 0, _died(child)


def test_every_public_name_has_bad_input_cases() -> None:
    covered = {name for _, name, _, _, _ in CASES}
    assert set(ops.__all__) <= covered, set(ops.__all__) - covered
    assert set(aggr_mod.__all__) <= covered, set(aggr_mod.__all__) - covered


def _loop_scatter(vals: list[float], index: list[int], n: int,
                  reduce: str) -> list[float]:
    """Reference over the valid entries only (plain Python)."""
    out = []
    for g in range(n):
        got = [v for v, i in zip(vals, index) if i == g]
        if not got:
            out.append(0.0)
        elif reduce == 'sum':
            out.append(sum(got))
        elif reduce == 'mean':
            out.append(sum(got) / len(got))
        else:
            out.append(max(got) if reduce == 'max' else min(got))
    return out


@pytest.mark.triton
@pytest.mark.skipif(not HAS_TRITON, reason='triton is not installed')
def test_kernels_mask_bad_ids_without_check(child: dict[str, Any]) -> None:
    safety = child['safety']
    assert safety is not None, _died(child)
    vals = [float(v) for v in range(1, 11)]
    index = [0, 100000, 1, 3, -1, 1, 3, 2, -7, 0]
    for r in ('sum', 'mean', 'max', 'min'):
        ref = _loop_scatter(vals, index, 3, r)
        got = safety['scatter-' + r]
        assert [row[0] for row in got] == pytest.approx(ref), r
        assert all(row == [row[0]] * 3 for row in got)
    # launcher: ids * 1000 leave only the zeros in range (entries 1 and 10)
    assert [row[0] for row in safety['launcher-scatter']] == [11.0, 0, 0]
    # segment: rows reached by valid entries only are exact (row 2, which
    # only bad ids reach, is unspecified)
    assert safety['segment-sum'][:2] == [[3.0], [7.0]]
    assert safety['segment-max'][:2] == [[2.0], [4.0]]
    # spmm: a bad column reads as 0, nothing else changes
    assert safety['spmm-sum'] == [[11.0], [100.0], [0.0]]
    assert safety['spmm-max'] == [[10.0], [100.0], [0.0]]


# ------------------------------------------------------ in-process properties

def _inputs() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    src = torch.randn(30, 4, generator=g, dtype=torch.float64)
    idx = torch.randint(0, 6, (30,), generator=g)
    srt = idx.sort()[0]
    ptr = torch.zeros(8, dtype=torch.long)
    ptr[1:] = torch.bincount(srt, minlength=7).cumsum(0)
    return src, idx, srt, ptr


def test_check_false_gives_the_same_result_on_valid_input() -> None:
    src, idx, srt, ptr = _inputs()
    x = src[:7]
    ei = torch.stack([idx[:20].flip(0), idx[:20]])
    for reduce in ('sum', 'mean', 'max', 'min'):
        for fn in (lambda c, r=reduce: ops.scatter(src, idx, 0, 7, r,
                                                  check=c),
                   lambda c, r=reduce: ops.segment(src, ptr, r, index=srt,
                                                  check=c),
                   lambda c, r=reduce: ops.spmm(ei, x, r, check=c),
                   lambda c, r=reduce: ops.spmm_csr(ptr, idx, x, None, r,
                                                   row=srt, check=c)):
            assert torch.equal(fn(True), fn(False))
    assert torch.equal(ops.softmax(src, idx, num_nodes=7),
                       ops.softmax(src, idx, num_nodes=7, check=False))


def test_consistent_index_and_empty_inputs_are_accepted() -> None:
    src, idx, srt, ptr = _inputs()
    # int32 ids, trailing empty segments, E = 0, N = 0
    ref = ops.segment(src, ptr, 'sum')
    assert torch.equal(ops.segment(src, ptr.int(), 'sum', index=srt.int()),
                       ref)
    empty = torch.zeros(0, 4)
    assert ops.segment(empty, torch.zeros(4, dtype=torch.long),
                       'max').shape == (3, 4)
    assert ops.scatter(empty, torch.zeros(0, dtype=torch.long)).shape == (
        0, 4)
    assert ops.spmm(torch.zeros(2, 0, dtype=torch.long),
                    torch.randn(3, 2)).abs().sum() == 0


@pytest.mark.parametrize('reduce', ['sum', 'mean', 'max', 'min'])
def test_nan_in_src_stays_in_its_group(reduce: str) -> None:
    # NaN values are data, not bad ids: they propagate to their own group
    # (as in torch) and nowhere else
    src, idx, srt, ptr = _inputs()
    src = src.clone()
    src[0, 1] = float('nan')
    g = int(idx[0])
    out = ops.scatter(src, idx, 0, 7, reduce)
    assert torch.isnan(out[g, 1])
    mask = torch.ones_like(out, dtype=torch.bool)
    mask[g, 1] = False
    ref = torch.zeros(7, 4, dtype=torch.float64)
    for k in range(7):
        rows = src[idx == k]
        if rows.numel():
            ref[k] = {'sum': rows.sum(0), 'mean': rows.mean(0),
                      'max': rows.max(0).values,
                      'min': rows.min(0).values}[reduce]
    assert torch.isfinite(out[mask]).all()
    torch.testing.assert_close(out[mask], ref[mask])


def test_checks_are_skipped_while_compiling() -> None:
    # the value checks sync with the host: under torch.compile they must not
    # run (fullgraph=True fails on a graph break)
    src, idx, srt, ptr = _inputs()

    def f(s: torch.Tensor) -> torch.Tensor:
        return (ops.scatter(s, idx, 0, 7, 'max')
                + ops.segment(s, ptr, 'sum', index=srt)
                + ops.softmax(s, idx, num_nodes=7).sum())

    torch._dynamo.reset()
    compiled = torch.compile(f, fullgraph=True, backend='eager')
    torch.testing.assert_close(compiled(src), f(src))


_CACHE_SCRIPT = textwrap.dedent('''
    import torch
    from pyg_ext import ops
    from pyg_ext.ops import functional as F
    rowptr = torch.tensor([0, 2, 3, 4])
    col = torch.tensor([1, 2, 0, 1])
    x = torch.randn(3, 4)
    ei = torch.tensor([[1, 2, 0, 1], [0, 0, 1, 2]])
    ops.spmm_csr(rowptr, col, x)
    ops.spmm(ei, x)
    assert F._known_valid(col, ('ids', 3)), 'valid col not remembered'
    assert F._known_valid(rowptr, ('ptr', 4)), 'valid rowptr not remembered'
    assert F._known_valid(ei, ('ids', 3)), 'valid edge_index not remembered'
    # an in-place torch write invalidates the entry: the bad id is caught
    for t, i, name in ((col, 0, 'col'), (ei[0], 1, 'edge_index')):
        t[i] = 100000
        try:
            ops.spmm_csr(rowptr, col, x) if name == 'col' else ops.spmm(ei, x)
        except ValueError as e:
            assert name in str(e), e
        else:
            raise SystemExit(f'{name}: in-place bad id not re-checked')
    rowptr[1] = 5
    try:
        ops.spmm_csr(rowptr, torch.tensor([1, 2, 0, 1]), x)
    except ValueError as e:
        assert 'rowptr' in str(e), e
    else:
        raise SystemExit('rowptr: in-place edit not re-checked')
    # a checked size does not vouch for a smaller one
    c2 = torch.tensor([0, 2])
    ops.spmm_csr(torch.tensor([0, 1, 2]), c2, torch.randn(3, 2))
    try:
        ops.spmm_csr(torch.tensor([0, 1, 2]), c2, torch.randn(2, 2))
    except ValueError as e:
        assert 'col' in str(e), e
    else:
        raise SystemExit('col: checked for size 3, not re-checked for 2')
    print('ok')
''')


def test_validation_cache_sees_in_place_edits() -> None:
    """Valid ``rowptr`` / ``col`` / ``edge_index`` passed again are not
    re-read (a training loop), but any in-place torch write re-checks them.
    In a child process: a missed re-check would crash the kernel."""
    proc = subprocess.run([sys.executable, '-c', _CACHE_SCRIPT],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert proc.returncode == 0 and 'ok' in proc.stdout, (
        proc.returncode, proc.stdout, proc.stderr[-2000:])


# --- issue #16 bad-input audit ----------------------------------------------

@pytest.mark.parametrize('kw', [{}, {'ptr': None},
                                {'ptr': torch.tensor([[0, 6]])}],
                         ids=['no-index', 'ptr-none', 'ptr-2d'])
def test_softmax_without_index_is_a_value_error_naming_index(
        kw: dict[str, Any]) -> None:
    # used to be a bare NotImplementedError; it stays one too (as PyG's
    # softmax raises there) so that PyG-style handlers keep working
    src = torch.randn(6, 3)
    with pytest.raises(ValueError, match='index') as info:
        ops.softmax(src, **kw)
    assert isinstance(info.value, NotImplementedError)
    assert 'ptr' in str(info.value)


def test_fast_softmax_aggregation_dim_size_is_honoured() -> None:
    # the dim_size check must not change valid results: a larger dim_size
    # pads empty groups with zeros, as PyG's SoftmaxAggregation does
    from torch_geometric.nn.aggr import SoftmaxAggregation
    src = torch.randn(6, 3)
    idx = torch.tensor([0, 1, 1, 2, 4, 4])
    ref = SoftmaxAggregation(t=2.0)(src, idx, dim_size=7)
    out = aggr_mod.FastSoftmaxAggregation(t=2.0)(src, idx, dim_size=7)
    torch.testing.assert_close(out, ref)


def test_index_must_be_the_expansion_of_ptr() -> None:
    """``segment`` / ``spmm_csr`` with an ``index`` / ``row`` that is in
    range but disagrees with ``ptr`` gave a silently wrong answer; the
    same pair passed again is not re-read, a different or edited ``ptr``
    is."""
    from pyg_ext.ops import functional as F
    src = torch.randn(4, 3)
    ptr = torch.tensor([0, 1, 3, 4])
    good = torch.tensor([0, 1, 1, 2])
    bad = torch.tensor([0, 0, 1, 2])
    ref = ops.segment(src, ptr, reduce='sum')
    torch.testing.assert_close(ops.segment(src, ptr, reduce='sum',
                                           index=good), ref)
    assert F._known_valid(good, ('rows_of', 4), partner=ptr)
    with pytest.raises(ValueError, match='index must be the expansion'):
        ops.segment(src, ptr, reduce='sum', index=bad)
    x = torch.randn(3, 2)
    with pytest.raises(ValueError, match='row must be the expansion'):
        ops.spmm_csr(ptr, torch.tensor([0, 1, 2, 0]), x, reduce='max',
                     row=bad)
    # another ptr (same values, new object) and an edited ptr re-check
    assert not F._known_valid(good, ('rows_of', 4), partner=ptr.clone())
    ptr2 = ptr.clone()
    ops.segment(src, ptr2, reduce='sum', index=good)
    ptr2[1] = 2
    with pytest.raises(ValueError, match='index must be the expansion'):
        ops.segment(src, ptr2, reduce='sum', index=good)


# --- robustness audit: NaN args, integer segment, negative dim, dtypes -------

def _group_arg_ref(src: torch.Tensor, index: torch.Tensor, dim: int, n: int,
                   fn: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(values, positions)`` of ``torch.max``/``torch.min`` over each
    group's slices along ``dim`` (empty groups: 0 and ``src.size(dim)``)."""
    size = list(src.shape)
    size[dim] = n
    val = torch.zeros(size, dtype=src.dtype)
    arg = torch.full(size, src.size(dim), dtype=torch.long)
    for g in range(n):
        pos = (index == g).nonzero().view(-1)
        if pos.numel():
            res = fn(src.index_select(dim, pos), dim, keepdim=True)
            val.narrow(dim, g, 1).copy_(res.values)
            arg.narrow(dim, g, 1).copy_(pos[res.indices])
    return val, arg


@pytest.mark.parametrize('name', ['scatter_max', 'scatter_min'])
@pytest.mark.parametrize('how', ['fast', 'infer', 'torch', 'grad'])
def test_arg_of_a_group_holding_nan_is_its_first_nan(name: str,
                                                     how: str) -> None:
    """The arg of a group whose result is NaN was the empty-group sentinel
    ``src.size(dim)`` (``src == out`` is false for NaN); it is the first
    NaN, as ``torch.max``/``torch.min`` give, on every CPU path."""
    fn = getattr(ops, name)
    ref_fn = torch.max if name == 'scatter_max' else torch.min
    # the audit's example
    src = torch.tensor([float('nan'), 1., 3.])
    out, arg = fn(src, torch.tensor([0, 0, 1]), dim_size=2)
    assert out[0].isnan() and out[1] == 3 and arg.tolist() == [0, 2]
    g = torch.Generator().manual_seed(0)
    nan = float('nan')
    cases = [(torch.tensor([1., nan, 5., nan, 2.]),
              torch.tensor([0, 0, 0, 0, 2]), 0)]
    for shape, dim in (((7, 3), 0), ((3, 7), 1), ((2, 7, 3), -2),
                       ((2, 3, 7), -1)):
        s = torch.randn(shape, generator=g, dtype=torch.float64)
        s[torch.rand(shape, generator=g) < 0.3] = nan
        idx = torch.tensor([1, 0, 1, 3, 1, 0, 3])  # group 2 empty
        cases.append((s, idx, dim))
    for s, idx, dim in cases:
        n = 4 if s.dim() > 1 else 3
        d = dim % s.dim()
        kw: dict[str, Any] = {'dim_size': n}
        if how == 'infer':
            kw = {}
            n = int(idx.max()) + 1
        elif how == 'torch':
            kw['backend'] = 'torch'
        elif how == 'grad':
            s = s.clone().requires_grad_()
        out, arg = fn(s, idx, dim, **kw)
        val, ref = _group_arg_ref(s.detach(), idx, d, n, ref_fn)
        torch.testing.assert_close(out.detach(), val, equal_nan=True)
        assert torch.equal(arg, ref), (s, idx, dim, arg, ref)
        # the values are torch's own scatter_reduce (empty groups 0)
        red = 'amax' if name == 'scatter_max' else 'amin'
        shape = [1] * s.dim()
        shape[d] = -1
        plain = torch.zeros_like(val).scatter_reduce(
            d, idx.view(shape).expand_as(s), s.detach(), red,
            include_self=False)
        torch.testing.assert_close(out.detach(), plain, equal_nan=True)


@pytest.mark.parametrize('dtype', [torch.int64, torch.int32, torch.int16,
                                   torch.uint8])
@pytest.mark.parametrize('reduce', ['sum', 'add', 'mean', 'max', 'min',
                                    'amax', 'amin'])
@pytest.mark.parametrize('with_index', [False, True])
def test_segment_of_integer_src(dtype: torch.dtype, reduce: str,
                                with_index: bool) -> None:
    """``segment`` of an integer ``src`` raised torch's NotImplementedError
    (``_segment_reduce`` has no integer kernels); it equals ``scatter``
    over ``ptr``'s expansion: exact sums and extrema in ``src``'s dtype
    (the float computation cast back), ``mean`` by true division into
    floats, as ``scatter`` of integers gives."""
    ptr = torch.tensor([0, 2, 2, 5, 6])  # segment 1 empty
    row = torch.tensor([0, 0, 2, 2, 2, 3])
    kw = {'index': row.int()} if with_index else {}
    # the audit's example
    small = {'index': torch.tensor([0, 0, 1])} if with_index else {}
    assert torch.equal(ops.segment(torch.tensor([1, 2, 3]),
                                   torch.tensor([0, 2, 3]), **small),
                       torch.tensor([3, 3]))
    for src in (torch.tensor([1, 7, 4, 2, 9, 5]).to(dtype),
                torch.tensor([[1, 2], [7, 0], [4, 4], [2, 9], [9, 1],
                              [5, 3]]).to(dtype)):
        out = ops.segment(src, ptr, reduce, **kw)
        again = ops.segment(src, ptr, reduce, **kw)  # a cached plan, if any
        assert torch.equal(out, again)
        red = {'add': 'sum', 'amax': 'max', 'amin': 'min'}.get(reduce,
                                                              reduce)
        rb = row.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
        if red == 'mean':
            assert out.is_floating_point()
            assert torch.equal(out, ops.scatter(src, row, 0, 4, 'mean'))
            ref = torch.zeros(4, *src.shape[1:]).scatter_reduce(
                0, rb, src.float(), 'mean', include_self=False)
            torch.testing.assert_close(out, ref)
            continue
        assert out.dtype == dtype
        ref = torch.zeros(4, *src.shape[1:], dtype=dtype).scatter_reduce(
            0, rb, src, {'sum': 'sum', 'max': 'amax', 'min': 'amin'}[red],
            include_self=False)
        assert torch.equal(out, ref), (out, ref)
        flt = ops.segment(src.double(), ptr, red, **kw).to(dtype)
        assert torch.equal(out, flt)
    # integer ids out of range are still refused
    with pytest.raises(ValueError, match='ptr'):
        ops.segment(torch.tensor([1, 2, 3]), torch.tensor([0, 2, 4]), reduce)


@pytest.mark.parametrize('call', [
    lambda d, n: ops.scatter(torch.ones(3), torch.tensor([0, 1, 1]),
                             dim=d, dim_size=n),
    lambda d, n: ops.scatter(torch.ones(3), torch.tensor([0, 1, 1]),
                             dim=d, dim_size=n, reduce='max'),
    lambda d, n: ops.scatter(torch.ones(3), torch.tensor([0, 1, 1]),
                             dim=d, dim_size=n, reduce='mean'),
    lambda d, n: ops.scatter(torch.ones(3), torch.tensor([0, 1, 1]),
                             dim=d, dim_size=n, reduce='mul'),
    lambda d, n: ops.scatter(torch.ones(3), torch.tensor([0, 1, 1]),
                             dim=d, dim_size=n, backend='torch'),
    lambda d, n: ops.scatter_max(torch.ones(3), torch.tensor([0, 1, 1]),
                                 dim=d, dim_size=n),
    lambda d, n: ops.scatter_min(torch.ones(3), torch.tensor([0, 1, 1]),
                                 dim=d, dim_size=n),
    lambda d, n: ops.softmax(torch.ones(3), torch.tensor([0, 1, 1]),
                             num_nodes=n, dim=d),
    lambda d, n: ops.scatter_softmax(torch.ones(3), torch.tensor([0, 1, 1]),
                                     dim=d, dim_size=n),
])
@pytest.mark.parametrize('dim', [-2, -3, 1])
@pytest.mark.parametrize('dim_size', [2, None])
def test_dim_out_of_range_is_the_same_value_error_on_every_path(
        call: Any, dim: int, dim_size: int | None) -> None:
    """A negative ``dim`` below ``-src.dim()`` raised torch's raw
    RuntimeError on the CPU fast path (taken when ``dim_size`` is given):
    ``dim`` was shifted by ``ndim`` once and the shifted value checked."""
    with pytest.raises(ValueError, match=r'dim must lie in \[-1, 0\]'):
        call(dim, dim_size)
    # the audit's 2-D example
    with pytest.raises(ValueError, match=r'dim must lie in \[-2, 1\]'):
        ops.scatter(torch.ones(2, 3), torch.tensor([0, 1, 1]),
                    dim=dim - 1 if dim < 0 else 2, dim_size=dim_size)


def test_docs_say_empty_groups_of_mul_are_one() -> None:
    """``reduce='mul'`` gives 1 for empty groups (as PyG and torch_scatter,
    and torch's ``scatter_reduce`` from ones): the docs said 0 for every
    reduction."""
    from pathlib import Path

    from pyg_ext.ops import _torch
    from pyg_ext.ops import functional as F
    src = torch.tensor([2., 3., 4.])
    idx = torch.tensor([0, 0, 2])
    out = ops.scatter(src, idx, 0, 3, 'mul')
    ref = torch.ones(3).scatter_reduce(0, idx, src, 'prod')
    assert torch.equal(out, ref) and out[1] == 1
    md = (Path(__file__).resolve().parents[1] / 'docs'
          / 'scatter.md').read_text()
    for doc in (ops.__doc__, F.__doc__, _torch.__doc__, ops.scatter.__doc__,
                md):
        assert doc is not None
        assert 'for every reduction' not in doc
        assert 'any reduce | 0' not in doc
    for doc in (ops.__doc__, F.__doc__, _torch.__doc__, ops.scatter.__doc__):
        assert '1 for ``mul``' in ' '.join(doc.split()), doc


@pytest.mark.parametrize('call,dtype', [
    (lambda: ops.scatter(torch.tensor([True, False, True]),
                         torch.tensor([0, 1, 1]), 0, 3, 'mean'), 'bool'),
    # dim_size inferred: used to give a wrong mean (a bool count)
    (lambda: ops.scatter(torch.tensor([True, False, True]),
                         torch.tensor([0, 1, 1]), 0, None, 'mean'), 'bool'),
    (lambda: ops.scatter(torch.tensor([True, False, True]),
                         torch.tensor([0, 1, 1]), 0, 3, 'mean',
                         backend='torch'), 'bool'),
    (lambda: ops.segment(torch.tensor([True, False, True]),
                         torch.tensor([0, 2, 3]), 'mean'), 'bool'),
    (lambda: ops.scatter(torch.ones(3, dtype=torch.complex64),
                         torch.tensor([0, 1, 1]), 0, 2, 'max'), 'complex64'),
    (lambda: ops.scatter_min(torch.ones(3, dtype=torch.complex64),
                             torch.tensor([0, 1, 1])), 'complex64'),
    (lambda: ops.scatter(torch.ones(3, dtype=torch.complex64),
                         torch.tensor([0, 1, 1]), 0, 2, 'mean'), 'complex64'),
    (lambda: ops.softmax(torch.tensor([1, 2, 3]), torch.tensor([0, 0, 1])),
     'int64'),
    (lambda: ops.softmax(torch.tensor([1, 2, 3]), torch.tensor([0, 0, 1]),
                         num_nodes=2), 'int64'),
    (lambda: ops.softmax(torch.tensor([1, 2, 3]),
                         ptr=torch.tensor([0, 2, 3])), 'int64'),
    (lambda: ops.softmax(torch.tensor([True, False]),
                         torch.tensor([0, 0])), 'bool'),
    (lambda: ops.softmax(torch.ones(2, dtype=torch.complex64),
                         torch.tensor([0, 0])), 'complex64'),
    (lambda: ops.scatter_softmax(torch.tensor([1, 2, 3], dtype=torch.int32),
                                 torch.tensor([0, 0, 1])), 'int32'),
])
def test_unsupported_src_dtype_is_a_type_error_naming_src(
        call: Any, dtype: str) -> None:
    """Raw RuntimeErrors of torch ("result type ... can't be cast") or a
    silently wrong bool mean became a TypeError naming ``src`` and its
    dtype."""
    with pytest.raises(TypeError, match=rf'src.*torch\.{dtype}'):
        call()


@pytest.mark.parametrize('call', [
    lambda x, r: ops.spmm_csr(torch.tensor([0, 2, 3]),
                              torch.tensor([0, 1, 2]), x, reduce=r),
    lambda x, r: ops.spmm(torch.tensor([[0, 1, 2], [0, 0, 1]]), x, r,
                          num_nodes=2),
])
def test_bool_mean_of_messages_is_a_type_error_naming_x(call: Any) -> None:
    """A ``mean`` of bool messages gave 1.0 where the mean was 0.5 (the
    count was taken in bool); it is refused as in ``scatter``. Integer
    messages keep their true-division mean; weighted bool messages are
    floats."""
    x = torch.tensor([[True], [False], [True]])
    with pytest.raises(TypeError, match=r'x.*torch\.bool'):
        call(x, 'mean')
    assert call(x.long(), 'mean').view(-1).tolist() == [0.5, 1.0]
    assert torch.equal(call(x, 'max'), call(x.long(), 'max').bool())
    w = torch.ones(3)
    out = ops.spmm_csr(torch.tensor([0, 2, 3]), torch.tensor([0, 1, 2]), x,
                       w, 'mean')
    assert out.view(-1).tolist() == [0.5, 1.0]
