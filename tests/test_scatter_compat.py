"""``pyg_ext.ops.scatter_compat`` reproduces ``torch_scatter`` 2.1.

Every expectation comes from torch_scatter's documented behaviour (README
and docstrings) and is checked against slow, obviously-correct Python
loops over the elements: broadcasting of ``index``/``indptr``, ``out=``
(in place, accumulating for scatter/segment_coo, overwritten for
segment_csr), ``dim_size``, empty groups (0, arg ``src.size(dim)``),
first-position ties, integer floor ``mean``, the composite ops, gradients
(gradcheck in float64), TorchScript and ``torch.compile``.

Values are small integers (exact in every dtype, so sums are exact and
ties are frequent) unless a test needs distinct reals.
"""

from __future__ import annotations

import importlib
import itertools
import math
import sys

import pytest
import torch
from torch.autograd import gradcheck

import pyg_ext.ops.scatter_compat as ts

# ------------------------------------------------------------ references


def _lined_up(index: torch.Tensor, src_shape: tuple[int, ...],
              dim: int) -> torch.Tensor:
    """torch_scatter's documented broadcasting: a 1-D index lies along
    ``dim``; trailing size-1 dimensions are added; then it is expanded."""
    nd = len(src_shape)
    if index.dim() == 1:
        shape = [1] * dim + [index.numel()] + [1] * (nd - dim - 1)
    else:
        shape = list(index.shape) + [1] * (nd - index.dim())
    return index.reshape(shape).expand(src_shape)


def _reduce(vals: list, reduce: str, init, is_int: bool):
    """One group's result (``init``: the value of ``out``, or None)."""
    if reduce in ('sum', 'add'):
        return (0 if init is None else init) + sum(vals)
    if reduce == 'mul':
        return (1 if init is None else init) * math.prod(vals)
    if reduce == 'mean':
        total = (0 if init is None else init) + sum(vals)
        count = max(len(vals), 1)
        return total // count if is_int else total / count
    cands = vals + ([] if init is None else [init])
    if not cands:
        return 0
    return max(cands) if reduce == 'max' else min(cands)


def ref_scatter(src, index, dim, n, reduce, out=None):
    """``(values, arg)`` by a loop over every element of ``src``."""
    dim %= src.dim()
    idx = _lined_up(index, tuple(src.shape), dim)
    size = list(src.shape)
    size[dim] = n
    groups: dict[tuple, list] = {}
    for p in itertools.product(*map(range, src.shape)):
        q = list(p)
        q[dim] = int(idx[p])
        groups.setdefault(tuple(q), []).append((src[p].item(), p[dim]))
    is_int = not src.is_floating_point()
    values = torch.zeros(size, dtype=torch.float64)
    args = torch.full(size, src.size(dim), dtype=torch.long)
    for q in itertools.product(*map(range, size)):
        members = groups.get(q, [])
        vals = [v for v, _ in members]
        init = None if out is None else out[q].item()
        values[q] = _reduce(vals, reduce, init, is_int)
        if reduce in ('min', 'max'):
            hits = [j for v, j in members if v == values[q].item()]
            if hits:
                args[q] = hits[0]
    return values.to(src.dtype), args


def ref_segment_csr(src, indptr, reduce):
    d = indptr.dim() - 1
    y = indptr.size(-1)
    segs = max(y - 1, 0)
    ip = indptr.expand(tuple(src.shape[:d]) + (y,))
    size = list(src.shape)
    size[d] = segs
    is_int = not src.is_floating_point()
    values = torch.zeros(size, dtype=torch.float64)
    args = torch.full(size, src.size(d), dtype=torch.long)
    for q in itertools.product(*map(range, size)):
        lead, s, tail = q[:d], q[d], q[d + 1:]
        lo, hi = int(ip[lead + (s,)]), int(ip[lead + (s + 1,)])
        vals = [src[lead + (p,) + tail].item() for p in range(lo, hi)]
        values[q] = _reduce(vals, reduce, None, is_int)
        if reduce in ('min', 'max') and vals:
            args[q] = lo + vals.index(values[q].item())
    return values.to(src.dtype), args


def ref_gather_csr(src, indptr, length):
    d = indptr.dim() - 1
    y = indptr.size(-1)
    ip = indptr.expand(tuple(src.shape[:d]) + (y,))
    size = list(src.shape)
    size[d] = length
    out = torch.zeros(size, dtype=src.dtype)
    for q in itertools.product(*map(range, size)):
        lead, p, tail = q[:d], q[d], q[d + 1:]
        for s in range(y - 1):
            if int(ip[lead + (s,)]) <= p < int(ip[lead + (s + 1,)]):
                out[q] = src[lead + (s,) + tail]
    return out


def ref_gather_coo(src, index):
    d = index.dim() - 1
    idx = index.expand(tuple(src.shape[:d]) + (index.size(-1),))
    size = list(src.shape)
    size[d] = index.size(-1)
    out = torch.zeros(size, dtype=src.dtype)
    for q in itertools.product(*map(range, size)):
        lead, j, tail = q[:d], q[d], q[d + 1:]
        out[q] = src[lead + (int(idx[lead + (j,)]),) + tail]
    return out


def ints(*shape, lo=-4, hi=5, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(lo, hi, shape, generator=g).to(dtype)


def ids(n, *shape, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, shape, generator=g)


# (src shape, index shape, dim): every broadcasting form torch_scatter
# documents
SCATTER_CASES = [
    ((6,), (6,), -1),                # 1-D
    ((7, 3), (7,), 0),               # 1-D index, trailing broadcast
    ((2, 7, 3), (7,), 1),            # 1-D index placed along dim
    ((2, 7, 3), (7,), -2),           # negative dim
    ((2, 7), (2, 7), 1),             # a different index per row
    ((2, 5, 3), (2, 5), 1),          # multi-dim index, trailing dims
    ((3, 4, 5), (1, 4, 5), 1),       # leading size-1 dimension
    ((4, 6), (4, 1), 0),             # size-1 trailing dimension
]
REDUCES = ['sum', 'add', 'mul', 'mean', 'min', 'max']
DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16,
          torch.int64, torch.int32]

# ------------------------------------------------------------ API surface

TORCH_SCATTER_NAMES = [
    'scatter', 'scatter_sum', 'scatter_add', 'scatter_mul', 'scatter_mean',
    'scatter_min', 'scatter_max', 'segment_csr', 'segment_sum_csr',
    'segment_add_csr', 'segment_mean_csr', 'segment_min_csr',
    'segment_max_csr', 'gather_csr', 'segment_coo', 'segment_sum_coo',
    'segment_add_coo', 'segment_mean_coo', 'segment_min_coo',
    'segment_max_coo', 'gather_coo', 'scatter_std', 'scatter_logsumexp',
    'scatter_softmax', 'scatter_log_softmax',
]


def test_exposes_torch_scatter_api() -> None:
    import inspect
    for name in TORCH_SCATTER_NAMES:
        assert callable(getattr(ts, name)), name
        assert name in ts.__all__
    assert ts.__version__.startswith('2.1.')
    # torch_scatter's signatures (names, order, defaults)
    sig = inspect.signature(ts.scatter)
    assert list(sig.parameters) == ['src', 'index', 'dim', 'out', 'dim_size',
                                    'reduce']
    assert [p.default for p in sig.parameters.values()][2:] == [
        -1, None, None, 'sum']
    for name in ('scatter_sum', 'scatter_mul', 'scatter_mean', 'scatter_min',
                 'scatter_max'):
        sig = inspect.signature(getattr(ts, name))
        assert list(sig.parameters) == ['src', 'index', 'dim', 'out',
                                        'dim_size'], name
        assert sig.parameters['dim'].default == -1
    assert list(inspect.signature(ts.segment_csr).parameters) == [
        'src', 'indptr', 'out', 'reduce']
    assert list(inspect.signature(ts.segment_coo).parameters) == [
        'src', 'index', 'out', 'dim_size', 'reduce']
    assert list(inspect.signature(ts.gather_csr).parameters) == [
        'src', 'indptr', 'out']
    assert list(inspect.signature(ts.scatter_std).parameters) == [
        'src', 'index', 'dim', 'out', 'dim_size', 'unbiased']
    assert list(inspect.signature(ts.scatter_logsumexp).parameters) == [
        'src', 'index', 'dim', 'out', 'dim_size', 'eps']
    assert list(inspect.signature(ts.scatter_softmax).parameters) == [
        'src', 'index', 'dim', 'dim_size']
    assert list(inspect.signature(ts.scatter_log_softmax).parameters) == [
        'src', 'index', 'dim', 'eps', 'dim_size']


def test_testing_module_matches_what_suites_import() -> None:
    from pyg_ext.ops.scatter_compat import testing
    assert testing.reductions == ['sum', 'add', 'mean', 'min', 'max']
    assert torch.half in testing.dtypes and torch.long in testing.dtypes
    assert testing.grad_dtypes == [torch.float, torch.double]
    assert torch.device('cpu') in testing.devices
    t = testing.tensor([[1, 2]], torch.int32, 'cpu')
    assert t.dtype == torch.int32 and t.tolist() == [[1, 2]]
    assert testing.tensor(None, torch.float, 'cpu') is None


@pytest.fixture
def clean_torch_scatter(monkeypatch):
    """Remove torch_scatter entries from sys.modules for one test (restored
    afterwards), and restore the package's submodule attributes, which a
    submodule import through the alias rebinds."""
    from pyg_ext.ops.scatter_compat import composite, testing, utils
    for name, module in (('composite', composite), ('testing', testing),
                         ('utils', utils)):
        monkeypatch.setattr(ts, name, module)
    for key in [k for k in sys.modules
                if k == 'torch_scatter' or k.startswith('torch_scatter.')]:
        monkeypatch.delitem(sys.modules, key)
    yield
    for key in [k for k in sys.modules
                if k == 'torch_scatter' or k.startswith('torch_scatter.')]:
        del sys.modules[key]


def test_plain_alias_resolves_submodules(clean_torch_scatter) -> None:
    sys.modules['torch_scatter'] = ts
    testing = importlib.import_module('torch_scatter.testing')
    composite = importlib.import_module('torch_scatter.composite')
    assert testing.reductions == ['sum', 'add', 'mean', 'min', 'max']
    # absolute imports inside: the alias reuses the very same functions
    assert composite.scatter_std is ts.scatter_std


def test_install_as_torch_scatter(clean_torch_scatter) -> None:
    assert 'torch_scatter' not in sys.modules  # never registered implicitly
    assert ts.install_as_torch_scatter() is ts
    import torch_scatter
    from torch_scatter.composite import scatter_softmax
    from torch_scatter.testing import reductions
    from torch_scatter.utils import broadcast
    assert torch_scatter is ts and scatter_softmax is ts.scatter_softmax
    assert reductions and callable(broadcast)
    assert ts.install_as_torch_scatter() is ts  # idempotent
    sys.modules['torch_scatter'] = object()  # some other torch_scatter
    with pytest.raises(RuntimeError, match='already imported'):
        ts.install_as_torch_scatter()
    assert ts.install_as_torch_scatter(force=True) is ts
    assert sys.modules['torch_scatter'] is ts
    with pytest.raises(TypeError, match='force'):
        ts.install_as_torch_scatter(force=1)


# ------------------------------------------------------------ scatter


@pytest.mark.parametrize('case', SCATTER_CASES)
@pytest.mark.parametrize('reduce', REDUCES)
def test_scatter_matches_loop(case, reduce) -> None:
    src_shape, index_shape, dim = case
    src = ints(*src_shape)
    n_groups = 5
    index = ids(n_groups, *index_shape)
    n = int(index.max()) + 1
    want, want_arg = ref_scatter(src, index, dim, n, reduce)
    got = ts.scatter(src, index, dim, reduce=reduce)
    assert torch.equal(got, want)
    fn = getattr(ts, 'scatter_' + reduce)
    res = fn(src, index, dim)
    if reduce in ('min', 'max'):
        res, arg = res
        assert torch.equal(arg, want_arg)  # ties: the first position
    assert torch.equal(res, want)
    # dim_size beyond the largest id: trailing empty groups
    more = ts.scatter(src, index, dim, dim_size=n + 2, reduce=reduce)
    want_more, _ = ref_scatter(src, index, dim, n + 2, reduce)
    assert torch.equal(more, want_more)
    empty = 1 if reduce == 'mul' else 0
    assert bool((more.narrow(dim % src.dim(), n, 2) == empty).all())


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('reduce', REDUCES)
def test_scatter_dtypes(dtype, reduce) -> None:
    src = ints(9, 2, dtype=dtype, lo=-3, hi=4)
    index = ids(4, 9, seed=3)
    want, want_arg = ref_scatter(src, index, 0, 4, reduce)
    res = getattr(ts, 'scatter_' + reduce)(src, index, 0, None, 4)
    if reduce in ('min', 'max'):
        res, arg = res
        assert torch.equal(arg, want_arg)
    assert res.dtype == dtype
    assert torch.equal(res, want)


def test_integer_mean_floor_divides() -> None:
    src = torch.tensor([-3, -4, 5, 7, 2])
    index = torch.tensor([0, 0, 1, 1, 2])
    # torch_scatter: integer mean rounds toward -inf (floor)
    assert ts.scatter_mean(src, index).tolist() == [-4, 6, 2]
    assert ts.scatter_mean(src.double(), index).tolist() == [-3.5, 6.0, 2.0]
    ptr = torch.tensor([0, 2, 4, 5])
    assert ts.segment_csr(src, ptr, reduce='mean').tolist() == [-4, 6, 2]
    assert ts.segment_coo(src, index, reduce='mean').tolist() == [-4, 6, 2]


def test_empty_groups_and_arg_sentinel() -> None:
    src = torch.tensor([[1., -2.], [3., 4.], [-5., 6.]])
    index = torch.tensor([0, 2, 2])
    for fn in (ts.scatter_max, ts.scatter_min):
        val, arg = fn(src, index, 0, dim_size=4)
        assert val[1].tolist() == [0., 0.] and val[3].tolist() == [0., 0.]
        assert arg[1].tolist() == [3, 3] and arg[3].tolist() == [3, 3]
    assert ts.scatter_max(src, index, 0)[1].tolist() == [[0, 0], [3, 3],
                                                         [1, 2]]
    assert ts.scatter_min(src, index, 0)[1].tolist() == [[0, 0], [3, 3],
                                                         [2, 1]]
    # an empty index
    out = ts.scatter(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), 0)
    assert out.shape == (0, 3)
    out = ts.scatter_max(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long),
                         0, dim_size=2)
    assert out[0].tolist() == [[0.] * 3] * 2
    assert out[1].tolist() == [[0] * 3] * 2  # sentinel src.size(0) = 0


@pytest.mark.parametrize('reduce', REDUCES)
def test_scatter_out_in_place(reduce) -> None:
    src = ints(2, 7, 3)
    index = ids(4, 7, seed=2)
    init = ints(2, 4, 3, seed=5)
    out = init.clone()
    want, want_arg = ref_scatter(src, index, 1, 4, reduce, out=init)
    res = getattr(ts, 'scatter_' + reduce)(src, index, 1, out)
    if reduce in ('min', 'max'):
        res, arg = res
        # out's value wins (no src position holds it): arg src.size(dim)
        assert torch.equal(arg, want_arg)
    assert res is out  # written in place and returned
    assert torch.equal(out, want)
    out2 = init.clone()
    res2 = ts.scatter(src, index, 1, out2, dim_size=99, reduce=reduce)
    assert res2 is out2 and torch.equal(out2, want)  # dim_size ignored


def test_out_accumulates_in_low_precision_via_float32() -> None:
    out = torch.full((1,), 1000., dtype=torch.float16)
    ts.scatter_sum(torch.ones(3000, dtype=torch.float16),
                   torch.zeros(3000, dtype=torch.long), 0, out)
    assert out.item() == 4000.


def test_half_sums_are_exact() -> None:
    # a float16 accumulator stalls at 2048 (2048 + 1 rounds to 2048); the
    # ops accumulate in float32 (torch's CPU scatter_add_ does so itself,
    # CUDA atomics do not: there the package's float32 cast matters)
    ones = torch.ones(3000, dtype=torch.float16)
    zeros = torch.zeros(3000, dtype=torch.long)
    assert ts.scatter_sum(ones, zeros).item() == 3000.
    assert ts.scatter_mean(ones * 3, zeros).item() == 3.
    assert ts.segment_csr(ones, torch.tensor([0, 3000])).item() == 3000.
    # a bfloat16 accumulator stalls at 256
    b = torch.ones(300, dtype=torch.bfloat16)
    assert ts.scatter_sum(b, zeros[:300]).item() == 300.


def test_broadcasting_shapes() -> None:
    # torch_scatter's README example shapes
    src = torch.randn(10, 6, 64)
    index = torch.tensor([0, 1, 0, 1, 2, 1])
    assert ts.scatter(src, index, dim=1, reduce='sum').shape == (10, 3, 64)
    assert ts.segment_csr(src, torch.tensor([0, 2, 5, 6]).view(1, -1)
                          ).shape == (10, 3, 64)
    assert ts.segment_coo(src, torch.tensor([0, 0, 1, 1, 1, 2]).view(1, -1)
                          ).shape == (10, 3, 64)
    b, c, h, w = 4, 3, 8, 8
    x = torch.randn(b, c, h, w)
    idx4 = ids(h, b, 1, h, w)
    for reduce in REDUCES:
        out = ts.scatter(x, idx4, dim=2, dim_size=h, reduce=reduce)
        assert out.shape == (b, c, h, w)


# ------------------------------------------------------------ segment_csr

CSR_CASES = [
    # (src shape, indptr)
    ((7,), [0, 2, 2, 5, 7]),
    ((7, 3), [0, 2, 2, 5, 7]),
    ((7, 3), [1, 3, 6]),              # positions 0 and 6 lie outside
    ((3, 7), [[0, 3, 3, 7]]),         # leading dimension broadcast
    ((2, 7, 3), [[0, 1, 4, 7], [0, 0, 6, 6]]),  # one indptr per row
    ((7, 2, 3), [0, 3, 7]),           # 1-D indptr on a 3-D src
    ((5,), [0]),                      # no segment at all
]


@pytest.mark.parametrize('case', CSR_CASES)
@pytest.mark.parametrize('reduce', ['sum', 'add', 'mean', 'min', 'max'])
@pytest.mark.parametrize('dtype', [torch.float64, torch.int64])
def test_segment_csr_matches_loop(case, reduce, dtype) -> None:
    src_shape, ptr = case
    indptr = torch.tensor(ptr)
    src = ints(*src_shape, dtype=dtype)
    want, want_arg = ref_segment_csr(src, indptr, reduce)
    assert torch.equal(ts.segment_csr(src, indptr, reduce=reduce), want)
    name = 'segment_' + reduce + '_csr'
    res = getattr(ts, name)(src, indptr)
    if reduce in ('min', 'max'):
        res, arg = res
        assert torch.equal(arg, want_arg)
    assert torch.equal(res, want)
    # out= is overwritten (not accumulated) and returned
    out = torch.full_like(want, -7)
    res = getattr(ts, name)(src, indptr, out)
    res = res[0] if isinstance(res, tuple) else res
    assert res is out and torch.equal(out, want)


def test_segment_csr_non_contiguous_inputs() -> None:
    src = ints(7, 2).t().contiguous().t()           # (7, 2), transposed
    indptr = torch.tensor([[0, 2, 7], [0, 5, 7]]).t().contiguous().t()
    src2 = ints(2, 7).t().contiguous().t()
    for reduce in ('sum', 'max'):
        want, _ = ref_segment_csr(src2, indptr, reduce)
        assert torch.equal(ts.segment_csr(src2, indptr, reduce=reduce), want)
        want, _ = ref_segment_csr(src, torch.tensor([0, 3, 7]), reduce)
        assert torch.equal(ts.segment_csr(src, torch.tensor([0, 3, 7]),
                                          reduce=reduce), want)


# ------------------------------------------------------------ segment_coo


@pytest.mark.parametrize('reduce', ['sum', 'add', 'mean', 'min', 'max'])
def test_segment_coo_matches_loop(reduce) -> None:
    index = torch.tensor([0, 0, 1, 1, 1, 4, 4])     # sorted, empty 2 and 3
    per_row = torch.tensor([[0, 0, 1, 1, 1, 4, 4], [0, 0, 0, 1, 1, 1, 1]])
    for src, idx in [(ints(7), index), (ints(7, 3), index),
                     (ints(3, 7, 2), index.view(1, -1)),
                     (ints(2, 7), per_row)]:
        d = idx.dim() - 1
        n = int(idx.max()) + 1
        want, want_arg = ref_scatter(src, idx, d, n, reduce)
        assert torch.equal(ts.segment_coo(src, idx, reduce=reduce), want)
        res = getattr(ts, 'segment_' + reduce + '_coo')(src, idx)
        if reduce in ('min', 'max'):
            res, arg = res
            assert torch.equal(arg, want_arg)
        assert torch.equal(res, want)
        # dim_size and out= (accumulating, as scatter)
        more, _ = ref_scatter(src, idx, d, n + 1, reduce)
        assert torch.equal(ts.segment_coo(src, idx, dim_size=n + 1,
                                          reduce=reduce), more)
        init = torch.full_like(want, -2.)
        out = init.clone()
        want_out, _ = ref_scatter(src, idx, d, n, reduce, out=init)
        res = ts.segment_coo(src, idx, out, reduce=reduce)
        assert res is out and torch.equal(out, want_out)


# ------------------------------------------------------------ gather


@pytest.mark.parametrize('src_shape,ptr', [
    ((4,), [0, 2, 5, 5, 6]),
    ((4, 2), [0, 2, 5, 5, 6]),
    ((2, 4), [[0, 2, 5, 5, 6], [0, 3, 5, 6, 6]]),
    ((2, 3, 2), [[0, 2, 3, 3], [0, 1, 1, 3]]),
    ((3, 2), [1, 2, 4, 6]),           # position 0 outside every segment
])
def test_gather_csr_matches_loop(src_shape, ptr) -> None:
    src = ints(*src_shape)
    indptr = torch.tensor(ptr)
    length = int(indptr[..., -1].max())
    want = ref_gather_csr(src, indptr, length)
    assert torch.equal(ts.gather_csr(src, indptr), want)
    out = torch.full_like(want, -9)
    assert ts.gather_csr(src, indptr, out) is out
    assert torch.equal(out, want)


def test_gather_csr_inverts_segment_csr_shape() -> None:
    src = torch.randn(10, 6, 4)
    indptr = torch.tensor([0, 2, 5, 6]).view(1, -1)
    seg = ts.segment_csr(src, indptr, reduce='mean')
    back = ts.gather_csr(seg, indptr)
    assert back.shape == src.shape
    assert torch.equal(back[:, 2:5], seg[:, 1:2].expand(10, 3, 4))


@pytest.mark.parametrize('src_shape,index', [
    ((4,), [0, 0, 1, 1, 1, 3]),
    ((4, 2), [0, 0, 1, 1, 1, 3]),
    ((2, 4), [[0, 0, 1, 1, 1, 3], [0, 0, 0, 1, 1, 2]]),
    ((2, 3, 2), [[0, 0, 1], [0, 2, 2]]),
    ((3, 4, 2), [[0, 3, 3, 1]]),      # leading dimension broadcast
])
def test_gather_coo_matches_loop(src_shape, index) -> None:
    src = ints(*src_shape)
    index = torch.tensor(index)
    want = ref_gather_coo(src, index)
    assert torch.equal(ts.gather_coo(src, index), want)
    out = torch.full_like(want, -9)
    assert ts.gather_coo(src, index, out) is out
    assert torch.equal(out, want)


def test_zero_element_inputs_have_gradients() -> None:
    x = torch.randn(0, 0, 16, requires_grad=True)
    index = torch.zeros(0, dtype=torch.long)
    for reduce in ('sum', 'mean', 'min', 'max'):
        for out in (ts.scatter(x, index, 0, dim_size=0, reduce=reduce),
                    ts.segment_coo(x, index, dim_size=0, reduce=reduce),
                    ts.segment_csr(x, index, reduce=reduce),
                    ts.gather_coo(x, index), ts.gather_csr(x, index)):
            assert out.shape == (0, 0, 16)
            out.backward(torch.randn_like(out))


# ------------------------------------------------------------ composite


def _groups(src, index):
    """Per group id: the 1-D values of ``src`` (along dim 0)."""
    return {int(g): src[index == g] for g in index.unique()}


@pytest.mark.parametrize('unbiased', [True, False])
def test_scatter_std_matches_torch_std(unbiased) -> None:
    src = torch.randn(11, 3, dtype=torch.float64)
    index = torch.tensor([0, 0, 0, 2, 2, 2, 2, 3, 4, 4, 4])
    got = ts.scatter_std(src, index, 0, unbiased=unbiased)
    assert got.shape == (5, 3)
    for g, vals in _groups(src, index).items():
        want = (vals.std(0, unbiased=unbiased) if len(vals) > 1
                else torch.zeros(3, dtype=torch.float64))
        assert torch.allclose(got[g], want)
    assert got[1].tolist() == [0.] * 3   # empty group
    # multi-dim index along dim -1
    src2 = torch.randn(2, 5, dtype=torch.float64)
    idx2 = torch.tensor([[0, 0, 0, 1, 1], [1, 1, 1, 1, 1]])
    got2 = ts.scatter_std(src2, idx2, -1)
    assert torch.allclose(got2[0, 0], src2[0, :3].std())
    assert torch.allclose(got2[1, 1], src2[1].std())
    assert got2[1, 0].item() == 0.
    out = torch.full((2, 2), 5., dtype=torch.float64)
    assert ts.scatter_std(src2, idx2, -1, out) is out
    assert torch.allclose(out, got2)


def test_scatter_logsumexp_matches_torch() -> None:
    src = torch.tensor([0.5, 0.5, 0.0, -2.1, 3.2, 7.0, -1.0, -100.0,
                        float('-inf'), float('-inf')])
    index = torch.tensor([0, 0, 1, 1, 1, 2, 4, 4, 5, 5])
    got = ts.scatter_logsumexp(src, index)
    for g, vals in _groups(src, index).items():
        assert got[g].item() == torch.logsumexp(vals, 0).item()
    assert got[3].item() == 0.0        # empty group
    assert got[5].item() == float('-inf')  # all -inf: -inf
    # out=: out's value is one more term of its group
    out = torch.tensor([-10.0, -10.0])
    res = ts.scatter_logsumexp(torch.tensor([-1.0, -50.0]),
                               torch.tensor([0, 0]), out=out)
    assert res is out
    want = torch.logsumexp(torch.tensor([-10.0, -1.0, -50.0]), 0)
    assert torch.allclose(out[0], want) and out[1].item() == -10.0


def test_scatter_softmax_and_log_softmax_match_torch() -> None:
    src = torch.randn(9, 4, dtype=torch.float64)
    src[8, 0] = float('-inf')
    index = torch.tensor([0, 2, 0, 2, 2, 3, 5, 5, 5])
    sm = ts.scatter_softmax(src, index, 0)
    lsm = ts.scatter_log_softmax(src, index, 0)
    assert sm.shape == src.shape
    for g in index.unique().tolist():
        mask = index == g
        assert torch.allclose(sm[mask], torch.softmax(src[mask], 0))
        assert torch.allclose(lsm[mask], torch.log_softmax(src[mask], 0))
    # along dim 1 with a 2-D index
    x = torch.randn(2, 6, dtype=torch.float64)
    idx = torch.tensor([[0, 0, 1, 1, 1, 0], [2, 2, 2, 2, 0, 0]])
    got = ts.scatter_softmax(x, idx, dim=1)
    for r in range(2):
        for g in idx[r].unique().tolist():
            m = idx[r] == g
            assert torch.allclose(got[r, m], torch.softmax(x[r, m], 0))


def test_composite_refuse_integer_src() -> None:
    i = torch.tensor([0, 1])
    for fn in (ts.scatter_softmax, ts.scatter_log_softmax,
               ts.scatter_logsumexp):
        with pytest.raises(ValueError, match='src must have a floating'):
            fn(torch.tensor([1, 2]), i)


# ------------------------------------------------------------ gradients


def _distinct(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = math.prod(shape)
    return (torch.randperm(n, generator=g).double() / n + 0.1).view(shape) \
        .requires_grad_()


@pytest.mark.parametrize('reduce', REDUCES)
def test_scatter_gradcheck(reduce) -> None:
    src = _distinct(2, 6, 3)
    index = torch.tensor([[0, 1, 0, 1, 1, 3], [2, 2, 0, 0, 3, 3]])
    assert gradcheck(ts.scatter, (src, index, 1, None, 5, reduce))
    assert gradcheck(ts.scatter, (_distinct(6, 2), index[0], 0, None, None,
                                  reduce))


@pytest.mark.parametrize('reduce', ['sum', 'mean', 'min', 'max'])
def test_segment_gradcheck(reduce) -> None:
    src = _distinct(2, 6, 2)
    indptr = torch.tensor([[0, 2, 2, 5, 6], [1, 3, 4, 4, 6]])
    assert gradcheck(ts.segment_csr, (src, indptr, None, reduce))
    index = torch.tensor([0, 0, 1, 1, 1, 3])
    assert gradcheck(ts.segment_coo, (src, index.view(1, -1), None, None,
                                      reduce))


def test_gather_and_composite_gradcheck() -> None:
    indptr = torch.tensor([0, 2, 5, 5, 6])
    index = torch.tensor([0, 0, 1, 1, 1, 3])
    assert gradcheck(ts.gather_csr, (_distinct(4, 2), indptr, None))
    assert gradcheck(ts.gather_coo, (_distinct(4, 2), index, None))
    src = _distinct(6, 2)
    grp = torch.tensor([0, 0, 2, 2, 2, 3])  # group 3 has one element
    assert gradcheck(lambda s: ts.scatter_std(s, grp, 0), (src,))
    assert gradcheck(lambda s: ts.scatter_logsumexp(s, grp, 0), (src,))
    assert gradcheck(lambda s: ts.scatter_softmax(s, grp, 0), (src,))
    assert gradcheck(lambda s: ts.scatter_log_softmax(s, grp, 0), (src,))


def test_max_gradient_goes_to_the_first_arg_on_ties() -> None:
    src = torch.tensor([2., 1., 2., 5.], requires_grad=True)
    index = torch.tensor([0, 0, 0, 1])
    val, arg = ts.scatter_max(src, index)
    assert arg.tolist() == [0, 3]
    val.sum().backward()
    assert src.grad.tolist() == [1., 0., 0., 1.]


def test_std_of_constant_group_has_zero_gradient() -> None:
    src = torch.tensor([3., 3., 1.], requires_grad=True)
    ts.scatter_std(src, torch.tensor([0, 0, 1])).sum().backward()
    assert torch.isfinite(src.grad).all() and src.grad.tolist() == [0.] * 3


# ------------------------------------------------------------ TorchScript


def _script_cases():
    src = ints(2, 7, 3)
    index = ids(4, 7, seed=2)
    ptr = torch.tensor([0, 2, 2, 5, 7])
    coo = torch.tensor([0, 0, 1, 1, 1, 3, 3])

    def out(n):
        return torch.full((2, n, 3), -2., dtype=src.dtype)

    yield 'scatter', (src, index, 1, None, 5, 'max')
    for r in REDUCES:
        yield 'scatter_' + r, (src, index, 1)
        yield 'scatter_' + r, (src, index, 1, out(4))
    for r in ('sum', 'add', 'mean', 'min', 'max'):
        yield 'segment_' + r + '_csr', (src, ptr.view(1, -1))
        yield 'segment_' + r + '_csr', (src, ptr.view(1, -1), out(4))
        yield 'segment_' + r + '_coo', (src, coo.view(1, -1), None, 5)
        yield 'segment_' + r + '_coo', (src, coo.view(1, -1), out(4))
    yield 'segment_csr', (src, ptr.view(1, -1), None, 'mean')
    yield 'segment_coo', (src, coo.view(1, -1), None, None, 'min')
    yield 'gather_csr', (ints(2, 4, 3), ptr.view(1, -1))
    yield 'gather_coo', (ints(2, 4, 3), coo.view(1, -1))
    x = torch.randn(2, 7, 3)
    yield 'scatter_std', (x, index, 1, None, 5, False)
    yield 'scatter_logsumexp', (x, index, 1, torch.zeros(2, 4, 3))
    yield 'scatter_softmax', (x, index, 1)
    yield 'scatter_log_softmax', (x, index, 1, 1e-12, 6)


def _clone(a):
    return a.clone() if isinstance(a, torch.Tensor) else a


def test_every_function_scripts_and_matches_eager() -> None:
    scripted = {}
    seen = set()
    for name, args in _script_cases():
        seen.add(name)
        if name not in scripted:
            scripted[name] = torch.jit.script(getattr(ts, name))
        eager = getattr(ts, name)(*map(_clone, args))
        jit = scripted[name](*map(_clone, args))
        eager = eager if isinstance(eager, tuple) else (eager,)
        jit = jit if isinstance(jit, tuple) else (jit,)
        for a, b in zip(eager, jit):
            assert a.dtype == b.dtype and torch.equal(a, b), name
    assert seen == set(TORCH_SCATTER_NAMES)


def test_scripted_function_rejects_unknown_reduce() -> None:
    fn = torch.jit.script(ts.scatter)
    with pytest.raises(Exception, match='reduce must be one of'):
        fn(torch.ones(2), torch.tensor([0, 1]), 0, None, None, 'prod')


# ------------------------------------------------------------ torch.compile


def test_compile_traces_without_graph_breaks() -> None:
    src = torch.randn(9, 3)
    index = torch.tensor([0, 1, 0, 1, 2, 1, 4, 4, 0])
    ptr = torch.tensor([0, 2, 2, 5, 9])

    def f(s, i, p):
        a = ts.scatter_max(s, i, 0, dim_size=5)
        b = ts.segment_csr(s, p, reduce='mean')
        c = ts.scatter_softmax(s, i, 0, dim_size=5)
        return a[0], a[1], b, c, ts.gather_coo(s, i)

    got = torch.compile(f, fullgraph=True, backend='eager')(src, index, ptr)
    for a, b in zip(got, f(src, index, ptr)):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_compile_inductor_matches_eager() -> None:
    src = torch.randn(9, 3, requires_grad=True)
    index = torch.tensor([0, 1, 0, 1, 2, 1, 4, 4, 0])

    def f(s, i):
        return ts.scatter(s, i, 0, dim_size=5, reduce='max') \
            + ts.scatter_mean(s, i, 0, dim_size=5)

    got = torch.compile(f, fullgraph=True)(src, index)
    want = f(src, index)
    assert torch.allclose(got, want)
    g1, = torch.autograd.grad(got.sum(), src)
    g2, = torch.autograd.grad(want.sum(), src)
    assert torch.allclose(g1, g2)


# ------------------------------------------------------------ bad input


def _bad_cases():
    s = torch.randn(6, 2)
    i = torch.tensor([0, 1, 0, 1, 1, 3])
    ptr = torch.tensor([0, 2, 5, 6])
    yield lambda: ts.scatter(s, i, 0, dim_size=3), ValueError, \
        r'index must hold ids in \[0, 3\)'
    yield lambda: ts.scatter(s, i - 1, 0), ValueError, 'non-negative'
    yield lambda: ts.scatter_max(s, i, 0, torch.zeros(3, 2)), ValueError, \
        'out.size'
    yield lambda: ts.scatter(s, i.float(), 0), TypeError, 'index'
    yield lambda: ts.scatter(s, i, 2), ValueError, 'dim must lie'
    yield lambda: ts.scatter(s, i, 1.0), TypeError, 'dim'
    yield lambda: ts.scatter(s, i, 0, reduce='prod'), ValueError, 'reduce'
    yield lambda: ts.scatter(s, i, 0, reduce=None), TypeError, 'reduce'
    yield lambda: ts.scatter(s, i[:5], 0), ValueError, 'does not broadcast'
    yield lambda: ts.scatter(s, i, 0, dim_size=-1), ValueError, 'dim_size'
    yield lambda: ts.scatter(s, i, 0, torch.zeros(4, 3)), ValueError, \
        'out must have shape'
    yield lambda: ts.scatter(s, i, 0, torch.zeros(4, 2).double()), \
        TypeError, 'out must have the dtype'
    yield lambda: ts.scatter([1.], i, 0), TypeError, 'src'
    yield lambda: ts.segment_csr(s, torch.tensor([0, 3, 2, 6])), \
        ValueError, 'non-decreasing'
    yield lambda: ts.segment_csr(s, torch.tensor([0, 3, 7])), ValueError, \
        'indptr must hold offsets <= 6'
    yield lambda: ts.segment_csr(s, torch.tensor([-1, 3])), ValueError, \
        'non-negative'
    yield lambda: ts.segment_csr(s, ptr.view(1, 1, -1)), ValueError, \
        'more than src'
    yield lambda: ts.segment_csr(s.t(), torch.zeros(3, 4).long()), \
        ValueError, 'does not broadcast'
    yield lambda: ts.segment_csr(s, ptr, reduce='mul'), ValueError, \
        'reduce'
    yield lambda: ts.segment_coo(s, i, reduce='mul'), ValueError, 'reduce'
    yield lambda: ts.segment_coo(s, i, dim_size=2), ValueError, \
        r'index must hold ids in \[0, 2\)'
    yield lambda: ts.gather_csr(s, ptr), ValueError, 'one entry per segment'
    yield lambda: ts.gather_csr(s[:3], ptr, torch.zeros(4, 2)), \
        ValueError, 'indptr must hold offsets <= 4'
    yield lambda: ts.gather_coo(s, torch.tensor([0, 6])), ValueError, \
        r'ids in \[0, 6\)'
    yield lambda: ts.scatter_logsumexp(s, i, 0, eps=-1.0), ValueError, 'eps'


@pytest.mark.parametrize('call,exc,match', list(_bad_cases()))
def test_bad_input_raises_naming_the_argument(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()
