"""Aggregation modules on :mod:`pyg_ext.ops`.

Drop-in :class:`torch_geometric.nn.aggr.Aggregation` subclasses: pass one as
``aggr=`` to any ``MessagePassing`` layer, or call it on ``(x, index)`` /
``(x, ptr=ptr)`` like PyG's ``SumAggregation`` & co. Sorted input with
``ptr`` takes the deterministic segment kernel; otherwise the (atomic)
scatter. On CPU and wherever Triton is not measured faster, the ops run
torch code with PyG's exact semantics (empty groups give 0).

>>> from torch_geometric.nn import SAGEConv
>>> from pyg_ext.nn.aggr import FastMaxAggregation
>>> conv = SAGEConv(16, 32, aggr=FastMaxAggregation())

Bad input raises :class:`TypeError`/:class:`ValueError` naming the argument
(``index``, ``ptr``, ``dim``, ``dim_size``, ``reduce``, ...), checked by
:mod:`pyg_ext.ops` before any kernel runs (skipped while ``torch.compile``
traces).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.aggr import Aggregation

from pyg_ext.ops.dispatch import BACKENDS
from pyg_ext.ops.functional import scatter, segment, softmax
from pyg_ext.utils.validation import (
    check_bool,
    check_choice,
    check_int,
    check_real,
    check_tensor,
)


class _FastAggregation(Aggregation):
    """Base class: ``reduce`` goes through :mod:`pyg_ext.ops`."""

    REDUCE = 'sum'

    def __init__(self, backend: str | None = None) -> None:
        super().__init__()
        if backend is not None:
            check_choice(backend, 'backend', BACKENDS)
        self.backend = backend

    def __call__(self, x: Tensor, index: Tensor | None = None,
                 ptr: Tensor | None = None, dim_size: int | None = None,
                 dim: int = -2, **kwargs: Any) -> Tensor:
        # PyG's checks read x.dim() first: name a non-tensor x instead
        check_tensor(x, 'x')
        # ... and a non-tensor index (PyG would call index.numel())
        if index is not None:
            check_tensor(index, 'index')
        return super().__call__(x, index, ptr, dim_size, dim, **kwargs)

    def reduce(self, x: Tensor, index: Tensor | None = None,
               ptr: Tensor | None = None, dim_size: int | None = None,
               dim: int = -2, reduce: str = 'sum') -> Tensor:
        """Reduce ``x`` by ``index`` (or the CSR ``ptr``) along ``dim``.

        Raises:
            TypeError: non-tensor ``x``/``index``/``ptr``, float ids.
            ValueError: ``dim`` out of range, ids out of range, a malformed
                ``ptr``, ``dim_size`` disagreeing with ``ptr``, unknown
                ``reduce``.
        """
        return self._reduce(x, index, ptr, dim_size, dim, reduce, True)

    def _reduce(self, x: Any, index: Any, ptr: Any, dim_size: Any,
                dim: Any, reduce: str, check: bool) -> Tensor:
        check_tensor(x, 'x')
        if ptr is not None:
            check_tensor(ptr, 'ptr', floating=False)
        if isinstance(dim, int) and -x.dim() <= dim < 0:
            dim = x.dim() + dim
        if ptr is not None and ptr.dim() == 1 and dim == 0:
            if dim_size is not None and dim_size != ptr.numel() - 1:
                raise ValueError(f'dim_size = {dim_size} disagrees with ptr '
                                 f'({ptr.numel() - 1} segments)')
            return segment(x, ptr, reduce, index=index, backend=self.backend,
                           check=check)
        if index is None:
            raise ValueError(f"{self.__class__.__name__} requires 'index' "
                             f"(or a 1-D 'ptr' with dim=0)")
        return scatter(x, index, dim, dim_size, reduce, backend=self.backend,
                       check=check)

    def forward(self, x: Tensor, index: Tensor | None = None,
                ptr: Tensor | None = None, dim_size: int | None = None,
                dim: int = -2) -> Tensor:
        return self.reduce(x, index, ptr, dim_size, dim, reduce=self.REDUCE)

    def __repr__(self) -> str:
        arg = f'backend={self.backend!r}' if self.backend else ''
        return f'{self.__class__.__name__}({arg})'


class FastSumAggregation(_FastAggregation):
    r"""Sum aggregation :math:`\sum_{i} \mathbf{x}_i` on pyg_ext ops.

    Args:
        backend: ``'auto'`` (default: the process-wide choice), ``'triton'``
            or ``'torch'``.
    """

    REDUCE = 'sum'


class FastMeanAggregation(_FastAggregation):
    r"""Mean aggregation (empty groups give 0) on pyg_ext ops."""

    REDUCE = 'mean'


class FastMaxAggregation(_FastAggregation):
    r"""Max aggregation (empty groups give 0) on pyg_ext ops."""

    REDUCE = 'max'


class FastMinAggregation(_FastAggregation):
    r"""Min aggregation (empty groups give 0) on pyg_ext ops."""

    REDUCE = 'min'


class FastSoftmaxAggregation(_FastAggregation):
    r"""Softmax aggregation
    :math:`\sum_i \mathrm{softmax}(t \mathbf{x})_i \odot \mathbf{x}_i`
    (PyG's ``SoftmaxAggregation``, with the same arguments: a fixed or
    learnable temperature ``t``, one per channel if ``channels > 1``), on
    pyg_ext's grouped softmax and sum.

    Args:
        t: the (initial) temperature.
        learn: learn ``t`` (a parameter of ``channels`` entries, initialised
            to ``t`` and reset to it by :meth:`reset_parameters`).
        semi_grad: compute the softmax weights without gradient (only with
            ``learn=False``), as PyG's option of that name.
        channels: the number of temperatures (``learn=True`` only); ``x``
            must then be 2-D with ``channels`` columns.
        backend: as for :class:`FastSumAggregation`.

    Raises:
        TypeError, ValueError: a non-finite ``t``, ``learn`` and
            ``semi_grad`` both set, ``channels < 1``, or ``channels > 1``
            without ``learn``.
    """

    def __init__(self, t: float = 1.0, learn: bool = False,
                 semi_grad: bool = False, channels: int = 1,
                 backend: str | None = None) -> None:
        super().__init__(backend)
        t = check_real(t, 't')
        learn = check_bool(learn, 'learn')
        semi_grad = check_bool(semi_grad, 'semi_grad')
        if learn and semi_grad:
            raise ValueError('FastSoftmaxAggregation: learn=True and '
                             'semi_grad=True cannot be combined (as in PyG)')
        channels = check_int(channels, 'channels', low=1)
        if not learn and channels != 1:
            raise ValueError('FastSoftmaxAggregation: channels > 1 needs '
                             f'learn=True (got channels={channels})')
        self._init_t = t
        self.learn = learn
        self.semi_grad = semi_grad
        self.channels = channels
        self.t: Tensor | float = (Parameter(torch.empty(channels)) if learn
                                  else t)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set a learnable ``t`` back to its initial value."""
        if isinstance(self.t, Tensor):
            with torch.no_grad():
                self.t.fill_(self._init_t)

    def forward(self, x: Tensor, index: Tensor | None = None,
                ptr: Tensor | None = None, dim_size: int | None = None,
                dim: int = -2) -> Tensor:
        """Raises :class:`ValueError` for ``dim`` other than the first one,
        for ``x`` without ``channels`` columns (``channels > 1``) and as
        :meth:`reduce` for bad ids."""
        check_tensor(x, 'x')
        d = x.dim() + dim if dim < 0 else dim
        if d != 0:
            raise ValueError(f'{self.__class__.__name__} supports dim=0 '
                             f'(node dimension first) only, got dim={dim}')
        if index is None and ptr is None:
            raise ValueError(f"{self.__class__.__name__} requires 'index' "
                             f"or 'ptr'")
        if ptr is not None:
            check_tensor(ptr, 'ptr', floating=False)
        if dim_size is not None:  # softmax would call it num_nodes
            dim_size = check_int(dim_size, 'dim_size', low=0)
        t = self.t
        if self.channels != 1:
            if x.dim() != 2 or x.size(1) != self.channels:
                raise ValueError(
                    f'x must have shape [N, {self.channels}] (channels = '
                    f'{self.channels}), got {tuple(x.shape)}')
            assert isinstance(t, Tensor)
            t = t.view(1, self.channels)
        alpha = x * t if isinstance(t, Tensor) or t != 1.0 else x
        n = dim_size if dim_size is not None else (
            ptr.numel() - 1 if ptr is not None else None)
        p1 = ptr if ptr is not None and ptr.dim() == 1 else None
        with torch.no_grad() if self.semi_grad else nullcontext():
            alpha = softmax(alpha, index, p1, n, 0, backend=self.backend)
        # softmax checked index, ptr and dim_size: no second check
        return self._reduce(x * alpha, index, ptr, dim_size, 0, 'sum', False)

    def __repr__(self) -> str:
        args = [f't={self._init_t}']
        if self.learn:
            args.append('learn=True')
        if self.semi_grad:
            args.append('semi_grad=True')
        if self.channels != 1:
            args.append(f'channels={self.channels}')
        if self.backend:
            args.append(f'backend={self.backend!r}')
        return f'{self.__class__.__name__}({", ".join(args)})'


__all__ = ['FastMaxAggregation', 'FastMeanAggregation', 'FastMinAggregation',
           'FastSoftmaxAggregation', 'FastSumAggregation']
