"""Image conversions, grids and their rendering.  Generator outputs are float [N, 3, H, W] in about [-1, 1].

:func:`gsoc_helpers.sampling.generate_grid` draws a class-conditional grid from a generator (PyTorch or its OpenVINO
twin) and :func:`grid_png` renders it with one class name per row; the widget panel and the notebooks use both.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .data.dataset import CIFAR10_CLASSES
from .fileio import atomic_path
from .pixels import to_uint8

MAX_PER_CLASS = 32
MAX_IMAGES = 320


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
        grid[y : y + h, x : x + w] = images[i]
    return grid


def save_grid(images, path: str | os.PathLike, nrow: int = 10, scale: int = 2) -> Path:
    """Save a grid PNG of ``images`` (uint8 [N, H, W, 3] or float [N, 3, H, W] in [-1, 1]), upscaled ``scale`` x
    (nearest), written atomically. For a grid with class names beside its rows use :func:`grid_png`."""
    arr = images if isinstance(images, np.ndarray) and images.dtype == np.uint8 else to_uint8(images)
    grid = make_grid(arr, nrow=nrow)
    img = Image.fromarray(grid)
    if scale > 1:
        img = img.resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return Path(path)


def resolve_classes(
    classes: Sequence[str | int] | str | int, class_names: Sequence[str] = CIFAR10_CLASSES
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


def grid_png(grid: np.ndarray, labels: Sequence[str], rows: int | None = None, scale: int = 2) -> bytes:
    """uint8 grid [H, W, 3] -> PNG bytes, upscaled ``scale`` x (nearest) with one class name per row on the left."""
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
