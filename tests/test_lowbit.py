"""Below 8 bits: NNCF's own 4-bit call, the re-levelled OpenVINO model (b-bit weights per channel from the FP32
weights, b-bit activations), and the range estimators."""

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
    calibrate_for_relevel,
    nncf_fp8,
    nncf_lowbit,
    relevel,
    weight_fakequantizes,
    weight_values,
)
from gsoc_helpers.quantization.ranges import ESTIMATORS, estimate_range, fake_quantize, weight_scales


@pytest.fixture(scope="module")
def int8_tiny():
    """The tiny model (random weights, seeded) calibrated by NNCF on 20 images (weights kept FP32), and 16 other
    images."""
    calib, _ = separable(20, 1)
    fp32 = to_openvino(Tiny().eval())
    return calibrate_for_relevel(fp32, calib), calib, separable(16, 2)[0]


def matmul_model():
    """An OpenVINO model x [N,3,8,8] -> conv 3->8 -> ReLU -> mean -> MatMul by a [8,5] constant WITHOUT transpose_b
    (its output channel is axis 1) -> [N,5]; seeded random weights."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(3)
    x = ops.parameter([-1, 3, 8, 8], np.float32, name="x")
    conv = ops.convolution(
        x, ops.constant(rng.normal(size=(8, 3, 3, 3)).astype(np.float32)), [1, 1], [1, 1], [1, 1], [1, 1]
    )
    pooled = ops.reduce_mean(ops.relu(conv), ops.constant(np.array([2, 3])), keep_dims=False)
    w = rng.normal(size=(8, 5)) * np.array([0.1, 1, 3, 10, 0.5])  # columns (output channels) of different scales
    y = ops.matmul(pooled, ops.constant(w.astype(np.float32)), transpose_a=False, transpose_b=False)
    return ov.Model([y], [x], "matmul_model")


def _exposed_activations(model, images: torch.Tensor) -> list[np.ndarray]:
    """Outputs of every activation FakeQuantize of ``model`` on ``images`` (compiled in f32)."""
    probe = model.clone()
    fqs = activation_fakequantizes(probe)
    probe.add_outputs([fq.output(0) for fq in fqs])
    compiled = compile_model(probe, precision="f32", cache=False)
    res = compiled(images.numpy())
    return [np.asarray(res[o]) for o in compiled.outputs[-len(fqs) :]]


def reference_quantizer(w: np.ndarray, axis: int, low_code: int) -> np.ndarray:
    """numpy symmetric 4-bit per-channel quantizer: scale = max|w| / 7 over every axis but ``axis``, codes
    round(w / scale) clipped to [low_code, 7]."""
    other = tuple(i for i in range(w.ndim) if i != axis)
    scale = np.abs(w).max(axis=other, keepdims=True) / 7
    return np.clip(np.round(w / scale), low_code, 7) * scale


@pytest.mark.parametrize("path", ["nncf", "relevel"])
def test_w4_weights_match_a_numpy_reference_quantizer(path):
    """Both paths quantize the FP32 weights once, per output channel along the op's own axis (axis 1 for the
    MatMul without transpose_b): NNCF's grid is [-8, 7] * max|w|/7, the re-levelling's narrow [-7, 7]."""
    fp32 = matmul_model()
    calib = torch.from_numpy(np.random.default_rng(0).random((12, 3, 8, 8), np.float32))
    real = weight_values(fp32)
    if path == "nncf":
        low = nncf_lowbit(fp32, calib, BitWidth(4, 8))
    else:
        low = relevel(calibrate_for_relevel(fp32, calib), BitWidth(4, 8), weight_estimator="minmax")
    got = weight_values(low)
    assert got.keys() == real.keys() and len(got) == 2
    for name, w in real.items():
        axis = 1 if "MatMul" in name or w.ndim == 2 else 0
        ref = reference_quantizer(w, axis, -8 if path == "nncf" else -7)
        assert np.allclose(got[name], ref, rtol=1e-5, atol=1e-6), name
        wrong_axis = reference_quantizer(w, 1 - axis, -8) if w.ndim == 2 else None
        assert wrong_axis is None or not np.allclose(got[name], wrong_axis, atol=1e-3)  # the test tells axes apart
    i4 = [
        op
        for op in low.get_ordered_ops()
        if op.get_type_name() == "Constant" and op.get_element_type().get_type_name() == "i4"
    ]
    assert len(i4) == 2  # both weights stored as int4 codes


def test_nncf_lowbit_w4a4_levels_and_limits():
    fp32 = matmul_model()
    calib = torch.from_numpy(np.random.default_rng(0).random((12, 3, 8, 8), np.float32))
    low = nncf_lowbit(fp32, calib, BitWidth(4, 4))
    acts = activation_fakequantizes(low)
    assert len(acts) == 2 and all(fq.get_levels() == 16 for fq in acts)  # the conv's and the MatMul's inputs
    logits = compile_model(low, precision="f32", cache=False)(calib.numpy())[0]
    assert np.isfinite(logits).all() and logits.shape == (12, 5)
    with pytest.raises(ValueError, match="not W3A3"):
        nncf_lowbit(fp32, calib, BitWidth(3, 3))
    fp8 = nncf_fp8(fp32, calib, "FP8_E4M3")
    assert any(op.get_type_name() == "FakeConvert" for op in fp8.get_ordered_ops())
    with pytest.raises(ValueError, match="FP8 mode"):
        nncf_fp8(fp32, calib, "FP4")


@pytest.mark.parametrize("bits", ["W4A4", "W5A5", "W6A6", "W4A8", "W8A4", "W3A3"])
def test_relevelled_model_has_b_bit_weights_and_activations(int8_tiny, bits):
    int8, calib, images = int8_tiny
    bw = BitWidth.parse(bits)
    low = relevel(int8, bw, activation_samples(int8, calib), "mse")
    weights = weight_values(low)
    assert len(weights) == 3  # two convolutions and the linear layer
    for w in weights.values():
        counts = [len(np.unique(row)) for row in w.reshape(len(w), -1)]
        assert max(counts) <= 2**bw.weights - 1 and max(counts) >= min(2**bw.weights - 1, w[0].size) // 2
    acts = _exposed_activations(low, images)
    assert len(acts) >= 3
    for a in acts:
        assert 2 <= len(np.unique(a)) <= 2**bw.activations
    assert all(fq.get_levels() == 2**bw.activations for fq in activation_fakequantizes(low))
    assert not weight_fakequantizes(low)  # weights compressed into codes
    # the calibrated model is untouched (relevel works on a copy)
    assert all(fq.get_levels() == 256 for fq in activation_fakequantizes(int8)) and weight_fakequantizes(int8)


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
    assert BitWidth(4, 4).nncf_expressible and not BitWidth(3, 3).nncf_expressible
    with pytest.raises(ValueError, match="estimator"):
        estimate_range(np.ones(3), 16, "max")
    with pytest.raises(ValueError, match="samples are needed"):
        relevel(int8, BitWidth(4, 4))
    with pytest.raises(ValueError, match="no activation FakeQuantize"):
        relevel(to_openvino(Tiny().eval()), BitWidth(8, 8))
    compressed = nncf_lowbit(to_openvino(Tiny().eval()), calib, BitWidth(8, 8))
    with pytest.raises(ValueError, match="already compressed"):
        relevel(compressed, BitWidth(4, 8))
