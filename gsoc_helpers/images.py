"""Image conversions, grids and their rendering.  Generator outputs are float [N, 3, H, W] in about [-1, 1].

:func:`generate_grid` draws a class-conditional grid from a generator (PyTorch or its OpenVINO twin) and
:func:`grid_png` renders it with one class name per row; the widget panel and the notebooks use both.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .data.dataset import CIFAR10_CLASSES

BACKENDS = ("pytorch", "openvino")
MAX_PER_CLASS = 32
MAX_IMAGES = 320


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float [N, 3, H, W] in ~[-1, 1] -> uint8 [N, H, W, 3] with NVIDIA's fixed mapping (x * 127.5 + 128).clamp(0, 255)."""
    x = torch.as_tensor(x).detach().float().cpu()
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected images [N, 3, H, W], got {tuple(x.shape)}")
    return (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def uint8_to_float(u) -> torch.Tensor:
    """uint8 [N, H, W, 3] (numpy or tensor) -> float32 [N, 3, H, W] in [-1, 1] (x / 127.5 - 1)."""
    t = torch.as_tensor(np.asarray(u)) if not isinstance(u, torch.Tensor) else u
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[-1] != 3:
        raise ValueError(f"expected uint8 images [N, H, W, 3], got {t.dtype} {tuple(t.shape)}")
    return t.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def make_grid(images: np.ndarray, nrow: int = 10, padding: int = 2, pad_value: int = 255) -> np.ndarray:
    """uint8 [N, H, W, 3] -> one uint8 [rows*(H+p)+p, nrow*(W+p)+p, 3] picture, row-major, ``nrow`` per row."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"expected uint8 images [N, H, W, 3], got {images.dtype} {images.shape}")
    n, h, w, c = images.shape
    nrow = max(1, min(nrow, n)) if n else 1
    rows = max(1, -(-n // nrow))
    grid = np.full((rows * (h + padding) + padding, nrow * (w + padding) + padding, c), pad_value, np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y:y + h, x:x + w] = images[i]
    return grid


def save_grid(images, path: str | os.PathLike, nrow: int = 10, labels: Sequence[str] | None = None,
              scale: int = 2) -> Path:
    """Save a grid PNG of ``images`` (uint8 [N, H, W, 3] or float [N, 3, H, W] in [-1, 1]).

    With ``labels`` (one name per row), a labelled matplotlib figure is written instead of raw pixels.
    """
    arr = images if isinstance(images, np.ndarray) and images.dtype == np.uint8 else to_uint8(images)
    grid = make_grid(arr, nrow=nrow)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    if labels is None:
        from PIL import Image

        img = Image.fromarray(grid)
        if scale > 1:
            img = img.resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
        img.save(tmp, format="PNG")
    else:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        h = arr.shape[1] + 2
        fig, ax = plt.subplots(figsize=(grid.shape[1] / 40 + 1.5, grid.shape[0] / 40 + 0.3), dpi=100)
        ax.imshow(grid, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([2 + h * r + h / 2 - 1 for r in range(len(labels))])
        ax.set_yticklabels(list(labels))
        fig.tight_layout()
        fig.savefig(tmp, format="png")
        plt.close(fig)
    os.replace(tmp, path)
    return path


def resolve_classes(classes: Sequence[str | int] | str | int, class_names: Sequence[str] = CIFAR10_CLASSES
                    ) -> list[int]:
    """Class names or indices -> indices; ValueError naming the bad entry and the valid names."""
    if isinstance(classes, (str, int)):
        classes = [classes]
    out = []
    for c in classes:
        if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            if not 0 <= int(c) < len(class_names):
                raise ValueError(f"class index {c} out of range 0..{len(class_names) - 1}")
            out.append(int(c))
        elif isinstance(c, str) and c.strip().lower() in class_names:
            out.append(list(class_names).index(c.strip().lower()))
        else:
            raise ValueError(f"unknown class {c!r}; expected one of {', '.join(class_names)} or an index")
    if not out:
        raise ValueError("no class picked: choose at least one class")
    return out


def generate_grid(model: Any, classes: Sequence[str | int] | str | int, per_class: int = 8, seed: int = 0,
                  truncation_psi: float = 1.0, backend: str = "pytorch", class_names: Sequence[str] | None = None,
                  ov_factory: Callable[[Any], Any] | None = None) -> tuple[np.ndarray, list[str]]:
    """Images of ``classes`` (rows) x ``per_class`` (columns) -> (uint8 grid [H', W', 3], row labels).

    ``model``: a protocol generator or a name for :func:`gsoc_helpers.models.loading.load_model`.  Column j uses
    the latent ``latent_for_index(seed, j, z_dim)`` in every row, so rows differ by class only.
    ``backend='openvino'`` runs the OpenVINO twin (``ov_factory``, default
    :func:`~gsoc_helpers.models.loading.openvino_generator`) with the same ψ.  Raises ValueError for bad input,
    BackendUnavailable if OpenVINO cannot run.
    """
    from .data.synthetic import latents_for_range
    from .models.loading import load_model, openvino_generator
    from .sampling import generate_uint8

    names = tuple(class_names or getattr(model, "class_names", None) or CIFAR10_CLASSES)
    idx = resolve_classes(classes, names)
    if not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"images per class must be at least 1, got {per_class!r}")
    if per_class > MAX_PER_CLASS or per_class * len(idx) > MAX_IMAGES:
        raise ValueError(f"too many images: {per_class} x {len(idx)} classes; at most {MAX_PER_CLASS} per class "
                         f"and {MAX_IMAGES} in all")
    if not 0.0 <= float(truncation_psi) <= 2.0:
        raise ValueError(f"truncation psi must be within [0, 2], got {truncation_psi}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    model = load_model(model)
    c_dim = int(getattr(model, "c_dim", len(names)))
    if max(idx) >= c_dim:
        raise ValueError(f"class index {max(idx)} not supported by a generator with {c_dim} classes")
    runner = model if backend == "pytorch" else (ov_factory or openvino_generator)(model)
    z = np.tile(latents_for_range(int(seed), 0, per_class, int(model.z_dim)), (len(idx), 1))
    labels = np.repeat(np.asarray(idx, dtype=np.int64), per_class)
    images = generate_uint8(runner, z, labels, float(truncation_psi), "const", batch_size=len(labels))
    return make_grid(images, nrow=per_class), [names[i] for i in idx]


def grid_png(grid: np.ndarray, labels: Sequence[str], rows: int | None = None, scale: int = 2) -> bytes:
    """uint8 grid [H, W, 3] -> PNG bytes, upscaled ``scale`` x (nearest) with one class name per row on the left."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(np.asarray(grid, np.uint8))
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    if not labels:
        out = img
    else:
        margin = 8 + 7 * max(len(s) for s in labels)
        out = Image.new("RGB", (img.width + margin, img.height), "white")
        out.paste(img, (margin, 0))
        draw = ImageDraw.Draw(out)
        row_h = img.height / (rows or len(labels))
        for r, name in enumerate(labels):
            draw.text((4, int(r * row_h + row_h / 2 - 6)), name, fill=(0, 0, 0))
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    return buf.getvalue()
