"""Measure an FP32/INT8 pair with OpenVINO: top-1, agreement, KL of softmaxes, size (compilation and throughput live
in :mod:`gsoc_helpers.openvino`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from ..openvino.core import compile_model


def logits(ov_model_or_compiled, images: torch.Tensor, batch_size: int = 250, threads: int | None = None) -> np.ndarray:
    """float32 [N, classes] logits of model inputs float32 [N,3,S,S]."""
    import openvino as ov

    compiled = (
        compile_model(ov_model_or_compiled, threads)
        if isinstance(ov_model_or_compiled, ov.Model)
        else ov_model_or_compiled
    )
    out = compiled.outputs[0]
    x = images.numpy()
    return np.concatenate([compiled(x[s : s + batch_size])[out] for s in range(0, len(x), batch_size)]).astype(
        np.float32
    )


# A model's FP32 outputs on the held-out images that cannot be measured, or hardly (see check_outputs):
NEARLY_ONE_CLASS = 0.95  # share of images given the most common class above which a warning is given
BARELY_VARYING = 1e-2  # outputs varying across images less than this share of their spread across classes
PROBABILITY_SUM = 0.05  # rows in [0, 1] summing to 1 within this look like probabilities (softmax x 0.99 too)


def check_outputs(z: np.ndarray, model: str, precision: str, labels: np.ndarray | None = None) -> None:
    """Refuse (ValueError, one line naming ``model``) or warn (one UserWarning line) before any agreement is
    computed, when ``precision`` ("FP32"/"INT8") outputs float [N,C] on the held-out images hold NaN or inf, or
    (FP32) when: every row is the same; the top class is the same for every image and the outputs barely vary
    across images (:data:`BARELY_VARYING`; refused: agreement would be 100 % whatever INT8 does); one class takes
    more than :data:`NEARLY_ONE_CLASS` of the images, or the outputs barely vary (warned), unless ``labels`` int [N]
    say the images are all of that one class (-1 = unknown); the rows look like probabilities (warned: agreement and
    KL assume logits)."""
    import warnings

    bad = ~np.isfinite(z).all(1)
    if bad.any():
        raise ValueError(
            f"model {model!r} gives non-finite (NaN or inf) {precision} outputs for {int(bad.sum())} of {len(z)} "
            "held-out images; agreement and KL would mean nothing: check the model (and its weights)"
        )
    if precision != "FP32" or len(z) < 2:
        return
    n = len(z)
    spread = float(np.abs(z - z[:1]).max())
    if spread <= 1e-6 * max(1.0, float(np.abs(z).max())):
        raise ValueError(
            f"model {model!r} gives the same FP32 outputs for every one of {n} held-out images; "
            "it cannot be measured (an untrained or broken model?)"
        )
    top = z.argmax(1)
    counts = np.bincount(top, minlength=z.shape[1])
    common = int(counts.argmax())
    known = None if labels is None else np.asarray(labels)[np.asarray(labels) >= 0]
    one_class_images = known is not None and len(known) == n and bool((known == known[0]).all())
    centred = z - z.mean(1, keepdims=True)  # a per-image offset changes no softmax
    across_images, across_classes = float(centred.std(0).mean()), float(centred.std())
    barely = across_images < BARELY_VARYING * across_classes
    if counts[common] == n and barely and not one_class_images:
        raise ValueError(
            f"model {model!r} predicts class {common} for every one of {n} held-out images and its outputs barely "
            f"vary ({across_images:.2g} across images against {across_classes:.2g} across classes); agreement "
            "would be 100 % whatever INT8 does, so it cannot be measured (a broken model?)"
        )
    problems = []
    if counts[common] > NEARLY_ONE_CLASS * n and not one_class_images:
        problems.append(f"predicts class {common} for {int(counts[common])} of {n} held-out images")
    if barely:
        problems.append(
            f"gives outputs that barely vary across held-out images ({across_images:.2g} against "
            f"{across_classes:.2g} across classes)"
        )
    if problems:
        warnings.warn(
            f"model {model!r} {'; '.join(problems)}: its agreement and KL say little", UserWarning, stacklevel=2
        )
    sums = z.sum(1)
    if z.min() >= 0 and z.max() <= 1 and bool((np.abs(sums - 1.0) <= PROBABILITY_SUM).all()):
        warnings.warn(
            f"the outputs of model {model!r} look like probabilities (each row in [0, 1], summing to "
            f"{float(sums.min()):.3g}..{float(sums.max()):.3g}); agreement and KL assume logits: export the model "
            "without its final softmax",
            UserWarning,
            stacklevel=2,
        )


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


CONFIDENT = 0.5  # an image the FP32 model is "confident about": its top softmax probability is at least this


def compare(fp32_logits: np.ndarray, int8_logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """top1 FP32/INT8 (%), drop (points), agreement (%), mean KL(FP32 || INT8) of softmaxes (nats); and the checks
    that separate the INT8 model from an unsure FP32 one: ``agreement_confident`` (%, on the images whose FP32 top
    probability is >= :data:`CONFIDENT`; NaN when there are none), ``confident`` (% of images that are),
    ``top5_overlap`` (%, mean share of the FP32 top-5 classes found in the INT8 top-5; top-k with k = min(5,
    classes)) and ``top1_in_top5`` (%, FP32's class among INT8's top-5)."""
    a, b = fp32_logits.argmax(1), int8_logits.argmax(1)
    lp, lq = _log_softmax(fp32_logits.astype(np.float64)), _log_softmax(int8_logits.astype(np.float64))
    kl = float((np.exp(lp) * (lp - lq)).sum(1).mean())
    t32, t8 = 100 * float((a == labels).mean()), 100 * float((b == labels).mean())
    sure = np.exp(lp).max(1) >= CONFIDENT
    k = min(5, fp32_logits.shape[1])
    top_a, top_b = np.argsort(-fp32_logits, 1)[:, :k], np.argsort(-int8_logits, 1)[:, :k]
    overlap = np.mean([len(set(x) & set(y)) / k for x, y in zip(top_a, top_b, strict=True)])
    return {
        "top1_fp32": t32,
        "top1_int8": t8,
        "drop": t32 - t8,
        "agreement": 100 * float((a == b).mean()),
        "kl": kl,
        "agreement_confident": 100 * float((a == b)[sure].mean()) if sure.any() else float("nan"),
        "confident": 100 * float(sure.mean()),
        "top5_overlap": 100 * float(overlap),
        "top1_in_top5": 100 * float((top_b == a[:, None]).any(1).mean()),
    }


def model_size_bytes(ov_model) -> int:
    """Size of the saved IR (.xml + .bin) in bytes."""
    from .ptq import save_ir

    with tempfile.TemporaryDirectory() as tmp:
        xml = save_ir(ov_model, Path(tmp) / "m.xml")
        return xml.stat().st_size + xml.with_suffix(".bin").stat().st_size


def _int8_source(node, depth: int = 0) -> bool:
    """True if ``node`` is (or is fed through Convert/Multiply/Subtract/Reshape by) a FakeQuantize or int8 Constant."""
    kind = node.get_type_name()
    if kind == "FakeQuantize":
        return True
    if kind == "Constant":
        return node.get_element_type().get_type_name() in ("i8", "u8")
    if depth > 4 or kind not in ("Convert", "Multiply", "Subtract", "Reshape", "Transpose"):
        return False
    return any(_int8_source(node.input_value(i).get_node(), depth + 1) for i in range(node.get_input_size()))


def fp32_layers(int8_model) -> list[str]:
    """Convolution/MatMul ops whose activation or weight input is not 8-bit (they run in FP32)."""
    out = []
    for op in int8_model.get_ordered_ops():
        if op.get_type_name() in ("Convolution", "GroupConvolution", "MatMul"):
            if not all(_int8_source(op.input_value(i).get_node()) for i in range(2)):
                out.append(op.get_friendly_name())
    return out


def per_channel_depthwise_inputs(int8_model) -> list[str]:
    """Depthwise convolutions (GroupConvolution ops) whose activation input is quantized with one range per channel,
    NNCF's CPU choice: ranges that calibration images unlike the model's inputs set badly (RESULTS section 8)."""
    out = []
    for op in int8_model.get_ordered_ops():
        if op.get_type_name() != "GroupConvolution":
            continue
        fq = op.input_value(0).get_node()
        if fq.get_type_name() == "FakeQuantize" and fq.input_value(1).get_node().get_type_name() == "Constant":
            if fq.input_value(1).get_node().get_data().size > 1:
                out.append(op.get_friendly_name())
    return out
