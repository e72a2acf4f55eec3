from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from gsoc_helpers.images import make_grid, save_grid
from gsoc_helpers.metrics.complexity import count_macs, count_parameters
from gsoc_helpers.models.registry import load_generator, read_generator_metadata, register_generator, save_generator
from gsoc_helpers.pixels import to_uint8, uint8_to_float


@dataclass
class TinyConfig:
    z_dim: int = 4
    c_dim: int = 10
    hidden: int = 8


@register_generator("tiny-test")
class TinyGenerator(nn.Module):
    def __init__(self, config: TinyConfig = TinyConfig()):
        super().__init__()
        self.config, self.z_dim, self.c_dim, self.img_resolution = config, config.z_dim, config.c_dim, 2
        self.fc = nn.Linear(config.z_dim + config.c_dim, 3 * 2 * 2)

    @classmethod
    def from_config(cls, cfg: dict) -> "TinyGenerator":
        return cls(TinyConfig(**cfg))

    def forward(self, z, labels, truncation_psi=1.0, noise_mode="const"):
        onehot = nn.functional.one_hot(labels, self.c_dim).float() if labels.ndim == 1 else labels
        return torch.tanh(self.fc(torch.cat([z * truncation_psi, onehot], 1))).view(-1, 3, 2, 2)


def test_uint8_mapping_matches_nvidia_formula():
    x = torch.tensor([-1.5, -1.0, 0.0, 0.999, 1.0, 2.0]).view(1, 1, 2, 3).expand(1, 3, 2, 3)
    u = to_uint8(x)
    assert u.shape == (1, 2, 3, 3) and u.dtype == np.uint8
    assert list(u[0, :, :, 0].reshape(-1)) == [0, 0, 128, 255, 255, 255]  # (x*127.5+128).clamp(0,255), truncated
    back = uint8_to_float(u)
    assert back.shape == (1, 3, 2, 3) and float(back.min()) == -1.0 and float(back.max()) == 1.0


def test_grid_layout_and_png(tmp_path):
    imgs = np.arange(5).repeat(4 * 4 * 3).reshape(5, 4, 4, 3).astype(np.uint8)
    g = make_grid(imgs, nrow=3, padding=1)
    assert g.shape == (2 * 5 + 1, 3 * 5 + 1, 3)
    assert g[1, 1, 0] == 0 and g[1, 6, 0] == 1 and g[6, 1, 0] == 3 and g[0, 0, 0] == 255
    from PIL import Image

    p = save_grid(imgs, tmp_path / "g.png", nrow=3, scale=2)
    assert Image.open(p).size == (2 * (3 * 6 + 2), 2 * (2 * 6 + 2))  # default padding 2, scale 2
    assert not [q for q in tmp_path.iterdir() if q.name.startswith(".")]  # written atomically, no temporary left


def test_generator_checkpoint_roundtrip(tmp_path):
    torch.manual_seed(0)
    g = TinyGenerator(TinyConfig(hidden=5))
    path = save_generator(g, tmp_path / "g.safetensors", {"note": "x"})
    meta = read_generator_metadata(path)
    assert meta["kind"] == "tiny-test" and meta["config"]["hidden"] == 5 and meta["extra"] == {"note": "x"}
    g2 = load_generator(path)
    z, c = torch.randn(3, 4), torch.tensor([0, 5, 9])
    torch.testing.assert_close(g(z, c), g2(z, c), rtol=0, atol=0)


def test_load_generator_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="bundled names"):
        load_generator(tmp_path / "missing.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a gsoc_helpers generator checkpoint"):
        load_generator(tmp_path / "other.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_generator(tmp_path / "junk.safetensors")


def test_complexity_counts():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    assert count_parameters(model) == 3 * 8 * 9 + 8 + 128 * 10 + 10
    macs = count_macs(model, torch.zeros(2, 3, 4, 4))
    assert macs == 2 * (8 * 4 * 4 * 3 * 9 + 128 * 10)


def test_images_per_second_counts_calls():
    from gsoc_helpers.metrics.speed import images_per_second

    calls = []

    class Fake:
        z_dim, c_dim = 4, 10

        def __call__(self, z, labels):
            calls.append(len(z))
            return torch.zeros(len(z), 3, 2, 2)

    ips = images_per_second(Fake(), batch_size=3, min_seconds=0.0, warmup=2, rounds=3)
    assert calls == [3] * (2 + 3) and ips > 0  # 2 warm-up calls, then one call in each of 3 rounds
    with pytest.raises(ValueError, match="batch size"):
        images_per_second(Fake(), batch_size=0)


def test_interleaved_rates_alternate_engines_and_take_medians():
    from gsoc_helpers.metrics.speed import interleaved_rates

    order = []
    engines = {"a": (lambda: order.append("a"), 2), "b": (lambda: order.append("b"), 5)}
    rates = interleaved_rates(engines, rounds=3, min_seconds=0.0, warmup=1)
    assert order == ["a", "b"] + ["a", "b"] * 3  # warm-up each, then rounds in turn: load hits both alike
    assert set(rates) == {"a", "b"} and all(v > 0 for v in rates.values())
    with pytest.raises(ValueError, match="rounds"):
        interleaved_rates(engines, rounds=0)


def test_registry_refuses_a_second_class_under_a_taken_kind():
    import importlib

    from gsoc_helpers.models.registry import _GENERATORS, KIND_MODULES, register_generator

    for kind, module in KIND_MODULES.items():  # the explicit table names the module that registers each kind
        importlib.import_module(module)
        assert _GENERATORS[kind].generator_kind == kind

    class Impostor(torch.nn.Module):
        @classmethod
        def from_config(cls, cfg):
            return cls()

    with pytest.raises(ValueError, match="already registered"):
        register_generator("student")(Impostor)
    from gsoc_helpers.models.student import StudentGenerator

    assert _GENERATORS["student"] is StudentGenerator
