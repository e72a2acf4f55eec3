"""Below 8 bits: range estimators and the re-levelled OpenVINO model (b-bit weights per channel, b-bit activations)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_quantization import Tiny, separable

from gsoc_helpers.openvino.classifier import to_openvino
from gsoc_helpers.openvino.core import compile_model
from gsoc_helpers.quantization.lowbit import (
    BitWidth,
    activation_fakequantizes,
    activation_samples,
    compressed_weights,
    dequantized,
    relevel,
)
from gsoc_helpers.quantization.ptq import PTQConfig, quantize
from gsoc_helpers.quantization.ranges import ESTIMATORS, estimate_range, fake_quantize, weight_scales


@pytest.fixture(scope="module")
def int8_tiny():
    """The tiny model (random weights, seeded) quantized by NNCF on 20 images, and 16 other images."""
    calib, _ = separable(20, 1)
    fp32 = to_openvino(Tiny().eval())
    return quantize(fp32, calib, PTQConfig()), calib, separable(16, 2)[0]


def _exposed_activations(model, images: torch.Tensor) -> list[np.ndarray]:
    """Outputs of every activation FakeQuantize of ``model`` on ``images`` (compiled in f32)."""
    probe = model.clone()
    fqs = activation_fakequantizes(probe)
    probe.add_outputs([fq.output(0) for fq in fqs])
    compiled = compile_model(probe, precision="f32", cache=False)
    res = compiled(images.numpy())
    return [np.asarray(res[o]) for o in compiled.outputs[-len(fqs) :]]


@pytest.mark.parametrize("bits", ["W4A4", "W5A5", "W6A6", "W4A8", "W8A4", "W3A3"])
def test_relevelled_model_has_b_bit_weights_and_activations(int8_tiny, bits):
    int8, calib, images = int8_tiny
    bw = BitWidth.parse(bits)
    low = relevel(int8, bw, activation_samples(int8, calib), "mse")
    weights = compressed_weights(low)
    assert len(weights) == 3  # two convolutions and the linear layer
    for w in weights:
        real = dequantized(w).reshape(len(dequantized(w)), -1)
        counts = [len(np.unique(row)) for row in real]
        assert max(counts) <= 2**bw.weights and max(counts) >= min(2**bw.weights - 1, real.shape[1]) // 2
    acts = _exposed_activations(low, images)
    assert len(acts) >= 3
    for a in acts:
        assert 2 <= len(np.unique(a)) <= 2**bw.activations
    assert all(fq.get_levels() == 2**bw.activations for fq in activation_fakequantizes(low))
    # the original INT8 model is untouched (relevel works on a copy)
    assert all(fq.get_levels() == 256 for fq in activation_fakequantizes(int8))
    if bw.weights < 8:  # and had more than 2^b values per channel (so the check above has teeth)
        assert max(len(np.unique(r)) for w in compressed_weights(int8) for r in dequantized(w)) > 2**bw.weights


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_each_estimator_sets_the_ranges_it_estimates(int8_tiny, estimator):
    int8, calib, _ = int8_tiny
    samples = activation_samples(int8, calib)
    low = relevel(int8, BitWidth(4, 4), samples, estimator)
    for fq, x in zip(activation_fakequantizes(low), samples, strict=True):
        lo, hi = estimate_range(x, 16, estimator)
        got = [float(fq.input_value(i).get_node().get_data().ravel()[0]) for i in range(1, 5)]
        assert np.allclose(got, [lo, hi, lo, hi], rtol=1e-6)
    assert all(float(x.min()) <= estimate_range(x, 16, estimator)[1] for x in samples)


def test_estimators_order_and_zero():
    rng = np.random.default_rng(0)
    relu = np.maximum(rng.standard_t(3, 100_000), 0)  # heavy-tailed ReLU output
    ranges = {e: estimate_range(relu, 16, e) for e in ESTIMATORS}
    assert ranges["minmax"] == (0.0, float(relu.max()))
    assert all(lo == 0.0 for lo, _ in ranges.values())  # ReLU outputs keep an exact zero
    assert ranges["percentile"][1] < ranges["minmax"][1] and ranges["mse"][1] < ranges["minmax"][1]

    def mse(r):
        return float(((fake_quantize(relu, *r, 16) - relu) ** 2).mean())

    assert mse(ranges["mse"]) < mse(ranges["minmax"])  # the MSE estimator earns its name at 4 bits
    signed = rng.normal(size=10_000)
    lo, hi = estimate_range(signed, 256, "minmax")
    assert lo == signed.min() and hi == signed.max()


def test_weight_scales_cover_channels():
    w = np.random.default_rng(1).normal(size=(8, 4, 3, 3)) * np.arange(1, 9).reshape(8, 1, 1, 1)
    s_max, s_mse = weight_scales(w, 4, "minmax"), weight_scales(w, 4, "mse")
    assert s_max.shape == (8,) and np.allclose(s_max * 7, np.abs(w).reshape(8, -1).max(1), rtol=1e-6)
    assert np.all(s_mse <= s_max * (1 + 1e-6)) and np.all(s_mse > 0)


def test_bad_inputs(int8_tiny):
    int8, calib, _ = int8_tiny
    for text in ("9", "W4", "A4W4", "x"):
        with pytest.raises(ValueError):
            BitWidth.parse(text)
    assert BitWidth.parse("w4a8") == BitWidth(4, 8) and BitWidth.parse(5).name == "W5A5"
    with pytest.raises(ValueError, match="estimator"):
        estimate_range(np.ones(3), 16, "max")
    with pytest.raises(ValueError, match="samples are needed"):
        relevel(int8, BitWidth(4, 4))
    with pytest.raises(ValueError, match="no activation FakeQuantize"):
        relevel(to_openvino(Tiny().eval()), BitWidth(8, 8))
