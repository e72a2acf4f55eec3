"""A safe on-disk cache of reference features: ``.npz`` (no pickles) with a sha256 sidecar.

torch-fidelity's own cache reloads ``.pt`` files with ``torch.load(weights_only=False)``, so a planted file in
the cache folder would run code.  The project therefore switches that cache off and keeps reference features
here instead: ``<cache>/fidelity/<name>.npz`` holds one float32 array ``features`` [N, D]; ``<name>.npz.sha256``
holds its digest.  A file whose digest does not match, that cannot be read without pickles, or whose shape is
wrong is ignored and recomputed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..fileio import atomic_path, atomic_write_text, sha256_file


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def cache_path(cache_dir: str | os.PathLike, name: str) -> Path:
    """``<cache_dir>/<name>.npz`` with ``name`` reduced to file-name characters."""
    return Path(cache_dir) / f"{_safe_name(name)}.npz"


def load_features(path: str | os.PathLike) -> np.ndarray | None:
    """float32 [N, D] features from ``path`` if its sha256 sidecar matches and it holds no pickles, else None."""
    path = Path(path)
    sidecar = path.with_name(path.name + ".sha256")
    if not (path.is_file() and sidecar.is_file()):
        return None
    recorded = sidecar.read_text().split()[0] if sidecar.read_text().strip() else ""
    if sha256_file(path) != recorded:
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            feats = np.asarray(npz["features"])
    except (OSError, ValueError, KeyError):
        return None
    if feats.ndim != 2 or feats.dtype != np.float32 or len(feats) == 0:
        return None
    return feats


def save_features(path: str | os.PathLike, features: np.ndarray) -> Path:
    """Write float32 [N, D] ``features`` atomically, then its sha256 sidecar."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, features=np.asarray(features, dtype=np.float32))
        digest = sha256_file(tmp)
    atomic_write_text(path.with_name(path.name + ".sha256"), f"{digest}  {path.name}\n")
    return path


def cached_features(
    cache_dir: str | os.PathLike | None, name: str | None, compute: Callable[[], np.ndarray]
) -> np.ndarray:
    """Features named ``name`` from the cache, else ``compute()`` (stored when ``cache_dir`` and ``name`` are set)."""
    if cache_dir is None or name is None:
        return np.asarray(compute(), dtype=np.float32)
    path = cache_path(cache_dir, name)
    feats = load_features(path)
    if feats is None:
        feats = np.asarray(compute(), dtype=np.float32)
        save_features(path, feats)
    return feats
