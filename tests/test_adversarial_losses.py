import torch

from gsoc_helpers.losses.adversarial import d_hinge_loss, g_hinge_loss


def test_d_hinge_hand_computed():
    real = torch.tensor([2.0, 0.5, -1.0])  # relu(1 - r) = [0, 0.5, 2] -> mean 2.5/3
    fake = torch.tensor([-2.0, 0.0, 1.0])  # relu(1 + f) = [0, 1, 2]   -> mean 1
    assert torch.isclose(d_hinge_loss(real, fake), torch.tensor(2.5 / 3 + 1.0))


def test_d_hinge_zero_when_confident():
    assert d_hinge_loss(torch.full((4,), 3.0), torch.full((4,), -3.0)).item() == 0.0


def test_g_hinge_hand_computed_and_gradient():
    fake = torch.tensor([1.0, -3.0], requires_grad=True)
    loss = g_hinge_loss(fake)
    assert loss.item() == 1.0
    loss.backward()
    assert torch.equal(fake.grad, torch.tensor([-0.5, -0.5]))
