"""Bad input to the spectral PE encoders and the PEGNN model raises a
ValueError/TypeError naming the argument (issue #16, defect 6), and valid
input is unaffected by the checks.

Valid inputs are built here from a dense ``torch.linalg.eigh`` of the
normalised Laplacian (independent of :class:`AddEigenPE`)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

import pyg_ext.nn.pe as pe_mod
from pyg_ext.nn.pe import (
    PE_CHOICES,
    PEGNN,
    SPE,
    BasisNet,
    LapPE,
    SignNet,
    build_pe_encoder,
    num_parameters,
)

K = 3
SIZES = (5, 4)  # a 5-cycle and a 4-path
N = sum(SIZES)


def _undirected(pairs: list[tuple[int, int]]) -> Tensor:
    ei = torch.tensor(pairs).T
    return torch.cat([ei, ei.flip(0)], 1)


def _graph(n: int, cyclic: bool) -> Data:
    pairs = [(i, i + 1) for i in range(n - 1)] + ([(n - 1, 0)] if cyclic
                                                  else [])
    ei = _undirected(pairs)
    A = torch.zeros(n, n, dtype=torch.float64)
    A[ei[0], ei[1]] = 1.0
    d = A.sum(1).rsqrt()
    L = torch.eye(n, dtype=torch.float64) - d[:, None] * A * d[None, :]
    vals, vecs = torch.linalg.eigh(L)
    d = min(n, K)  # zero-pad (and mask) when the graph has < K pairs
    V = torch.zeros(n, K)
    V[:, :d] = vecs[:, :d].float()
    lam = torch.zeros(1, K)
    lam[0, :d] = vals[:d].clamp_min(0).float()
    return Data(edge_index=ei, num_nodes=n, x=torch.randn(n, 3),
                edge_attr=torch.randn(ei.size(1), 2), eigvecs=V,
                eigvals=lam, eig_mask=torch.arange(K).view(1, K) < d)


def make_batch() -> Batch:
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    b = Batch.from_data_list([_graph(SIZES[0], True),
                              _graph(SIZES[1], False)])
    torch.random.set_rng_state(gen_state)
    return b


def inputs() -> dict[str, Any]:
    b = make_batch()
    return {'eigvecs': b.eigvecs, 'eigvals': b.eigvals,
            'edge_index': b.edge_index, 'batch': b.batch,
            'eig_mask': b.eig_mask, 'max_num_nodes': None}


ENCODERS: dict[str, Callable[[], nn.Module]] = {
    'LapPE': lambda: LapPE(K, 4, hidden_channels=8, use_eigvals=True),
    'SignNet-gin': lambda: SignNet(K, 4, hidden_channels=8),
    'SignNet-mlp': lambda: SignNet(K, 4, hidden_channels=8, phi='mlp',
                                   rho='deepset'),
    'BasisNet': lambda: BasisNet(K, 4, hidden_channels=8, ign_channels=4),
    'SPE': lambda: SPE(K, 4, num_phis=2, hidden_channels=8, rho_layers=2),
}
DENSE = ('BasisNet', 'SPE')  # need a sorted batch and max_num_nodes


def _call(enc: nn.Module, kw: dict[str, Any]) -> Tensor:
    return enc(kw['eigvecs'], kw['eigvals'], kw['edge_index'], kw['batch'],
               kw['eig_mask'], kw['max_num_nodes'])


def _set(key: str, fn: Callable[[Any], Any]
         ) -> Callable[[dict[str, Any]], None]:
    def mutate(kw: dict[str, Any]) -> None:
        kw[key] = fn(kw[key])
    return mutate


def _nan_at(t: Tensor, value: float) -> Tensor:
    t = t.clone()
    t[1, 1] = value
    return t


def _widen(t: Tensor) -> Tensor:
    return torch.cat([t, t[:, :1]], 1)


def _single_graph_with_batch_none(kw: dict[str, Any]) -> None:
    kw['batch'] = None  # but eigvals still has 2 rows


def _empty(kw: dict[str, Any]) -> None:
    kw['eigvecs'] = kw['eigvecs'][:0]
    kw['batch'] = kw['batch'][:0]
    kw['edge_index'] = kw['edge_index'][:, :0]


# (id, mutation, exception, words the message must contain)
FORWARD_CASES: list[tuple[str, Callable[[dict[str, Any]], None],
                          type[Exception], tuple[str, ...]]] = [
    ('edge_index_transposed', _set('edge_index', lambda e: e.t()),
     ValueError, ('edge_index', 'transposed')),
    ('edge_index_float', _set('edge_index', lambda e: e.float()),
     TypeError, ('edge_index',)),
    ('edge_index_1d', _set('edge_index', lambda e: e.reshape(-1)),
     ValueError, ('edge_index',)),
    ('edge_index_list', _set('edge_index', lambda e: e.tolist()),
     TypeError, ('edge_index',)),
    ('edge_index_too_large', _set('edge_index', lambda e: torch.cat(
        [e, torch.tensor([[0], [N]])], 1)), ValueError, ('edge_index',)),
    ('edge_index_negative', _set('edge_index', lambda e: torch.cat(
        [e, torch.tensor([[-1], [0]])], 1)), ValueError, ('edge_index',)),
    ('eigvecs_1d', _set('eigvecs', lambda v: v[:, 0]), ValueError,
     ('eigvecs',)),
    ('eigvecs_wider_than_k', _set('eigvecs', _widen), ValueError,
     ('eigvecs', 'k=3')),
    ('eigvecs_narrower_than_k', _set('eigvecs', lambda v: v[:, :-1]),
     ValueError, ('eigvecs', 'k=3')),
    ('eigvecs_int', _set('eigvecs', lambda v: v.long()), TypeError,
     ('eigvecs',)),
    ('eigvecs_numpy', _set('eigvecs', lambda v: v.numpy()), TypeError,
     ('eigvecs',)),
    ('eigvecs_nan', _set('eigvecs', lambda v: _nan_at(v, float('nan'))),
     ValueError, ('eigvecs', 'NaN')),
    ('eigvecs_inf', _set('eigvecs', lambda v: _nan_at(v, float('inf'))),
     ValueError, ('eigvecs',)),
    ('eigvecs_empty', _empty, ValueError, ('eigvecs',)),
    ('eigvals_nan', _set('eigvals', lambda v: _nan_at(v, float('nan'))),
     ValueError, ('eigvals', 'NaN')),
    ('eigvals_wider_than_k', _set('eigvals', _widen), ValueError,
     ('eigvals', 'k=3')),
    ('eigvals_1d', _set('eigvals', lambda v: v[0]), ValueError,
     ('eigvals',)),
    ('eigvals_float64', _set('eigvals', lambda v: v.double()), TypeError,
     ('eigvals',)),
    ('eig_mask_shape', _set('eig_mask', lambda m: m[:, :-1]), ValueError,
     ('eig_mask',)),
    ('eig_mask_float', _set('eig_mask', lambda m: m.float()), TypeError,
     ('eig_mask',)),
    ('eig_mask_not_01', _set('eig_mask', lambda m: m.long() * 2),
     ValueError, ('eig_mask',)),
    ('batch_length', _set('batch', lambda b: b[:-1]), ValueError,
     ('batch',)),
    ('batch_float', _set('batch', lambda b: b.float()), TypeError,
     ('batch',)),
    ('batch_out_of_range', _set('batch', lambda b: b.clamp_max(0) + (
        torch.arange(N) >= SIZES[0]).long() * 2), ValueError, ('batch',)),
    ('batch_negative', _set('batch', lambda b: b - 1), ValueError,
     ('batch',)),
    ('batch_none_two_graphs', _single_graph_with_batch_none, ValueError,
     ('batch', 'eigvals')),
    ('max_num_nodes_too_small', _set('max_num_nodes', lambda _: 4),
     ValueError, ('max_num_nodes',)),
    ('max_num_nodes_zero', _set('max_num_nodes', lambda _: 0), ValueError,
     ('max_num_nodes',)),
    ('max_num_nodes_float', _set('max_num_nodes', lambda _: 5.0),
     TypeError, ('max_num_nodes',)),
]


@pytest.mark.parametrize('case', FORWARD_CASES, ids=[c[0] for c in
                                                     FORWARD_CASES])
@pytest.mark.parametrize('enc_name', list(ENCODERS))
def test_encoder_forward_rejects_bad_input(enc_name: str, case: tuple
                                           ) -> None:
    _, mutate, exc, words = case
    enc = ENCODERS[enc_name]().eval()
    kw = inputs()
    _call(enc, kw)  # valid as built
    mutate(kw)
    with pytest.raises(exc) as info:
        _call(enc, kw)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


@pytest.mark.parametrize('enc_name', list(ENCODERS))
def test_encoder_rejects_dtype_other_than_parameters(enc_name: str) -> None:
    enc = ENCODERS[enc_name]().double().eval()
    with pytest.raises(TypeError, match='eigvecs'):
        _call(enc, inputs())


@pytest.mark.parametrize('enc_name', DENSE)
def test_dense_encoders_reject_unsorted_batch(enc_name: str) -> None:
    kw = inputs()
    perm = torch.tensor([0, 5, 1, 6, 2, 7, 3, 8, 4])
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(N)
    kw['eigvecs'], kw['batch'] = kw['eigvecs'][perm], kw['batch'][perm]
    kw['edge_index'] = inv[kw['edge_index']]
    with pytest.raises(ValueError, match='batch must be sorted'):
        _call(ENCODERS[enc_name]().eval(), kw)


def test_signnet_transposed_edge_index_was_silently_accepted() -> None:
    # the old code read an [E, 2] tensor of a 4-node path (E = 6) as two
    # different edge lists and returned another encoding
    g = _graph(4, False)
    enc = SignNet(K, 4, hidden_channels=8).eval()
    enc(g.eigvecs, g.eigvals, g.edge_index)
    with pytest.raises(ValueError, match=r'edge_index.*transposed'):
        enc(g.eigvecs, g.eigvals, g.edge_index.t().contiguous())


def test_spe_uses_k() -> None:
    # SPE(k=2) used to encode width-3 eigenpairs without complaint
    kw = inputs()
    with pytest.raises(ValueError, match='eigvecs must have k=2 columns'):
        SPE(2, 4)(kw['eigvecs'], kw['eigvals'], kw['edge_index'],
                  kw['batch'])
    with pytest.raises(ValueError, match='eigvals must have k=2 columns'):
        SPE(2, 4)(kw['eigvecs'][:, :2], kw['eigvals'], kw['edge_index'],
                  kw['batch'])


@pytest.mark.parametrize('enc_name', list(ENCODERS))
def test_valid_variants_agree(enc_name: str) -> None:
    """An integer 0/1 mask equals the bool mask, a sufficient
    ``max_num_nodes`` (int or 0-d tensor) changes nothing, and ``k``
    larger than a graph (padded, masked columns) is accepted."""
    enc = ENCODERS[enc_name]().eval()
    kw = inputs()
    kw['eig_mask'] = kw['eig_mask'].clone()
    kw['eig_mask'][1, -1] = False
    ref = _call(enc, kw)
    assert ref.shape == (N, 4) and bool(torch.isfinite(ref).all())
    kw2 = dict(kw, eig_mask=kw['eig_mask'].long(), max_num_nodes=5)
    assert torch.allclose(_call(enc, kw2), ref, atol=1e-6)
    kw3 = dict(kw, max_num_nodes=torch.tensor(7))
    assert torch.allclose(_call(enc, kw3), ref, atol=1e-6)
    g = _graph(2, False)  # 2 nodes, k = 3: one padding column
    assert g.eig_mask.tolist() == [[True, True, False]]
    assert _call(enc, {'eigvecs': g.eigvecs, 'eigvals': g.eigvals,
                       'edge_index': g.edge_index, 'batch': None,
                       'eig_mask': g.eig_mask,
                       'max_num_nodes': None}).shape == (2, 4)


# constructor checks -------------------------------------------------------

BAD_COUNTS: list[tuple[Any, type[Exception]]] = [
    (0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError),
    ('3', TypeError), (None, TypeError)]
COUNT_ARGS = {
    LapPE: ('k', 'out_channels', 'hidden_channels', 'num_layers'),
    SignNet: ('k', 'out_channels', 'hidden_channels', 'phi_out_channels',
              'phi_layers', 'rho_layers'),
    BasisNet: ('k', 'out_channels', 'hidden_channels', 'ign_channels',
               'phi_out_channels', 'rho_layers'),
    SPE: ('k', 'out_channels', 'num_phis', 'phi_hidden_channels',
          'phi_layers', 'hidden_channels', 'rho_layers'),
}
BOOL_ARGS = {LapPE: ('use_eigvals', 'random_sign_flip'),
             SignNet: ('use_eigvals',), BasisNet: (), SPE: ('scale',)}
CHOICE_ARGS = {SignNet: ('phi', 'rho', 'preset'),
               BasisNet: ('per_multiplicity', 'preset'),
               SPE: ('phi', 'preset')}
#: probability hyperparameters (reference presets, issue #17)
PROB_ARGS = {SignNet: ('dropout',), SPE: ('dropout',)}


def _ctor_cases() -> list[Any]:
    cases = []
    for cls, names in COUNT_ARGS.items():
        for name in names:
            for value, exc in BAD_COUNTS:
                cases.append(pytest.param(
                    cls, name, value, exc,
                    id=f'{cls.__name__}-{name}={value!r}'))
        for name in BOOL_ARGS[cls]:
            for value in ('yes', 1, None):
                cases.append(pytest.param(
                    cls, name, value, TypeError,
                    id=f'{cls.__name__}-{name}={value!r}'))
        for name in CHOICE_ARGS.get(cls, ()):
            cases.append(pytest.param(cls, name, 'nope', ValueError,
                                      id=f'{cls.__name__}-{name}=nope'))
    for value, exc in ((-1e-3, ValueError), (float('nan'), ValueError),
                       ('0', TypeError)):
        cases.append(pytest.param(BasisNet, 'eig_tol', value, exc,
                                  id=f'BasisNet-eig_tol={value!r}'))
    for cls, names in PROB_ARGS.items():
        for name in names:
            for value, exc in ((-0.1, ValueError), (1.0, ValueError),
                               (float('nan'), ValueError), ('0', TypeError)):
                cases.append(pytest.param(
                    cls, name, value, exc,
                    id=f'{cls.__name__}-{name}={value!r}'))
    return cases


@pytest.mark.parametrize('cls,name,value,exc', _ctor_cases())
def test_encoder_constructor_rejects(cls: type, name: str, value: Any,
                                     exc: type[Exception]) -> None:
    kwargs: dict[str, Any] = {'k': K, 'out_channels': 4}
    kwargs[name] = value
    with pytest.raises(exc, match=rf'\b{name}\b'):
        cls(**kwargs)


def test_every_hyperparameter_is_covered() -> None:
    for cls in COUNT_ARGS:
        params = set(inspect.signature(cls.__init__).parameters) - {'self'}
        covered = set(COUNT_ARGS[cls]) | set(BOOL_ARGS[cls]) | set(
            CHOICE_ARGS.get(cls, ())) | set(PROB_ARGS.get(cls, ())) | (
                {'eig_tol'} if cls is BasisNet else set())
        assert params == covered, cls.__name__


def test_constructor_accepts_integer_like() -> None:
    enc = SPE(np.int64(K), torch.tensor(4))
    assert enc.k == K and type(enc.k) is int and enc.out_channels == 4


# build_pe_encoder / num_parameters / PEGNN ---------------------------------

@pytest.mark.parametrize('args,exc,word', [
    ((5, K, 4), TypeError, 'name'),
    (('nope', K, 4), ValueError, 'unknown positional encoding'),
    (('spe', 0, 4), ValueError, 'k'),
    (('none', -1, 4), ValueError, 'k'),
    (('signnet', K, 0), ValueError, 'out_channels'),
    (('lap', K, 2.0), TypeError, 'out_channels'),
], ids=['name_int', 'name_unknown', 'k_zero', 'none_k_negative',
        'out_zero', 'out_float'])
def test_build_pe_encoder_rejects(args: tuple, exc: type[Exception],
                                  word: str) -> None:
    with pytest.raises(exc, match=rf'\b{word}\b'):
        build_pe_encoder(*args)


def test_build_pe_encoder_choices() -> None:
    assert isinstance(PE_CHOICES, tuple)
    for name in PE_CHOICES:
        enc = build_pe_encoder(name, K, 4)
        assert (enc is None) == (name == 'none')
        if enc is not None:
            assert enc.k == K and enc.out_channels == 4


def test_num_parameters() -> None:
    assert num_parameters(nn.Linear(3, 2)) == 8
    with pytest.raises(TypeError, match='model'):
        num_parameters('model')  # type: ignore[arg-type]


PEGNN_BAD: list[Any] = [
    ({'node_encoder': 0}, ValueError, 'node_encoder'),
    ({'node_encoder': 'x'}, TypeError, 'node_encoder'),
    ({'node_encoder': True}, TypeError, 'node_encoder'),
    ({'hidden_channels': 0}, ValueError, 'hidden_channels'),
    ({'hidden_channels': 8.0}, TypeError, 'hidden_channels'),
    ({'out_channels': -2}, ValueError, 'out_channels'),
    ({'num_layers': 0}, ValueError, 'num_layers'),
    ({'conv': 'gat'}, ValueError, 'conv'),
    ({'conv': 'gine', 'edge_encoder': 0}, ValueError, 'edge_encoder'),
    ({'conv': 'gine', 'edge_encoder': '2'}, TypeError, 'edge_encoder'),
    ({'conv': 'gine'}, ValueError, 'edge_encoder'),
    ({'pe_encoder': 'spe'}, TypeError, 'pe_encoder'),
    ({'pe_channels': 0}, ValueError, 'pe_channels'),
    ({'pe_encoder': SPE(K, 4)}, ValueError, 'pe_channels'),
    ({'pe_encoder': SPE(K, 4), 'pe_channels': 6}, ValueError,
     'pe_channels'),
    ({'pe_mode': 'mul'}, ValueError, 'pe_mode'),
    ({'reinject': 'yes'}, TypeError, 'reinject'),
    ({'dropout': 1.5}, ValueError, 'dropout'),
    ({'dropout': float('nan')}, ValueError, 'dropout'),
    ({'pool': 'max'}, ValueError, 'pool'),
    ({'residual': None}, TypeError, 'residual'),
    ({'pe_norm': 1}, TypeError, 'pe_norm'),
]


@pytest.mark.parametrize('kw,exc,word', PEGNN_BAD,
                         ids=[f'{i}-{c[2]}' for i, c in enumerate(PEGNN_BAD)])
def test_pegnn_constructor_rejects(kw: dict[str, Any], exc: type[Exception],
                                   word: str) -> None:
    args: dict[str, Any] = {'node_encoder': 3, 'hidden_channels': 8,
                            'out_channels': 2, 'num_layers': 1}
    args.update(kw)
    with pytest.raises(exc, match=rf'\b{word}\b'):
        PEGNN(**args)


def _model(conv: str = 'gin') -> PEGNN:
    return PEGNN(3, 8, 2, num_layers=1, conv=conv,
                 edge_encoder=2 if conv == 'gine' else None,
                 pe_encoder=SignNet(K, 8, hidden_channels=8))


def _drop(attr: str) -> Callable[[Batch], None]:
    def f(b: Batch) -> None:
        del b[attr]
    return f


def _assign(attr: str, fn: Callable[[Tensor], Any]
            ) -> Callable[[Batch], None]:
    def f(b: Batch) -> None:
        b[attr] = fn(b[attr])
    return f


PEGNN_FORWARD_BAD: list[Any] = [
    ('gin', _assign('edge_index', lambda e: e.t().contiguous()), ValueError,
     'edge_index'),
    ('gin', _assign('edge_index', lambda e: e.float()), TypeError,
     'edge_index'),
    ('gin', _assign('edge_index', lambda e: e + N), ValueError,
     'edge_index'),
    ('gin', _assign('batch', lambda b: b[:-1]), ValueError, 'batch'),
    ('gin', _assign('batch', lambda b: b.float()), TypeError, 'batch'),
    ('gin', _assign('x', lambda x: x.numpy()), TypeError, 'data.x'),
    ('gin', _drop('eigvecs'), ValueError, 'eigvecs'),
    ('gin', _drop('x'), ValueError, 'x'),
    ('gin', _assign('eigvecs', lambda v: v[:, :-1]), ValueError, 'eigvecs'),
    ('gin', _assign('eigvecs', lambda v: v[:-1]), ValueError, 'eigvecs'),
    ('gine', _drop('edge_attr'), ValueError, 'edge_attr'),
    ('gine', _assign('edge_attr', lambda a: a[:-1]), ValueError,
     'edge_attr'),
    # issue #16 audit: used to be torch RuntimeErrors from the Linear
    ('gin', _assign('x', lambda x: torch.cat([x, x], 1)), ValueError,
     r'data\.x must be \[num_rows, 3\]'),
    ('gin', _assign('x', lambda x: x[:, 0].contiguous()), ValueError,
     r'data\.x must be \[num_rows, 3\]'),
    ('gin', _assign('x', lambda x: x.long()), TypeError,
     r'data\.x must have a floating dtype'),
    ('gine', _assign('edge_attr', lambda a: torch.cat([a, a], 1)),
     ValueError, r'data\.edge_attr must be \[num_rows, 2\]'),
    ('gine', _assign('edge_attr', lambda a: a[:, 0].contiguous()),
     ValueError, r'data\.edge_attr must be \[num_rows, 2\]'),
]


@pytest.mark.parametrize('conv,mutate,exc,word', PEGNN_FORWARD_BAD,
                         ids=[f'{i}-{c[3]}' for i, c in
                              enumerate(PEGNN_FORWARD_BAD)])
def test_pegnn_forward_rejects(conv: str, mutate: Callable[[Batch], None],
                               exc: type[Exception], word: str) -> None:
    model = _model(conv).eval()
    b = make_batch()
    assert model(b).shape == (2, 2)
    mutate(b)
    with pytest.raises(exc, match=word):
        model(b)


def test_every_public_name_is_covered() -> None:
    """A new public name in pyg_ext.nn.pe needs its bad-input cases here."""
    covered = {'LapPE', 'SignNet', 'BasisNet', 'SPE', 'PEGNN',
               'build_pe_encoder', 'num_parameters', 'PE_CHOICES'}
    assert set(pe_mod.__all__) == covered
    for cls in (LapPE, SignNet, BasisNet, SPE):
        assert any(n.startswith(cls.__name__) for n in ENCODERS)


@pytest.mark.parametrize('enc_name', ['LapPE', 'SignNet-gin', 'SPE'])
def test_checks_do_not_break_compile(enc_name: str) -> None:
    import torch._dynamo
    enc = ENCODERS[enc_name]().eval()
    kw = inputs()
    kw['max_num_nodes'] = 5
    torch._dynamo.reset()
    explain = torch._dynamo.explain(enc)(
        kw['eigvecs'], kw['eigvals'], kw['edge_index'], kw['batch'],
        kw['eig_mask'], kw['max_num_nodes'])
    assert explain.graph_break_count == 0, explain.break_reasons


def test_pegnn_width_check_only_for_linear_encoders() -> None:
    """The x / edge_attr width check applies to Linear encoders only: a
    categorical node encoder (an Embedding, as OGB's AtomEncoder) still
    takes 1-D integer x, and gives the same output as feeding its
    embedding through an identity Linear of the right width."""
    torch.manual_seed(0)
    emb = nn.Embedding(5, 8)
    model = PEGNN(emb, 8, 2, num_layers=1).eval()
    b = make_batch()
    b.x = torch.arange(N) % 5
    out = model(b)
    lin = nn.Linear(8, 8)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(8))
        lin.bias.zero_()
    ref_model = PEGNN(lin, 8, 2, num_layers=1).eval()
    ref_model.convs.load_state_dict(model.convs.state_dict())
    ref_model.norms.load_state_dict(model.norms.state_dict())
    ref_model.head.load_state_dict(model.head.state_dict())
    b2 = make_batch()
    with torch.no_grad():
        b2.x = emb(torch.arange(N) % 5)
    torch.testing.assert_close(out, ref_model(b2))


# --- 2026-12-03 audit: one row per graph, dtype mismatch, repr --------------

def test_pegnn_one_row_per_graph_with_empty_graphs():
    torch.manual_seed(0)
    empty = Data(x=torch.zeros(0, 3), edge_index=torch.zeros(
        2, 0, dtype=torch.long), num_nodes=0)
    g = Data(x=torch.randn(4, 3), edge_index=torch.tensor([[0, 1], [1, 0]]))
    for pool in ('mean', 'add'):
        m = PEGNN(3, 8, 2, num_layers=2, pool=pool).eval()
        out = m(Batch.from_data_list([g, empty]))
        assert out.shape == (2, 2)  # a trailing empty graph keeps its row
        torch.testing.assert_close(out[0], m(g)[0])
        torch.testing.assert_close(out[1], m(empty)[0])
        assert m(empty).shape == (1, 2)
    with pytest.raises(TypeError, match=r'data\.x has dtype torch\.float64'):
        m(Data(x=g.x.double(), edge_index=g.edge_index))
    assert 'pe_norm=' in repr(m)
