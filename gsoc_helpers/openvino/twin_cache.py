"""The OpenVINO twin of a loaded generator, converted once per model (truncation ψ is an input of the converted
model, so every ψ runs on the same compiled model). Generators themselves are loaded, and cached, by
:func:`gsoc_helpers.models.registry.load_generator`.
"""

from __future__ import annotations

from typing import Any

from torch import nn

_OPENVINO: dict[int, tuple[nn.Module, Any]] = {}  # id(model) -> (model kept alive, OpenVINOGenerator)


class BackendUnavailable(RuntimeError):
    """The requested backend (OpenVINO) cannot be used here; the message says why."""


def openvino_generator(model: nn.Module) -> Any:
    """The OpenVINO twin of ``model`` (:class:`gsoc_helpers.openvino.generator.OpenVINOGenerator`), converted once per model.

    Raises :class:`BackendUnavailable` when OpenVINO is missing or the conversion fails.
    """
    key = id(model)
    if key not in _OPENVINO:
        try:
            from .generator import OpenVINOGenerator
        except ImportError as err:
            raise BackendUnavailable(f"OpenVINO backend unavailable: {err}") from err
        try:
            _OPENVINO[key] = (model, OpenVINOGenerator(model))
        except Exception as err:  # conversion problems are reported to the caller as one message
            raise BackendUnavailable(f"OpenVINO conversion failed: {type(err).__name__}: {err}") from err
    return _OPENVINO[key][1]
