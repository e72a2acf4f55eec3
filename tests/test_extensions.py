"""CONTRIBUTING's extensions, each added from outside the package through the public registry: a toy calibration
source, a toy generator kind and a toy classifier family (48x48 inputs, 5 classes) work wherever the built-in ones
do."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

import gsoc_helpers as gh
from gsoc_helpers import calibration
from gsoc_helpers.data.dataset import balanced_labels
from gsoc_helpers.models import classifiers, registry


@pytest.fixture
def restore_registries():
    sources, kinds = dict(calibration._SOURCES), dict(registry._GENERATORS)
    nets, loaders = dict(classifiers.CLASSIFIERS), dict(classifiers._LOADERS)
    yield
    classifiers.CLASSIFIERS.clear()
    classifiers.CLASSIFIERS.update(nets)
    classifiers._LOADERS.clear()
    classifiers._LOADERS.update(loaders)
    calibration._SOURCES.clear()
    calibration._SOURCES.update(sources)
    registry._GENERATORS.clear()
    registry._GENERATORS.update(kinds)


def test_a_toy_calibration_source(restore_registries):
    @gh.register_source("toy-stripes")
    def stripes(size: int, seed: int, model_input: gh.InputContract, period: int = 4) -> gh.CalibrationSet:
        """Horizontal stripes of a seeded random colour per image, at the model's size; labels class-balanced
        over the model's classes."""
        side = model_input.image_size
        rng = np.random.default_rng(seed)
        rows = (torch.arange(side) // period % 2).float().view(1, 1, side, 1)
        colours = torch.from_numpy(rng.random((size, 3, 1, 1)).astype(np.float32))
        labels = torch.from_numpy(balanced_labels(size, seed, model_input.num_classes))
        return gh.CalibrationSet((rows * colours).expand(size, 3, side, side).contiguous(), labels, "toy-stripes")

    assert "toy-stripes" in gh.available_sources()
    cal = gh.get_calibration("toy-stripes", 20, seed=3, period=2)  # default input: CIFAR-10, 32x32, 10 classes
    assert cal.images.shape == (20, 3, 32, 32) and 0 <= cal.images.min() and cal.images.max() <= 1
    assert np.bincount(cal.labels.numpy()).tolist() == [2] * 10
    assert torch.equal(cal.images, gh.get_calibration("toy-stripes", 20, seed=3, period=2).images)  # seeded
    other = gh.get_calibration("toy-stripes", 20, 3, gh.InputContract(48, 5), period=2)
    assert other.images.shape == (20, 3, 48, 48) and np.bincount(other.labels.numpy()).tolist() == [4] * 5
    with pytest.raises(ValueError, match="no option 'colour'; its options are period"):
        gh.get_calibration("toy-stripes", 20, colour="red")
    with pytest.raises(ValueError, match="already registered"):
        gh.register_source("toy-stripes")(lambda size, seed: cal)  # a taken name is refused


@dataclass
class ToyConfig:
    z_dim: int = 8
    c_dim: int = 10
    img_resolution: int = 32


class ToyGenerator(nn.Module):
    """z [N, z_dim], labels [N] -> images [N, 3, 32, 32] in [-1, 1] (a linear map and tanh)."""

    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.config = config
        self.z_dim, self.c_dim, self.img_resolution = config.z_dim, config.c_dim, config.img_resolution
        self.embed = nn.Embedding(config.c_dim, config.z_dim)
        self.out = nn.Linear(config.z_dim, 3 * config.img_resolution**2)

    @classmethod
    def from_config(cls, cfg: dict) -> ToyGenerator:
        return cls(ToyConfig(**cfg))

    def forward(self, z, labels, truncation_psi: float = 1.0, noise_mode: str = "const"):
        h = z * truncation_psi + self.embed(labels)
        return torch.tanh(self.out(h)).view(-1, 3, self.img_resolution, self.img_resolution)


def test_a_toy_generator_kind(tmp_path, restore_registries):
    gh.register_generator("toy-linear")(ToyGenerator)
    torch.manual_seed(0)
    path = gh.save_generator(ToyGenerator(ToyConfig()), tmp_path / "toy.safetensors")
    g = gh.load_generator(path)  # the kind read from the checkpoint's metadata
    assert isinstance(g, ToyGenerator) and g.config == ToyConfig()
    # it samples a dataset, draws a grid and calibrates like the bundled generators
    report = gh.sample_dataset(g, tmp_path / "ds", generator_name="toy", per_class=2, backend="torch", progress=False)
    assert report.complete and len(gh.SyntheticDataset(tmp_path / "ds")) == 20
    grid, labels = gh.generate_grid(g, ["cat", "ship"], per_class=3)
    assert grid.dtype == np.uint8 and labels == ["cat", "ship"]
    cal = gh.get_calibration("student", 10, seed=0, generator=g)
    assert cal.images.shape == (10, 3, 32, 32) and cal.images.std() > 0


class ToyNet(nn.Module):
    """[N,3,48,48] normalised -> logits [N,5]: two conv+BN+ReLU stages and a linear layer (48x48 only)."""

    def __init__(self) -> None:
        super().__init__()
        self.f = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.BatchNorm2d(16),
            nn.ReLU(), nn.Flatten(),
        )  # fmt: skip
        self.fc = nn.Linear(16 * 12 * 12, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.f(x))


def _toy_net(pretrained: bool = True) -> nn.Module:
    torch.manual_seed(0)
    net = ToyNet()
    with torch.no_grad():  # non-trivial BN statistics, as a trained network has
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = 1.0
        net.train()(torch.rand(32, 3, 48, 48))
    return net.eval()


@pytest.mark.slow
def test_a_toy_classifier_family(tmp_path, restore_registries):
    info = gh.ClassifierInfo(
        "toy-net48", "toy", "toynet", 0.0, "toy", gh.InputContract(48, 5, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    )
    gh.register_classifier(info, _toy_net)
    with pytest.raises(ValueError, match="already registered"):
        gh.register_classifier(info, _toy_net)
    net = gh.get_classifier("toy-net48")
    assert net(torch.rand(2, 3, 48, 48)).shape == (2, 5)
    inp = info.input
    for source, opts in (("noise", {}), ("fractal", {}), ("bn-matching", {"classifier": net, "steps": 2})):
        cal = gh.get_calibration(source, 10, 0, inp, **opts)
        assert cal.images.shape == (10, 3, 48, 48) and np.bincount(cal.labels.numpy()).tolist() == [2] * 5
    opts = gh.QuantizeOptions(calibration_size=10, speed_batches=(2,), speed_seconds=0.05, threads=1)
    result = gh.quantize_model("toy-net48", "noise", tmp_path / "int8", options=opts, progress=False)
    import json

    report = json.loads((tmp_path / "int8" / "report.json").read_text())
    assert report["model"]["input"] == [-1, 3, 48, 48] and report["model"]["num_classes"] == 5
    assert 0 <= report["evaluation"]["agreement"] <= 100 and result is not None
