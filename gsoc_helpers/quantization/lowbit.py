"""Below 8 bits with OpenVINO: re-level an NNCF-calibrated INT8 model to b-bit weights and activations.

NNCF (3.x) refuses ``QuantizationParameters(num_bits=b)`` for b != 8 on target ANY/CPU ("incompatible with HW
capabilities"), so the study calibrates at 8 bits with ``nncf.quantize`` and rewrites the IR:

* every **activation** FakeQuantize gets ``levels = 2^b`` and a range from :mod:`.ranges` (min/max, percentile or
  MSE, estimated at b bits on the activations the calibration images produce at that node);
* every **weight** (stored by NNCF as an int8 Constant -> Convert -> [Subtract] -> Multiply(scale)) is dequantized,
  re-quantized per output channel to the symmetric b-bit grid and stored again as int8 codes + scale.

OpenVINO runs FakeQuantize with ``levels != 256`` as a float quantize-dequantize (an emulation: the accuracy is the
b-bit model's, the speed is not). Bit widths are written ``W<w>A<a>`` (``"4"`` = ``W4A4``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .ranges import ESTIMATORS, estimate_range, quantize_weights, weight_scales

if TYPE_CHECKING:
    import torch

SAMPLES_PER_TENSOR = 1 << 17  # activation values kept per FakeQuantize input for the range estimators
WEIGHT_ESTIMATOR = "mse"  # per-channel weight clipping below 8 bits (weights do not depend on calibration data)


@dataclass(frozen=True)
class BitWidth:
    """Bits of the weights and of the activations (2..8 each)."""

    weights: int
    activations: int

    def __post_init__(self) -> None:
        for what, b in (("weight", self.weights), ("activation", self.activations)):
            if not 2 <= int(b) <= 8:
                raise ValueError(f"{what} bits must be in 2..8, got {b}")

    @property
    def name(self) -> str:
        return f"W{self.weights}A{self.activations}"

    @classmethod
    def parse(cls, text: str | int) -> BitWidth:
        """``"4"`` or ``4`` -> W4A4; ``"W4A8"`` -> 4-bit weights, 8-bit activations."""
        s = str(text).strip().upper()
        m = re.fullmatch(r"(\d)|W(\d)A(\d)", s)
        if not m:
            raise ValueError(f"bit width {text!r}: expected a number of bits (4) or W<bits>A<bits> (W4A8)")
        w, a = (m.group(1), m.group(1)) if m.group(1) else (m.group(2), m.group(3))
        try:
            return cls(int(w), int(a))
        except ValueError as err:
            raise ValueError(f"bit width {text!r}: {err}") from None


def activation_fakequantizes(model) -> list:
    """The FakeQuantize ops of ``model`` whose data input is not a constant (the activation quantizers)."""
    return [
        op
        for op in model.get_ordered_ops()
        if op.get_type_name() == "FakeQuantize" and op.input_value(0).get_node().get_type_name() != "Constant"
    ]


@dataclass
class _Weight:
    """One compressed weight: ``codes`` (int8 Constant) -> Convert -> [Subtract zero point] -> Multiply by ``scale``."""

    codes: object  # openvino Constant node (int8)
    zero_point: object | None  # Constant node or None
    scale: object  # Constant node (float)
    multiply: object  # the Multiply node consuming the scale


def compressed_weights(model) -> list[_Weight]:
    """Every int8-compressed weight feeding a Convolution/GroupConvolution/MatMul of ``model``."""
    out = []
    for op in model.get_ordered_ops():
        if op.get_type_name() not in ("Convolution", "GroupConvolution", "MatMul"):
            continue
        node = op.input_value(1).get_node()
        while node.get_type_name() in ("Reshape", "Transpose"):
            node = node.input_value(0).get_node()
        if node.get_type_name() != "Multiply":
            continue
        mul, (a, b) = node, (node.input_value(0).get_node(), node.input_value(1).get_node())
        scale, node = (b, a) if b.get_type_name() == "Constant" else (a, b)
        zp = None
        if node.get_type_name() == "Subtract":
            node, zp = node.input_value(0).get_node(), node.input_value(1).get_node()
            if zp.get_type_name() == "Convert":
                zp = zp.input_value(0).get_node()
        if node.get_type_name() != "Convert" or scale.get_type_name() != "Constant":
            continue
        codes = node.input_value(0).get_node()
        if codes.get_type_name() == "Constant" and codes.get_element_type().get_type_name() in ("i8", "u8"):
            out.append(_Weight(codes, zp, scale, mul))
    return out


def dequantized(w: _Weight) -> np.ndarray:
    """float32 weights of ``w`` (the codes' shape)."""
    codes = w.codes.get_data().astype(np.float32)  # type: ignore[attr-defined]
    if w.zero_point is not None:
        codes = codes - w.zero_point.get_data().astype(np.float32)  # type: ignore[attr-defined]
    return codes * w.scale.get_data().astype(np.float32)  # type: ignore[attr-defined]


def activation_samples(model, images: torch.Tensor, batch_size: int = 100, seed: int = 0) -> list[np.ndarray]:
    """Per activation FakeQuantize of ``model`` (in :func:`activation_fakequantizes` order): up to
    :data:`SAMPLES_PER_TENSOR` float32 values of its input over ``images`` [N,3,H,W], including the min and max."""
    from .evaluate import compile_model

    probe = model.clone()
    fqs = activation_fakequantizes(probe)
    probe.add_outputs([fq.input_value(0) for fq in fqs])
    compiled = compile_model(probe, precision="f32", cache=False)
    outs = compiled.outputs[-len(fqs) :]
    rng = np.random.default_rng(seed)
    x = images.detach().cpu().float().numpy()
    per_batch = max(1, SAMPLES_PER_TENSOR * batch_size // max(len(x), 1))
    kept: list[list[np.ndarray]] = [[] for _ in fqs]
    for s in range(0, len(x), batch_size):
        res = compiled(x[s : s + batch_size])
        for i, o in enumerate(outs):
            v = np.asarray(res[o], np.float32).ravel()
            pick = rng.choice(v.size, size=min(per_batch, v.size), replace=False)
            kept[i].append(np.concatenate([v[pick], [v.min(), v.max()]]))
    return [np.concatenate(k) for k in kept]


def relevel(model, bits: BitWidth, samples: list[np.ndarray] | None = None, estimator: str = "minmax"):
    """A copy of the NNCF INT8 ``model`` with ``bits`` (see module doc). ``samples``: :func:`activation_samples` of
    the calibration images (required below 8 activation bits, and to re-estimate 8-bit ranges with ``estimator``);
    without them 8-bit activations keep NNCF's calibrated ranges."""
    import openvino as ov

    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown range estimator {estimator!r}; expected one of {ESTIMATORS}")
    out = model.clone()
    fqs = activation_fakequantizes(out)
    if not fqs:
        raise ValueError("the model has no activation FakeQuantize: quantize it with nncf.quantize first")
    if samples is None and bits.activations != 8:
        raise ValueError("activation samples are needed below 8 activation bits (activation_samples)")
    if samples is not None:
        if len(samples) != len(fqs):
            raise ValueError(f"{len(samples)} activation samples for {len(fqs)} FakeQuantize ops")
        levels = 2**bits.activations
        for fq, x in zip(fqs, samples, strict=True):
            low, high = estimate_range(x, levels, estimator)
            shape = tuple(fq.input_value(1).get_partial_shape().to_shape())
            for i, v in ((1, low), (2, high), (3, low), (4, high)):
                const = ov.op.Constant(np.full(shape, v, np.float32))
                fq.input(i).replace_source_output(const.output(0))
            fq.set_levels(levels)
    if bits.weights != 8:
        weights = compressed_weights(out)
        if not weights:
            raise ValueError("the model has no int8-compressed weights to re-quantize")
        for w in weights:
            real = dequantized(w)
            scales = weight_scales(real, bits.weights, WEIGHT_ESTIMATOR)
            codes = ov.op.Constant(quantize_weights(real, scales, bits.weights))
            scale_shape = (-1,) + (1,) * (real.ndim - 1)
            scale = ov.op.Constant(scales.reshape(scale_shape).astype(w.scale.get_data().dtype))  # type: ignore[attr-defined]
            convert = w.multiply.input_value(0).get_node()  # type: ignore[attr-defined]
            while convert.get_type_name() != "Convert":  # through the Subtract of a zero point
                convert = convert.input_value(0).get_node()
            convert.input(0).replace_source_output(codes.output(0))
            if w.zero_point is not None:  # symmetric codes: the zero point becomes 0
                sub = w.multiply.input_value(0).get_node()  # type: ignore[attr-defined]
                zp = np.zeros_like(w.zero_point.get_data())  # type: ignore[attr-defined]
                zp_node = sub.input_value(1).get_node()
                target = zp_node.input(0) if zp_node.get_type_name() == "Convert" else sub.input(1)
                target.replace_source_output(ov.op.Constant(zp).output(0))
            idx = 1 if w.multiply.input_value(1).get_node() is w.scale else 0  # type: ignore[attr-defined]
            w.multiply.input(idx).replace_source_output(scale.output(0))  # type: ignore[attr-defined]
    out.validate_nodes_and_infer_types()
    return out
