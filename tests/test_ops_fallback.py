"""The torch path of pyg_ext.ops (what CPUs run) and the dispatcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch_geometric.utils import scatter as pyg_scatter
from torch_geometric.utils import segment as pyg_segment
from torch_geometric.utils import softmax as pyg_softmax

from pyg_ext.ops import (
    dispatch,
    scatter,
    scatter_max,
    scatter_softmax,
    segment,
    set_backend,
    softmax,
    spmm,
    use_backend,
)
from pyg_ext.ops._torch import index2ptr, ptr2index
from pyg_ext.testing import withPackage

ALL = ['sum', 'add', 'mean', 'max', 'min', 'mul', 'any']


@pytest.mark.parametrize('reduce', ALL)
@pytest.mark.parametrize('dim', [0, 1, -1])
def test_scatter_equals_pyg(reduce: str, dim: int) -> None:
    src = torch.randn(6, 9, 3)
    idx = torch.randint(0, 4, (src.size(dim),))
    out = scatter(src, idx, dim, 5, reduce)
    ref = pyg_scatter(src, idx, dim, 5, reduce)
    if reduce == 'any':  # which duplicate wins is unspecified
        assert out.shape == ref.shape
    else:
        assert torch.equal(out, ref)


def test_scatter_infers_dim_size_and_takes_int32() -> None:
    src, idx = torch.randn(10, 2), torch.tensor([0, 2] * 5)
    assert scatter(src, idx).shape == (3, 2)
    assert torch.equal(scatter(src, idx.int(), 0, 3, 'max'),
                       scatter(src, idx, 0, 3, 'max'))


def test_scatter_validates_arguments() -> None:
    src = torch.randn(4, 2)
    with pytest.raises(ValueError, match='1-D'):
        scatter(src, torch.zeros(4, 1, dtype=torch.long))
    with pytest.raises(ValueError, match='dim'):
        scatter(src, torch.zeros(4, dtype=torch.long), dim=2)
    with pytest.raises(ValueError, match='entries'):
        scatter(src, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match='reduce'):
        scatter(src, torch.zeros(4, dtype=torch.long), reduce='median')
    with pytest.raises(ValueError, match='backend'):
        scatter(src, torch.zeros(4, dtype=torch.long), backend='cuda')


@pytest.mark.parametrize('reduce', ['sum', 'mean', 'max', 'min'])
def test_segment_equals_pyg_and_scatter(reduce: str) -> None:
    idx = torch.tensor([0, 0, 0, 2, 2, 3, 5, 5])
    ptr = index2ptr(idx, 7)
    src = torch.randn(8, 4)
    out = segment(src, ptr, reduce)
    torch.testing.assert_close(out, pyg_segment(src, ptr, reduce))
    torch.testing.assert_close(out, scatter(src, idx, 0, 7, reduce))
    assert (out[[1, 4, 6]] == 0).all()
    assert torch.equal(ptr2index(ptr, 8).long(), idx)


def test_scatter_max_matches_torch_scatter_semantics() -> None:
    src = torch.tensor([2.0, 7.0, 7.0, -1.0])
    out, arg = scatter_max(src, torch.tensor([1, 1, 1, 3]), dim_size=4)
    assert out.tolist() == [0.0, 7.0, 0.0, -1.0]
    assert arg.tolist() == [4, 1, 4, 3]


def test_softmax_and_spmm_equal_pyg() -> None:
    idx = torch.randint(0, 5, (30,))
    src = torch.randn(30, 2)
    torch.testing.assert_close(softmax(src, idx, num_nodes=5),
                               pyg_softmax(src, idx, num_nodes=5))
    torch.testing.assert_close(scatter_softmax(src, idx, dim_size=5),
                               pyg_softmax(src, idx, num_nodes=5))
    srt = idx.sort()[0]
    ptr = index2ptr(srt, 5)
    torch.testing.assert_close(softmax(src, srt, ptr),
                               pyg_softmax(src, srt, ptr))
    with pytest.raises(NotImplementedError):
        softmax(src)
    x = torch.randn(5, 3)
    ei = torch.randint(0, 5, (2, 30))
    for reduce in ['sum', 'mean', 'max', 'min']:
        ref = pyg_scatter(x[ei[0]], ei[1], 0, 5, reduce)
        torch.testing.assert_close(spmm(ei, x, reduce), ref)


def test_auto_is_torch_on_cpu_and_backend_switches() -> None:
    src = torch.randn(4, 2)
    assert dispatch.choose('segment', src, 'sum', 8) == 'torch'
    assert dispatch.choose('scatter', src, 'mul', 8, 'triton') == 'torch'
    with use_backend('torch'):
        assert dispatch.get_backend() == 'torch'
        with pytest.raises(ValueError):
            set_backend('gpu')
    assert dispatch.get_backend() == 'auto'
    ints = torch.ones(4, 2, dtype=torch.long)
    assert dispatch.choose('scatter', ints, 'sum', 8, 'triton') == 'torch'


class _CudaLike:
    device = torch.device('cuda')

    def __init__(self, dtype: torch.dtype = torch.float32) -> None:
        self.dtype = dtype

    def is_floating_point(self) -> bool:
        return True

    def dim(self) -> int:
        return 2

    def size(self, i: int) -> int:
        return (1200, 4)[i]


def test_auto_keeps_torch_where_it_was_measured_faster(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # rules that would take Triton at every size: even rows (segment) and
    # float32 spmm sum/mean without gradients (below SPARSE_MM_EDGES
    # entries) still run torch under auto
    monkeypatch.setattr(dispatch, 'RULES', {op: {r: 1 for r in dispatch.REDUCES}
                                            for op in dispatch.OPS})
    monkeypatch.setattr(dispatch, '_builtin_tried', [True])
    monkeypatch.setattr(dispatch, 'triton_usable', lambda d: True)
    src = _CudaLike()
    even = index2ptr(torch.arange(50).repeat_interleave(12), 50)
    g = torch.Generator().manual_seed(0)
    zipf = torch.multinomial(1.0 / torch.arange(1, 501, dtype=torch.float64),
                             5000, replacement=True, generator=g)
    skewed = index2ptr(zipf.sort()[0], 500)  # hubs: degree_path skewed
    assert dispatch.choose('segment', src, 'sum', 4800, 'auto',
                           ptr=even) == 'torch'
    assert dispatch.choose('segment', src, 'sum', 4800, 'auto',
                           ptr=skewed) == 'triton'
    assert dispatch.choose('segment', src, 'max', 4800, 'triton',
                           ptr=even) == 'triton'  # forced stays forced
    assert dispatch.choose('spmm', src, 'sum', 4800, 'auto') == 'torch'
    assert dispatch.choose('spmm', src, 'mean', 4800, 'auto') == 'torch'
    assert dispatch.choose('spmm', src, 'sum', 4800, 'auto',
                           needs_grad=True) == 'triton'
    assert dispatch.choose('spmm', _CudaLike(torch.bfloat16), 'mean', 4800,
                           'auto') == 'triton'
    assert dispatch.choose('spmm', src, 'max', 4800, 'auto') == 'triton'


def test_rules_load_and_failure_fallback(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    path = tmp_path / 'rules.json'
    path.write_text(json.dumps({'rules': {'segment': {'sum': 1024,
                                                      'max': None}}}))
    saved = {k: dict(v) for k, v in dispatch.RULES.items()}
    try:
        rules = dispatch.load_rules(str(path))
        assert rules['segment'] == {'sum': 1024, 'max': None}
        # a stand-in for a CUDA tensor
        monkeypatch.setattr(dispatch, 'triton_usable', lambda d: True)
        src = _CudaLike()
        assert dispatch.choose('segment', src, 'sum', 4096) == 'triton'
        assert dispatch.choose('segment', src, 'sum', 512) == 'torch'
        assert dispatch.choose('segment', src, 'max', 4096) == 'torch'
        assert dispatch.choose('spmm', src, 'sum', 1 << 30) == 'torch'
    finally:
        monkeypatch.undo()
        dispatch.RULES.clear()
        dispatch.RULES.update(saved)

    from pyg_ext.ops import functional

    def boom() -> torch.Tensor:
        raise RuntimeError('compiler error')

    with pytest.warns(RuntimeWarning, match='compiler error'):
        out = functional._guarded('spmm', 'max', None, boom,
                                  lambda: torch.ones(1))
    assert out.item() == 1.0 and ('spmm', 'max') in dispatch._failed
    dispatch._failed.discard(('spmm', 'max'))
    with pytest.raises(RuntimeError, match='compiler'):
        functional._guarded('spmm', 'max', 'triton', boom,
                            lambda: torch.ones(1))


@withPackage('torch_scatter')
def test_fallbacks_match_torch_scatter() -> None:  # pragma: no cover
    import torch_scatter
    src, idx = torch.randn(40, 3), torch.randint(0, 6, (40,))
    for reduce in ['sum', 'mean', 'max', 'min', 'mul']:
        torch.testing.assert_close(
            scatter(src, idx, 0, 6, reduce),
            torch_scatter.scatter(src, idx, 0, dim_size=6, reduce=reduce))
    srt = idx.sort()[0]
    ptr = index2ptr(srt, 6)
    for reduce in ['sum', 'mean', 'max', 'min']:
        torch.testing.assert_close(
            segment(src, ptr, reduce),
            torch_scatter.segment_csr(src, ptr, reduce=reduce))


@pytest.mark.skipif(not dispatch.triton_usable(torch.device('cpu')),
                    reason='needs triton under TRITON_INTERPRET=1')
def test_calibrate_sets_thresholds_from_timings(tmp_path: Path) -> None:
    # fake timer: for each (op, reduce) and size, triton then torch times;
    # Triton wins only from the second size on, except at the third size
    # of 'max' (a loss at a larger size disables the smaller threshold)
    calls: list[int] = []

    def timer(fn: object) -> float:
        i = len(calls)
        calls.append(i)
        case, k = divmod(i, 2 * 3)  # 3 sizes per (op, reduce)
        size, is_torch = divmod(k, 2)
        reduce = ['sum', 'max'][case % 2]
        if not is_torch:
            return 1.0
        if reduce == 'max' and size == 2:
            return 1.0  # tie: not a win
        return 2.0 if size >= 1 else 1.0

    saved = {k: dict(v) for k, v in dispatch.RULES.items()}
    path = tmp_path / 'rules.json'
    try:
        rules = dispatch.calibrate('cpu', sizes=(64, 128, 256), features=4,
                                   reduces=('sum', 'max'), path=str(path),
                                   timer=timer)
        assert rules['segment'] == {'sum': 128, 'max': None}
        assert rules['spmm'] == {'sum': 128, 'max': None}
        assert dispatch.RULES['scatter']['sum'] == 128
        saved_json = json.loads(path.read_text())
        assert saved_json['rules'] == json.loads(json.dumps(rules))
        assert len(saved_json['timings']) == 3 * 2 * 3
    finally:
        dispatch.RULES.clear()
        dispatch.RULES.update(saved)


def test_autocalibrate_runs_once_and_caches(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    path = tmp_path / 'cache' / 'rules.json'
    calls: list[str] = []

    def fake_calibrate(device: object, path: str) -> None:
        calls.append(path)
        Path(path).write_text(json.dumps({'rules': {'segment': {'sum': 1}}}))
        dispatch.RULES['segment'] = {'sum': 1}

    saved = {k: dict(v) for k, v in dispatch.RULES.items()}
    monkeypatch.setattr(dispatch, 'calibrate', fake_calibrate)
    monkeypatch.setattr(dispatch, 'rules_cache_path', lambda d: str(path))
    monkeypatch.setattr(dispatch, 'triton_usable', lambda d: True)
    monkeypatch.setattr(dispatch, '_calibrated', False)
    monkeypatch.setattr(dispatch, '_builtin_tried', [False])
    monkeypatch.setenv('PYG_EXT_AUTOCALIBRATE', '1')
    try:
        assert dispatch.choose('segment', _CudaLike(), 'sum', 8) == 'triton'
        assert dispatch.choose('segment', _CudaLike(), 'sum', 8) == 'triton'
        assert calls == [str(path)]  # once per process
        dispatch.RULES['segment'] = {}
        monkeypatch.setattr(dispatch, '_calibrated', False)  # a new process
        monkeypatch.setattr(dispatch, '_builtin_tried', [False])
        assert dispatch.choose('segment', _CudaLike(), 'sum', 8) == 'triton'
        assert calls == [str(path)]  # loaded from the cache file
    finally:
        dispatch.RULES.clear()
        dispatch.RULES.update(saved)
