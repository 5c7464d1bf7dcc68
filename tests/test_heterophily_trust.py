"""Bad input to the heterophily baselines (issue #16, defect 5).

``HeterophilyBaseline('gcn'|'sage'|...)`` built unchecked ``torch.sparse``
CSR matrices from ``edge_index``: ids ``>= N`` were read out of bounds, so
the output was non-finite and changed from call to call (or an
``IndexError`` came from deep inside torch). Every model must now refuse bad
ids, a wrong ``x`` and NaN input with a ``ValueError``/``TypeError`` naming
the argument. Out-of-bounds reads can crash a process, so the bad calls run
in one child process (``sys.executable``) that reports each case as a JSON
line.
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

from pyg_ext.nn.models import HeterophilyBaseline
from pyg_ext.nn.models.heterophily import MODELS

VALUE_ERR, TYPE_ERR = 'ValueError', 'TypeError'

SETUP = """
import warnings
import torch
warnings.simplefilter('ignore')
from pyg_ext.nn.models import HeterophilyBaseline
torch.manual_seed(0)
x = torch.randn(6, 4)
ei = torch.tensor([[0, 1, 2, 3, 4, 5, 1], [1, 2, 3, 4, 5, 0, 0]])
def net(model):
    return HeterophilyBaseline(model, 4, 2, hidden_channels=8, num_layers=1,
                               num_heads=2).eval()
def bad(t, pos, value):
    t = t.clone()
    t[pos] = value
    return t
"""

# (case id, call, exception, words the message must contain)
CASES: list[tuple[str, str, str, tuple[str, ...]]] = []
for m in MODELS:
    n = f"net('{m}')"
    CASES += [
        (f'{m}-source-eq-N', f'{n}(x, bad(ei, (0, 3), 6))', VALUE_ERR,
         ('edge_index', '6')),
        (f'{m}-target-eq-N', f'{n}(x, bad(ei, (1, 0), 6))', VALUE_ERR,
         ('edge_index',)),
        (f'{m}-id-huge', f'{n}(x, bad(ei, (1, 2), 10 ** 6))', VALUE_ERR,
         ('edge_index',)),
        (f'{m}-id-negative', f'{n}(x, bad(ei, (0, 1), -1))', VALUE_ERR,
         ('edge_index',)),
        (f'{m}-edge_index-float', f'{n}(x, ei.float())', TYPE_ERR,
         ('edge_index',)),
        (f'{m}-edge_index-transposed', f'{n}(x, ei.t().contiguous())',
         VALUE_ERR, ('edge_index',)),
        (f'{m}-edge_index-1d', f'{n}(x, ei[0])', VALUE_ERR,
         ('edge_index',)),
        (f'{m}-x-nan', f"{n}(bad(x, (2, 1), float('nan')), ei)", VALUE_ERR,
         ('x', 'NaN')),
        (f'{m}-x-inf', f"{n}(bad(x, (0, 0), float('inf')), ei)", VALUE_ERR,
         ('x',)),
        (f'{m}-x-columns', f'{n}(torch.randn(6, 5), ei)', VALUE_ERR,
         ('x', 'in_channels')),
        (f'{m}-x-1d', f'{n}(x[:, 0], ei)', VALUE_ERR, ('x',)),
        (f'{m}-x-int', f'{n}(x.long(), ei)', TYPE_ERR, ('x',)),
        (f'{m}-x-list', f'{n}(x.tolist(), ei)', TYPE_ERR, ('x',)),
        (f'{m}-x-empty', f'{n}(torch.randn(0, 4), ei[:, :0])', VALUE_ERR,
         ('x',)),
        # the ids are checked against this x: 3 nodes, ids up to 5
        (f'{m}-fewer-nodes', f'{n}(x[:3], ei)', VALUE_ERR, ('edge_index',)),
    ]
CASES += [
    ('ctor-in_channels', "HeterophilyBaseline('gcn', 0, 2)", VALUE_ERR,
     ('in_channels',)),
    ('ctor-out_channels', "HeterophilyBaseline('gcn', 4, 2.0)", TYPE_ERR,
     ('out_channels',)),
    ('ctor-hidden', "HeterophilyBaseline('sage', 4, 2, hidden_channels=-8)",
     VALUE_ERR, ('hidden_channels',)),
    ('ctor-layers', "HeterophilyBaseline('gt', 4, 2, num_layers=-1)",
     VALUE_ERR, ('num_layers',)),
    ('ctor-heads', "HeterophilyBaseline('gat', 4, 2, num_heads=0)",
     VALUE_ERR, ('num_heads',)),
    ('ctor-dropout', "HeterophilyBaseline('gat', 4, 2, dropout=1.5)",
     VALUE_ERR, ('dropout',)),
    ('ctor-multiplier', "HeterophilyBaseline('gcn', 4, 2, "
     "hidden_multiplier=0.0)", VALUE_ERR, ('hidden_multiplier',)),
    ('ctor-normalization', "HeterophilyBaseline('gcn', 4, 2, "
     "normalization='group')", VALUE_ERR, ('normalization',)),
    ('ctor-self-loops', "HeterophilyBaseline('gcn', 4, 2, "
     "add_self_loops='yes')", TYPE_ERR, ('add_self_loops',)),
    # issue #16 audit: a non-str normalization gave an AttributeError
    ('ctor-normalization-int', "HeterophilyBaseline('gcn', 4, 2, "
     'normalization=3)', TYPE_ERR, ('normalization',)),
    ('ctor-normalization-none', "HeterophilyBaseline('gcn', 4, 2, "
     'normalization=None)', TYPE_ERR, ('normalization',)),
]


@pytest.fixture(scope='module')
def child() -> dict[str, Any]:
    body = textwrap.dedent("""
        import json
        for cid, call in {cases!r}:
            try:
                exec(call)
                res = {{'id': cid, 'exc': None, 'msg': ''}}
            except Exception as e:
                res = {{'id': cid, 'exc': type(e).__name__, 'msg': str(e)}}
            print('CASE ' + json.dumps(res), flush=True)
    """).format(cases=[(c[0], c[1]) for c in CASES])
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    proc = subprocess.run([sys.executable, '-c', SETUP + body],
                          capture_output=True, text=True, timeout=900,
                          env=env)
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith('CASE '):
            res = json.loads(line[5:])
            results[res['id']] = res
    return {'rc': proc.returncode, 'stderr': proc.stderr[-3000:],
            'cases': results}


@pytest.mark.parametrize('cid,call,exc,words', CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input_raises_naming_the_argument(
        child: dict[str, Any], cid: str, call: str, exc: str,
        words: tuple[str, ...]) -> None:
    res = child['cases'].get(cid)
    assert res is not None, (f"child died (rc={child['rc']}) before this "
                             f"case:\n{child['stderr']}")
    assert res['exc'] == exc, (f'{call}: expected {exc}, got '
                               f"{res['exc']}: {res['msg']}")
    for word in words:
        assert word in res['msg'], (call, res['msg'])


def test_child_exits_cleanly(child: dict[str, Any]) -> None:
    assert child['rc'] == 0, child['stderr']


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 4, generator=g)
    ei = torch.randint(0, 7, (2, 20), generator=g)
    return x, ei


@pytest.mark.parametrize('model', MODELS)
def test_valid_input_gives_finite_repeatable_output(model: str) -> None:
    # the property the out-of-bounds reads broke: the same input gives the
    # same finite output every time, also after a rebuilt graph cache
    x, ei = _data()
    torch.manual_seed(0)
    net = HeterophilyBaseline(model, 4, 3, hidden_channels=8, num_layers=2,
                              num_heads=2).eval()
    with torch.no_grad():
        a = net(x, ei)
        b = net(x, ei.clone())
    assert torch.isfinite(a).all()
    assert torch.equal(a, b)
    # the highest valid id (N - 1) is accepted
    ei2 = ei.clone()
    ei2[:, 0] = 6
    with torch.no_grad():
        assert torch.isfinite(net(x, ei2)).all()


def test_resnet_ignores_a_missing_graph() -> None:
    x, ei = _data()
    net = HeterophilyBaseline('resnet', 4, 2, hidden_channels=8).eval()
    with torch.no_grad():
        assert torch.equal(net(x, None), net(x, ei))


def test_checks_are_skipped_while_compiling(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # forward gates its host-syncing checks on torch.compiler.is_compiling()
    x, ei = _data()
    x = x.clone()
    x[0, 0] = float('nan')
    net = HeterophilyBaseline('sage', 4, 2, hidden_channels=8).eval()
    with pytest.raises(ValueError, match='x contains NaN'):
        net(x, ei)
    monkeypatch.setattr(torch.compiler, 'is_compiling', lambda: True)
    with torch.no_grad():
        out = net(x, ei)  # no check: NaN flows through
    assert torch.isnan(out).any()


@pytest.mark.parametrize('name', ['LayerNorm', 'BATCHNORM', 'None'])
def test_normalization_names_are_case_insensitive(name: str) -> None:
    net = HeterophilyBaseline('gcn', 4, 2, hidden_channels=8,
                              normalization=name)
    kind = {'layernorm': torch.nn.LayerNorm,
            'batchnorm': torch.nn.BatchNorm1d,
            'none': torch.nn.Identity}[name.lower()]
    assert isinstance(net.norm_out, kind)


@pytest.mark.parametrize('model', MODELS)
def test_zero_layers_is_the_graph_agnostic_projection(model: str) -> None:
    # num_layers=0 is accepted on purpose: lin_out(norm(gelu(lin_in(x)))),
    # the same for every model and blind to the edges
    x, ei = _data()
    torch.manual_seed(0)
    net = HeterophilyBaseline(model, 4, 3, hidden_channels=8, num_layers=0,
                              num_heads=2).eval()
    with torch.no_grad():
        out = net(x, ei)
        ref = net.lin_out(net.norm_out(
            torch.nn.functional.gelu(net.lin_in(x))))
        assert torch.allclose(out, ref)
        assert torch.equal(out, net(x, ei[:, :1]))
