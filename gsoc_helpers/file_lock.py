"""An exclusive lock between processes on one machine: ``with exclusive_lock(path): ...`` (``fcntl.flock`` on a lock
file that is kept; where ``fcntl`` is missing the block runs unlocked and callers rely on rename-into-place)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block; waits for other holders.
    The lock is released when the block ends or the process dies (``kill -9`` included)."""
    if fcntl is None:
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def try_exclusive_lock(path: str | os.PathLike) -> Iterator[bool]:
    """``with try_exclusive_lock(p) as held:`` -> ``held`` is True while this process holds the lock on ``p``
    (created, with its folder), False at once when another process holds it (nothing waits). The lock file is
    removed when the holder leaves; a ``kill -9``'d holder's lock is released by the kernel (the file stays and is
    reused)."""
    if fcntl is None:
        yield True
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            yield False
            return
        try:  # the previous holder may have removed the file between our open and flock: lock the new one
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield True
    finally:
        path.unlink(missing_ok=True)  # while still held: a newcomer then locks a fresh file
        os.close(fd)
