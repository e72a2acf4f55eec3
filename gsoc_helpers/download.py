"""Files from the internet and their checksums: one downloader (atomic, resumable by retry, tqdm progress,
sha256 checked) and one sha256 helper for the whole package."""
from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_url(url: str, dest: str | os.PathLike, expected_sha256: str | None = None,
                 progress: bool = True) -> str:
    """Download ``url`` to ``dest`` via a temporary file (renamed only when complete and verified).

    ``expected_sha256`` may be a full digest or a prefix (e.g. the 8 hex digits in a file name).
    Returns the file's sha256.  Raises OSError for network failures and truncated downloads,
    ValueError for a checksum mismatch; nothing is left at ``dest`` in either case.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part{os.getpid()}")
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url) as resp, open(tmp, "wb") as out:  # noqa: S310 (https / file URLs)
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {dest.name}",
                      disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
        if total is not None and tmp.stat().st_size != total:
            raise OSError(f"download of {url} truncated: {tmp.stat().st_size} of {total} bytes")
        digest = h.hexdigest()
        if expected_sha256 is not None and not digest.startswith(expected_sha256.lower()):
            raise ValueError(f"checksum mismatch for {url}: sha256 {digest}, expected {expected_sha256}")
        os.replace(tmp, dest)
        return digest
    finally:
        tmp.unlink(missing_ok=True)
