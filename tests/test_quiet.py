"""gsoc_helpers.quiet: only the named third-party notices are silenced, our own warnings still show; tracing() is
True only while a model is traced; NNCF's rich console is sent to a buffer and restored."""

from __future__ import annotations

import warnings

import pytest
import torch

from gsoc_helpers.quiet import quiet_progress, quiet_tracing, tracing


def test_quiet_tracing_silences_only_the_named_notices():
    def warn(message: str, category: type[Warning]) -> None:
        warnings.warn(message, category, stacklevel=2)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_tracing():
            warn("`torch.jit.trace` is deprecated. Please switch", FutureWarning)
            warn("You are using the legacy TorchScript-based ONNX export. Starting", DeprecationWarning)
            warn("Constant folding - Only steps=1 can be constant folded for opset", UserWarning)
            warn("calibration folder holds only 1 image", UserWarning)  # ours: kept
            warn("`torch.jit.trace` is deprecated", UserWarning)  # another category: kept
        warn("`torch.jit.trace` is deprecated. Please switch", FutureWarning)  # after the block: kept
    assert [(w.category, str(w.message)) for w in seen] == [
        (UserWarning, "calibration folder holds only 1 image"),
        (UserWarning, "`torch.jit.trace` is deprecated"),
        (FutureWarning, "`torch.jit.trace` is deprecated. Please switch"),
    ]


def test_tracing_is_true_only_inside_a_trace():
    seen: list[bool] = []

    class Probe(torch.nn.Module):
        def forward(self, x):
            seen.append(tracing())
            return x * 2

    Probe()(torch.ones(1))
    with quiet_tracing():
        torch.jit.trace(Probe(), torch.ones(1), check_trace=False)  # one traced call, no eager re-check
    assert seen == [False, True] and not tracing()


def test_quiet_progress_buffers_the_rich_console_and_restores_it(capsys):
    rich = pytest.importorskip("rich")
    console = rich.get_console()
    with quiet_progress():
        assert rich.get_console() is console  # the same object (NNCF holds it), pointed at a buffer
        rich.print("Statistics collection 100%")
    assert "Statistics collection" not in capsys.readouterr().out
    rich.print("after")
    assert "after" in capsys.readouterr().out


def test_quiet_progress_keeps_back_only_nncfs_fp8_notice():
    import logging

    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    log, handler = logging.getLogger("nncf"), Keep()
    log.addHandler(handler)
    try:
        with quiet_progress():
            log.warning("You're using experimental option mode with fp8_e4m3 value.")
            log.warning("Something else went wrong")
        log.warning("You're using experimental option mode with fp8_e5m2 value.")  # outside: shown again
    finally:
        log.removeHandler(handler)
    assert seen == ["Something else went wrong", "You're using experimental option mode with fp8_e5m2 value."]


def test_quiet_tracing_silences_torch_fidelity_copy_construct_notice_only_from_torch_fidelity():
    message = "To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone()"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_tracing():
            warnings.warn_explicit(
                message,
                UserWarning,
                "interpolate_compat_tensorflow.py",
                117,
                module="torch_fidelity.interpolate_compat_tensorflow",
            )
            warnings.warn_explicit(message, UserWarning, "ours.py", 1, module="gsoc_helpers.ours")  # kept
    assert [w.filename for w in seen] == ["ours.py"]
