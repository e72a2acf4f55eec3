"""OpenVINO IR conversion of our StyleGAN2-ADA generator.

Documented tolerance: OpenVINO CPU in f32 (INFERENCE_PRECISION_HINT=f32) matches PyTorch eager to
max |diff| <= 1e-4 on outputs reaching |x| ~ 10 (measured about 6e-6 for this small config).
Tracing switches modulated convs to the batch-size independent (non-fused) form, so the IR has a
dynamic batch dimension.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gsoc_helpers.models.stylegan2_ada import Generator, StyleGAN2Config

ov = pytest.importorskip("openvino")
OV_TOLERANCE = 1e-4


def _tiny_generator() -> Generator:
    """A 16x16 StyleGAN2 with non-zero noise strengths and w_avg (so truncation and noise matter)."""
    torch.manual_seed(0)
    cfg = StyleGAN2Config(
        z_dim=8,
        c_dim=4,
        w_dim=6,
        img_resolution=16,
        mapping_kwargs={"num_layers": 2},
        synthesis_kwargs={"channel_base": 64, "channel_max": 8, "num_fp16_res": 4, "conv_clamp": 256},
    )
    g = Generator(cfg).eval()
    with torch.no_grad():
        for k, t in g.state_dict().items():
            if k.endswith(("noise_strength", "w_avg")):
                t.normal_()
    return g


@pytest.mark.slow
def test_openvino_matches_pytorch_dynamic_batch():
    g = _tiny_generator()
    z, c = torch.randn(3, 8), torch.tensor([0, 1, 3])
    with torch.no_grad():
        model = ov.convert_model(g, example_input=(z, c))
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    for n in (3, 5):
        zn, cn = torch.randn(n, 8), torch.arange(n) % 4
        out = compiled([zn.numpy(), cn.numpy()])[0]
        with torch.no_grad():
            ref = g(zn, cn).numpy()
        assert out.shape == ref.shape == (n, 3, 16, 16)
        assert np.abs(ref).max() > 1.0
        np.testing.assert_allclose(out, ref, atol=OV_TOLERANCE, rtol=0)
    assert not g.synthesis.b8.conv0.fused  # tracing does not change the eager model's mode


@pytest.mark.slow
def test_convert_generator_takes_truncation_psi_as_input():
    """export.convert_generator: ψ is an IR input; every ψ matches PyTorch on the same compiled model."""
    from gsoc_helpers.openvino.generator import OpenVINOGenerator

    g = _tiny_generator()
    ovg = OpenVINOGenerator(g)
    z, c = torch.randn(3, 8), torch.tensor([0, 1, 3])
    outs = {}
    for psi in (1.0, 0.5, 0.0):
        with torch.no_grad():
            ref = g(z, c, truncation_psi=psi)
        outs[psi] = ovg(z, c, truncation_psi=psi)
        np.testing.assert_allclose(outs[psi].numpy(), ref.numpy(), atol=OV_TOLERANCE, rtol=0)
    assert (outs[1.0] - outs[0.5]).abs().max() > 0.01  # ψ really reaches the graph
