"""Shared machinery for bench suites: timing, mean ± std, tables, JSON.

Benchmarks compare against an anchor *in the same run* and report ratios, not
lone times. Every suite gets ``--root``, ``--seeds``, ``--json`` and
``--progress`` from :mod:`pyg_ext.bench`.

Option types (``positive_int``, ``int_list``, ``choice_list``, ...) are
``argparse`` ``type=`` callables: a bad value is reported by argparse with
the option's name, before the run starts. :func:`dataset_errors` turns a
dataset that is absent offline into one line naming the dataset and folder.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import math
import os
import platform
import socket
import ssl
import statistics
import sys
import time
import urllib.error
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import torch

logger = logging.getLogger(__name__)


# --- option types ------------------------------------------------------------

def _int(text: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected an integer, got {text!r}') from None


def _float(text: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected a number, got {text!r}') from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(
            f'expected a finite number, got {text!r}')
    return value


def positive_int(text: str) -> int:
    """``type=`` for an integer ``>= 1``.

    Raises:
        argparse.ArgumentTypeError: for anything else (argparse then names
            the option).
    """
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def nonneg_int(text: str) -> int:
    """``type=`` for an integer ``>= 0``.

    Raises:
        argparse.ArgumentTypeError: for anything else.
    """
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f'must be >= 0, got {value}')
    return value


def positive_float(text: str) -> float:
    """``type=`` for a finite number ``> 0``.

    Raises:
        argparse.ArgumentTypeError: for anything else.
    """
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f'must be > 0, got {value:g}')
    return value


def nonneg_float(text: str) -> float:
    """``type=`` for a finite number ``>= 0``.

    Raises:
        argparse.ArgumentTypeError: for anything else.
    """
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f'must be >= 0, got {value:g}')
    return value


def probability(text: str) -> float:
    """``type=`` for a number in ``[0, 1]``.

    Raises:
        argparse.ArgumentTypeError: for anything else.
    """
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f'must lie in [0, 1], got {value:g}')
    return value


def dropout_rate(text: str) -> float:
    """``type=`` for a dropout probability in ``[0, 1)``.

    Raises:
        argparse.ArgumentTypeError: for anything else.
    """
    value = _float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(
            f'must lie in [0, 1), got {value:g}')
    return value


def _items(text: str) -> list[str]:
    items = [t.strip() for t in str(text).split(',') if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError(
            f'expected a comma-separated list, got {text!r}')
    return items


def int_list(text: str, low: int | None = None) -> list[int]:
    """``type=`` for a comma-separated list of integers (each ``>= low``).

    Raises:
        argparse.ArgumentTypeError: for an empty list, a non-integer or a
            value below ``low``.
    """
    out = []
    for item in _items(text):
        try:
            value = int(float(item)) if 'e' in item.lower() else int(item)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'expected comma-separated integers, got {item!r} in '
                f'{text!r}') from None
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(
                f'values must be >= {low}, got {value} in {text!r}')
        out.append(value)
    return out


def positive_int_list(text: str) -> list[int]:
    """``type=`` for a comma-separated list of integers ``>= 1`` (``1e4``
    notation accepted).

    Raises:
        argparse.ArgumentTypeError: see :func:`int_list`.
    """
    return int_list(text, low=1)


def float_list(text: str) -> list[float]:
    """``type=`` for a comma-separated list of finite numbers.

    Raises:
        argparse.ArgumentTypeError: for an empty list or a non-number.
    """
    out = []
    for item in _items(text):
        try:
            out.append(_float(item))
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f'expected comma-separated numbers, got {item!r} in '
                f'{text!r}') from None
    return out


def choice_list(choices: Sequence[str], *, allow_all: bool = False,
                allow_empty: bool = False, what: str = 'value'
                ) -> Callable[[str], list[str]]:
    """A ``type=`` for a comma-separated subset of ``choices`` (with
    ``allow_all``, ``'all'`` means every choice; with ``allow_empty``, ``''``
    is the empty list). ``what`` names an item in messages (``'unknown op
    'gemm'``).

    Raises:
        argparse.ArgumentTypeError: (from the callable) for an empty list or
            an unknown item.
    """
    choices = tuple(choices)

    def parse(text: str) -> list[str]:
        if allow_empty and not str(text).strip(' ,'):
            return []
        items = [t.lower() for t in _items(text)]
        if allow_all and items == ['all']:
            return list(choices)
        bad = [t for t in items if t not in choices]
        if bad:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(repr(b) for b in bad)}; choose "
                f"from "
                f"{', '.join(choices)}" + (" or 'all'" if allow_all else ''))
        return items

    parse.__name__ = 'choice_list'
    return parse


def device_arg(text: str) -> str:
    """``type=`` of ``--device``: ``'auto'``, ``'cpu'`` or ``'cuda[:i]'``
    (checked against the devices present).

    Raises:
        argparse.ArgumentTypeError: for an unknown device, or CUDA when no
            CUDA device is available.
    """
    text = str(text).strip().lower()
    if text == 'auto':
        return text
    try:
        dev = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(
            f"expected 'auto', 'cpu' or 'cuda[:i]', got {text!r}") from None
    if dev.type == 'cuda':
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(
                f'{text}: no CUDA device is available here (torch '
                f'{torch.__version__}); use cpu')
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(
                f'{text}: only {torch.cuda.device_count()} CUDA device(s)')
    elif dev.type != 'cpu':
        raise argparse.ArgumentTypeError(
            f"expected 'auto', 'cpu' or 'cuda[:i]', got {text!r}")
    return text


# --- datasets ----------------------------------------------------------------

class DatasetMissingError(FileNotFoundError):
    """A dataset is not under the data root and could not be downloaded."""


#: Modules whose exceptions mean "the download failed".
_NETWORK_MODULES = ('urllib', 'http', 'socket', 'ssl', 'aiohttp', 'fsspec',
                    'requests', 'urllib3', 'asyncio')
#: Exception types that mean "the download failed" (a plain OSError such as
#: a PermissionError under the root does not).
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError, TimeoutError, socket.gaierror, socket.herror,
    ssl.SSLError, urllib.error.URLError, http.client.HTTPException)


def _download_failure(exc: BaseException) -> BaseException | None:
    """The network error behind ``exc`` (itself or a cause), else ``None``.
    Errors that pyg_ext raised itself (already one clear line) are left
    alone."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        here = Path(tb.tb_frame.f_code.co_filename).resolve()
        package = Path(__file__).resolve().parents[1]
        if package in here.parents and isinstance(
                exc, (FileNotFoundError, ValueError)):
            return None
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        module = type(e).__module__.split('.')[0]
        if isinstance(e, _NETWORK_ERRORS) or module in _NETWORK_MODULES:
            return e
        e = e.__cause__ or e.__context__
    return None


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, 'reason', None) or str(exc) or type(exc).__name__
    text = ' '.join(str(reason).split())
    return text if len(text) <= 160 else text[:157] + '...'


class _HoldDownloadNotices:
    """A stderr stand-in that holds back ``Downloading <url>`` notices (PyG
    prints them before it tries the network) and forwards the rest."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.held: list[str] = []
        self._holding = False

    def write(self, text: str) -> int:
        if text.startswith('Downloading '):
            self.held.append(text)
            self._holding = not text.endswith('\n')
            return len(text)
        if self._holding and text == '\n':
            self.held[-1] += text
            self._holding = False
            return len(text)
        self._holding = False
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextlib.contextmanager
def dataset_errors(name: str, folder: str | os.PathLike[str],
                   created: str | os.PathLike[str] | None = None
                   ) -> Iterator[None]:
    """Load a dataset inside this block: when it is absent and downloading
    it fails (offline), raise one :class:`DatasetMissingError` line naming
    the dataset, the folder to put its files in and the download error,
    instead of the network library's traceback. ``Downloading ...`` notices
    printed meanwhile are shown only when the block succeeds. ``created``:
    the dataset's own folder; when the block created it and failed, it is
    removed again if it holds no files (a half-made folder would make the
    next attempt fail differently).

    Raises:
        DatasetMissingError: the dataset is missing and the download failed.
    """
    folder = os.fspath(folder)
    fresh = created is not None and not os.path.exists(created)
    stream = _HoldDownloadNotices(sys.stderr)
    sys.stderr = stream  # type: ignore[assignment]
    try:
        yield
    except Exception as exc:
        if fresh:
            _remove_empty_tree(Path(created))  # type: ignore[arg-type]
        failure = _download_failure(exc)
        if failure is None:
            raise
        for line in stream.held:
            logger.debug('%s', line.rstrip())
        raise DatasetMissingError(
            f"dataset '{name}' is missing under {folder} and downloading it "
            f'failed ({type(failure).__name__}: {_reason(failure)}); '
            f'download it where there is network and copy it into '
            f'{os.fspath(created) if created is not None else folder} (or '
            'pass --root)') from exc
    else:
        for line in stream.held:
            stream.stream.write(line)
    finally:
        sys.stderr = stream.stream


def _remove_empty_tree(path: Path) -> None:
    """Remove ``path`` if it is a tree of empty folders."""
    if not path.is_dir() or any(p.is_file() or p.is_symlink()
                                for p in path.rglob('*')):
        return
    for sub in sorted(path.rglob('*'), key=lambda p: len(p.parts),
                      reverse=True):
        sub.rmdir()
    path.rmdir()


def load_registered(name: str, root: str | os.PathLike[str] | None,
                    **kwargs: Any) -> Any:
    """:func:`pyg_ext.datasets.get_dataset` with a dataset that is missing
    offline reported as one :class:`DatasetMissingError` line.

    Raises:
        UnknownDatasetError: for an unregistered name.
        DatasetMissingError: the dataset is absent and cannot be downloaded.
    """
    from pyg_ext.datasets import get_dataset, get_spec
    from pyg_ext.utils.data_root import resolve_root
    spec = get_spec(name)
    folder = resolve_root(root) / spec.family
    with dataset_errors(spec.name, folder, created=(
            folder / spec.name if spec.family == 'tu' else None)):
        return get_dataset(name, root, **kwargs)


# --- timing and reports ------------------------------------------------------


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and unbiased standard deviation (0 for a single value), as OGB
    reports."""
    vals = [float(v) for v in values]
    if not vals:
        return math.nan, math.nan
    if len(vals) == 1:
        return vals[0], 0.0
    return statistics.fmean(vals), statistics.stdev(vals)


def fmt_mean_std(values: Sequence[float], digits: int = 3, scale: float = 1.0
                 ) -> str:
    """Format ``values`` as ``'mean ± std'`` (``'value (n=1)'`` for a
    single value: its spread is unknown, not 0)."""
    m, s = mean_std([v * scale for v in values])
    if len(values) == 1:
        return f'{m:.{digits}f} (n=1)'
    return f'{m:.{digits}f} ± {s:.{digits}f}'


def time_fn(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1,
            sync: bool = False) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn`` after ``warmup``
    calls. With ``sync``, CUDA is synchronised around each call."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        if sync and torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if sync and torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times


def seeds_from_arg(seeds: int | str | Sequence[int]) -> list[int]:
    """``--seeds 5`` means seeds 0..4; ``--seeds 3,7`` an explicit list.

    Raises:
        ValueError: for a count below 1, an empty list, a non-integer or a
            negative seed.
    """
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f'--seeds must be >= 1, got {seeds}')
        return list(range(seeds))
    if isinstance(seeds, str):
        parts = [p.strip() for p in seeds.split(',') if p.strip()]
        if not parts:
            raise ValueError(f'--seeds needs a count or a list, got '
                             f'{seeds!r}')
        try:
            if len(parts) == 1 and ',' not in seeds:
                return seeds_from_arg(int(parts[0]))
            out = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f'--seeds must be a count or comma-separated '
                             f'integers, got {seeds!r}') from None
    else:
        out = [int(s) for s in seeds]
    if any(s < 0 for s in out):
        raise ValueError(f'--seeds must be >= 0, got {seeds!r}')
    twice = first_repeated(out)
    if twice is not None:  # the same run again skews mean +- std
        raise ValueError(f'--seeds lists seed {twice} more than once '
                         f'({seeds!r})')
    return out


def first_repeated(values: Sequence[Any]) -> Any:
    """The first value of ``values`` seen before (``None``: all distinct);
    a seed or split listed twice would count the same run twice."""
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            return v
        seen.add(v)
    return None


def seeds_type(text: str) -> list[int]:
    """``type=`` of ``--seeds`` (see :func:`seeds_from_arg`).

    Raises:
        argparse.ArgumentTypeError: for a bad count or list.
    """
    try:
        return seeds_from_arg(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            str(e).removeprefix('--seeds ')) from None


def format_table(rows: Sequence[dict[str, Any]],
                 columns: Sequence[str] | None = None) -> str:
    """Render dict rows as a GitHub-flavoured markdown table."""
    if not rows:
        return '(no rows)'
    cols = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c, '')) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells))
              for i, c in enumerate(cols)]
    line = '| ' + ' | '.join(c.ljust(w) for c, w in zip(cols, widths)) + ' |'
    sep = '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
    body = ['| ' + ' | '.join(v.ljust(w) for v, w in zip(row, widths)) + ' |'
            for row in cells]
    return '\n'.join([line, sep, *body])


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f'{v:.4g}'
    return str(v)


def environment() -> dict[str, Any]:
    """Hardware and versions, stored beside every JSON result."""
    import torch_geometric

    env: dict[str, Any] = {
        'python': platform.python_version(),
        'platform': platform.platform(),
        'processor': platform.processor() or platform.machine(),
        'cpu_count': os.cpu_count(),
        'torch': torch.__version__,
        'torch_geometric': torch_geometric.__version__,
        'torch_threads': torch.get_num_threads(),
        'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS'),
        'cuda': torch.cuda.get_device_name(0)
        if torch.cuda.is_available() else None,
    }
    from pyg_ext import __version__
    env['pyg_ext'] = __version__
    return env


def write_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write ``payload`` plus :func:`environment` to ``path``."""
    out = {'environment': environment(), **payload}
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(out, f, indent=2, default=_json_default)
        f.write('\n')


def _json_default(obj: Any) -> Any:
    if torch.is_tensor(obj):
        return obj.tolist()
    if hasattr(obj, 'tolist'):
        return obj.tolist()
    return str(obj)


# --- distributed runs ---------------------------------------------------------

def address_arg(text: str) -> str:
    """``type=`` of ``--address``: ``auto``, ``host:port`` or
    ``ray://host:port``.

    Raises:
        argparse.ArgumentTypeError: for anything else.
    """
    from pyg_ext.distributed import check_address
    try:
        out = check_address(text)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    assert out is not None
    return out


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--engine {local,ray}``, ``--address`` and ``--cells-json`` for a
    suite whose grid runs through :func:`pyg_ext.distributed.run_grid`."""
    group = parser.add_argument_group('distributed runs')
    group.add_argument('--engine', default='local', choices=('local', 'ray'),
                       help="'local' (this process) or 'ray' (one task per "
                       'grid cell; pip install "pyg_ext[distributed]")')
    group.add_argument('--address', default=None, type=address_arg,
                       help="Ray cluster with --engine ray: 'auto' (the one "
                       "started with 'ray start' here) or host:port "
                       '(default: a new local cluster)')
    group.add_argument('--cells-json', default=None, metavar='JSON',
                       help='stream finished grid cells into this file and '
                       'skip the cells already there (resume; default: '
                       'none)')


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """``engine`` / ``address`` / ``json_path`` keywords of
    :func:`~pyg_ext.distributed.run_grid` from the options of
    :func:`add_engine_arguments` (defaults when the suite has none).

    Raises:
        ValueError: ``--address`` without ``--engine ray``.
    """
    engine = getattr(args, 'engine', 'local') or 'local'
    address = getattr(args, 'address', None)
    if address is not None and engine != 'ray':
        raise ValueError('--address needs --engine ray')
    return {'engine': engine, 'address': address,
            'json_path': getattr(args, 'cells_json', None)}
