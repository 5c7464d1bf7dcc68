r"""OptGNN: message passing derived from the low-rank SDP relaxation.

Yau, Karalias, Lu, Xu & Jegelka, "Are Graph Neural Networks Optimal
Approximation Algorithms?" (NeurIPS 2024, `arXiv:2310.00526
<https://arxiv.org/abs/2310.00526>`_).

Every node carries a unit vector :math:`\mathbf{v}_i \in \mathbb{R}^r` (the
Burer-Monteiro factor of the SDP). Layer :math:`t` takes the descent direction
of the penalised relaxation objective with respect to the node vectors
(:math:`\mathbf{g}_i = -\sum_{j \in \mathcal{N}(i)} w_{ij}\mathbf{v}_j` for
Max-Cut: one sum aggregation) and mixes it with the current vectors through
learned weights:

.. math::
    \mathbf{v}_i^{(t+1)} = \mathrm{normalize}\Big(\mathbf{W}^{(t)}
    \big[\mathbf{v}_i^{(t)} \,\Vert\, \mathrm{normalize}(\mathbf{g}_i^{(t)})
    \big]\Big), \qquad \mathbf{W}^{(t)} \in \mathbb{R}^{r \times 2r}.

With :math:`\mathbf{W} = [\mathbf{I}, \eta\mathbf{I}]` a layer is one step of
projected gradient descent on the relaxation, which is how the weights are
initialised; training (unsupervised, on the penalised objective itself) learns
per-layer step sizes and mixing. The problem object (``MaxCut``,
``VertexCover``, ``Max3Sat`` from :mod:`pyg_ext.combopt`, or any object with
``direction(data, V)`` and ``loss(data, V)``) supplies the gradient messages.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from pyg_ext.utils.validation import (
    check_bool,
    check_finite,
    check_positive_int,
    check_real,
    check_tensor,
)

_PROBLEM_METHODS = ('direction', 'loss', 'relaxation', 'score', 'objective',
                    'repair', 'improve')


def _resolve_problem(problem: Any) -> Any:
    if isinstance(problem, str):
        from pyg_ext.combopt.problems import get_problem
        return get_problem(problem)
    missing = [m for m in _PROBLEM_METHODS
               if not callable(getattr(problem, m, None))]
    if missing or not hasattr(problem, 'sense'):
        raise TypeError(f'problem must be a problem name or object (with '
                        f'{", ".join(_PROBLEM_METHODS)} and sense), got '
                        f'{type(problem).__name__}')
    return problem


def _check_data(problem: Any, data: Any) -> int:
    """Validate ``data`` for ``problem``; return the number of nodes."""
    if getattr(problem, 'name', None) == 'max3sat':
        from pyg_ext.combopt.max3sat import check_clauses
        return check_clauses(data)
    from pyg_ext.combopt.maxcut import check_graph_data
    return check_graph_data(data, node_weight=True)


class OptGNNLayer(torch.nn.Module):
    r"""One OptGNN layer: :math:`\mathbf{V}' = \mathrm{normalize}(
    [\mathbf{V}, \mathrm{normalize}(\mathbf{G})]\,\mathbf{W}^\top)`.

    Args:
        rank: the vector dimension :math:`r`.
        step: the initial step :math:`\eta` (``W = [I, step I]`` at reset).
        normalize_direction: normalise the rows of ``G`` (the paper's
            choice); with ``False`` the problem's (preconditioned) direction
            enters unscaled, so its length acts as a per-node step.
        init_noise: standard deviation of the noise added to that
            initialisation (so different layers can specialise).
    """

    def __init__(self, rank: int, step: float = 1.0,
                 init_noise: float = 0.01,
                 normalize_direction: bool = True) -> None:
        super().__init__()
        rank = check_positive_int(rank, 'rank')
        step = check_real(step, 'step')
        init_noise = check_real(init_noise, 'init_noise', low=0.0)
        check_bool(normalize_direction, 'normalize_direction')
        self.rank = rank
        self.step = step
        self.normalize_direction = normalize_direction
        self.init_noise = init_noise
        self.lin = torch.nn.Linear(2 * rank, rank, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        eye = torch.eye(self.rank)
        with torch.no_grad():
            w = torch.cat([eye, self.step * eye], dim=1)
            w += self.init_noise * torch.randn_like(w)
            self.lin.weight.copy_(w)

    def forward(self, V: Tensor, G: Tensor) -> Tensor:
        """``V`` current unit vectors ``[N, r]``, ``G`` the descent direction
        ``[N, r]``; returns new unit vectors.

        Raises:
            TypeError, ValueError: ``V`` or ``G`` not floating ``[N, rank]``
                tensors of one shape.
        """
        if not torch.compiler.is_compiling():
            check_tensor(V, 'V', dim=2, floating=True)
            check_tensor(G, 'G', dim=2, floating=True)
            if V.size(1) != self.rank:
                raise ValueError(f'V must have {self.rank} columns (rank), '
                                 f'got {V.size(1)}')
            if G.shape != V.shape:
                raise ValueError(f'G must have the shape of V '
                                 f'{tuple(V.shape)}, got {tuple(G.shape)}')
        if self.normalize_direction:
            G = F.normalize(G, dim=-1)
        h = self.lin(torch.cat([V, G], dim=-1))
        return F.normalize(h, dim=-1)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(rank={self.rank})'


class OptGNN(torch.nn.Module):
    r"""The OptGNN model: ``num_layers`` :class:`OptGNNLayer` s over a problem's
    relaxation, from random unit vectors (or given ones).

    Works on single graphs and on PyG batches (``data.batch``); the output
    rows are unit vectors (``V[:, 0]`` is the coordinate along the fixed
    vector ``e1`` for problems that use one).

    Args:
        problem: a problem object or name (``'maxcut'``, ``'vertex_cover'``,
            ``'max3sat'``).
        rank: vector dimension :math:`r`.
        num_layers: depth (number of unrolled steps).
        shared: share one layer across all steps.
        step: initial step of every layer.
        normalize_direction: see :class:`OptGNNLayer`.

    Example::

        model = OptGNN('maxcut', rank=16, num_layers=16)
        V = model(batch)                       # [N, 16] unit rows
        loss = model.problem.loss(batch, V)    # unsupervised
        sol, stages = model.solve(batch)       # rounded +-1 per node
    """

    def __init__(self, problem: Any, rank: int = 16, num_layers: int = 16,
                 shared: bool = False, step: float = 1.0,
                 normalize_direction: bool = True) -> None:
        super().__init__()
        num_layers = check_positive_int(num_layers, 'num_layers')
        rank = check_positive_int(rank, 'rank')
        check_bool(shared, 'shared')
        self.problem = _resolve_problem(problem)
        self.rank = rank
        self.num_layers = num_layers
        self.shared = shared
        self.step = step
        self.normalize_direction = normalize_direction
        n_mods = 1 if shared else num_layers
        self.layers = torch.nn.ModuleList(
            [OptGNNLayer(rank, step, normalize_direction=normalize_direction)
             for _ in range(n_mods)])

    def reset_parameters(self) -> None:
        for layer in self.layers:
            layer.reset_parameters()

    @property
    def config(self) -> dict[str, Any]:
        """Constructor arguments (for checkpoints)."""
        return {'problem': self.problem.name, 'rank': self.rank,
                'num_layers': self.num_layers, 'shared': self.shared,
                'step': self.step,
                'normalize_direction': self.normalize_direction}

    def init_vectors(self, data: Data,
                     generator: torch.Generator | None = None) -> Tensor:
        """Random unit vectors ``[N, r]`` (Gaussian, normalised).

        Raises:
            TypeError, ValueError: invalid ``data`` for the problem.
        """
        if not torch.compiler.is_compiling():
            _check_data(self.problem, data)
        ref = data.edge_index if 'edge_index' in data else data.clause_index
        V = torch.randn(data.num_nodes, self.rank, generator=generator)
        return F.normalize(V, dim=-1).to(ref.device)

    def forward(self, data: Data, V: Tensor | None = None,
                generator: torch.Generator | None = None) -> Tensor:
        """Run the layers from ``V`` (random when ``None``); returns ``[N, r]``
        unit vectors.

        Raises:
            TypeError, ValueError: invalid ``data`` for the problem (bad
                ``edge_index``, NaN weights, bad clauses, ...) or ``V`` not
                a finite ``[N, rank]`` floating tensor.
        """
        if not torch.compiler.is_compiling():
            n = _check_data(self.problem, data)
            if V is not None:
                check_tensor(V, 'V', dim=2, floating=True)
                if tuple(V.shape) != (n, self.rank):
                    raise ValueError(f'V must have shape {(n, self.rank)} '
                                     f'([num_nodes, rank]), got '
                                     f'{tuple(V.shape)}')
                check_finite(V, 'V')
        if V is None:
            V = self.init_vectors(data, generator)
        # ``data`` and ``V`` were validated above (and each layer checks
        # shapes): the built-in problems' unchecked direction avoids
        # repeating the data checks (host syncs) in every layer
        direction = getattr(self.problem, '_direction', None)
        if not callable(direction):
            direction = self.problem.direction
        for t in range(self.num_layers):
            layer = self.layers[0 if self.shared else t]
            V = layer(V, direction(data, V))
        return V

    def loss(self, data: Data, generator: torch.Generator | None = None
             ) -> Tensor:
        """The unsupervised training loss on ``data`` (fresh random start)."""
        return self.problem.loss(data, self(data, generator=generator))

    @torch.no_grad()
    def solve(self, data: Data, restarts: int = 4,
              num_hyperplanes: int = 256, top_k: int = 8,
              improve: bool = True,
              generator: torch.Generator | None = None
              ) -> tuple[Tensor, dict[str, Tensor]]:
        """Embed ``restarts`` times (fresh random starts), round each with
        ``num_hyperplanes`` hyperplanes, post-process (repair, local search)
        and keep the best per graph.

        Returns:
            ``(solution [N] of ±1, stages)``; ``stages`` holds per-graph
            objectives in true units: ``'relaxation'`` (best relaxation
            value), ``'rounded'`` (OptGNN + rounding, plus vertex-cover
            repair) and ``'improved'`` (after local search).

        Raises:
            TypeError, ValueError: invalid ``data``, ``restarts``,
                ``num_hyperplanes`` or ``top_k`` below 1, ``improve`` not a
                bool.
        """
        _check_data(self.problem, data)
        restarts = check_positive_int(restarts, 'restarts')
        num_hyperplanes = check_positive_int(num_hyperplanes,
                                             'num_hyperplanes')
        top_k = check_positive_int(top_k, 'top_k')
        check_bool(improve, 'improve')
        from pyg_ext.combopt.maxcut import batch_of
        from pyg_ext.combopt.rounding import decode
        batch, _ = batch_of(data)
        best_sol = None
        stages: dict[str, Tensor] = {}
        maximise = self.problem.sense == 'max'

        def better(a: Tensor, b: Tensor) -> Tensor:
            return a > b if maximise else a < b

        for _ in range(restarts):
            V = self(data, generator=generator)
            relax = self.problem.relaxation(data, V)
            sol, st = decode(self.problem, data, V, num_hyperplanes, top_k,
                             improve, generator)
            st['relaxation'] = relax
            if best_sol is None:
                best_sol, stages = sol, st
                continue
            for key in ('relaxation', 'rounded'):
                stages[key] = torch.where(better(st[key], stages[key]),
                                          st[key], stages[key])
            b = better(st['improved'], stages['improved'])
            stages['improved'] = torch.where(b, st['improved'],
                                             stages['improved'])
            best_sol = torch.where(b[batch], sol, best_sol)
        assert best_sol is not None
        return best_sol, stages

    def save(self, path: str) -> None:
        """``torch.save`` of the config and the ``state_dict``."""
        torch.save({'config': self.config, 'state_dict': self.state_dict()},
                   path)

    @classmethod
    def load(cls, path: str, map_location: Any = 'cpu', **problem_kwargs: Any
             ) -> OptGNN:
        """Rebuild a model saved by :meth:`save` (``weights_only=True``)."""
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
        cfg = dict(ckpt['config'])
        name = cfg.pop('problem')
        if problem_kwargs:
            from pyg_ext.combopt.problems import get_problem
            problem: Any = get_problem(name, **problem_kwargs)
        else:
            problem = name
        model = cls(problem, **cfg)
        model.load_state_dict(ckpt['state_dict'])
        return model

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.problem!r}, rank={self.rank},'
                f' num_layers={self.num_layers}, shared={self.shared})')


__all__ = ['OptGNN', 'OptGNNLayer']
