"""The weights of DiStyleGAN's distillation loss terms (:mod:`.distillation`), as a plain dataclass: no torch, so
the trainers' settings (:mod:`gsoc_helpers.training.configs`) and the command line read them without loading it."""

from __future__ import annotations

from dataclasses import dataclass

FEATURE_WEIGHTS: tuple[float, ...] = (1 / 16, 1 / 8, 1 / 4, 1.0)  # of the four discriminator blocks (TinyGAN)


@dataclass
class DistillLossWeights:
    adv_distill: float = 0.01  # hinge G loss on the distillation (teacher z, class) images
    adv_fresh: float = 0.002  # hinge G loss on images from fresh noise
    real_d: float = 0.2  # weight of the real-CIFAR-10 vs student hinge D term
    feature_weights: tuple[float, ...] = FEATURE_WEIGHTS
