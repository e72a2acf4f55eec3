"""GAN losses."""
from .adversarial import d_hinge_loss, g_hinge_loss

__all__ = ["d_hinge_loss", "g_hinge_loss"]
