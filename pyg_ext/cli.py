"""The ``pyg-ext`` command line: ``info``, ``tour``, ``datasets`` and
``bench <suite>``.

Bad input (unknown suite, missing root, unknown dataset name, invalid option
values) exits with status 2 and a one-line message; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from importlib import metadata

PROG = 'pyg-ext'

#: Exceptions that mean "the user asked for something wrong".
_USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, FileNotFoundError, ImportError, KeyError)


class CLIError(Exception):
    """A one-line user-facing error."""


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cmd_info(args: argparse.Namespace) -> int:
    """Print versions, optional backends, threads and devices."""
    import torch

    import pyg_ext
    from pyg_ext.typing import OPTIONAL_PACKAGES, has_package

    rows = [('pyg_ext', pyg_ext.__version__)]
    for dist in ('torch', 'torch_geometric', 'numpy', 'scipy', 'networkx',
                 'POT', 'tqdm'):
        rows.append((dist, _version(dist) or 'MISSING'))
    print('required:')
    for name, ver in rows:
        print(f'  {name:<16} {ver}')
    print('optional backends:')
    for mod, (dist, extra) in OPTIONAL_PACKAGES.items():
        if mod == 'ot':
            continue
        ver = _version(dist) if has_package(mod) else None
        state = ver or ('present' if has_package(mod) else 'not installed')
        hint = (f"  (pip install 'pyg_ext[{extra}]')"
                if not ver and extra else '')
        print(f'  {dist:<16} {state}{hint}')
    print('runtime:')
    print(f'  python           {sys.version.split()[0]}')
    print(f'  torch threads    {torch.get_num_threads()} '
          f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f'{os.cpu_count()} cores)')
    if torch.cuda.is_available():
        dev = ', '.join(torch.cuda.get_device_name(i)
                        for i in range(torch.cuda.device_count()))
    else:
        dev = 'cpu only (no CUDA device)'
    print(f'  device           {dev}')
    print(f"  TRITON_INTERPRET {os.environ.get('TRITON_INTERPRET', 'unset')}")
    from pyg_ext.utils.data_root import ENV_VAR
    print(f"  data root        {os.environ.get(ENV_VAR) or './datasets'} "
          f'(--root, then ${ENV_VAR}, then ./datasets)')
    return 0


def cmd_tour(args: argparse.Namespace) -> int:
    """Run the tour; non-zero exit when a section fails."""
    from pyg_ext.tour import run_tour
    sections = args.sections.split(',') if args.sections else None
    results = run_tour(seed=args.seed, quick=args.quick, sections=sections)
    return 0 if all(r.ok for r in results) else 1


def cmd_datasets(args: argparse.Namespace) -> int:
    """List registered datasets and whether they are under the root."""
    from pyg_ext.datasets import list_datasets
    from pyg_ext.datasets.registry import dataset_present
    from pyg_ext.utils.data_root import resolve_root

    # a listing only looks: it must not create the (default) root
    root = resolve_root(args.root, must_exist=args.root is not None,
                        create=False)
    note = '' if root.is_dir() else ' (does not exist yet)'
    print(f'data root: {root}{note}')
    print(f"{'name':<24} {'family':<20} {'task':<6} present")
    for spec in list_datasets(args.family):
        present = root.is_dir() and dataset_present(spec.name, root)
        print(f'{spec.name:<24} {spec.family:<20} {spec.task:<6} '
              f"{'yes' if present else '-'}")
    return 0


def _check_writable(path: str) -> None:
    """Fail before a long run, not after it, when ``--json PATH`` cannot be
    written (a directory, or a folder that cannot be created or written)."""
    if os.path.isdir(path):
        raise CLIError(f'--json {path} is a directory; give a file path')
    existed = os.path.exists(path)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, 'a'):
            pass
    except OSError as e:
        raise CLIError(f'--json {path} is not writable: {e.strerror or e}'
                       ) from None
    if not existed:
        os.remove(path)


def cmd_bench(args: argparse.Namespace, rest: list[str]) -> int:
    """Dispatch to a bench suite."""
    from pyg_ext import bench

    if args.list or not args.suite:
        for name in bench.list_suites():
            print(f'{name:<14} {bench.describe(name)}')
        if not args.suite and not args.list:
            raise CLIError('bench needs a suite name (listed above)')
        return 0
    parser = bench.build_parser(args.suite, prog=f'{PROG} bench {args.suite}')
    suite_args = bench.prepare_args(parser.parse_args(rest))
    if suite_args.json_path:
        _check_writable(suite_args.json_path)
    if suite_args.root is not None:
        from pyg_ext.utils.data_root import resolve_root
        suite_args.root = str(resolve_root(suite_args.root, must_exist=True))
    t0 = time.perf_counter()
    result = bench.get_suite(args.suite).run(suite_args)
    if suite_args.json_path:
        bench.write_json(suite_args.json_path, {
            'suite': args.suite, 'argv': rest, 'result': result,
            'seconds': time.perf_counter() - t0})
        print(f'wrote {suite_args.json_path}')
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser."""
    from pyg_ext import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, description='pyg_ext: research graph learning as native '
        'PyG parts. Run `pyg-ext tour` for a report on built-in graphs.')
    parser.add_argument('--version', action='version',
                        version=f'%(prog)s {__version__}')
    parser.add_argument('-v', '--verbose', action='count', default=0,
                        help='log more (-vv for debug)')
    parser.add_argument('--debug', action='store_true',
                        help='show tracebacks instead of one-line errors')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')

    sub.add_parser('info', help='versions, optional backends, threads, device')

    p = sub.add_parser('tour', help='run every feature on built-in graphs')
    p.add_argument('--seed', type=int, default=0,
                   help='random seed (default: 0)')
    p.add_argument('--quick', action='store_true',
                   help='smaller inputs where a section offers them')
    p.add_argument('--sections', default=None,
                   help='comma-separated section names (default: all)')

    p = sub.add_parser('datasets', help='list the datasets pyg_ext knows')
    p.add_argument('--root', default=None,
                   help='dataset root (default: $PYG_EXT_DATA, then '
                   './datasets)')
    p.add_argument('--family', default=None,
                   help='only this family (tu, planetoid, ogb, ...)')

    p = sub.add_parser('bench', help='run a benchmark suite', add_help=False,
                       usage=f'{PROG} bench [--list] SUITE [suite options]')
    p.add_argument('suite', nargs='?', default=None,
                   help='the suite to run (see --list)')
    p.add_argument('--list', action='store_true', help='list the suites')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pyg-ext`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    from pyg_ext.utils.log import setup_cli_logging
    setup_cli_logging(args.verbose)
    if args.command is None:
        if rest:  # e.g. a misspelt option before any command
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        parser.print_help()
        return 2
    if rest and args.command != 'bench':
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == 'bench' and args.suite in ('-h', '--help'):
        rest, args.suite = ['--help'], None
    try:
        if args.command == 'info':
            return cmd_info(args)
        if args.command == 'tour':
            return cmd_tour(args)
        if args.command == 'datasets':
            return cmd_datasets(args)
        if args.command == 'bench':
            if args.suite is None and ('--help' in rest or '-h' in rest):
                print(f'usage: {PROG} bench [--list] SUITE [suite options]\n'
                      f'       {PROG} bench SUITE --help  (options of one '
                      'suite)\n\nsuites:')
                args.list = True
            return cmd_bench(args, rest)
    except (CLIError, *_USER_ERRORS) as e:
        if args.debug:
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
        if isinstance(e, KeyError):
            msg = msg.strip('"\'')
        print(f'{PROG}: error: {msg}', file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `pyg-ext bench --list | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f'{PROG}: interrupted', file=sys.stderr)
        return 130
    raise AssertionError(f'unhandled command {args.command}')


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
