"""Where datasets live: one resolver used by every loader, bench and the CLI.

Order: an explicit ``root`` argument (``--root`` on the command line), then the
``PYG_EXT_DATA`` environment variable, then ``./datasets`` under the current
working directory (the repository ships that folder with dataset cards).
Only loading creates a missing default root; listing never does.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

ENV_VAR = 'PYG_EXT_DATA'
DEFAULT_ROOT = 'datasets'


class DataRootError(FileNotFoundError):
    """Raised when an explicitly requested data root does not exist."""


def resolve_root(root: str | os.PathLike[str] | None = None, *,
                 must_exist: bool | None = None,
                 create: bool = True) -> Path:
    """Resolve the dataset root directory.

    Args:
        root: an explicit root. Wins over everything else.
        must_exist: whether the resolved directory must already exist. By
            default an explicit ``root`` or ``$PYG_EXT_DATA`` must exist (a typo
            should not silently start a download into a new folder), while the
            default ``./datasets`` is created on demand.
        create: whether to create a missing root that need not exist. Pass
            ``False`` to only look (a listing must not create folders); the
            returned path may then not exist.

    Returns:
        The absolute path of the root.

    Raises:
        DataRootError: when the root must exist and does not.
        TypeError: when ``root`` is not a ``str`` / ``os.PathLike`` (or
            ``None``), ``must_exist`` is not a ``bool`` (or ``None``), or
            ``create`` is not a ``bool``.
    """
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f'root must be a str or os.PathLike path, got '
                        f'{type(root).__name__} {root!r}')
    if must_exist is not None and not isinstance(must_exist, bool):
        raise TypeError(f'must_exist must be a bool or None, got '
                        f'{type(must_exist).__name__} {must_exist!r}')
    if not isinstance(create, bool):
        raise TypeError(f'create must be a bool, got '
                        f'{type(create).__name__} {create!r}')
    if root is not None and str(root) != '':
        path, source = Path(root), 'root'
    elif os.environ.get(ENV_VAR):
        path, source = Path(os.environ[ENV_VAR]), f'${ENV_VAR}'
    else:
        path, source = Path.cwd() / DEFAULT_ROOT, 'default'
    path = path.expanduser().resolve()
    if must_exist is None:
        must_exist = source != 'default'
    if not path.is_dir():
        if must_exist:
            raise DataRootError(
                f"data root '{path}' (from {source}) does not exist or is not "
                'a directory')
        if create:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as e:  # e.g. a file of that name is in the way
                raise DataRootError(
                    f"data root '{path}' (from {source}) cannot be created "
                    f'({e.strerror or e}); pass root= or set ${ENV_VAR}'
                ) from e
    logger.debug('data root %s (from %s)', path, source)
    return path
