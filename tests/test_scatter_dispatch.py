"""The CPU dispatcher: every path it can pick computes the same thing, its
table loads and validates, and the per-graph caches (plans, CSR matrices,
sorted edges, pointer expansions) never serve a stale result."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from pyg_ext.bench import run_suite
from pyg_ext.ops import (
    dispatch,
    scatter,
    segment,
    softmax,
    spmm,
    spmm_csr,
)
from pyg_ext.ops import functional as fn
from pyg_ext.ops._torch import index2ptr


def _ref(src: torch.Tensor, index: torch.Tensor, n: int, reduce: str
         ) -> torch.Tensor:
    """Brute force in float64: a loop over groups; empty groups are 0."""
    src = src.double()
    out = torch.zeros((n,) + src.shape[1:], dtype=torch.float64)
    for g in range(n):
        sel = src[index == g]
        if sel.size(0) == 0:
            continue
        out[g] = {'sum': sel.sum(0), 'mean': sel.mean(0),
                  'max': sel.amax(0), 'min': sel.amin(0)}[reduce]
    return out


def _graph(E: int = 60, n: int = 9, seed: int = 0
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Unsorted ids with a hub and empty groups (the last two at least),
    the sorted ids and their CSR pointer."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, n - 2, (E,), generator=g)
    idx[: E // 3] = 1
    idx = idx[torch.randperm(E, generator=g)]
    srt = idx.sort()[0]
    return idx, srt, index2ptr(srt, n)


SHAPES = [(1,), (3,), (2, 2)]


def _close(out: torch.Tensor, want: torch.Tensor) -> None:
    """fp32 result against the float64 brute force."""
    torch.testing.assert_close(out.double(), want, rtol=1e-5, atol=1e-5)


def _paths(op: str, reduce: str) -> tuple[str, ...]:
    return dispatch.CPU_PATHS[(op, 'max' if reduce == 'min' else reduce)]


@pytest.mark.parametrize('reduce', ['sum', 'mean', 'max', 'min'])
@pytest.mark.parametrize('feat', SHAPES, ids=str)
def test_every_scatter_and_segment_path_matches_brute_force(
        reduce: str, feat: tuple[int, ...]) -> None:
    n = 9
    idx, srt, ptr = _graph(n=n)
    src = torch.randn((idx.numel(),) + feat)
    for path in _paths('scatter', reduce):
        with dispatch.force_cpu_path('scatter', 'max' if reduce == 'min'
                                     else reduce, path):
            for index in (idx, idx.int()):
                out = scatter(src, index, 0, n, reduce)
                _close(out, _ref(src, idx, n, reduce))
    s_src = src[idx.sort(stable=True)[1]]
    for path in _paths('segment', reduce):
        with dispatch.force_cpu_path('segment', 'max' if reduce == 'min'
                                     else reduce, path):
            out = segment(s_src, ptr, reduce)
            _close(out, _ref(s_src, srt, n, reduce))
            out = segment(s_src, ptr, reduce, index=srt)
            _close(out, _ref(s_src, srt, n, reduce))


@pytest.mark.parametrize('reduce', ['sum', 'mean', 'max', 'min'])
@pytest.mark.parametrize('F', [1, 5])
def test_every_spmm_path_matches_brute_force(reduce: str, F: int) -> None:
    n = 9
    idx, srt, ptr = _graph(n=n)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, F, generator=g)
    col = torch.randint(0, n, (idx.numel(),), generator=g)
    ei = torch.stack([col, idx])
    want = _ref(x[col], idx, n, reduce)
    key = 'max' if reduce == 'min' else reduce
    for path in _paths('spmm', reduce):
        with dispatch.force_cpu_path('spmm', key, path):
            _close(spmm(ei, x, reduce), want)
    perm = idx.sort(stable=True)[1]
    for path in _paths('spmm_csr', reduce):
        with dispatch.force_cpu_path('spmm_csr', key, path):
            out = spmm_csr(ptr, col[perm], x, None, reduce)
            _close(out, want)


@pytest.mark.parametrize('F', [1, 4])
def test_softmax_paths_match_pyg(F: int) -> None:
    from torch_geometric.utils import softmax as pyg_softmax
    n = 9
    idx, srt, ptr = _graph(n=n)
    src = torch.randn(idx.numel(), F)
    torch.testing.assert_close(softmax(src, idx, num_nodes=n),
                               pyg_softmax(src, idx, num_nodes=n))
    s_src = src[idx.sort(stable=True)[1]]
    for path in dispatch.CPU_PATHS[('softmax_ptr', 'sum')]:
        with dispatch.force_cpu_path('softmax_ptr', 'sum', path):
            torch.testing.assert_close(softmax(s_src, None, ptr),
                                       pyg_softmax(s_src, None, ptr))
            # with a gradient: the same values, and PyG's gradient
            a = s_src.clone().requires_grad_()
            b = s_src.clone().requires_grad_()
            softmax(a, None, ptr).pow(2).sum().backward()
            pyg_softmax(b, None, ptr).pow(2).sum().backward()
            torch.testing.assert_close(a.grad, b.grad)


def test_plans_follow_in_place_writes_and_new_shapes() -> None:
    n = 9
    idx, srt, ptr = _graph(n=n)
    src = torch.randn(idx.numel(), 3)
    for _ in range(2):  # the second call runs the cached plan
        _close(scatter(src, idx, 0, n), _ref(src, idx, n, 'sum'))
    idx2 = idx.clone()
    idx.copy_(torch.roll(idx, 1))  # an in-place write: a new plan
    _close(scatter(src, idx, 0, n), _ref(src, idx, n, 'sum'))
    idx.copy_(idx2)
    # the same pointer with other feature shapes and dtypes
    for shape, dtype in (((3,), torch.float32), ((1,), torch.float32),
                         ((3,), torch.float64), ((2, 2), torch.float32)):
        s = torch.randn((srt.numel(),) + shape, dtype=dtype)
        for _ in range(2):
            out = segment(s, ptr, 'mean')
            assert out.dtype == dtype and out.shape == (n,) + shape
            _close(out, _ref(s, srt, n, 'mean'))
    # a pointer edited in place is checked again
    s = torch.randn(srt.numel(), 3)
    segment(s, ptr, 'sum')
    bad = ptr.clone()
    ptr[3] = ptr[2] - 1  # no longer non-decreasing
    with pytest.raises(ValueError, match='non-decreasing'):
        segment(s, ptr, 'sum')
    ptr.copy_(bad)


def test_spmm_caches_follow_in_place_writes() -> None:
    n = 9
    idx, srt, ptr = _graph(n=n)
    x = torch.randn(n, 4)
    col = torch.randint(0, n, (idx.numel(),))
    ei = torch.stack([col, idx])
    for path in dispatch.CPU_PATHS[('spmm', 'sum')]:
        with dispatch.force_cpu_path('spmm', 'sum', path):
            for _ in range(2):
                _close(spmm(ei, x), _ref(x[ei[0]], ei[1], n, 'sum'))
            ei[0] = torch.roll(ei[0], 3)
            _close(spmm(ei, x), _ref(x[ei[0]], ei[1], n, 'sum'))
    perm = idx.sort(stable=True)[1]
    c = col[perm].clone()
    with dispatch.force_cpu_path('spmm_csr', 'sum', 'sparse_mm'):
        for _ in range(2):
            _close(spmm_csr(ptr, c, x), _ref(x[c], srt, n, 'sum'))
        c.copy_(torch.roll(c, 5))
        _close(spmm_csr(ptr, c, x), _ref(x[c], srt, n, 'sum'))
        c[0] = n  # out of range: caught, not read by torch.sparse
        with pytest.raises(ValueError, match='col'):
            spmm_csr(ptr, c, x)
    fn.clear_caches()
    assert not fn._PLANS and not fn._SORTED


def test_plans_respect_gradients() -> None:
    """Cached plans of sum/mean keep autograd; max/min with a gradient
    leave the no-grad plan for the tie-splitting path."""
    n = 9
    idx, srt, ptr = _graph(n=n)
    src = torch.zeros(idx.numel(), 2)  # all ties at 0
    scatter(src, idx, 0, n, 'max')  # a no-grad plan
    s = src.clone().requires_grad_()
    scatter(s, idx, 0, n, 'max').sum().backward()
    cnt = torch.bincount(idx, minlength=n).double()
    _close(s.grad, (1 / cnt[idx]).view(-1, 1).expand(-1, 2))
    s = src.clone().requires_grad_()
    for _ in range(2):
        s.grad = None
        scatter(s, idx, 0, n, 'mean').sum().backward()
        _close(s.grad, (1 / cnt[idx]).view(-1, 1).expand(-1, 2))


def test_cpu_table_json_roundtrip_and_loading(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    table = {('segment', 'sum'): {(0, 0): 'segment_reduce',
                                  (2, 2): 'index_add'},
             ('spmm_csr', 'mean'): {(1, 0): 'sparse_mv'}}
    data = dispatch.table_to_json(table)
    assert dispatch.table_from_json(data) == table
    path = tmp_path / 'cpu.json'
    path.write_text(json.dumps({'table': data,
                                'candidates': dispatch.candidates_json()}))
    try:
        assert dispatch.load_cpu_table(str(path))
        assert dispatch.cpu_path('segment', 'sum', 10**4, 1) == \
            'segment_reduce'
        assert dispatch.cpu_path('segment', 'sum', 10**6, 64) == 'index_add'
        assert dispatch.cpu_path('spmm_csr', 'mean', 10**5, 1) == \
            'sparse_mv'
        with dispatch.force_cpu_path('segment', 'sum', 'scatter_add'):
            assert dispatch.cpu_path('segment', 'sum', 10**4, 1) == \
                'scatter_add'
        assert dispatch.cpu_path('segment', 'sum', 10**4, 1) == \
            'segment_reduce'
        # the default location, through $PYG_EXT_CACHE
        monkeypatch.setenv('PYG_EXT_CACHE', str(tmp_path))
        assert dispatch.cpu_table_path() == str(tmp_path /
                                                'scatter_cpu_paths.json')
        assert not dispatch.load_cpu_table()  # absent: defaults stay
        # a malformed file warns and keeps the defaults
        path.write_text(json.dumps({'table': {'segment/sum': {
            '0,0': 'no_such_path'}}}))
        with pytest.warns(RuntimeWarning, match='ignoring'):
            assert not dispatch.load_cpu_table(str(path))
        assert dispatch.CPU_TABLE == {k: dict(v) for k, v in
                                      dispatch.CPU_DEFAULTS.items()}
    finally:
        dispatch.set_cpu_table(None)
    for bad in ({'gemm/sum': {}}, {'segment/sum': {'3,0': 'index_add'}},
                {'segment/sum': {'x': 'index_add'}}):
        with pytest.raises(ValueError):
            dispatch.table_from_json(bad)
    with pytest.raises(ValueError, match='unknown CPU path'):
        with dispatch.force_cpu_path('segment', 'sum', 'sparse_mm'):
            pass


def test_defaults_name_known_paths() -> None:
    for key, cells in dispatch.CPU_DEFAULTS.items():
        assert key in dispatch.CPU_PATHS
        for (e, f), path in cells.items():
            assert 0 <= e <= 2 and 0 <= f <= 2
            assert path in dispatch.CPU_PATHS[key]


def test_calibrate_on_cpu_writes_a_table_the_dispatcher_loads(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / 'table.json'
    out = tmp_path / 'run.json'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        result = run_suite('scatter', [
            '--device', 'cpu', '--calibrate', '--sizes', '300',
            '--features', '2', '--dists', 'uniform', '--budget', '0.001',
            '--table', str(table), '--json', str(out), '--no-progress'])
    text = capsys.readouterr().out
    assert 'dispatcher vs best baseline' in text
    rows = result['rows']
    assert {r['op'] for r in rows} == {'scatter', 'segment', 'spmm',
                                      'spmm_csr', 'softmax'}
    assert all(r['ours_ms'] > 0 and r['ratio'] > 0 for r in rows)
    assert result['summary']['min_ratio'] == min(r['ratio'] for r in rows)
    saved = json.loads(table.read_text())
    loaded = dispatch.table_from_json(saved['table'])
    assert ('segment', 'sum') in loaded
    try:
        assert dispatch.load_cpu_table(str(table))
        cell = dispatch.cpu_bucket(300, 2)
        assert dispatch.cpu_path('segment', 'sum', 300, 2) == \
            loaded[('segment', 'sum')][cell]
    finally:
        dispatch.set_cpu_table(None)
    assert json.loads(out.read_text())['suite'] == 'scatter'


def test_cpu_paths_compile_fullgraph() -> None:
    """The CPU paths (plans and caches are bypassed while tracing) and the
    tie-splitting max compile without graph breaks."""
    n = 9
    idx, srt, ptr = _graph(n=n)
    col = torch.randint(0, n, (idx.numel(),))
    ei = torch.stack([col, idx])
    perm = idx.sort(stable=True)[1]

    def f(src: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        a = scatter(src, idx, 0, n, 'max') + scatter(src, idx, 0, n, 'mean')
        b = segment(src[perm], ptr, 'max') + segment(src[perm], ptr, 'sum')
        c = spmm(ei, x, 'mean') + spmm_csr(ptr, col[perm], x, None, 'max')
        d = softmax(src, idx, num_nodes=n).sum() + softmax(
            src[perm], None, ptr).sum()
        return a.sum() + b.sum() + c.sum() + d

    src = torch.zeros(idx.numel(), 3)  # ties everywhere
    x = torch.randn(n, 3)
    s1 = src.clone().requires_grad_()
    ref = f(s1, x)
    ref.backward()
    torch._dynamo.reset()
    s2 = src.clone().requires_grad_()
    out = torch.compile(f, fullgraph=True, backend='eager')(s2, x)
    out.backward()
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(s2.grad, s1.grad)


@pytest.mark.parametrize('reduce', ['sum', 'mean', 'max'])
@pytest.mark.parametrize('path', ['segment_reduce', 'index_add',
                                  'scatter_add', 'scatter_reduce', 'numba'])
def test_segment_paths_gradients_with_empty_segments(reduce: str,
                                                     path: str) -> None:
    if path not in dispatch.CPU_PATHS[('segment', reduce)]:
        pytest.skip('not a path of this reduce')
    n = 9
    idx, srt, ptr = _graph(n=n)  # the last two segments are empty
    src = torch.randn(srt.numel(), 3, dtype=torch.float64)
    with dispatch.force_cpu_path('segment', reduce, path):
        segment(src, ptr, reduce)  # a no-grad plan first
        s = src.clone().requires_grad_()
        out = segment(s, ptr, reduce)
        out.backward(torch.ones_like(out))
    ref = src.clone().requires_grad_()
    _ref_out = torch.stack([
        {'sum': lambda v: v.sum(0), 'mean': lambda v: v.mean(0),
         'max': lambda v: v.amax(0)}[reduce](ref[srt == g])
        if (srt == g).any() else ref.new_zeros(3) for g in range(n)])
    _ref_out.backward(torch.ones_like(_ref_out))
    torch.testing.assert_close(out, _ref_out)
    torch.testing.assert_close(s.grad, ref.grad)


def _direct_callees(op: object, call: object) -> list[str]:
    """Names of the Python functions that ``op`` itself calls while
    ``call()`` runs (C functions, torch's kernels, are not seen)."""
    import sys
    code = op.__code__  # type: ignore[attr-defined]
    seen: list[str] = []

    def prof(frame: object, event: str, arg: object) -> None:
        if event == 'call' and frame.f_back is not None and (  # type: ignore
                frame.f_back.f_code is code):  # type: ignore
            seen.append(frame.f_code.co_name)  # type: ignore
    sys.setprofile(prof)
    try:
        call()  # type: ignore[operator]
    finally:
        sys.setprofile(None)
    return seen


def test_cached_calls_run_only_the_plan() -> None:
    """Issue #19 (CPU matrix at E = 1e4): a call on a graph whose plan is
    cached goes straight to the plan, with no Python-level helper (the
    16-bit upcast test, the generic plan lookup, argument validation)
    in between: besides torch's compile guard, the only Python function
    each op calls is its cached plan (defect: ``segment``/``scatter``/
    ``softmax`` ran ``_upcast`` first and ``spmm``/``softmax`` the generic
    ``_plan``, 2-5 us a call, 10-20 % of a 25 us torch op)."""
    n = 9
    idx, srt, ptr = _graph(n=n)
    g = torch.Generator().manual_seed(3)
    src = torch.randn(idx.numel(), 2, generator=g)
    s_src = src[idx.sort(stable=True)[1]]
    x = torch.randn(n, 2, generator=g)
    col = torch.randint(0, n, (idx.numel(),), generator=g)
    ei = torch.stack([col, idx])
    perm = idx.sort(stable=True)[1]
    c = col[perm]
    calls = [
        (fn.scatter, lambda: scatter(src, idx, 0, n, 'sum')),
        (fn.scatter, lambda: scatter(src, idx, 0, n, 'mean')),
        (fn.scatter, lambda: scatter(src, idx, 0, n, 'max')),
        (fn.segment, lambda: segment(s_src, ptr, 'sum')),
        (fn.segment, lambda: segment(s_src, ptr, 'max')),
        (fn.spmm_csr, lambda: spmm_csr(ptr, c, x, None, 'mean')),
        (fn.spmm, lambda: spmm(ei, x, 'sum')),
        (fn.spmm, lambda: spmm(ei, x, 'max')),
        (fn.softmax, lambda: softmax(src, idx, num_nodes=n)),
        (fn.softmax, lambda: softmax(s_src, None, ptr)),
    ]
    for op, call in calls:
        want = call()  # builds the plan
        codes = {getattr(e[2], '__code__', None) for e in fn._PLANS.values()}
        names = {c.co_name for c in codes if c is not None}
        seen = _direct_callees(op, call)
        extra = [s for s in seen if s not in names | {'is_compiling'}]
        assert not extra, (op.__name__, extra)
        assert sum(s in names for s in seen) <= 1
        torch.testing.assert_close(call(), want)


def test_new_tensors_are_checked_despite_cached_plans() -> None:
    """The fast path serves only the very tensors a plan was built from:
    a new id tensor of the same shape and dtype, or the cached one edited
    in place, is range-checked again (ValueError naming it)."""
    n = 9
    idx, srt, ptr = _graph(n=n)
    src = torch.randn(idx.numel(), 2)
    s_src = src[idx.sort(stable=True)[1]]
    x = torch.randn(n, 2)
    col = torch.randint(0, n, (idx.numel(),))
    ei = torch.stack([col, idx])
    perm = idx.sort(stable=True)[1]
    c = col[perm].clone()
    for _ in range(2):  # plans cached
        scatter(src, idx, 0, n)
        segment(s_src, ptr)
        spmm_csr(ptr, c, x)
        spmm(ei, x)
        softmax(src, idx, num_nodes=n)
    bad = idx.clone()
    bad[4] = n
    with pytest.raises(ValueError, match='index'):
        scatter(src, bad, 0, n)
    with pytest.raises(ValueError, match='index'):
        softmax(src, bad, num_nodes=n)
    bad_ptr = ptr.clone()
    bad_ptr[-1] = ptr[-1] + 1
    with pytest.raises(ValueError, match='ptr'):
        segment(s_src, bad_ptr)
    bad_c = c.clone()
    bad_c[0] = n
    with pytest.raises(ValueError, match='col'):
        spmm_csr(ptr, bad_c, x)
    bad_ei = ei.clone()
    bad_ei[0, 0] = n
    with pytest.raises(ValueError, match='edge_index'):
        spmm(bad_ei, x)
    idx[4] = n  # in place: the cached tensor itself
    with pytest.raises(ValueError, match='index'):
        scatter(src, idx, 0, n)


@pytest.mark.parametrize('op', ['scatter', 'segment'])
def test_mean_scatter_reduce_path(op: str) -> None:
    """Issue #19: ``mean`` by one ``scatter_reduce_(..., 'mean')`` (1.5x
    faster than ``scatter_add_`` + divide at F >= 16, where the CPU matrix
    had segment mean at 0.74x) gives the brute-force means, PyG's float
    true division for integer values, and the mean's gradient."""
    from torch_geometric.utils import scatter as pyg_scatter
    n = 9
    idx, srt, ptr = _graph(n=n)
    ids = idx if op == 'scatter' else srt

    def run(s: torch.Tensor) -> torch.Tensor:
        if op == 'scatter':
            return scatter(s, idx, 0, n, 'mean')
        return segment(s, ptr, 'mean')
    with dispatch.force_cpu_path(op, 'mean', 'scatter_reduce'):
        for shape in ((1,), (3,)):
            src = torch.randn((ids.numel(),) + shape)
            for _ in range(2):
                _close(run(src), _ref(src, ids, n, 'mean'))
            ints = torch.randint(-5, 6, (ids.numel(),) + shape)
            want = pyg_scatter(ints, ids, 0, n, 'mean')
            out = run(ints)
            assert out.dtype == want.dtype
            torch.testing.assert_close(out, want)
            s = src.double().requires_grad_()
            run(s).sum().backward()
            cnt = torch.bincount(ids, minlength=n).double()
            torch.testing.assert_close(
                s.grad, (1 / cnt[ids]).view(-1, 1).expand(-1, shape[0]))


def test_sorted_edge_index_orders_sources_within_rows() -> None:
    """Issue #19 (spmm on edge_index at E = 1e6, 0.80-0.89x vs PyG): the
    CSR built from an ``edge_index`` lists each row's sources in
    increasing order (the gathers of ``x`` then walk memory forward),
    with the permutation that maps weights along."""
    g = torch.Generator().manual_seed(5)
    n, E = 30, 400
    ei = torch.randint(0, n, (2, E), generator=g)
    rowptr, col, row, perm = fn._sorted_edges(ei, n)
    assert torch.equal(ei[0, perm], col) and torch.equal(ei[1, perm], row)
    key = row * n + col
    assert bool((key[1:] >= key[:-1]).all())
    assert torch.equal(rowptr, index2ptr(row, n))
    x = torch.randn(n, 3, generator=g)
    w = torch.rand(E, generator=g)
    for reduce in ('sum', 'mean', 'max'):
        with dispatch.force_cpu_path('spmm', reduce, 'sort_csr'):
            for _ in range(2):
                out = spmm(ei, x, reduce, edge_weight=w)
                _close(out, _ref(x[ei[0]] * w.view(-1, 1), ei[1], n,
                                 reduce))


def test_cached_csr_lists_columns_in_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #19 (``spmm_csr`` at E = 1e5, F = 16: 0.74x, the very
    ``torch.sparse.mm`` of the baseline): the cached CSR matrix lists each
    row's columns in increasing order (values moved along), so the
    product reads ``x`` forward; results (weights, mean, max) unchanged."""
    from pyg_ext.ops import _torch
    monkeypatch.setattr(_torch, 'CSR_SORT_MIN', 1)
    fn.clear_caches()
    g = torch.Generator().manual_seed(7)
    n, E = 20, 300
    idx, srt, ptr = _graph(E=E, n=n, seed=2)
    col = torch.randint(0, n, (E,), generator=g)
    x = torch.randn(n, 3, generator=g)
    w = torch.rand(E, generator=g)
    for weight in (None, w):
        for reduce in ('sum', 'mean', 'max'):
            with dispatch.force_cpu_path('spmm_csr', reduce, 'sparse_mm'):
                for _ in range(2):
                    out = spmm_csr(ptr, col, x, weight, reduce)
                    msg = x[col] * (1 if weight is None else
                                    weight.view(-1, 1))
                    _close(out, _ref(msg, srt, n, reduce))
        adj = _torch.csr_lookup(x, ptr, col, weight)[0]
        key = srt * n + adj.col_indices()
        assert bool((key[1:] >= key[:-1]).all())
        vals = torch.ones(E) if weight is None else weight
        dense = torch.zeros(n, n).index_put_((srt, col), vals,
                                             accumulate=True)
        torch.testing.assert_close(adj.to_dense(), dense)


def _degree_graphs(E: int = 20000, n: int = 2000, F: int = 16
                   ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Sorted ids and CSR pointers with the same E and N: Zipf degrees
    (as the benchmark's power law) and uniform degrees."""
    g = torch.Generator().manual_seed(5)
    power = dispatch._powerlaw(E, n, g).sort()[0]
    uniform = torch.randint(0, n, (E,), generator=g).sort()[0]
    return {name: (srt, index2ptr(srt, n))
            for name, srt in (('power', power), ('uniform', uniform))}


def test_segment_max_path_is_chosen_per_graph(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #19 (CPU matrix, ``segment`` max at E = 1e6, F = 16): the
    faster path depends on the degree distribution (``scatter_reduce_``
    on Zipf degrees, ``torch._segment_reduce`` on uniform ones), but the
    table held one path per (E, F) cell, so one of the two distributions
    always ran 0.70-0.72x the best baseline. ``'by_degree'`` decides per
    graph from the pointer (once, when the plan is built): a power-law
    and a uniform pointer of the same E, F get different paths, by the
    statistic alone, and both give the brute-force result."""
    # the cell's torch path (built in: 'numba' where its kernels run)
    assert dispatch.NUMBA_FALLBACK[(2, 1)] == 'by_degree'
    assert dispatch.CPU_DEFAULTS[('segment', 'max')][(2, 1)] in (
        'by_degree', 'numba')
    graphs = _degree_graphs()
    assert dispatch.degree_path(graphs['power'][1]) == 'scatter_reduce'
    assert dispatch.degree_path(graphs['uniform'][1]) == 'segment_reduce'
    # degenerate pointers: no entries, no segments
    assert dispatch.degree_path(torch.zeros(5, dtype=torch.long)) == \
        'segment_reduce'
    assert dispatch.degree_path(torch.zeros(1, dtype=torch.long)) == \
        'segment_reduce'

    seg_calls: list[int] = []
    real = torch._segment_reduce

    def counting(*args: object, **kwargs: object) -> torch.Tensor:
        seg_calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(torch, '_segment_reduce', counting)
    fn.clear_caches()
    src = torch.randn(20000, 16, generator=torch.Generator().manual_seed(6))
    with dispatch.force_cpu_path('segment', 'max', 'by_degree'):
        for reduce in ('max', 'min'):
            for name, (srt, ptr) in graphs.items():
                want = _ref(src, srt, ptr.numel() - 1, reduce)
                seg_calls.clear()
                _close(segment(src, ptr, reduce), want)  # builds the plan
                _close(segment(src, ptr, reduce), want)  # the cached plan
                assert (len(seg_calls) == 2) == (name == 'uniform'), (
                    reduce, name, len(seg_calls))
                assert name == 'uniform' or not seg_calls
                # the path given an expansion of ptr (no plan) agrees
                seg_calls.clear()
                _close(segment(src, ptr, reduce, index=srt), want)
                assert bool(seg_calls) == (name == 'uniform')
    fn.clear_caches()


def test_segment_fix_up_runs_only_with_empty_segments(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #19 (``segment`` max/mean at F = 1): the plan of the
    ``_segment_reduce`` path knows once whether ``ptr`` has an empty
    segment and only then runs the fix-up that turns their -inf/NaN into
    PyG's 0 (an ``index_fill_``, ~5 us of a 25 us call at E = 1e4).
    Empty segments are still 0, the others equal the brute force."""
    fills: list[int] = []
    real = torch.Tensor.index_fill_

    def counting(self: torch.Tensor, *args: object) -> torch.Tensor:
        fills.append(1)
        return real(self, *args)  # type: ignore[arg-type]
    monkeypatch.setattr(torch.Tensor, 'index_fill_', counting)
    g = torch.Generator().manual_seed(7)
    full = torch.arange(12).repeat_interleave(3)           # no empty group
    holes = torch.tensor([0, 0, 2, 2, 2, 5, 7, 7])         # 1, 3, 4, 6 empty
    fn.clear_caches()
    with dispatch.force_cpu_path('segment', 'max', 'segment_reduce'), \
            dispatch.force_cpu_path('segment', 'mean', 'segment_reduce'):
        for srt, n, empty in ((full, 12, False), (holes, 8, True)):
            ptr = index2ptr(srt, n)
            src = -torch.rand(srt.numel(), 1, generator=g) - 1  # all < 0
            for reduce in ('max', 'min', 'mean'):
                fills.clear()
                want = _ref(src, srt, n, reduce)
                _close(segment(src, ptr, reduce), want)  # builds the plan
                _close(segment(src, ptr, reduce), want)  # the cached plan
                assert bool(fills) == empty, (reduce, n, len(fills))
                if empty:
                    gone = torch.tensor([1, 3, 4, 6])
                    assert segment(src, ptr, reduce)[gone].eq(0).all()
    fn.clear_caches()


def test_cached_plans_follow_the_backend_setting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan hit no longer reads the process-wide backend on every call
    (the backend is part of the table token in the plan key instead):
    plans built under ``'auto'`` must not answer once the backend is
    ``'triton'`` (here the interpreter), and answer again after."""
    if not dispatch.triton_usable(torch.device('cpu')):
        pytest.skip('needs triton and TRITON_INTERPRET=1')
    from pyg_ext.ops import _custom
    kernels: list[str] = []
    for name in ('segment_csr_op', 'scatter_atomic_op'):
        real = getattr(_custom, name)

        def spy(*args: object, _real: Any = real, _name: str = name,
                **kwargs: object) -> torch.Tensor:
            kernels.append(_name)
            return _real(*args, **kwargs)
        monkeypatch.setattr(_custom, name, spy)
    n = 9
    idx, srt, ptr = _graph(n=n)
    src = torch.randn(idx.numel(), 2)
    s_src = src[idx.sort(stable=True)[1]]
    x = torch.randn(n, 2)
    col = torch.randint(0, n, (idx.numel(),))
    ei = torch.stack([col, idx])
    calls = [lambda: scatter(src, idx, 0, n, 'sum'),
             lambda: segment(s_src, ptr, 'sum'),
             lambda: spmm_csr(ptr, col, x, None, 'sum'),
             lambda: spmm(ei, x, 'sum'),
             lambda: softmax(src, idx, num_nodes=n)]
    for call in calls:
        want = call()
        torch.testing.assert_close(call(), want)  # a plan hit
        token = dispatch.TABLE_GEN[0]
        kernels.clear()
        with dispatch.use_backend('triton'):
            assert dispatch.TABLE_GEN[0] != token
            torch.testing.assert_close(call(), want, rtol=1e-5, atol=1e-5)
        assert kernels, 'a cached torch plan answered under triton'
        assert dispatch.TABLE_GEN[0] == token
        kernels.clear()
        torch.testing.assert_close(call(), want)
        assert not kernels


def test_cached_csr_uses_int32_ids() -> None:
    """Issue #19 (CPU matrix, ``spmm_csr`` at E = 1e4: our call ran the
    very ``torch.sparse.mm`` of the best baseline plus the plan lookup,
    0.85-0.89x): the cached CSR matrix holds int32 ids where they fit,
    on which ``torch.sparse.mm``/``torch.mv`` run 6-20 % faster than on
    int64 ids, with bit-identical sums; gradients to ``x`` unchanged."""
    n = 9
    idx, srt, ptr = _graph(n=n)
    g = torch.Generator().manual_seed(8)
    col = torch.randint(0, n, (idx.numel(),), generator=g)
    fn.clear_caches()
    for F in (1, 4):
        x = torch.randn(n, F, generator=g, dtype=torch.float64)
        for path in ('sparse_mm', 'sparse_mv'):
            with dispatch.force_cpu_path('spmm_csr', 'sum', path):
                out = spmm_csr(ptr, col, x, None, 'sum')
            hit = fn.csr_lookup(x, ptr, col, None)
            assert hit is not None
            adj = hit[0]
            assert adj.crow_indices().dtype == torch.int32
            assert adj.col_indices().dtype == torch.int32
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                ref64 = torch.sparse_csr_tensor(ptr, col, torch.ones(
                    col.numel(), dtype=x.dtype), (n, n))
            want = (torch.mv(ref64, x.view(-1)).view(-1, 1)
                    if path == 'sparse_mv' and F == 1
                    else torch.sparse.mm(ref64, x))
            assert torch.equal(out, want)
            _close(out, _ref(x[col], srt, n, 'sum'))
        xg = x.clone().requires_grad_()
        spmm_csr(ptr, col, xg, None, 'mean').pow(2).sum().backward()
        xr = x.clone().requires_grad_()
        (torch.zeros(n, F, dtype=x.dtype).index_add_(0, srt, xr[col])
         / torch.bincount(srt, minlength=n).clamp(min=1).view(-1, 1)
         ).pow(2).sum().backward()
        torch.testing.assert_close(xg.grad, xr.grad)
    fn.clear_caches()


def test_segment_reduce_plans_use_int32_offsets_for_sum_and_mean(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #19 (``segment`` at F = 1, E = 1e4..1e5: our call ran the
    very ``torch._segment_reduce`` of the best baseline plus the plan
    lookup, 0.86-0.91x): ``torch._segment_reduce`` runs ``sum`` 2-21 %
    and ``mean`` 19-51 % faster on int32 offsets (``amax`` slower), so
    the cached plans pass int32 offsets for sum/mean (and softmax's
    group sums) and int64 for max/min; the values are bit-identical to
    int64 offsets, with and without empty segments, and the gradients
    too."""
    seen: list[tuple[str, torch.dtype]] = []
    real = torch._segment_reduce

    def spy(data: torch.Tensor, reduce: str, **kw: Any) -> torch.Tensor:
        seen.append((reduce, kw['offsets'].dtype))
        return real(data, reduce, **kw)
    monkeypatch.setattr(torch, '_segment_reduce', spy)
    g = torch.Generator().manual_seed(9)
    fn.clear_caches()
    for srt, n in ((torch.arange(12).repeat_interleave(3), 12),
                   (torch.tensor([0, 0, 2, 2, 2, 5, 7, 7]), 8)):
        ptr = index2ptr(srt, n)
        src = torch.randn(srt.numel(), 3, generator=g, dtype=torch.float64)
        for reduce, red in (('sum', 'sum'), ('mean', 'mean'),
                            ('max', 'amax'), ('min', 'amin')):
            with dispatch.force_cpu_path(
                    'segment', 'max' if reduce == 'min' else reduce,
                    'segment_reduce'):
                seen.clear()
                out = segment(src, ptr, reduce)
                want = real(src, red, offsets=ptr.long())
                if reduce != 'sum':
                    want = torch.where(ptr.diff().view(-1, 1) > 0, want, 0)
                assert torch.equal(out, want), (reduce, n)
                assert torch.equal(segment(src, ptr, reduce), want)
                dt = torch.int32 if reduce in ('sum', 'mean') \
                    else torch.int64
                assert seen and all(d == dt for _, d in seen), seen
                if reduce in ('sum', 'mean'):
                    a = src.clone().requires_grad_()
                    segment(a, ptr, reduce).pow(2).sum().backward()
                    b = src.clone().requires_grad_()
                    real(b, red, offsets=ptr.long(), initial=0).pow(
                        2).sum().backward()
                    assert torch.equal(a.grad, b.grad)
        with dispatch.force_cpu_path('softmax_ptr', 'sum', 'segment_reduce'):
            seen.clear()
            softmax(src, None, ptr)
            assert ('sum', torch.int32) in seen
            assert ('amax', torch.int64) in seen
    fn.clear_caches()


def test_stale_calibration_file_keeps_new_defaults(tmp_path: Any) -> None:
    """A CPU table calibrated by an older version (no candidate record, or
    other candidates) or under another torch must not override the
    built-in choices of ops whose candidate paths changed since (before,
    any old file on disk silently replaced e.g. the new per-graph path)."""
    import json

    import torch

    from pyg_ext.ops import dispatch as D
    key = ('segment', 'max')
    cell = (2, 1)
    other = next(p for p in D.CPU_PATHS[key]
                 if p != D.CPU_DEFAULTS[key][cell])
    table = {f'{key[0]}/{key[1]}': {f'{cell[0]},{cell[1]}': other}}
    path = tmp_path / 'table.json'
    try:
        # an old file: no candidate record -> built-in choice kept
        path.write_text(json.dumps({'torch': torch.__version__,
                                    'threads': 1, 'table': table}))
        assert D.load_cpu_table(str(path))
        assert D.CPU_TABLE[key][cell] == D.CPU_DEFAULTS[key][cell]
        # another torch -> dropped whole
        path.write_text(json.dumps({'torch': '0.0.1', 'threads': 1,
                                    'candidates': D.candidates_json(),
                                    'table': table}))
        assert D.load_cpu_table(str(path))
        assert D.CPU_TABLE[key][cell] == D.CPU_DEFAULTS[key][cell]
        # a current file is used
        path.write_text(json.dumps({'torch': torch.__version__,
                                    'threads': 1,
                                    'candidates': D.candidates_json(),
                                    'table': table}))
        assert D.load_cpu_table(str(path))
        assert D.CPU_TABLE[key][cell] == other
    finally:
        D.set_cpu_table(None)


def _numba_kernels() -> Any:
    """The loaded numba kernels of ``segment`` max/min (skip without)."""
    pytest.importorskip('numba')
    from pyg_ext.utils._numba_setup import wait_for_kernels
    mod = wait_for_kernels(*fn.NUMBA_KERNELS, timeout=600)
    if mod is None:
        pytest.skip('the numba kernels did not load')
    return mod


def _same(a: torch.Tensor, b: torch.Tensor) -> None:
    """Equal bit for bit up to NaN payloads: values, NaNs, signs of 0."""
    assert a.shape == b.shape and a.dtype == b.dtype
    assert torch.equal(a.isnan(), b.isnan())
    assert torch.equal(a.nan_to_num(7.0), b.nan_to_num(7.0))
    assert torch.equal(a.signbit(), b.signbit())


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_segment_numba_path_matches_torch_bit_for_bit(
        monkeypatch: pytest.MonkeyPatch, dtype: torch.dtype) -> None:
    """Issue #19 (``segment`` max at E = 1e4, F = 1, 0.77-0.87x of the bare
    ``torch.segment_reduce``, which leaves empty segments at -inf): the
    ``'numba'`` path computes the extremum and PyG's 0 of empty segments in
    one pass. It equals the ``_segment_reduce`` path (and the brute force)
    bit for bit: first NaN wins, of -0.0/0.0 ties the first is kept,
    -inf stays, empty segments (leading, inner, trailing) are 0; for
    F = 1 and F > 1, 1-D to 3-D ``src``; the cached plan runs the kernel
    and no torch reduction; a non-contiguous ``src`` still gives the right
    answer (the torch fallback)."""
    mod = _numba_kernels()
    runs: list[tuple[str, str]] = []
    for key, real in list(mod.KERNELS.items()):
        def spy(*args: object, _real: Any = real, _key: Any = key) -> None:
            runs.append(_key)
            _real(*args)
        monkeypatch.setitem(mod.KERNELS, key, spy)
    srt = torch.tensor([1, 1, 1, 3, 3, 3, 3, 4, 6, 6])  # 0, 2, 5, 7 empty
    n = 8
    ptr = index2ptr(srt, n)
    g = torch.Generator().manual_seed(3)
    base = torch.randn(srt.numel(), 6, generator=g, dtype=dtype)
    base[0, 0] = float('nan')                 # a NaN first in a segment
    base[5, 0] = float('nan')                 # ... and later in one
    base[0:3, 1] = torch.tensor([-0.0, 0.0, -1.0], dtype=dtype)  # ties
    base[3:7, 1] = torch.tensor([0.0, -0.0, 1.0, -1.0], dtype=dtype)
    base[7, 2] = float('-inf')
    base[8:10, 3] = float('inf')
    fn.clear_caches()
    for src in (base[:, 0].contiguous(), base[:, :1].contiguous(),
                base[:, 1].contiguous(), base, base.view(-1, 3, 2),
                base[:, 2]):  # the last one is not contiguous
        for reduce in ('max', 'min'):
            with dispatch.force_cpu_path('segment', 'max', 'segment_reduce'):
                want = segment(src, ptr, reduce)
            with dispatch.force_cpu_path('segment', 'max', 'numba'):
                runs.clear()
                first = segment(src, ptr, reduce)   # builds the plan
                second = segment(src, ptr, reduce)  # the cached plan
            _same(first, want)
            _same(second, want)
            assert second[torch.tensor([0, 2, 5, 7])].eq(0).all()
            assert runs == ([] if not src.is_contiguous() else
                            [(reduce, str(dtype)[6:])] * 2), runs
            finite = src.nan_to_num(0.0)
            with dispatch.force_cpu_path('segment', 'max', 'numba'):
                _close(segment(finite, ptr, reduce),
                       _ref(finite, srt, n, reduce))
    fn.clear_caches()


def test_segment_numba_plan_checks_every_new_or_edited_ptr() -> None:
    """The numba kernel reads ``ptr`` unchecked, so its plan must never
    see one that was not validated: a new pointer tensor and an in-place
    torch edit of a cached one are checked again (ValueError naming
    ``ptr``, no crash), and the plan reads its own copy of the checked
    pointer, so a write that bypasses torch (a numpy view, not seen by the
    version counter) cannot make it read out of bounds."""
    _numba_kernels()
    srt = torch.tensor([0, 0, 1, 1, 1, 3])
    ptr = index2ptr(srt, 4)
    src = torch.randn(srt.numel(), 1)
    fn.clear_caches()
    with dispatch.force_cpu_path('segment', 'max', 'numba'):
        want = _ref(src, srt, 4, 'max')
        _close(segment(src, ptr, 'max'), want)
        _close(segment(src, ptr, 'max'), want)  # cached
        for bad in (torch.tensor([0, 2, 1, 5, 6]),      # decreasing
                    torch.tensor([0, 2, 5, 5, 60]),     # past the end
                    torch.tensor([-3, 2, 5, 5, 6])):    # negative
            with pytest.raises(ValueError, match='ptr'):
                segment(src, bad, 'max')
        edited = ptr.clone()
        _close(segment(src, edited, 'max'), want)
        edited[2] = 60                                  # torch in-place
        with pytest.raises(ValueError, match='ptr'):
            segment(src, edited, 'max')
        edited[2] = 5                                   # valid again
        _close(segment(src, edited, 'max'), want)
        # behind torch's back: the plan keeps answering from its copy
        edited.numpy()[2] = 10**9
        _close(segment(src, edited, 'max'), want)
    fn.clear_caches()


def test_segment_numba_path_falls_back_while_loading(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Until the kernels are loaded (or without numba) a ``'numba'`` plan
    runs the plan of the cell's torch path (``NUMBA_FALLBACK``: not
    ``_segment_reduce`` at F = 64, 3-5x slower there), empty segments
    still 0, and takes the kernels once they are there (no new plan)."""
    mod = _numba_kernels()
    assert dispatch.numba_fallback(10**4, 1) == 'segment_reduce'
    assert dispatch.numba_fallback(10**4, 64) == 'scatter_reduce'
    assert set(dispatch.NUMBA_FALLBACK.values()) <= set(
        dispatch.CPU_PATHS[('segment', 'max')]) - {'numba'}
    srt = torch.tensor([0, 0, 2, 2, 2])                 # 1 and 3 empty
    ptr = index2ptr(srt, 4)
    src = -torch.rand(srt.numel(), 1) - 1              # all < 0
    want = _ref(src, srt, 4, 'max')
    monkeypatch.setattr(fn, '_NB', [None])
    monkeypatch.setattr(fn, '_numba_ready', lambda: None)
    monkeypatch.setattr(fn, '_start_numba', lambda: None)
    runs: list[int] = []
    real = mod.KERNELS[('max', 'float32')]
    monkeypatch.setitem(mod.KERNELS, ('max', 'float32'),
                        lambda *a: runs.append(1) or real(*a))
    fn.clear_caches()
    with dispatch.force_cpu_path('segment', 'max', 'numba'):
        _close(segment(src, ptr, 'max'), want)
        _close(segment(src, ptr, 'max'), want)
        assert not runs
        monkeypatch.setattr(fn, '_numba_ready', lambda: mod)  # loaded now
        _close(segment(src, ptr, 'max'), want)
        assert runs == [1]
        # F = 64, kernels not loaded: the scatter path, no _segment_reduce
        monkeypatch.setattr(fn, '_numba_ready', lambda: None)
        wide = torch.randn(srt.numel(), 64, dtype=torch.float64)
        seg_calls: list[int] = []
        real_seg = torch._segment_reduce
        monkeypatch.setattr(torch, '_segment_reduce', lambda *a, **k: (
            seg_calls.append(1), real_seg(*a, **k))[1])
        for _ in range(2):
            _close(segment(wide, ptr, 'max'), _ref(wide, srt, 4, 'max'))
        assert not seg_calls
    fn.clear_caches()


def test_calibration_keeps_the_default_on_a_close_call() -> None:
    """Issue #19 (six cases below 0.9x in one run only): phase 1 of the
    CPU calibration re-times its two best paths when they are within
    ``CLOSE``; among paths within ``TIE`` of the best after that the
    built-in choice (else phase 1's) is kept, a clear winner is taken;
    slowdowns count against the best baseline timed with the paths."""
    from pyg_ext.bench import scatter as B
    # two distributions, best 10 and 19 ms; worst slowdowns: a 1.016,
    # b 1.02 (tied within TIE = 1.03), c 1.30
    per = {'a': [10.0, 19.3], 'b': [10.2, 19.0], 'c': [13.0, 19.5]}
    assert [p for _, p in B._ranked(per, 2)] == ['a', 'b', 'c']
    assert B._retimed_choice(per, 2, 'a', 'b') == 'b'   # tie: the default
    assert B._retimed_choice(per, 2, 'b', None) == 'b'  # tie: phase 1's
    assert B._retimed_choice(per, 2, 'b', 'c') == 'b'   # c lost clearly
    assert B._retimed_choice(per, 2, 'c', 'c') == 'a'
    per['b'] = [7.0, 14.0]                              # b wins by 30 %
    assert B._retimed_choice(per, 2, 'a', 'a') == 'b'
    # a path timed on one distribution only ranks last
    assert B._ranked({'x': [1.0], 'y': [2.0, 2.0]}, 2)[-1][1] == 'x'
    # against the best baseline (the bar's ratio) where it was timed: b is
    # the better path relative to a, but a is closer to the baseline on
    # the distribution where the baseline is hardest to match
    per = {'a': [10.0, 20.0], 'b': [11.0, 18.0]}
    assert B._ranked(per, 2)[0][1] == 'b'
    assert B._ranked(per, 2, [8.0, 20.0])[0][1] == 'a'
    assert B._ranked(per, 2, [8.0, float('inf')])[0][1] == 'b'  # unusable
    assert B._retimed_choice(per, 2, 'b', None, [8.0, 20.0]) == 'a'
    assert B._best_of_company({'a': (1.0, 1.0), '\0x': (3.0, 9.0),
                               '\0y': (2.0, 1.0)}) == 2.0


def test_ops_run_under_inference_mode_without_caching() -> None:
    """Defect found with the ``numba`` path: every CPU op raised
    ``RuntimeError: Inference tensors do not track version counter`` on
    graph tensors made under ``torch.inference_mode()`` (PyG evaluation
    loops), from caching its plan. Inference tensors have no version
    counter, so nothing of theirs is cached: the ops equal their results
    outside inference mode, call after call, and an in-place edit of an
    inference ``ptr`` is seen (a bad one raises the ``ValueError``)."""
    g = torch.Generator().manual_seed(11)
    srt = torch.tensor([0, 0, 2, 2, 2, 3])
    idx = srt[torch.randperm(srt.numel(), generator=g)]
    ei = torch.stack([torch.tensor([0, 1, 2, 0, 1, 3]), idx])
    src = torch.randn(srt.numel(), 3, generator=g)
    x = torch.randn(4, 3, generator=g)
    ptr = index2ptr(srt, 4)

    def run(p: torch.Tensor, i: torch.Tensor, e: torch.Tensor
            ) -> list[torch.Tensor]:
        out = []
        for r in ('sum', 'mean', 'max', 'min'):
            out += [segment(src, p, r), scatter(src, i, 0, 4, r),
                    spmm(e, x, r), spmm_csr(p, e[0][i.sort(stable=True)[1]],
                                            x, None, r)]
        return out + [softmax(src, i), softmax(src, None, p)]

    fn.clear_caches()
    want = run(ptr, idx, ei)
    fn.clear_caches()
    with torch.inference_mode():
        p, i, e = ptr.clone(), idx.clone(), ei.clone()
        assert p.is_inference()
        for _ in range(2):
            for a, b in zip(run(p, i, e), want):
                torch.testing.assert_close(a, b)
        assert not fn._PLANS
        p[1] = 1                                   # in place: [0,1,2,5,6]
        for r in ('sum', 'max'):
            torch.testing.assert_close(segment(src, p, r), _ref(
                src, torch.tensor([0, 1, 2, 2, 2, 3]), 4, r).float())
        p[1] = 9
        with pytest.raises(ValueError, match='ptr'):
            segment(src, p, 'max')
    fn.clear_caches()


def _spy_kernels(monkeypatch: pytest.MonkeyPatch, mod: Any, table: str
                 ) -> list[tuple[str, str]]:
    """Record every call of the entry points of ``mod.<table>``."""
    runs: list[tuple[str, str]] = []
    kernels = getattr(mod, table)
    for key, real in list(kernels.items()):
        def spy(*args: object, _real: Any = real, _key: Any = key) -> None:
            runs.append(_key)
            _real(*args)
        monkeypatch.setitem(kernels, key, spy)
    return runs


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_numba_sum_mean_and_gather_paths_equal_the_torch_paths(
        monkeypatch: pytest.MonkeyPatch, dtype: torch.dtype) -> None:
    """Issue #19 (segment sum E = 1e4, F = 16/64 at 0.87-0.94x of
    ``index_add_`` on the pre-expanded index; ``spmm_csr`` max at F = 1,
    0.90x in every run): the ``'numba'`` paths of ``segment`` sum/mean,
    of ``scatter`` (unsorted index) and of the unweighted CSR gather
    (``spmm_csr`` and ``spmm``'s sorted ``edge_index``) equal the torch
    paths: sums bit for bit (the entries in the same order), means to the
    last bit of one division, max/min with NaN propagated and empty
    groups 0; F = 1, F > 1 and 3-D inputs; the cached plan runs the
    kernel; a non-contiguous input and an input that needs a gradient
    take the torch path (with the right gradient)."""
    mod = _numba_kernels()
    seg_runs = _spy_kernels(monkeypatch, mod, 'KERNELS')
    g_runs = _spy_kernels(monkeypatch, mod, 'GATHER_KERNELS')
    s_runs = _spy_kernels(monkeypatch, mod, 'SCATTER_KERNELS')
    srt = torch.tensor([1, 1, 1, 3, 3, 3, 3, 4, 6, 6])  # 0, 2, 5, 7 empty
    n = 8
    ptr = index2ptr(srt, n)
    gen = torch.Generator().manual_seed(5)
    base = torch.randn(srt.numel(), 6, generator=gen, dtype=dtype)
    base[4, 2] = float('nan')
    unsorted = srt[torch.randperm(srt.numel(), generator=gen)]
    torch_path = {('segment', 'sum'): 'index_add',
                  ('segment', 'mean'): 'scatter_add',
                  ('segment', 'max'): 'segment_reduce',
                  ('scatter', 'sum'): 'index_add',
                  ('scatter', 'mean'): 'scatter_add',
                  ('scatter', 'max'): 'scatter_reduce',
                  ('spmm_csr', 'sum'): 'gather_index_add',
                  ('spmm_csr', 'mean'): 'gather_index_add',
                  ('spmm_csr', 'max'): 'gather_scatter'}
    fn.clear_caches()
    for src in (base[:, :1].contiguous(), base, base.view(-1, 3, 2),
                base[:, 1]):
        contiguous = src.is_contiguous()
        for reduce in ('sum', 'mean', 'max', 'min'):
            key = 'max' if reduce == 'min' else reduce
            runs = []
            for op, call in (
                    ('segment', lambda s=src, r=reduce: segment(s, ptr, r)),
                    ('scatter', lambda s=src, r=reduce: scatter(
                        s, unsorted, 0, n, r))):
                with dispatch.force_cpu_path(op, key, torch_path[op, key]):
                    want = call()
                with dispatch.force_cpu_path(op, key, 'numba'):
                    first, second = call(), call()
                for out in (first, second):
                    if reduce == 'mean':
                        torch.testing.assert_close(out, want, rtol=2e-7 if
                                                   dtype == torch.float32
                                                   else 1e-15, atol=0,
                                                   equal_nan=True)
                    else:
                        _same(out, want)
                assert second[torch.tensor([0, 2, 5, 7])].eq(0).all()
                runs.append(op)
            kern = (reduce, str(dtype)[6:])
            assert seg_runs == ([kern] * 2 if contiguous else []), seg_runs
            assert s_runs == ([kern] * 2 if contiguous else []), s_runs
            seg_runs.clear()
            s_runs.clear()
        if src.dim() == 2 and contiguous:
            x = src[:7]
            col = torch.randint(0, 7, (srt.numel(),), generator=gen)
            ei = torch.stack([col, srt[torch.randperm(srt.numel(),
                                                      generator=gen)]])
            for reduce in ('sum', 'mean', 'max', 'min'):
                key = 'max' if reduce == 'min' else reduce
                with dispatch.force_cpu_path('spmm_csr', key,
                                             torch_path['spmm_csr', key]):
                    want = spmm_csr(ptr, col, x, None, reduce)
                    want_ei = spmm(ei, x, reduce, num_nodes=n)
                with dispatch.force_cpu_path('spmm_csr', key, 'numba'), \
                        dispatch.force_cpu_path('spmm', key, 'sort_csr'):
                    outs = [spmm_csr(ptr, col, x, None, reduce)
                            for _ in range(2)]
                    outs_ei = [spmm(ei, x, reduce, num_nodes=n)
                               for _ in range(2)]
                for out in outs:
                    torch.testing.assert_close(out, want, equal_nan=True)
                for out in outs_ei:
                    torch.testing.assert_close(out, want_ei, equal_nan=True)
                assert g_runs == [(reduce, str(dtype)[6:])] * 4, g_runs
                g_runs.clear()
    # a gradient: the torch path, the right gradient, no kernel call
    src = base.clone().requires_grad_()
    for op, call in (('segment', lambda s: segment(s, ptr, 'sum')),
                     ('scatter', lambda s: scatter(s, unsorted, 0, n))):
        with dispatch.force_cpu_path(op, 'sum', 'numba'):
            call(base)  # the plan
            call(src).pow(2).sum().backward()
        ref = base.clone().requires_grad_()
        with dispatch.force_cpu_path(op, 'sum', 'index_add'):
            call(ref).pow(2).sum().backward()
        torch.testing.assert_close(src.grad, ref.grad, equal_nan=True)
        src.grad = None
    x = base[:7].clone().requires_grad_()
    col = torch.randint(0, 7, (srt.numel(),), generator=gen)
    with dispatch.force_cpu_path('spmm_csr', 'sum', 'numba'):
        spmm_csr(ptr, col, base[:7], None, 'sum')
        spmm_csr(ptr, col, x, None, 'sum').sum().backward()
    want = torch.zeros(7, 6, dtype=dtype).index_add_(
        0, col, torch.ones(srt.numel(), 6, dtype=dtype))
    torch.testing.assert_close(x.grad, want)
    # the kernels ran for the three plan-building calls without gradient
    # only
    kern = ('sum', str(dtype)[6:])
    assert seg_runs == s_runs == g_runs == [kern], (seg_runs, s_runs,
                                                    g_runs)
    fn.clear_caches()


def test_numba_scatter_and_gather_plans_check_their_ids() -> None:
    """The numba scatter and gather loops read the index / columns
    unchecked, so their plans check private copies: out-of-range ids
    raise a ValueError naming the argument (the torch path's report),
    also with ``check=False`` on the gather, and never reach a kernel;
    writes behind torch's back do not reach the plan's copy."""
    _numba_kernels()
    srt = torch.tensor([0, 0, 1, 1, 1, 3])
    ptr = index2ptr(srt, 4)
    x = torch.randn(5, 3)
    src = torch.randn(srt.numel(), 3)
    fn.clear_caches()
    with dispatch.force_cpu_path('scatter', 'sum', 'numba'):
        with pytest.raises((ValueError, IndexError, RuntimeError),
                           match='index'):
            scatter(src, torch.tensor([0, 1, 9, 1, 2, 3]), 0, 4)
        with pytest.raises((ValueError, IndexError, RuntimeError),
                           match='index'):
            scatter(src, torch.tensor([0, 1, -1, 1, 2, 3]), 0, 4)
        idx = torch.tensor([3, 0, 1, 1, 2, 3])
        want = _ref(src, idx, 4, 'sum')
        _close(scatter(src, idx, 0, 4), want)
        idx.numpy()[0] = 10**9  # behind torch's back: the plan's copy
        _close(scatter(src, idx, 0, 4), want)
    for reduce in ('sum', 'max'):
        with dispatch.force_cpu_path('spmm_csr', reduce, 'numba'):
            for bad in (torch.tensor([0, 1, 5, 2, 3, 4]),    # 5 >= M
                        torch.tensor([0, 1, -2, 2, 3, 4])):
                with pytest.raises(ValueError, match='col'):
                    spmm_csr(ptr, bad, x, None, reduce)
            col = torch.tensor([4, 0, 1, 1, 2, 3])
            want = _ref(x[col], srt, 4, reduce)
            _close(spmm_csr(ptr, col, x, None, reduce), want)
            col.numpy()[0] = 10**9
            _close(spmm_csr(ptr, col, x, None, reduce), want)
    fn.clear_caches()


def _zipf_ptr(E: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    w = 1.0 / torch.arange(1, n + 1, dtype=torch.float64)
    idx = torch.multinomial(w, E, replacement=True, generator=g)
    return index2ptr(idx.sort()[0], n)


@pytest.mark.parametrize('reduce', ['sum', 'mean', 'max', 'min'])
def test_segment_cuda_path_follows_the_degree_skew(reduce: str) -> None:
    # the choice is device-agnostic (the pointer's lengths): checked here
    # on CPU tensors, used by segment() on CUDA
    skewed = _zipf_ptr(5000, 500)
    even = index2ptr(torch.arange(500).repeat_interleave(10), 500)
    want = 'scatter_reduce' if reduce in ('max', 'min') else 'index_add'
    assert dispatch.segment_cuda_path(skewed, reduce) == want
    assert dispatch.segment_cuda_path(even, reduce) == 'segment_reduce'
    # the same scatter over the sorted ids gives segment's result
    src = torch.randn(5000, 3)
    rows = fn.ptr2index(skewed, 5000)
    out = fn.scatter_torch(src, rows, 0, 500, reduce, want)
    _close(out, _ref(src, rows, 500, reduce))


@pytest.mark.parametrize('reduce', ['sum', 'mean', 'max', 'min'])
@pytest.mark.parametrize('skewed', [True, False])
def test_segment_cuda_torch_path_matches_reference(reduce: str,
                                                   skewed: bool) -> None:
    # segment's CUDA torch path (device-agnostic code, run here on CPU):
    # skewed rows scatter over the sorted ids (mean: counts from ptr),
    # even ones run torch's segment kernel; [E, 2, 3] values, empty rows,
    # gradients
    ptr = _zipf_ptr(3000, 400) if skewed else index2ptr(
        torch.arange(390).repeat_interleave(6), 400)
    E = int(ptr[-1])
    assert (dispatch.segment_cuda_path(ptr, reduce) == 'segment_reduce') \
        is not skewed
    rows = fn.ptr2index(ptr, E)
    src = torch.randn(E, 2, 3, dtype=torch.float64, requires_grad=True)
    out = fn._segment_cuda_torch(src, ptr, reduce, None)
    ref = _ref(src.detach().reshape(E, 6), rows, 400, reduce)
    _close(out.detach().reshape(400, 6), ref)
    out.sum().backward()
    leaf = src.detach().clone().requires_grad_()
    fn.scatter_torch(leaf, rows, 0, 400, reduce).sum().backward()
    _close(src.grad, leaf.grad)


def test_segment_cuda_path_is_cached_per_pointer_and_version() -> None:
    ptr = index2ptr(torch.arange(100).repeat_interleave(4), 100)
    assert dispatch.segment_cuda_path(ptr, 'sum') == 'segment_reduce'
    assert dispatch._SKEW[id(ptr)][2] is False
    # an in-place edit that makes one row a hub: recomputed, not served
    # from the cache
    lengths = torch.zeros(100, dtype=torch.long)
    lengths[0] = 400
    ptr[1:] = lengths.cumsum(0)
    assert dispatch.segment_cuda_path(ptr, 'sum') == 'index_add'
    with torch.inference_mode():  # no version counter: not cached
        inf = index2ptr(torch.arange(50).repeat_interleave(2), 50)
        assert dispatch.segment_cuda_path(inf, 'max') == 'segment_reduce'


def test_short_even_rows_are_left_to_the_rules() -> None:
    # even rows of mean length below SHORT_ROWS: the pointer's cached
    # entry says short, so on CUDA 'auto' lets RULES pick (not torch's
    # segment kernel outright); mean length 4 and up: not short
    short = index2ptr(torch.arange(300).repeat_interleave(2), 300)
    long = index2ptr(torch.arange(300).repeat_interleave(
        dispatch.SHORT_ROWS), 300)
    for ptr, want in ((short, True), (long, False)):
        assert dispatch.segment_cuda_path(ptr, 'sum') == 'segment_reduce'
        assert dispatch._row_profile(ptr) == (False, want)
        assert dispatch._SKEW[id(ptr)][3] is want  # cached with the skew
    # rows that are all empty count as short (0 < 4 * 5 entries); a
    # pointer without rows is not
    empty = torch.zeros(6, dtype=torch.long)
    assert dispatch._row_profile(empty)[1] is True
    assert dispatch._row_profile(torch.zeros(1, dtype=torch.long))[1] is False


def test_cuda_auto_choices_follow_the_measured_cutoffs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # choose() on a (fake) CUDA tensor with Triton taken as usable and the
    # H200 rules: fp32 spmm sum/mean without gradients stays on
    # torch.sparse.mm below SPARSE_MM_EDGES entries, then follows RULES;
    # segment on even rows runs torch unless they are short
    from torch._subclasses.fake_tensor import FakeTensorMode
    with FakeTensorMode():
        x = torch.empty(100, 16, device='cuda')
    monkeypatch.setattr(dispatch, 'triton_usable', lambda device: True)
    monkeypatch.setattr(dispatch, '_builtin_tried', [True])
    monkeypatch.setattr(dispatch, 'RULES',
                        {op: dict(v) for op, v in
                         dispatch.BUILTIN_RULES['NVIDIA H200'].items()})
    big = dispatch.SPARSE_MM_EDGES * 16
    assert dispatch.choose('spmm', x, 'sum', big, 'auto') == 'triton'
    assert dispatch.choose('spmm', x, 'mean', big // 10, 'auto') == 'torch'
    # F = 1 at the same number of entries: below the rules' threshold
    with FakeTensorMode():
        x1 = torch.empty(100, 1, device='cuda')
    assert dispatch.choose('spmm', x1, 'sum', dispatch.SPARSE_MM_EDGES,
                           'auto') == 'torch'
    short = index2ptr(torch.arange(1000).repeat_interleave(2), 1000)
    even = index2ptr(torch.arange(1000).repeat_interleave(10), 1000)
    huge = 10 ** 9
    assert dispatch.choose('segment', x, 'sum', huge, 'auto',
                           ptr=short) == 'triton'
    assert dispatch.choose('segment', x, 'sum', huge, 'auto',
                           ptr=even) == 'torch'
    assert dispatch.choose('segment', x, 'sum', 1000, 'auto',
                           ptr=short) == 'torch'
    # above the max rule but below SHORT_ROWS_FROM: torch's segment kernel
    mid = dispatch.SHORT_ROWS_FROM // 2
    assert dispatch.choose('segment', x, 'max', mid, 'auto',
                           ptr=short) == 'torch'


def test_builtin_rules_load_once_and_yield_to_loaded_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    saved = {k: dict(v) for k, v in dispatch.RULES.items()}
    monkeypatch.setattr(dispatch, '_builtin_tried', [False])
    try:
        for op in dispatch.OPS:
            dispatch.RULES[op] = {}
        assert not dispatch.load_builtin_rules('Some Other GPU')
        assert all(not dispatch.RULES[op] for op in dispatch.OPS)
        assert dispatch.load_builtin_rules('NVIDIA H200')
        assert dispatch.RULES == dispatch.BUILTIN_RULES['NVIDIA H200']
        assert dispatch._builtin_tried[0]
        # rules already present (loaded or calibrated) are kept
        dispatch.RULES['segment'] = {'sum': 7}
        assert not dispatch.load_builtin_rules('NVIDIA H200')
        assert dispatch.RULES['segment'] == {'sum': 7}
        # every built-in rule names known ops and reduces, with sizes
        for rules in dispatch.BUILTIN_RULES.values():
            assert set(rules) == set(dispatch.OPS)
            for per in rules.values():
                assert set(per) == set(dispatch.REDUCES)
                assert all(v is None or v > 0 for v in per.values())
    finally:
        dispatch.RULES.clear()
        dispatch.RULES.update(saved)
