"""OpenVINO export: FP32 matches PyTorch for any ψ, INT8 (project PTQConfig) stays close to FP32 (PSNR), IR
round trip, psnr()."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("openvino")

from gsoc_helpers.models.student import StudentConfig, StudentGenerator  # noqa: E402
from gsoc_helpers.openvino.generator import OpenVINOGenerator, convert_generator, export_generator, psnr  # noqa: E402


@pytest.fixture(scope="module")
def tiny_student():
    torch.manual_seed(0)
    g = StudentGenerator(StudentConfig(z_dim=16, ngf=32))
    g.train()
    with torch.no_grad():  # give BatchNorm non-trivial running statistics
        for _ in range(3):
            g(torch.randn(32, 16), torch.randint(0, 10, (32,)))
        g.to_rgb.weight.mul_(40.0)  # outputs spanning most of [-1, 1], like a trained generator
    return g.eval()


def test_psnr_by_hand():
    a = torch.zeros(4)
    assert psnr(a, a) == math.inf
    assert psnr(a, torch.full((4,), 0.2)) == pytest.approx(10 * math.log10(4 / 0.04))
    with pytest.raises(ValueError):
        psnr(a, torch.zeros(3))


@pytest.mark.slow
def test_fp32_matches_pytorch_and_round_trip(tiny_student, tmp_path):
    z, y = torch.randn(5, 16), torch.tensor([0, 1, 2, 3, 9])
    ref = tiny_student(z, y)
    ovg = OpenVINOGenerator(tiny_student)
    assert (ovg.z_dim, ovg.c_dim, ovg.img_resolution) == (16, 10, 32)
    assert torch.allclose(ovg(z, y), ref, atol=1e-3)
    xml = export_generator(tiny_student, tmp_path)
    assert xml.name == "generator_fp32.xml" and xml.with_suffix(".bin").is_file()
    from_ir = OpenVINOGenerator(xml)
    assert from_ir.z_dim == 16 and torch.allclose(from_ir(z, torch.nn.functional.one_hot(y, 10)), ref, atol=1e-3)
    half = tiny_student(z, y, truncation_psi=0.5)
    assert not torch.allclose(half, ref, atol=1e-2)
    assert torch.allclose(from_ir(z, y, truncation_psi=0.5), half, atol=1e-3)  # psi is an input of the IR
    with pytest.raises(FileNotFoundError):
        OpenVINOGenerator(tmp_path / "missing.xml")
    static = convert_generator(tiny_student, batch_size=5)
    assert static.inputs[0].get_partial_shape().is_static


def test_int8_uses_the_project_quantize_with_ptq_config(tiny_student, tmp_path):
    from gsoc_helpers.quantization.ptq import PTQConfig, export_int8_generator

    with pytest.raises(ValueError, match="preset"):  # the config reaches ptq.quantize (validated there)
        export_int8_generator(tiny_student, tmp_path, calibration_size=4, config=PTQConfig(preset="fast"))


@pytest.mark.slow
def test_int8_close_to_fp32(tiny_student, tmp_path):
    from gsoc_helpers.quantization.ptq import export_int8_generator

    xml = export_int8_generator(tiny_student, tmp_path, calibration_size=32)
    assert xml.name == "generator_int8.xml"
    fp32, int8 = OpenVINOGenerator(tiny_student), OpenVINOGenerator(xml)
    g = torch.Generator().manual_seed(1)
    z, y = torch.randn(64, 16, generator=g), torch.randint(0, 10, (64,), generator=g)
    a, b = fp32(z, y), int8(z, y)
    assert a.std() > 0.15
    assert not torch.equal(a, b)  # it really is quantised
    value = psnr(a, b)
    print(f"INT8 vs FP32 PSNR: {value:.2f} dB")
    assert value > 25.0  # measured 38.6 dB on an AVX2-only CPU
