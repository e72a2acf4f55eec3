"""Small stand-ins shared by the tests: a classifier (also as an ONNX file) and a generator that follow the package's contracts exactly
(the classifier takes [0,1] images [N,3,H,W] and returns logits [N,10]; the generator follows the generator
protocol of gsoc_helpers.models.protocol) at a fraction of a real model's cost."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class TinyClassifier(nn.Module):
    """conv(3->w, stride 2) BN ReLU conv(w->2w, stride 2) [BN] ReLU, global mean, linear -> 10 logits (x10 scaled:
    confident decisions). Seeded: the same weights on every run."""

    def __init__(self, width: int = 16, second_bn: bool = True, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        layers = [nn.Conv2d(3, width, 3, 2, 1), nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, 2 * width, 3, 2, 1)]
        self.f = nn.Sequential(*layers, *([nn.BatchNorm2d(2 * width)] if second_bn else []), nn.ReLU())
        self.fc = nn.Linear(2 * width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.f(x).mean((2, 3))) * 10


class LinearGenerator(nn.Module):
    """Generator protocol: z [N, z_dim], labels int64 [N] -> [N, 3, res, res], a linear map of (z, one-hot label);
    ``tanh`` keeps outputs in [-1, 1], ``psi`` scales them by truncation_psi. Records the labels it saw (``seen``)
    and how many images it made (``calls``)."""

    def __init__(self, z_dim: int = 8, c_dim: int = 10, res: int = 8, tanh: bool = True, psi: bool = True) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.img_resolution = z_dim, c_dim, res
        self.tanh, self.psi = tanh, psi
        torch.manual_seed(0)
        self.lin = nn.Linear(z_dim + c_dim, 3 * res * res)
        self.seen: list[int] = []
        self.calls = 0

    def forward(self, z, labels, truncation_psi: float = 1.0, noise_mode: str = "const"):
        self.seen += labels.tolist()
        self.calls += len(z)
        x = self.lin(torch.cat([z, nn.functional.one_hot(labels, self.c_dim).float()], 1))
        x = torch.tanh(x) if self.tanh else x
        return (x * truncation_psi if self.psi else x).reshape(-1, 3, self.img_resolution, self.img_resolution)


def TinyGenerator(z_dim: int = 4, c_dim: int = 3, res: int = 4) -> LinearGenerator:
    """Protocol-following toy generator: a linear map of (z, one-hot label), no tanh; ignores psi/noise."""
    return LinearGenerator(z_dim, c_dim, res, tanh=False, psi=False)


def tiny_onnx(path: Path) -> Path:
    """A seeded 10-class conv net for 32x32 RGB, exported to ONNX at ``path``."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10)
    ).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(net, (torch.zeros(1, 3, 32, 32),), str(path), dynamo=False)
    return path
