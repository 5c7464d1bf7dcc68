"""Max-3-SAT pair-variable program (the paper's / reference code's SDP):
exactness on lifted assignments against brute force, mixtures of
assignments, batching, the closed-form gradient, validation."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Batch, Data

from pyg_ext.combopt.generators import random_3sat
from pyg_ext.combopt.max3sat import (
    Max3SatPairs,
    check_pair_graph,
    lift_assignment,
    pair_constraint,
    pair_sat_relaxation,
    sat_pair_graph,
    unsat_count,
    unsat_relaxation,
)


def _all_assignments(n):
    return torch.tensor(list(itertools.product([-1.0, 1.0], repeat=n)))


def _sat_counts(d, A):
    """Satisfied clauses of every row of ``A`` (brute force, plain loops)."""
    ci = d.clause_index.t().tolist()
    sg = d.clause_sign.tolist()
    out = []
    for s in A.tolist():
        out.append(sum(any(t * s[v] > 0 for v, t in zip(c, g))
                       for c, g in zip(ci, sg)))
    return torch.tensor(out, dtype=torch.float)


@pytest.mark.parametrize('n,ratio,seed', [(5, 4.0, 0), (7, 4.3, 1),
                                          (10, 4.3, 2)])
def test_lifted_assignments_are_feasible_and_exact(n, ratio, seed):
    """Every one of the 2^n assignments lifts to a feasible point (zero
    residual) whose value is its satisfied-clause count: the program's
    optimum upper-bounds the satisfied clauses of every assignment."""
    d = random_3sat(n, ratio, seed=seed)
    g = sat_pair_graph(d)
    A = _all_assignments(n)
    sat = _sat_counts(d, A)
    vals, pens = [], []
    for s in A:
        V = lift_assignment(g, s, rank=3)
        vals.append(float(pair_sat_relaxation(g, V)))
        pens.append(float(pair_constraint(g, V)))
    vals = torch.tensor(vals)
    assert torch.allclose(vals, sat, atol=1e-4)
    assert max(pens) < 1e-10
    # the best lifted point reaches the brute-force Max-3-SAT optimum
    assert float(vals.max()) == pytest.approx(float(sat.max()), abs=1e-4)
    # and unsat_count on the pair graph agrees with the plain instance
    assert torch.equal(unsat_count(g, torch.cat([A[5], torch.ones(
        g.num_nodes - n)])), unsat_count(d, A[5]))


def _householder_to_e1(u):
    """Orthogonal Q with Q u = e1 for a unit vector u."""
    e1 = torch.zeros_like(u)
    e1[0] = 1.0
    w = u - e1
    if float(w.norm()) < 1e-12:
        return torch.eye(u.numel(), dtype=u.dtype)
    w = w / w.norm()
    return torch.eye(u.numel(), dtype=u.dtype) - 2 * torch.outer(w, w)


def test_mixtures_of_assignments_are_feasible_with_expected_value():
    """A probability distribution over all assignments gives unit vectors
    (one coordinate per assignment, rotated so that the constant vector is
    e1) that satisfy every consistency constraint and whose value is the
    expected satisfied count: never above the brute-force optimum."""
    n = 6
    d = random_3sat(n, 4.3, seed=3)
    g = sat_pair_graph(d)
    A = _all_assignments(n).double()
    sat = _sat_counts(d, A).double()
    gen = torch.Generator().manual_seed(0)
    p = torch.rand(A.size(0), generator=gen, dtype=torch.double)
    p = p / p.sum()
    lifts = torch.stack([lift_assignment(g, s.float(), 1)[:, 0].double()
                         for s in A], 1)  # [N, 2^n]
    V = lifts * p.sqrt()
    Q = _householder_to_e1(p.sqrt())
    V = V @ Q.t()
    assert torch.allclose(V.norm(dim=1), torch.ones(V.size(0),
                                                    dtype=torch.double))
    val = float(pair_sat_relaxation(g, V))
    assert val == pytest.approx(float((p * sat).sum()), abs=1e-8)
    assert float(pair_constraint(g, V)) < 1e-20
    assert val <= float(sat.max()) + 1e-9


def test_old_surrogate_is_not_a_relaxation_but_pairs_value_is_bounded():
    """The 'pyg_ext' surrogate's relaxed unsatisfied count can go below 0
    (so it is no relaxation); the pair program's satisfied value at feasible
    points never exceeds the clause count."""
    # one clause (x0 or x1 or x2), vectors orthogonal to e1 at 120 degrees
    one = Data(clause_index=torch.tensor([[0], [1], [2]]),
               clause_sign=torch.ones(1, 3), num_nodes=3)
    ang = torch.tensor([0.0, 2.0944, 4.1888])
    V = torch.stack([torch.zeros(3), ang.cos(), ang.sin()], 1)
    assert float(unsat_relaxation(one, V)) < -0.06
    d = random_3sat(6, 4.3, seed=4)
    C = d.clause_index.size(1)
    g = sat_pair_graph(d)
    for s in _all_assignments(6)[::7]:
        assert float(pair_sat_relaxation(g, lift_assignment(g, s))) <= C


def test_structure_matches_the_reference_counts():
    d = random_3sat(20, 4.3, seed=5)
    C = d.clause_index.size(1)
    g = sat_pair_graph(d)
    pairs = {tuple(sorted(p)) for c in d.clause_index.t().tolist()
             for p in itertools.combinations(c, 2)}
    assert g.num_nodes == 20 + len(pairs)
    assert g.c3_index.size(1) == 9 * C and g.c4_index.size(1) == 6 * C
    assert g.quad_index.size(1) == 6 * C and g.lin_index.numel() == 3 * C
    pi = g.pair_index
    assert bool((pi[1] < pi[2]).all())
    assert {tuple(x) for x in pi[1:].t().tolist()} == pairs
    assert float(g.sat_const) == pytest.approx(7 / 8 * C)


def test_batching_matches_single_graphs_and_gradient_is_exact():
    gs = [sat_pair_graph(random_3sat(n, 4.2, seed=n)) for n in (8, 12)]
    b = Batch.from_data_list(gs)
    torch.manual_seed(0)
    V = F.normalize(torch.randn(b.num_nodes, 4, dtype=torch.double), dim=1)
    val = pair_sat_relaxation(b, V)
    pen = pair_constraint(b, V)
    lo = 0
    for i, g in enumerate(gs):
        Vi = V[lo:lo + g.num_nodes]
        assert float(val[i]) == pytest.approx(float(
            pair_sat_relaxation(g, Vi)), abs=1e-10)
        assert float(pen[i]) == pytest.approx(float(
            pair_constraint(g, Vi)), abs=1e-10)
        lo += g.num_nodes
    prob = Max3SatPairs(penalty=0.7)
    X = V.clone().requires_grad_(True)
    (ga,) = torch.autograd.grad(prob.reference_loss(b, X), X)
    assert torch.allclose(prob.reference_grad(b, V), ga, atol=1e-12)
    assert float(prob.reference_loss(b, V)) == pytest.approx(
        float((-val + 0.7 * pen).sum()))


def test_sdp_value_upper_bounds_brute_force():
    """The vector program solved exactly (cvxpy) is at least the
    brute-force Max-3-SAT optimum (skipped without cvxpy)."""
    cp = pytest.importorskip('cvxpy')
    n = 5
    d = random_3sat(n, 4.0, seed=6)
    g = sat_pair_graph(d)
    N = g.num_nodes
    X = cp.Variable((N + 1, N + 1), PSD=True)
    li, lw = g.lin_index.tolist(), g.lin_weight.tolist()
    qi, qw = g.quad_index.t().tolist(), g.quad_weight.tolist()
    obj = float(g.sat_const) + sum(w * X[0, a + 1] for a, w in zip(li, lw)) \
        + sum(w * X[a + 1, b + 1] for (a, b), w in zip(qi, qw))
    cons = [cp.diag(X) == 1]
    cons += [X[0, a + 1] == X[b + 1, c + 1]
             for a, b, c in g.c3_index.t().tolist()]
    cons += [X[a + 1, b + 1] == X[c + 1, e + 1]
             for a, b, c, e in g.c4_index.t().tolist()]
    val = cp.Problem(cp.Maximize(obj), cons).solve(solver='SCS', eps=1e-6)
    best = float(_sat_counts(d, _all_assignments(n)).max())
    assert val >= best - 1e-3
    assert val <= d.clause_index.size(1) + 1e-3


def test_validation():
    d = random_3sat(6, 3.0, seed=0)
    bad = Data(clause_index=torch.tensor([[0], [0], [1]]),
               clause_sign=torch.ones(1, 3), num_nodes=3)
    with pytest.raises(ValueError, match='repeated variable'):
        sat_pair_graph(bad)
    with pytest.raises(ValueError, match='sat_pair_graph'):
        check_pair_graph(d)
    g = sat_pair_graph(d)
    with pytest.raises(ValueError, match='s must have 6'):
        lift_assignment(g, torch.ones(5))
    with pytest.raises(ValueError, match='s must hold only'):
        lift_assignment(g, torch.zeros(6))
    with pytest.raises(ValueError, match='V'):
        pair_sat_relaxation(g, torch.zeros(g.num_nodes + 1, 2))
    g2 = g.clone()
    g2.c4_index = g2.c4_index.clone()
    g2.c4_index[0, 0] = g.num_nodes
    with pytest.raises(ValueError, match='c4_index'):
        check_pair_graph(g2)
    with pytest.raises(ValueError, match='penalty'):
        Max3SatPairs(penalty=-1.0)
