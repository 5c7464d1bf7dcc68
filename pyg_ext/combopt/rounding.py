"""Random-hyperplane rounding (batched) and the decode pipeline.

:func:`hyperplane_signs` turns node vectors ``V [N, r]`` into ``K`` sign
candidates at once (``S = sign(V H)``, ``H [r, K]`` Gaussian); problems with a
fixed unit vector ``e1`` (vertex cover, Max-3-SAT) align each hyperplane with
it, ``s_i = sign<h, v_i> * sign<h, e1>``, as Goemans-Williamson-style rounding
for those relaxations requires (the reference OptGNN code omits this). The
same hyperplanes serve every graph of a batch; the best candidate is chosen per
graph.

:func:`decode` is the whole inference post-processing: round, repair (vertex
cover), keep the ``top_k`` candidates per graph, improve them by local search
and return the best. Every stage's objective can be reported separately.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import scatter

from pyg_ext.combopt.maxcut import batch_of, check_node_matrix
from pyg_ext.utils.validation import (
    check_bool,
    check_choice,
    check_index,
    check_int,
    check_positive_int,
    check_real,
    check_tensor,
)

_DECODE_METHODS = ('repair', 'score', 'objective', 'improve')


def _resolve_problem(problem: Any) -> Any:
    """A problem object from a name (:func:`get_problem`) or the object
    itself, checked for what :func:`decode` uses."""
    if isinstance(problem, str):
        from pyg_ext.combopt.problems import get_problem
        return get_problem(problem)
    missing = [m for m in _DECODE_METHODS
               if not callable(getattr(problem, m, None))]
    if missing or not hasattr(problem, 'sense') or \
            not hasattr(problem, 'uses_e1'):
        raise TypeError(f'problem must be a problem name or object (with '
                        f'{", ".join(_DECODE_METHODS)}, sense and uses_e1), '
                        f'got {type(problem).__name__}')
    return problem


def hyperplane_signs(V: Tensor, num_hyperplanes: int = 256,
                     align_e1: bool = False,
                     generator: torch.Generator | None = None,
                     thresholds: Tensor | None = None) -> Tensor:
    """``K`` random-hyperplane roundings of the rows of ``V``: ``[N, K]``
    entries ±1 (a zero projection rounds to +1).

    Args:
        align_e1: multiply each column by ``sign(h_1)`` (rounding relative to
            the fixed vector ``e1``, coordinate 0).
        thresholds: optional extra candidates ``sign(v_i1 - t)`` for each
            threshold ``t`` (threshold rounding on the ``e1`` coordinate).

    Raises:
        TypeError, ValueError: ``V`` not a finite floating ``[N, r]`` tensor
            with ``r >= 1``, ``num_hyperplanes < 1``.
    """
    check_tensor(V, 'V', dim=2, floating=True)
    check_node_matrix(V, V.size(0), 'V')
    if V.size(1) < 1:
        raise ValueError('V must have at least one column')
    num_hyperplanes = check_positive_int(num_hyperplanes, 'num_hyperplanes')
    if thresholds is not None:
        check_tensor(thresholds, 'thresholds', dim=1, floating=True)
    H = torch.randn(V.size(1), num_hyperplanes, generator=generator,
                    dtype=V.dtype).to(V.device)
    P = V @ H
    if align_e1:
        P = P * torch.where(H[0] >= 0, 1.0, -1.0).to(V.dtype)
    S = torch.where(P >= 0, 1.0, -1.0).to(V.dtype)
    if thresholds is not None:
        T = torch.where(V[:, :1] >= thresholds.view(1, -1).to(V), 1.0, -1.0)
        S = torch.cat([S, T.to(V.dtype)], dim=1)
    return S


def top_k_per_graph(data: Data, S: Tensor, scores: Tensor, k: int,
                    sense: str = 'max') -> Tensor:
    """Columns of ``S`` with the ``k`` best ``scores`` (``[B, K]``) per graph,
    gathered per node: ``[N, k]``.

    Raises:
        TypeError, ValueError: ``k < 1``, ``sense`` not ``'max'`` / ``'min'``,
            shapes that do not match or NaN ``scores`` (the pick would be
            arbitrary).
    """
    k = check_positive_int(k, 'k')
    check_choice(sense, 'sense', ('max', 'min'))
    check_tensor(S, 'S', dim=2)
    check_tensor(scores, 'scores', dim=2)
    batch, b = batch_of(data)
    if S.size(0) != batch.numel():
        raise ValueError(f'S has {S.size(0)} rows for {batch.numel()} '
                         f'nodes')
    if tuple(scores.shape) != (b, S.size(1)):
        raise ValueError(f'scores must have shape {(b, S.size(1))} '
                         f'([num_graphs, K]), got {tuple(scores.shape)}')
    if scores.is_floating_point() and bool(torch.isnan(scores).any()):
        raise ValueError('scores contains NaN: cannot rank the candidates')
    k = min(k, S.size(1))
    idx = scores.topk(k, dim=1, largest=(sense == 'max')).indices  # [B, k]
    return S.gather(1, idx[batch])


def best_per_graph(data: Data, S: Tensor, scores: Tensor, sense: str = 'max'
                   ) -> Tensor:
    """The best column of ``S`` for every graph: ``[N]``.

    Raises:
        TypeError, ValueError: as :func:`top_k_per_graph`.
    """
    return top_k_per_graph(data, S, scores, 1, sense).view(-1)


def decode(problem: Any, data: Data, V: Tensor, num_hyperplanes: int = 256,
           top_k: int = 8, improve: bool = True,
           generator: torch.Generator | None = None, max_repair: int = 32,
           align_e1: bool | None = None, local_search: str = 'greedy',
           ls_time: float = 1.0, ls_seed: int = 0
           ) -> tuple[Tensor, dict[str, Tensor]]:
    """Round ``V`` and post-process: hyperplanes (best of
    ``num_hyperplanes``), feasibility repair (vertex cover), local search on
    the ``top_k`` candidates per graph. Problems with a ``prescore`` (vertex
    cover) repair only the ``max_repair`` best candidates by that score.

    Args:
        problem: a problem object or name (``'maxcut'``, ...; resolved by
            :func:`~pyg_ext.combopt.problems.get_problem`, as
            :class:`~pyg_ext.nn.OptGNN` does).
        align_e1: align the hyperplanes with ``e1`` and add threshold
            candidates (default: when the problem uses ``e1``); ``False``
            rounds ``sign<h, v_i>`` as the reference code does.
        local_search: ``'greedy'`` (the problem's own descent on the
            ``top_k`` candidates, default) or, Max-Cut only, ``'anneal'`` /
            ``'tabu'``: after the greedy stage, the best cut is improved by
            warm-started annealing / tabu search for ``ls_time`` CPU seconds
            per graph (:func:`pyg_ext.combopt.baselines.maxcut_polish`), so
            OptGNN + local search can be given the same time as a baseline.
        ls_time: CPU seconds per graph of the ``'anneal'`` / ``'tabu'``
            stage.
        ls_seed: seed of that stage.

    Returns:
        ``(solution [N] (±1), stages)`` where ``stages`` maps
        ``'rounded'`` (best rounding, after repair where the problem needs
        one, before local search) and ``'improved'`` to per-graph objectives in
        true units.

    Raises:
        TypeError, ValueError: an unknown ``problem`` name or an object
            without the problem methods, bad ``V`` or a count
            (``num_hyperplanes``, ``top_k``, ``max_repair``) below 1, an
            unknown ``local_search`` (or ``'anneal'`` / ``'tabu'`` for a
            problem other than Max-Cut), ``ls_time <= 0``.
    """
    problem = _resolve_problem(problem)
    check_choice(local_search, 'local_search', ('greedy', 'anneal', 'tabu'))
    if local_search != 'greedy':
        if getattr(problem, 'name', None) != 'maxcut':
            raise ValueError(f"local_search={local_search!r} is only "
                             f"available for Max-Cut, not "
                             f"{getattr(problem, 'name', problem)!r}")
        ls_time = check_real(ls_time, 'ls_time', low=0.0, low_open=True)
        ls_seed = check_int(ls_seed, 'ls_seed')
    top_k = check_positive_int(top_k, 'top_k')
    max_repair = check_positive_int(max_repair, 'max_repair')
    if align_e1 is None:
        align_e1 = bool(problem.uses_e1)
    check_bool(align_e1, 'align_e1')
    thresholds = None
    if align_e1 and problem.uses_e1:
        thresholds = torch.linspace(-0.9, 0.9, 19)
    S = hyperplane_signs(V, num_hyperplanes, align_e1=align_e1,
                         generator=generator, thresholds=thresholds)
    prescore = getattr(problem, 'prescore', None)
    if prescore is not None and S.size(1) > max_repair:
        # repair is the costly step: keep the candidates that look best
        # before it (e.g. cover weight + uncovered edges)
        S = top_k_per_graph(data, S, prescore(data, S), max_repair,
                            problem.sense)
    S = problem.repair(data, S, V)
    scores = problem.score(data, S)
    best = best_per_graph(data, S, scores, problem.sense)
    stages = {'rounded': problem.objective(data, best)}
    if not improve:
        stages['improved'] = stages['rounded']
        return best, stages
    cand = top_k_per_graph(data, S, scores, top_k, problem.sense)
    cand = problem.improve(data, cand)
    sc = problem.score(data, cand)
    best = best_per_graph(data, cand, sc, problem.sense)
    if local_search != 'greedy':
        from pyg_ext.combopt.baselines import maxcut_polish
        stages['greedy'] = problem.objective(data, best)
        best = maxcut_polish(data, best.detach().cpu(), local_search,
                             ls_time, ls_seed).to(best)
    stages['improved'] = problem.objective(data, best)
    return best, stages


def per_graph_sum(data: Data, x: Tensor) -> Tensor:
    """Sum of a node vector (``[N]`` or ``[N, K]``) per graph:
    ``[num_graphs]`` or ``[num_graphs, K]``.

    Raises:
        TypeError, ValueError: ``data`` not a ``Data`` or its ``batch`` not
            a ``[num_nodes]`` vector of graph ids, ``x`` not a ``[N]`` or
            ``[N, K]`` tensor with one row per node.
    """
    if not isinstance(data, Data):
        raise TypeError(f'data must be a torch_geometric.data.Data, got '
                        f'{type(data).__name__}')
    check_tensor(x, 'x', dim=(1, 2))
    batch, b = batch_of(data)
    if x.size(0) != batch.numel():
        raise ValueError(f'x has {x.size(0)} rows for {batch.numel()} '
                         f'nodes')
    check_index(batch, 'data.batch', b)
    return scatter(x, batch, 0, dim_size=b, reduce='sum')


__all__ = [
    'best_per_graph',
    'decode',
    'hyperplane_signs',
    'per_graph_sum',
    'top_k_per_graph',
]
