"""``torch_scatter.composite``: grouped std, log-sum-exp, softmax and
log-softmax (implemented in :mod:`pyg_ext.ops.scatter_compat._composite`;
absolute imports, so loading this module under an alias name reuses the
same functions)."""

from pyg_ext.ops.scatter_compat._composite import (
    scatter_log_softmax,
    scatter_logsumexp,
    scatter_softmax,
    scatter_std,
)

__all__ = ['scatter_log_softmax', 'scatter_logsumexp', 'scatter_softmax',
           'scatter_std']
