"""DiStyleGAN student generator (kind ``"student"``), after TinyGAN (Chang & Lu 2020) / DiStyleGAN.

Architecture (facts from the original DiStyleGAN, defaults z 512, 10 classes, ngf 256, ~2.05M parameters):
  z [N, z_dim] -> Linear(z_dim -> ngf) + BN1d + GLU -> [N, ngf/2], concatenated with the one-hot class
  -> Linear(ngf/2 + C -> ngf*2*4*4) + BN1d + GLU -> [N, ngf, 4, 4]
  -> three blocks [nearest x2 upsample, 3x3 conv (c -> c), BN, GLU] halving channels: ngf/2, ngf/4, ngf/8
  -> 3x3 conv to RGB + tanh -> float [N, 3, 32, 32] in [-1, 1].

Follows the generator protocol. ``truncation_psi`` is implemented as scaling z towards 0 (z <- psi * z, the
mean of N(0, I)): psi=1 leaves z untouched. ``noise_mode`` is accepted and ignored (no noise inputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .inputs import onehot_labels
from .registry import register_generator

# Width presets: name -> ngf. "default" is the published DiStyleGAN width. Measured (z 512, 10 classes;
# metrics.complexity): default 2,054,371 params / 115.4M MACs per image; small 571,507 / 29.1M; tiny 171,835 / 7.4M.
PRESETS: dict[str, int] = {"default": 256, "small": 128, "tiny": 64}


@dataclass
class StudentConfig:
    """Student hyper-parameters; ``ngf`` must be a multiple of 16 (GLU halves channels four times)."""

    z_dim: int = 512
    c_dim: int = 10
    img_resolution: int = 32
    ngf: int = 256

    @classmethod
    def preset(cls, name: str, **overrides) -> StudentConfig:
        if name not in PRESETS:
            raise KeyError(f"unknown student preset {name!r}; expected one of {sorted(PRESETS)}")
        return cls(ngf=PRESETS[name], **overrides)


class _UpBlock(nn.Sequential):
    """[N, c, H, W] -> [N, c/2, 2H, 2W]: nearest x2, conv3x3 (c -> c), BN, GLU over channels."""

    def __init__(self, channels: int) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.GLU(dim=1),
        )


@register_generator("student")
class StudentGenerator(nn.Module):
    """DiStyleGAN generator (see module docstring)."""

    def __init__(self, config: StudentConfig | None = None) -> None:
        super().__init__()
        cfg = config or StudentConfig()
        if cfg.img_resolution != 32:
            raise ValueError(f"StudentGenerator supports img_resolution=32 only, got {cfg.img_resolution}")
        if cfg.z_dim <= 0 or cfg.c_dim <= 0 or cfg.ngf <= 0 or cfg.ngf % 16:
            raise ValueError(f"z_dim and c_dim must be positive and ngf a positive multiple of 16, got {cfg}")
        self.config = cfg
        self.z_dim, self.c_dim, self.img_resolution = cfg.z_dim, cfg.c_dim, cfg.img_resolution
        ngf = cfg.ngf
        self.z_fc = nn.Sequential(nn.Linear(cfg.z_dim, ngf, bias=False), nn.BatchNorm1d(ngf), nn.GLU(dim=1))
        self.fc = nn.Sequential(
            nn.Linear(ngf // 2 + cfg.c_dim, ngf * 2 * 16, bias=False), nn.BatchNorm1d(ngf * 2 * 16), nn.GLU(dim=1)
        )
        self.blocks = nn.Sequential(_UpBlock(ngf), _UpBlock(ngf // 2), _UpBlock(ngf // 4))
        self.to_rgb = nn.Conv2d(ngf // 8, 3, 3, 1, 1)

    @classmethod
    def from_config(cls, config: dict) -> StudentGenerator:
        return cls(StudentConfig(**config))

    def forward(
        self, z: torch.Tensor, labels: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "const"
    ) -> torch.Tensor:
        """z: float [N, z_dim]; labels: int64 [N] or one-hot [N, c_dim] -> float [N, 3, 32, 32] in [-1, 1]."""
        onehot = onehot_labels(z, labels, self.z_dim, self.c_dim)
        h = self.z_fc(z * truncation_psi)
        h = self.fc(torch.cat([h, onehot], dim=1)).view(z.shape[0], self.config.ngf, 4, 4)
        return torch.tanh(self.to_rgb(self.blocks(h)))
