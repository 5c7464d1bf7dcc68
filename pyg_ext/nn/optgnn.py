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

Two presets:

* ``preset='pyg_ext'`` (default): the layer above without bias, initialised
  at ``[I, eta I]`` (plus noise), the problem's preconditioned descent
  direction, a per-graph normalised mean loss, decoding with e1-aligned
  hyperplanes and local search.
* ``preset='reference'``: the layer of the reference code
  (`penlu/bespoke-gnn4do <https://github.com/penlu/bespoke-gnn4do>`_,
  ``LiftLayer``): ``normalize(Linear(2r -> r, bias)([v, normalize(g)]))``
  with PyTorch's default random initialisation, ``g`` the *gradient* of the
  reference loss (summed over the whole batch: for Max-Cut
  ``sum_{directed (i,j)} w_ij <v_i, v_j>``; vertex cover
  ``sum_i w_i (1 + <v_i, e1>) / 2 + rho sum_directed (<v_i - e1, v_j - e1>
  / 2)^2``; Max-3-SAT the pair-variable program of
  :mod:`pyg_ext.combopt.max3sat`), default depth 16, and the reference
  decoding: 10 passes with fresh random inputs x 1000 random hyperplanes,
  best by score, no local search.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from pyg_ext.utils.validation import (
    check_bool,
    check_choice,
    check_finite,
    check_param_dtype,
    check_positive_int,
    check_real,
    check_tensor,
)

logger = logging.getLogger(__name__)

#: Model presets (see the module docstring).
PRESETS = ('pyg_ext', 'reference')

#: Decoding defaults per preset: (restarts, hyperplanes, local search).
SOLVE_DEFAULTS = {'pyg_ext': (4, 256, True), 'reference': (10, 1000, False)}

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
    if getattr(problem, 'name', None) == 'max3sat_pairs':
        from pyg_ext.combopt.max3sat import check_pair_graph
        return check_pair_graph(data)
    if getattr(problem, 'name', None) == 'max3sat':
        from pyg_ext.combopt.max3sat import check_clauses
        return check_clauses(data)
    from pyg_ext.combopt.maxcut import check_graph_data
    return check_graph_data(data, node_weight=True)


def _check_lift_inputs(V: Tensor, G: Tensor, rank: int) -> None:
    """``V`` and ``G``: floating ``[N, rank]`` tensors of one shape.

    Raises:
        TypeError, ValueError: otherwise, naming the argument.
    """
    check_tensor(V, 'V', dim=2, floating=True)
    check_tensor(G, 'G', dim=2, floating=True)
    if V.size(1) != rank:
        raise ValueError(f'V must have {rank} columns (rank), got '
                         f'{V.size(1)}')
    if G.shape != V.shape:
        raise ValueError(f'G must have the shape of V {tuple(V.shape)}, '
                         f'got {tuple(G.shape)}')


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
                tensors of one shape, or of a dtype other than the layer's.
        """
        if not torch.compiler.is_compiling():
            _check_lift_inputs(V, G, self.rank)
            check_param_dtype(V, 'V', self.lin.weight.dtype)
            check_param_dtype(G, 'G', self.lin.weight.dtype)
        if self.normalize_direction:
            G = F.normalize(G, dim=-1)
        h = self.lin(torch.cat([V, G], dim=-1))
        return F.normalize(h, dim=-1)

    def __repr__(self) -> str:
        # the hyperparameters that differ from their defaults
        extra = ''.join(
            f', {k}={v!r}' for k, v, d in (
                ('step', self.step, 1.0),
                ('init_noise', self.init_noise, 0.01),
                ('normalize_direction', self.normalize_direction, True))
            if v != d)
        return f'{self.__class__.__name__}(rank={self.rank}{extra})'


class OptGNNReferenceLayer(torch.nn.Module):
    r"""The reference code's lift layer: :math:`\mathbf{V}' =
    \mathrm{normalize}(\mathrm{Linear}_{2r \to r}([\mathbf{V},
    \mathrm{normalize}(\mathbf{G})]))` with a bias and PyTorch's default
    (random) initialisation; ``G`` is the gradient of the loss (not a
    descent direction), so the sign convention matches the reference and
    weights can be copied from it (``lin.weight [r, 2r]``, ``lin.bias [r]``).

    Args:
        rank: the vector dimension :math:`r`.
    """

    def __init__(self, rank: int) -> None:
        super().__init__()
        self.rank = check_positive_int(rank, 'rank')
        self.lin = torch.nn.Linear(2 * self.rank, self.rank, bias=True)

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()

    def forward(self, V: Tensor, G: Tensor) -> Tensor:
        """``V`` current unit vectors ``[N, r]``, ``G`` the loss gradient
        ``[N, r]``; returns new unit vectors.

        Raises:
            TypeError, ValueError: ``V`` or ``G`` not floating ``[N, rank]``
                tensors of one shape, or of a dtype other than the layer's.
        """
        if not torch.compiler.is_compiling():
            _check_lift_inputs(V, G, self.rank)
            check_param_dtype(V, 'V', self.lin.weight.dtype)
            check_param_dtype(G, 'G', self.lin.weight.dtype)
        h = self.lin(torch.cat([V, F.normalize(G, dim=1)], dim=1))
        return F.normalize(h, dim=1)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(rank={self.rank})'


def vertex_cover_reference_loss(data: Data, V: Tensor,
                                penalty: float = 1.0) -> Tensor:
    """The reference code's vertex-cover loss, summed over the batch:
    ``sum_i w_i (1 + <v_i, e1>) / 2 + penalty * sum_{directed (i, j)}
    (<v_i - e1, v_j - e1> / 2)^2`` (``e1`` = coordinate 0).

    Shapes are checked (no host sync: it runs in every layer of the
    reference preset); the graph itself is validated by the callers
    (:class:`OptGNN`).

    Raises:
        TypeError, ValueError: ``V`` not a floating ``[num_nodes, r]``
            tensor with ``r >= 1``.
    """
    if not torch.compiler.is_compiling():
        check_tensor(V, 'V', dim=2, floating=True)
        n = data.num_nodes
        if V.size(0) != n or V.size(1) < 1:
            raise ValueError(f'V must have shape [num_nodes={n}, rank >= 1]'
                             f', got {tuple(V.shape)}')
    w = getattr(data, 'node_weight', None)
    w = torch.ones(V.size(0), dtype=V.dtype, device=V.device) if w is None \
        else w.view(-1).to(V.dtype)
    obj = (w * (1 + V[:, 0])).sum() / 2
    Xm = torch.cat([V[:, :1] - 1, V[:, 1:]], dim=1)
    src, dst = data.edge_index
    res = (Xm[src] * Xm[dst]).sum(-1) / 2
    return obj + penalty * (res * res).sum()


def reference_loss(problem: Any, data: Data, V: Tensor) -> Tensor:
    """The reference (summed-over-the-batch) loss of ``problem`` at ``V``:
    the problem's ``reference_loss`` method, or the vertex-cover formula
    above for ``problem.name == 'vertex_cover'``.

    Raises:
        TypeError: ``problem`` has no reference loss.
    """
    fn = getattr(problem, 'reference_loss', None)
    if callable(fn):
        return fn(data, V)
    if getattr(problem, 'name', None) == 'vertex_cover':
        return vertex_cover_reference_loss(data, V)
    raise TypeError(f'problem {type(problem).__name__} has no '
                    f'reference_loss(data, V); preset=\'reference\' needs '
                    f'one')


def reference_grad(problem: Any, data: Data, V: Tensor) -> Tensor:
    """Gradient of :func:`reference_loss` with respect to ``V``: the
    problem's closed form ``reference_grad`` when it has one, else autograd
    (with ``create_graph`` while training, as the reference code does)."""
    fn = getattr(problem, 'reference_grad', None)
    if callable(fn):
        return fn(data, V)
    train = torch.is_grad_enabled()
    with torch.enable_grad():
        X = V if V.requires_grad else V.detach().requires_grad_(True)
        loss = reference_loss(problem, data, X)
        (g,) = torch.autograd.grad(loss, X, create_graph=train)
    return g if train else g.detach()


class OptGNN(torch.nn.Module):
    r"""The OptGNN model: ``num_layers`` :class:`OptGNNLayer` s over a problem's
    relaxation, from random unit vectors (or given ones).

    Works on single graphs and on PyG batches (``data.batch``); the output
    rows are unit vectors (``V[:, 0]`` is the coordinate along the fixed
    vector ``e1`` for problems that use one). A graph without nodes is
    valid, as everywhere in :mod:`pyg_ext.combopt`: the output is
    ``[0, rank]`` and :meth:`solve` returns an empty solution with
    objective 0.

    Args:
        problem: a problem object or name (``'maxcut'``, ``'vertex_cover'``,
            ``'max3sat'``).
        rank: vector dimension :math:`r`.
        num_layers: depth (number of unrolled steps).
        shared: share one layer across all steps.
        step: initial step of every layer (``'pyg_ext'`` preset; a finite
            real number, checked for both presets since it is stored in
            :attr:`config`).
        normalize_direction: see :class:`OptGNNLayer` (``'pyg_ext'``; a
            bool).
        preset: ``'pyg_ext'`` (default; :class:`OptGNNLayer`) or
            ``'reference'`` (:class:`OptGNNReferenceLayer`, the reference
            code's layer, loss and decoding; see the module docstring).
            With ``'reference'``, ``problem='max3sat'`` means the
            pair-variable program (:class:`~pyg_ext.combopt.Max3SatPairs`;
            build instances with
            :func:`~pyg_ext.combopt.max3sat.sat_pair_graph`).

    Example::

        model = OptGNN('maxcut', rank=16, num_layers=16)
        V = model(batch)                       # [N, 16] unit rows
        loss = model.problem.loss(batch, V)    # unsupervised
        sol, stages = model.solve(batch)       # rounded +-1 per node
    """

    def __init__(self, problem: Any, rank: int = 16, num_layers: int = 16,
                 shared: bool = False, step: float = 1.0,
                 normalize_direction: bool = True,
                 preset: str = 'pyg_ext') -> None:
        super().__init__()
        num_layers = check_positive_int(num_layers, 'num_layers')
        rank = check_positive_int(rank, 'rank')
        check_bool(shared, 'shared')
        step = check_real(step, 'step')
        check_bool(normalize_direction, 'normalize_direction')
        preset = check_choice(preset, 'preset', PRESETS)
        self.preset = preset
        if preset == 'reference' and isinstance(problem, str) and \
                problem.lower() == 'max3sat':
            problem = 'max3sat_pairs'
        self.problem = _resolve_problem(problem)
        self.rank = rank
        self.num_layers = num_layers
        self.shared = shared
        self.step = step
        self.normalize_direction = normalize_direction
        n_mods = 1 if shared else num_layers
        if preset == 'reference':
            self.layers = torch.nn.ModuleList(
                [OptGNNReferenceLayer(rank) for _ in range(n_mods)])
        else:
            self.layers = torch.nn.ModuleList(
                [OptGNNLayer(rank, step,
                             normalize_direction=normalize_direction)
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
                'normalize_direction': self.normalize_direction,
                'preset': self.preset}

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
        dtype = next(self.parameters()).dtype
        return F.normalize(V, dim=-1).to(device=ref.device, dtype=dtype)

    def forward(self, data: Data, V: Tensor | None = None,
                generator: torch.Generator | None = None) -> Tensor:
        """Run the layers from ``V`` (random when ``None``); returns ``[N, r]``
        unit vectors.

        Raises:
            TypeError, ValueError: invalid ``data`` for the problem (bad
                ``edge_index``, NaN weights, bad clauses, ...) or ``V`` not
                a finite ``[N, rank]`` floating tensor of the parameters'
                dtype.
        """
        if not torch.compiler.is_compiling():
            n = _check_data(self.problem, data)
            if V is not None:
                check_tensor(V, 'V', dim=2, floating=True)
                check_param_dtype(V, 'V', next(self.parameters()).dtype)
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
        if self.preset == 'reference':
            for t in range(self.num_layers):
                layer = self.layers[0 if self.shared else t]
                V = layer(V, reference_grad(self.problem, data, V))
            return V
        direction = getattr(self.problem, '_direction', None)
        if not callable(direction):
            direction = self.problem.direction
        for t in range(self.num_layers):
            layer = self.layers[0 if self.shared else t]
            V = layer(V, direction(data, V))
        return V

    def loss(self, data: Data, generator: torch.Generator | None = None
             ) -> Tensor:
        """The unsupervised training loss on ``data`` (fresh random start):
        the problem's normalised mean loss (``'pyg_ext'``) or the reference
        loss summed over the batch (``'reference'``)."""
        V = self(data, generator=generator)
        if self.preset == 'reference':
            return reference_loss(self.problem, data, V)
        return self.problem.loss(data, V)

    @torch.no_grad()
    def solve(self, data: Data, restarts: int | None = None,
              num_hyperplanes: int | None = None, top_k: int = 8,
              improve: bool | None = None,
              generator: torch.Generator | None = None
              ) -> tuple[Tensor, dict[str, Tensor]]:
        """Embed ``restarts`` times (fresh random starts), round each with
        ``num_hyperplanes`` hyperplanes, post-process (repair, local search)
        and keep the best per graph. ``None`` takes the preset's default:
        4 restarts x 256 hyperplanes with local search (``'pyg_ext'``), 10 x
        1000 without (``'reference'``, as the reference ``test.py``; its
        hyperplanes are not aligned with ``e1``).

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
        d_restarts, d_planes, d_improve = SOLVE_DEFAULTS[self.preset]
        restarts = d_restarts if restarts is None else restarts
        num_hyperplanes = d_planes if num_hyperplanes is None else \
            num_hyperplanes
        improve = d_improve if improve is None else improve
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
                             improve, generator,
                             align_e1=(None if self.preset == 'pyg_ext'
                                       else False))
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
        pre = '' if self.preset == 'pyg_ext' else f", preset='{self.preset}'"
        if self.preset == 'pyg_ext':
            if self.step != 1.0:
                pre += f', step={self.step!r}'
            if not self.normalize_direction:
                pre += ', normalize_direction=False'
        return (f'{self.__class__.__name__}({self.problem!r}, rank={self.rank},'
                f' num_layers={self.num_layers}, shared={self.shared}{pre})')


__all__ = ['OptGNN', 'OptGNNLayer', 'OptGNNReferenceLayer', 'PRESETS',
           'reference_grad', 'reference_loss', 'vertex_cover_reference_loss']
