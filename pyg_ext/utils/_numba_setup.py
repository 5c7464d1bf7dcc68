"""Where pyg_ext's numba kernels keep their on-disk cache, and how they load.

numba's ``cache=True`` writes compiled kernels next to the module source
(``__pycache__`` inside site-packages, left behind by ``pip uninstall``) and,
when no location is writable, refuses to define the function at all
(``RuntimeError: cannot cache function``). pyg_ext's kernel modules therefore
decorate with :func:`njit` from this module, which

* points numba's cache at a per-user directory (:func:`numba_cache_dir`):
  ``$NUMBA_CACHE_DIR`` when the user set it, else ``$PYG_EXT_CACHE/numba``,
  else ``${XDG_CACHE_HOME:-~/.cache}/pyg_ext/numba``;
* compiles without a cache (with one warning) when that directory is not
  writable.

The directory is handed to numba through :data:`numba.config.CACHE_DIR` only
while pyg_ext's kernels are being defined, so it takes effect even when numba
was imported before (numba reads ``NUMBA_CACHE_DIR`` once, at import: changing
``os.environ`` later is not seen by its cache locator), and the user's own
numba functions keep numba's defaults.

:func:`load_kernels` imports a kernel module, logs one INFO line before the
first (slow) compilation and returns ``None`` with one warning when the module
cannot be loaded, so that callers fall back to their numpy path.

:func:`kernels_if_ready` is what the ``backend='auto'`` paths call: it never
waits. Loading numba kernels costs seconds even from a warm cache (about 1.5 s
of CPU for numba's compiler set-up, 5-25 s to compile with an empty cache),
more than a first call on a typical input takes on the exact numpy / LAPACK /
scipy path. So the first call starts one background thread that imports the
module and compiles (or loads) its kernels by calling the module's
``warmup()``, and gets ``None``: the caller runs its exact fallback. Calls
after the thread finished get the module. Set ``PYG_EXT_NUMBA_BACKGROUND=0``
to load in the foreground instead (the call then waits, as before).
:func:`wait_for_kernels` waits for the thread (explicit ``backend='numba'``
requests, tests).

Importing this module does not import numba.
"""

from __future__ import annotations

import glob
import importlib
import logging
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ['default_cache_dir', 'kernel_state', 'kernels_if_ready',
           'cached_on_disk', 'load_kernels', 'njit', 'numba_cache_dir',
           'start_loading',
           'wait_for_kernels']

logger = logging.getLogger(__name__)

#: environment variable of pyg_ext's cache root (also used by the scatter
#: autocalibration); numba kernels go to its ``numba`` subdirectory
CACHE_ENV = 'PYG_EXT_CACHE'
#: environment variable: ``0`` loads kernels in the foreground (waiting)
BACKGROUND_ENV = 'PYG_EXT_NUMBA_BACKGROUND'

_lock = threading.RLock()
_resolved: tuple[str | None, str] | None = None  # (dir or None, origin)
_warned: set[str] = set()
# background loading: module -> 'loading' | 'ready' | 'failed' (own lock:
# the importing thread holds ``_lock`` while numba defines the kernels)
_bg_lock = threading.Lock()
_bg_state: dict[str, str] = {}
_bg_modules: dict[str, ModuleType] = {}
_bg_done: dict[str, threading.Event] = {}


def default_cache_dir() -> str:
    """pyg_ext's numba cache directory when ``NUMBA_CACHE_DIR`` is unset:
    ``$PYG_EXT_CACHE/numba``, else ``${XDG_CACHE_HOME:-~/.cache}/pyg_ext/
    numba``."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return os.path.join(os.path.expanduser(root), 'numba')
    xdg = os.environ.get('XDG_CACHE_HOME')
    if not xdg or not os.path.isabs(xdg):  # the XDG spec ignores relative
        xdg = os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(xdg, 'pyg_ext', 'numba')


def _writable(path: str) -> bool:
    """Whether ``path`` is (or can be made) a directory we can write in.
    Tries it for real: permission bits say nothing for root."""
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def _warn_once(key: str, message: str) -> None:
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def numba_cache_dir() -> str | None:
    """The directory pyg_ext's numba kernels cache into (created if needed),
    or ``None`` when it is not writable (kernels then compile in every
    process). Resolved once per process: ``$NUMBA_CACHE_DIR`` if set (also
    through numba's own config), else :func:`default_cache_dir`."""
    global _resolved
    with _lock:
        if _resolved is None:
            user = os.environ.get('NUMBA_CACHE_DIR', '')
            if not user and 'numba' in sys.modules:  # e.g. .numba_config
                user = getattr(sys.modules['numba'].config, 'CACHE_DIR', '')
            path, origin = ((user, 'NUMBA_CACHE_DIR') if user
                            else (default_cache_dir(), CACHE_ENV if
                                  os.environ.get(CACHE_ENV) else 'default'))
            path = os.path.abspath(os.path.expanduser(path))
            if _writable(path):
                _resolved = (path, origin)
            else:
                _resolved = (None, path)
                _warn_once('nocache', (
                    f'numba cache directory {path} is not writable: '
                    "pyg_ext's numba kernels compile without a cache (again "
                    'in every process). Set NUMBA_CACHE_DIR or '
                    f'{CACHE_ENV} to a writable directory.'))
        return _resolved[0]


def _reset() -> None:
    """Forget the resolved directory (tests)."""
    global _resolved
    with _lock:
        _resolved = None
        _warned.clear()


def njit(*args: Any, **options: Any) -> Any:
    """:func:`numba.njit` whose ``cache=True`` caches into
    :func:`numba_cache_dir` (or is dropped when that is not writable).
    Used as ``@njit`` or ``@njit(cache=True, ...)``."""
    if args and callable(args[0]) and not options and len(args) == 1:
        return _define(args[0], {})
    if args:
        raise TypeError('pyg_ext njit takes keyword options only (no '
                        'signatures)')

    def decorate(fn: Callable[..., Any]) -> Any:
        return _define(fn, options)
    return decorate


def _define(fn: Callable[..., Any], options: dict[str, Any]) -> Any:
    import numba
    if not options.get('cache'):
        return numba.njit(**options)(fn)
    cache_dir = numba_cache_dir()
    if cache_dir is None:
        return numba.njit(**{**options, 'cache': False})(fn)
    # numba's cache locator reads config.CACHE_DIR when the function is
    # defined; set it for this definition only
    with _lock:
        old = numba.config.CACHE_DIR
        numba.config.CACHE_DIR = cache_dir
        try:
            return numba.njit(**options)(fn)
        finally:
            numba.config.CACHE_DIR = old


def _is_cached(module: ModuleType) -> bool:
    """Whether some kernel of ``module`` has an index in its cache dir."""
    name = module.__name__.rsplit('.', 1)[-1]
    paths = set()
    for value in vars(module).values():
        cache = getattr(value, '_cache', None)
        path = getattr(cache, '_cache_path', None)
        if isinstance(path, str):
            paths.add(path)
    return any(glob.glob(os.path.join(glob.escape(p), f'{name}.*.nbi'))
               for p in paths)


def load_kernels(module: str, what: str, seconds: int) -> ModuleType | None:
    """Import the numba kernel module ``module`` (``None`` without numba, or
    with one warning when it fails to load: the caller falls back to its
    numpy path).

    Logs one INFO line the first time the kernels have to be compiled
    (``what`` names the feature, ``seconds`` is the rough compile time).
    """
    from pyg_ext.typing import has_package
    if not has_package('numba'):
        return None
    with _lock:
        already = module in sys.modules
        try:
            mod = importlib.import_module(module)
        except Exception as exc:  # broken numba install, no cache locator
            _warn_once(module, (
                f'numba kernels for {what} could not be loaded '
                f'({type(exc).__name__}: {exc}); using the slower '
                'non-compiled path'))
            return None
        if not already:
            cache_dir = numba_cache_dir()
            if cache_dir is None:
                logger.info('compiling numba kernels for %s (~%d s; no '
                            'writable cache directory, so again in every '
                            'process)', what, seconds)
            elif not _is_cached(mod):
                logger.info('compiling numba kernels for %s (first use, '
                            '~%d s; cached afterwards in %s)', what,
                            seconds, cache_dir)
        return mod


def background_loading() -> bool:
    """Whether :func:`kernels_if_ready` loads kernels in a background thread
    (``PYG_EXT_NUMBA_BACKGROUND`` unset or not one of ``0``, ``false``,
    ``no``, ``off``)."""
    value = os.environ.get(BACKGROUND_ENV, '1').strip().lower()
    return value not in ('0', 'false', 'no', 'off')


def kernel_state(module: str) -> str:
    """``'idle'`` (not requested), ``'loading'`` (background thread
    running), ``'ready'`` or ``'failed'`` for the kernel module
    ``module``."""
    with _bg_lock:
        return _bg_state.get(module, 'idle')


def _load_and_warm(module: str, what: str, seconds: int) -> ModuleType | None:
    """Import ``module`` and compile (or load from the cache) its kernels
    by calling its ``warmup()``; ``None`` (with one warning) on failure."""
    mod = load_kernels(module, what, seconds)
    if mod is None:
        return None
    warm = getattr(mod, 'warmup', None)
    if warm is not None:
        try:
            warm()
        except Exception as exc:  # pragma: no cover - broken toolchain
            _warn_once(module + ':warmup', (
                f'numba kernels for {what} failed to compile '
                f'({type(exc).__name__}: {exc}); using the slower '
                'non-compiled path'))
            return None
    return mod


def _background(module: str, what: str, seconds: int) -> None:
    try:
        mod = _load_and_warm(module, what, seconds)
    except BaseException:  # pragma: no cover - never leave waiters hanging
        mod = None
    with _bg_lock:
        if mod is None:
            _bg_state[module] = 'failed'
        else:
            _bg_modules[module] = mod
            _bg_state[module] = 'ready'
        event = _bg_done[module]
    if mod is not None:
        logger.info('numba kernels for %s ready', what)
    event.set()


def kernels_if_ready(module: str, what: str, seconds: int,
                     start: bool = True) -> ModuleType | None:
    """The kernel module ``module`` if its kernels are compiled and loaded,
    else ``None`` (the caller runs its exact fallback), never waiting.

    Unless it already ran, ``start`` starts a background thread
    (:func:`start_loading`); callers pass ``start=False`` and call
    :func:`start_loading` after their fallback finished, so that the
    compilation does not compete with it for the GIL. ``None`` without numba
    or when loading failed (one warning). With
    ``PYG_EXT_NUMBA_BACKGROUND=0`` the kernels are loaded in the calling
    thread instead (it waits)."""
    with _bg_lock:
        state = _bg_state.get(module)
        if state == 'ready':
            return _bg_modules[module]
    if state is None and (start or not background_loading()):
        return start_loading(module, what, seconds)
    return None


def start_loading(module: str, what: str, seconds: int) -> ModuleType | None:
    """Start loading ``module``'s kernels in a background thread (once per
    process): it imports the module and runs its ``warmup()``, compiling
    every kernel for the argument types the callers use, or loading them
    from the disk cache. Returns the module when it is ready already (or
    was just loaded in the foreground: ``PYG_EXT_NUMBA_BACKGROUND=0``),
    else ``None``."""
    from pyg_ext.typing import has_package
    with _bg_lock:
        state = _bg_state.get(module)
        if state == 'ready':
            return _bg_modules[module]
        if state is not None:  # loading or failed
            return None
        _bg_done[module] = threading.Event()
        if not has_package('numba'):
            _bg_state[module] = 'failed'
            _bg_done[module].set()
            return None
        _bg_state[module] = 'loading'
        foreground = not background_loading()
        if not foreground:
            name = 'pyg_ext-numba-' + module.rsplit('.', 1)[-1]
            threading.Thread(target=_background, args=(module, what, seconds),
                             name=name, daemon=True).start()
    if foreground:
        _background(module, what, seconds)
        with _bg_lock:
            return _bg_modules.get(module)
    return None


def cached_on_disk(module: str) -> bool:
    """Whether ``module``'s kernels have an index in the numba cache
    directory (so loading them costs seconds, not a compilation). Checks the
    directory numba's locator uses for a user cache dir
    (``<parent>_<sha1 of the source directory>``) without importing numba.
    A stale entry (the source changed since) reads as cached."""
    import hashlib
    import importlib.util
    cache_dir = numba_cache_dir()
    if cache_dir is None:
        return False
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.origin:
        return False
    src_dir = os.path.dirname(os.path.abspath(spec.origin))
    sub = (os.path.basename(src_dir) + '_'
           + hashlib.sha1(src_dir.encode()).hexdigest())
    name = module.rsplit('.', 1)[-1]
    return bool(glob.glob(os.path.join(glob.escape(cache_dir), sub,
                                       f'{name}.*.nbi')))


def wait_for_kernels(module: str, what: str, seconds: int,
                     timeout: float | None = None) -> ModuleType | None:
    """:func:`kernels_if_ready`, waiting (at most ``timeout`` seconds) for
    the kernels: for explicit ``backend='numba'`` requests and tests.
    ``None`` without numba, when loading failed, or on timeout."""
    mod = kernels_if_ready(module, what, seconds)
    if mod is not None:
        return mod
    with _bg_lock:
        event = _bg_done.get(module)
    if event is not None:
        event.wait(timeout)
    with _bg_lock:
        return _bg_modules.get(module)
