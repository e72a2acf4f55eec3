"""A user's classifier for :func:`gsoc_helpers.quantization.tool.quantize_model`: load it, check its input, and the
preprocessing that turns [0,1] images into what it expects.

Model kinds (:func:`load_user_model`):

* ``path/to/model.onnx``            an ONNX file (read by OpenVINO's ONNX frontend);
* ``path/to/model.xml``             an OpenVINO IR (the ``.bin`` beside it);
* ``akamaster_resnet20`` ...        a registered classifier (:mod:`gsoc_helpers.models.classifiers`; it takes [0,1]
                                    images, normalisation inside, so its preprocessing is the identity);
* ``package.module:factory``        a PyTorch ``nn.Module`` returned by ``factory()`` (importable from the Python path
                                    or the current folder), with ``weights`` = a safetensors file or a state dict read
                                    by ``torch.load(weights_only=True)`` (``{'state_dict': ...}`` and a DataParallel
                                    ``module.`` prefix are unwrapped).

Every kind ends as an ``openvino.Model`` with one float32 input ``[?, 3, S, S]`` and one output ``[?, classes]``.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import openvino as ov
import torch
from safetensors.torch import load_file
from torch import nn

from ..models.classifiers import CLASSIFIERS, classifier_info, get_classifier
from ..models.contract import InputContract
from ..models.fit import check_state_fits
from ..safety import refused_pickle_reason

_FACTORY = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


# OpenVINO prefixes its messages with lines naming only its own source files, e.g.
# "Exception from src/inference/src/cpp/core.cpp:84:" or "Check 'false' failed at src/frontends/...:42:".
_LOCATION_LINE = re.compile(r"^(Exception from \S+:\d+:?|Check '.*' failed at \S+:\d+:?)$")


def first_line(err: BaseException | str, limit: int = 200) -> str:
    """The first informative non-empty line of an error message (OpenVINO's source-location lines skipped),
    shortened: user errors are one line."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    lines = [ln for ln in lines if not _LOCATION_LINE.match(ln)] or lines
    text = lines[0] if lines else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Preprocessed(nn.Module):
    """``net(preprocessing(x))``: a torch model taking [0,1] images (for sources such as bn-matching)."""

    def __init__(self, net: nn.Module, preprocessing: InputContract) -> None:
        super().__init__()
        self.net, self.preprocessing = net, preprocessing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.preprocessing(x))


@dataclass
class UserModel:
    ov_model: Any  # openvino.Model: input float32 [?,3,S,S], output [?,num_classes]
    kind: str  # "onnx" | "openvino-ir" | "registered" | "pytorch"
    spec: str  # what the user gave
    preprocessing: InputContract  # what the model file expects (its class count: the model's output)
    num_classes: int
    torch_model: nn.Module | None = None  # the PyTorch model taking [0,1] images (registered / factory kinds)
    weights: str | None = None

    def model_input(self) -> InputContract:
        """The contract the calibration sources make images for: a registered classifier's own (its training
        mean/std, normalisation inside the model), else the stated one, with the model's class count."""
        if self.kind == "registered":
            return classifier_info(self.spec).input
        return replace(self.preprocessing, num_classes=self.num_classes)

    def describe(self) -> dict:
        return {
            "spec": self.spec,
            "kind": self.kind,
            "weights": self.weights,
            "num_classes": self.num_classes,
            "input": [-1, 3, self.preprocessing.image_size, self.preprocessing.image_size],
        }


def model_kind(spec: str) -> str:
    """'onnx' | 'openvino-ir' | 'registered' | 'pytorch' for ``spec``; FileNotFoundError / ValueError otherwise."""
    path = Path(spec).expanduser()
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".onnx":
            return "onnx"
        if suffix == ".xml":
            return "openvino-ir"
        raise ValueError(
            f"unknown model file kind {suffix or path.name!r} ({str(path)!r}); expected .onnx, an "
            "OpenVINO .xml, a registered classifier name, or package.module:factory with weights"
        )
    if path.is_dir():
        raise ValueError(f"model {spec!r} is a folder; expected an .onnx or .xml file")
    if spec in CLASSIFIERS:
        return "registered"
    if _FACTORY.match(spec):
        return "pytorch"
    raise FileNotFoundError(
        f"model {spec!r} not found: no such file, not a registered classifier "
        f"({', '.join(sorted(CLASSIFIERS)[:4])}, ...), not package.module:factory"
    )


def check_ov_model(ov_model, image_size: int, what: str):
    """Check one float32 input [N,3,H,W] (H, W = ``image_size`` or dynamic) and one output [N, classes]; make the
    batch dimension dynamic. Returns (model, num_classes)."""
    if len(ov_model.inputs) != 1:
        raise ValueError(f"{what}: expected one input [N,3,H,W], found {len(ov_model.inputs)} inputs")
    port = ov_model.inputs[0]
    shape = port.get_partial_shape()
    if shape.rank.is_dynamic or shape.rank.get_length() != 4 or shape[1].is_dynamic or shape[1].get_length() != 3:
        raise ValueError(f"{what}: input must be [N,3,H,W] (RGB, channels first), found {shape}")
    hw = [d.get_length() for d in (shape[2], shape[3]) if d.is_static]
    if any(d != image_size for d in hw):
        raise ValueError(f"{what}: input is {shape} but the stated image size is {image_size} (--image-size)")
    if port.get_element_type() not in (ov.Type.f32, ov.Type.dynamic):
        raise ValueError(f"{what}: input must be float32, found {port.get_element_type()}")
    if len(ov_model.outputs) != 1:
        raise ValueError(f"{what}: expected one output [N, classes] (logits), found {len(ov_model.outputs)} outputs")
    try:
        ov_model.reshape({port: ov.PartialShape([-1, 3, image_size, image_size])})
    except Exception as err:  # noqa: BLE001 - OpenVINO raises its own types
        raise ValueError(f"{what}: cannot give the input a dynamic batch dimension ({first_line(err)})") from None
    out = ov_model.outputs[0].get_partial_shape()
    if out.rank.is_dynamic or out.rank.get_length() != 2 or out[1].is_dynamic or out[1].get_length() < 2:
        raise ValueError(f"{what}: output must be [N, classes] logits, found {out}")
    return ov_model, out[1].get_length()


def _read_file(path: Path, kind: str):
    if kind == "openvino-ir" and not path.with_suffix(".bin").is_file():
        raise FileNotFoundError(
            f"OpenVINO IR {str(path)!r} has no weights file {path.with_suffix('.bin').name!r} beside it"
        )
    try:
        return ov.Core().read_model(str(path))
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"cannot read {kind} file {str(path)!r}: {openvino_reason(err)}") from None


def openvino_reason(err: BaseException, limit: int = 300) -> str:
    """OpenVINO's whole reason on one line: its source-location and ``Check '...' failed at`` lines dropped, the
    rest joined (a custom operation's name, an external data path outside the model's folder)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    text = " ".join(ln for ln in lines if not _LOCATION_LINE.match(ln))
    text = text or first_line(err)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_factory(spec: str) -> nn.Module:
    """Call ``package.module:factory`` (no arguments); ValueError unless it returns an ``nn.Module``."""
    module_name, attr = spec.split(":")
    if os.getcwd() not in sys.path:  # `gsoc-helpers` (console script) does not put the current folder on the path
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 - ImportError or an error inside the user's module
        raise ValueError(f"cannot import {module_name!r} for {spec!r}: {first_line(err)}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"{module_name!r} has no callable {attr!r} (from {spec!r})")
    try:
        model = factory()
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"{spec}() failed: {type(err).__name__}: {first_line(err)}") from None
    if not isinstance(model, nn.Module):
        raise ValueError(f"{spec}() returned {type(model).__name__}, not a torch.nn.Module")
    return model


def load_weights(model: nn.Module, path: str | os.PathLike) -> None:
    """Load a safetensors file or a ``torch.load(weights_only=True)`` state dict into ``model``, strictly."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    try:
        if path.suffix.lower() == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001
        raise ValueError(
            f"cannot read weights {str(path)!r} (safetensors, or a state dict torch.load can read "
            f"with weights_only=True): {refused_pickle_reason(err) or first_line(err)}"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"weights {str(path)!r} are not a state dict (name -> tensor)")
    own = model.state_dict()
    if state and all(k.startswith("module.") for k in state) and not any(k.startswith("module.") for k in own):
        state = {k[len("module.") :]: v for k, v in state.items()}
    check_state_fits(model, state, f"weights {str(path)!r} do not fit the model")
    model.load_state_dict(state)


def _torch_to_openvino(net: nn.Module, image_size: int, what: str):
    from ..openvino.classifier import to_openvino

    try:
        with torch.no_grad():
            net.eval()(torch.zeros(1, 3, image_size, image_size))
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"{what} fails on a [1,3,{image_size},{image_size}] input: {first_line(err)}") from None
    with warnings.catch_warnings():  # torch.jit deprecation notices from OpenVINO's tracing: not the user's concern
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        return to_openvino(net, image_size)


def load_user_model(
    spec: str, weights: str | os.PathLike | None = None, preprocessing: InputContract | None = None
) -> UserModel:
    """Load ``spec`` (see module doc) as a checked :class:`UserModel`. ``preprocessing`` None: CIFAR-10 defaults
    (identity for registered classifiers, which must not be given one)."""
    kind = model_kind(str(spec))
    spec = str(spec)
    if weights is not None and kind != "pytorch":
        raise ValueError(f"weights apply only to package.module:factory models, not to a {kind} model")
    if kind == "registered":
        side = classifier_info(spec).input.image_size
        if preprocessing is not None and not preprocessing.same_preprocessing(InputContract.identity(side)):
            raise ValueError(
                f"registered classifier {spec!r} takes [0,1] {side}x{side} images with its normalisation "
                "inside; do not state mean/std/value range/image size for it"
            )
        preprocessing = InputContract.identity(side)
    preprocessing = preprocessing or InputContract()
    preprocessing.validate()
    size = preprocessing.image_size
    torch_model = None
    if kind in ("onnx", "openvino-ir"):
        path = Path(spec).expanduser()
        ov_model = _read_file(path, kind)
    else:
        if kind == "registered":
            net = get_classifier(spec)
        else:
            if weights is None:
                raise ValueError(
                    f"{spec}: a PyTorch factory needs a weights file (--weights: .safetensors or a state dict)"
                )
            net = load_factory(spec).float().eval()
            load_weights(net, weights)
        ov_model = _torch_to_openvino(net, size, spec)
        torch_model = Preprocessed(net, preprocessing).eval()
    ov_model, num_classes = check_ov_model(ov_model, size, spec)
    preprocessing = replace(preprocessing, num_classes=num_classes)
    return UserModel(
        ov_model, kind, spec, preprocessing, num_classes, torch_model, None if weights is None else str(weights)
    )
