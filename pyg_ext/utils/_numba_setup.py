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
waits. Loading numba kernels costs seconds even from a warm cache (0.6-2.7 s
of CPU for numba's compiler set-up), and 1-40 s of CPU to compile with an
empty cache, more than a first call on a typical input takes on the exact
numpy / LAPACK / scipy path. So the first call gets ``None`` (the caller runs
its exact fallback) and :func:`start_loading` starts, once per process:

* with an empty (or stale) disk cache, a **compiler subprocess**
  (``python -c``, no fork: the same on Linux, macOS and Windows) that imports
  the kernel module, runs its ``warmup()`` (compiling every kernel for the
  argument types the callers pass) and writes numba's disk cache, while a
  watcher thread of this process waits for it without holding the GIL. A
  compilation in a thread of this process (the old way) held the GIL for
  long stretches and slowed the exact path serving meanwhile 2-4x (issue
  #25). The child runs at niceness +5 (:data:`CHILD_NICE`). When the child
  exits, the watcher loads the now-cached kernels (0.6-2.7 s of CPU) and
  calls after that get the module. Two processes compiling the same module
  take turns on a lock file in the cache directory (the second one then
  loads from the cache). A child that fails is reported with one warning
  (its last stderr lines) and this process keeps the exact path;
* with the kernels already in the disk cache, or without a writable cache
  directory (a child's compilation could not be shared), or when no
  interpreter can be started (frozen applications), a background **thread**
  that imports the module and runs its ``warmup()`` in this process.

``PYG_EXT_NUMBA_BACKGROUND`` selects this: unset (or ``1``, ``process``) as
above, ``thread`` always the in-process thread, ``0`` (``false``, ``no``,
``off``) loads in the foreground instead (the call then waits, as before).
:func:`wait_for_kernels` waits for the background work (explicit
``backend='numba'`` requests, tests).

Importing this module does not import numba.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ['background_mode', 'default_cache_dir', 'kernel_state',
           'kernels_if_ready',
           'cached_on_disk', 'load_kernels', 'njit', 'numba_cache_dir',
           'start_loading',
           'wait_for_kernels']

logger = logging.getLogger(__name__)

#: environment variable of pyg_ext's cache root (also used by the scatter
#: autocalibration); numba kernels go to its ``numba`` subdirectory
CACHE_ENV = 'PYG_EXT_CACHE'
#: environment variable: ``0`` loads kernels in the foreground (waiting),
#: ``thread`` compiles them in a thread of this process, anything else in a
#: compiler subprocess when the disk cache is empty
BACKGROUND_ENV = 'PYG_EXT_NUMBA_BACKGROUND'
_OFF = ('0', 'false', 'no', 'off')
#: niceness added to the compiler subprocess (POSIX): background work, so
#: on a machine with no idle core it yields to the caller's own process
CHILD_NICE = 5
# the compiler subprocess: the parent's sys.path (so that it imports this
# very pyg_ext and its dependencies), then the kernel module's warmup
_PATH_ENV = '_PYG_EXT_PARENT_SYS_PATH'
_CHILD = ('import os, sys\n'
          'if hasattr(os, "nice"):\n'
          '    os.nice({nice})\n'
          'sys.path[:0] = [p for p in os.environ.pop({env!r}, "").split('
          '{sep!r}) if p and p not in sys.path]\n'
          'from pyg_ext.utils._numba_setup import _compile_in_child\n'
          '_compile_in_child({module!r})\n')

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


def background_mode() -> str:
    """How :func:`start_loading` loads kernels, from
    ``PYG_EXT_NUMBA_BACKGROUND``: ``'off'`` (``0``, ``false``, ``no``,
    ``off``: in the calling thread, waiting), ``'thread'`` (a thread of this
    process) or ``'process'`` (anything else, the default: a compiler
    subprocess when the disk cache is empty, else a thread)."""
    value = os.environ.get(BACKGROUND_ENV, '1').strip().lower()
    if value in _OFF:
        return 'off'
    return 'thread' if value == 'thread' else 'process'


def background_loading() -> bool:
    """Whether :func:`kernels_if_ready` loads kernels in the background
    (``PYG_EXT_NUMBA_BACKGROUND`` unset or not one of ``0``, ``false``,
    ``no``, ``off``)."""
    return background_mode() != 'off'


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


def _finish(module: str, mod: ModuleType | None, what: str) -> None:
    """Record the outcome of a background load and wake the waiters."""
    with _bg_lock:
        if mod is None:
            _bg_state[module] = 'failed'
        else:
            _bg_modules[module] = mod
            _bg_state[module] = 'ready'
        event = _bg_done.get(module)
    if mod is not None:
        logger.info('numba kernels for %s ready', what)
    if event is not None:
        event.set()


def _background(module: str, what: str, seconds: int) -> None:
    try:
        mod = _load_and_warm(module, what, seconds)
    except BaseException:  # pragma: no cover - never leave waiters hanging
        mod = None
    _finish(module, mod, what)


@contextlib.contextmanager
def _file_lock(path: str) -> Any:
    """An exclusive lock on ``path`` (created) while the block runs, so that
    two processes do not compile the same kernels at once; best effort (no
    lock where the platform or the file system refuses one)."""
    try:
        handle = open(path, 'a+b')  # noqa: SIM115 - closed below
    except OSError:
        yield
        return
    try:
        try:
            if os.name == 'nt':  # pragma: no cover - Windows
                import msvcrt
                for _ in range(120):  # LK_LOCK itself gives up after 10 s
                    try:
                        msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                        break
                    except OSError:
                        continue
            else:
                import fcntl
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except (ImportError, OSError):  # pragma: no cover - e.g. NFS
            pass
        yield
    finally:
        handle.close()  # releases the lock


def _lock_path(cache_dir: str, module: str) -> str:
    return os.path.join(cache_dir, module.rsplit('.', 1)[-1] + '.lock')


def _compiling_elsewhere(cache_dir: str, module: str) -> bool:
    """Whether another process's compiler child holds ``module``'s lock
    right now (its cache index may be partial: some kernels written, others
    not yet). ``False`` where locks are not available."""
    if os.name == 'nt':  # pragma: no cover - Windows
        return False
    try:
        import fcntl
        with open(_lock_path(cache_dir, module), 'a+b') as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except (ImportError, OSError):  # pragma: no cover - no locks here
        return False
    return False


def _compile_in_child(module: str) -> None:
    """Body of the compiler subprocess: import ``module`` and run its
    ``warmup()`` so that every kernel lands in the disk cache (the parent
    sets ``NUMBA_CACHE_DIR`` to its cache directory). Holds a lock file
    while compiling: a second process compiling the same module waits, then
    loads the kernels from the cache. Raises on failure (non-zero exit)."""
    cache_dir = numba_cache_dir()
    if cache_dir is None:
        raise RuntimeError('no writable numba cache directory')
    with _file_lock(_lock_path(cache_dir, module)):
        mod = importlib.import_module(module)
        warm = getattr(mod, 'warmup', None)
        if warm is not None:
            warm()


def _spawn_compiler(module: str, what: str,
                    seconds: int) -> tuple[subprocess.Popen, str] | None:
    """Start the compiler subprocess for ``module`` (``(process, log
    path)``), or ``None`` when a thread of this process should load the
    kernels instead: they are in the disk cache already (loading them is
    not a compilation, unless another process's child is still writing
    them), no cache directory is writable (the child's work could not be
    shared) or no interpreter can be started."""
    if getattr(sys, 'frozen', False) or not sys.executable:
        return None
    cache_dir = numba_cache_dir()
    if cache_dir is None or (cached_on_disk(module)
                             and not _compiling_elsewhere(cache_dir, module)):
        return None
    env = dict(os.environ)
    env['NUMBA_CACHE_DIR'] = cache_dir
    env[BACKGROUND_ENV] = '0'  # the child itself compiles in the foreground
    env[_PATH_ENV] = os.pathsep.join(p for p in sys.path if p)
    code = _CHILD.format(env=_PATH_ENV, sep=os.pathsep, module=module,
                         nice=CHILD_NICE)
    options: dict[str, Any] = {}
    if os.name == 'nt':  # pragma: no cover - no console window
        options['creationflags'] = getattr(subprocess, 'CREATE_NO_WINDOW', 0)
    log = None
    try:
        fd, log = tempfile.mkstemp(prefix=module.rsplit('.', 1)[-1] + '.',
                                   suffix='.log', dir=cache_dir)
        with os.fdopen(fd, 'wb') as err:
            proc = subprocess.Popen(
                [sys.executable, '-c', code], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err, env=env,
                close_fds=True, **options)
    except (OSError, ValueError) as exc:
        logger.info('could not start a compiler process for %s (%s: %s); '
                    'compiling in a background thread', what,
                    type(exc).__name__, exc)
        if log is not None:
            with contextlib.suppress(OSError):
                os.remove(log)
        return None
    logger.info('compiling numba kernels for %s in a background process '
                '(first use, ~%d s; cached afterwards in %s)', what, seconds,
                cache_dir)
    return proc, log


def _await_compiler(module: str, what: str, seconds: int,
                    proc: subprocess.Popen, log: str) -> None:
    """Watcher thread: wait for the compiler subprocess (without the GIL),
    then load the kernels it cached; one warning and the exact path when it
    failed."""
    mod = None
    try:
        code = proc.wait()
        if code == 0:
            mod = _load_and_warm(module, what, seconds)
        else:
            try:
                with open(log, 'rb') as f:
                    tail = f.read()[-2000:].decode(errors='replace')
            except OSError:  # pragma: no cover - log removed
                tail = ''
            lines = [ln for ln in tail.strip().splitlines() if ln.strip()]
            _warn_once(module + ':child', (
                f'numba kernels for {what} failed to compile in a '
                f'background process (exit code {code}: '
                f'{lines[-1] if lines else "no output"}; log: {log}); '
                'using the slower non-compiled path'))
            log = ''  # keep it for the user
    except BaseException:  # pragma: no cover - never leave waiters hanging
        mod = None
    finally:
        if log:
            with contextlib.suppress(OSError):
                os.remove(log)
        _finish(module, mod, what)


def kernels_if_ready(module: str, what: str, seconds: int,
                     start: bool = True) -> ModuleType | None:
    """The kernel module ``module`` if its kernels are compiled and loaded,
    else ``None`` (the caller runs its exact fallback), never waiting.

    Unless it already ran, ``start`` starts the background load
    (:func:`start_loading`: a compiler subprocess, or a thread when the
    kernels are in the disk cache); callers pass ``start=False`` and call
    :func:`start_loading` after their fallback finished, so that the
    loading does not compete with it for the GIL. ``None`` without numba
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
    """Start loading ``module``'s kernels in the background (once per
    process; see the module docstring): a compiler subprocess when the disk
    cache is empty, else a thread that imports the module and runs its
    ``warmup()`` (loading every kernel from the disk cache). Returns the
    module when it is ready already (or was just loaded in the foreground:
    ``PYG_EXT_NUMBA_BACKGROUND=0``), else ``None``."""
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
    mode = background_mode()
    if mode == 'off':
        _background(module, what, seconds)
        with _bg_lock:
            return _bg_modules.get(module)
    # the low-level start does not wait for the thread to be scheduled
    # (threading.Thread.start() does, up to a GIL switch interval, inside
    # the caller's first call); everything else happens in that thread
    import _thread
    _thread.start_new_thread(_load_in_background,
                             (module, what, seconds, mode == 'process'))
    return None


def _load_in_background(module: str, what: str, seconds: int,
                        process: bool) -> None:
    """Background thread of :func:`start_loading`: start the compiler
    subprocess and wait for it (``process``, empty disk cache), else load
    (or compile) the kernels in this thread."""
    threading.current_thread().name = ('pyg_ext-numba-'
                                       + module.rsplit('.', 1)[-1])
    child = None
    if process:
        try:
            child = _spawn_compiler(module, what, seconds)
        except Exception:  # pragma: no cover - fall back to the thread
            logger.exception('compiler process for %s', what)
    if child is not None:
        _await_compiler(module, what, seconds, *child)
    else:
        _background(module, what, seconds)


def _after_fork_in_child() -> None:
    """A forked child (e.g. a DataLoader worker) has none of the parent's
    threads: forget loads that were in flight, so that it can start its
    own, and the locks a parent thread may have held."""
    global _bg_lock, _lock
    _bg_lock = threading.Lock()
    _lock = threading.RLock()
    for module, state in list(_bg_state.items()):
        if state == 'loading':
            del _bg_state[module]
            _bg_done.pop(module, None)


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def cached_on_disk(module: str) -> bool:
    """Whether ``module``'s kernels have an up-to-date index in the numba
    cache directory (so loading them costs about a second, not a
    compilation). Checks the directory numba's locator uses for a user cache
    dir (``<parent>_<sha1 of the source directory>``) without importing
    numba. An index older than the module's source is stale (numba would
    recompile) and does not count."""
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
    try:
        source = os.stat(spec.origin).st_mtime
    except OSError:
        return False
    for index in glob.glob(os.path.join(glob.escape(cache_dir), sub,
                                        f'{name}.*.nbi')):
        try:
            if os.stat(index).st_mtime >= source:
                return True
        except OSError:  # removed meanwhile
            continue
    return False


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
