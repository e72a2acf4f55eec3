"""Weight files: local copy, cached download, sha256-prefix check, safe loading (weights_only)."""

from __future__ import annotations

from pathlib import Path

import torch

from ...download import OfficialFile, fetch_official
from ..fit import check_state_fits


def fetch(url: str, prefix: str, data_root_path: str, subdir: str = "classifiers") -> Path:
    """A verified weight file through :func:`gsoc_helpers.download.fetch_official`: ``<data root>/<data_root_path>``
    if present, else the cache, else downloaded from ``url`` (or ``$GSOC_DOWNLOAD_MIRROR``); ``prefix`` is the
    sha256 prefix published in the file name."""
    return fetch_official(
        OfficialFile(url=url, cache_subdir=subdir, data_root_path=data_root_path, sha256_prefix=prefix)
    )


def load_into(model: torch.nn.Module, path: Path) -> None:
    """Load the weight file ``path`` into ``model`` after checking that it fits (ValueError naming the first misfits)."""
    state = load_state_dict(path)
    check_state_fits(model, state, f"{str(path)!r} does not fit {type(model).__name__}")
    model.load_state_dict(state, strict=True)


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a checkpoint safely (weights_only) on CPU; unwrap ``{'state_dict': ...}`` and strip ``module.``."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"{str(path)!r}: expected a state dict, got {type(obj).__name__}")
    return {k[len("module.") :] if k.startswith("module.") else k: v for k, v in obj.items()}
