"""FID features through OpenVINO f32: the OpenVINO twin of torch-fidelity's Inception-v3 feature extractor.

:func:`use_openvino_features` makes a torch-fidelity ``FeatureExtractorInceptionV3`` (any of ours: offline trunk or
verified weights) compute its ``'2048'`` pool features with an OpenVINO f32 twin of itself -- the same graph,
resize to 299x299 included, traced and compiled once per input size and cached as IR
(:func:`gsoc_helpers.openvino.core.cached_ir`).  Before the twin is used, the first batch of each input size is run
both ways and the twin is kept only if its features match torch's within :data:`FEATURE_RTOL` of their largest
magnitude (measured about 1e-6 on the 2015-12-05 network); otherwise the extractor stays in PyTorch and a warning
says why.  Only the '2048' layer is handled (FID, KID, precision/recall); logits (IS) stay in PyTorch.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

FEATURE_RTOL = 1e-4
CHECK_IMAGES = 4
_COMPILED: dict[tuple[str, int | None], Any] = {}  # (IR key, threads) -> compiled twin, for this process


class _Features2048(nn.Module):
    """uint8 [N, 3, H, W] -> float32 [N, 2048] (the extractor's first and only requested output)."""

    def __init__(self, extractor: nn.Module) -> None:
        super().__init__()
        self.extractor = extractor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return type(self.extractor).forward(self.extractor, x)[0]  # the class's forward, never the twin's


def feature_twin(extractor: nn.Module, height: int, width: int, threads: int | None = None) -> Any:
    """Compiled OpenVINO f32 twin of ``extractor`` for uint8 [N, 3, height, width] inputs (dynamic N)."""
    import openvino as ov

    from ..quiet import quiet_tracing
    from .core import cached_ir, compile_model, module_digest

    wrapper = _Features2048(extractor).eval()

    def convert():
        with torch.no_grad(), quiet_tracing(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            return ov.convert_model(
                wrapper,
                example_input=torch.zeros(2, 3, height, width, dtype=torch.uint8),
                input=[ov.PartialShape([-1, 3, height, width])],
            )

    key = module_digest(wrapper, "fid-2048", height, width)
    if (key, threads) not in _COMPILED:
        _COMPILED[(key, threads)] = compile_model(cached_ir(key, convert), threads, "f32")
    return _COMPILED[(key, threads)]


def use_openvino_features(extractor: nn.Module, threads: int | None = None) -> bool:
    """Route ``extractor``'s forward through its OpenVINO f32 twin (checked on the first batch of each input size).
    Returns False (extractor unchanged) when it requests anything but the '2048' features or OpenVINO is missing."""
    if list(getattr(extractor, "features_list", [])) != ["2048"]:
        return False
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    torch_forward = extractor.forward
    twins: dict[tuple[int, int], Any] = {}

    def forward(x: torch.Tensor) -> tuple[torch.Tensor]:
        if x.device.type != "cpu" or x.dtype != torch.uint8 or x.ndim != 4:
            return torch_forward(x)
        key = (int(x.shape[2]), int(x.shape[3]))
        if key not in twins:
            twins[key] = _checked_twin(extractor, torch_forward, x[:CHECK_IMAGES], key, threads)
        if twins[key] is None:
            return torch_forward(x)
        out = twins[key](x.numpy())[0]
        return (torch.from_numpy(np.array(out, dtype=np.float32)),)

    extractor.forward = forward
    extractor.openvino_twin = True
    return True


def _checked_twin(
    extractor: nn.Module, torch_forward: Any, probe: torch.Tensor, key: tuple[int, int], threads: int | None
) -> Any:
    try:
        twin = feature_twin(extractor, *key, threads=threads)
    except Exception as err:  # noqa: BLE001 - conversion problems: stay in PyTorch, say so
        warnings.warn(
            f"FID features stay in PyTorch: OpenVINO conversion failed ({type(err).__name__}: {err})", stacklevel=3
        )
        return None
    with torch.no_grad():
        want = torch_forward(probe)[0].float().numpy()
    got = np.asarray(twin(probe.numpy())[0], dtype=np.float32)
    rel = float(np.abs(got - want).max() / max(float(np.abs(want).max()), 1e-12))
    if not rel <= FEATURE_RTOL:
        warnings.warn(
            f"FID features stay in PyTorch: the OpenVINO twin differs by {rel:.2e} of the features' "
            f"largest magnitude (> {FEATURE_RTOL:g})",
            stacklevel=3,
        )
        return None
    return twin
