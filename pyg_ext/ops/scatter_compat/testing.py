"""What a ``torch_scatter``-style test-suite imports from
``torch_scatter.testing``: the reductions and dtypes to sweep, the devices
present, and a helper that builds a tensor of a given dtype and device.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ['devices', 'dtypes', 'grad_dtypes', 'reductions', 'tensor']

#: the reductions every scatter/segment op supports (``'mul'`` is
#: scatter-only)
reductions: list[str] = ['sum', 'add', 'mean', 'min', 'max']

#: dtypes the forward ops are checked on
dtypes: list[torch.dtype] = [torch.half, torch.bfloat16, torch.float,
                             torch.double, torch.int, torch.long]

#: dtypes for gradient checks
grad_dtypes: list[torch.dtype] = [torch.float, torch.double]

#: the CPU, plus the first CUDA device when there is one
devices: list[torch.device] = [torch.device('cpu')]
if torch.cuda.is_available():
    devices.append(torch.device('cuda:0'))


def tensor(x: Any, dtype: torch.dtype,
           device: torch.device | str) -> torch.Tensor | None:
    """``x`` (nested lists of numbers) as a tensor of ``dtype`` on
    ``device``; ``None`` stays ``None``."""
    if x is None:
        return None
    return torch.tensor(x, device=device).to(dtype)
