"""Student generator: shapes, protocol, presets, registry round trip."""

from __future__ import annotations

import pytest
import torch

from gsoc_helpers.metrics.complexity import count_macs, count_parameters
from gsoc_helpers.models.registry import load_generator, save_generator
from gsoc_helpers.models.student import PRESETS, StudentConfig, StudentGenerator


def test_default_size_matches_distylegan():
    g = StudentGenerator().eval()
    assert count_parameters(g) == 2_054_371  # ~2.05M as published for DiStyleGAN
    macs = count_macs(g, torch.zeros(1, 512), torch.zeros(1, dtype=torch.long))
    assert 110e6 < macs < 120e6  # ~115M multiply-adds per image


def test_forward_protocol_and_labels():
    torch.manual_seed(0)
    g = StudentGenerator(StudentConfig(z_dim=16, ngf=32)).eval()
    z, y = torch.randn(4, 16), torch.tensor([0, 3, 5, 9])
    x = g(z, y, truncation_psi=1.0, noise_mode="random")
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32 and x.abs().max() <= 1
    assert torch.equal(x, g(z, torch.nn.functional.one_hot(y, 10).float()))
    assert not torch.allclose(x, g(z, (y + 1) % 10))  # the class matters
    assert torch.allclose(g(z, y, truncation_psi=0.0), g(torch.zeros_like(z), y))  # psi scales z toward 0
    with pytest.raises(ValueError, match="labels must be in"):
        g(z, torch.tensor([0, 1, 2, 10]))
    with pytest.raises(ValueError, match="z of shape"):
        g(torch.randn(4, 8), y)


def test_presets_and_bad_width():
    assert StudentConfig.preset("small").ngf == PRESETS["small"] == 128
    with pytest.raises(KeyError, match="unknown student preset"):
        StudentConfig.preset("huge")
    with pytest.raises(ValueError, match="multiple of 16"):
        StudentGenerator(StudentConfig(ngf=40))


def test_registry_round_trip(tmp_path):
    torch.manual_seed(1)
    g = StudentGenerator(StudentConfig(z_dim=8, ngf=16)).eval()
    path = save_generator(g, tmp_path / "s.safetensors")
    g2 = load_generator(path)
    z, y = torch.randn(3, 8), torch.tensor([1, 2, 3])
    assert isinstance(g2, StudentGenerator) and torch.equal(g(z, y), g2(z, y))
