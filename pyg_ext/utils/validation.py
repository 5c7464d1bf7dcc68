"""Shared input validators for every public function and module.

Each validator raises a :class:`ValueError` (bad value or shape) or a
:class:`TypeError` (wrong type or dtype) whose message starts with the name of
the offending argument, so that a user sees which argument to fix. They are
cheap (one reduction per check) and never modify their input. Call them
before any unchecked kernel (sparse CSR, Triton, numba), where a bad id
corrupts memory instead of raising.

Example::

    from pyg_ext.utils.validation import check_edge_index, check_positive_int

    def my_op(edge_index, num_nodes, k):
        check_edge_index(edge_index, num_nodes)
        k = check_positive_int(k, 'k')
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
from torch import Tensor

__all__ = [
    'check_bool',
    'check_choice',
    'check_edge_index',
    'check_edge_weight',
    'check_finite',
    'check_index',
    'check_int',
    'check_num_nodes',
    'check_positive_int',
    'check_probability',
    'check_real',
    'check_tensor',
]


def _type_name(value: Any) -> str:
    return type(value).__name__


def check_tensor(value: Any, name: str, *, dim: int | tuple[int, ...] | None
                 = None, floating: bool | None = None) -> Tensor:
    """Check that ``value`` is a :class:`torch.Tensor` (of ``dim`` dimensions
    and floating or integer dtype when asked) and return it."""
    if not isinstance(value, Tensor):
        raise TypeError(f'{name} must be a torch.Tensor, got '
                        f'{_type_name(value)}')
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if value.dim() not in dims:
            want = ' or '.join(f'{d}-D' for d in dims)
            raise ValueError(f'{name} must be {want}, got shape '
                             f'{tuple(value.shape)}')
    if floating is True and not (value.is_floating_point()
                                 or value.is_complex()):
        raise TypeError(f'{name} must have a floating dtype, got '
                        f'{value.dtype}')
    if floating is False and (value.is_floating_point() or value.is_complex()
                              or value.dtype == torch.bool):
        raise TypeError(f'{name} must have an integer dtype, got '
                        f'{value.dtype}')
    return value


def check_finite(value: Tensor, name: str) -> Tensor:
    """Raise if a floating tensor holds NaN or infinite values."""
    if (value.is_floating_point() and value.numel()
            and not bool(torch.isfinite(value).all())):
        raise ValueError(f'{name} contains NaN or infinite values')
    return value


def check_int(value: Any, name: str, *, low: int | None = None,
              high: int | None = None) -> int:
    """Return ``value`` as an ``int`` in ``[low, high]`` (bounds optional).
    Booleans, floats and strings are refused (``TypeError``)."""
    if isinstance(value, Tensor) and value.numel() == 1 and not (
            value.is_floating_point() or value.dtype == torch.bool):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f'{name} must be an int, got {_type_name(value)} '
                        f'{value!r}')
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f'{name} must be >= {low}, got {value}')
    if high is not None and value > high:
        raise ValueError(f'{name} must be <= {high}, got {value}')
    return value


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an ``int >= 1``."""
    return check_int(value, name, low=1)


def check_real(value: Any, name: str, *, low: float | None = None,
               high: float | None = None, low_open: bool = False,
               high_open: bool = False) -> float:
    """Return ``value`` as a finite ``float`` in the given interval
    (closed unless ``low_open`` / ``high_open``)."""
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f'{name} must be a real number, got '
                        f'{_type_name(value)} {value!r}')
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f'{name} must be finite, got {value}')
    if low is not None and (value < low or (low_open and value == low)):
        op = '>' if low_open else '>='
        raise ValueError(f'{name} must be {op} {low}, got {value}')
    if high is not None and (value > high or (high_open and value == high)):
        op = '<' if high_open else '<='
        raise ValueError(f'{name} must be {op} {high}, got {value}')
    return value


def check_probability(value: Any, name: str, *, allow_zero: bool = True,
                      allow_one: bool = True) -> float:
    """Return ``value`` as a float in ``[0, 1]`` (ends optional)."""
    return check_real(value, name, low=0.0, high=1.0,
                      low_open=not allow_zero, high_open=not allow_one)


def check_param_dtype(value: Tensor, name: str, dtype: torch.dtype,
                      owner: str = "the model's parameters") -> None:
    """Raise a ``TypeError`` naming ``name`` when ``value`` and a module's
    parameters (``dtype``) disagree, outside autocast (where
    ``torch.nn.Linear`` would fail with an unhelpful message). Compares
    dtypes only: no host sync."""
    if value.dtype != dtype and \
            not torch.is_autocast_enabled(value.device.type):
        raise TypeError(f'{name} has dtype {value.dtype} but {owner} are '
                        f'{dtype}: pass {name}.to({dtype}) or convert the '
                        f'model (model.to({value.dtype}))')


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` if it is a ``bool``, else raise ``TypeError``."""
    if not isinstance(value, bool):
        raise TypeError(f'{name} must be a bool, got {_type_name(value)} '
                        f'{value!r}')
    return value


def check_choice(value: Any, name: str, choices: tuple[Any, ...] |
                 list[Any]) -> Any:
    """Raise unless ``value`` is one of ``choices`` (message lists them):
    ``TypeError`` for a non-string where the choices are names,
    ``ValueError`` otherwise."""
    if (not isinstance(value, str) and choices
            and all(isinstance(c, str) for c in choices)):
        raise TypeError(f'{name} must be a str, one of {tuple(choices)}, got '
                        f'{_type_name(value)} {value!r}')
    if value not in choices:
        raise ValueError(f'{name} must be one of {tuple(choices)}, got '
                         f'{value!r}')
    return value


def check_num_nodes(num_nodes: Any, name: str = 'num_nodes') -> int:
    """Return ``num_nodes`` as an ``int >= 0``."""
    return check_int(num_nodes, name, low=0)


def check_index(index: Any, name: str, size: int | None = None, *,
                dim: int | tuple[int, ...] | None = 1) -> Tensor:
    """Check an integer id tensor: integer dtype, ``dim`` dimensions and, when
    ``size`` is given, every entry in ``[0, size)``. One ``aminmax`` on the
    tensor (a host sync on CUDA): callers that validated already may skip
    it."""
    check_tensor(index, name, dim=dim, floating=False)
    if size is not None and index.numel():
        lo, hi = torch.aminmax(index)
        lo, hi = int(lo), int(hi)
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            raise ValueError(f'{name} must hold ids in [0, {size}), found '
                             f'{bad}')
    return index


def check_edge_index(edge_index: Any, num_nodes: int | None = None,
                     name: str = 'edge_index') -> Tensor:
    """Check a ``[2, E]`` integer ``edge_index`` and, when ``num_nodes`` is
    given, that every id is in ``[0, num_nodes)``.

    A ``[E, 2]`` tensor is refused (it would silently be read as two
    different edges)."""
    check_tensor(edge_index, name, floating=False)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        hint = (' (it looks transposed: use edge_index.t())'
                if edge_index.dim() == 2 and edge_index.size(1) == 2 else '')
        raise ValueError(f'{name} must have shape [2, num_edges], got '
                         f'{tuple(edge_index.shape)}{hint}')
    if num_nodes is not None:
        num_nodes = check_num_nodes(num_nodes)
        check_index(edge_index, name, num_nodes, dim=2)
    return edge_index


def check_edge_weight(edge_weight: Any, num_edges: int,
                      name: str = 'edge_weight', *,
                      nonnegative: bool = False) -> Tensor | None:
    """Check an optional ``[E]`` (or ``[E, 1]``) finite weight vector."""
    if edge_weight is None:
        return None
    check_tensor(edge_weight, name, dim=(1, 2), floating=True)
    if edge_weight.dim() == 2 and edge_weight.size(1) != 1:
        raise ValueError(f'{name} must be [num_edges] or [num_edges, 1], got '
                         f'{tuple(edge_weight.shape)}')
    if edge_weight.size(0) != num_edges:
        raise ValueError(f'{name} has {edge_weight.size(0)} entries for '
                         f'{num_edges} edges')
    check_finite(edge_weight, name)
    if nonnegative and edge_weight.numel() and bool((edge_weight < 0).any()):
        raise ValueError(f'{name} must be >= 0')
    return edge_weight
