"""Loaded models, cached: the one place that turns a name into a PyTorch generator or its OpenVINO twin.

* :func:`load_model` — ``"student"`` / ``"teacher"`` (short names of the panel) or anything
  :func:`gsoc_helpers.models.registry.load_generator` takes (a bundled name, ``"cifar10"``, a URL, a ``.pkl``,
  a ``.safetensors``), loaded once per (name, device).
* :func:`openvino_generator` — the OpenVINO twin of a loaded generator (converted once per model; truncation ψ
  is an input of the converted model, so every ψ runs on the same compiled model).
"""
from __future__ import annotations

import os
from typing import Any

from torch import nn

MODEL_NAMES = {"teacher": "offline-teacher", "student": "student"}  # short name -> registry name

_MODELS: dict[tuple[str, str], nn.Module] = {}
_OPENVINO: dict[int, tuple[nn.Module, Any]] = {}  # id(model) -> (model kept alive, OpenVINOGenerator)


class BackendUnavailable(RuntimeError):
    """The requested backend (OpenVINO) cannot be used here; the message says why."""


def load_model(name: str | os.PathLike | nn.Module, device: str = "cpu") -> nn.Module:
    """A short name, registry name, alias, URL or checkpoint path -> generator in eval mode (loaded once, cached).

    A module passed in is returned as it is.  Raises FileNotFoundError / ValueError / KeyError for bad names.
    """
    if isinstance(name, nn.Module):
        return name
    key = (MODEL_NAMES.get(str(name), str(name)), str(device))
    if key not in _MODELS:
        from .registry import load_generator

        _MODELS[key] = load_generator(key[0], device=device)
    return _MODELS[key]


def openvino_generator(model: nn.Module) -> Any:
    """The OpenVINO twin of ``model`` (:class:`gsoc_helpers.export.OpenVINOGenerator`), converted once per model.

    Raises :class:`BackendUnavailable` when OpenVINO is missing or the conversion fails.
    """
    key = id(model)
    if key not in _OPENVINO:
        try:
            from ..export import OpenVINOGenerator
        except ImportError as err:
            raise BackendUnavailable(f"OpenVINO backend unavailable: {err}") from err
        try:
            _OPENVINO[key] = (model, OpenVINOGenerator(model))
        except Exception as err:  # conversion problems are reported to the caller as one message
            raise BackendUnavailable(f"OpenVINO conversion failed: {type(err).__name__}: {err}") from err
    return _OPENVINO[key][1]


def clear_caches() -> None:
    """Forget every cached model and OpenVINO twin (tests, or after a checkpoint changed on disk)."""
    _MODELS.clear()
    _OPENVINO.clear()
