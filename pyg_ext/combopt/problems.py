"""OptGNN problem registry: ``get_problem('maxcut' | 'vertex_cover' |
'max3sat')``."""

from __future__ import annotations

from typing import Any

from pyg_ext.combopt.max3sat import Max3Sat, Max3SatPairs
from pyg_ext.combopt.maxcut import MaxCut
from pyg_ext.combopt.vertex_cover import VertexCover

PROBLEMS: dict[str, type] = {'maxcut': MaxCut, 'vertex_cover': VertexCover,
                             'max3sat': Max3Sat,
                             'max3sat_pairs': Max3SatPairs}


def get_problem(name: str, **kwargs: Any) -> Any:
    """An OptGNN problem by name: ``'maxcut'``, ``'vertex_cover'``,
    ``'max3sat'`` (keyword arguments go to its constructor).

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: unknown ``name`` (the message lists the known ones).
    """
    if not isinstance(name, str):
        raise TypeError(f'name must be a str, got {type(name).__name__}')
    key = name.lower().replace('-', '_')
    if key not in PROBLEMS:
        raise ValueError(f'unknown problem name {name!r}; use one of '
                         f'{sorted(PROBLEMS)}')
    return PROBLEMS[key](**kwargs)


__all__ = ['Max3Sat', 'Max3SatPairs', 'MaxCut', 'PROBLEMS', 'VertexCover',
           'get_problem']
