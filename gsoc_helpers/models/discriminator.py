"""Projection discriminator for 32x32 class-conditional GANs.

Architecture (contract shared with the student distillation): four 4x4 stride-2 spectral-norm
convolutions with LeakyReLU(0.2), channels ``ndf * (1, 1, 2, 4)`` (32 -> 16 -> 8 -> 4 -> 2), global sum
pooling, a linear output and the class-embedding projection term of Miyato & Koyama (2018),
"cGANs with Projection Discriminator": ``logit = w^T h + <embed(y), h>``. Optionally (``class_head``) a linear
class head on the same pooled features, as in AC-GAN (Odena et al. 2017): trained with the discriminator on real
images, it lets the generator be asked for images of the requested class (``gsoc_helpers.training.gan``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import spectral_norm


class ProjectionDiscriminator(nn.Module):
    """D(x, y) -> real-valued logits.

    Args:
        ndf: base channel width.
        num_classes: number of classes of the projection embedding.
        in_channels: image channels (3).
        use_spectral_norm: wrap every conv/linear/embedding in spectral normalisation.
        leak: LeakyReLU slope.
        class_head: add ``classify``, a spectral-norm linear head pooled features -> class logits [N, C].
    """

    def __init__(
        self,
        ndf: int = 128,
        num_classes: int = 10,
        in_channels: int = 3,
        use_spectral_norm: bool = True,
        leak: float = 0.2,
        class_head: bool = False,
    ) -> None:
        super().__init__()
        if ndf <= 0 or num_classes <= 0:
            raise ValueError(f"ndf and num_classes must be positive, got ndf={ndf}, num_classes={num_classes}")
        sn = spectral_norm if use_spectral_norm else (lambda m: m)
        chans = [in_channels, ndf, ndf, ndf * 2, ndf * 4]
        self.blocks = nn.ModuleList(
            nn.Sequential(sn(nn.Conv2d(chans[i], chans[i + 1], 4, 2, 1)), nn.LeakyReLU(leak)) for i in range(4)
        )
        self.linear = sn(nn.Linear(chans[-1], 1))
        self.embed = sn(nn.Embedding(num_classes, chans[-1]))
        self.classify = sn(nn.Linear(chans[-1], num_classes)) if class_head else None
        self.num_classes = num_classes
        self.ndf = ndf

    def trunk(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x: float [N, 3, 32, 32] in [-1, 1] -> (pooled features [N, 4ndf], the 4 block outputs
        [N, ndf, 16, 16], [N, ndf, 8, 8], [N, 2ndf, 4, 4], [N, 4ndf, 2, 2])."""
        if x.dim() != 4:
            raise ValueError(f"expected images [N, C, H, W], got shape {tuple(x.shape)}")
        feats = []
        h = x
        for block in self.blocks:
            h = block(h)
            feats.append(h)
        return h.sum(dim=(2, 3)), feats

    def head(self, pooled: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """pooled [N, 4ndf], labels int64 [N] (or one-hot float [N, C]) -> real/fake logits [N]."""
        if labels.dim() == 2:
            labels = labels.argmax(dim=1)
        labels = labels.long()
        if labels.shape[0] != pooled.shape[0]:
            raise ValueError(f"{pooled.shape[0]} images but {labels.shape[0]} labels")
        return self.linear(pooled).squeeze(1) + (self.embed(labels) * pooled).sum(dim=1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor, return_features: bool = False):
        """x: float [N, 3, 32, 32] in [-1, 1]; labels: int64 [N] (or one-hot float [N, C]).

        Returns logits float [N]; with ``return_features`` also the list of the 4 block outputs (see ``trunk``).
        """
        pooled, feats = self.trunk(x)
        logits = self.head(pooled, labels)
        return (logits, feats) if return_features else logits
