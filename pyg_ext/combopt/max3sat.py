"""Max-3-SAT on the bipartite variable-clause graph.

An instance is a :class:`~torch_geometric.data.Data` whose nodes are the
variables (``num_nodes = n``) with

* ``clause_index`` ``[3, C]``: the variables of each clause (the
  variable-clause incidence; the name contains ``index`` so batching offsets
  it like ``edge_index``), and
* ``clause_sign`` ``[C, 3]``: ``+1`` for a positive literal, ``-1`` for a
  negated one.

:func:`to_bipartite` turns it into a ``HeteroData`` with ``variable`` and
``clause`` nodes. An assignment is ``s in {-1, +1}^n`` (``+1`` = true).

Relaxation: variable vectors ``v_a`` and the fixed vector ``e1``
(``x_a = <v_a, e1>``). A clause is unsatisfied with indicator
``prod_a (1 - tau_a x_a) / 2 = 1/8 [1 - sum_a tau_a x_a
+ sum_{a<b} tau_a tau_b x_a x_b - tau_1 tau_2 tau_3 x_1 x_2 x_3]``; the
relaxation replaces each degree-2 product ``x_a x_b`` by ``<v_a, v_b>`` and
keeps the cubic term on the ``e1`` coordinates. Exact on integral points
(``v_a = ±e1``), but *not* a relaxation (the cubic term is not a vector
program, and the value can go below zero); it is the ``'pyg_ext'`` preset's
cheap surrogate. Message passing runs variable -> clause -> variable.

The paper's (and the reference code's) program, :class:`Max3SatPairs`, adds
a node ``x_ab`` for every pair of variables sharing a clause
(:func:`sat_pair_graph`), writes the cubic term of a clause ``(i, j, k)`` as
``(<x_k, x_ij> + <x_j, x_ik> + <x_i, x_jk>) / 3`` and imposes the
consistency constraints ``<x_ij, e1> = <x_i, x_j>``, ``<x_i, x_ij> = <x_j,
e1>``, ``<x_i, x_jk> = <x_j, x_ik> = <x_k, x_ij>`` and ``<x_ij, x_jk> =
<x_i, x_k>``. Every assignment lifts to a feasible point (``x_i = s_i e1``,
``x_ij = s_i s_j e1``) whose value is its number of satisfied clauses, so
the optimum of the vector program upper-bounds Max-3-SAT. OptGNN minimises
``-objective + penalty * sum(residual^2) / 4`` (penalised constraints, as
the reference code does).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData
from torch_geometric.utils import scatter

from pyg_ext.combopt.maxcut import (
    batch_of,
    check_graph_data,
    check_node_matrix,
    check_signs,
)
from pyg_ext.utils.validation import (
    check_bool,
    check_index,
    check_int,
    check_probability,
    check_tensor,
)


def check_clauses(data: Data, name: str = 'data', k: int | None = 3) -> int:
    """Validate a SAT instance and return its number of variables.

    ``data.clause_index`` must be an integer ``[k, C]`` tensor of variable
    ids in ``[0, num_nodes)`` (``k = 3`` for Max-3-SAT; any ``k >= 1`` with
    ``k=None``) and ``data.clause_sign`` a ``[C, k]`` tensor holding only
    ``-1`` (negated literal) and ``+1``.

    Raises:
        TypeError: ``data`` is not a ``Data`` or ``clause_index`` is not an
            integer tensor.
        ValueError: a missing attribute, a wrong shape (e.g. 2-literal
            clauses), a sign outside {-1, +1} or an id outside
            ``[0, num_nodes)``; the message names the attribute.
    """
    n = check_graph_data(data, name, edges=False)
    ci = getattr(data, 'clause_index', None)
    sg = getattr(data, 'clause_sign', None)
    if ci is None or sg is None:
        raise ValueError(f'{name} must have clause_index and clause_sign')
    check_tensor(ci, f'{name}.clause_index', dim=2, floating=False)
    kk = ci.size(0)
    if (k is not None and kk != k) or kk < 1:
        want = k if k is not None else 'k'
        raise ValueError(f'{name}.clause_index must have shape [{want}, '
                         f'num_clauses], got {tuple(ci.shape)}')
    check_tensor(sg, f'{name}.clause_sign', dim=2)
    if tuple(sg.shape) != (ci.size(1), kk):
        raise ValueError(f'{name}.clause_sign must have shape '
                         f'[num_clauses, {kk}] = {(ci.size(1), kk)}, got '
                         f'{tuple(sg.shape)}')
    if sg.numel() and not bool(((sg == 1) | (sg == -1)).all()):
        raise ValueError(f'{name}.clause_sign must hold only -1 and +1')
    check_index(ci, f'{name}.clause_index', n, dim=2)
    return n


def _check(data: Data, S: Tensor | None = None, name: str = 'S') -> None:
    if torch.compiler.is_compiling():
        return
    n = check_clauses(data)
    if S is not None:
        check_node_matrix(S, n, name)


def _clauses(data: Data) -> tuple[Tensor, Tensor]:
    return data.clause_index, data.clause_sign.to(torch.float)


def unsat_count(data: Data, s: Tensor) -> Tensor:
    """Unsatisfied clauses of ``±1`` assignments ``s`` (``[N]`` or
    ``[N, K]``) per graph.

    Raises:
        TypeError, ValueError: invalid clauses (:func:`check_clauses`),
            ``s`` of the wrong shape or with an entry other than ±1.
    """
    _check(data, s, 's')
    if not torch.compiler.is_compiling():
        check_signs(s, 's')
    batch, b = batch_of(data)
    ci, sg = _clauses(data)
    squeeze = s.dim() == 1
    S = (s if s.dim() == 2 else s.unsqueeze(1)).float()
    lit = sg.t().unsqueeze(-1) * S[ci]  # [3, C, K]
    uns = (lit < 0).all(0).float()  # [C, K]
    out = scatter(uns, batch[ci[0]], 0, dim_size=b, reduce='sum')
    return out.view(-1) if squeeze else out


def unsat_relaxation(data: Data, V: Tensor) -> Tensor:
    """Relaxed number of unsatisfied clauses per graph.

    Raises:
        TypeError, ValueError: invalid clauses or ``V`` not ``[N, r]``.
    """
    _check(data, V, 'V')
    if not torch.compiler.is_compiling():
        check_tensor(V, 'V', dim=2, floating=True)
    batch, b = batch_of(data)
    ci, sg = _clauses(data)
    T = sg.t()  # [3, C]
    Vc = V[ci]  # [3, C, r]
    x = Vc[..., 0]
    lin = (T * x).sum(0)
    quad = sum(T[a] * T[c] * (Vc[a] * Vc[c]).sum(-1)
               for a, c in ((0, 1), (0, 2), (1, 2)))
    cub = T.prod(0) * x.prod(0)
    val = (1 - lin + quad - cub) / 8
    return scatter(val, batch[ci[0]], 0, dim_size=b, reduce='sum')


def num_clauses(data: Data) -> Tensor:
    """Number of clauses per graph."""
    _check(data)
    batch, b = batch_of(data)
    ci = data.clause_index
    return scatter(torch.ones(ci.size(1), device=ci.device), batch[ci[0]], 0,
                   dim_size=b, reduce='sum')


def sat_local_search(data: Data, S: Tensor, max_iter: int = 1000,
                     return_flips: bool = False):
    """Greedy (GSAT without sideways moves) on ``[N, K]`` ``±1``
    assignments: per graph and column, flip the variable with the largest
    ``make - break`` while it is positive, so the number of unsatisfied
    clauses never grows. A variable that occurs more than once in a clause
    counts that clause once, from all its literals there (flipping it
    satisfies the clause afterwards iff a literal of another variable is
    true or one of its own is false now).

    Args:
        return_flips: also return the flips made per graph, summed over
            the columns (``[B]``, long), so a later WalkSAT stage can be
            charged for them.

    Raises:
        TypeError, ValueError: invalid clauses or ``S`` (also an entry other
            than ±1), ``max_iter < 0``.
    """
    _check(data, S)
    check_signs(S, 'S')
    max_iter = check_int(max_iter, 'max_iter', low=0)
    check_bool(return_flips, 'return_flips')
    S = S.clone().float()
    squeeze = S.dim() == 1
    if squeeze:
        S = S.view(-1, 1)
    batch, b = batch_of(data)
    ci, sg = _clauses(data)
    T = sg.t().unsqueeze(-1)  # [3, C, 1]
    n = S.size(0)
    tie = torch.rand(n, 1, device=S.device) * 1e-3
    # a variable may occur more than once in a clause: its gain counts each
    # clause once (at its first position), from all its literals there
    same = (ci.unsqueeze(1) == ci.unsqueeze(0)).float()  # [3, 3, C]
    first = torch.stack([torch.ones_like(ci[0], dtype=torch.bool)] + [
        ~(ci[:j] == ci[j]).any(0) for j in range(1, ci.size(0))])  # [3, C]
    occ = same.sum(1).unsqueeze(-1)  # [3, C, 1] literals of ci[j] in c
    flat = ci[first]
    for_first = first.unsqueeze(-1)
    flips = torch.zeros(b, dtype=torch.long, device=S.device)
    for _ in range(max_iter):
        true = ((T * S[ci]) > 0).float()  # [3, C, K]
        nt = true.sum(0)  # [C, K] true literals per clause
        # true literals of ci[j]'s variable in its clause
        tv = torch.einsum('jkc,kcs->jcs', same, true)
        # flipping ci[j]: the clause is satisfied afterwards iff another
        # variable's literal is true or one of ci[j]'s own is false now
        after = ((nt.unsqueeze(0) - tv) > 0) | (occ - tv > 0)
        delta = after.float() - (nt > 0).float().unsqueeze(0)
        gain = scatter(delta[for_first.expand_as(delta)].view(
            -1, S.size(1)), flat, 0, dim_size=n, reduce='sum')
        if not bool((gain > 0).any()):
            break
        g = gain + tie
        gmax = scatter(g, batch, 0, dim_size=b, reduce='max')
        flip = (gain > 0) & (g >= gmax[batch])
        flips += scatter(flip.sum(1), batch, 0, dim_size=b, reduce='sum')
        S = torch.where(flip, -S, S)
    S = S.view(-1) if squeeze else S
    if return_flips:
        return S, flips
    return S


def walksat_polish(data: Data, s: Tensor, max_flips: int | Tensor = 2000,
                   seed: int = 0, p_noise: float = 0.5,
                   return_flips: bool = False):
    """Run WalkSAT (:func:`pyg_ext.combopt.baselines.walksat`) from the
    assignment ``s`` on every graph of ``data``; returns the improved
    assignment (never worse).

    Args:
        max_flips: flip budget per graph (an int, or a ``[B]`` integer
            tensor with one budget per graph, e.g. a total budget minus
            the flips an earlier local search used).
        p_noise: WalkSAT's random-walk probability.
        return_flips: also return the flips made per graph (``[B]``,
            long).

    Raises:
        TypeError, ValueError: invalid clauses or ``s``, a negative
            ``max_flips`` (or one of the wrong shape), ``p_noise`` outside
            ``[0, 1]``.
    """
    import numpy as np

    _check(data, s, 's')
    if s.dim() != 1:
        raise ValueError(f's must be 1-D, got shape {tuple(s.shape)}')
    from pyg_ext.combopt.baselines import walksat
    batch, b = batch_of(data)
    if isinstance(max_flips, Tensor):
        check_tensor(max_flips, 'max_flips', dim=1)
        if max_flips.numel() != b or max_flips.is_floating_point() or \
                max_flips.dtype == torch.bool:
            raise ValueError(f'max_flips must be an int or an integer '
                             f'tensor of shape ({b},), got '
                             f'{max_flips.dtype} {tuple(max_flips.shape)}')
        if b and int(max_flips.min()) < 0:
            raise ValueError(f'max_flips must be >= 0, got '
                             f'{int(max_flips.min())}')
        budgets = [int(x) for x in max_flips.tolist()]
    else:
        budgets = [check_int(max_flips, 'max_flips', low=0)] * b
    p_noise = check_probability(p_noise, 'p_noise')
    check_bool(return_flips, 'return_flips')
    out = s.clone()
    used = torch.zeros(b, dtype=torch.long)
    ci = data.clause_index
    cb = batch[ci[0]]
    ptr = torch.zeros(b + 1, dtype=torch.long)
    ptr[1:] = torch.bincount(batch, minlength=b).cumsum(0)
    rng = np.random.default_rng(seed)
    for g in range(b):
        m = cb == g
        lo, hi = int(ptr[g]), int(ptr[g + 1])
        sub_ci = (ci[:, m] - lo).cpu().numpy()
        sub_sg = data.clause_sign[m].cpu().numpy()
        init = s[lo:hi].cpu().numpy().astype(int)
        best, _, f = walksat(sub_ci, sub_sg, hi - lo, max_flips=budgets[g],
                             p_noise=p_noise, init=init, rng=rng,
                             return_flips=True)
        out[lo:hi] = torch.as_tensor(best, dtype=out.dtype)
        used[g] = f
    if return_flips:
        return out, used
    return out


def to_bipartite(data: Data) -> HeteroData:
    """The variable-clause graph as ``HeteroData`` (``('variable', 'in',
    'clause')`` edges with ``sign`` attributes, plus the reverse).

    Raises:
        TypeError, ValueError: invalid clauses.
    """
    _check(data)
    ci, sg = data.clause_index, data.clause_sign
    C = ci.size(1)
    h = HeteroData()
    h['variable'].num_nodes = data.num_nodes
    h['clause'].num_nodes = C
    var = ci.t().reshape(-1)
    cl = torch.arange(C).repeat_interleave(ci.size(0))
    h['variable', 'in', 'clause'].edge_index = torch.stack([var, cl])
    h['variable', 'in', 'clause'].sign = sg.reshape(-1)
    h['clause', 'has', 'variable'].edge_index = torch.stack([cl, var])
    h['clause', 'has', 'variable'].sign = sg.reshape(-1)
    return h


class Max3Sat:
    """Max-3-SAT as an OptGNN problem (minimise unsatisfied clauses; fixed
    vector ``e1``).

    Args:
        normalize: divide each graph's loss by its number of clauses.
        ls_iters: iterations of :func:`sat_local_search` in :meth:`improve`.
    """

    name = 'max3sat'
    sense = 'min'
    uses_e1 = True

    def __init__(self, normalize: bool = True, ls_iters: int = 1000) -> None:
        if not isinstance(normalize, bool):
            raise TypeError(f'normalize must be a bool, got '
                            f'{type(normalize).__name__}')
        self.normalize = normalize
        self.ls_iters = check_int(ls_iters, 'ls_iters', low=0)

    def __repr__(self) -> str:
        return f'Max3Sat(normalize={self.normalize}, ls_iters={self.ls_iters})'

    def relaxation(self, data: Data, V: Tensor) -> Tensor:
        return unsat_relaxation(data, V)

    def loss(self, data: Data, V: Tensor) -> Tensor:
        val = unsat_relaxation(data, V)
        if self.normalize:
            val = val / num_clauses(data).clamp(min=1)
        return val.mean()

    def direction(self, data: Data, V: Tensor) -> Tensor:
        """Descent direction: minus the gradient of the relaxation, a
        variable -> clause -> variable message pass.

        Raises:
            TypeError, ValueError: invalid clauses or ``V`` not a finite
                floating ``[N, r]`` tensor.
        """
        if not torch.compiler.is_compiling():
            _check(data, V, 'V')
            check_tensor(V, 'V', dim=2, floating=True)
        return self._direction(data, V)

    def _direction(self, data: Data, V: Tensor) -> Tensor:
        """:meth:`direction` without validation (``OptGNN`` validates once
        per forward, not once per layer)."""
        ci, sg = _clauses(data)
        T = sg.t()  # [3, C]
        Vc = V[ci]  # [3, C, r]
        x = Vc[..., 0]
        ssum = (T.unsqueeze(-1) * Vc).sum(0)  # [C, r]
        t3 = T.prod(0)
        grads = []
        for a in range(3):
            o1, o2 = [c for c in range(3) if c != a]
            g = T[a].unsqueeze(-1) * (ssum - T[a].unsqueeze(-1) * Vc[a])
            coef = -T[a] - t3 * x[o1] * x[o2]
            g = torch.cat([g[:, :1] + coef.unsqueeze(-1), g[:, 1:]], dim=1)
            grads.append(g / 8)
        G = torch.cat(grads, 0)  # [3C, r]
        agg = scatter(G, ci.reshape(-1), 0, dim_size=V.size(0),
                      reduce='sum')
        return -agg

    def score(self, data: Data, S: Tensor) -> Tensor:
        return unsat_count(data, S)

    def objective(self, data: Data, S: Tensor) -> Tensor:
        return unsat_count(data, S)

    def repair(self, data: Data, S: Tensor, V: Tensor | None = None
               ) -> Tensor:
        return S

    def improve(self, data: Data, S: Tensor) -> Tensor:
        return sat_local_search(data, S, self.ls_iters)


# --- pair-variable program (the paper's / reference code's SDP) -------------

_PAIR_KEYS = ('pair_index', 'lin_index', 'lin_weight', 'quad_index',
              'quad_weight', 'c3_index', 'c4_index', 'sat_const', 'is_pair')


def sat_pair_graph(data: Data) -> Data:
    """Compile a Max-3-SAT instance into the pair-variable vector program.

    Nodes ``0 .. n-1`` are the variables, ``n ..`` one node per unordered
    pair of variables that share a clause (first appearance order). The
    returned ``Data`` keeps ``clause_index`` / ``clause_sign`` (so
    :func:`unsat_count` works on it) and adds, all batchable:

    * ``pair_index [3, P]``: (pair node, i, j) with ``i < j``;
    * ``lin_index [L]`` / ``lin_weight [L]``: terms ``w <x_a, e1>``;
    * ``quad_index [2, Q]`` / ``quad_weight [Q]``: terms ``w <x_a, x_b>``;
    * ``c3_index [3, K3]``: residuals ``<x_a, e1> - <x_b, x_c>``;
    * ``c4_index [4, K4]``: residuals ``<x_a, x_b> - <x_c, x_d>``;
    * ``sat_const [1]``: the constant ``7/8`` per clause; ``is_pair [N]``.

    Constraints are listed per clause, as the reference code does (a pair
    shared by several clauses repeats its constraints).

    Raises:
        TypeError, ValueError: invalid clauses (:func:`check_clauses`) or a
            clause with a repeated variable (the program needs three
            distinct variables per clause).
    """
    import numpy as np

    n = check_clauses(data)
    ci = data.clause_index.t().cpu().numpy().astype(np.int64)  # [C, 3]
    sg = data.clause_sign.cpu().numpy().astype(np.float64)  # [C, 3]
    C = ci.shape[0]
    order = np.argsort(ci, axis=1, kind='stable')
    cl = np.take_along_axis(ci, order, 1)
    tau = np.take_along_axis(sg, order, 1)
    if C and bool(((cl[:, 0] == cl[:, 1]) | (cl[:, 1] == cl[:, 2])).any()):
        raise ValueError('data.clause_index has a clause with a repeated '
                         'variable; the pair-variable program needs three '
                         'distinct variables per clause')
    i, j, k = cl[:, 0], cl[:, 1], cl[:, 2]
    keys = np.stack([i * n + j, i * n + k, j * n + k], 1).reshape(-1)
    uniq, first, inv = np.unique(keys, return_index=True,
                                 return_inverse=True)
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[np.argsort(first, kind='stable')] = np.arange(len(uniq))
    pid = (n + rank[inv]).reshape(C, 3)
    pij, pik, pjk = pid[:, 0], pid[:, 1], pid[:, 2]
    P = len(uniq)
    pair_nodes = n + rank
    pair_index = np.stack([pair_nodes, uniq // max(n, 1),
                           uniq % max(n, 1)])
    t3 = tau.prod(1)
    lin_index = np.concatenate([i, j, k])
    lin_weight = np.concatenate([tau[:, 0], tau[:, 1], tau[:, 2]]) / 8
    qa = np.concatenate([i, i, j, k, j, i])
    qb = np.concatenate([j, k, k, pij, pik, pjk])
    qw = np.concatenate([-tau[:, 0] * tau[:, 1] / 8,
                         -tau[:, 0] * tau[:, 2] / 8,
                         -tau[:, 1] * tau[:, 2] / 8,
                         t3 / 24, t3 / 24, t3 / 24])
    c3 = np.stack([np.stack(r, 1) for r in (
        (pij, i, j), (pjk, j, k), (pik, i, k),
        (j, i, pij), (i, j, pij), (k, i, pik), (i, k, pik),
        (k, j, pjk), (j, k, pjk))], 1).reshape(-1, 3).T
    c4 = np.stack([np.stack(r, 1) for r in (
        (i, pjk, j, pik), (j, pik, k, pij), (i, pjk, k, pij),
        (i, k, pij, pjk), (i, j, pik, pjk), (j, k, pij, pik))],
        1).reshape(-1, 4).T
    N = n + P
    is_pair = torch.zeros(N, dtype=torch.bool)
    is_pair[n:] = True

    def lt(a: Any) -> Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.long)

    def ft(a: Any) -> Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float)

    return Data(num_nodes=N, clause_index=data.clause_index.clone(),
                clause_sign=data.clause_sign.clone(),
                pair_index=lt(pair_index).view(3, P),
                lin_index=lt(lin_index), lin_weight=ft(lin_weight),
                quad_index=lt(np.stack([qa, qb])).view(2, -1),
                quad_weight=ft(qw), c3_index=lt(c3).view(3, -1),
                c4_index=lt(c4).view(4, -1),
                sat_const=torch.tensor([7.0 / 8.0 * C]), is_pair=is_pair)


def check_pair_graph(data: Any, name: str = 'data') -> int:
    """Validate a :func:`sat_pair_graph` instance; return its node count.

    Raises:
        TypeError, ValueError: invalid clauses, a missing pair attribute
            (build the instance with :func:`sat_pair_graph`), wrong shapes or
            ids outside ``[0, num_nodes)``.
    """
    N = check_clauses(data, name)
    missing = [k for k in _PAIR_KEYS if getattr(data, k, None) is None]
    if missing:
        raise ValueError(f'{name} lacks {", ".join(missing)}: build it with '
                         f'sat_pair_graph() (pair-variable Max-3-SAT)')
    for key, rows in (('pair_index', 3), ('quad_index', 2),
                      ('c3_index', 3), ('c4_index', 4)):
        check_index(getattr(data, key), f'{name}.{key}', N, dim=2)
        if getattr(data, key).size(0) != rows:
            raise ValueError(f'{name}.{key} must have {rows} rows, got '
                             f'{getattr(data, key).size(0)}')
    check_index(data.lin_index, f'{name}.lin_index', N, dim=1)
    for key, ref in (('lin_weight', 'lin_index'),
                     ('quad_weight', 'quad_index')):
        w = getattr(data, key)
        check_tensor(w, f'{name}.{key}', dim=1, floating=True)
        if w.numel() != getattr(data, ref).size(-1):
            raise ValueError(f'{name}.{key} must have one entry per '
                             f'{ref} column')
    if data.is_pair.numel() != N:
        raise ValueError(f'{name}.is_pair has {data.is_pair.numel()} '
                         f'entries for {N} nodes')
    return N


def _pair_terms(data: Data, V: Tensor) -> tuple[Tensor, Tensor]:
    """Per-graph relaxed satisfied clauses and squared-residual sums / 4."""
    batch, b = batch_of(data)
    li, qi = data.lin_index, data.quad_index
    val = scatter(data.lin_weight.to(V.dtype) * V[li, 0], batch[li], 0,
                  dim_size=b, reduce='sum')
    q = data.quad_weight.to(V.dtype) * (V[qi[0]] * V[qi[1]]).sum(-1)
    val = val + scatter(q, batch[qi[0]], 0, dim_size=b, reduce='sum')
    val = val + data.sat_const.to(V.dtype).view(-1)
    c3, c4 = data.c3_index, data.c4_index
    r3 = V[c3[0], 0] - (V[c3[1]] * V[c3[2]]).sum(-1)
    r4 = (V[c4[0]] * V[c4[1]] - V[c4[2]] * V[c4[3]]).sum(-1)
    pen = scatter(r3 * r3, batch[c3[0]], 0, dim_size=b, reduce='sum') + \
        scatter(r4 * r4, batch[c4[0]], 0, dim_size=b, reduce='sum')
    return val, pen / 4


def _pair_grad(data: Data, V: Tensor, penalty: float) -> Tensor:
    """Gradient of ``sum(-satisfied + penalty * residuals / 4)`` in closed
    form."""
    N = V.size(0)
    li, qi = data.lin_index, data.quad_index
    c3, c4 = data.c3_index, data.c4_index
    dt = V.dtype
    lw = data.lin_weight.to(dt)
    qw = data.quad_weight.to(dt).view(-1, 1)
    r3 = V[c3[0], 0] - (V[c3[1]] * V[c3[2]]).sum(-1)
    r4 = (V[c4[0]] * V[c4[1]] - V[c4[2]] * V[c4[3]]).sum(-1)
    h = penalty / 2  # d(penalty * r^2 / 4) = (penalty / 2) r dr
    a3 = (h * r3).view(-1, 1)
    a4 = (h * r4).view(-1, 1)
    G = V.new_zeros(N, V.size(1))
    for dst, val in ((qi[0], -qw * V[qi[1]]), (qi[1], -qw * V[qi[0]]),
                     (c3[1], -a3 * V[c3[2]]), (c3[2], -a3 * V[c3[1]]),
                     (c4[0], a4 * V[c4[1]]), (c4[1], a4 * V[c4[0]]),
                     (c4[2], -a4 * V[c4[3]]), (c4[3], -a4 * V[c4[2]])):
        G = G.index_add(0, dst, val)
    e = V.new_zeros(N).index_add(0, li, -lw).index_add(0, c3[0],
                                                       a3.view(-1))
    return torch.cat([G[:, :1] + e.view(-1, 1), G[:, 1:]], dim=1)


def _check_pair_v(data: Data, V: Tensor) -> None:
    if torch.compiler.is_compiling():
        return
    n = check_pair_graph(data)
    check_tensor(V, 'V', dim=2, floating=True)
    check_node_matrix(V, n, 'V')


def pair_sat_relaxation(data: Data, V: Tensor) -> Tensor:
    """Relaxed number of *satisfied* clauses of the pair-variable program
    per graph (equal to the satisfied count at a lifted assignment; its
    maximum over feasible ``V`` upper-bounds Max-3-SAT).

    Raises:
        TypeError, ValueError: invalid pair graph or ``V``.
    """
    _check_pair_v(data, V)
    return _pair_terms(data, V)[0]


def pair_constraint(data: Data, V: Tensor) -> Tensor:
    """Sum of squared consistency residuals / 4 per graph (0 exactly at
    feasible points, e.g. lifted assignments).

    Raises:
        TypeError, ValueError: invalid pair graph or ``V``.
    """
    _check_pair_v(data, V)
    return _pair_terms(data, V)[1]


def lift_assignment(data: Data, s: Tensor, rank: int = 1) -> Tensor:
    """The feasible point of an assignment ``s`` (``[n]`` ±1 over the
    variables): ``x_i = s_i e1``, ``x_ij = s_i s_j e1``; ``[N, rank]``.

    Raises:
        TypeError, ValueError: invalid pair graph, ``s`` not ±1 of length
            ``n`` (the number of variable nodes), ``rank < 1``.
    """
    from pyg_ext.utils.validation import check_positive_int
    N = check_pair_graph(data)
    rank = check_positive_int(rank, 'rank')
    n = int((~data.is_pair).sum())
    check_tensor(s, 's', dim=1)
    if s.numel() != n:
        raise ValueError(f's must have {n} entries (variables), got '
                         f'{s.numel()}')
    check_signs(s, 's')
    x = torch.zeros(N)
    x[:n] = s.float()
    pi = data.pair_index
    x[pi[0]] = x[pi[1]] * x[pi[2]]
    V = torch.zeros(N, rank)
    V[:, 0] = x
    return V


class Max3SatPairs:
    """Max-3-SAT through the pair-variable vector program (the paper's and
    the reference code's formulation; instances from
    :func:`sat_pair_graph`). Minimises unsatisfied clauses (``sense
    'min'``); :meth:`relaxation` is the number of clauses minus the relaxed
    satisfied count.

    Args:
        penalty: weight ``rho`` of the squared consistency residuals (the
            reference README's SAT example uses 0.003).
        normalize: divide each graph's :meth:`loss` by its clause count
            (:meth:`reference_loss` is the plain batch sum).
        ls_iters: iterations of :func:`sat_local_search` in :meth:`improve`.
    """

    name = 'max3sat_pairs'
    sense = 'min'
    uses_e1 = True

    def __init__(self, penalty: float = 0.003, normalize: bool = True,
                 ls_iters: int = 1000) -> None:
        from pyg_ext.utils.validation import check_real
        self.penalty = check_real(penalty, 'penalty', low=0.0)
        if not isinstance(normalize, bool):
            raise TypeError(f'normalize must be a bool, got '
                            f'{type(normalize).__name__}')
        self.normalize = normalize
        self.ls_iters = check_int(ls_iters, 'ls_iters', low=0)

    def __repr__(self) -> str:
        return f'Max3SatPairs(penalty={self.penalty})'

    def relaxation(self, data: Data, V: Tensor) -> Tensor:
        return num_clauses(data) - pair_sat_relaxation(data, V)

    def penalised(self, data: Data, V: Tensor) -> Tensor:
        """``-satisfied + penalty * residuals`` per graph."""
        _check_pair_v(data, V)
        val, pen = _pair_terms(data, V)
        return -val + self.penalty * pen

    def loss(self, data: Data, V: Tensor) -> Tensor:
        val, pen = _pair_terms(data, V)
        loss = -val + self.penalty * pen
        if self.normalize:
            loss = loss / num_clauses(data).clamp(min=1)
        return loss.mean()

    def reference_loss(self, data: Data, V: Tensor) -> Tensor:
        """The reference code's loss summed over the batch."""
        val, pen = _pair_terms(data, V)
        return (-val + self.penalty * pen).sum()

    def reference_grad(self, data: Data, V: Tensor) -> Tensor:
        """Closed-form gradient of :meth:`reference_loss` with respect to
        ``V`` (no nested autograd: one gather/scatter per term)."""
        return _pair_grad(data, V, self.penalty)

    def direction(self, data: Data, V: Tensor) -> Tensor:
        """Minus the gradient of :meth:`reference_loss`.

        Raises:
            TypeError, ValueError: invalid pair graph or ``V``.
        """
        _check_pair_v(data, V)
        return self._direction(data, V)

    def _direction(self, data: Data, V: Tensor) -> Tensor:
        return -_pair_grad(data, V, self.penalty)

    def score(self, data: Data, S: Tensor) -> Tensor:
        """Unsatisfied clauses of the variable nodes' signs (pair signs are
        recomputed from them, so the reference's penalised score is the
        satisfied count)."""
        return unsat_count(data, S)

    def objective(self, data: Data, S: Tensor) -> Tensor:
        return unsat_count(data, S)

    def repair(self, data: Data, S: Tensor, V: Tensor | None = None
               ) -> Tensor:
        return S

    def improve(self, data: Data, S: Tensor) -> Tensor:
        return sat_local_search(data, S, self.ls_iters)


__all__ = [
    'Max3Sat',
    'Max3SatPairs',
    'check_pair_graph',
    'lift_assignment',
    'pair_constraint',
    'pair_sat_relaxation',
    'sat_pair_graph',
    'check_clauses',
    'num_clauses',
    'sat_local_search',
    'to_bipartite',
    'unsat_count',
    'unsat_relaxation',
    'walksat_polish',
]
