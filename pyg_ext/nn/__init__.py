"""Layers, encoders and models (``MessagePassing`` / ``torch.nn.Module``)."""

__all__: list[str] = []

# spectral positional encodings (issue 4)
from pyg_ext.nn.pe import (  # noqa: E402
    PEGNN,
    SPE,
    BasisNet,
    LapPE,
    SignNet,
    build_pe_encoder,
)

__all__ += ['PEGNN', 'SPE', 'BasisNet', 'LapPE', 'SignNet', 'build_pe_encoder']

# aggregation modules on pyg_ext.ops (issue 7)
from pyg_ext.nn.aggr import (  # noqa: E402
    FastMaxAggregation,
    FastMeanAggregation,
    FastMinAggregation,
    FastSoftmaxAggregation,
    FastSumAggregation,
)

__all__ += ['FastMaxAggregation', 'FastMeanAggregation', 'FastMinAggregation',
            'FastSoftmaxAggregation', 'FastSumAggregation']

# uniform facility location, UniFL-MPNN (issue 9)
from pyg_ext.nn.unifl import (  # noqa: E402
    UniFLConv,
    UniFLMPNN,
    UniFLRadius,
    train_unifl,
    unifl_decode,
    unifl_solve,
)

__all__ += ['UniFLConv', 'UniFLMPNN', 'UniFLRadius', 'train_unifl',
            'unifl_decode', 'unifl_solve']

# OptGNN (issue 8)
from pyg_ext.nn.optgnn import OptGNN, OptGNNLayer  # noqa: E402

__all__ += ['OptGNN', 'OptGNNLayer']

# heterophily-specific models of Platonov et al. (issue 21)
from pyg_ext.nn.models.heterophily_specific import (  # noqa: E402
    CPGNN,
    FAGCN,
    FSGNN,
    GBKGNN,
    GPRGNN,
    H2GCN,
    GloGNN,
    JacobiConv,
    ResNetAdj,
    ResNetSGC,
    build_specific_model,
)

__all__ += ['CPGNN', 'FAGCN', 'FSGNN', 'GBKGNN', 'GPRGNN', 'H2GCN',
            'GloGNN', 'JacobiConv', 'ResNetAdj', 'ResNetSGC',
            'build_specific_model']
