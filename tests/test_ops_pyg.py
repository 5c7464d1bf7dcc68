"""The PyG switch and the Aggregation modules."""

from __future__ import annotations

import copy

import pytest
import torch
import torch_geometric.utils as tgu
from torch_geometric.nn import GATConv, GCNConv, SAGEConv
from torch_geometric.nn.aggr import Aggregation, MaxAggregation

from pyg_ext.nn import (
    FastMaxAggregation,
    FastMeanAggregation,
    FastMinAggregation,
    FastSoftmaxAggregation,
    FastSumAggregation,
)
from pyg_ext.ops import (
    disable_pyg,
    enable_pyg,
    pyg_enabled,
    pyg_switch,
    use_backend,
)
from pyg_ext.typing import has_package


class Net(torch.nn.Module):
    def __init__(self, conv: str) -> None:
        super().__init__()
        make = {
            'gcn': lambda i, o: GCNConv(i, o),
            'sage': lambda i, o: SAGEConv(i, o, aggr='mean'),
            'sage_max': lambda i, o: SAGEConv(i, o, aggr='max'),
            'gat': lambda i, o: GATConv(i, o, heads=2, concat=False),
        }[conv]
        self.c1, self.c2 = make(6, 8), make(8, 3)

    def forward(self, x: torch.Tensor, ei: torch.Tensor) -> torch.Tensor:
        return self.c2(self.c1(x, ei).relu(), ei)


def _data(n: int = 14, e: int = 40) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    ei = torch.randint(0, n - 1, (2, e), generator=g)  # node n-1 isolated
    return torch.randn(n, 6, generator=g), ei, torch.randint(0, 3, (n,),
                                                              generator=g)


def _two_steps(model: torch.nn.Module, x: torch.Tensor, ei: torch.Tensor,
               y: torch.Tensor) -> list[float]:
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x, ei), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize('conv', ['gcn', 'sage', 'sage_max', 'gat'])
@pytest.mark.parametrize('backend', ['auto', 'triton'])
def test_training_step_same_loss_through_switch(conv: str,
                                                backend: str) -> None:
    if backend == 'triton' and not has_package('triton'):
        pytest.skip('triton is not installed')
    x, ei, y = _data()
    torch.manual_seed(0)
    model = Net(conv)
    ref = _two_steps(copy.deepcopy(model), x, ei, y)
    with use_backend(backend), pyg_switch():
        got = _two_steps(copy.deepcopy(model), x, ei, y)
    assert got == pytest.approx(ref, abs=1e-5, rel=1e-5)


def test_switch_restores_everything_also_after_errors() -> None:
    import torch_geometric.nn.conv.gat_conv as gat_mod
    import torch_geometric.utils._softmax as softmax_mod

    before = (Aggregation.__dict__['reduce'], tgu.scatter, tgu.softmax,
              tgu.segment, gat_mod.softmax, softmax_mod.scatter)
    with pyg_switch():
        assert pyg_enabled()
        assert gat_mod.softmax is not before[4]
        assert Aggregation.__dict__['reduce'] is not before[0]
        with pyg_switch():  # nesting keeps it on
            pass
        assert pyg_enabled() and tgu.scatter is not before[1]
    assert not pyg_enabled()
    after = (Aggregation.__dict__['reduce'], tgu.scatter, tgu.softmax,
             tgu.segment, gat_mod.softmax, softmax_mod.scatter)
    assert all(a is b for a, b in zip(before, after))

    with pytest.raises(KeyError), pyg_switch():
        raise KeyError('boom')
    assert not pyg_enabled() and tgu.scatter is before[1]

    enable_pyg()
    disable_pyg()
    disable_pyg()  # extra disable is harmless
    assert not pyg_enabled() and tgu.softmax is before[2]
    with pyg_switch(enabled=False):
        assert not pyg_enabled()


def test_switch_routes_sorted_ptr_to_segment() -> None:
    x = torch.randn(9, 4)
    idx = torch.tensor([0, 0, 1, 1, 1, 3, 3, 4, 4])
    ptr = tgu.index_to_ptr(idx, 6) if hasattr(tgu, 'index_to_ptr') else \
        torch._convert_indices_from_coo_to_csr(idx, size=6)
    ref = MaxAggregation()(x, idx, dim_size=6)
    with pyg_switch():
        out = MaxAggregation()(x, idx, ptr=ptr, dim_size=6)
        out2 = MaxAggregation()(x, idx, dim_size=6)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(out2, ref)


@pytest.mark.parametrize('cls,name', [
    (FastSumAggregation, 'sum'), (FastMeanAggregation, 'mean'),
    (FastMaxAggregation, 'max'), (FastMinAggregation, 'min')])
def test_aggregation_modules_match_pyg(cls: type, name: str) -> None:
    from torch_geometric.nn import aggr as pyg_aggr
    ref_cls = getattr(pyg_aggr, f'{name.capitalize()}Aggregation')
    x = torch.randn(12, 5)
    idx = torch.randint(0, 4, (12,))
    torch.testing.assert_close(cls()(x, idx, dim_size=5),
                               ref_cls()(x, idx, dim_size=5))
    srt = idx.sort()[0]
    ptr = torch._convert_indices_from_coo_to_csr(srt, size=5)
    torch.testing.assert_close(cls()(x, ptr=ptr), ref_cls()(x, srt,
                                                            dim_size=5))
    assert repr(cls(backend='torch')) == f"{cls.__name__}(backend='torch')"
    # usable as aggr= of a MessagePassing layer
    conv = SAGEConv(5, 2, aggr=cls())
    ei = torch.randint(0, 12, (2, 30))
    assert conv(x, ei).shape == (12, 2)


def test_softmax_aggregation_matches_pyg() -> None:
    from torch_geometric.nn.aggr import SoftmaxAggregation
    x = torch.randn(12, 5)
    idx = torch.randint(0, 4, (12,))
    torch.testing.assert_close(FastSoftmaxAggregation(t=2.0)(x, idx,
                                                             dim_size=4),
                               SoftmaxAggregation(t=2.0)(x, idx, dim_size=4))
    assert repr(FastSoftmaxAggregation(0.5)) == 'FastSoftmaxAggregation(t=0.5)'



@pytest.mark.parametrize('kwargs', [
    dict(t=0.7, learn=True),
    dict(t=1.5, learn=True, channels=5),
    dict(t=2.0, semi_grad=True),
], ids=['learn', 'learn-channels', 'semi-grad'])
@pytest.mark.parametrize('use_ptr', [False, True], ids=['index', 'ptr'])
def test_softmax_aggregation_options_match_pyg(kwargs: dict,
                                               use_ptr: bool) -> None:
    """PyG's learnable / per-channel / semi-gradient variants: the same
    output and the same gradients for x and the temperatures."""
    from torch_geometric.nn.aggr import SoftmaxAggregation
    torch.manual_seed(0)
    x = torch.randn(12, 5)
    idx = torch.randint(0, 4, (12,)).sort().values
    ptr = torch.tensor([0] + torch.bincount(idx, minlength=4).cumsum(0)
                       .tolist())
    w = torch.randn(4, 5)
    outs = []
    for cls in (FastSoftmaxAggregation, SoftmaxAggregation):
        aggr = cls(**kwargs)
        xx = x.clone().requires_grad_()
        out = (aggr(xx, ptr=ptr, dim_size=4) if use_ptr
               else aggr(xx, idx, dim_size=4))
        (out * w).sum().backward()
        t_grad = aggr.t.grad if isinstance(aggr.t, torch.Tensor) else None
        outs.append((out.detach(), xx.grad, t_grad))
    (o1, gx1, gt1), (o2, gx2, gt2) = outs
    torch.testing.assert_close(o1, o2)
    torch.testing.assert_close(gx1, gx2)
    if kwargs.get('learn'):
        assert gt1 is not None and gt1.shape == (kwargs.get('channels', 1),)
        torch.testing.assert_close(gt1, gt2)


def test_softmax_aggregation_learnable_t_resets_and_checks() -> None:
    aggr = FastSoftmaxAggregation(t=0.5, learn=True, channels=3)
    assert [n for n, _ in aggr.named_parameters()] == ['t']
    with torch.no_grad():
        aggr.t.add_(1.0)
    aggr.reset_parameters()
    assert torch.equal(aggr.t.detach(), torch.full((3,), 0.5))
    assert repr(aggr) == ('FastSoftmaxAggregation(t=0.5, learn=True, '
                          'channels=3)')
    with pytest.raises(ValueError, match=r'shape \[N, 3\]'):
        aggr(torch.randn(4, 2), torch.tensor([0, 0, 1, 1]))
    with pytest.raises(ValueError, match='semi_grad'):
        FastSoftmaxAggregation(learn=True, semi_grad=True)
    with pytest.raises(ValueError, match='channels > 1 needs learn'):
        FastSoftmaxAggregation(channels=2)
    with pytest.raises(ValueError, match='channels'):
        FastSoftmaxAggregation(learn=True, channels=0)
    with pytest.raises(TypeError, match='learn'):
        FastSoftmaxAggregation(learn=1)

def test_switch_routes_sparse_csr_message_and_aggregate() -> None:
    import torch_geometric.nn.conv.gcn_conv as gcn_mod

    x, ei, _ = _data()
    n = x.size(0)
    adj_t = torch.sparse_coo_tensor(ei.flip(0), torch.ones(ei.size(1)),
                                    (n, n)).coalesce().to_sparse_csr()
    conv = GCNConv(6, 4, normalize=False)
    sage = SAGEConv(6, 4, aggr='max')
    ref, ref_max = conv(x, adj_t), sage(x, adj_t)
    before = gcn_mod.spmm
    with pyg_switch():
        assert gcn_mod.spmm is not before
        torch.testing.assert_close(conv(x, adj_t), ref)
        torch.testing.assert_close(sage(x, adj_t), ref_max)
    assert gcn_mod.spmm is before
