"""Files written so that an interruption never leaves a half-written one: write to a temporary name beside the
target, flush and fsync, then rename over it (``os.replace`` is atomic on one file system).

One temporary-name scheme: ``.<name>.<pid>.tmp`` in the target's folder (hidden, and the writer's process id tells
a cleaner whether its writer still runs). :func:`sha256_file` is the one file checksum of the package.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path


def temp_path(path: str | os.PathLike) -> Path:
    """The temporary name a writer of ``path`` uses: ``<folder>/.<name>.<pid>.tmp``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def is_temp_name(name: str) -> bool:
    """True for a name made by :func:`temp_path` (any process)."""
    parts = name.rsplit(".", 2)
    return name.startswith(".") and len(parts) == 3 and parts[1].isdigit() and parts[2] == "tmp"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """fsync the finished temporary file ``tmp``, then rename it to ``path`` (atomic); returns ``path``."""
    _fsync(Path(tmp))
    os.replace(tmp, path)
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """``with atomic_path(p) as tmp: <write tmp>`` -> ``tmp`` fsynced and renamed to ``p`` when the block ends
    without an error; on an error ``tmp`` is removed and ``p`` is left as it was. Creates ``p``'s folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (write, fsync, rename); returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def digest_file(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file (``hashlib`` algorithm name), read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file."""
    return digest_file(path, "sha256")
