"""Calibration sources: size, class balance, range, determinism, BN-matching, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gsoc_helpers.calibration import available_sources, balanced_labels, get_calibration, register_source
from gsoc_helpers.calibration.bn_matching import bn_loss


def _check(cs, size):
    assert cs.images.shape == (size, 3, 32, 32) and cs.images.dtype == torch.float32
    assert float(cs.images.min()) >= 0.0 and float(cs.images.max()) <= 1.0
    counts = np.bincount(cs.labels.numpy(), minlength=10)
    assert counts.sum() == size and counts.max() - counts.min() <= 1


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2, 1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, 2, 1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
        )
        self.head = nn.Linear(16, 10)
        with torch.no_grad():  # reachable, non-trivial running statistics: those of smooth coloured images
            for bn in (self.body[1], self.body[4]):
                bn.momentum = 1.0
            self.train()(torch.rand(64, 3, 1, 1).expand(-1, -1, 32, 32) * 0.6 + 0.2)
            self.eval()

    def forward(self, x):
        return self.head(self.body(x).mean((2, 3)))


class TinyGen(nn.Module):
    z_dim, c_dim, img_resolution = 4, 10, 32

    def forward(self, z, labels, truncation_psi=1.0, noise_mode="const"):
        return torch.tanh(z[:, :3, None, None].expand(-1, 3, 32, 32) + labels[:, None, None, None] * 0.01)


def test_balanced_labels():
    lab = balanced_labels(13, seed=1)
    assert len(lab) == 13 and np.bincount(lab, minlength=10).min() == 1


@pytest.mark.parametrize("size", [1, 10, 23])
def test_noise(size):
    a, b = get_calibration("noise", size, seed=3), get_calibration("noise", size, seed=3)
    _check(a, size)
    assert torch.equal(a.images, b.images)
    assert not torch.equal(a.images, get_calibration("noise", size, seed=4).images)


def test_real_from_folder(data_root):
    cs = get_calibration("real", 20, seed=0, train_source="exact")
    _check(cs, 20)
    assert cs.source.startswith("real:")
    assert torch.equal(cs.images, get_calibration("real", 20, seed=0, train_source="exact").images)
    with pytest.raises(ValueError, match="calibration pool .* 2 images"):
        get_calibration("real", 40, seed=0, train_source="exact")  # 3 per class in the fixture, 1 held out


def test_synthetic_from_dataset_folder(tmp_path):
    from gsoc_helpers.data.synthetic import SyntheticDatasetWriter

    w = SyntheticDatasetWriter(
        tmp_path / "syn", generator_name="t", generator_checksum="0", per_class=3, z_dim=4, shard_size=30
    )
    rng = np.random.default_rng(0)
    w.write_shard(
        0,
        rng.integers(0, 256, (30, 32, 32, 3), dtype=np.uint8),
        np.arange(30) % 10,
        rng.standard_normal((30, 4)).astype(np.float32),
    )
    cs = get_calibration("student", 20, seed=1, dataset=tmp_path / "syn")
    _check(cs, 20)


def test_synthetic_from_generator():
    cs = get_calibration("offline-teacher", 12, seed=0, generator=TinyGen())
    _check(cs, 12)
    assert cs.images.std() > 0


@pytest.mark.slow
def test_bn_matching_lowers_bn_loss():
    net = TinyNet().eval()
    kw = dict(classifier=net, batch_size=10, progress=False, lr=0.1, ce_weight=0.0)
    start = get_calibration("bn-matching", 20, seed=0, steps=0, **kw)  # the (random) starting images
    cs = get_calibration("bn-matching", 20, seed=0, steps=40, **kw)
    _check(cs, 20)
    before, after = bn_loss(net, start.images), bn_loss(net, cs.images)
    assert after < 0.5 * before, (before, after)
    assert all(p.requires_grad for p in net.parameters())  # classifier left as it was


def test_bn_loss_is_the_distance_of_batch_statistics_from_running_ones():
    """The BN-statistics loss by hand: per BatchNorm2d, mse(batch mean, running mean) + mse(batch var, running var)
    of its input (biased variance), summed over layers."""
    net = TinyNet().eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    want: list[torch.Tensor] = []

    def by_hand(bn, inputs):
        v = inputs[0]
        mu, var = v.mean((0, 2, 3)), ((v - v.mean((0, 2, 3), keepdim=True)) ** 2).mean((0, 2, 3))
        want.append(((mu - bn.running_mean) ** 2).mean() + ((var - bn.running_var) ** 2).mean())

    hooks = [m.register_forward_pre_hook(by_hand) for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    got = bn_loss(net, x)
    for h in hooks:
        h.remove()
    assert len(want) >= 1 and got == pytest.approx(float(sum(want)), rel=1e-5)


def test_bn_matching_warm_up_at_half_size():
    """The first half of the steps at 16x16 (the model sees 16x16), the rest at 32x32: lower BN loss, 32x32 out."""
    net = TinyNet().eval()
    seen = set()
    handle = net.register_forward_pre_hook(lambda m, inp: seen.add(tuple(inp[0].shape[-2:])))
    kw = dict(classifier=net, batch_size=10, progress=False, ce_weight=0.0, tv_weight=0.0, jitter=0.0, flip=False)
    start = get_calibration("bn-matching", 10, seed=0, steps=0, **kw)
    cs = get_calibration("bn-matching", 10, seed=0, steps=40, warmup=0.5, **kw)
    handle.remove()
    _check(cs, 10)
    assert seen == {(16, 16), (32, 32)}
    assert bn_loss(net, cs.images) < 0.5 * bn_loss(net, start.images)


def test_errors_and_registry():
    with pytest.raises(KeyError, match="unknown calibration source"):
        get_calibration("imagenet", 10)
    with pytest.raises(ValueError, match="positive integer"):
        get_calibration("noise", 0)
    with pytest.raises(ValueError, match="classifier"):
        get_calibration("bn-matching", 10)

    @register_source("uniform-test")  # stays registered for later tests: a well-behaved source at any size
    def _uniform(size, seed, model_input):
        from gsoc_helpers.calibration import CalibrationSet

        side, classes = model_input.image_size, model_input.num_classes
        images = torch.rand(size, 3, side, side, generator=torch.Generator().manual_seed(seed))
        return CalibrationSet(images, torch.from_numpy(balanced_labels(size, seed, classes)), "uniform")

    assert "uniform-test" in available_sources()
    _check(get_calibration("uniform-test", 5), 5)


def test_calibration_registry_refuses_duplicates():
    from gsoc_helpers.calibration import available_sources

    assert "real" in available_sources()
    with pytest.raises(ValueError, match="already registered"):
        register_source("real")(lambda size, seed: None)
