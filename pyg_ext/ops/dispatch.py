"""Backend choice: Triton kernels on CUDA where they win, torch elsewhere.

The backend is ``'auto'`` (default), ``'triton'`` or ``'torch'``; set it
globally with :func:`set_backend`, for a block with :func:`use_backend`, or
per call with the ``backend=`` argument of the ops. ``'auto'`` takes Triton
only when

* the tensor is on CUDA and ``triton`` is installed,
* the dtype is float16, bfloat16 or float32 (float64 is left to torch), and
* the case is one where Triton was *measured* ahead of the best torch op
  on this kind of GPU: see :data:`RULES`.

**No GPU was available when this release was made**, so :data:`RULES`
ships empty and ``'auto'`` runs torch everywhere until :func:`calibrate`
(or ``pyg-ext bench scatter --calibrate``) has timed both backends on your
GPU; it then enables Triton only where it was at least ``margin`` times
faster, and can save the rules to a JSON file that :func:`load_rules`
reads back (``PYG_EXT_SCATTER_RULES=path`` loads it at import). With
``PYG_EXT_AUTOCALIBRATE=1`` the first CUDA call calibrates once (about a
minute) and caches the rules per GPU model and versions
(:func:`rules_cache_path`); later processes just load them. A Triton call
that fails under ``'auto'`` (say, a compiler error on an untested GPU) warns
once and falls back to torch for that op.

``'triton'`` forces the kernels, also on CPU tensors when the process runs
under ``TRITON_INTERPRET=1`` (how the tests exercise them without a GPU).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from pyg_ext.typing import has_package

BACKENDS = ('auto', 'triton', 'torch')
_state = {'backend': 'auto'}

OPS = ('segment', 'scatter', 'spmm')
REDUCES = ('sum', 'mean', 'max', 'min')

#: op -> reduce -> smallest ``E * F`` at which ``'auto'`` picks Triton on
#: CUDA; ``None`` (or a missing entry) means torch. Empty until
#: :func:`calibrate` or :func:`load_rules` fills it.
RULES: dict[str, dict[str, int | None]] = {op: {} for op in OPS}
_failed: set[tuple[str, str]] = set()
_calibrated = False

_TRITON_DTYPES = (torch.float16, torch.bfloat16, torch.float32)
# read once (no import): a cached function call would make dynamo warn
_HAS_TRITON = has_package('triton')


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f'backend must be a str, got {type(name).__name__} '
                        f'{name!r}')
    if name not in BACKENDS:
        raise ValueError(f"unknown backend '{name}'; use one of {BACKENDS}")
    return name


def set_backend(name: str) -> None:
    """Set the process-wide backend (``'auto'``, ``'triton'``, ``'torch'``).

    Raises :class:`TypeError` for a non-string and :class:`ValueError` for
    an unknown backend name."""
    _state['backend'] = _check_name(name)


def get_backend() -> str:
    """The process-wide backend."""
    return _state['backend']


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Use backend ``name`` inside a ``with`` block (errors as for
    :func:`set_backend`, raised on entering)."""
    _check_name(name)
    old = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(old)


def interpreting() -> bool:
    """Whether Triton runs on the CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get('TRITON_INTERPRET', '0') == '1'


def triton_usable(device: torch.device) -> bool:
    """Whether the Triton kernels can run on ``device`` at all."""
    if not _HAS_TRITON:
        return False
    if device.type == 'cuda':
        return True
    return device.type == 'cpu' and interpreting()


def choose(op: str, src: torch.Tensor, reduce: str, numel: int,
           backend: str | None = None) -> str:
    """Return ``'triton'`` or ``'torch'`` for one call of ``op``."""
    name = backend or get_backend()
    if name not in BACKENDS:
        raise ValueError(f"unknown backend '{name}'; use one of {BACKENDS}")
    if name == 'torch' or reduce not in ('sum', 'mean', 'max', 'min'):
        return 'torch'
    if not src.is_floating_point() or not triton_usable(src.device):
        if name == 'triton' and src.is_floating_point():
            raise RuntimeError(
                f"backend='triton' needs triton and a CUDA tensor (or "
                f"TRITON_INTERPRET=1 for CPU tensors); got {src.device}")
        return 'torch'
    if name == 'triton':
        return 'triton'
    # auto
    if src.device.type != 'cuda' or src.dtype not in _TRITON_DTYPES:
        return 'torch'
    if not _calibrated and os.environ.get('PYG_EXT_AUTOCALIBRATE') == '1':
        autocalibrate(src.device)
    threshold = RULES.get(op, {}).get(reduce)
    if threshold is None or numel < threshold or (op, reduce) in _failed:
        return 'torch'
    return 'triton'


def mark_failed(op: str, reduce: str, err: BaseException) -> None:
    """Route ``(op, reduce)`` to torch for the rest of the process after a
    Triton failure under ``'auto'`` (warns once)."""
    import warnings
    if (op, reduce) not in _failed:
        _failed.add((op, reduce))
        warnings.warn(f'pyg_ext.ops: Triton {op}({reduce!r}) failed '
                      f'({type(err).__name__}: {err}); using torch instead',
                      RuntimeWarning, stacklevel=3)


def load_rules(path: str) -> dict[str, dict[str, int | None]]:
    """Read rules written by :func:`calibrate` into :data:`RULES`."""
    import json
    with open(path) as f:
        data = json.load(f)
    rules = data.get('rules', data)
    for op, per in rules.items():
        if op not in OPS:
            raise ValueError(f"unknown op '{op}' in {path}")
        RULES[op] = {r: (None if v is None else int(v))
                     for r, v in per.items()}
    return RULES


def calibrate(device: str | torch.device = 'cuda',
              sizes: tuple[int, ...] = (1 << 14, 1 << 17, 1 << 20, 1 << 23),
              features: int = 64, margin: float = 1.1,
              dtype: torch.dtype = torch.float32, reduces: tuple[str, ...]
              = REDUCES, path: str | None = None,
              timer: object = None) -> dict[str, dict[str, int | None]]:
    """Time Triton against torch for every op and reduce at ``sizes``
    (values of ``E * F``; power-law degrees, average 10) and set
    :data:`RULES` so that ``'auto'`` takes Triton from the smallest size
    from which on Triton was at least ``margin`` times faster at every
    larger size. Writes the rules and timings as JSON to ``path`` if
    given. Returns the rules."""
    import json

    from pyg_ext.ops._torch import index2ptr

    dev = torch.device(device)
    if not triton_usable(dev):
        raise RuntimeError(f'Triton cannot run on {dev}')
    if timer is None:
        timer = _default_timer(dev)
    gen = torch.Generator(device='cpu').manual_seed(0)
    timings: list[dict[str, object]] = []
    rules: dict[str, dict[str, int | None]] = {op: {} for op in OPS}
    for op in OPS:
        for reduce in reduces:
            wins: list[tuple[int, bool]] = []
            for numel in sizes:
                E = max(numel // features, 16)
                N = max(E // 10, 2)
                idx = _powerlaw(E, N, gen).to(dev)
                src = torch.randn(E, features, generator=gen).to(dev, dtype)
                srt, _ = idx.sort()
                ptr = index2ptr(srt, N)
                run = _case(op, reduce, src, idx, srt, ptr, N)
                t_tr = timer(lambda r=run: r('triton'))  # type: ignore
                t_to = timer(lambda r=run: r('torch'))  # type: ignore
                timings.append({'op': op, 'reduce': reduce, 'numel': E *
                                features, 'triton_ms': t_tr,
                                'torch_ms': t_to})
                wins.append((E * features, t_to >= margin * t_tr))
            threshold = None
            for i, (numel, _) in enumerate(wins):
                if all(w for _, w in wins[i:]):
                    threshold = numel
                    break
            rules[op][reduce] = threshold
    for op in OPS:
        RULES[op] = dict(rules[op])
    if path is not None:
        with open(path, 'w') as f:
            json.dump({'device': str(dev), 'rules': rules,
                       'timings': timings}, f, indent=2)
    return rules


def _case(op: str, reduce: str, src: torch.Tensor, idx: torch.Tensor,
          srt: torch.Tensor, ptr: torch.Tensor, n: int
          ) -> Callable[[str], torch.Tensor]:
    """The call that :func:`calibrate` times for ``op``, by backend."""
    from pyg_ext.ops import functional as fn
    if op == 'segment':
        return lambda b: fn.segment(src, ptr, reduce, index=srt, backend=b)
    if op == 'scatter':
        return lambda b: fn.scatter(src, idx, 0, n, reduce, backend=b)
    x = src[:n]
    return lambda b: fn.spmm_csr(ptr, idx, x, None, reduce, row=srt,
                                 backend=b)


def rules_cache_path(device: torch.device) -> str:
    """Where :func:`autocalibrate` keeps the rules of this GPU model and
    software versions (``$PYG_EXT_CACHE`` or ``~/.cache/pyg_ext``)."""
    import re

    import triton
    name = torch.cuda.get_device_name(device)
    tag = re.sub(r'[^A-Za-z0-9.]+', '_', f'{name}_torch{torch.__version__}_'
                 f'triton{triton.__version__}')
    root = os.environ.get('PYG_EXT_CACHE',
                          os.path.join(os.path.expanduser('~'), '.cache',
                                       'pyg_ext'))
    return os.path.join(root, f'scatter_rules_{tag}.json')


def autocalibrate(device: torch.device) -> None:
    """Load this GPU's cached rules, or calibrate once and cache them.
    Called by :func:`choose` when ``PYG_EXT_AUTOCALIBRATE=1`` (never while
    ``torch.compile`` traces)."""
    global _calibrated
    if torch.compiler.is_compiling():
        return
    _calibrated = True  # also on failure: try once per process
    path = rules_cache_path(device)
    if os.path.exists(path):
        load_rules(path)
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        calibrate(device, path=path)
    except Exception as e:  # keep torch everywhere
        import warnings
        warnings.warn(f'pyg_ext.ops: calibration failed ({e}); using torch',
                      RuntimeWarning, stacklevel=2)


def _autoload() -> None:
    global _calibrated
    path = os.environ.get('PYG_EXT_SCATTER_RULES')
    if path:
        load_rules(path)
        _calibrated = True


def _powerlaw(E: int, N: int, gen: torch.Generator) -> torch.Tensor:
    """``E`` group ids in ``[0, N)`` with Zipf(1) weights (degree
    exponent about 2), hubs at random ids."""
    w = 1.0 / torch.arange(1, N + 1, dtype=torch.float64)
    r = torch.multinomial(w, E, replacement=True, generator=gen)
    return torch.randperm(N, generator=gen)[r]


def _default_timer(dev: torch.device) -> object:
    if dev.type == 'cuda':
        from triton.testing import do_bench

        def cuda_timer(f: object) -> float:
            return float(do_bench(f, warmup=10, rep=40,  # type: ignore
                                  return_mode='median'))
        return cuda_timer

    import time

    def cpu_timer(f: object) -> float:
        f()  # type: ignore
        t0 = time.perf_counter()
        f()  # type: ignore
        return (time.perf_counter() - t0) * 1e3
    return cpu_timer


__all__ = ['BACKENDS', 'OPS', 'REDUCES', 'RULES', 'autocalibrate',
           'calibrate', 'choose', 'get_backend', 'interpreting', 'load_rules',
           'mark_failed', 'rules_cache_path', 'set_backend', 'triton_usable',
           'use_backend']

_autoload()
