"""Weight files: local copy, cached download, sha256-prefix check, safe loading (weights_only)."""
from __future__ import annotations

from pathlib import Path

import torch

from ...config import get_cache_dir
from ...download import download_url, sha256_file


def check_prefix(path: Path, prefix: str) -> None:
    """Raise ValueError unless the file's sha256 starts with ``prefix`` (the hex suffix of its name)."""
    digest = sha256_file(path)
    if not digest.startswith(prefix):
        raise ValueError(f"checksum mismatch for {str(path)!r}: sha256 {digest[:16]}..., expected prefix {prefix}")


def fetch(url: str, prefix: str, local: Path | None = None, subdir: str = "classifiers") -> Path:
    """Return a verified weight file: ``local`` if it exists, else the cache, else downloaded from ``url``."""
    if local is not None and local.is_file():
        check_prefix(local, prefix)
        return local
    target = get_cache_dir() / subdir / url.rsplit("/", 1)[-1]
    if not target.is_file():
        try:
            download_url(url, target, expected_sha256=prefix)
        except OSError as err:
            raise FileNotFoundError(
                f"weights not found locally ({str(local) if local else 'no data root'}) and download of {url} failed: {err}"
            ) from err
    else:
        check_prefix(target, prefix)
    return target


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a checkpoint safely (weights_only) on CPU; unwrap ``{'state_dict': ...}`` and strip ``module.``."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"{str(path)!r}: expected a state dict, got {type(obj).__name__}")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}
