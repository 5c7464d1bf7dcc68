"""A folder of finished matrix blocks, keyed by a hash of the run's inputs
and parameters, written atomically so that a re-run resumes."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: Bump when the block layout or a kernel's meaning changes.
FORMAT = 1


def run_key(meta: dict[str, Any], arrays: Iterable[np.ndarray]) -> str:
    """SHA-256 of ``meta`` (JSON, sorted keys) and the bytes, dtypes and
    shapes of ``arrays``."""
    h = hashlib.sha256()
    h.update(json.dumps({'format': FORMAT, **meta}, sort_keys=True,
                        default=repr).encode())
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f'|{a.dtype.str}{a.shape}|'.encode())
        h.update(a.tobytes())
    return h.hexdigest()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same
    folder and :func:`os.replace` (readers see the old or the new file,
    never a partial one)."""
    path = Path(path)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp')
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class BlockStore:
    """Finished blocks of one matrix under ``root/<name>-<key[:16]>/``.

    ``meta.json`` records what was computed (and the full key, checked on
    reuse); ``blocks/<i>_<j>.npy`` holds block ``(i, j)``; ``log.jsonl``
    gets one line per block written (``run``: the id of the writing run),
    so that a resumed run shows which blocks it recomputed.
    """

    def __init__(self, root: str | os.PathLike[str], name: str, key: str,
                 meta: dict[str, Any]) -> None:
        self.dir = Path(root) / f'{name}-{key[:16]}'
        self.blocks = self.dir / 'blocks'
        self.key = key
        self.run_id = uuid.uuid4().hex[:12]
        self.blocks.mkdir(parents=True, exist_ok=True)
        meta_path = self.dir / 'meta.json'
        if meta_path.exists():
            try:
                old = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                old = {}
            if old.get('key') != key:
                raise ValueError(
                    f'store {self.dir} holds a different run (key '
                    f'{old.get("key")!r}, this run {key!r}); remove the '
                    'folder or use another store')
        else:
            atomic_write_bytes(meta_path, json.dumps(
                {'key': key, 'format': FORMAT, **meta}, indent=1,
                default=repr).encode())

    def _path(self, block: tuple[int, int]) -> Path:
        return self.blocks / f'{block[0]}_{block[1]}.npy'

    def load(self, block: tuple[int, int],
             shape: tuple[int, int]) -> np.ndarray | None:
        """The stored block, or ``None`` when absent or unreadable (a
        damaged file is recomputed, with a warning)."""
        path = self._path(block)
        if not path.exists():
            return None
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            logger.warning('store: recomputing unreadable block %s (%s)',
                           block, exc)
            return None
        if arr.shape != tuple(shape) or arr.dtype != np.float64:
            logger.warning('store: recomputing block %s of shape %s '
                           '(expected %s)', block, arr.shape, shape)
            return None
        return arr

    def save(self, block: tuple[int, int], values: np.ndarray,
             seconds: float = float('nan')) -> None:
        """Write block ``(i, j)`` atomically and log it."""
        import io
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(values, dtype=np.float64),
                allow_pickle=False)
        atomic_write_bytes(self._path(block), buf.getvalue())
        line = json.dumps({'block': list(block), 'run': self.run_id,
                           'seconds': round(seconds, 6),
                           'time': time.time()})
        with open(self.dir / 'log.jsonl', 'a') as f:
            f.write(line + '\n')


def read_log(store_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The lines of ``log.jsonl`` of a store folder (one per block
    written, in order)."""
    path = Path(store_dir) / 'log.jsonl'
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()
            if line.strip()]


__all__ = ['BlockStore', 'atomic_write_bytes', 'read_log', 'run_key']
