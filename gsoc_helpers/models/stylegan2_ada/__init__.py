"""Our own StyleGAN2-ADA generator (plain PyTorch) and a safe loader for NVIDIA's pickles."""

from __future__ import annotations

from .networks import CIFAR10_CONFIG, CIFAR10_NUM_PARAMS, Generator, StyleGAN2Config  # noqa: F401
from .pickle_loader import (  # noqa: F401
    OFFICIAL_CIFAR10_URL,
    StyleGAN2PickleError,
    load_stylegan2_ada,
    read_stylegan2_pickle,
)
