"""Below 8 bits with OpenVINO: NNCF's own low-bit call where NNCF can express the bit width, a re-levelled IR where not.

**NNCF's own call** (:func:`nncf_lowbit`, :func:`nncf_fp8`). NNCF 3.x refuses ``num_bits`` other than 8 on target
ANY/CPU ("incompatible with HW capabilities"), but its NPU hardware config allows 4-bit symmetric per-tensor
activations and 4-bit symmetric per-channel weights on convolutions and MatMuls (checked with nncf 3.4.0 and
OpenVINO 2026.4.1). So ``nncf.quantize(..., target_device=NPU, advanced_parameters=AdvancedQuantizationParameters(
activations_quantization_params=QuantizationParameters(num_bits=4, mode=SYMMETRIC),
weights_quantization_params=QuantizationParameters(num_bits=4)))`` gives FakeQuantize ``levels=16`` and ``i4`` weight
constants that the CPU plugin runs, for :data:`NNCF_BIT_WIDTHS` (W8A8, W4A8, W8A4, W4A4; at W8A8 NNCF itself falls
back to the CPU config). Two limits of that config: the input of a pooling op (ReduceMean, AvgPool) may only be
8-bit, so pooling is left unquantized; a depthwise GroupConvolution's activations may only be 8-bit, so below 8
activation bits depthwise convolutions are left in FP32 (``IgnoredScope(types=["GroupConvolution"])``). FP8
(``nncf.QuantizationMode.FP8_E4M3`` / ``FP8_E5M2``) is :func:`nncf_fp8`.

**The hand-written re-levelling** (:func:`calibrate_for_relevel`, :func:`relevel`) is kept only for what NNCF cannot
express: bit widths other than 4 and 8 (W3A3, W5A5, W6A6), asymmetric activations below 8 bits (the project's mixed
preset), activation ranges estimated at b bits with the percentile or MSE estimators (:mod:`.ranges`), and MSE
clipping of the weights. NNCF calibrates at 8 bits keeping the FP32 weights (``compress_weights=False``); then

* every **activation** FakeQuantize gets ``levels = 2^b`` and a range from :mod:`.ranges` (estimated at b bits on
  the activations the calibration images produce at that node);
* every **weight** FakeQuantize gets the symmetric narrow b-bit grid ``{-(2^(b-1)-1) .. 2^(b-1)-1} * scale`` with
  per-channel scales computed from the **FP32** weights along the channel axis NNCF chose for that op (the axis its
  range tensor spans: 0 for a convolution, 1 for a MatMul without ``transpose_b``), and OpenVINO's own
  ``compress_quantize_weights_transformation`` (the call ``nncf.quantize`` ends with) stores them as int4/int8 codes.

OpenVINO runs FakeQuantize with ``levels != 256`` as a float quantize-dequantize (an emulation: the accuracy is the
b-bit model's, the speed is not). Bit widths are written ``W<w>A<a>`` (``"4"`` = ``W4A4``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .ranges import ESTIMATORS, estimate_range, weight_scales

if TYPE_CHECKING:
    import torch

    from .ptq import PTQConfig

SAMPLES_PER_TENSOR = 1 << 17  # activation values kept per FakeQuantize input for the range estimators
WEIGHT_ESTIMATOR = "mse"  # per-channel weight clipping below 8 bits (weights do not depend on calibration data)
NNCF = "nncf"  # the study's name for NNCF's own low-bit call, beside the re-levelling's range estimators
NNCF_BIT_WIDTHS = ("W8A8", "W4A8", "W8A4", "W4A4")  # what NNCF's NPU hardware config expresses
LOWBIT_METHODS = (*ESTIMATORS, NNCF)  # a study cell's method: a re-levelling range estimator, or NNCF's own call
FP8_MODES = ("FP8_E4M3", "FP8_E5M2")
POOLING_TYPES = ("ReduceMean", "AvgPool")  # 8-bit-only inputs in NNCF's NPU config: left unquantized below 8 bits
DEPTHWISE_TYPES = ("GroupConvolution",)  # 8-bit-only activations in NNCF's NPU config
WEIGHT_OPS = ("Convolution", "GroupConvolution", "MatMul")


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

    @property
    def nncf_expressible(self) -> bool:
        """Whether :func:`nncf_lowbit` (NNCF's own call) can make this bit width."""
        return self.name in NNCF_BIT_WIDTHS

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


def _with_ignored_types(config: PTQConfig, types: tuple[str, ...]) -> PTQConfig:
    return replace(config, ignored_types=sorted({*config.ignored_types, *types}))


def nncf_lowbit_kwargs(bits: BitWidth, config: PTQConfig | None = None, n: int = 300) -> dict:
    """The keyword arguments ``nncf.quantize`` gets from :func:`nncf_lowbit` for ``bits`` (one of
    :data:`NNCF_BIT_WIDTHS`), ``config``'s other settings (ranges, bias correction, subset size, ignored scope; 4-bit
    activations are always symmetric, so ``preset`` only matters at 8 activation bits) and ``n`` images."""
    import nncf
    from nncf.common.quantization.structs import QuantizationScheme
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, QuantizationParameters

    from .ptq import PTQConfig, nncf_kwargs

    if not bits.nncf_expressible:
        raise ValueError(f"NNCF expresses {', '.join(NNCF_BIT_WIDTHS)}, not {bits.name}: use relevel for it")
    cfg = config or PTQConfig()
    cfg.validate()
    if bits.activations < 8:
        cfg = _with_ignored_types(cfg, POOLING_TYPES + DEPTHWISE_TYPES)
    kw = nncf_kwargs(cfg, n)
    adv = kw.pop("advanced_parameters", None) or AdvancedQuantizationParameters()
    mode = QuantizationScheme.SYMMETRIC if bits.activations < 8 else None
    adv.activations_quantization_params = QuantizationParameters(num_bits=bits.activations, mode=mode)
    adv.weights_quantization_params = QuantizationParameters(num_bits=bits.weights)
    return {**kw, "target_device": nncf.TargetDevice.NPU, "advanced_parameters": adv}


def nncf_lowbit(ov_model, calibration: torch.Tensor, bits: BitWidth, config: PTQConfig | None = None):
    """NNCF's own ``nncf.quantize`` at ``bits`` on the NPU hardware config (:func:`nncf_lowbit_kwargs`).
    ``calibration``: float32 [N,3,H,W] in [0,1]. Returns an ``openvino.Model`` the CPU plugin runs (see the module
    doc for what stays FP32)."""
    from ..quiet import quiet_progress
    from .ptq import _nncf_dataset

    kw = nncf_lowbit_kwargs(bits, config, len(calibration))
    with quiet_progress():
        import nncf

        return nncf.quantize(ov_model, _nncf_dataset(calibration), **kw)


def nncf_fp8(ov_model, calibration: torch.Tensor, mode: str = "FP8_E4M3", config: PTQConfig | None = None):
    """NNCF's FP8 quantization (``nncf.QuantizationMode.<mode>``, one of :data:`FP8_MODES`; FakeConvert ops) with
    ``config``'s subset size and ignored scope (NNCF refuses presets and the overflow fix in FP8 modes)."""
    from ..quiet import quiet_progress
    from .ptq import PTQConfig, _nncf_dataset, ignored_scope

    if mode not in FP8_MODES:
        raise ValueError(f"FP8 mode {mode!r}: expected one of {FP8_MODES}")
    cfg = config or PTQConfig()
    with quiet_progress():
        import nncf

        kw: dict = {"subset_size": min(cfg.subset_size or len(calibration), len(calibration))}
        scope = ignored_scope(cfg)
        if scope is not None:
            kw["ignored_scope"] = scope
        return nncf.quantize(ov_model, _nncf_dataset(calibration), mode=getattr(nncf.QuantizationMode, mode), **kw)


def calibrate_for_relevel(ov_model, calibration: torch.Tensor, config: PTQConfig | None = None):
    """``nncf.quantize`` at 8 bits with ``config`` (default :class:`.ptq.PTQConfig`) that keeps the FP32 weights
    behind weight FakeQuantize ops (``compress_weights=False``): the starting point of :func:`relevel`."""
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters

    from ..quiet import quiet_progress
    from .ptq import PTQConfig, _nncf_dataset, nncf_kwargs

    cfg = config or PTQConfig()
    cfg.validate()
    with quiet_progress():
        import nncf

        kw = nncf_kwargs(cfg, len(calibration))
        adv = kw.pop("advanced_parameters", None) or AdvancedQuantizationParameters()
        adv.backend_params = {**adv.backend_params, "compress_weights": False}
        return nncf.quantize(ov_model, _nncf_dataset(calibration), advanced_parameters=adv, **kw)


def _is_constant(output) -> bool:
    node = output.get_node()
    while node.get_type_name() == "Convert":
        node = node.input_value(0).get_node()
    return node.get_type_name() == "Constant"


def activation_fakequantizes(model) -> list:
    """The FakeQuantize ops of ``model`` whose data input is not a constant (the activation quantizers)."""
    return [
        op
        for op in model.get_ordered_ops()
        if op.get_type_name() == "FakeQuantize" and not _is_constant(op.input_value(0))
    ]


def weight_fakequantizes(model) -> list:
    """The FakeQuantize ops of ``model`` on constant weights (present while the weights are not compressed)."""
    return [
        op for op in model.get_ordered_ops() if op.get_type_name() == "FakeQuantize" and _is_constant(op.input_value(0))
    ]


def weight_values(model) -> dict[str, np.ndarray]:
    """float32 weights each Convolution/GroupConvolution/MatMul of ``model`` multiplies by, as OpenVINO computes
    them from the stored constants (codes, zero points, scales, FakeQuantize), keyed by the op's name."""
    import openvino as ov

    from .evaluate import compile_model

    probe = model.clone()
    ops = [
        op
        for op in probe.get_ordered_ops()
        if op.get_type_name() in WEIGHT_OPS
        and not any(n.get_type_name() == "Parameter" for n in _ancestors(op.input_value(1)))
    ]
    if not ops:
        return {}
    weights = ov.Model([op.input_value(1) for op in ops], [])
    compiled = compile_model(weights, precision="f32", cache=False)
    res = compiled({})
    return {op.get_friendly_name(): np.asarray(res[o], np.float32) for op, o in zip(ops, compiled.outputs, strict=True)}


def _ancestors(output) -> list:
    """Every node upstream of ``output`` (``output``'s own node included)."""
    seen, stack, out = set(), [output.get_node()], []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        out.append(node)
        stack.extend(v.get_node() for v in node.input_values())
    return out


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


def _constant_data(output) -> np.ndarray:
    node = output.get_node()
    while node.get_type_name() == "Convert":
        node = node.input_value(0).get_node()
    return node.get_data().astype(np.float32)


def channel_axes(fq) -> tuple[int, ...]:
    """The axes a weight FakeQuantize's range spans (its per-channel axes: ``(0,)`` for a convolution, ``(1,)`` for a
    MatMul without ``transpose_b``; ``()`` for a per-tensor range)."""
    shape = tuple(fq.input_value(1).get_partial_shape().to_shape())
    return tuple(i for i, n in enumerate(shape) if n > 1)


def requantize_weight(weights: np.ndarray, axes: tuple[int, ...], bits: int, estimator: str = WEIGHT_ESTIMATOR):
    """(low, high, levels) of a symmetric narrow ``bits``-bit grid ``{-(2^(b-1)-1) .. 2^(b-1)-1} * scale`` for
    float32 ``weights`` with one scale per index of ``axes`` (``()``: one scale), from
    :func:`.ranges.weight_scales`; ``low``/``high`` have ``weights``' rank, size 1 on every other axis."""
    qmax = 2 ** (bits - 1) - 1
    rest = [i for i in range(weights.ndim) if i not in axes]
    channels = [weights.shape[i] for i in axes]
    moved = np.transpose(weights, (*axes, *rest)).reshape(int(np.prod(channels)), -1)
    scales = weight_scales(moved, bits, estimator).astype(np.float32)
    shape = [weights.shape[i] if i in axes else 1 for i in range(weights.ndim)]
    high = (qmax * scales).reshape(shape)
    return -high, high, 2 * qmax + 1


def relevel(
    model,
    bits: BitWidth,
    samples: list[np.ndarray] | None = None,
    estimator: str = "minmax",
    weight_estimator: str = WEIGHT_ESTIMATOR,
):
    """A copy of ``model`` (from :func:`calibrate_for_relevel`) at ``bits`` with compressed weights (see module doc).
    ``samples``: :func:`activation_samples` of the calibration images (required below 8 activation bits, and to
    re-estimate 8-bit ranges with ``estimator``); without them 8-bit activations keep NNCF's calibrated ranges.
    ``weight_estimator``: ``mse`` or ``minmax`` per-channel weight scales below 8 weight bits."""
    import openvino as ov
    from openvino._offline_transformations import compress_quantize_weights_transformation

    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown range estimator {estimator!r}; expected one of {ESTIMATORS}")
    out = model.clone()
    fqs = activation_fakequantizes(out)
    if not fqs:
        raise ValueError("the model has no activation FakeQuantize: quantize it with calibrate_for_relevel first")
    weight_fqs = weight_fakequantizes(out)
    if not weight_fqs:
        raise ValueError("the model's weights are already compressed: quantize it with calibrate_for_relevel")
    if samples is None and bits.activations != 8:
        raise ValueError("activation samples are needed below 8 activation bits (activation_samples)")

    def set_range(fq, low, high, levels: int) -> None:
        shape = tuple(fq.input_value(1).get_partial_shape().to_shape())
        for i, v in ((1, low), (2, high), (3, low), (4, high)):
            const = ov.op.Constant(np.broadcast_to(np.asarray(v, np.float32), shape).copy())
            fq.input(i).replace_source_output(const.output(0))
        fq.set_levels(levels)

    if samples is not None:
        if len(samples) != len(fqs):
            raise ValueError(f"{len(samples)} activation samples for {len(fqs)} FakeQuantize ops")
        for fq, x in zip(fqs, samples, strict=True):
            set_range(fq, *estimate_range(x, 2**bits.activations, estimator), 2**bits.activations)
    if bits.weights != 8:
        for fq in weight_fqs:
            w = _constant_data(fq.input_value(0))
            set_range(fq, *requantize_weight(w, channel_axes(fq), bits.weights, weight_estimator))
    out.validate_nodes_and_infer_types()
    compress_quantize_weights_transformation(out)
    return out
