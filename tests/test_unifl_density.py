"""UniFL across densities: scale-free features, refinement rounds, the
packaged density-mixture checkpoint, the LP-dual lower bound, the bench's
density grid."""

from __future__ import annotations

import argparse
import math

import pytest
import torch
from torch_geometric.data import Data

from pyg_ext.combopt.facility_baselines import (
    facility_dual_bound,
    facility_ilp,
    mettu_plaxton,
)
from pyg_ext.combopt.facility_location import (
    expected_facility_cost,
    facility_cost,
    facility_table,
    make_facility_instance,
)
from pyg_ext.nn.unifl import (
    PRETRAINED_UNIFL,
    UniFLMPNN,
    _ball_counts,
    _marginal_cost,
    extend_unifl,
    load_unifl,
    save_unifl,
    train_unifl,
    unifl_solve,
)


def _pts(d: Data) -> Data:
    return Data(pos=d.pos, opening_cost=d.opening_cost,
                num_nodes=d.num_nodes)


def test_ball_counts_match_brute_force() -> None:
    d = make_facility_instance('uniform', 120, seed=3, avg_neighbors=12)
    t = facility_table(d.pos, 1.0, max_neighbors=119)
    r = torch.rand(120, dtype=t.dist.dtype) * 0.6 + 0.05
    got = _ball_counts(t, r)
    D = torch.cdist(d.pos.double(), d.pos.double())
    D.fill_diagonal_(math.inf)
    for j, a in enumerate((0.5, 1.0, 1.5, 2.0, 3.0)):
        # within f only (the table is the radius-f graph)
        cnt = ((D <= a * r.double().view(-1, 1)) & (D < 1.0)).sum(1)
        assert torch.allclose(got[:, j], torch.log1p(cnt.to(got.dtype)) / 2)


@pytest.mark.parametrize('refine,grad', [(False, False), (True, False),
                                         (True, True)])
def test_scale_free_model_is_scale_invariant(refine: bool,
                                             grad: bool) -> None:
    """Scaling all points and f together changes no input of the model:
    the same noise gives the same probabilities."""
    torch.manual_seed(0)
    m = UniFLMPNN(hidden_channels=8, recursive_steps=2, max_neighbors=40,
                  scale_free=True, refine=refine, grad_features=grad)
    for p in m.parameters():  # non-trivial heads
        torch.nn.init.normal_(p, std=0.3)
    d = make_facility_instance('gaussian', 200, seed=1, avg_neighbors=20)
    noise = torch.rand(200)
    a = Data(pos=d.pos, opening_cost=torch.tensor(1.0), num_nodes=200)
    b = Data(pos=d.pos * 3.0, opening_cost=torch.tensor(3.0), num_nodes=200)
    with torch.no_grad():
        pa, pb = m(a, noise=noise), m(b, noise=noise)
    assert torch.allclose(pa, pb, atol=1e-4)


def test_refine_rounds_start_as_identity() -> None:
    torch.manual_seed(0)
    m = UniFLMPNN(hidden_channels=8, recursive_steps=2, scale_free=True,
                  refine=True, max_neighbors=40)
    d = _pts(make_facility_instance('uniform', 150, seed=2,
                                    avg_neighbors=10))
    with torch.no_grad():
        q, ps = m(d, return_all=True, noise=torch.rand(150))
    # zero heads: every round reproduces the first (up to the p_min clamp)
    assert torch.allclose(ps[1], ps[0], atol=0.02)
    assert torch.allclose(q, ps[0], atol=0.03)
    # a refinement round can close: its gradient reaches round 0's input
    m.train()
    d2 = _pts(make_facility_instance('uniform', 150, seed=4,
                                     avg_neighbors=10))
    losses = train_unifl(m, [d2], steps=30, lr=1e-2, seed=0)
    assert losses[-1] < losses[0]


def test_marginal_cost_matches_finite_differences() -> None:
    """The refinement rounds' gain input is dE[cost]/dq_x of the closed
    form: check it against central differences of
    expected_facility_cost (float64)."""
    d = make_facility_instance('uniform', 60, seed=5, avg_neighbors=8)
    t = facility_table(d.pos, 1.0, max_neighbors=59)
    g0 = torch.Generator().manual_seed(0)
    q = torch.rand(60, generator=g0, dtype=torch.float64) * 0.9 + 0.05
    fx = torch.ones(60, dtype=torch.float64)
    g = _marginal_cost(q, t, fx)
    eps = 1e-6
    for x in range(0, 60, 7):
        e = torch.zeros_like(q)
        e[x] = eps
        num = (expected_facility_cost(q + e, t, 1.0)
               - expected_facility_cost(q - e, t, 1.0)) / (2 * eps)
        assert abs(float(g[x]) - float(num)) < 1e-6
    assert not g.requires_grad


def test_extend_unifl_keeps_rounds_and_starts_near_identity() -> None:
    torch.manual_seed(0)
    m = UniFLMPNN(hidden_channels=8, recursive_steps=1, scale_free=True,
                  refine=True, max_neighbors=40)
    for p in m.parameters():  # non-trivial trained-like weights
        torch.nn.init.normal_(p, std=0.3)
    m.meta = {'command': 'x'}
    torch.manual_seed(1)
    m2 = extend_unifl(m, 2)
    assert m2.recursive_steps == 3 and len(m2.rounds) == 4
    assert m2.meta == {'command': 'x'}
    sd, sd2 = m.state_dict(), m2.state_dict()
    for k, v in sd.items():
        if k in ('log_scale', 'bias'):
            assert torch.equal(sd2[k][:v.numel()], v)
        else:
            assert torch.equal(sd2[k], v)
    # the copy is independent of the source
    with torch.no_grad():
        m2.rounds[0]['head'].bias.add_(1.0)
    assert not torch.equal(m2.rounds[0]['head'].bias,
                           m.rounds[0]['head'].bias)
    with torch.no_grad():
        m2.rounds[0]['head'].bias.sub_(1.0)
    d = _pts(make_facility_instance('uniform', 150, seed=2,
                                    avg_neighbors=10))
    noise = torch.rand(150)
    with torch.no_grad():
        q, ps = m(d, return_all=True, noise=noise)
        q2, ps2 = m2(d, return_all=True, noise=noise)
    for a, b in zip(ps, ps2[:2]):
        assert torch.allclose(a, b)
    # new rounds: identity up to the p_min clamp
    assert torch.allclose(q2, q, atol=0.02)
    with pytest.raises(TypeError, match='model'):
        extend_unifl(object(), 1)
    with pytest.raises(ValueError, match='extra_rounds'):
        extend_unifl(m, -1)
    with pytest.raises(ValueError, match='refine'):
        extend_unifl(UniFLMPNN(hidden_channels=8, refine=False), 1)
    # adding the marginal-cost inputs: zero input weights, same output
    m3 = extend_unifl(m, 0, grad_features=True)
    assert m3.grad_features and m3.recursive_steps == 1
    with torch.no_grad():
        assert torch.allclose(m3(d, noise=noise), q)
    with pytest.raises(ValueError, match='grad_features'):
        extend_unifl(m3, 1, grad_features=False)
    with pytest.raises(TypeError, match='grad_features'):
        extend_unifl(m, 1, grad_features=1)


def test_save_load_roundtrip(tmp_path) -> None:
    torch.manual_seed(0)
    m = UniFLMPNN(hidden_channels=8, scale_free=True, refine=True,
                  recursive_steps=1, max_neighbors=30)
    path = tmp_path / 'm.pt'
    save_unifl(m, path, meta={'command': 'x'})
    m2 = load_unifl(path)
    assert m2.config() == m.config() and m2.meta == {'command': 'x'}
    d = _pts(make_facility_instance('uniform', 80, seed=0))
    noise = torch.rand(80)
    with torch.no_grad():
        assert torch.allclose(m(d, noise=noise), m2(d, noise=noise))
    torch.save({'foo': 1}, tmp_path / 'bad.pt')
    with pytest.raises(ValueError, match='path'):
        load_unifl(tmp_path / 'bad.pt')
    with pytest.raises(FileNotFoundError, match='path'):
        load_unifl(tmp_path / 'missing.pt')
    with pytest.raises(TypeError, match='refine'):
        UniFLMPNN(refine=1)
    with pytest.raises(TypeError, match='model'):
        save_unifl(object(), path)


@pytest.mark.parametrize('dens', [3.0, 30.0])
def test_dual_bound_is_valid_and_useful(dens: float) -> None:
    for seed in range(2):
        d = make_facility_instance('uniform', 300, seed=seed,
                                   avg_neighbors=dens)
        lb = facility_dual_bound(d)
        _, lp = facility_ilp(d, relax=True)
        _, ip = facility_ilp(d)
        assert lb <= lp['cost'] + 1e-9 <= ip['cost'] + 1e-6
        assert lb >= 0.8 * ip['cost']
        assert facility_dual_bound(d, rounds=0) <= lb + 1e-9


def test_dual_bound_bad_input() -> None:
    d = make_facility_instance('uniform', 50, seed=0)
    with pytest.raises(ValueError, match='rounds'):
        facility_dual_bound(d, rounds=-1)
    del d.pos
    with pytest.raises(ValueError, match='pos'):
        facility_dual_bound(d)


def test_packaged_checkpoint_small_and_holds_across_densities() -> None:
    """The shipped model (trained on a density mixture) alone, without local
    search, stays close to the ILP optimum from 2 to 60 points per
    f-ball and beats Mettu-Plaxton and the untrained model by far; with
    local search it is within 1%."""
    assert PRETRAINED_UNIFL.is_file()
    assert PRETRAINED_UNIFL.stat().st_size < 1_000_000
    m = load_unifl()
    assert m.scale_free and 'command' in m.meta
    torch.manual_seed(0)
    untrained = UniFLMPNN(**m.config())
    for dens in (2.0, 60.0):
        d = make_facility_instance('uniform', 400, seed=7,
                                   avg_neighbors=dens)
        _, ip = facility_ilp(d)
        assert ip['status'] == 'optimal'
        opt = ip['cost']
        torch.manual_seed(0)
        _, info = unifl_solve(m, _pts(d))
        alone = info['cost_decoded'] / opt
        # one model draw: at density 60 single draws of the packaged model
        # spread over 1.023-1.045 x OPT on n = 400 instances (16 draws,
        # seeds 7-9; mean 1.029-1.035, the previous checkpoint 1.031-1.038),
        # so the 1.03 bar is checked on the best of 4 draws below (as in
        # the bench) and at n = 1,000 in
        # test_packaged_model_alone_meets_bar_at_density_60
        assert alone <= (1.01 if dens < 10 else 1.04)
        assert info['cost'] / opt <= 1.01
        # best of 4 model draws (the bench's --draws 4): never worse
        torch.manual_seed(0)
        _, info4 = unifl_solve(m, _pts(d), local_search=False, draws=4)
        assert info4['cost_decoded'] <= info['cost_decoded'] + 1e-9
        assert info4['cost_decoded'] / opt <= 1.03
        torch.manual_seed(0)
        _, uinfo = unifl_solve(untrained, _pts(d), local_search=False)
        mp = facility_cost(d.pos, mettu_plaxton(d), 1.0) / opt
        assert alone < min(mp, uinfo['cost_decoded'] / opt) - 0.05


def test_bench_density_argument() -> None:
    from pyg_ext.bench.unifl import density_list
    assert density_list('2,8,30,60') == [2.0, 8.0, 30.0, 60.0]
    for bad in ('2,x', '0', '-1', 'nan'):
        with pytest.raises(argparse.ArgumentTypeError, match='densities'):
            density_list(bad)


def test_bench_draws_argument() -> None:
    from pyg_ext.bench.unifl import add_arguments
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).draws == 1
    assert parser.parse_args(['--draws', '4']).draws == 4
    for bad in ('0', '-2', 'x'):
        with pytest.raises(SystemExit):
            parser.parse_args(['--draws', bad])


def test_bench_bar_states_the_draws(capsys) -> None:
    """The model-alone bar verdict names the K of best-of-K it was
    measured with (printed and in ``bars``), so a PASS at ``--draws 32``
    cannot be read as a one-draw result."""
    from pyg_ext.bench import run_suite
    res = run_suite('unifl', ['--sizes', '100', '--families', 'uniform',
                              '--densities', '8', '--seeds', '1',
                              '--checkpoint', 'packaged', '--repeat', '1',
                              '--draws', '3', '--no-progress'])
    out = capsys.readouterr().out
    assert res['bars']['alone_draws'] == 3
    assert 'best of 3 draws), worst seed' in out
    rec = res['records'][0]
    assert rec['draws'] == 3
    # model alone is a real rounding of the model: never below the ILP
    # optimum, and no worse than the start the search improves on
    assert rec['ref_kind'] == 'opt'
    assert 1.0 - 1e-9 <= rec['cost_ratio']['unifl_mpnn_no_ls']
    assert rec['cost_ratio']['unifl_mpnn'] <= \
        rec['cost_ratio']['unifl_mpnn_no_ls'] + 1e-9


def _alone_n1000_density60(model: UniFLMPNN) -> float:
    """Model alone / OPT on the bench's worst cell of issue #20: uniform,
    n = 1,000, 60 points per f-ball, seed 0, best of 4 draws, the bench's
    seeding (``pyg-ext bench unifl --densities 60 --draws 4``)."""
    from pyg_ext.testing import seed_all
    d = make_facility_instance('uniform', 1000, seed=0, avg_neighbors=60.0)
    _, ip = facility_ilp(d, time_limit=120)
    assert ip['status'] == 'optimal'
    seed_all(0)
    _, info = unifl_solve(model, _pts(d), local_search=False, draws=4)
    assert len(info['cost_draws']) == 4
    return info['cost_decoded'] / ip['cost']


def test_packaged_model_alone_meets_bar_at_density_60() -> None:
    """Issue #20 bar, model alone <= 1.03 x OPT, at its hardest cell. The
    checkpoint before phase 5 (6 refinement rounds) gave 1.0336 here; the
    packaged one (8 rounds, dense-weighted phase 5) 1.0280."""
    m = load_unifl()
    assert m.recursive_steps == 8 and m.grad_features
    ratio = _alone_n1000_density60(m)
    assert 1.0 - 1e-6 <= ratio <= 1.03  # (ILP relative gap 1e-6)


def test_ilp_cache_keeps_the_time_limit(tmp_path, monkeypatch) -> None:
    """Regression: a cached ILP result cut short by a shorter time limit
    was reused for a longer one; now it is solved again (an optimum is
    reused at any limit) and the limit is stored with the result."""
    import json
    from types import SimpleNamespace

    import pyg_ext.combopt.facility_baselines as fb
    from pyg_ext.bench.unifl import _ilp_cached
    calls = []

    def fake_ilp(d, time_limit):
        calls.append(time_limit)
        status = 'optimal' if time_limit >= 10 else 'time_limit'
        return None, {'status': status, 'cost': 5.0, 'bound': 4.0,
                      'time': 0.1}

    monkeypatch.setattr(fb, 'facility_ilp', fake_ilp)
    cache = tmp_path / 'ilp.json'
    short = SimpleNamespace(ilp_cache=str(cache), ilp_time_limit=1.0)
    long = SimpleNamespace(ilp_cache=str(cache), ilp_time_limit=10.0)
    assert _ilp_cached(short, None, 'k')['status'] == 'time_limit'
    assert _ilp_cached(short, None, 'k')['status'] == 'time_limit'
    assert calls == [1.0]  # the same limit: the cache answers
    rec = _ilp_cached(long, None, 'k')
    assert calls == [1.0, 10.0] and rec['status'] == 'optimal'
    assert json.loads(cache.read_text())['k']['time_limit'] == 10.0
    assert _ilp_cached(short, None, 'k')['status'] == 'optimal'
    assert calls == [1.0, 10.0]  # an optimum is final


def test_bench_reference_is_no_worse_than_any_method() -> None:
    """Regression: without the ILP the reference is the best cost of every
    method run, k-means++ included (it was timed after the reference was
    taken, so its ratio could fall below 1)."""
    from pyg_ext.bench import run_suite
    res = run_suite('unifl', ['--sizes', '100', '--families', 'uniform',
                              '--densities', '8', '--seeds', '2',
                              '--checkpoint', 'packaged', '--repeat', '1',
                              '--ilp-max-n', '0', '--no-progress'])
    for rec in res['records']:
        assert rec['ref_kind'] == 'best'
        assert 'kmeanspp_same_k' in rec['cost_ratio']
        assert min(rec['cost_ratio'].values()) == pytest.approx(1.0)
        assert min(rec['cost_ratio'].values()) >= 1.0 - 1e-12
