"""OptGNN(preset='reference') against a small plain-torch port of the
reference forward (penlu/bespoke-gnn4do ``LiftNetwork`` + ``AutogradLayer``),
written here from its description: same weights, same input, same outputs,
same loss and parameter gradients."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Batch

from pyg_ext.combopt.generators import barabasi_albert, erdos_renyi, random_3sat
from pyg_ext.combopt.max3sat import sat_pair_graph
from pyg_ext.nn.optgnn import OptGNN, OptGNNReferenceLayer

# --- the port ---------------------------------------------------------------

def port_maxcut_loss(X, ei, w):
    # sum over the directed edges of the whole batch of w <x_i, x_j>
    return (w * (X[ei[0]] * X[ei[1]]).sum(1)).sum()


def port_vc_loss(X, ei, nw, rho=1.0):
    obj = torch.inner(1 + X[:, 0], nw) / 2
    E = torch.zeros_like(X)
    E[:, 0] = 1
    M = X - E
    r = (M[ei[0]] * M[ei[1]]).sum(1) / 2
    return obj + rho * (r * r).sum()


class PortSat:
    """Dictionary-based compiler of the pair-variable program, one clause at
    a time, as the reference describes it (quadratic terms split in two
    halves over (a, b) and (b, a))."""

    def __init__(self, clauses, signs, n, rho):
        self.rho = rho
        pairs = {}
        N = n
        for c in clauses:
            for a, b in itertools.combinations(sorted(c), 2):
                if (a, b) not in pairs:
                    pairs[(a, b)] = N
                    N += 1
        self.N = N
        self.const = 0.0
        self.lin, self.quad = {}, {}
        self.c3, self.c4 = [], []

        def q(a, b, v):
            self.quad[(a, b)] = self.quad.get((a, b), 0.0) + v / 2
            self.quad[(b, a)] = self.quad.get((b, a), 0.0) + v / 2

        for c, s in zip(clauses, signs):
            o = sorted(range(3), key=lambda t: c[t])
            (i, j, k), (ti, tj, tk) = [c[t] for t in o], [s[t] for t in o]
            P = pairs
            for v, t in ((i, ti), (j, tj), (k, tk)):
                self.lin[v] = self.lin.get(v, 0.0) + t / 8
            q(i, j, -ti * tj / 8)
            q(i, k, -ti * tk / 8)
            q(j, k, -tj * tk / 8)
            t3 = ti * tj * tk / 24
            q(k, P[i, j], t3)
            q(j, P[i, k], t3)
            q(i, P[j, k], t3)
            self.const += 7 / 8
            self.c3 += [(P[i, j], i, j), (P[j, k], j, k), (P[i, k], i, k)]
            for a, b in ((i, j), (j, i), (i, k), (k, i), (j, k), (k, j)):
                self.c3.append((b, a, P[min(a, b), max(a, b)]))
            self.c4 += [(i, P[j, k], j, P[i, k]), (j, P[i, k], k, P[i, j]),
                        (i, P[j, k], k, P[i, j])]
            for a, b, cc in ((i, j, k), (i, k, j), (j, i, k)):
                e, f = sorted((a, cc))
                self.c4.append((e, f, P[min(a, b), max(a, b)],
                                P[min(b, cc), max(b, cc)]))

    def loss(self, X):
        obj = torch.tensor(self.const, dtype=X.dtype)
        for v, w in self.lin.items():
            obj = obj + w * X[v, 0]
        for (a, b), w in self.quad.items():
            obj = obj + w * (X[a] * X[b]).sum()
        pen = torch.tensor(0.0, dtype=X.dtype)
        for a, b, c in self.c3:
            pen = pen + (X[a, 0] - (X[b] * X[c]).sum()) ** 2
        for a, b, c, d in self.c4:
            pen = pen + ((X[a] * X[b]).sum() - (X[c] * X[d]).sum()) ** 2
        return -obj + self.rho * pen / 4


class PortLift(torch.nn.Module):
    def __init__(self, r):
        super().__init__()
        self.lin = torch.nn.Linear(2 * r, r)

    def forward(self, x, loss_fn):
        with torch.enable_grad():
            x.requires_grad_(True)
            g = torch.autograd.grad(loss_fn(x), x, create_graph=True)[0]
        out = self.lin(torch.cat((x, F.normalize(g, dim=1)), 1))
        return F.normalize(out, dim=1)


class PortNet(torch.nn.Module):
    def __init__(self, r, L):
        super().__init__()
        self.layers = torch.nn.ModuleList(PortLift(r) for _ in range(L))

    def forward(self, x, loss_fn):
        for layer in self.layers:
            x = layer(x, loss_fn)
        return x


def _copy(ours, port):
    with torch.no_grad():
        for a, b in zip(ours.layers, port.layers):
            b.lin.weight.copy_(a.lin.weight)
            b.lin.bias.copy_(a.lin.bias)


def _x0(n, r, seed):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, r, generator=g, dtype=torch.double),
                       dim=1)


# --- tests ------------------------------------------------------------------

def test_maxcut_forward_loss_and_gradients_match_the_port():
    torch.manual_seed(0)
    b = Batch.from_data_list([erdos_renyi(30, 0.2, seed=1),
                              barabasi_albert(25, 2, seed=2)])
    r, L = 6, 5
    ours = OptGNN('maxcut', rank=r, num_layers=L, preset='reference').double()
    port = PortNet(r, L).double()
    _copy(ours, port)
    ei, w = b.edge_index, torch.ones(b.edge_index.size(1),
                                     dtype=torch.double)
    x0 = _x0(b.num_nodes, r, 3)
    out_ours = ours(b, V=x0.clone())
    out_port = port(x0.clone(), lambda X: port_maxcut_loss(X, ei, w))
    assert torch.allclose(out_ours, out_port, atol=1e-12)
    # the training loss is the reference loss summed over the batch
    l_ours = ours.problem.reference_loss(b, out_ours)
    l_port = port_maxcut_loss(out_port, ei, w)
    assert float(l_ours) == pytest.approx(float(l_port), rel=1e-12)
    g_ours = torch.autograd.grad(l_ours, list(ours.parameters()))
    g_port = torch.autograd.grad(l_port, list(port.parameters()))
    for a, c in zip(g_ours, g_port):
        assert torch.allclose(a, c, atol=1e-10)
    # model.loss() is that summed loss at a fresh random start
    gen = torch.Generator().manual_seed(7)
    V = ours(b, generator=gen)
    gen = torch.Generator().manual_seed(7)
    assert float(ours.loss(b, generator=gen)) == pytest.approx(
        float(port_maxcut_loss(V, ei, w)))


def test_vertex_cover_forward_matches_the_port():
    torch.manual_seed(1)
    d = erdos_renyi(20, 0.25, seed=4)
    r, L = 4, 3
    ours = OptGNN('vertex_cover', rank=r, num_layers=L,
                  preset='reference').double()
    port = PortNet(r, L).double()
    _copy(ours, port)
    x0 = _x0(20, r, 5)
    nw = torch.ones(20, dtype=torch.double)
    out_port = port(x0.clone(), lambda X: port_vc_loss(X, d.edge_index, nw))
    assert torch.allclose(ours(d, V=x0.clone()), out_port, atol=1e-12)


def test_max3sat_pairs_forward_and_loss_match_the_port():
    torch.manual_seed(2)
    d = random_3sat(9, 4.0, seed=8)
    g = sat_pair_graph(d)
    port_sat = PortSat(d.clause_index.t().tolist(), d.clause_sign.tolist(),
                       9, rho=0.003)
    assert port_sat.N == g.num_nodes
    r, L = 5, 4
    ours = OptGNN('max3sat', rank=r, num_layers=L,
                  preset='reference').double()
    assert ours.problem.name == 'max3sat_pairs'
    port = PortNet(r, L).double()
    _copy(ours, port)
    x0 = _x0(g.num_nodes, r, 9)
    assert float(ours.problem.reference_loss(g, x0)) == pytest.approx(
        float(port_sat.loss(x0)), rel=1e-7)
    out_port = port(x0.clone(), port_sat.loss)
    assert torch.allclose(ours(g, V=x0.clone()), out_port, atol=1e-6)


def test_reference_layer_has_bias_and_default_random_init():
    torch.manual_seed(11)
    layer = OptGNNReferenceLayer(8)
    torch.manual_seed(11)
    lin = torch.nn.Linear(16, 8)
    assert torch.equal(layer.lin.weight, lin.weight)
    assert torch.equal(layer.lin.bias, lin.bias)
    m = OptGNN('maxcut', preset='reference')
    assert m.num_layers == 16 and len(m.layers) == 16
    # the default preset is unchanged: no bias, [I, eta I] initialisation
    p = OptGNN('maxcut', rank=4, num_layers=2)
    assert p.layers[0].lin.bias is None
    assert torch.allclose(p.layers[0].lin.weight[:, :4], torch.eye(4),
                          atol=0.1)
    with pytest.raises(ValueError, match='preset'):
        OptGNN('maxcut', preset='paper')


def test_reference_solve_defaults_and_checkpoint(tmp_path):
    torch.manual_seed(3)
    d = erdos_renyi(40, 0.15, seed=6)
    m = OptGNN('maxcut', rank=4, num_layers=3, preset='reference')
    gen = torch.Generator().manual_seed(0)
    s, st = m.solve(d, generator=gen)
    from pyg_ext.combopt.maxcut import maxcut_value
    # no local search in the reference decoding
    assert torch.equal(st['improved'], st['rounded'])
    assert float(maxcut_value(d, s)) == float(st['rounded'])
    path = str(tmp_path / 'm.pt')
    m.save(path)
    m2 = OptGNN.load(path)
    assert m2.preset == 'reference'
    x0 = F.normalize(torch.randn(40, 4), dim=1)
    assert torch.allclose(m(d, V=x0), m2(d, V=x0))


def test_train_reference_keeps_the_best_rounded_checkpoint(tmp_path):
    from pyg_ext.combopt.training import (
        maxcut_mixture,
        rounded_score,
        train_reference,
    )
    torch.manual_seed(0)
    m = OptGNN('maxcut', rank=4, num_layers=2, preset='reference')
    gen = torch.Generator().manual_seed(0)
    val = [erdos_renyi(30, 0.2, seed=50 + i) for i in range(3)]

    def sample(rng):
        return maxcut_mixture(rng, n_range=(20, 40), p_range=(0.1, 0.2))

    path = str(tmp_path / 'best.pt')
    hist = train_reference(m, sample, steps=6, batch_size=2, val=val,
                           valid_every=2, val_hyperplanes=16, save=path)
    assert hist['step'] == [0, 2, 4, 6]
    best = max(hist['val_score'])
    # the loaded weights are the best validation ones, also on disk
    assert rounded_score(m, val, 16) == pytest.approx(best)
    assert rounded_score(OptGNN.load(path), val, 16) == pytest.approx(best)
    del gen
    with pytest.raises(ValueError, match='steps'):
        train_reference(m, sample, steps=0)
    with pytest.raises(TypeError, match='sample'):
        train_reference(m, None)
