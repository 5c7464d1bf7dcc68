"""Scatter, segment and fused gather-reduce operators.

Pure Python: Triton kernels on CUDA (imported on first use), exact torch ops
everywhere else, chosen per call by :mod:`pyg_ext.ops.dispatch`.

* :func:`scatter`, :func:`scatter_max`, :func:`scatter_min` - unsorted
  reductions (``torch_scatter`` / ``torch_geometric.utils`` signatures),
* :func:`segment` - sorted (CSR) reductions, deterministic, edge-balanced,
* :func:`softmax`, :func:`scatter_softmax` - grouped softmax (GAT),
* :func:`spmm`, :func:`spmm_csr` - fused gather-reduce message passing,
* :func:`pyg_switch` - run PyG's own layers on these ops,
* :func:`set_backend`, :func:`use_backend` - force ``'triton'``/``'torch'``.
* :mod:`pyg_ext.ops.scatter_compat` - a pure-Python drop-in for
  ``torch_scatter`` (``import pyg_ext.ops.scatter_compat as torch_scatter``).

Empty groups give 0 (1 for ``mul``); the argmax of an empty group is
``src.size(dim)``, that of a group holding NaN its first NaN.
See ``docs/scatter.md`` for kernels, semantics and benchmarks (no GPU
timings yet: until calibrated, ``'auto'`` runs torch on CUDA too).
"""

from pyg_ext.ops.dispatch import get_backend, set_backend, use_backend
from pyg_ext.ops.functional import (
    scatter,
    scatter_max,
    scatter_min,
    scatter_softmax,
    segment,
    softmax,
    spmm,
    spmm_csr,
)
from pyg_ext.ops.pyg import disable_pyg, enable_pyg, pyg_enabled, pyg_switch

__all__ = [
    'disable_pyg',
    'enable_pyg',
    'get_backend',
    'pyg_enabled',
    'pyg_switch',
    'scatter',
    'scatter_max',
    'scatter_min',
    'scatter_softmax',
    'segment',
    'set_backend',
    'softmax',
    'spmm',
    'spmm_csr',
    'use_backend',
]
