"""16-bit floats: sums and softmax denominators accumulate in float32.

torch's CPU segment reduction accumulates in the input dtype, so a float16
sum of 3,000 ones stalls at 2,048 (bfloat16 at 256), and a softmax over a
group of that size no longer sums to one. pyg_ext reduces 16-bit inputs in
float32 on the torch paths and casts the result back.
"""

from __future__ import annotations

import pytest
import torch

from pyg_ext.ops import scatter, scatter_softmax, segment, softmax

LOW = [torch.float16, torch.bfloat16]
E = 3000


def _ref(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return t.to(dtype)


@pytest.mark.parametrize('dtype', LOW)
@pytest.mark.parametrize('shape', [(E,), (E, 3)])
@pytest.mark.parametrize('reduce', ['sum', 'mean'])
def test_scatter_accumulates_in_float32(dtype, shape, reduce):
    src = torch.ones(shape, dtype=dtype)
    index = torch.zeros(E, dtype=torch.long)
    out = scatter(src, index, 0, dim_size=2, reduce=reduce)
    ref = scatter(src.float(), index, 0, dim_size=2, reduce=reduce)
    assert out.dtype == dtype
    assert torch.equal(out, _ref(ref, dtype))


@pytest.mark.parametrize('dtype', LOW)
@pytest.mark.parametrize('reduce', ['sum', 'mean', 'max', 'min'])
def test_segment_accumulates_in_float32(dtype, reduce):
    g = torch.Generator().manual_seed(0)
    src = torch.rand(E, 2, generator=g).to(dtype)
    ptr = torch.tensor([0, 1, E - 7, E])
    out = segment(src, ptr, reduce)
    ref = segment(src.float(), ptr, reduce)
    assert out.dtype == dtype
    assert torch.equal(out, _ref(ref, dtype))
    if reduce == 'sum':  # the old path returned 2048 / 256 here
        ones = segment(torch.ones(E, 1, dtype=dtype), torch.tensor([0, E]))
        assert ones.item() == float(torch.tensor(float(E)).to(dtype))


@pytest.mark.parametrize('dtype', LOW)
def test_softmax_groups_sum_to_one(dtype):
    src = torch.zeros(E, dtype=dtype)
    index = torch.zeros(E, dtype=torch.long)
    ptr = torch.tensor([0, E])
    for out in (softmax(src, index, num_nodes=1), softmax(src, ptr=ptr),
                scatter_softmax(src, index)):
        assert out.dtype == dtype
        assert abs(out.float().sum().item() - 1.0) < 0.02


@pytest.mark.parametrize('dtype', LOW)
def test_low_precision_gradients_match_float32(dtype):
    g = torch.Generator().manual_seed(1)
    base = torch.randn(50, 4, generator=g)
    ptr = torch.tensor([0, 10, 10, 50])
    x = base.to(dtype).requires_grad_()
    xf = base.to(dtype).float().requires_grad_()
    segment(x, ptr, 'mean').sum().backward()
    segment(xf, ptr, 'mean').sum().backward()
    assert x.grad.dtype == dtype
    assert torch.allclose(x.grad.float(), xf.grad, atol=1e-2)



UNCHECKED = [
    "segment(torch.ones(6, 2), torch.tensor([0, 2, 10**7, 6]), 'sum')",
    "segment(torch.ones(6, 2), torch.tensor([0, 2, 10**7, 6]), 'max', "
    "backend='torch')",
    "softmax(torch.ones(6), ptr=torch.tensor([0, 2, 10**7, 6]))",
    "spmm_csr(torch.tensor([0, 2, 10**7, 6]), torch.arange(6), "
    "torch.ones(6, 2))",
    "spmm_csr(torch.tensor([0, 2, 4, 6]), torch.tensor([0, 1, 2, 3, 4, "
    "10**7]), torch.ones(6, 2))",
    "spmm(torch.tensor([[0, 1, 2], [0, 1, 10**7]]), torch.ones(6, 2))",
    "scatter_max(torch.ones(6, 2), torch.tensor([0, 1, 2, 3, 4, 10**7]), 0,"
    " dim_size=5)",
    "scatter_softmax(torch.ones(6, 2), torch.tensor([0, 1, 2, 3, 4, 10**7]),"
    " 0, dim_size=5)",
]


@pytest.mark.parametrize('call', UNCHECKED)
def test_check_false_on_cpu_still_refuses_bad_ids(call):
    # check=False skips the value checks only off the CPU: on CPU torch's
    # segment reduce, sparse CSR and repeat_interleave read ids unchecked,
    # and these calls killed the process (run in a child for that reason)
    import subprocess
    import sys
    code = ('import torch\n'
            'from pyg_ext.ops import *\n'
            'try:\n'
            f'    {call[:-1]}, check=False)\n'
            'except ValueError as e:\n'
            '    print("ValueError:", e)\n')
    res = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'ValueError:' in res.stdout
