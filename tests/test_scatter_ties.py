"""One gradient rule for ties at a group's max/min, on every backend.

Rule: the gradient of ``max``/``min`` of a group is split evenly among the
group's ``src`` entries equal to the extremum (``1/k`` each for ``k``
ties), never given to the initial value. Checked against a brute-force
loop for ``scatter``, ``scatter_max``/``scatter_min``, ``segment``,
``spmm`` and ``spmm_csr`` on the torch paths (every CPU path the
dispatcher can pick, and the ``torch._segment_reduce`` path used on CUDA),
and on the Triton kernels (interpreter, in a subprocess with
``TRITON_INTERPRET=1`` set before import).

torch's own backwards break the rule: ``scatter_reduce_(amax,
include_self=False)`` on a zero tensor also counts that zero when the max
is exactly 0 (``[0, 0, 0]`` gave 0.25 each), and ``torch._segment_reduce``
does not divide negative gradients (two tied entries with upstream -2 got
-2 each).
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

from pyg_ext.ops import (
    dispatch,
    scatter,
    scatter_max,
    scatter_min,
    segment,
    spmm,
    spmm_csr,
)
from pyg_ext.ops._torch import index2ptr, segment_torch
from pyg_ext.typing import has_package

# ---------------------------------------------------------------- cases
# (name, groups, number of groups): groups[g] lists the values of group g,
# one list per entry (F features); absent ids are empty groups


def _cases() -> list[tuple[str, torch.Tensor, torch.Tensor, int,
                           torch.Tensor]]:
    """``(name, src [E, F], index [E] unsorted, n, grad_out [n, F])``."""
    raw = {
        # the whole group is 0: the initial value of torch's scatter
        'zeros': ([[0.0], [0.0], [0.0], [1.0], [0.0]],
                  [0, 0, 0, 2, 3], 5),
        # negative groups, 2 and 4 ties, a single entry, an empty group
        'negative': ([[-1.0], [-1.0], [-3.0], [-2.0], [-5.0], [-5.0],
                      [-5.0], [-5.0]], [0, 0, 0, 1, 3, 3, 3, 3], 4),
        # 2-D: tie counts differ per column; zeros, negatives, empties
        'mixed_2d': ([[0.0, -1.0, 2.0], [0.0, -1.0, 1.0],
                      [-1.0, -1.0, 2.0], [3.0, 0.0, 0.0],
                      [3.0, 0.0, -0.0], [1.0, 0.0, 0.0],
                      [-4.0, -4.0, -4.0]], [0, 0, 0, 2, 2, 2, 4], 6),
    }
    out = []
    g = torch.Generator().manual_seed(0)
    for name, (vals, idx, n) in raw.items():
        src = torch.tensor(vals, dtype=torch.float64)
        index = torch.tensor(idx)
        perm = torch.randperm(index.numel(), generator=g)
        # upstream gradients of both signs and different sizes
        grad = torch.arange(1, n * src.size(1) + 1, dtype=torch.float64)
        grad = (grad * torch.where(grad % 2 == 0, -1.0, 1.0)).view(
            n, src.size(1))
        out.append((name, src[perm], index[perm], n, grad))
    return out


CASES = _cases()
IDS = [c[0] for c in CASES]


def _ref_grad(src: torch.Tensor, index: torch.Tensor, n: int,
              grad: torch.Tensor, reduce: str) -> torch.Tensor:
    """The rule, by brute force: loops over groups and columns."""
    out = torch.zeros_like(src)
    for g in range(n):
        rows = [e for e in range(src.size(0)) if int(index[e]) == g]
        for c in range(src.size(1)):
            vals = [float(src[e, c]) for e in rows]
            if not vals:
                continue
            ext = max(vals) if reduce == 'max' else min(vals)
            ties = [e for e in rows if float(src[e, c]) == ext]
            for e in ties:
                out[e, c] = grad[g, c] / len(ties)
    return out


def _ref_value(src: torch.Tensor, index: torch.Tensor, n: int,
               reduce: str) -> torch.Tensor:
    out = torch.zeros(n, src.size(1), dtype=src.dtype)
    for g in range(n):
        sel = src[index == g]
        if sel.numel():
            out[g] = sel.amax(0) if reduce == 'max' else sel.amin(0)
    return out


def _grad_of(fn: Any, src: torch.Tensor, grad: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
    s = src.clone().requires_grad_()
    out = fn(s)
    out.backward(grad)
    return out.detach(), s.grad


# ------------------------------------------------------ torch (CPU) paths

@pytest.mark.parametrize('reduce', ['max', 'min'])
@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_scatter_ties(case: tuple[Any, ...], reduce: str) -> None:
    _, src, idx, n, grad = case
    ref = _ref_grad(src, idx, n, grad, reduce)
    out, g = _grad_of(lambda s: scatter(s, idx, 0, n, reduce), src, grad)
    torch.testing.assert_close(out, _ref_value(src, idx, n, reduce))
    torch.testing.assert_close(g, ref, rtol=1e-12, atol=0)
    # along dim 1 of the transposed input (the rule per column there)
    out_t, g_t = _grad_of(lambda s: scatter(s.t(), idx, 1, n, reduce), src,
                          grad.t())
    torch.testing.assert_close(g_t, ref, rtol=1e-12, atol=0)
    # int32 ids and the torch backend forced
    _, g32 = _grad_of(lambda s: scatter(s, idx.int(), 0, n, reduce,
                                        backend='torch'), src, grad)
    torch.testing.assert_close(g32, ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_scatter_max_min_ties(case: tuple[Any, ...]) -> None:
    _, src, idx, n, grad = case
    for reduce, op in (('max', scatter_max), ('min', scatter_min)):
        _, g = _grad_of(lambda s, op=op: op(s, idx, dim_size=n)[0], src,
                        grad)
        torch.testing.assert_close(g, _ref_grad(src, idx, n, grad, reduce),
                                   rtol=1e-12, atol=0)


def _sorted(src: torch.Tensor, idx: torch.Tensor, n: int
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    srt, perm = idx.sort(stable=True)
    return src[perm], srt, index2ptr(srt, n)


@pytest.mark.parametrize('path', ['scatter_reduce', 'segment_reduce'])
@pytest.mark.parametrize('reduce', ['max', 'min'])
@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_segment_ties_every_cpu_path(case: tuple[Any, ...], reduce: str,
                                     path: str) -> None:
    _, src, idx, n, grad = case
    s_src, srt, ptr = _sorted(src, idx, n)
    ref = _ref_grad(s_src, srt, n, grad, reduce)
    with dispatch.force_cpu_path('segment', 'max', path):
        out, g = _grad_of(lambda s: segment(s, ptr, reduce), s_src, grad)
        _, g_idx = _grad_of(lambda s: segment(s, ptr, reduce, index=srt),
                            s_src, grad)
    torch.testing.assert_close(out, _ref_value(s_src, srt, n, reduce))
    torch.testing.assert_close(g, ref, rtol=1e-12, atol=0)
    torch.testing.assert_close(g_idx, ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize('reduce', ['max', 'min'])
@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_segment_reduce_path_ties(case: tuple[Any, ...],
                                  reduce: str) -> None:
    """``segment_torch`` (``torch._segment_reduce``: the torch path on
    CUDA) follows the rule too."""
    _, src, idx, n, grad = case
    s_src, srt, ptr = _sorted(src, idx, n)
    out, g = _grad_of(lambda s: segment_torch(s, ptr, reduce), s_src, grad)
    torch.testing.assert_close(out, _ref_value(s_src, srt, n, reduce))
    torch.testing.assert_close(g, _ref_grad(s_src, srt, n, grad, reduce),
                               rtol=1e-12, atol=0)


def _spmm_ref(x: torch.Tensor, col: torch.Tensor, row: torch.Tensor,
              n: int, grad: torch.Tensor, reduce: str,
              w: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Gradients of x (and w) of ``reduce_e w[e] * x[col[e]]`` by row."""
    msg = x[col] * (w.view(-1, 1) if w is not None else 1.0)
    g_msg = _ref_grad(msg, row, n, grad, reduce)
    gw = None
    if w is not None:
        g_x = torch.zeros_like(x).index_add_(0, col, g_msg * w.view(-1, 1))
        gw = (g_msg * x[col]).sum(-1)
    else:
        g_x = torch.zeros_like(x).index_add_(0, col, g_msg)
    return g_x, gw


def _graph_for(src: torch.Tensor, idx: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Node features whose gathered messages are ``src`` (entry ``e``
    reads node ``e``): ``x = src``, ``col = arange(E)``, rows ``idx``."""
    return src, torch.arange(src.size(0))


@pytest.mark.parametrize('path', ['gather_scatter', 'sort_csr'])
@pytest.mark.parametrize('reduce', ['max', 'min'])
@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_spmm_edge_index_ties_every_cpu_path(case: tuple[Any, ...],
                                             reduce: str, path: str) -> None:
    _, src, idx, n, grad = case
    x, col = _graph_for(src, idx)
    ei = torch.stack([col, idx])
    g_ref, _ = _spmm_ref(x, col, idx, n, grad, reduce)
    with dispatch.force_cpu_path('spmm', 'max', path):
        out, g = _grad_of(lambda t: spmm(ei, t, reduce, num_nodes=n), x,
                          grad)
        # with weights (their gradient too)
        w = torch.linspace(0.5, 2.0, idx.numel(), dtype=torch.float64)
        ws = w.clone().requires_grad_()
        xs = x.clone().requires_grad_()
        spmm(ei, xs, reduce, edge_weight=ws, num_nodes=n).backward(grad)
    torch.testing.assert_close(out, _ref_value(x[col], idx, n, reduce))
    torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=0)
    gx_w, gw_w = _spmm_ref(x, col, idx, n, grad, reduce, w)
    torch.testing.assert_close(xs.grad, gx_w, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(ws.grad, gw_w, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize('path', ['sparse_mm', 'gather_scatter'])
@pytest.mark.parametrize('reduce', ['max', 'min'])
@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_spmm_csr_ties_every_cpu_path(case: tuple[Any, ...], reduce: str,
                                      path: str) -> None:
    _, src, idx, n, grad = case
    s_src, srt, ptr = _sorted(src, idx, n)
    x, col = _graph_for(s_src, srt)
    with dispatch.force_cpu_path('spmm_csr', 'max', path):
        out, g = _grad_of(lambda t: spmm_csr(ptr, col, t, None, reduce), x,
                          grad)
        adj = torch.sparse_csr_tensor(ptr, col, torch.ones(
            col.numel(), dtype=torch.float64), (n, x.size(0)))
        _, g_adj = _grad_of(lambda t: spmm(adj, t, reduce), x, grad)
        # no gradient: the same values (torch.sparse.mm's amax path)
        with torch.no_grad():
            fast = spmm_csr(ptr, col, x, None, reduce)
    g_ref, _ = _spmm_ref(x, col, srt, n, grad, reduce)
    torch.testing.assert_close(out, _ref_value(x, srt, n, reduce))
    torch.testing.assert_close(fast, out, rtol=0, atol=0)
    torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=0)
    torch.testing.assert_close(g_adj, g_ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize('reduce', ['max', 'min'])
def test_forward_unchanged_and_second_order(reduce: str) -> None:
    """The tie rule changes no forward value (bitwise, with and without a
    gradient) and stays differentiable in the upstream gradient."""
    g = torch.Generator().manual_seed(1)
    src = torch.randint(-3, 3, (200, 4), generator=g).double()
    idx = torch.randint(0, 30, (200,), generator=g)
    plain = src.new_zeros(40, 4).scatter_reduce_(
        0, idx.view(-1, 1).expand(-1, 4), src, f'a{reduce}',
        include_self=False)
    with torch.no_grad():
        assert torch.equal(scatter(src, idx, 0, 40, reduce), plain)
    s = src.clone().requires_grad_()
    out = scatter(s, idx, 0, 40, reduce)
    assert torch.equal(out.detach(), plain)
    up = torch.randn(40, 4, dtype=torch.float64,
                     generator=g).requires_grad_()
    (gs,) = torch.autograd.grad(out, s, up, create_graph=True)
    # d(gs)/d(up) = the split weights: summing gs over a group's ties
    # gives back up[g]
    (gu,) = torch.autograd.grad(gs.sum(), up)
    ties = _ref_grad(src, idx, 40, torch.ones(40, 4, dtype=torch.float64),
                     reduce)
    want = torch.zeros(40, 4, dtype=torch.float64).index_add_(0, idx, ties)
    torch.testing.assert_close(gu, want)


# --------------------------------------------------- Triton (interpreter)

_TRITON_SCRIPT = textwrap.dedent('''
    import json, sys
    import torch
    from pyg_ext.ops import scatter, scatter_max, segment, spmm, spmm_csr
    from pyg_ext.ops._torch import index2ptr
    cases = json.loads(sys.stdin.read())
    res = {}
    for name, c in cases.items():
        src = torch.tensor(c['src'], dtype=torch.float32)
        idx = torch.tensor(c['idx'])
        n = c['n']
        grad = torch.tensor(c['grad'], dtype=torch.float32)
        srt, perm = idx.sort(stable=True)
        ptr = index2ptr(srt, n)
        for reduce in ('max', 'min'):
            def run(f, s):
                s = s.clone().requires_grad_()
                f(s).backward(grad)
                return s.grad.tolist()
            res[f'{name}/{reduce}/scatter'] = run(
                lambda s: scatter(s, idx, 0, n, reduce, backend='triton'),
                src)
            if reduce == 'max':
                res[f'{name}/max/scatter_max'] = run(
                    lambda s: scatter_max(s, idx, dim_size=n,
                                          backend='triton')[0], src)
            res[f'{name}/{reduce}/segment'] = run(
                lambda s: segment(s, ptr, reduce, backend='triton'),
                src[perm])
            ei = torch.stack([torch.arange(idx.numel()), idx])
            res[f'{name}/{reduce}/spmm'] = run(
                lambda s: spmm(ei, s, reduce, num_nodes=n,
                               backend='triton'), src)
            res[f'{name}/{reduce}/spmm_csr'] = run(
                lambda s: spmm_csr(ptr, torch.arange(idx.numel()), s, None,
                                   reduce, backend='triton'), src[perm])
            torch.use_deterministic_algorithms(True)
            res[f'{name}/{reduce}/scatter_det'] = run(
                lambda s: scatter(s, idx, 0, n, reduce, backend='triton'),
                src)
            torch.use_deterministic_algorithms(False)
    print('RESULT ' + json.dumps(res))
''')


@pytest.fixture(scope='module')
def triton_grads() -> dict[str, Any]:
    if not has_package('triton'):
        pytest.skip('triton is not installed')
    payload = {name: {'src': src.tolist(), 'idx': idx.tolist(), 'n': n,
                      'grad': grad.tolist()}
               for name, src, idx, n, grad in CASES}
    env = dict(os.environ, TRITON_INTERPRET='1', OMP_NUM_THREADS='1',
               PYTHONWARNINGS='ignore')
    proc = subprocess.run([sys.executable, '-c', _TRITON_SCRIPT],
                          input=json.dumps(payload), capture_output=True,
                          text=True, timeout=900, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith('RESULT '):
            return json.loads(line[7:])
    raise AssertionError(f'the Triton child failed (rc={proc.returncode}):'
                         f'\n{proc.stderr[-3000:]}')


@pytest.mark.triton
@pytest.mark.parametrize('op', ['scatter', 'scatter_max', 'segment', 'spmm',
                                'spmm_csr', 'scatter_det'])
@pytest.mark.parametrize('reduce', ['max', 'min'])
@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_triton_ties(triton_grads: dict[str, Any], case: tuple[Any, ...],
                     reduce: str, op: str) -> None:
    name, src, idx, n, grad = case
    if op == 'scatter_max' and reduce == 'min':
        pytest.skip('scatter_max is max only')
    got = torch.tensor(triton_grads[f'{name}/{reduce}/{op}'],
                       dtype=torch.float64)
    if op in ('segment', 'spmm_csr'):
        s_src, srt, _ = _sorted(src, idx, n)
        want = _ref_grad(s_src, srt, n, grad, reduce)
    else:
        want = _ref_grad(src, idx, n, grad, reduce)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
