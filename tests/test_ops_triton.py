"""Triton kernels of pyg_ext.ops against a float64 torch reference.

Without CUDA these run on the Triton CPU interpreter (``TRITON_INTERPRET=1``,
set in conftest.py before triton is imported), which costs about 0.1 s per
program instance: graphs stay tiny, with ``BLOCK_E`` small enough that hubs
span several chunks and exercise the cross-chunk fix-up.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
import torch

from pyg_ext.ops import (
    scatter,
    scatter_max,
    scatter_min,
    segment,
    softmax,
    spmm,
)
from pyg_ext.ops._torch import index2ptr, scatter_torch
from pyg_ext.testing import onlyTriton

DEV = 'cuda' if torch.cuda.is_available() else 'cpu'
REDUCES = ['sum', 'mean', 'max', 'min']


def _graph(n: int = 12, e: int = 90, hub: int = 40, seed: int = 0
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Unsorted and sorted index with a hub row, empty rows (at least the
    last two) and rows of one entry."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, n - 2, (e,), generator=g)
    idx[:hub] = 3
    idx = idx[torch.randperm(e, generator=g)]
    return idx.to(DEV), idx.sort()[0].to(DEV)


def _ref(src: torch.Tensor, index: torch.Tensor, n: int, reduce: str
         ) -> torch.Tensor:
    return scatter_torch(src.double(), index, 0, n, reduce)


@onlyTriton
@pytest.mark.parametrize('reduce', REDUCES)
def test_segment_kernel_matches_float64(reduce: str) -> None:
    n = 12
    _, srt = _graph(n)
    ptr = index2ptr(srt, n)
    src = torch.randn(srt.numel(), 5, device=DEV)
    out = segment(src, ptr, reduce, backend='triton')
    ref = _ref(src, srt, n, reduce)
    assert out.dtype == src.dtype and out.shape == (n, 5)
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    assert (out[-2:] == 0).all()  # empty segments give 0
    # int32 index and 3-D input (flattened trailing dims)
    out32 = segment(src.view(-1, 5, 1), ptr, reduce, index=srt.int(),
                    backend='triton')
    torch.testing.assert_close(out32.view(n, 5), out, rtol=0, atol=0)


@onlyTriton
@pytest.mark.parametrize('reduce', REDUCES)
def test_atomic_scatter_kernel_matches_float64(reduce: str) -> None:
    n = 12
    idx, _ = _graph(n)
    src = torch.randn(idx.numel(), 6, device=DEV)
    out = scatter(src, idx, 0, n + 3, reduce, backend='triton')
    ref = _ref(src, idx, n + 3, reduce)
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    out32 = scatter(src, idx.int(), 0, n + 3, reduce, backend='triton')
    torch.testing.assert_close(out32, out, rtol=1e-6, atol=1e-6)


@onlyTriton
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_accumulates_in_fp32(dtype: torch.dtype) -> None:
    n = 6
    _, srt = _graph(n, e=70, hub=60)  # a 60-entry hub: fp16 sums drift
    ptr = index2ptr(srt, n)
    src = (torch.rand(srt.numel(), 4, device=DEV) + 1).to(dtype)
    ref = _ref(src, srt, n, 'sum')
    out = segment(src, ptr, 'sum', backend='triton')
    # within one output rounding of the exact sum
    eps = torch.finfo(dtype).eps
    assert ((out.double() - ref).abs() <= eps * ref.abs() + 1e-6).all()
    out = scatter(src, srt, 0, n, 'max', backend='triton')
    torch.testing.assert_close(out.double(), _ref(src, srt, n, 'max'),
                               rtol=0, atol=0)


@onlyTriton
@pytest.mark.parametrize('reduce', REDUCES)
def test_spmm_kernel_matches_gather_scatter(reduce: str) -> None:
    n = 10
    g = torch.Generator().manual_seed(1)
    ei = torch.randint(0, n - 1, (2, 80), generator=g)
    ei[1, :35] = 2  # hub target; node n-1 gets no edge
    ei, w = ei.to(DEV), torch.rand(80, generator=g).to(DEV)
    x = torch.randn(n, 3, device=DEV)
    out = spmm(ei, x, reduce, edge_weight=w, backend='triton')
    msg = x.double()[ei[0]] * w.double()[:, None]
    ref = scatter_torch(msg, ei[1], 0, n, reduce)
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    # CSR input (torch.sparse_csr, PyG's adj_t convention) gives the same
    perm = torch.argsort(ei[1], stable=True)
    adj = torch.sparse_csr_tensor(index2ptr(ei[1, perm], n), ei[0, perm],
                                  w[perm], (n, n))
    out2 = spmm(adj, x, reduce, backend='triton')
    torch.testing.assert_close(out2.double(), ref, rtol=1e-5, atol=1e-5)


@onlyTriton
def test_empty_and_single_row_inputs() -> None:
    src = torch.randn(0, 3, device=DEV)
    idx = torch.zeros(0, dtype=torch.long, device=DEV)
    ptr = torch.zeros(5, dtype=torch.long, device=DEV)
    for reduce in REDUCES:
        assert (segment(src, ptr, reduce, backend='triton') == 0).all()
        assert scatter(src, idx, 0, 4, reduce, backend='triton').shape == (
            4, 3)
    # N = 1 with every entry in one segment (spans several chunks)
    src = torch.randn(100, 2, device=DEV)
    ptr = torch.tensor([0, 100], device=DEV)
    out = segment(src, ptr, 'sum', backend='triton')
    torch.testing.assert_close(out, src.sum(0, keepdim=True), rtol=1e-5,
                               atol=1e-5)


@onlyTriton
def test_segment_is_bitwise_deterministic() -> None:
    _, srt = _graph(12)
    ptr = index2ptr(srt, 12)
    src = torch.randn(srt.numel(), 3, device=DEV)
    a = segment(src, ptr, 'sum', backend='triton')
    b = segment(src, ptr, 'sum', backend='triton')
    assert torch.equal(a, b)


@onlyTriton
def test_gradients_float64() -> None:
    n = 6
    idx, srt = _graph(n, e=20, hub=8)
    ptr = index2ptr(srt, n)
    src = torch.randn(20, 2, dtype=torch.float64, device=DEV,
                      requires_grad=True)
    check = functools.partial(torch.autograd.gradcheck, fast_mode=True)
    for reduce in ['sum', 'mean', 'max']:
        assert check(
            lambda s, r=reduce: segment(s, ptr, r, backend='triton'), (src,))
        assert check(
            lambda s, r=reduce: scatter(s, idx, 0, n, r, backend='triton'),
            (src,))
    x = torch.randn(n, 2, dtype=torch.float64, device=DEV,
                    requires_grad=True)
    w = torch.rand(20, dtype=torch.float64, device=DEV, requires_grad=True)
    ei = torch.stack([idx.flip(0), idx])
    for reduce in ['sum', 'mean', 'max']:
        assert check(
            lambda x_, w_, r=reduce: spmm(ei, x_, r, edge_weight=w_,
                                          backend='triton'), (x, w))


@onlyTriton
def test_max_gradient_splits_ties_like_torch() -> None:
    src = torch.tensor([[1.0], [3.0], [3.0], [2.0]], device=DEV,
                       requires_grad=True)
    idx = torch.tensor([0, 0, 0, 1], device=DEV)
    out = scatter(src, idx, 0, 2, 'max', backend='triton')
    out.sum().backward()
    assert src.grad.flatten().tolist() == [0.0, 0.5, 0.5, 1.0]


@onlyTriton
def test_scatter_max_min_return_first_arg_and_sentinel() -> None:
    src = torch.tensor([[1.0, 5.0], [3.0, 5.0], [3.0, 0.0], [2.0, 1.0]],
                       device=DEV)
    idx = torch.tensor([0, 0, 0, 2], device=DEV)
    out, arg = scatter_max(src, idx, dim_size=3, backend='triton')
    assert out.tolist() == [[3.0, 5.0], [0.0, 0.0], [2.0, 1.0]]
    assert arg.tolist() == [[1, 0], [4, 4], [3, 3]]
    out, arg = scatter_min(src, idx, dim_size=3, backend='triton')
    assert out.tolist() == [[1.0, 0.0], [0.0, 0.0], [2.0, 1.0]]
    assert arg.tolist() == [[0, 2], [4, 4], [3, 3]]


@onlyTriton
def test_softmax_through_kernels_matches_pyg() -> None:
    from torch_geometric.utils import softmax as pyg_softmax
    idx, srt = _graph(8, e=40, hub=15)
    src = torch.randn(40, 2, device=DEV)
    ref = pyg_softmax(src, idx, num_nodes=8)
    out = softmax(src, idx, num_nodes=8, backend='triton')
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-7)
    ptr = index2ptr(srt, 8)
    out = softmax(src, None, ptr, backend='triton')
    torch.testing.assert_close(out, pyg_softmax(src, None, ptr), rtol=1e-6,
                               atol=1e-7)


@onlyTriton
def test_deterministic_mode_sorts_and_segments() -> None:
    idx, _ = _graph(12)
    src = torch.randn(idx.numel(), 3, device=DEV)
    ref = _ref(src, idx, 12, 'sum')
    prev = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        out = scatter(src, idx, 0, 12, 'sum', backend='triton')
    finally:
        torch.use_deterministic_algorithms(prev)
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)


@onlyTriton
def test_custom_ops_compile_fullgraph_without_breaks() -> None:
    from pyg_ext.ops._custom import segment_csr_op

    _, srt = _graph(8, e=40, hub=10)
    ptr = index2ptr(srt, 8)
    src = torch.randn(40, 3, device=DEV)

    def f(s: torch.Tensor) -> torch.Tensor:
        return segment_csr_op(s * 2, srt, ptr, 'sum') + 1

    torch._dynamo.reset()
    compiled = torch.compile(f, fullgraph=True, backend='eager')
    torch.testing.assert_close(compiled(src), f(src))
    # fake kernel gives the right shape without running the kernel
    from torch._subclasses.fake_tensor import FakeTensorMode
    with FakeTensorMode() as mode:
        fs = mode.from_tensor(src)
        out = segment_csr_op(fs, mode.from_tensor(srt),
                             mode.from_tensor(ptr), 'max')
        assert out.shape == (8, 3)


@onlyTriton
def test_eager_calls_skip_the_custom_op_only_without_autograd(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # an eager call that autograd need not record runs the kernel
    # directly; one with inputs requiring grad goes through the op (its
    # backward formula), with the same values
    from pyg_ext.ops import _custom
    calls: list[str] = []
    real = _custom.segment_csr_custom

    def spy(*args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append('op')
        return real(*args, **kwargs)
    monkeypatch.setattr(_custom, 'segment_csr_custom', spy)
    _, srt = _graph(8, e=40, hub=10)
    ptr = index2ptr(srt, 8)
    src = torch.randn(40, 3, device=DEV)
    direct = _custom.segment_csr_op(src, srt, ptr, 'mean')
    assert calls == []
    leaf = src.clone().requires_grad_()
    out = _custom.segment_csr_op(leaf, srt, ptr, 'mean')
    assert calls == ['op']
    torch.testing.assert_close(out.detach(), direct)
    out.sum().backward()
    deg = ptr.diff().clamp(min=1).to(src.dtype)
    torch.testing.assert_close(leaf.grad, (1 / deg)[srt][:, None].expand(
        40, 3))
    with torch.no_grad():
        _custom.segment_csr_op(leaf, srt, ptr, 'mean')
    assert calls == ['op']


@onlyTriton
def test_wide_features_use_several_feature_blocks() -> None:
    # F = 70 > BLOCK_F = 64: two feature blocks, hub cut by the chunk border
    n = 5
    srt = torch.tensor([0] * 3 + [1] * 70 + [3] * 7, device=DEV)
    ptr = index2ptr(srt, n)
    src = torch.randn(80, 70, device=DEV)
    out = segment(src, ptr, 'mean', backend='triton')
    torch.testing.assert_close(out.double(), _ref(src, srt, n, 'mean'),
                               rtol=1e-5, atol=1e-5)
    out = scatter(src, srt.flip(0), 0, n, 'mean', backend='triton')
    torch.testing.assert_close(out.double(),
                               _ref(src, srt.flip(0), n, 'mean'),
                               rtol=1e-5, atol=1e-5)


@onlyTriton
def test_pyg_layers_compile_fullgraph_through_the_switch() -> None:
    from torch_geometric.nn import GATConv, SAGEConv

    from pyg_ext.ops import pyg_switch, use_backend

    x = torch.randn(10, 4, device=DEV)
    ei = torch.randint(0, 10, (2, 30), device=DEV)
    for conv in (SAGEConv(4, 3, aggr='max'), GATConv(4, 3)):
        conv = conv.to(DEV)
        with use_backend('triton'), pyg_switch():
            ref = conv(x, ei)
            torch._dynamo.reset()
            out = torch.compile(conv, fullgraph=True, backend='eager')(x, ei)
        torch.testing.assert_close(out, ref)


@onlyTriton
@pytest.mark.parametrize('kernel', ['rows', 'tiles'])
@pytest.mark.parametrize('config', [None, (16, 4, 8, 4), (32, 8, 64, 4),
                                    (20, 8, 4, 1)])
@pytest.mark.parametrize('reduce', REDUCES)
def test_rows_kernel_matches_float64(reduce: str, config: Any,
                                     kernel: str) -> None:
    # the 'rows' segment kernel (a loop over each chunk's row pieces) and
    # the 'tiles' one (a scan per tile, the running row carried): hubs
    # across many chunks and tiles, chunks that are not a whole number of
    # tiles, empty rows, int32 ids, gathers with weights
    from pyg_ext.ops._triton import segment_csr_triton
    n = 12
    _, srt = _graph(n, e=120, hub=70)
    ptr = index2ptr(srt, n)
    F = 5 if config is None else config[2] + 3  # a partial feature block
    src = torch.randn(srt.numel(), F, device=DEV)
    out = segment_csr_triton(src, srt.int(), ptr.int(), reduce,
                             config=config, kernel=kernel)
    torch.testing.assert_close(out.double(), _ref(src, srt, n, reduce),
                               rtol=1e-5, atol=1e-5)
    assert (out[-2:] == 0).all()
    again = segment_csr_triton(src, srt, ptr, reduce, config=config,
                               kernel=kernel)
    assert torch.equal(out, again)  # deterministic, whatever the id dtype
    x = torch.randn(n, F, device=DEV)
    col = torch.randint(0, n, (srt.numel(),), device=DEV)
    w = torch.rand(srt.numel(), device=DEV)
    out = segment_csr_triton(x, srt, ptr, reduce, col=col, weight=w,
                             config=config, kernel=kernel)
    ref = scatter_torch(x.double()[col] * w.double()[:, None], srt, 0, n,
                        reduce)
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)


@onlyTriton
@pytest.mark.parametrize('reduce', REDUCES)
def test_tiles_kernel_rows_across_many_tiles(reduce: str) -> None:
    # rows of 17, 25 and 40 entries inside one 64-edge chunk walked in
    # 4-edge tiles: the running value (and, for mean, the row's start)
    # carried over many tiles; rows cut by chunk borders at 64 and 128
    from pyg_ext.ops._triton import segment_csr_triton
    lengths = torch.tensor([0, 17, 3, 25, 1, 9, 40, 2, 0, 30, 5])
    n = lengths.numel()
    srt = torch.repeat_interleave(torch.arange(n), lengths).to(DEV)
    ptr = index2ptr(srt, n)
    src = torch.randn(srt.numel(), 6, device=DEV)
    out = segment_csr_triton(src, srt, ptr, reduce, config=(64, 4, 8, 1),
                             kernel='tiles')
    torch.testing.assert_close(out.double(), _ref(src, srt, n, reduce),
                               rtol=1e-5, atol=1e-5)
    assert (out[0] == 0).all() and (out[8] == 0).all()


@onlyTriton
def test_segment_kernel_choice_is_checked() -> None:
    from pyg_ext.ops._triton import segment_csr_triton
    _, srt = _graph(6, e=20, hub=5)
    with pytest.raises(ValueError, match='kernel'):
        segment_csr_triton(torch.randn(20, 2, device=DEV), srt,
                           index2ptr(srt, 6), 'sum', kernel='fast')
