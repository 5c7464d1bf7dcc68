"""Logging and progress helpers shared by the library.

Library modules log with ``logging.getLogger(__name__)`` and never configure
the root logger; the CLI calls :func:`setup_cli_logging`. Long loops take a
``progress_bar: bool = False`` argument and wrap their iterable with
:func:`progress`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from pyg_ext.utils.validation import check_int

T = TypeVar('T')


def progress(iterable: Iterable[T], enabled: bool = False, **kwargs: Any
             ) -> Iterator[T] | Iterable[T]:
    """Wrap ``iterable`` in a ``tqdm`` bar when ``enabled`` (opt-in).

    Raises:
        TypeError: when ``iterable`` is not iterable, or a keyword argument
            is not one of ``tqdm``'s.
    """
    try:
        iter(iterable)
    except TypeError:
        raise TypeError(f'iterable must be iterable, got '
                        f'{type(iterable).__name__}') from None
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    try:
        return tqdm(iterable, **kwargs)
    except KeyError as e:  # tqdm's TqdmKeyError for unknown arguments
        raise TypeError(f'progress got an argument tqdm does not accept: '
                        f'{e}') from None


def setup_cli_logging(verbose: int = 0) -> None:
    """Configure the ``pyg_ext`` logger for command-line use.

    Args:
        verbose: ``0`` warnings, ``1`` info, ``2`` (or more) debug.

    Raises:
        TypeError: when ``verbose`` is not an int.
        ValueError: when ``verbose`` is negative.
    """
    verbose = check_int(verbose, 'verbose', low=0)
    level = logging.WARNING - 10 * min(verbose, 2)
    logger = logging.getLogger('pyg_ext')
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter('%(levelname)s %(name)s: %(message)s'))
        logger.addHandler(handler)
    logger.setLevel(level)
