"""Pure-Python drop-in for ``torch_scatter`` 2.1 (rusty1s/pytorch_scatter).

Same names, argument order, defaults and results as ``torch_scatter``
(``scatter*``, ``segment_*_csr``/``_coo``, ``gather_*``, the composite
``scatter_std``/``logsumexp``/``softmax``/``log_softmax``), built on torch's
own ops, so no compiled extension and no ABI coupling. Every function can
be compiled with ``torch.jit.script`` and traced by ``torch.compile``.

Use it under its own name::

    import pyg_ext.ops.scatter_compat as torch_scatter

or, for code (or a library) that does ``import torch_scatter`` itself,
call :func:`install_as_torch_scatter` once before that import (nothing
is registered unless you call it)::

    from pyg_ext.ops.scatter_compat import install_as_torch_scatter
    install_as_torch_scatter()
    import torch_scatter            # this package

In eager mode arguments are checked and bad ones raise ``TypeError`` /
``ValueError`` naming the argument (ids out of range included: one
``aminmax`` over the index, a host sync on CUDA); scripted and compiled
code skips those checks. See ``docs/scatter_compat.md`` for the few
differences from ``torch_scatter``.
"""

from __future__ import annotations

import logging
import sys
import types

from pyg_ext.ops.scatter_compat._composite import (
    scatter_log_softmax,
    scatter_logsumexp,
    scatter_softmax,
    scatter_std,
)
from pyg_ext.ops.scatter_compat._scatter import (
    scatter,
    scatter_add,
    scatter_max,
    scatter_mean,
    scatter_min,
    scatter_mul,
    scatter_sum,
)
from pyg_ext.ops.scatter_compat._segment import (
    gather_coo,
    gather_csr,
    segment_add_coo,
    segment_add_csr,
    segment_coo,
    segment_csr,
    segment_max_coo,
    segment_max_csr,
    segment_mean_coo,
    segment_mean_csr,
    segment_min_coo,
    segment_min_csr,
    segment_sum_coo,
    segment_sum_csr,
)

logger = logging.getLogger(__name__)

#: the ``torch_scatter`` release whose API this package reproduces, with a
#: local label saying it is this implementation
__version__ = '2.1.2+pygext'

#: ``torch_scatter.cuda_version`` (-1: no compiled CUDA extension)
cuda_version = -1

__all__ = [
    'gather_coo',
    'gather_csr',
    'install_as_torch_scatter',
    'scatter',
    'scatter_add',
    'scatter_log_softmax',
    'scatter_logsumexp',
    'scatter_max',
    'scatter_mean',
    'scatter_min',
    'scatter_mul',
    'scatter_softmax',
    'scatter_std',
    'scatter_sum',
    'segment_add_coo',
    'segment_add_csr',
    'segment_coo',
    'segment_csr',
    'segment_max_coo',
    'segment_max_csr',
    'segment_mean_coo',
    'segment_mean_csr',
    'segment_min_coo',
    'segment_min_csr',
    'segment_sum_coo',
    'segment_sum_csr',
    '__version__',
]


def install_as_torch_scatter(force: bool = False) -> types.ModuleType:
    """Register this package as ``torch_scatter`` in ``sys.modules``, with
    its submodules ``torch_scatter.testing``, ``.composite``, ``.utils``,
    ``.scatter``, ``.segment_csr`` and ``.segment_coo``, so that later
    ``import torch_scatter`` statements (in your code or a library's)
    get it. Never done implicitly.

    Args:
        force: replace a ``torch_scatter`` that is already imported.

    Returns:
        This package.

    Raises:
        TypeError: ``force`` is not a bool.
        RuntimeError: another ``torch_scatter`` is already imported and
            ``force`` is False (code holding it would mix the two).
    """
    from pyg_ext.ops.scatter_compat import (
        _scatter,
        _segment,
        composite,
        testing,
        utils,
    )
    from pyg_ext.utils.validation import check_bool

    check_bool(force, 'force')
    me = sys.modules[__name__]
    current = sys.modules.get('torch_scatter')
    if current is not None and current is not me and not force:
        raise RuntimeError(
            f'a torch_scatter module is already imported '
            f'({getattr(current, "__file__", current)!r}); call '
            f'install_as_torch_scatter() before anything imports '
            f'torch_scatter, or pass force=True to replace it')
    if current is not me:
        logger.info('registering %s as torch_scatter', __name__)
    sys.modules['torch_scatter'] = me
    for name, module in (('testing', testing), ('composite', composite),
                         ('utils', utils), ('scatter', _scatter),
                         ('segment_csr', _segment),
                         ('segment_coo', _segment)):
        sys.modules[f'torch_scatter.{name}'] = module
    return me

