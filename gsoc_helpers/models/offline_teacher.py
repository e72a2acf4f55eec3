"""Compact class-conditional ResNet generator: the offline teacher (kind ``"offline-teacher"``).

SNGAN-style generator for 32x32 (Miyato et al. 2018, CIFAR ResNet G): z -> linear -> [ngf, 4, 4],
three up-sampling residual blocks (4 -> 8 -> 16 -> 32) with class-conditional BatchNorm (per-class
gain and bias, as in BigGAN / Miyato & Koyama 2018), BN-ReLU-conv3x3 to RGB and tanh.
Output float [N, 3, 32, 32] in [-1, 1].

Follows the generator protocol. ``truncation_psi`` scales z towards 0 (z <- psi * z; the mean of
N(0, I) is 0, so this is the "truncation trick" of a model without a mapping network); psi=1 is
the untouched distribution. ``noise_mode`` is accepted and ignored (no noise inputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .inputs import onehot_labels
from .registry import register_generator


@dataclass
class OfflineTeacherConfig:
    z_dim: int = 128
    c_dim: int = 10
    img_resolution: int = 32
    ngf: int = 128


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without affine, then per-class gain (1 + gamma[y]) and bias beta[y]."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gamma = nn.Embedding(num_classes, channels)
        self.beta = nn.Embedding(num_classes, channels)
        nn.init.zeros_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.bn(x)
        return h * (1.0 + self.gamma(y)[:, :, None, None]) + self.beta(y)[:, :, None, None]


class UpBlock(nn.Module):
    """CBN-ReLU-up2x-conv3x3-CBN-ReLU-conv3x3 plus (up2x, conv1x1 if needed) shortcut."""

    def __init__(self, cin: int, cout: int, num_classes: int) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(cin, num_classes)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.bn2 = ConditionalBatchNorm2d(cout, num_classes)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.skip(F.interpolate(x, scale_factor=2, mode="nearest"))


@register_generator("offline-teacher")
class OfflineTeacher(nn.Module):
    """Class-conditional ResNet generator (see module docstring)."""

    def __init__(self, config: OfflineTeacherConfig | None = None) -> None:
        super().__init__()
        cfg = config or OfflineTeacherConfig()
        if cfg.img_resolution != 32:
            raise ValueError(f"OfflineTeacher supports img_resolution=32 only, got {cfg.img_resolution}")
        if cfg.z_dim <= 0 or cfg.c_dim <= 0 or cfg.ngf <= 0:
            raise ValueError(f"z_dim, c_dim and ngf must be positive, got {cfg}")
        self.config = cfg
        self.z_dim, self.c_dim, self.img_resolution = cfg.z_dim, cfg.c_dim, cfg.img_resolution
        ngf = cfg.ngf
        self.fc = nn.Linear(cfg.z_dim, ngf * 4 * 4)
        self.blocks = nn.ModuleList(UpBlock(ngf, ngf, cfg.c_dim) for _ in range(3))
        self.bn_out = nn.BatchNorm2d(ngf)
        self.conv_out = nn.Conv2d(ngf, 3, 3, 1, 1)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    @classmethod
    def from_config(cls, config: dict) -> OfflineTeacher:
        return cls(OfflineTeacherConfig(**config))

    def forward(
        self, z: torch.Tensor, labels: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "const"
    ) -> torch.Tensor:
        """z: float [N, z_dim]; labels: int64 [N] or one-hot float [N, c_dim] -> float [N, 3, 32, 32] in [-1, 1]."""
        labels = onehot_labels(z, labels, self.z_dim, self.c_dim).argmax(dim=1)
        h = self.fc(z * truncation_psi).view(z.shape[0], -1, 4, 4)
        for block in self.blocks:
            h = block(h, labels)
        return torch.tanh(self.conv_out(F.relu(self.bn_out(h))))
