"""Black-box distillation losses for the DiStyleGAN student (TinyGAN, Chang & Lu 2020; DiStyleGAN).

Generator:  L_G = L_feat + lambda_pix * L1(student, teacher) + 0.01 * hinge_G(D(student))
                  + 0.002 * hinge_G(D(G(fresh z)))
Discriminator: L_D = hinge_D(D(teacher), D(student)) + 0.2 * hinge_D(D(real CIFAR-10), D(student))
Feature loss: sum_k w_k * mean|f_k(teacher) - f_k(student)| over the four D blocks, w = (1/16, 1/8, 1/4, 1).
lambda_pix starts at 0.2 and decays per *epoch* (the original decayed it per step: zero after 20 steps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..training.configs import FEATURE_WEIGHTS, DistillLossWeights
from .adversarial import d_hinge_loss, g_hinge_loss


def feature_loss(
    teacher_feats: Sequence[torch.Tensor],
    student_feats: Sequence[torch.Tensor],
    weights: Sequence[float] = FEATURE_WEIGHTS,
) -> torch.Tensor:
    """sum_k weights[k] * mean(|teacher_feats[k] - student_feats[k]|) -> scalar."""
    if not len(teacher_feats) == len(student_feats) == len(weights):
        raise ValueError(
            f"need equally many feature maps and weights, got {len(teacher_feats)}, "
            f"{len(student_feats)} and {len(weights)}"
        )
    total = student_feats[0].new_zeros(())
    for w, ft, fs in zip(weights, teacher_feats, student_feats, strict=True):
        total = total + w * F.l1_loss(fs, ft)
    return total


def pixel_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """mean |student - teacher| over images [N, 3, H, W] -> scalar."""
    if student.shape != teacher.shape:
        raise ValueError(f"shape mismatch: student {tuple(student.shape)} vs teacher {tuple(teacher.shape)}")
    return F.l1_loss(student, teacher)


@dataclass
class LambdaPixSchedule:
    """lambda_pix(epoch) = max(floor, start - decay * epoch): constant within an epoch (TinyGAN's per-epoch decay)."""

    start: float = 0.2
    decay: float = 0.01
    floor: float = 0.0

    def __call__(self, epoch: int) -> float:
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        return max(self.floor, self.start - self.decay * epoch)


def generator_loss(
    d_feats_teacher: Sequence[torch.Tensor],
    d_feats_student: Sequence[torch.Tensor],
    student: torch.Tensor,
    teacher: torch.Tensor,
    logits_student: torch.Tensor,
    logits_fresh: torch.Tensor,
    lambda_pix: float,
    weights: DistillLossWeights | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total generator loss (scalar) and its terms {'feat', 'pix', 'adv_distill', 'adv_fresh', 'g_total'}."""
    w = weights or DistillLossWeights()
    terms = {
        "feat": feature_loss(d_feats_teacher, d_feats_student, w.feature_weights),
        "pix": pixel_loss(student, teacher),
        "adv_distill": g_hinge_loss(logits_student),
        "adv_fresh": g_hinge_loss(logits_fresh),
    }
    total = (
        terms["feat"]
        + lambda_pix * terms["pix"]
        + w.adv_distill * terms["adv_distill"]
        + w.adv_fresh * terms["adv_fresh"]
    )
    terms["g_total"] = total
    return total, terms


def discriminator_loss(
    logits_teacher: torch.Tensor,
    logits_student: torch.Tensor,
    logits_real: torch.Tensor,
    logits_student_vs_real: torch.Tensor | None = None,
    weights: DistillLossWeights | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """hinge_D(teacher, student) + real_d * hinge_D(real, student') -> (scalar, {'d_distill', 'd_real', 'd_total'}).

    ``logits_student_vs_real`` defaults to ``logits_student`` (the same student images as fake)."""
    w = weights or DistillLossWeights()
    fake2 = logits_student if logits_student_vs_real is None else logits_student_vs_real
    terms = {"d_distill": d_hinge_loss(logits_teacher, logits_student), "d_real": d_hinge_loss(logits_real, fake2)}
    total = terms["d_distill"] + w.real_d * terms["d_real"]
    terms["d_total"] = total
    return total, terms
