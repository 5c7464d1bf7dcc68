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

from typing import Any

from torch import Tensor
from torch_geometric.nn.aggr import Aggregation

from pyg_ext.ops.dispatch import BACKENDS
from pyg_ext.ops.functional import scatter, segment, softmax
from pyg_ext.utils.validation import (
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
    :math:`\sum_i \mathrm{softmax}(t \mathbf{x})_i \odot \mathbf{x}_i` with a
    fixed temperature ``t`` (PyG's ``SoftmaxAggregation(t)`` without the
    learnable variant), on pyg_ext's grouped softmax and sum.

    Args:
        t: the temperature.
        backend: as for :class:`FastSumAggregation`.
    """

    def __init__(self, t: float = 1.0, backend: str | None = None) -> None:
        super().__init__(backend)
        self.t = check_real(t, 't')

    def forward(self, x: Tensor, index: Tensor | None = None,
                ptr: Tensor | None = None, dim_size: int | None = None,
                dim: int = -2) -> Tensor:
        """Raises :class:`ValueError` for ``dim`` other than the first one
        and as :meth:`reduce` for bad ids."""
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
        n = dim_size if dim_size is not None else (
            ptr.numel() - 1 if ptr is not None else None)
        alpha = softmax(x * self.t if self.t != 1.0 else x, index,
                        ptr if ptr is not None and ptr.dim() == 1 else None,
                        n, 0, backend=self.backend)
        # softmax checked index, ptr and dim_size: no second check
        return self._reduce(x * alpha, index, ptr, dim_size, 0, 'sum', False)

    def __repr__(self) -> str:
        arg = f', backend={self.backend!r}' if self.backend else ''
        return f'{self.__class__.__name__}(t={self.t}{arg})'


__all__ = ['FastMaxAggregation', 'FastMeanAggregation', 'FastMinAggregation',
           'FastSoftmaxAggregation', 'FastSumAggregation']
