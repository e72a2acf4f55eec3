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


def check_outputs(z: np.ndarray, model: str, precision: str) -> None:
    """ValueError (one line naming ``model``) when its ``precision`` ("FP32"/"INT8") outputs float [N,C] hold NaN or
    inf, or (FP32) are the same row for every image; UserWarning when the FP32 rows look like probabilities (each in
    [0,1], summing to 1): agreement and KL assume logits."""
    bad = ~np.isfinite(z).all(1)
    if bad.any():
        raise ValueError(
            f"model {model!r} gives non-finite (NaN or inf) {precision} outputs for {int(bad.sum())} of {len(z)} "
            "held-out images; agreement and KL would mean nothing: check the model (and its weights)"
        )
    if precision != "FP32" or len(z) < 2:
        return
    spread = float(np.abs(z - z[:1]).max())
    if spread <= 1e-6 * max(1.0, float(np.abs(z).max())):
        raise ValueError(
            f"model {model!r} gives the same FP32 outputs for every one of {len(z)} held-out images; "
            "it cannot be measured (an untrained or broken model?)"
        )
    if z.min() >= 0 and z.max() <= 1 and np.allclose(z.sum(1), 1.0, atol=1e-3):
        import warnings

        warnings.warn(
            f"the outputs of model {model!r} look like probabilities (each row sums to 1); agreement and KL "
            "assume logits: export the model without its final softmax",
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
