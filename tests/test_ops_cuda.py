"""Triton kernels on a real GPU: every op, reduce, value dtype (float32,
bfloat16) and index dtype (int32, int64) against a float64 torch reference
on graphs large enough for many programs, hub rows longer than a block and
empty rows; the PyG switch's training steps on CUDA. Skipped without CUDA
(the interpreter tests in ``test_ops_triton.py`` cover the logic on CPU).
"""

from __future__ import annotations

import copy

import pytest
import torch

from pyg_ext.ops import (
    pyg_switch,
    scatter,
    segment,
    softmax,
    spmm_csr,
    use_backend,
)
from pyg_ext.ops._torch import index2ptr, scatter_torch
from pyg_ext.testing import onlyCUDA, onlyTriton

REDUCES = ['sum', 'mean', 'max', 'min']
DTYPES = [torch.float32, torch.bfloat16]
IDX = [torch.int32, torch.int64]


def _graph(E: int = 60_000, N: int = 5_000, seed: int = 0
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Power-law ids (hubs of thousands of entries), the last 50 rows
    empty; unsorted and sorted, on CUDA."""
    g = torch.Generator().manual_seed(seed)
    w = 1.0 / torch.arange(1, N - 50 + 1, dtype=torch.float64)
    idx = torch.multinomial(w, E, replacement=True, generator=g)
    idx = torch.randperm(N - 50, generator=g)[idx]
    return idx.cuda(), idx.sort()[0].cuda()


def _check(out: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype,
           reduce: str, absref: torch.Tensor) -> None:
    assert out.dtype == dtype
    err = (out.double() - ref).abs()
    # one rounding of the output in ``dtype`` plus float32 accumulation
    # error, which grows with the row's sum of |terms| (``absref``)
    bound = torch.finfo(dtype).eps * ref.abs() + 3e-5 * absref + 1e-6
    assert bool((err <= bound).all()), (
        f'max error {err.max().item():.3g}, worst excess '
        f'{(err - bound).max().item():.3g}')


@onlyCUDA
@onlyTriton
@pytest.mark.parametrize('F', [1, 37, 256])
@pytest.mark.parametrize('itype', IDX)
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduce', REDUCES)
def test_segment_and_scatter_match_float64(reduce: str, dtype: torch.dtype,
                                           itype: torch.dtype,
                                           F: int) -> None:
    N = 5_000
    idx, srt = _graph(N=N)
    ptr = index2ptr(srt, N)
    src = torch.randn(idx.numel(), F, device='cuda').to(dtype)
    s64 = src.double()
    ref_seg = scatter_torch(s64, srt, 0, N, reduce)
    ref_sc = scatter_torch(s64, idx, 0, N, reduce)
    abs_seg = scatter_torch(s64.abs(), srt, 0, N, 'sum')
    abs_sc = scatter_torch(s64.abs(), idx, 0, N, 'sum')
    out = segment(src, ptr.to(itype), reduce, index=srt.to(itype),
                  backend='triton')
    _check(out, ref_seg, dtype, reduce, abs_seg)
    assert bool((out[-50:] == 0).all())  # empty rows give 0
    out = scatter(src, idx.to(itype), 0, N, reduce, backend='triton')
    _check(out, ref_sc, dtype, reduce, abs_sc)
    assert bool((out[-50:] == 0).all())


@onlyCUDA
@onlyTriton
@pytest.mark.parametrize('F', [1, 64])
@pytest.mark.parametrize('itype', IDX)
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduce', REDUCES)
def test_fused_spmm_matches_float64(reduce: str, dtype: torch.dtype,
                                    itype: torch.dtype, F: int) -> None:
    N = 5_000
    _, srt = _graph(N=N, seed=1)
    E = srt.numel()
    g = torch.Generator(device='cuda').manual_seed(2)
    col = torch.randint(0, N, (E,), device='cuda', generator=g)
    w = torch.rand(E, device='cuda', generator=g).to(dtype)
    x = torch.randn(N, F, device='cuda', generator=g).to(dtype)
    msg = x.double()[col] * w.double()[:, None]
    ref = scatter_torch(msg, srt, 0, N, reduce)
    absref = scatter_torch(msg.abs(), srt, 0, N, 'sum')
    out = spmm_csr(index2ptr(srt, N).to(itype), col.to(itype), x, w, reduce,
                   row=srt.to(itype), backend='triton')
    _check(out, ref, dtype, reduce, absref)


@onlyCUDA
@onlyTriton
def test_softmax_matches_pyg_on_cuda() -> None:
    from torch_geometric.utils import softmax as pyg_softmax
    idx, srt = _graph()
    src = torch.randn(idx.numel(), 4, device='cuda')
    for index in (idx, srt):
        out = softmax(src, index, num_nodes=5_000, backend='triton')
        ref = pyg_softmax(src.double(), index, num_nodes=5_000)
        torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)


@onlyCUDA
@onlyTriton
def test_segment_is_bitwise_deterministic_on_cuda() -> None:
    idx, srt = _graph()
    ptr = index2ptr(srt, 5_000)
    src = torch.randn(idx.numel(), 64, device='cuda')
    a = segment(src, ptr, 'sum', index=srt, backend='triton')
    b = segment(src, ptr, 'sum', index=srt, backend='triton')
    assert torch.equal(a, b)


@onlyCUDA
@onlyTriton
@pytest.mark.parametrize('conv', ['gcn', 'sage', 'gat'])
def test_training_steps_same_loss_through_switch_on_cuda(conv: str) -> None:
    from torch_geometric.nn import GATConv, GCNConv, SAGEConv
    make = {'gcn': lambda i, o: GCNConv(i, o),
            'sage': lambda i, o: SAGEConv(i, o),
            'gat': lambda i, o: GATConv(i, o, heads=4, concat=False)}[conv]

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1, self.c2 = make(32, 64), make(64, 7)

        def forward(self, x: torch.Tensor, ei: torch.Tensor
                    ) -> torch.Tensor:
            return self.c2(self.c1(x, ei).relu(), ei)

    g = torch.Generator().manual_seed(0)
    n = 3_000
    ei = torch.randint(0, n, (2, 30_000), generator=g).cuda()
    x = torch.randn(n, 32, generator=g).cuda()
    y = torch.randint(0, 7, (n,), generator=g).cuda()
    torch.manual_seed(0)
    model = Net().cuda()

    def steps(m: torch.nn.Module) -> list[float]:
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(m(x, ei), y)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        return losses

    ref = steps(copy.deepcopy(model))
    with use_backend('triton'), pyg_switch():
        got = steps(copy.deepcopy(model))
    assert got == pytest.approx(ref, abs=1e-5, rel=1e-5)


@onlyCUDA
@pytest.mark.parametrize('dist', ['zipf', 'even'])
@pytest.mark.parametrize('backend', ['torch', 'auto'])
@pytest.mark.parametrize('reduce', REDUCES)
def test_cuda_torch_paths_of_segment_match_float64(reduce: str, backend: str,
                                                   dist: str) -> None:
    # skewed rows take a scatter over the sorted ids, even rows torch's
    # segment kernel (segment_cuda_path); both with gradients too
    N = 5_000
    if dist == 'zipf':
        _, srt = _graph(N=N)
    else:
        srt = torch.arange(N - 50, device='cuda').repeat_interleave(12)
    ptr = index2ptr(srt, N)
    src = torch.randn(srt.numel(), 16, device='cuda', requires_grad=True)
    out = segment(src, ptr, reduce, backend=backend)
    ref = scatter_torch(src.detach().double(), srt, 0, N, reduce)
    absref = scatter_torch(src.detach().double().abs(), srt, 0, N, 'sum')
    _check(out, ref, torch.float32, reduce, absref)
    out.sum().backward()
    src64 = src.detach().double().requires_grad_()
    scatter_torch(src64, srt, 0, N, reduce).sum().backward()
    torch.testing.assert_close(src.grad.double(), src64.grad, rtol=1e-5,
                               atol=1e-6)


@onlyCUDA
@pytest.mark.parametrize('grad', [False, True])
@pytest.mark.parametrize('reduce', REDUCES)
def test_cuda_spmm_csr_auto_matches_float64(reduce: str, grad: bool) -> None:
    # float32 sum/mean without gradients run torch.sparse.mm
    N = 5_000
    _, srt = _graph(N=N, seed=3)
    E = srt.numel()
    g = torch.Generator(device='cuda').manual_seed(4)
    col = torch.randint(0, N, (E,), device='cuda', generator=g)
    w = torch.rand(E, device='cuda', generator=g)
    x = torch.randn(N, 32, device='cuda', generator=g).requires_grad_(grad)
    out = spmm_csr(index2ptr(srt, N), col, x, w, reduce, row=srt)
    msg = x.detach().double()[col] * w.double()[:, None]
    ref = scatter_torch(msg, srt, 0, N, reduce)
    absref = scatter_torch(msg.abs(), srt, 0, N, 'sum')
    _check(out.detach(), ref, torch.float32, reduce, absref)
    if grad:
        out.sum().backward()
        assert x.grad is not None and bool(torch.isfinite(x.grad).all())


@onlyCUDA
@onlyTriton
def test_builtin_rules_of_this_gpu_load_under_auto(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pyg_ext.ops import dispatch
    name = torch.cuda.get_device_name()
    if name not in dispatch.BUILTIN_RULES:
        pytest.skip(f'no built-in rules for {name}')
    if dispatch._calibrated:
        pytest.skip('rules were calibrated in this process')
    saved = {k: dict(v) for k, v in dispatch.RULES.items()}
    monkeypatch.setattr(dispatch, '_builtin_tried', [False])
    try:
        for op in dispatch.OPS:
            dispatch.RULES[op] = {}
        idx, srt = _graph()
        segment(torch.randn(idx.numel(), 4, device='cuda'),
                index2ptr(srt, 5_000), 'sum')
        assert dispatch.RULES == dispatch.BUILTIN_RULES[name]
    finally:
        dispatch.RULES.clear()
        dispatch.RULES.update(saved)


@onlyCUDA
@onlyTriton
@pytest.mark.parametrize('gather', [False, True])
@pytest.mark.parametrize('itype', IDX)
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduce', REDUCES)
@pytest.mark.parametrize('kernel', ['rows', 'tiles'])
def test_rows_segment_kernel_matches_float64(kernel: str, reduce: str,
                                             dtype: torch.dtype,
                                             itype: torch.dtype,
                                             gather: bool) -> None:
    from pyg_ext.ops._triton import segment_csr_triton
    N, F = 5_000, 37
    _, srt = _graph(N=N, seed=5)
    E = srt.numel()
    ptr = index2ptr(srt, N)
    g = torch.Generator(device='cuda').manual_seed(6)
    if gather:
        x = torch.randn(N, F, device='cuda', generator=g).to(dtype)
        col = torch.randint(0, N, (E,), device='cuda', generator=g)
        msg = x.double()[col]
        out = segment_csr_triton(x, srt.to(itype), ptr.to(itype), reduce,
                                 col=col.to(itype), kernel=kernel)
    else:
        msg = torch.randn(E, F, device='cuda', generator=g).to(dtype)
        out = segment_csr_triton(msg, srt.to(itype), ptr.to(itype), reduce,
                                 kernel=kernel)
        msg = msg.double()
    ref = scatter_torch(msg, srt, 0, N, reduce)
    _check(out, ref, dtype, reduce, scatter_torch(msg.abs(), srt, 0, N,
                                                  'sum'))

