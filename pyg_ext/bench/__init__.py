"""Benchmark suites behind ``pyg-ext bench <suite>``.

A suite is a module ``pyg_ext/bench/<suite>.py`` (no leading underscore) with:

* a module docstring whose first line describes it,
* ``add_arguments(parser: argparse.ArgumentParser) -> None`` for its own
  options, and
* ``run(args: argparse.Namespace) -> dict`` that prints its report (mean ± std,
  ratios against the anchor measured in the same run) and returns a
  JSON-serialisable result.

The framework adds the options every suite shares: ``--root`` (dataset root,
see :func:`pyg_ext.utils.resolve_root`), ``--seeds``, ``--json PATH`` and
``--progress``; ``args.seeds`` arrives as a list of ints. A suite's parser
reports a bad option value as :class:`BenchArgumentError` (a
``ValueError``, one line naming the option) instead of exiting, and its help
shows every option's default (:class:`SuiteHelpFormatter`). Suites are found by
listing this package, so a new capability registers its suite by adding a
file. Run one from Python with :func:`run_suite`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType
from typing import Any

from pyg_ext.bench._common import (
    DatasetMissingError,
    environment,
    fmt_mean_std,
    format_table,
    mean_std,
    seeds_from_arg,
    seeds_type,
    time_fn,
    write_json,
)


class UnknownSuiteError(ValueError):
    """Raised for a suite name with no module in :mod:`pyg_ext.bench`."""


class BenchArgumentError(ValueError):
    """A bad suite option (unknown option, invalid value): one line that
    names the option."""


class SuiteHelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: ...)`` to an option's help unless the help already
    states its default, the option is a flag, or its default is ``None``
    (such options say what ``None`` means in their help)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ''
        if (action.nargs == 0 or action.default in (None, argparse.SUPPRESS)
                or 'default' in text.lower()):
            return text
        return f'{text} (default: %(default)s)'.strip()


class SuiteArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises :class:`BenchArgumentError` instead
    of printing the usage and exiting, so the CLI prints one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Raise :class:`BenchArgumentError` with ``message``.

        Raises:
            BenchArgumentError: always.
        """
        raise BenchArgumentError(f'{message} (see {self.prog} --help)')


def list_suites() -> list[str]:
    """Names of the available suites (without importing them)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith('_'))


def get_suite(name: str) -> ModuleType:
    """Import and return the suite module ``name``."""
    suites = list_suites()
    if name not in suites:
        raise UnknownSuiteError(
            f"unknown bench suite '{name}'; available: {', '.join(suites)}")
    module = importlib.import_module(f'{__name__}.{name}')
    for attr in ('add_arguments', 'run'):
        if not hasattr(module, attr):
            raise UnknownSuiteError(f"bench suite '{name}' defines no {attr}()")
    return module


def describe(name: str) -> str:
    """The first paragraph of a suite's docstring, on one line."""
    doc = (get_suite(name).__doc__ or '').strip()
    return ' '.join(doc.split('\n\n')[0].split())


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every suite accepts."""
    group = parser.add_argument_group('common options')
    group.add_argument('--root', default=None,
                       help='dataset root (default: $PYG_EXT_DATA, then '
                       './datasets)')
    group.add_argument('--seeds', default='3', type=seeds_type,
                       help="number of seeds (0..N-1) or a list like '0,3,7'")
    group.add_argument('--json', dest='json_path', default=None,
                       metavar='PATH', help='also write the results as JSON '
                       '(default: none)')
    group.add_argument('--progress', action=argparse.BooleanOptionalAction,
                       default=None,
                       help='show progress bars on stderr (default: on when '
                       'stderr is a terminal)')


def build_parser(name: str, prog: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of suite ``name`` (its own plus common options)."""
    module = get_suite(name)
    parser = SuiteArgumentParser(
        prog=prog or f'pyg-ext bench {name}', description=describe(name),
        formatter_class=SuiteHelpFormatter)
    module.add_arguments(parser)
    add_common_arguments(parser)
    # a suite may change a common option's default (ogb: --seeds None)
    parser.set_defaults(**getattr(module, 'COMMON_DEFAULTS', {}))
    # ... and its help (e.g. what the default means there)
    helps = getattr(module, 'COMMON_HELP', {})
    for action in parser._actions:
        if action.dest in helps:
            action.help = helps[action.dest]
    return parser


def prepare_args(args: argparse.Namespace) -> argparse.Namespace:
    """Normalise the common options (``seeds`` to a list of ints).

    Raises:
        ValueError: for invalid ``--seeds``.
    """
    try:
        if args.seeds is not None:  # None: the suite's own default
            args.seeds = seeds_from_arg(args.seeds)
    except ValueError as e:
        raise ValueError(f'invalid --seeds {args.seeds!r}: {e}') from None
    if getattr(args, 'progress', False) is None:
        # long work shows a bar by default where a person watches it
        args.progress = _stderr_is_terminal()
    return args


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def run_suite(name: str, argv: list[str] | None = None) -> dict[str, Any]:
    """Run suite ``name`` with command-line style ``argv`` and return its
    result; writes JSON when ``--json`` is given."""
    parser = build_parser(name)
    args = prepare_args(parser.parse_args(argv or []))
    result = get_suite(name).run(args)
    if args.json_path:
        write_json(args.json_path, {'suite': name, 'argv': argv or [],
                                    'result': result})
    return result


__all__ = [
    'BenchArgumentError',
    'DatasetMissingError',
    'SuiteArgumentParser',
    'SuiteHelpFormatter',
    'UnknownSuiteError',
    'add_common_arguments',
    'build_parser',
    'describe',
    'environment',
    'fmt_mean_std',
    'format_table',
    'get_suite',
    'list_suites',
    'mean_std',
    'prepare_args',
    'run_suite',
    'seeds_from_arg',
    'time_fn',
    'write_json',
]
