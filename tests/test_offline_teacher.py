import pytest
import torch

from gsoc_helpers.models.offline_teacher import OfflineTeacher, OfflineTeacherConfig
from gsoc_helpers.models.registry import load_generator, save_generator


def _g():
    torch.manual_seed(0)
    return OfflineTeacher(OfflineTeacherConfig(ngf=8)).eval()


def test_protocol_and_range():
    g = _g()
    assert (g.z_dim, g.c_dim, g.img_resolution) == (128, 10, 32)
    z, y = torch.randn(3, 128), torch.tensor([0, 1, 9])
    out = g(z, y, truncation_psi=1.0, noise_mode="random")
    assert out.shape == (3, 3, 32, 32) and out.dtype == torch.float32
    assert out.abs().max() <= 1.0
    assert torch.allclose(out, g(z, torch.nn.functional.one_hot(y, 10).float()))


def test_truncation_scales_z():
    g = _g()
    z, y = torch.randn(2, 128), torch.tensor([3, 3])
    out = g(z, y, truncation_psi=0.0)
    assert torch.allclose(out[0], out[1])  # psi = 0: every z maps to z = 0
    assert torch.allclose(g(z, y, truncation_psi=0.5), g(z * 0.5, y))


def test_class_changes_output():
    g = _g()
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, torch.nn.Embedding):
                m.weight.normal_()
    z = torch.randn(1, 128).repeat(2, 1)
    out = g(z, torch.tensor([0, 1]))
    assert not torch.allclose(out[0], out[1])


def test_registry_roundtrip(tmp_path):
    g = _g()
    path = save_generator(g, tmp_path / "t.safetensors")
    g2 = load_generator(path)
    assert isinstance(g2, OfflineTeacher) and g2.config == g.config
    z, y = torch.randn(2, 128), torch.tensor([4, 5])
    assert torch.equal(g(z, y), g2(z, y))


def test_bad_input():
    g = _g()
    with pytest.raises(ValueError, match=r"z of shape \[N, 128\]"):
        g(torch.randn(2, 64), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="labels must be in"):
        g(torch.randn(1, 128), torch.tensor([10]))
    with pytest.raises(ValueError):
        OfflineTeacher(OfflineTeacherConfig(img_resolution=64))
