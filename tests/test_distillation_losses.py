"""Distillation losses against hand-computed values on tiny tensors."""

from __future__ import annotations

import pytest
import torch

from gsoc_helpers.losses.distillation import (
    LambdaPixSchedule,
    discriminator_loss,
    feature_loss,
    generator_loss,
    pixel_loss,
)
from gsoc_helpers.losses.weights import DistillLossWeights
from gsoc_helpers.models.discriminator import ProjectionDiscriminator


def test_pixel_loss_by_hand():
    s = torch.tensor([[[[0.5, -1.0]]]])
    t = torch.tensor([[[[0.0, 1.0]]]])
    assert pixel_loss(s, t).item() == pytest.approx((0.5 + 2.0) / 2)
    with pytest.raises(ValueError, match="shape mismatch"):
        pixel_loss(s, t[..., :1])


def test_feature_loss_by_hand():
    ft = [torch.zeros(1, 2), torch.zeros(1, 1), torch.ones(1, 1), torch.zeros(1, 2)]
    fs = [torch.tensor([[1.0, 3.0]]), torch.tensor([[2.0]]), torch.tensor([[0.0]]), torch.tensor([[1.0, -1.0]])]
    expected = 2.0 / 16 + 2.0 / 8 + 1.0 / 4 + 1.0
    assert feature_loss(ft, fs).item() == pytest.approx(expected)
    with pytest.raises(ValueError):
        feature_loss(ft[:3], fs)


def test_lambda_pix_schedule_is_per_epoch():
    s = LambdaPixSchedule(start=0.2, decay=0.01)
    assert s(0) == pytest.approx(0.2) and s(1) == pytest.approx(0.19) and s(10) == pytest.approx(0.1)
    assert s(20) == 0.0 and s(100) == 0.0
    assert LambdaPixSchedule(0.2, 0.01, floor=0.05)(30) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        s(-1)


def test_generator_total_by_hand():
    ft, fs = [torch.zeros(1, 1)] * 4, [torch.ones(1, 1)] * 4  # feat = 1/16 + 1/8 + 1/4 + 1 = 1.4375
    s, t = torch.full((1, 3, 2, 2), 0.5), torch.zeros(1, 3, 2, 2)  # pix = 0.5
    ls, lf = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, -3.0])  # -mean = -1 and 2
    total, terms = generator_loss(ft, fs, s, t, ls, lf, lambda_pix=0.2)
    assert terms["feat"].item() == pytest.approx(1.4375) and terms["pix"].item() == pytest.approx(0.5)
    assert terms["adv_distill"].item() == pytest.approx(-1.0) and terms["adv_fresh"].item() == pytest.approx(2.0)
    assert total.item() == pytest.approx(1.4375 + 0.2 * 0.5 + 0.01 * -1.0 + 0.002 * 2.0)


def test_discriminator_total_by_hand():
    lt, ls, lr = torch.tensor([0.5, 2.0]), torch.tensor([-2.0, 0.0]), torch.tensor([-1.0, 1.0])
    # hinge(teacher, student) = mean(relu(1-lt)) + mean(relu(1+ls)) = 0.25 + 0.5
    # hinge(real, student)    = mean(relu(1-lr)) + 0.5 = 1.0 + 0.5
    total, terms = discriminator_loss(lt, ls, lr)
    assert terms["d_distill"].item() == pytest.approx(0.75) and terms["d_real"].item() == pytest.approx(1.5)
    assert total.item() == pytest.approx(0.75 + 0.2 * 1.5)
    w = DistillLossWeights(real_d=1.0)
    assert discriminator_loss(lt, ls, lr, weights=w)[0].item() == pytest.approx(2.25)


def test_projection_discriminator_uses_the_class():
    torch.manual_seed(0)
    d = ProjectionDiscriminator(ndf=8).eval()
    torch.nn.init.normal_(d.embed.weight_orig if hasattr(d.embed, "weight_orig") else d.embed.weight)
    x = torch.randn(2, 3, 32, 32)
    a, b = d(x, torch.tensor([0, 1])), d(x, torch.tensor([5, 7]))
    assert not torch.allclose(a, b)
    logits, feats = d(x, torch.tensor([0, 1]), return_features=True)
    assert [f.shape[1] for f in feats] == [8, 8, 16, 32] and logits.shape == (2,)
