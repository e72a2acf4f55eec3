"""Known, harmless third-party noise kept out of notebooks and logs (nothing of our own is silenced).

* :func:`quiet_tracing` — torch's ``torch.jit.trace is deprecated`` FutureWarnings, raised each time
  ``openvino.convert_model`` traces a PyTorch model (OpenVINO's documented conversion path), and the legacy
  ONNX exporter's notices, and torch-fidelity's "To copy construct from a tensor" UserWarning, which its resize
  raises only while traced (a cold FID run converts the Inception trunk once).
* :func:`tracing` — True while a model is traced or compiled; our generators skip their Python-side input checks
  then (checking traced shapes raises TracerWarnings and would bake the example's shapes into the graph).
* :func:`quiet_progress` — NNCF's rich progress bars ("Statistics collection ━━━"), which render as widgets in
  notebook outputs in the middle of our tables (our own loops report progress with tqdm instead), NNCF's INFO log
  lines on stdout (accuracy control prints ~50: "INFO:nncf:Elapsed Time: 00:00:00", "INFO:nncf:Accuracy drop: ...";
  its warnings still show), and torch's "No CUDA runtime is found" log line that NNCF's first import triggers on
  CPU-only machines.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

import torch

JIT_TRACE_DEPRECATION = r"`torch\.jit\.trace(_method)?` is deprecated"
ONNX_LEGACY_EXPORT = r"You are using the legacy TorchScript-based ONNX export"
ONNX_CONSTANT_FOLDING = r"Constant folding - Only steps=1 can be constant folded"
TENSOR_COPY_CONSTRUCT = r"To copy construct from a tensor"  # torch.tensor(traced value) in torch-fidelity's resize


@contextlib.contextmanager
def quiet_tracing() -> Iterator[None]:
    """Suppress the deprecation notices of torch's tracing exporters (``torch.jit.trace`` under
    ``openvino.convert_model``; ``torch.onnx.export(dynamo=False)``) and the ONNX exporter's constant-folding
    notes about strided slices.  TracerWarnings are fixed at their source (:func:`tracing`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=JIT_TRACE_DEPRECATION, category=FutureWarning)
        warnings.filterwarnings("ignore", message=ONNX_LEGACY_EXPORT, category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=ONNX_CONSTANT_FOLDING, category=UserWarning)
        warnings.filterwarnings("ignore", message=TENSOR_COPY_CONSTRUCT, category=UserWarning, module="torch_fidelity")
        yield


def tracing() -> bool:
    """True while torch.jit.trace (OpenVINO conversion) or torch.compile runs the model."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


NNCF_FP8_NOTICE = "experimental option mode"  # NNCF's warning on every FP8 call (the prose says FP8 is experimental)


def _not_fp8_notice(record: logging.LogRecord) -> bool:
    return NNCF_FP8_NOTICE not in record.getMessage()


@contextlib.contextmanager
def quiet_progress() -> Iterator[None]:
    """Send rich's global console (NNCF's progress bars) to a buffer and keep NNCF's INFO log lines (and its notice
    that FP8 modes are experimental) back while the block runs, then restore both."""
    try:
        import rich
        from rich.console import Console
    except ImportError:  # NNCF without rich: nothing to silence
        yield
        return
    console = rich.get_console()
    saved = dict(console.__dict__)
    console.__dict__ = Console(file=io.StringIO(), force_jupyter=False, force_terminal=False).__dict__
    cpp_log, nncf_log = logging.getLogger("torch.utils.cpp_extension"), logging.getLogger("nncf")
    levels = cpp_log.level, nncf_log.level
    cpp_log.setLevel(logging.ERROR)
    nncf_log.setLevel(max(logging.WARNING, nncf_log.getEffectiveLevel()))
    nncf_log.addFilter(_not_fp8_notice)
    try:
        yield
    finally:
        console.__dict__ = saved
        cpp_log.setLevel(levels[0])
        nncf_log.setLevel(levels[1])
        nncf_log.removeFilter(_not_fp8_notice)
