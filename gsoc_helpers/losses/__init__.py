"""GAN losses."""

from .adversarial import d_hinge_loss, g_hinge_loss
from .distillation import (  # noqa: F401
    DistillLossWeights,
    LambdaPixSchedule,
    discriminator_loss,
    feature_loss,
    generator_loss,
    pixel_loss,
)

__all__ = [
    "d_hinge_loss",
    "g_hinge_loss",
    "feature_loss",
    "pixel_loss",
    "LambdaPixSchedule",
    "DistillLossWeights",
    "generator_loss",
    "discriminator_loss",
]
