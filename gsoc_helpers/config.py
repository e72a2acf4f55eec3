"""One place for paths, seeds and devices.

Every part of the project (CLI, notebooks, tests) resolves its data root, cache and
output folders through this module, so a single setting moves them all:

* data root  -- local offline copies of third-party data (CIFAR-10 trees, classifier
  weights, the FID Inception trunk).  ``--data-root`` flag / explicit argument >
  ``GSOC_DATA_ROOT`` environment variable > none (the full profile then downloads).
* cache dir  -- downloads (weights, datasets).  ``GSOC_CACHE_DIR`` > ``~/.cache/gsoc_helpers``.
* output dir -- generated datasets, checkpoints, results.  ``GSOC_OUTPUT_DIR`` > ``./outputs``; every
  command's default output folder lies below it (:data:`OUTPUT_FOLDERS`, :func:`default_output`).
"""

from __future__ import annotations

import importlib.resources
import os
import random
from pathlib import Path
from typing import Literal

import numpy as np

DATA_ROOT_ENV = "GSOC_DATA_ROOT"
CACHE_DIR_ENV = "GSOC_CACHE_DIR"
OUTPUT_DIR_ENV = "GSOC_OUTPUT_DIR"
PROFILE_ENV = "GSOC_PROFILE"
SCALE_ENV = "GSOC_SCALE"  # read by gsoc_helpers.series.profiles.get_scale
DATA_ROOT_ORIGIN_ENV = "GSOC_DATA_ROOT_ORIGIN"  # set by the CLI when --data-root, not the environment, chose it

Profile = Literal["quick", "full"]


def get_data_root(explicit: str | os.PathLike | None = None) -> Path | None:
    """The data root: ``explicit`` if given, else ``$GSOC_DATA_ROOT``, else ``None``."""
    value = explicit if explicit not in (None, "") else os.environ.get(DATA_ROOT_ENV) or None
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"data root {str(path)!r} is not a folder (set by "
            f"{_data_root_origin(explicit)}); expected a folder holding "
            "e.g. cifar10-exact/, cifar10-jpeg/, classifiers/, inception/"
        )
    return path


def _data_root_origin(explicit: object) -> str:
    if explicit not in (None, ""):
        return "argument"
    return os.environ.get(DATA_ROOT_ORIGIN_ENV) or "$" + DATA_ROOT_ENV


def get_cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Download cache: ``explicit`` > ``$GSOC_CACHE_DIR`` > ``~/.cache/gsoc_helpers`` (created)."""
    value = explicit or os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "gsoc_helpers"
    path = Path(value).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def get_output_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Outputs (datasets, checkpoints, results): ``explicit`` > ``$GSOC_OUTPUT_DIR`` > ``./outputs``."""
    value = explicit or os.environ.get(OUTPUT_DIR_ENV) or "outputs"
    path = Path(value).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def shown_path(path: str | os.PathLike) -> str:
    """``path`` as a reader should see it, not as the machine that ran it spells it: below the output dir, the data
    root, the cache or the home folder it is named by that setting (``$GSOC_OUTPUT_DIR/quick/results`` or
    ``outputs/quick/results``, ``$GSOC_DATA_ROOT/cifar10-exact/test``, ``~/...``); any other path as given.  The
    notebooks print paths through it, so their executed copies carry no absolute path of the machine."""
    out_env, data_env, cache_env = (os.environ.get(k) for k in (OUTPUT_DIR_ENV, DATA_ROOT_ENV, CACHE_DIR_ENV))
    bases = [
        (Path(out_env) if out_env else Path("outputs"), f"${OUTPUT_DIR_ENV}" if out_env else "outputs"),
        *([(Path(data_env), f"${DATA_ROOT_ENV}")] if data_env else []),
        (Path(cache_env), f"${CACHE_DIR_ENV}")
        if cache_env
        else (Path.home() / ".cache" / "gsoc_helpers", "~/.cache/gsoc_helpers"),
        (Path.home(), "~"),
    ]
    full = Path(path).expanduser().resolve()
    for base, name in bases:
        try:
            rel = full.relative_to(base.expanduser().resolve())
        except ValueError:
            continue
        return name if rel == Path(".") else f"{name}/{rel.as_posix()}"
    return str(path)


# Default output folder of each command, below the output dir (``outputs/`` or $GSOC_OUTPUT_DIR).
OUTPUT_FOLDERS = {
    "sample": "synthetic",  # + /<generator name>
    "train-teacher": "offline_teacher",
    "distill": "distill",
    "export": "export",
    "demo": "demo",
    "quantize-study": "quant/study",
    "reproduce-2022": "quant/reproduce_2022",
}


def default_output(command: str, *parts: str) -> Path:
    """``<output dir>/<OUTPUT_FOLDERS[command]>/<parts...>`` (not created: the command creates what it writes)."""
    base = Path(os.environ.get(OUTPUT_DIR_ENV) or "outputs").expanduser()
    return base.joinpath(OUTPUT_FOLDERS[command], *parts)


def bundled_dir() -> Path:
    """The folder of the project's own small checkpoints: ``data/`` of a source checkout (also what an editable
    install uses), else ``gsoc_helpers/bundled/`` of an installed wheel (setup.py maps ``data/`` there)."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "data").is_dir():
        return checkout / "data"
    return Path(str(importlib.resources.files("gsoc_helpers") / "bundled"))


def get_profile(explicit: str | None = None) -> Profile:
    """``quick`` (CPU, offline, minutes) or ``full`` (GPU, downloads); default quick."""
    value = (explicit or os.environ.get(PROFILE_ENV) or "quick").lower()
    if value not in ("quick", "full"):
        raise ValueError(f"unknown profile {value!r}; expected 'quick' or 'full'")
    return value  # type: ignore[return-value]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    import torch  # only when called: building the command-line parser imports this module, never torch

    torch.manual_seed(seed)


def resolve_device(device: str | None = "auto"):
    """``"auto"`` -> CUDA if available else CPU; otherwise ``torch.device(device)``."""
    import torch  # only when called (see seed_everything)

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; expected auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here (use --device cpu or auto)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    return dev
