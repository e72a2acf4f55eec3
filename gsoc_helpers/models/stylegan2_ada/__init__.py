"""Our own StyleGAN2-ADA generator (plain PyTorch) and a safe loader for NVIDIA's pickles."""

from __future__ import annotations

from .networks import CIFAR10_CONFIG, CIFAR10_NUM_PARAMS, Generator, StyleGAN2Config
from .pickle_loader import (
    OFFICIAL_CIFAR10_URL,
    StyleGAN2PickleError,
    load_stylegan2_ada,
    read_stylegan2_pickle,
)

__all__ = [
    "CIFAR10_CONFIG",
    "CIFAR10_NUM_PARAMS",
    "Generator",
    "StyleGAN2Config",
    "OFFICIAL_CIFAR10_URL",
    "StyleGAN2PickleError",
    "load_stylegan2_ada",
    "read_stylegan2_pickle",
]
