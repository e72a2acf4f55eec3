"""PTQ on a tiny model, evaluation metrics, study specs refusing bad input, CLI errors (the engine itself:
test_study_engine.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_checks import assert_refused
from torch import nn

from gsoc_helpers.openvino.classifier import throughput, to_openvino
from gsoc_helpers.openvino.core import compile_model
from gsoc_helpers.quantization import evaluate as ev
from gsoc_helpers.quantization.ptq import PTQConfig, quantize, save_ir


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.f = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, 2, 1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
        )
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.f(x).mean((2, 3))) * 10  # scaled logits: confident decisions


def _data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 32, 32, generator=g), torch.arange(n) % 10


def separable(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images float32 [n,3,32,32] in [0,1] whose class (n % 10) sets a stripe frequency, phase and colour,
    plus Gaussian noise (std 0.1): a task a tiny CNN learns in seconds with wide decision margins."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    freq = (y % 5 + 1).float().view(-1, 1, 1, 1)
    phase = (y // 5).float().view(-1, 1, 1, 1) * 1.57
    colour = torch.tensor([[(c * 37 % 10) / 10, (c * 53 % 10) / 10, (c * 71 % 10) / 10] for c in range(10)])
    x = 0.5 + 0.25 * torch.sin(6.28 * freq * xx + phase) * colour[y].view(-1, 3, 1, 1)
    return (x + 0.1 * torch.randn(n, 3, 32, 32, generator=g)).clamp(0, 1), y


def train_separable(model: nn.Module) -> nn.Module:
    """``model`` after 80 Adam steps (lr 1e-2, batch 64) on 500 :func:`separable` images, in eval mode."""
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    x, y = separable(500, 0)
    g = torch.Generator().manual_seed(0)
    for _ in range(80):
        idx = torch.randint(0, 500, (64,), generator=g)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def trained_tiny() -> nn.Module:
    """Tiny trained for 80 Adam steps on :func:`separable` (about a second on one core).  An untrained model's
    decisions are near-ties (median top-2 logit gap 0.05), so whether INT8 keeps them is luck that differs between
    CPUs; this one's smallest gap on the test images was 6.0 logits against an INT8 logit error of at most 4.2."""
    torch.manual_seed(0)
    return train_separable(Tiny())


@pytest.mark.slow
def test_quantized_tiny_model_agrees(tmp_path, trained_tiny):
    """INT8 keeps FP32's decisions.  1,000 test images (one image = 0.1 point); measured on an AVX2-only CPU:
    agreement 100 %, KL 5e-5 (project default) to 9e-4 (NNCF's ranges).  Bounds: agreement >= 99 %, KL < 0.01."""
    model = trained_tiny
    x, y = separable(1000, 5)
    fp32 = to_openvino(model)
    int8 = quantize(fp32, separable(20, 1)[0], PTQConfig(bias_correction="fast"))
    assert any(op.get_type_name() == "FakeQuantize" for op in int8.get_ordered_ops())
    with torch.no_grad():
        ref = model(x).numpy()
    l32 = ev.logits(fp32, x, threads=1)
    assert np.abs(l32 - ref).max() < 1e-3 * np.abs(ref).max()  # OpenVINO FP32 (f32 hint) matches torch
    res = ev.compare(l32, ev.logits(int8, x, threads=1), y.numpy())
    assert res["top1_fp32"] >= 99 and res["agreement"] >= 99 and res["kl"] < 0.01, res
    xml = save_ir(int8, tmp_path / "tiny_int8")
    assert xml.is_file() and xml.with_suffix(".bin").is_file()
    assert ev.model_size_bytes(int8) < ev.model_size_bytes(fp32)
    assert ev.fp32_layers(int8) == [] and len(ev.fp32_layers(fp32)) == 3
    assert throughput(int8, 4, seconds=0.2, threads=1) > 0


def test_compare_metrics_exact():
    a = np.array([[2.0, 0.0], [0.0, 1.0]])
    res = ev.compare(a, a.copy(), np.array([0, 0]))
    assert res["agreement"] == 100 and abs(res["kl"]) < 1e-12 and res["top1_fp32"] == 50 and res["drop"] == 0
    res = ev.compare(a, a[:, ::-1].copy(), np.array([0, 0]))
    assert res["agreement"] == 0 and res["kl"] > 0


@pytest.mark.slow
def test_bad_config_and_empty_calibration():
    fp32 = to_openvino(Tiny())
    with pytest.raises(ValueError, match="preset"):
        quantize(fp32, _data(4)[0], PTQConfig(preset="fastest"))
    with pytest.raises(ValueError, match="bias_correction"):
        quantize(fp32, _data(4)[0], PTQConfig(bias_correction="slow"))
    with pytest.raises(ValueError, match="activation_range"):
        quantize(fp32, _data(4)[0], PTQConfig(activation_range="max"))
    with pytest.raises(ValueError, match="non-empty"):
        quantize(fp32, torch.zeros(0, 3, 32, 32))


def test_study_rejects_bad_specs(tmp_path):
    from gsoc_helpers.study.engine import run_study
    from gsoc_helpers.study.specs import Int8Spec
    from gsoc_helpers.study.splits import fixed_splits
    from gsoc_helpers.study.tables import summarize

    splits = fixed_splits({"t": _data(4)})
    with pytest.raises(KeyError, match="unknown classifier"):
        run_study(Int8Spec(models=["nope"], sources=["noise"]), splits, "test", tmp_path)
    with pytest.raises(KeyError, match="unknown calibration source"):
        run_study(Int8Spec(models=["akamaster_resnet20"], sources=["nope"]), splits, "test", tmp_path)
    with pytest.raises(ValueError, match=">= 1"):
        run_study(Int8Spec(models=["akamaster_resnet20"], sources=["noise"], sizes=[0]), splits, "test", tmp_path)
    with pytest.raises(ValueError, match="no finished cells"):
        summarize([])


def test_cli_errors(capsys):
    assert_refused(["quantize-study", "--models", "nope", "--sources", "noise"], capsys, "unknown classifier")
    assert_refused(
        ["quantize-study", "--models", "akamaster_resnet20", "--sources", "noise", "--sizes", "0"],
        capsys,
        "--sizes: must be >= 1",
    )  # refused by argparse before anything runs


@pytest.mark.slow
def test_accuracy_control_runs_on_held_out_data(trained_tiny):
    """Accuracy-aware PTQ on 100 held-out images with max_drop 5 points.  NNCF validates with its own compile
    settings (bf16 on some CPUs) while this test measures in f32, so the bound allows 2 more images (2 points)."""
    from gsoc_helpers.quantization.ptq import quantize_with_accuracy_control

    x, y = separable(100, 2)
    int8 = quantize_with_accuracy_control(
        to_openvino(trained_tiny), separable(20, 1)[0], x, y, max_drop=0.05, config=PTQConfig(bias_correction="fast")
    )
    res = ev.compare(ev.logits(to_openvino(trained_tiny), x, threads=1), ev.logits(int8, x, threads=1), y.numpy())
    assert res["top1_fp32"] >= 99 and res["top1_int8"] >= res["top1_fp32"] - 5 - 2, res


def test_config_maps_to_nncf_parameters():
    import nncf
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    from gsoc_helpers.quantization.ptq import NNCF_DEFAULTS, nncf_kwargs

    kw = nncf_kwargs(PTQConfig(), 50)  # project default: global min/max ranges, mixed preset, no bias correction
    assert kw["subset_size"] == 50 and kw["preset"] == nncf.QuantizationPreset.MIXED
    adv = kw["advanced_parameters"]
    assert adv.activations_range_estimator_params == RangeEstimatorParametersSet.MINMAX
    assert adv.disable_bias_correction is True and adv.overflow_fix is None
    assert nncf_kwargs(PTQConfig(bias_correction="full"), 5)["fast_bias_correction"] is False
    kw = nncf_kwargs(NNCF_DEFAULTS, 1000)  # NNCF's defaults: nothing advanced, 300 images, fast bias correction
    assert kw == {"subset_size": 300, "fast_bias_correction": True}
    adv = nncf_kwargs(PTQConfig(overflow_fix="disable"), 10)["advanced_parameters"]
    assert adv.overflow_fix.value == "disable"
    assert PTQConfig().key() != NNCF_DEFAULTS.key()


@pytest.mark.slow
def test_fp32_reference_is_compiled_in_f32():
    import openvino as ov

    fp32 = to_openvino(Tiny())
    assert compile_model(fp32, threads=1).get_property("INFERENCE_PRECISION_HINT") == ov.Type.f32
    auto = compile_model(fp32, threads=1, precision=None).get_property("INFERENCE_PRECISION_HINT")
    # OpenVINO's own choice is a precision this CPU reports, and plain f32 on CPUs without BF16/FP16 units
    # (AVX2-only machines); on AVX512-BF16 / AMX machines it is bf16, hence the explicit f32 reference.
    caps = set(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    names = {ov.Type.f32: "FP32", ov.Type.bf16: "BF16", ov.Type.f16: "FP16"}
    assert names.get(auto) in caps, (auto, caps)
    if not caps & {"BF16", "FP16"}:
        assert auto == ov.Type.f32


class Depthwise(nn.Module):
    """conv -> ReLU6 -> depthwise conv -> ReLU6 -> pooled linear: the MobileNet/EfficientNet-Lite pattern."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.relu6(self.dw(nn.functional.relu6(self.conv(x))))
        return self.fc(h.mean((2, 3)))


def _depthwise_input_range_shape(int8_model) -> tuple[int, ...]:
    op = next(op for op in int8_model.get_ordered_ops() if op.get_type_name() == "GroupConvolution")
    fq = op.input_value(0).get_node()
    assert fq.get_type_name() == "FakeQuantize"
    return tuple(fq.input_value(1).get_node().get_data().shape)


def test_depthwise_inputs_get_per_channel_ranges_unless_asked_per_tensor():
    # NNCF's CPU choice: one range per channel at a depthwise convolution's input (EfficientNet-Lite0 loses most of
    # its INT8 agreement to it, RESULTS section 8); activations_per_channel=False asks for one range per tensor
    torch.manual_seed(0)
    fp32 = to_openvino(Depthwise().eval(), 16)
    cal = torch.rand(8, 3, 16, 16)
    assert _depthwise_input_range_shape(quantize(fp32, cal, PTQConfig())) == (1, 8, 1, 1)
    per_tensor = PTQConfig(activations_per_channel=False)
    assert int(np.prod(_depthwise_input_range_shape(quantize(fp32, cal, per_tensor)))) == 1
    assert "activations_per_channel=False" in per_tensor.key() and "per_channel" not in PTQConfig().key()


def test_per_channel_depthwise_inputs_are_found_and_gone_with_either_remedy():
    torch.manual_seed(0)
    fp32 = to_openvino(Depthwise().eval(), 16)
    cal = torch.rand(8, 3, 16, 16)
    assert len(ev.per_channel_depthwise_inputs(quantize(fp32, cal, PTQConfig()))) == 1
    assert ev.per_channel_depthwise_inputs(quantize(fp32, cal, PTQConfig(activations_per_channel=False))) == []
    assert ev.per_channel_depthwise_inputs(quantize(fp32, cal, PTQConfig(ignored_types=["GroupConvolution"]))) == []
