"""Measure an FP32/INT8 pair with OpenVINO: top-1, agreement, KL of softmaxes, size, async throughput."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def compile_model(ov_model, threads: int | None = None, precision: str | None = "f32", **config):
    """Compile for the CPU. ``precision="f32"`` (default) keeps every non-INT8 op in FP32; ``None`` lets OpenVINO
    choose (bf16 on CPUs with AVX512-BF16 or AMX, which would make an "FP32" reference a BF16 one). ``config``:
    further OpenVINO properties."""
    import openvino as ov

    cfg: dict = dict(config)
    if threads:
        cfg["INFERENCE_NUM_THREADS"] = threads
    if precision is not None:
        cfg["INFERENCE_PRECISION_HINT"] = precision
    return ov.Core().compile_model(ov_model, "CPU", cfg)


def logits(ov_model_or_compiled, images: torch.Tensor, batch_size: int = 250, threads: int | None = None) -> np.ndarray:
    """float32 [N,10] logits of images float32 [N,3,32,32] in [0,1]."""
    import openvino as ov

    compiled = (compile_model(ov_model_or_compiled, threads) if isinstance(ov_model_or_compiled, ov.Model)
                else ov_model_or_compiled)
    out = compiled.outputs[0]
    x = images.numpy()
    return np.concatenate([compiled(x[s:s + batch_size])[out] for s in range(0, len(x), batch_size)]).astype(np.float32)


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


def throughput(ov_model, batch_size: int, seconds: float = 3.0, threads: int | None = None,
               precision: str | None = "f32") -> float:
    """Images/s with an OpenVINO AsyncInferQueue (THROUGHPUT hint) at a fixed batch size. ``precision`` as in
    :func:`compile_model` (``None``: OpenVINO's choice, bf16 for float ops on CPUs that have it)."""
    import openvino as ov
    import openvino.properties.hint as hints

    m = ov_model.clone()
    shape = m.inputs[0].get_partial_shape()  # [N,3,H,W]; a dynamic H or W is measured at 32
    h, w = (d.get_length() if d.is_static else 32 for d in (shape[2], shape[3]))
    m.reshape([batch_size, 3, h, w])
    compiled = compile_model(m, threads, precision, **{hints.performance_mode: hints.PerformanceMode.THROUGHPUT})
    queue = ov.AsyncInferQueue(compiled)
    x = np.random.default_rng(0).random((batch_size, 3, h, w), dtype=np.float32)
    for _ in range(len(queue)):  # warm-up
        queue.start_async({0: x})
    queue.wait_all()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        queue.start_async({0: x})
        n += 1
    queue.wait_all()
    return n * batch_size / (time.perf_counter() - t0)


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
