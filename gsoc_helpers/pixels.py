"""The package's pixel conversions, one of each.

* Generator outputs are float [N, 3, H, W] in about [-1, 1]; NVIDIA's fixed mapping to bytes is
  ``(x * 127.5 + 128).clamp(0, 255)`` (StyleGAN2-ADA ``generate.py`` and its metrics): :func:`nvidia_uint8`
  (tensor, NCHW) and :func:`to_uint8` (numpy, NHWC); :func:`uint8_to_float` is its inverse, ``u / 127.5 - 1``.
* Classifiers and calibration sets take float32 [N, 3, H, W] in [0, 1]: :func:`uint8_to_unit` (``u / 255``) and
  :func:`unit_to_uint8` (``round(x * 255)``).
Stored images are uint8 [N, H, W, 3] (numpy), the layout of CIFAR-10 and PIL.
"""

from __future__ import annotations

import numpy as np
import torch


def _nchw(x, what: str) -> torch.Tensor:
    x = torch.as_tensor(x).detach()
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected {what} [N, 3, H, W], got {tuple(x.shape)}")
    return x


def _nhwc_uint8(u) -> torch.Tensor:
    if not isinstance(u, torch.Tensor):
        arr = np.ascontiguousarray(u)
        u = torch.from_numpy(arr if arr.flags.writeable else arr.copy())  # memory-mapped / read-only arrays: copied
    t = u
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[-1] != 3:
        raise ValueError(f"expected uint8 images [N, H, W, 3], got {t.dtype} {tuple(t.shape)}")
    return t


def nvidia_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [N, 3, H, W] in ~[-1, 1] -> uint8 tensor [N, 3, H, W], ``(x * 127.5 + 128).clamp(0, 255)`` (truncated
    to an integer, as NVIDIA's code does)."""
    return (_nchw(x, "images").float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float [N, 3, H, W] in ~[-1, 1] -> uint8 numpy [N, H, W, 3] with NVIDIA's mapping (:func:`nvidia_uint8`)."""
    return nvidia_uint8(torch.as_tensor(x).cpu()).permute(0, 2, 3, 1).numpy()


def uint8_to_float(u) -> torch.Tensor:
    """uint8 [N, H, W, 3] (numpy or tensor) -> float32 [N, 3, H, W] in [-1, 1] (``u / 127.5 - 1``)."""
    return _nhwc_uint8(u).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def uint8_to_unit(u) -> torch.Tensor:
    """uint8 [N, H, W, 3] (numpy or tensor) -> float32 [N, 3, H, W] in [0, 1] (``u / 255``), contiguous."""
    return _nhwc_uint8(u).permute(0, 3, 1, 2).float().div_(255.0).contiguous()


def unit_to_uint8(x: torch.Tensor) -> np.ndarray:
    """float [N, 3, H, W] in [0, 1] -> uint8 numpy [N, H, W, 3] (``round(x * 255)``, clipped)."""
    x = _nchw(x, "images").float().cpu()
    return (x * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """float [N,3,h,w] -> [N,3,size,size]: bilinear with antialiasing, unchanged if already that size."""
    if images.shape[-2:] == (size, size):
        return images
    return torch.nn.functional.interpolate(
        images, size=(size, size), mode="bilinear", align_corners=False, antialias=True
    )
