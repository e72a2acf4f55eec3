"""Image conversions and grids.  Generator outputs are float [N, 3, H, W] in about [-1, 1]."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch


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
