"""Backend choice: Triton kernels on CUDA where they win, torch elsewhere.

The backend is ``'auto'`` (default), ``'triton'`` or ``'torch'``; set it
globally with :func:`set_backend`, for a block with :func:`use_backend`, or
per call with the ``backend=`` argument of the ops. ``'auto'`` takes Triton
only when

* the tensor is on CUDA and ``triton`` is installed,
* the dtype is float16, bfloat16 or float32 (float64 is left to torch), and
* the case is one where Triton was *measured* ahead of the best torch op
  on this kind of GPU: see :data:`RULES`.

:data:`RULES` starts empty. On a GPU listed in :data:`BUILTIN_RULES`
(measured: the NVIDIA H200) the first CUDA call under ``'auto'`` loads
that GPU's rules; elsewhere ``'auto'`` runs torch until :func:`calibrate`
(or ``pyg-ext bench scatter --calibrate``) has timed both backends on your
GPU; it then enables Triton only where it was at least ``margin`` times
faster, and can save the rules to a JSON file that :func:`load_rules`
reads back (``PYG_EXT_SCATTER_RULES=path`` loads it at import). Rules
loaded or calibrated take precedence over the built-in ones.

Whatever the rules say, two choices on CUDA follow measurements on an
H200 (docs/scatter.md, "GPU"): ``segment`` of a graph whose rows are even
(:func:`degree_path` says ``'segment_reduce'``), unless they are short
(mean length below :data:`SHORT_ROWS`) and large, runs torch's segment
kernel, which streamed rows of 50 entries at 95 % of the copy bandwidth
where the Triton kernel reached 87 % (rows of 2 entries: the Triton kernel
1.15-2.10x faster from E * F = 1.6e8, so large short even rows follow the
rules); and the torch path of
``segment`` on a skewed graph scatters over the sorted ids (``index_add_``
/ ``scatter_reduce_``), 4-20x faster there than torch's segment kernel,
which walks each hub row serially (:func:`segment_cuda_path`). With
``PYG_EXT_AUTOCALIBRATE=1`` (set before the first CUDA call under
``'auto'``) the first CUDA call calibrates once (about a
minute) and caches the rules per GPU model and versions
(:func:`rules_cache_path`); later processes just load them. A Triton call
that fails under ``'auto'`` (say, a compiler error on an untested GPU) warns
once and falls back to torch for that op.

``'triton'`` forces the kernels, also on CPU tensors when the process runs
under ``TRITON_INTERPRET=1`` (how the tests exercise them without a GPU).
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from pyg_ext.ops._torch import _stamp
from pyg_ext.typing import has_package

logger = logging.getLogger(__name__)

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

#: GPU name (``torch.cuda.get_device_name``) -> the rules ``'auto'`` loads
#: on it when none were loaded or calibrated. NVIDIA H200 (torch
#: 2.11.0+cu130, triton 3.6.0, the ``'tiles'`` segment kernel): from the
#: scatter matrix of ``examples/gpu_check.py`` of 2026-12-04 (E 1e4-1e7 x
#: degree 2/10/50 x F 1-256 x power-law/uniform x fp32/bf16;
#: docs/scatter.md, "GPU"), the smallest ``E * F`` from which the Triton
#: path beat the torch path that ``'auto'`` takes otherwise in every
#: measured case (``segment``: skewed and short rows; ``spmm``: the gather
#: + scatter path, since float32 ``sum``/``mean`` without gradients run
#: ``torch.sparse.mm``). Below ~6e7 the Triton call's fixed host cost
#: (~100 us for the launcher on that machine) decides. ``scatter``: no
#: size from which the Triton atomics won in every measured case.
BUILTIN_RULES: dict[str, dict[str, dict[str, int | None]]] = {
    'NVIDIA H200': {
        'segment': {'sum': 64_000_000, 'mean': 64_000_000,
                    'max': 6_400_000, 'min': 6_400_000},
        'scatter': {'sum': None, 'mean': None, 'max': None, 'min': None},
        'spmm': {'sum': 64_000_000, 'mean': 64_000_000,
                 'max': 6_400_000, 'min': 6_400_000},
    },
}
_builtin_tried = [False]

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
    _new_token()  # cached CPU plans are valid for one backend setting


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
           backend: str | None = None, *, ptr: torch.Tensor | None = None,
           needs_grad: bool = False) -> str:
    """Return ``'triton'`` or ``'torch'`` for one call of ``op``.

    Under ``'auto'`` on CUDA, before :data:`RULES`: ``segment`` of a graph
    whose rows ``ptr`` are even (:func:`segment_cuda_path`), unless short
    (mean length below :data:`SHORT_ROWS`, from :data:`SHORT_ROWS_FROM`
    values on), and float32 ``spmm`` sum/mean
    without ``needs_grad`` (``torch.sparse.mm``) below
    :data:`SPARSE_MM_EDGES` entries, run torch, the faster path there
    whatever the size (measured on an H200)."""
    name = backend or _state['backend']
    if name not in BACKENDS:
        raise ValueError(f"unknown backend '{name}'; use one of {BACKENDS}")
    if name != 'triton' and src.device.type != 'cuda':
        return 'torch'  # the fast answer for every CPU call under 'auto'
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
    if not torch.compiler.is_compiling():
        if op == 'segment' and ptr is not None:
            skewed, short = _row_profile(ptr)
            if not skewed and not (short and numel >= SHORT_ROWS_FROM):
                return 'torch'
        if (op == 'spmm' and reduce in ('sum', 'mean') and not needs_grad
                and src.dtype == torch.float32 and src.dim() == 2
                and numel < SPARSE_MM_EDGES * max(src.size(1), 1)):
            return 'torch'
    # the first CUDA call under auto (the environment read once: a lookup
    # costs ~1 us, a tenth of a small torch op on an H200)
    if not _calibrated and not _builtin_tried[0]:
        if os.environ.get('PYG_EXT_AUTOCALIBRATE') == '1':
            autocalibrate(src.device)
        elif not torch.compiler.is_compiling():
            load_builtin_rules(torch.cuda.get_device_name(src.device))
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


def load_builtin_rules(name: str) -> bool:
    """Load :data:`BUILTIN_RULES` of the GPU called ``name`` into
    :data:`RULES` unless rules were loaded or calibrated already (tried
    once per process). Returns whether it loaded any."""
    _builtin_tried[0] = True
    rules = BUILTIN_RULES.get(name)
    if rules is None or _calibrated or any(RULES[op] for op in OPS):
        return False
    for op in OPS:
        RULES[op] = dict(rules.get(op, {}))
    logger.info('pyg_ext.ops: built-in Triton rules of %s loaded', name)
    return True


def load_rules(path: str) -> dict[str, dict[str, int | None]]:
    """Read rules written by :func:`calibrate` into :data:`RULES`."""
    import json
    _builtin_tried[0] = True
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
              sizes: tuple[int, ...] = (1 << 14, 1 << 17, 1 << 20, 1 << 23,
                                        1 << 26),
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
    _builtin_tried[0] = True
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


# ------------------------------------------------------------ CPU paths
#
# On CPU every op runs torch ops, but which ones wins depends on the case:
# ``torch._segment_reduce`` beats ``scatter_add_`` by 1.5-3x at F = 1 and
# loses by 3-6x at F = 64, ``torch.sparse.mm`` beats gather + scatter except
# at tiny sizes, and so on. :func:`cpu_path` picks the implementation of an
# (op, reduce) from a table indexed by the size bucket of ``E`` (entries)
# and ``F`` (features per entry), filled from single-thread measurements
# (``pyg-ext bench scatter --calibrate``, which also writes a table for
# this machine to :func:`cpu_table_path`; it is loaded at import when
# present, else the built-in :data:`CPU_DEFAULTS` apply).

#: (op, reduce) -> the implementations :func:`cpu_path` chooses between
#: (the first is the fallback). ``min`` follows ``max``. ``'by_degree'``
#: is one of the others, chosen per graph by :func:`degree_path`.
CPU_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ('scatter', 'sum'): ('index_add', 'scatter_add', 'numba'),
    ('scatter', 'mean'): ('index_add', 'scatter_add', 'scatter_reduce',
                          'numba'),
    ('scatter', 'max'): ('scatter_reduce', 'numba'),
    ('segment', 'sum'): ('index_add', 'scatter_add', 'segment_reduce',
                         'numba'),
    ('segment', 'mean'): ('index_add', 'scatter_add', 'segment_reduce',
                          'scatter_reduce', 'numba'),
    ('segment', 'max'): ('scatter_reduce', 'segment_reduce', 'by_degree',
                         'numba'),
    ('softmax_ptr', 'sum'): ('scatter', 'segment_reduce'),
    ('spmm', 'sum'): ('sort_csr', 'gather_index_add', 'gather_scatter'),
    ('spmm', 'mean'): ('sort_csr', 'gather_index_add', 'gather_scatter'),
    ('spmm', 'max'): ('gather_scatter', 'sort_csr'),
    ('spmm_csr', 'sum'): ('sparse_mm', 'sparse_mv', 'gather_index_add',
                          'numba'),
    ('spmm_csr', 'mean'): ('sparse_mm', 'sparse_mm_mean', 'sparse_mv',
                           'gather_index_add', 'numba'),
    ('spmm_csr', 'max'): ('sparse_mm', 'gather_scatter', 'numba'),
}

#: the E and F bucket edges (``E < 10**4.5`` is bucket 0, ...)
E_EDGES = (31623, 316228)
F_EDGES = (4, 32)

#: built-in choices, ``(op, reduce) -> {(e_bucket, f_bucket): path}``
#: (buckets 0, 1, 2 ~ E 1e4, 1e5, 1e6 and F 1, 16, 64): the table of the
#: calibration run recorded in docs/scatter.md (``run15``, 2-core x86-64
#: VM, one thread, torch 2.13.0+cpu, numba 0.68.1); between paths within
#: ~10 % of each other the choice is noise. ``'numba'`` cells run
#: :data:`NUMBA_FALLBACKS`' path where the kernels cannot run
CPU_DEFAULTS: dict[tuple[str, str], dict[tuple[int, int], str]] = {
    ('scatter', 'max'): {
        (0, 0): 'numba', (0, 1): 'numba', (0, 2): 'numba', (1, 0): 'numba',
        (1, 1): 'numba', (1, 2): 'numba', (2, 0): 'numba', (2, 1): 'numba',
        (2, 2): 'numba'
    },
    ('scatter', 'mean'): {
        (0, 0): 'numba', (0, 1): 'numba', (0, 2): 'numba',
        (1, 0): 'scatter_add', (1, 1): 'numba', (1, 2): 'numba',
        (2, 0): 'index_add', (2, 1): 'numba', (2, 2): 'numba'
    },
    ('scatter', 'sum'): {
        (0, 0): 'numba', (0, 1): 'numba', (0, 2): 'numba', (1, 0): 'numba',
        (1, 1): 'numba', (1, 2): 'numba', (2, 0): 'numba', (2, 1): 'numba',
        (2, 2): 'numba'
    },
    ('segment', 'max'): {
        (0, 0): 'numba', (0, 1): 'numba', (0, 2): 'numba', (1, 0): 'numba',
        (1, 1): 'numba', (1, 2): 'numba', (2, 0): 'numba', (2, 1): 'numba',
        (2, 2): 'numba'
    },
    ('segment', 'mean'): {
        (0, 0): 'numba', (0, 1): 'numba', (0, 2): 'numba', (1, 0): 'numba',
        (1, 1): 'numba', (1, 2): 'numba', (2, 0): 'numba', (2, 1): 'numba',
        (2, 2): 'numba'
    },
    ('segment', 'sum'): {
        (0, 0): 'segment_reduce', (0, 1): 'numba', (0, 2): 'numba',
        (1, 0): 'numba', (1, 1): 'numba', (1, 2): 'numba', (2, 0): 'numba',
        (2, 1): 'numba', (2, 2): 'numba'
    },
    ('softmax_ptr', 'sum'): {
        (0, 0): 'segment_reduce', (0, 1): 'scatter', (0, 2): 'scatter',
        (1, 0): 'segment_reduce', (1, 1): 'scatter', (1, 2): 'scatter',
        (2, 0): 'segment_reduce', (2, 1): 'segment_reduce', (2, 2): 'scatter'
    },
    ('spmm', 'max'): {
        (0, 0): 'sort_csr', (0, 1): 'sort_csr', (0, 2): 'sort_csr',
        (1, 0): 'sort_csr', (1, 1): 'sort_csr', (1, 2): 'sort_csr',
        (2, 0): 'sort_csr', (2, 1): 'sort_csr', (2, 2): 'sort_csr'
    },
    ('spmm', 'mean'): {
        (0, 0): 'sort_csr', (0, 1): 'sort_csr', (0, 2): 'sort_csr',
        (1, 0): 'sort_csr', (1, 1): 'sort_csr', (1, 2): 'sort_csr',
        (2, 0): 'sort_csr', (2, 1): 'sort_csr', (2, 2): 'sort_csr'
    },
    ('spmm', 'sum'): {
        (0, 0): 'sort_csr', (0, 1): 'sort_csr', (0, 2): 'sort_csr',
        (1, 0): 'sort_csr', (1, 1): 'sort_csr', (1, 2): 'sort_csr',
        (2, 0): 'sort_csr', (2, 1): 'sort_csr', (2, 2): 'sort_csr'
    },
    ('spmm_csr', 'max'): {
        (0, 0): 'numba', (0, 1): 'numba', (0, 2): 'numba', (1, 0): 'numba',
        (1, 1): 'numba', (1, 2): 'numba', (2, 0): 'numba', (2, 1): 'numba',
        (2, 2): 'sparse_mm'
    },
    ('spmm_csr', 'mean'): {
        (0, 0): 'numba', (0, 1): 'sparse_mv', (0, 2): 'numba',
        (1, 0): 'numba', (1, 1): 'sparse_mm', (1, 2): 'numba',
        (2, 0): 'sparse_mv', (2, 1): 'sparse_mm', (2, 2): 'numba'
    },
    ('spmm_csr', 'sum'): {
        (0, 0): 'numba', (0, 1): 'sparse_mm', (0, 2): 'numba',
        (1, 0): 'sparse_mv', (1, 1): 'sparse_mm', (1, 2): 'numba',
        (2, 0): 'sparse_mv', (2, 1): 'sparse_mm', (2, 2): 'numba'
    }
}

#: ``segment`` max/min where a table says ``'numba'`` but the kernels
#: cannot run (numba not installed, still loading, a dtype other than
#: float32/float64, a non-contiguous ``src``, ``torch.compile``): the
#: choice of the torch paths alone per cell (the built-in table before
#: the ``numba`` path, calibration run ``run10`` of docs/scatter.md)
NUMBA_FALLBACK: dict[tuple[int, int], str] = {
    (0, 0): 'segment_reduce', (0, 1): 'scatter_reduce',
    (0, 2): 'scatter_reduce', (1, 0): 'segment_reduce',
    (1, 1): 'scatter_reduce', (1, 2): 'scatter_reduce',
    (2, 0): 'segment_reduce', (2, 1): 'by_degree', (2, 2): 'scatter_reduce'
}


#: the same for the other ops with a ``'numba'`` path: the choice of the
#: torch paths alone per cell (the built-in table before the path, runs
#: ``run11``/``run12`` of docs/scatter.md)
NUMBA_FALLBACKS: dict[tuple[str, str], dict[tuple[int, int], str]] = {
    ('segment', 'max'): NUMBA_FALLBACK,
    ('scatter', 'max'): {},  # 'scatter_reduce' everywhere
    ('scatter', 'mean'): {
        (0, 0): 'index_add', (0, 1): 'scatter_add', (0, 2): 'scatter_reduce',
        (1, 0): 'scatter_add', (1, 1): 'index_add', (1, 2): 'index_add',
        (2, 0): 'index_add', (2, 1): 'index_add', (2, 2): 'scatter_add'
    },
    ('scatter', 'sum'): {
        (0, 0): 'scatter_add', (0, 1): 'scatter_add', (0, 2): 'scatter_add',
        (1, 0): 'scatter_add', (1, 1): 'scatter_add', (1, 2): 'index_add',
        (2, 0): 'scatter_add', (2, 1): 'scatter_add', (2, 2): 'index_add'
    },
    ('segment', 'sum'): {
        (0, 0): 'segment_reduce', (0, 1): 'segment_reduce',
        (0, 2): 'scatter_add', (1, 0): 'segment_reduce',
        (1, 1): 'segment_reduce', (1, 2): 'scatter_add',
        (2, 0): 'segment_reduce', (2, 1): 'segment_reduce', (2, 2): 'index_add'
    },
    ('segment', 'mean'): {
        (0, 0): 'segment_reduce', (0, 1): 'scatter_add',
        (0, 2): 'scatter_reduce', (1, 0): 'segment_reduce',
        (1, 1): 'segment_reduce', (1, 2): 'scatter_reduce',
        (2, 0): 'segment_reduce', (2, 1): 'segment_reduce',
        (2, 2): 'scatter_reduce'
    },
    ('spmm_csr', 'max'): {},  # 'sparse_mm' everywhere
    ('spmm_csr', 'mean'): {
        (0, 0): 'sparse_mv', (0, 1): 'sparse_mv', (0, 2): 'sparse_mm_mean',
        (1, 0): 'sparse_mv', (1, 1): 'sparse_mv', (1, 2): 'sparse_mm_mean',
        (2, 0): 'sparse_mv', (2, 1): 'sparse_mv', (2, 2): 'sparse_mm_mean'
    },
    ('spmm_csr', 'sum'): {
        (0, 0): 'sparse_mv', (0, 1): 'sparse_mm', (0, 2): 'sparse_mm',
        (1, 0): 'sparse_mv', (1, 1): 'sparse_mm', (1, 2): 'sparse_mm',
        (2, 0): 'sparse_mv', (2, 1): 'sparse_mm', (2, 2): 'sparse_mm'
    },
}


def numba_fallback(E: int, F: int, op: str = 'segment',
                   reduce: str = 'max') -> str:
    """The torch path of ``op(reduce)`` for a case with ``E`` entries of
    ``F`` features where ``'numba'`` cannot run (min follows max)."""
    key = (op, _MINMAX.get(reduce, reduce))
    return NUMBA_FALLBACKS.get(key, {}).get(
        cpu_bucket(E, F), CPU_PATHS[key][0])


#: the table in use (defaults, or the calibrated table when loaded)
CPU_TABLE: dict[tuple[str, str], dict[tuple[int, int], str]] = {}
_CPU_FORCE: dict[tuple[str, str], str] = {}
#: a token of the table in use, the forced paths and the process-wide
#: backend, part of the key of the per-graph plans that
#: :mod:`pyg_ext.ops.functional` caches (so a changed table or backend
#: builds new plans, and plans of forced paths coexist)
TABLE_GEN: list[int] = [0]
_TABLE_COUNT = [0]
_TOKENS: dict[tuple[Any, ...], int] = {}


def _new_token() -> None:
    state = (_TABLE_COUNT[0], tuple(sorted(_CPU_FORCE.items())),
             _state['backend'])
    TABLE_GEN[0] = _TOKENS.setdefault(state, len(_TOKENS))
_NO_ENTRY: dict[tuple[int, int], str] = {}
_MINMAX = {'min': 'max'}


def cpu_bucket(E: int, F: int) -> tuple[int, int]:
    """The table cell of a case with ``E`` entries of ``F`` features."""
    eb = 0 if E < E_EDGES[0] else (1 if E < E_EDGES[1] else 2)
    fb = 0 if F <= F_EDGES[0] else (1 if F <= F_EDGES[1] else 2)
    return eb, fb


def cpu_path(op: str, reduce: str, E: int, F: int) -> str:
    """The torch implementation of ``op(reduce)`` for a CPU case with ``E``
    entries of ``F`` features (names in :data:`CPU_PATHS`)."""
    key = (op, _MINMAX.get(reduce, reduce))
    if _CPU_FORCE:
        forced = _CPU_FORCE.get(key)
        if forced is not None:
            return forced
    eb = 0 if E < E_EDGES[0] else (1 if E < E_EDGES[1] else 2)
    fb = 0 if F <= F_EDGES[0] else (1 if F <= F_EDGES[1] else 2)
    path = CPU_TABLE.get(key, _NO_ENTRY).get((eb, fb))
    if path is None:
        paths = CPU_PATHS.get(key)
        return paths[0] if paths else ''
    return path


#: ``'by_degree'`` (segment max/min): a segment is *long* from this many
#: times the mean segment length on
SKEW_LONG = 8
#: ``'by_degree'``: the share of entries in long segments from which
#: ``scatter_reduce_`` runs instead of ``torch._segment_reduce``
SKEW_SHARE = 1 / 3


def degree_path(ptr: torch.Tensor) -> str:
    """The path of ``'by_degree'`` for the CSR pointer ``ptr``:
    ``'scatter_reduce'`` when more than :data:`SKEW_SHARE` of the entries
    lie in segments longer than :data:`SKEW_LONG` times the mean length
    (a skewed, power-law-like degree distribution), else
    ``'segment_reduce'``.

    Why: ``torch._segment_reduce`` walks each segment once per feature
    column, which wins on many short, even segments (E = 1e6, F = 16,
    uniform degrees: 23 ms against 34 ms for ``scatter_reduce_`` on the
    sorted index, one thread) and loses when long segments carry much of
    the data (Zipf degrees: 38-41 ms against 30-35 ms). On graphs with 5 %,
    20 % and 45 % of the entries in a few hubs, or a Zipf(0.6) law, the
    rule picked the faster path or one within 2 % (docs/scatter.md, CPU
    paths). One pass over ``ptr``; the plan that calls it is cached per
    pointer, so it runs once per graph. ``'segment_reduce'`` for a
    pointer without entries or while ``torch.compile`` traces (no
    data-dependent choice in graphs)."""
    return 'scatter_reduce' if _degree_stats(ptr)[0] else 'segment_reduce'


def _degree_stats(ptr: torch.Tensor) -> tuple[bool, int]:
    """``(skewed, entries)`` of the CSR pointer ``ptr``: the test of
    :func:`degree_path` and the number of entries it read on the way
    (``(False, 0)`` for a pointer without rows or while
    ``torch.compile`` traces)."""
    if torch.compiler.is_compiling() or ptr.numel() < 2:
        return False, 0
    lengths = ptr.diff()
    total = int(lengths.sum())
    if total <= 0:
        return False, total
    long_from = SKEW_LONG * total / lengths.numel()
    heavy = int(lengths[lengths > long_from].sum())
    return heavy > SKEW_SHARE * total, total


#: ptr id -> (weak ref, :func:`~pyg_ext.ops._torch._stamp`, skewed,
#: short) of :func:`_row_profile`
_SKEW: dict[int, tuple[Any, tuple[Any, ...], bool, bool]] = {}
#: rows are *short* below this mean length: on CUDA ``'auto'`` then lets
#: :data:`RULES` choose between Triton and torch's segment kernel even
#: for even rows (H200, E = 1e7, segment sum, Triton against the best
#: torch op: uniform degree 2 1.15-2.10x for F >= 16 (0.21x at F = 1,
#: below the sum threshold); degree 10 0.58-1.07x; degree 50 0.40-0.89x)
SHORT_ROWS = 4
#: ... from this ``E * F`` on (below it torch's segment kernel won on
#: short rows too: E = 1e6, F = 64, degree 2, Triton 0.62-0.77x; from
#: 1.6e8 on 1.15-2.10x)
SHORT_ROWS_FROM = 100_000_000
#: float32 ``spmm`` sum/mean without gradients on CUDA: ``'auto'`` runs
#: ``torch.sparse.mm`` below this many entries and lets :data:`RULES`
#: choose from it on (H200, fp32 sum, Triton time over cuSPARSE's
#: inverted: at E = 1e6 the Triton kernel ran at 0.24-0.60x of
#: ``torch.sparse.mm``'s speed for F = 16/64 and 0.37-1.31x for F = 256; at
#: E = 1e7 at 1.54-2.29x (F = 16), 1.17-1.88x (64), 0.91-1.46x (256);
#: F = 1 stays below the rules' threshold; docs/scatter.md)
SPARSE_MM_EDGES = 10_000_000
_SKEW_MAX = 64


def segment_cuda_path(ptr: torch.Tensor, reduce: str) -> str:
    """The torch implementation of ``segment`` on CUDA for the CSR pointer
    ``ptr``: ``'segment_reduce'`` (``torch._segment_reduce``) when
    :func:`degree_path` finds the rows even, else a scatter over the
    sorted ids, ``'index_add'`` for sum/mean and ``'scatter_reduce'`` for
    max/min (the :func:`~pyg_ext.ops._torch.scatter_torch` paths).

    Measured on an NVIDIA H200 (docs/scatter.md, "GPU"; E = 1e7, F = 64,
    float32): torch's segment kernel walks each row serially, so on Zipf
    degrees it took 62-76 ms where ``index_add_`` took 8-9 ms, while on
    uniform degrees 10 and 50 it took 0.86 and 0.65 ms (78 and 96 % of the
    copy bandwidth) where the scatters took 1.8-4.6 ms. The skew test costs
    two host syncs; its answer is cached per pointer (by identity, version
    and storage), so a graph reused across layers and steps pays once.
    ``'segment_reduce'`` while ``torch.compile`` traces (no data-dependent
    choice in graphs)."""
    if torch.compiler.is_compiling():
        return 'segment_reduce'
    if not _row_profile(ptr)[0]:
        return 'segment_reduce'
    return 'scatter_reduce' if reduce in ('max', 'min') else 'index_add'


def _row_profile(ptr: torch.Tensor) -> tuple[bool, bool]:
    """``(skewed, short)`` of the CSR pointer ``ptr``: :func:`degree_path`'s
    skew test and whether the mean row length is below
    :data:`SHORT_ROWS`, from the same two host syncs, cached per pointer
    (by identity, version and storage; inference tensors, which have no
    version, are not cached)."""
    try:
        stamp = _stamp(ptr)
    except RuntimeError:  # inference tensors have no version: not cached
        stamp = None
    hit = _SKEW.get(id(ptr))
    if stamp is not None and hit is not None and hit[0]() is ptr \
            and hit[1] == stamp:
        return hit[2], hit[3]
    skewed, total = _degree_stats(ptr)
    n = ptr.numel() - 1
    short = n > 0 and total < SHORT_ROWS * n
    if stamp is not None:
        if len(_SKEW) >= _SKEW_MAX:
            _SKEW.pop(next(iter(_SKEW)))
        _SKEW[id(ptr)] = (weakref.ref(ptr), stamp, skewed, short)
    return skewed, short


@contextmanager
def force_cpu_path(op: str, reduce: str, path: str) -> Iterator[None]:
    """Make :func:`cpu_path` answer ``path`` for ``(op, reduce)`` inside a
    ``with`` block (what the calibration times). Raises
    :class:`ValueError` for an unknown op, reduce or path."""
    key = (op, reduce)
    if key not in CPU_PATHS or path not in CPU_PATHS[key]:
        raise ValueError(f'unknown CPU path {path!r} for {key}; known: '
                         f'{CPU_PATHS.get(key)}')
    old = _CPU_FORCE.get(key)
    _CPU_FORCE[key] = path
    _new_token()
    try:
        yield
    finally:
        if old is None:
            _CPU_FORCE.pop(key, None)
        else:
            _CPU_FORCE[key] = old
        _new_token()


def cpu_table_path() -> str:
    """Where ``pyg-ext bench scatter --calibrate`` writes the CPU table:
    ``$PYG_EXT_CACHE/scatter_cpu_paths.json``, else
    ``${XDG_CACHE_HOME:-~/.cache}/pyg_ext/scatter_cpu_paths.json``."""
    root = os.environ.get('PYG_EXT_CACHE')
    if not root:
        xdg = os.environ.get('XDG_CACHE_HOME') or os.path.join(
            os.path.expanduser('~'), '.cache')
        root = os.path.join(xdg, 'pyg_ext')
    return os.path.join(root, 'scatter_cpu_paths.json')


def table_to_json(table: dict[tuple[str, str], dict[tuple[int, int], str]]
                  ) -> dict[str, dict[str, str]]:
    """``{'op/reduce': {'e,f': path}}`` (JSON keys are strings)."""
    return {f'{op}/{red}': {f'{e},{f}': p for (e, f), p in sorted(
        cells.items())} for (op, red), cells in sorted(table.items())}


def table_from_json(data: dict[str, dict[str, str]]
                    ) -> dict[tuple[str, str], dict[tuple[int, int], str]]:
    """Inverse of :func:`table_to_json`; raises :class:`ValueError` on an
    unknown op, reduce, cell or path."""
    table: dict[tuple[str, str], dict[tuple[int, int], str]] = {}
    for key, cells in data.items():
        op, _, red = str(key).partition('/')
        if (op, red) not in CPU_PATHS:
            raise ValueError(f'unknown op/reduce {key!r} in the CPU table')
        out: dict[tuple[int, int], str] = {}
        for cell, path in cells.items():
            e, _, f = str(cell).partition(',')
            if not (e.isdigit() and f.isdigit()) or int(e) > 2 or int(f) > 2:
                raise ValueError(f'bad cell {cell!r} for {key!r} in the CPU '
                                 f'table')
            if path not in CPU_PATHS[(op, red)]:
                raise ValueError(f'unknown path {path!r} for {key!r} in the '
                                 f'CPU table')
            out[(int(e), int(f))] = path
        table[(op, red)] = out
    return table


def set_cpu_table(table: dict[tuple[str, str], dict[tuple[int, int], str]]
                  | None) -> None:
    """Use ``table`` (merged over :data:`CPU_DEFAULTS`); ``None`` restores
    the defaults."""
    _TABLE_COUNT[0] += 1
    _new_token()
    CPU_TABLE.clear()
    for key, cells in CPU_DEFAULTS.items():
        CPU_TABLE[key] = dict(cells)
    for key, cells in (table or {}).items():
        CPU_TABLE.setdefault(key, {}).update(cells)


def candidates_json() -> dict[str, list[str]]:
    """``{'op/reduce': [paths]}``: the candidate paths of this version, which
    a calibrated table records (:func:`load_cpu_table` keeps a table's
    choices only for ops whose candidates are still the same)."""
    return {f'{op}/{red}': sorted(paths)
            for (op, red), paths in sorted(CPU_PATHS.items())}


def _current_entries(data: dict[str, Any], path: str
                     ) -> dict[str, dict[str, str]]:
    """The table of a calibration file, less what an older version or
    another torch measured: a file written under another torch version is
    dropped whole, and an op whose recorded candidates differ from this
    version's (a path added or removed since; files without the record
    predate it) keeps the built-in defaults."""
    table = data.get('table', data)
    if 'table' not in data:
        return table
    if data.get('torch', torch.__version__) != torch.__version__:
        logger.info('pyg_ext.ops: the CPU table %s was calibrated under '
                    'torch %s (this is %s); using the built-in table',
                    path, data.get('torch'), torch.__version__)
        return {}
    recorded = data.get('candidates', {})
    current = candidates_json()
    stale = [k for k in table if recorded.get(k) != current.get(k)]
    if stale:
        logger.info('pyg_ext.ops: the CPU table %s predates the candidate '
                    'paths of %s; built-in choices used there (re-run '
                    '`pyg-ext bench scatter --calibrate`)', path,
                    ', '.join(sorted(stale)))
    return {k: v for k, v in table.items() if k not in stale}


def load_cpu_table(path: str | None = None) -> bool:
    """Load the calibrated CPU table from ``path`` (default
    :func:`cpu_table_path`) if that file exists; returns whether it did.
    A malformed file is ignored with a warning (the defaults stay); the
    entries of a file calibrated under another torch version or over
    other candidate paths than this version's are ignored (logged, see
    :func:`_current_entries`)."""
    import json
    path = path or cpu_table_path()
    if not os.path.exists(path):
        return False
    try:
        with open(path) as f:
            data = json.load(f)
        table = table_from_json(data.get('table', data))  # raises if bad
        keep = _current_entries(data, path)
        set_cpu_table({key: cells for key, cells in table.items()
                       if f'{key[0]}/{key[1]}' in keep})
    except (OSError, ValueError, TypeError, AttributeError) as e:
        import warnings
        warnings.warn(f'pyg_ext.ops: ignoring the CPU dispatch table {path} '
                      f'({e})', RuntimeWarning, stacklevel=2)
        set_cpu_table(None)
        return False
    return True


__all__ = ['BACKENDS', 'BUILTIN_RULES', 'OPS', 'REDUCES', 'RULES',
           'autocalibrate',
           'calibrate', 'candidates_json', 'choose', 'cpu_path',
           'cpu_table_path',
           'degree_path', 'force_cpu_path', 'get_backend', 'interpreting',
           'load_cpu_table',
           'load_builtin_rules', 'load_rules', 'mark_failed',
           'numba_fallback', 'segment_cuda_path', 'SHORT_ROWS',
           'SHORT_ROWS_FROM',
           'SPARSE_MM_EDGES',
           'rules_cache_path', 'set_backend',
           'set_cpu_table', 'triton_usable', 'use_backend']

_autoload()
set_cpu_table(None)
load_cpu_table()
