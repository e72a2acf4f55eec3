import pytest
import torch

from gsoc_helpers.training.augment import cutout, diff_augment, translation


def _x(n=6):
    return torch.arange(n * 3 * 8 * 8, dtype=torch.float32).view(n, 3, 8, 8) / 1000.0


def test_seeded_and_shape():
    x = _x()
    a = diff_augment(x, generator=torch.Generator().manual_seed(1))
    b = diff_augment(x, generator=torch.Generator().manual_seed(1))
    c = diff_augment(x, generator=torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)


def test_translation_is_a_shift_with_zero_padding():
    x = _x() + 1.0  # strictly positive so padding zeros are recognisable
    out = translation(x, torch.Generator().manual_seed(0))  # 8 * 0.125 = shifts in [-1, 1]
    for i in range(x.shape[0]):
        ok = False
        for ty in (-1, 0, 1):
            for tx in (-1, 0, 1):
                ref = torch.nn.functional.pad(x[i], [1, 1, 1, 1])[:, 1 + ty : 9 + ty, 1 + tx : 9 + tx]
                ok |= torch.equal(out[i], ref)
        assert ok, f"sample {i} is not a translation by at most one pixel"


def test_cutout_zeroes_one_square():
    x = torch.ones(20, 1, 8, 8)
    out = cutout(x, torch.Generator().manual_seed(0))  # 4x4 square, possibly clipped at the border
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert ((zeros > 0) & (zeros <= 16)).all()
    assert (zeros == 16).any()
    assert set(out.unique().tolist()) <= {0.0, 1.0}


def test_color_only_and_differentiable():
    x = torch.zeros(2, 3, 4, 4, requires_grad=True)
    out = diff_augment(x, "color", generator=torch.Generator().manual_seed(0))
    # constant grey image: saturation/contrast keep it constant, brightness adds one offset in [-0.5, 0.5]
    assert torch.allclose(out, out[:, :1, :1, :1].expand_as(out))
    assert (out.abs() <= 0.5).all()
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_empty_and_bad_policy():
    x = _x()
    assert torch.equal(diff_augment(x, ""), x)
    with pytest.raises(ValueError, match="unknown DiffAugment policy 'flip'"):
        diff_augment(x, "color,flip")
