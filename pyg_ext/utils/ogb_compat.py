"""Compatibility shims for ``ogb`` 1.3.6 on torch >= 2.6.

``ogb`` 1.3.6's PyG loaders call a bare :func:`torch.load` on their processed
files. Since torch 2.6 defaults to ``weights_only=True``, that fails for
collated PyG data (``DataEdgeAttr`` is not an allow-listed global). The fix here
is narrow: the PyG storage classes are allow-listed only inside a context
manager wrapped around the OGB calls that read those trusted files, not
process-wide.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from pyg_ext.typing import require
from pyg_ext.utils.data_root import DataRootError

logger = logging.getLogger(__name__)


def pyg_safe_globals() -> list[Any]:
    """The PyG classes a collated ``Data`` object needs to unpickle."""
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage
    return [DataEdgeAttr, DataTensorAttr, GlobalStorage]


@contextlib.contextmanager
def ogb_safe_load() -> Iterator[None]:
    """Allow-list PyG's storage classes for :func:`torch.load` in this block.

    Example:
        >>> with ogb_safe_load():  # doctest: +SKIP
        ...     ds = PygGraphPropPredDataset('ogbg-molbace', root)
    """
    with torch.serialization.safe_globals(pyg_safe_globals()):
        yield


def _check_args(name: Any, root: Any, prefix: str) -> str:
    """Validate ``name`` / ``root`` before ogb touches the file system."""
    if not isinstance(name, str):
        raise TypeError(f'name must be a str, got {type(name).__name__} '
                        f'{name!r}')
    if not name.startswith(prefix):
        raise ValueError(f"name must be an OGB '{prefix}*' dataset name, "
                         f'got {name!r}')
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f'root must be a str or os.PathLike path, got '
                        f'{type(root).__name__} {root!r}')
    root = os.fspath(root)
    if not os.path.isdir(root):
        # ogb would create it and start a download: a typo must not
        raise DataRootError(f"root '{root}' does not exist or is not a "
                            'directory')
    return root


def _check_release_file(name: str, root: str) -> None:
    # ogb calls input() to ask about an update when the release note is
    # missing, which hangs or raises EOFError without a terminal.
    folder = os.path.join(root, name.replace('-', '_'))
    if os.path.isdir(folder) and not any(
            f.startswith('RELEASE_v') for f in os.listdir(folder)):
        raise FileNotFoundError(
            f"'{folder}' has no RELEASE_v*.txt file; ogb would stop to ask for "
            'an update on stdin. Delete the folder to download it afresh, or '
            'copy the release note in.')


def load_ogb_graphprop(name: str, root: str | os.PathLike[str],
                       **kwargs: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """Load an ``ogbg-*`` dataset with its official split, safely on new torch.

    Args:
        name: the OGB name, e.g. ``'ogbg-molbace'``.
        root: the folder that holds ``ogbg_<name>/`` (or where it downloads).
        **kwargs: passed to :class:`ogb.graphproppred.PygGraphPropPredDataset`.

    Returns:
        ``(dataset, split_idx)`` with ``split_idx`` keys ``train``, ``valid``,
        ``test``.

    Raises:
        TypeError: ``name`` not a str or ``root`` not a path.
        ValueError: ``name`` not an ``ogbg-*`` name (or unknown to ogb).
        DataRootError: ``root`` does not exist.
        FileNotFoundError: the dataset folder lacks its ``RELEASE_v*.txt``
            note, or the dataset is absent and downloading it failed.
    """
    root = _check_args(name, root, 'ogbg-')
    require('ogb', 'loading OGB datasets')
    from ogb.graphproppred import PygGraphPropPredDataset

    _check_release_file(name, root)
    with ogb_safe_load(), _download_errors(name, root):
        dataset = PygGraphPropPredDataset(name=name, root=root, **kwargs)
        split_idx = dataset.get_idx_split()
    return dataset, split_idx


@contextlib.contextmanager
def _download_errors(name: str, root: str) -> Iterator[None]:
    # an absent dataset makes ogb download it; offline, urllib's error says
    # nothing about which dataset or folder
    import urllib.error

    from pyg_ext.datasets.registry import _existing_dirs, _remove_new_empty
    base = Path(root)
    folder = base / name.replace('-', '_')
    existed = _existing_dirs(base, folder)
    try:
        yield
    except urllib.error.URLError as e:
        # the empty folders the attempt made go, else the next call blames
        # them (no RELEASE note)
        _remove_new_empty(base, folder, existed)
        raise FileNotFoundError(
            f"OGB dataset '{name}' is not under root '{root}' and downloading "
            f'it failed ({e.reason}); copy it there first') from e


def load_ogb_nodeprop(name: str, root: str | os.PathLike[str],
                      **kwargs: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """Load an ``ogbn-*`` dataset with its official split (see
    :func:`load_ogb_graphprop`, with ``ogbn-*`` names)."""
    root = _check_args(name, root, 'ogbn-')
    require('ogb', 'loading OGB datasets')
    from ogb.nodeproppred import PygNodePropPredDataset

    _check_release_file(name, root)
    with ogb_safe_load(), _download_errors(name, root):
        dataset = PygNodePropPredDataset(name=name, root=root, **kwargs)
        split_idx = dataset.get_idx_split()
    return dataset, split_idx
