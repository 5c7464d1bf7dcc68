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
(``v_a = ±e1``). This is a simplification of the paper's SDP, which adds pair
variables ``x_ab`` and consistency constraints; message passing runs
variable -> clause -> variable.
"""

from __future__ import annotations

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
from pyg_ext.utils.validation import check_index, check_int, check_tensor


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


def sat_local_search(data: Data, S: Tensor, max_iter: int = 1000) -> Tensor:
    """Greedy (GSAT without sideways moves) on ``[N, K]`` assignments: per
    graph and column, flip the variable with the largest ``make - break``
    while it is positive.

    Raises:
        TypeError, ValueError: invalid clauses or ``S``, ``max_iter < 0``.
    """
    _check(data, S)
    max_iter = check_int(max_iter, 'max_iter', low=0)
    S = S.clone().float()
    squeeze = S.dim() == 1
    if squeeze:
        S = S.view(-1, 1)
    batch, b = batch_of(data)
    ci, sg = _clauses(data)
    T = sg.t().unsqueeze(-1)  # [3, C, 1]
    n = S.size(0)
    tie = torch.rand(n, 1, device=S.device) * 1e-3
    flat = ci.reshape(-1)
    for _ in range(max_iter):
        true = (T * S[ci]) > 0  # [3, C, K]
        nt = true.sum(0)  # [C, K]
        make = scatter((nt == 0).unsqueeze(0).expand_as(true).reshape(
            -1, S.size(1)).float(), flat, 0, dim_size=n, reduce='sum')
        brk = scatter((true & (nt == 1).unsqueeze(0)).reshape(
            -1, S.size(1)).float(), flat, 0, dim_size=n, reduce='sum')
        gain = make - brk
        if not bool((gain > 0).any()):
            break
        g = gain + tie
        gmax = scatter(g, batch, 0, dim_size=b, reduce='max')
        flip = (gain > 0) & (g >= gmax[batch])
        S = torch.where(flip, -S, S)
    return S.view(-1) if squeeze else S


def walksat_polish(data: Data, s: Tensor, max_flips: int = 2000,
                   seed: int = 0) -> Tensor:
    """Run WalkSAT (:func:`pyg_ext.combopt.baselines.walksat`) from the
    assignment ``s`` on every graph of ``data``; returns the improved
    assignment (never worse).

    Raises:
        TypeError, ValueError: invalid clauses or ``s``, ``max_flips < 0``.
    """
    import numpy as np

    _check(data, s, 's')
    if s.dim() != 1:
        raise ValueError(f's must be 1-D, got shape {tuple(s.shape)}')
    max_flips = check_int(max_flips, 'max_flips', low=0)
    from pyg_ext.combopt.baselines import walksat
    batch, b = batch_of(data)
    out = s.clone()
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
        best, _ = walksat(sub_ci, sub_sg, hi - lo, max_flips=max_flips,
                          init=init, rng=rng)
        out[lo:hi] = torch.as_tensor(best, dtype=out.dtype)
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


__all__ = [
    'Max3Sat',
    'check_clauses',
    'num_clauses',
    'sat_local_search',
    'to_bipartite',
    'unsat_count',
    'unsat_relaxation',
    'walksat_polish',
]
