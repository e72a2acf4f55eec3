"""Measure an FP32/INT8 pair with OpenVINO: top-1, agreement, KL of softmaxes, size (compilation and throughput live
in :mod:`gsoc_helpers.openvino`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from ..openvino.core import compile_model


def logits(ov_model_or_compiled, images: torch.Tensor, batch_size: int = 250, threads: int | None = None) -> np.ndarray:
    """float32 [N,10] logits of images float32 [N,3,32,32] in [0,1]."""
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


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def compare(fp32_logits: np.ndarray, int8_logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """top1 FP32/INT8 (%), drop (points), agreement (%), mean KL(FP32 || INT8) of softmaxes (nats)."""
    a, b = fp32_logits.argmax(1), int8_logits.argmax(1)
    lp, lq = _log_softmax(fp32_logits.astype(np.float64)), _log_softmax(int8_logits.astype(np.float64))
    kl = float((np.exp(lp) * (lp - lq)).sum(1).mean())
    t32, t8 = 100 * float((a == labels).mean()), 100 * float((b == labels).mean())
    return {"top1_fp32": t32, "top1_int8": t8, "drop": t32 - t8, "agreement": 100 * float((a == b).mean()), "kl": kl}


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
