"""UniFL-MPNN: radius layer, conv, model, training, decoding."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from pyg_ext.combopt import (
    expected_facility_cost,
    facility_cost,
    facility_graph,
    facility_ilp,
    facility_radii,
    make_facility_instance,
    mettu_plaxton,
    neighbor_table,
)
from pyg_ext.nn import (
    UniFLConv,
    UniFLMPNN,
    UniFLRadius,
    train_unifl,
    unifl_decode,
    unifl_solve,
)


@pytest.fixture(scope='module')
def trained():
    torch.manual_seed(0)
    train = [make_facility_instance(fam, n, seed=50 + n)
             for fam in ('uniform', 'clustered') for n in (150, 300)]
    model = UniFLMPNN(hidden_channels=16)
    losses = train_unifl(model, train, steps=200, lr=5e-3, seed=0)
    return model, losses


@pytest.mark.parametrize('f', [0.5, 1.0])
def test_radius_layer_bins_and_paths(f):
    d = make_facility_instance('gaussian', 300, seed=1, f=f)
    t = neighbor_table(d.edge_index, d.edge_attr.view(-1), d.num_nodes)
    exact = facility_radii(t, f)
    layer = UniFLRadius(num_bins=16)
    r_mp, t_mp = layer(d.edge_index, d.edge_attr.view(-1), f, d.num_nodes)
    r_tab, t_tab = layer(None, None, f, d.num_nodes, table=t)
    assert torch.allclose(r_mp, r_tab, atol=1e-9)
    assert torch.allclose(t_mp, t_tab, atol=1e-9)
    assert float((r_mp - exact).abs().max()) <= f / 16 + 1e-9
    assert str(layer) == 'UniFLRadius(num_bins=16)'
    with pytest.raises(ValueError, match='num_bins'):
        UniFLRadius(0)


@pytest.mark.filterwarnings("ignore:Sparse")
def test_conv_sparse_equals_edge_index():
    d = make_facility_instance('uniform', 120, seed=2)
    conv = UniFLConv(8)
    h = torch.randn(120, 8)
    # target-major CSR of the (sorted) edge list
    src, tgt = d.edge_index
    w = (1 - d.edge_attr.view(-1)).clamp(min=0).float()
    deg = torch.bincount(tgt, minlength=120)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), deg.cumsum(0)])
    adj = torch.sparse_csr_tensor(ptr, src, torch.ones_like(w), (120, 120))
    adj_w = torch.sparse_csr_tensor(ptr, src, w, (120, 120))
    inv = 1 / (1 + deg.float())
    out1 = conv(h, d.edge_index, w, inv)
    out2 = conv(h, adj, w, inv, adj_w)
    assert torch.allclose(out1, out2, atol=1e-5)
    assert str(conv) == 'UniFLConv(8)'


def test_model_forward_and_gradients():
    d = make_facility_instance('clustered', 200, seed=3)
    for steps in (0, 2):
        model = UniFLMPNN(hidden_channels=8, recursive_steps=steps)
        p, ps = model(d, return_all=True)
        assert p.shape == (200,) and len(ps) == steps + 1
        assert bool((p >= model.p_min - 1e-7).all())
        assert bool((p <= 1).all())
        loss = expected_facility_cost(p, d._unifl_table._replace(
            dist=d._unifl_table.dist.float()), 1.0)
        loss.backward()
        grads = [q.grad for q in model.parameters() if q.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
    assert 'recursive_steps=2' in str(model)


def test_training_lowers_expected_cost(trained):
    model, losses = trained
    first = sum(losses[:20]) / 20
    last = sum(losses[-20:]) / 20
    assert last < first - 0.05
    assert last < 1.05  # E[cost] / sum(r); OPT / sum(r) is about 0.95


def test_decode_and_solve_quality(trained):
    model, _ = trained
    d = make_facility_instance('uniform', 600, seed=7)
    _, info = facility_ilp(d, time_limit=60)
    opt = info['cost']
    pts = Data(pos=d.pos, opening_cost=d.opening_cost, num_nodes=600)
    om, inf = unifl_solve(model, pts)
    cost = facility_cost(d.pos, om, 1.0)
    assert abs(cost - inf['cost']) < 1e-6 * cost
    assert cost / opt < 1.03
    assert cost < facility_cost(d.pos, mettu_plaxton(d), 1.0)
    assert inf['cost_decoded'] >= inf['cost'] - 1e-9
    p = model(pts)
    om2, inf2 = unifl_decode(p, pts._unifl_table, 1.0, mode='sample',
                             num_samples=4, local_search=False)
    assert bool(om2.any()) and inf2['iterations'] == 0
    with pytest.raises(ValueError, match='mode'):
        unifl_decode(p, pts._unifl_table, 1.0, mode='argmax')


def test_model_bad_input():
    model = UniFLMPNN(hidden_channels=4)
    with pytest.raises(ValueError, match='empty'):
        model(Data(pos=torch.zeros(0, 2), opening_cost=torch.ones(1),
                   num_nodes=0))
    pos = torch.rand(10, 2)
    pos[0, 0] = float('nan')
    with pytest.raises(ValueError, match='NaN'):
        model(Data(pos=pos, opening_cost=torch.ones(1), num_nodes=10))
    with pytest.raises(ValueError, match='opening cost'):
        model(Data(pos=torch.rand(10, 2), opening_cost=torch.zeros(1),
                   num_nodes=10))
    with pytest.raises(ValueError, match='p_min'):
        UniFLMPNN(p_min=0.7)
    with pytest.raises(ValueError, match='at least one'):
        train_unifl(model, [])
    g = facility_graph(torch.rand(10, 2))
    assert model(g).shape == (10,)


def test_conv_unchecked_csr_path_is_bit_identical():
    # the model's internal path skips the per-layer CSR checks; it must
    # compute exactly what the checked forward computes
    d = make_facility_instance('uniform', 90, seed=4)
    conv = UniFLConv(6)
    h = torch.randn(90, 6)
    src, tgt = d.edge_index
    w = (1 - d.edge_attr.view(-1)).clamp(min=0).float()
    deg = torch.bincount(tgt, minlength=90)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), deg.cumsum(0)])
    adj = torch.sparse_csr_tensor(ptr, src, torch.ones_like(w), (90, 90))
    adj_w = torch.sparse_csr_tensor(ptr, src, w, (90, 90))
    inv = 1 / (1 + deg.float())
    assert torch.equal(conv(h, adj, w, inv, adj_w),
                       conv._forward_csr(h, adj, adj_w, inv))


def test_decode_ls_neighbors_narrow_search_exact_costs():
    # a dense instance with a wide table: the local search runs on the
    # 12 nearest columns, the reported costs are those of the full table
    from pyg_ext.combopt import facility_table
    d = make_facility_instance('uniform', 400, seed=9, avg_neighbors=30)
    table = facility_table(d.pos, 1.0, max_neighbors=80)
    assert table.index.size(1) > 12
    g = torch.Generator().manual_seed(0)
    p = torch.rand(400, generator=g) * 0.3
    om_full, inf_full = unifl_decode(p, table, 1.0, ls_neighbors=None)
    om, inf = unifl_decode(p, table, 1.0, ls_neighbors=12)
    exact = facility_cost(d.pos, om, 1.0)
    assert abs(inf['cost'] - exact) < 1e-6 * exact
    assert abs(inf_full['cost'] - facility_cost(d.pos, om_full, 1.0)) \
        < 1e-6 * exact
    assert inf['cost_decoded'] == inf_full['cost_decoded']
    assert not torch.equal(om, om_full)  # the narrow search did run
    assert inf['cost'] <= inf['cost_decoded']
    # the narrow search stays close to the full-width one
    assert inf['cost'] <= 1.01 * inf_full['cost']
    # a width at least the table's is the full search
    om_w, inf_w = unifl_decode(p, table, 1.0, ls_neighbors=80)
    assert torch.equal(om_w, om_full) and inf_w['cost'] == inf_full['cost']
    for bad, exc in ((0, ValueError), (-3, ValueError), (2.5, TypeError),
                     ('8', TypeError)):
        with pytest.raises(exc, match='ls_neighbors'):
            unifl_decode(p, table, 1.0, ls_neighbors=bad)


def test_solve_draws_keeps_cheapest_model_draw(trained):
    """draws=K runs the randomised model K times (fresh random features),
    rounds each without search and keeps the cheapest; the first draw is
    the draws=1 solution (same RNG state), so K draws are never worse."""
    model, _ = trained
    d = make_facility_instance('uniform', 400, seed=3, avg_neighbors=30)

    def pts():
        return Data(pos=d.pos, opening_cost=d.opening_cost, num_nodes=400)

    torch.manual_seed(5)
    om1, inf1 = unifl_solve(model, pts(), local_search=False)
    torch.manual_seed(5)
    omk, infk = unifl_solve(model, pts(), local_search=False, draws=4)
    assert len(infk['cost_draws']) == 4
    assert abs(infk['cost_draws'][0] - inf1['cost_decoded']) < 1e-9
    assert infk['cost_decoded'] == min(infk['cost_draws'])
    assert infk['cost_decoded'] <= inf1['cost_decoded']
    assert abs(facility_cost(d.pos, omk, 1.0) - infk['cost_decoded']) \
        < 1e-6 * infk['cost_decoded']
    assert infk['iterations'] == 0
    # with local search: it starts from the kept draw
    torch.manual_seed(5)
    oml, infl = unifl_solve(model, pts(), draws=4)
    assert infl['cost_decoded'] == infk['cost_decoded']
    assert infl['cost'] <= infl['cost_decoded'] + 1e-9
    assert abs(facility_cost(d.pos, oml, 1.0) - infl['cost']) \
        < 1e-6 * infl['cost']
    for bad in (0, -1):
        with pytest.raises(ValueError, match='draws'):
            unifl_solve(model, pts(), draws=bad)
    with pytest.raises(TypeError, match='draws'):
        unifl_solve(model, pts(), draws=1.5)


# --- 2026-12-03 audit: stale neighbour tables, duplicate arcs, batches ------

def test_cached_table_follows_the_instance():
    from pyg_ext.combopt import facility_greedy
    torch.manual_seed(0)
    pos = torch.rand(12, 2) * 3
    m = UniFLMPNN(8, 1, 4).eval()
    d = facility_graph(pos, f=1.0)
    unifl_solve(m, d)
    d.pos = pos * 3  # new points: the cached table must not be reused
    opened, info = unifl_solve(m, d)
    assert info['cost'] == pytest.approx(
        float(facility_cost(pos * 3, opened, 1.0)), rel=1e-6)
    fresh = facility_graph(pos * 3, f=1.0)
    fresh.edge_index, fresh.edge_attr = d.edge_index, d.edge_attr
    assert torch.equal(m(d), m(fresh))
    # a model with other max_neighbors rebuilds it as well
    m1 = UniFLMPNN(8, 1, 4, max_neighbors=1).eval()
    m1.load_state_dict(m.state_dict())
    g = facility_graph(pos, f=1.0)
    a = m1(g)
    b = m(g)
    assert torch.equal(b, m(facility_graph(pos, f=1.0)))
    assert torch.equal(a, m1(facility_graph(pos, f=1.0)))
    # a baseline on data a (truncating) model used sees every neighbour
    g = facility_graph(pos, f=1.0)
    m1(g)
    assert torch.equal(facility_greedy(g), facility_greedy(
        facility_graph(pos, f=1.0)))


def test_neighbor_table_counts_a_duplicate_arc_once():
    torch.manual_seed(1)
    g = facility_graph(torch.rand(8, 2) * 2)
    p = torch.rand(8)
    t1 = neighbor_table(g.edge_index, g.edge_attr, 8)
    t2 = neighbor_table(torch.cat([g.edge_index] * 2, 1),
                        torch.cat([g.edge_attr] * 2), 8)
    assert torch.equal(t1.index, t2.index) and torch.equal(t1.dist, t2.dist)
    assert torch.equal(facility_radii(t1, 1.0), facility_radii(t2, 1.0))
    assert float(expected_facility_cost(p, t1, 1.0)) == float(
        expected_facility_cost(p, t2, 1.0))
    # a longer copy of an arc does not replace the shorter one
    ei = torch.tensor([[0, 0], [1, 1]])
    t = neighbor_table(ei, torch.tensor([0.5, 0.25]), 2)
    assert t.dist[0].tolist() == [0.0, 0.25]


def test_a_batch_of_instances_is_refused():
    from torch_geometric.data import Batch
    torch.manual_seed(2)
    b = Batch.from_data_list([facility_graph(torch.rand(5, 2)),
                              facility_graph(torch.rand(6, 2))])
    with pytest.raises(ValueError, match='one instance at a time'):
        UniFLMPNN(8, 1, 4)(b)
