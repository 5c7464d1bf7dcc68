"""Complete models (``torch.nn.Module``), like ``torch_geometric.nn.models``."""

from pyg_ext.nn.models.heterophily import HeterophilyBaseline

__all__ = ['HeterophilyBaseline']

# heterophily-specific models of Platonov et al. (issue 21)
from pyg_ext.nn.models.heterophily_specific import (  # noqa: E402
    CPGNN,
    FAGCN,
    FSGNN,
    GBKGNN,
    GPRGNN,
    H2GCN,
    SPECIFIC_DEFAULTS,
    SPECIFIC_MODELS,
    GloGNN,
    JacobiConv,
    ResNetAdj,
    ResNetSGC,
    build_specific_model,
)

__all__ += ['CPGNN', 'FAGCN', 'FSGNN', 'GBKGNN', 'GPRGNN', 'H2GCN',
            'GloGNN', 'JacobiConv', 'ResNetAdj', 'ResNetSGC',
            'SPECIFIC_DEFAULTS', 'SPECIFIC_MODELS', 'build_specific_model']
