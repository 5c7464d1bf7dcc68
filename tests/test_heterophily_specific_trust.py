"""Bad input for every public name of
:mod:`pyg_ext.nn.models.heterophily_specific` (issue #21): each raises
``ValueError`` / ``TypeError`` whose message names the argument."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from pyg_ext.nn.models import heterophily_specific as HS

N, F_IN = 6, 3
EI = torch.tensor([[0, 1, 1, 2, 2, 3, 4, 5], [1, 0, 2, 1, 3, 2, 5, 4]])
X = torch.randn(N, F_IN)
BAD = (ValueError, TypeError)
NAN = float('nan')

CLASSES: dict[str, Callable[..., torch.nn.Module]] = {
    'H2GCN': HS.H2GCN, 'CPGNN': HS.CPGNN, 'GPRGNN': HS.GPRGNN,
    'FSGNN': HS.FSGNN,
    'GloGNN': lambda *a, **k: HS.GloGNN(*a, num_nodes=N, **k),
    'FAGCN': HS.FAGCN, 'GBKGNN': HS.GBKGNN, 'JacobiConv': HS.JacobiConv,
    'ResNetSGC': HS.ResNetSGC,
    'ResNetAdj': lambda *a, **k: HS.ResNetAdj(*a, num_nodes=N, **k),
}


def nan_x() -> torch.Tensor:
    x = X.clone()
    x[1, 1] = NAN
    return x


def model_cases() -> list[Any]:
    cases = []
    for name, cls in CLASSES.items():
        cases += [
            pytest.param(name, lambda c=cls: c(0, 2), 'in_channels',
                         id=f'{name}-in_channels=0'),
            pytest.param(name, lambda c=cls: c(F_IN, 2.5), 'out_channels',
                         id=f'{name}-out_channels=2.5'),
            pytest.param(name, lambda c=cls: c(F_IN, 2, dropout=1.0),
                         'dropout', id=f'{name}-dropout=1'),
            pytest.param(name, lambda c=cls: c(F_IN, 2, hidden_channels=0),
                         'hidden_channels', id=f'{name}-hidden=0'),
            pytest.param(name, lambda c=cls: c(F_IN, 2)(nan_x(), EI), 'x',
                         id=f'{name}-NaN x'),
            pytest.param(name, lambda c=cls: c(F_IN, 2)(X[:, :2], EI),
                         'in_channels', id=f'{name}-wrong width'),
            pytest.param(name, lambda c=cls: c(F_IN, 2)(X[:0], EI[:, :0]),
                         'x', id=f'{name}-empty x'),
            pytest.param(name, lambda c=cls: c(F_IN, 2)(X, EI.t()),
                         'edge_index', id=f'{name}-[E,2] edge_index'),
            pytest.param(name, lambda c=cls: c(F_IN, 2)(X, EI + N),
                         'edge_index', id=f'{name}-ids out of range'),
            pytest.param(name, lambda c=cls: c(F_IN, 2)(X, EI.float()),
                         'edge_index', id=f'{name}-float edge_index'),
            pytest.param(name, lambda c=cls: c(F_IN, 2)(X.long(), EI),
                         'x', id=f'{name}-integer x'),
            pytest.param(name, lambda c=cls: c(F_IN, 2).set_train_labels(
                torch.tensor([0, 1, 5, 0, 1, 0]),
                torch.ones(N, dtype=torch.bool)), 'y',
                id=f'{name}-label out of range'),
            pytest.param(name, lambda c=cls: c(F_IN, 2).set_train_labels(
                torch.zeros(N, dtype=torch.long), torch.ones(N)),
                'train_mask', id=f'{name}-float mask'),
        ]
    return cases


@pytest.mark.parametrize('name,fn,match', model_cases())
def test_models_refuse_bad_input(name: str, fn: Callable[[], Any],
                                 match: str) -> None:
    with pytest.raises(BAD, match=match):
        fn()


def labels_for_other_graph(model: torch.nn.Module) -> Any:
    """Labels of a 4-node graph, then a training step on the 6-node one."""
    model.set_train_labels(torch.tensor([0, 1, 0, 1]),
                           torch.ones(4, dtype=torch.bool))
    model.train()
    model(X, EI)
    return model.extra_loss()


def sparse_adj() -> torch.Tensor:
    return HS.gcn_adjacency(EI, N)


CASES = [
    ('build_specific_model', lambda: HS.build_specific_model('gcnn', 3, 2),
     'name'),
    ('build_specific_model', lambda: HS.build_specific_model('h2gcn', 0, 2),
     'in_channels'),
    ('build_specific_model',
     lambda: HS.build_specific_model('resnet-adj', 3, 2), 'num_nodes'),
    ('build_specific_model',
     lambda: HS.build_specific_model('fagcn', 3, 2, K=2), 'K'),
    ('canonical_specific_model',
     lambda: HS.canonical_specific_model('gat'), 'name'),
    ('H2GCN', lambda: HS.H2GCN(F_IN, 2, num_layers=0), 'num_layers'),
    ('CPGNN', lambda: HS.CPGNN(F_IN, 2, pretrain_steps=-1),
     'pretrain_steps'),
    ('CPGNN', lambda: HS.CPGNN(F_IN, 2, prior_weight=NAN), 'prior_weight'),
    ('GPRGNN', lambda: HS.GPRGNN(F_IN, 2, dprate=1.0), 'dprate'),
    ('GPRGNN', lambda: HS.GPRGNN(F_IN, 2, K=0), 'K'),
    ('GPRGNN', lambda: HS.GPRGNN(F_IN, 2).parameter_groups(-1.0),
     'weight_decay'),
    ('GPRProp', lambda: HS.GPRProp(K=0), 'K'),
    ('GPRProp', lambda: HS.GPRProp(alpha=1.5), 'alpha'),
    ('GPRProp', lambda: HS.GPRProp()(X, HS.gcn_adjacency(EI[:, :2], 3)),
     'adj'),
    ('FSGNN', lambda: HS.FSGNN(F_IN, 2, feat_type='both'), 'feat_type'),
    ('FSGNN', lambda: HS.FSGNN(F_IN, 2, adj_norm='rw'), 'adj_norm'),
    ('FSGNN', lambda: HS.FSGNN(F_IN, 2, layer_norm=1), 'layer_norm'),
    ('GloGNN', lambda: HS.GloGNN(F_IN, 2, delta=0.5), 'num_nodes'),
    ('GloGNN', lambda: HS.GloGNN(F_IN, 2, gamma=1.0, delta=1.0), 'gamma'),
    ('GloGNN', lambda: HS.GloGNN(F_IN, 2, alpha=0.0, beta=0.0, delta=1.0),
     'alpha'),
    ('GloGNN', lambda: HS.GloGNN(F_IN, 2, orders=0, delta=1.0), 'orders'),
    ('GloGNN', lambda: HS.GloGNN(F_IN, 2, num_nodes=N + 1)(X, EI),
     'num_nodes'),
    ('FAGCN', lambda: HS.FAGCN(F_IN, 2, eps=NAN), 'eps'),
    ('GBKConv', lambda: HS.GBKConv(0, 2), 'in_channels'),
    ('GBKConv', lambda: HS.GBKConv(F_IN, 2)(X, EI, torch.ones(N - 1)),
     'inv_deg'),
    ('GBKConv', lambda: HS.GBKConv(F_IN, 2)(X, EI + N, torch.ones(N)),
     'edge_index'),
    ('GBKGNN', lambda: HS.GBKGNN(F_IN, 2, lamda=-1.0), 'lamda'),
    ('GBKGNN', lambda: labels_for_other_graph(HS.GBKGNN(F_IN, 2)), 'labels'),
    ('CPGNN', lambda: labels_for_other_graph(HS.CPGNN(F_IN, 2,
                                                      pretrain_steps=0)),
     'labels'),
    ('JacobiConv', lambda: HS.JacobiConv(F_IN, 2, a=-1.0), 'a'),
    ('JacobiConv', lambda: HS.JacobiConv(F_IN, 2, alpha=0.0), 'alpha'),
    ('JacobiConv', lambda: HS.JacobiConv(F_IN, 2, dropout_trans=2.0),
     'dropout_trans'),
    ('JacobiConv', lambda: HS.JacobiConv(F_IN, 2, reference_sign=1),
     'reference_sign'),
    ('ResNetSGC', lambda: HS.ResNetSGC(F_IN, 2, num_props=-1), 'num_props'),
    ('ResNetAdj', lambda: HS.ResNetAdj(F_IN, 2), 'num_nodes'),
    ('ResNetAdj', lambda: HS.ResNetAdj(F_IN, 2, num_nodes=N + 1)(X, EI),
     'num_nodes'),
    ('adjacency', lambda: HS.adjacency(EI, N, norm='rw'), 'norm'),
    ('adjacency', lambda: HS.adjacency(EI, N - 2), 'edge_index'),
    ('adjacency', lambda: HS.adjacency(EI, -1), 'num_nodes'),
    ('gcn_adjacency', lambda: HS.gcn_adjacency(EI.t(), N), 'edge_index'),
    ('h2gcn_neighbourhoods', lambda: HS.h2gcn_neighbourhoods(EI, 3),
     'edge_index'),
    ('h2gcn_neighbourhoods',
     lambda: HS.h2gcn_neighbourhoods(EI.float(), N), 'edge_index'),
    ('sgc_features', lambda: HS.sgc_features(X, EI, num_props=1.5),
     'num_props'),
    ('sgc_features', lambda: HS.sgc_features(X[:3], EI), 'edge_index'),
    ('fsgnn_features', lambda: HS.fsgnn_features(X, EI, -1), 'num_hops'),
    ('fsgnn_features', lambda: HS.fsgnn_features(nan_x(), EI, 2), 'x'),
    ('fsgnn_features',
     lambda: HS.fsgnn_features(X, EI, 2, feat_type='x'), 'feat_type'),
    ('jacobi_basis', lambda: HS.jacobi_basis(X, sparse_adj(), -1, 0.5, 0.5),
     'K'),
    ('jacobi_basis', lambda: HS.jacobi_basis(X, sparse_adj(), 3, -2.0, 0.5),
     'a'),
    ('jacobi_basis',
     lambda: HS.jacobi_basis(X, torch.eye(N + 1), 3, 0.5, 0.5), 'adj'),
    ('jacobi_basis',
     lambda: HS.jacobi_basis(X, sparse_adj(), 3, 0.5, 0.5, [1.0]), 'alphas'),
    ('jacobi_basis',
     lambda: HS.jacobi_basis(X, sparse_adj(), 3, 0.5, 0.5, lo=1.0), 'lo'),
    ('estimate_compatibility',
     lambda: HS.estimate_compatibility(sparse_adj(), torch.zeros(N, 3),
                                       None, None, 2), 'prior_logits'),
    ('estimate_compatibility',
     lambda: HS.estimate_compatibility(
         sparse_adj(), torch.zeros(N, 2), torch.tensor([0, 1, 2, 0, 1, 0]),
         torch.ones(N, dtype=torch.bool), 2), 'y'),
    ('estimate_compatibility',
     lambda: HS.estimate_compatibility(sparse_adj(), torch.zeros(N, 2),
                                       torch.zeros(N, dtype=torch.long),
                                       None, 2), 'train_mask'),
    ('estimate_compatibility',
     lambda: HS.estimate_compatibility(sparse_adj(), torch.zeros(N, 2),
                                       None, None, 1), 'num_classes'),
]


@pytest.mark.parametrize('name,fn,match', CASES,
                         ids=[f'{c[0]}-{i}' for i, c in enumerate(CASES)])
def test_functions_refuse_bad_input(name: str, fn: Callable[[], Any],
                                    match: str) -> None:
    with pytest.raises(BAD, match=match):
        fn()


def test_every_public_name_has_bad_input_cases() -> None:
    """A new public name needs cases here (constants excepted)."""
    constants = {'SPECIFIC_MODELS', 'SPECIFIC_DEFAULTS'}
    covered = set(CLASSES) | {c[0] for c in CASES}
    assert set(HS.__all__) - constants == covered


def test_models_accept_edge_cases() -> None:
    """Isolated nodes, a single node and repeated arcs are fine."""
    for name, cls in CLASSES.items():
        if name in ('GloGNN', 'ResNetAdj'):
            continue
        m = cls(F_IN, 2).eval()
        assert m(X[:1], EI[:, :0]).shape == (1, 2), name
        dup = torch.cat([EI, EI[:, :2]], 1)
        assert torch.isfinite(m(X, dup)).all(), name


# --- 2026-12-03 audit: dtype mismatch and repr ------------------------------

_EI = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 0]])


@pytest.mark.parametrize('name', ['h2gcn', 'cpgnn', 'gprgnn', 'fsgnn',
                                  'fagcn', 'gbkgnn', 'jacobiconv',
                                  'resnet-sgc'])
def test_float64_x_on_a_float32_model_names_x(name):
    from pyg_ext.nn import build_specific_model
    torch.manual_seed(0)
    m = build_specific_model(name, 4, 3, hidden_channels=8).eval()
    x = torch.randn(8, 4, dtype=torch.float64)
    with pytest.raises(TypeError, match=r'x has dtype torch\.float64'):
        m(x, _EI)
    # converting either side works, and gives the same function
    out32 = m(x.float(), _EI)
    out64 = m.double()(x, _EI)
    assert out64.dtype == torch.float64
    assert torch.allclose(out64.float(), out32, atol=1e-4)


def test_repr_shows_hyperparameters():
    m = HS.GPRGNN(4, 3, hidden_channels=16, K=7, alpha=0.2, dprate=0.3)
    r = repr(m)
    for part in ('GPRGNN(4, 3', 'hidden_channels=16', 'K=7', 'alpha=0.2',
                 'dprate=0.3'):
        assert part in r
    assert 'hidden_channels=8' in repr(HS.H2GCN(4, 3, hidden_channels=8))
    assert 'num_props=3' in repr(HS.ResNetSGC(4, 3, num_props=3))
    assert repr(HS.FAGCN(4, 3, eps=0.1)) != repr(HS.FAGCN(4, 3, eps=0.2))
