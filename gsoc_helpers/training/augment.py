"""DiffAugment: differentiable augmentations applied to both real and fake images before D.

Policies after Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training":
color (brightness +-0.5, saturation x[0,2], contrast x[0.5,1.5]), translation (up to 1/8 of the
size, zero padded) and cutout (a square of half the size, zeroed). Randomness comes from ``generator``
when given (reproducible), else from the global torch RNG.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .settings_check import parse_policy


def _rand(n: int, x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, generator=g, device=x.device, dtype=x.dtype)


def color(x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
    n = x.shape[0]
    x = x + (_rand(n, x, g) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(n, x, g) * 2.0) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (_rand(n, x, g) + 0.5) + mean
    return x


def translation(x: torch.Tensor, g: torch.Generator | None = None, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (n, 1, 1), generator=g, device=x.device)
    tx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=g, device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    # output[y, x] = padded[y + ty + 1, x + tx + 1] (padding of one zero pixel, indices clamped onto it)
    gy = torch.clamp(gy.unsqueeze(0) + ty + 1, 0, h + 1)
    gx = torch.clamp(gx.unsqueeze(0) + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    bidx = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[bidx, gy, gx].permute(0, 3, 1, 2).contiguous()


def cutout(x: torch.Tensor, g: torch.Generator | None = None, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=g, device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=g, device=x.device)
    gy = torch.arange(h, device=x.device).view(1, h, 1)
    gx = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (
        ((gy - oy + ch // 2) >= 0)
        & ((gy - oy + ch // 2) < ch)
        & ((gx - ox + cw // 2) >= 0)
        & ((gx - ox + cw // 2) < cw)
    )
    return x * (~inside).unsqueeze(1).to(x.dtype)


_FUNCS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(
    x: torch.Tensor, policy: str = "color,translation,cutout", generator: torch.Generator | None = None
) -> torch.Tensor:
    """x: float [N, C, H, W] (≈[-1, 1]) -> augmented tensor of the same shape; differentiable in x."""
    for name in parse_policy(policy):
        x = _FUNCS[name](x, generator)
    return x
