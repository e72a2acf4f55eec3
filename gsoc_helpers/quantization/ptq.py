"""torch -> OpenVINO -> NNCF 8-bit post-training quantization -> IR.

:class:`PTQConfig` holds the settings that matter; its defaults are the project's measured best
(benchmarks/bench_quantization.py, benchmarks/RESULTS.md "Quantization"): activation ranges from the global min/max over the
calibration set instead of NNCF's mean of per-image min/max, the mixed preset (asymmetric activations), no bias
correction, every calibration image used.
NNCF's own defaults (:data:`NNCF_DEFAULTS`) are the performance preset (symmetric activations), mean-of-min/max
activation ranges, fast bias correction, the overflow fix on the first layer and ``subset_size=300``.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..fileio import named_write_error

if TYPE_CHECKING:  # torch is imported lazily: the CLI reads this module's constants at start-up
    import torch


ACTIVATION_RANGES = ("minmax", "mean_minmax", "median_minmax", "mean_no_outliers_minmax", "mean_quantile", "histogram")
BIAS_CORRECTIONS = ("full", "fast", "none")
OVERFLOW_FIXES = ("disable", "enable", "first_layer_only")


@dataclass
class PTQConfig:
    """Settings of :func:`quantize`; ``None`` means "NNCF's default" for that setting."""

    preset: str | None = "mixed"  # None (NNCF default = performance) | "performance" | "mixed" (asym. acts)
    bias_correction: str = "none"  # "full" BiasCorrection | "fast" (NNCF default) | "none"
    subset_size: int | None = None  # None = every calibration image
    activation_range: str | None = "minmax"  # None (NNCF default = mean_minmax) | one of ACTIVATION_RANGES
    # None (NNCF default = first_layer_only) | "disable" (full 8-bit weights: safe only on CPUs with VNNI/AMX,
    # measured up to +0.3 points of agreement there) | "enable" | "first_layer_only"
    overflow_fix: str | None = None
    # None (NNCF's choice: per-channel ranges at depthwise convolutions' inputs on CPU) | False (one range per
    # tensor everywhere) | True
    activations_per_channel: bool | None = None
    ignored_names: list[str] = field(default_factory=list)
    ignored_types: list[str] = field(default_factory=list)
    ignored_patterns: list[str] = field(default_factory=list)  # regexes over OpenVINO op names

    def key(self) -> str:
        d = asdict(self)
        return ",".join(f"{k}={v}" for k, v in d.items() if v not in (None, [], ()))

    def validate(self) -> None:
        if self.preset not in (None, "mixed", "performance"):
            raise ValueError(f"preset must be None, 'mixed' or 'performance', got {self.preset!r}")
        if self.bias_correction not in BIAS_CORRECTIONS:
            raise ValueError(f"bias_correction must be one of {BIAS_CORRECTIONS}, got {self.bias_correction!r}")
        if self.activation_range not in (None, *ACTIVATION_RANGES):
            raise ValueError(
                f"activation_range must be None or one of {ACTIVATION_RANGES}, got {self.activation_range!r}"
            )
        if self.overflow_fix not in (None, *OVERFLOW_FIXES):
            raise ValueError(f"overflow_fix must be None or one of {OVERFLOW_FIXES}, got {self.overflow_fix!r}")


NNCF_DEFAULTS = PTQConfig(preset=None, bias_correction="fast", subset_size=300, activation_range=None)


def _nncf_dataset(images: torch.Tensor | Sequence[dict]):
    """float [N,3,H,W] images -> one-image items; a sequence of model-input dicts (several inputs) -> as given."""
    import nncf

    if isinstance(images, (list, tuple)):
        if not images or not all(isinstance(item, dict) for item in images):
            raise ValueError("calibration items must be a non-empty list of {input name: array} dicts")
        return nncf.Dataset(list(images))
    if TYPE_CHECKING:
        assert isinstance(images, torch.Tensor)  # the sequence case returned above
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"calibration images must be a non-empty [N,3,H,W] tensor, got shape {tuple(images.shape)}")
    arr = images.detach().cpu().float().numpy()
    return nncf.Dataset([arr[i : i + 1] for i in range(len(arr))])


def ignored_scope(cfg: PTQConfig):
    """``nncf.IgnoredScope`` of ``cfg``'s ignored names, types and patterns, or None when it ignores nothing."""
    import nncf

    if not (cfg.ignored_names or cfg.ignored_types or cfg.ignored_patterns):
        return None
    return nncf.IgnoredScope(
        names=list(cfg.ignored_names),
        types=list(cfg.ignored_types),
        patterns=list(cfg.ignored_patterns),
        validate=False,
    )


def nncf_kwargs(cfg: PTQConfig, n: int) -> dict:
    """The keyword arguments ``nncf.quantize`` gets for ``cfg`` and ``n`` calibration images."""
    import nncf
    from nncf.quantization.advanced_parameters import (
        AdvancedQuantizationParameters,
        OverflowFix,
        QuantizationParameters,
    )
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    kw: dict = {"subset_size": min(cfg.subset_size or n, n), "fast_bias_correction": cfg.bias_correction == "fast"}
    if cfg.preset is not None:
        kw["preset"] = {"mixed": nncf.QuantizationPreset.MIXED, "performance": nncf.QuantizationPreset.PERFORMANCE}[
            cfg.preset
        ]
    scope = ignored_scope(cfg)
    if scope is not None:
        kw["ignored_scope"] = scope
    adv: dict = {}
    if cfg.overflow_fix is not None:
        adv["overflow_fix"] = OverflowFix(cfg.overflow_fix)
    if cfg.activations_per_channel is not None:
        adv["activations_quantization_params"] = QuantizationParameters(per_channel=cfg.activations_per_channel)
    if cfg.activation_range is not None:
        adv["activations_range_estimator_params"] = getattr(RangeEstimatorParametersSet, cfg.activation_range.upper())
    if cfg.bias_correction == "none":
        adv["disable_bias_correction"] = True
    if adv:
        kw["advanced_parameters"] = AdvancedQuantizationParameters(**adv)
    return kw


def quantize(ov_model, calibration: torch.Tensor | Sequence[dict], config: PTQConfig | None = None):
    """INT8 ``openvino.Model`` from ``ov_model`` calibrated on float32 [N,3,H,W] images in [0,1] (a classifier)
    or on a list of {input name: array} dicts (a model with several inputs, e.g. a generator)."""
    from ..quiet import quiet_progress

    cfg = config or PTQConfig()
    cfg.validate()
    with quiet_progress():
        import nncf

        return nncf.quantize(ov_model, _nncf_dataset(calibration), **nncf_kwargs(cfg, len(calibration)))


def quantize_with_accuracy_control(
    ov_model,
    calibration: torch.Tensor,
    val_images: torch.Tensor,
    val_labels: torch.Tensor,
    max_drop: float = 0.003,
    config: PTQConfig | None = None,
):
    """NNCF accuracy-aware PTQ: layers are reverted to FP32 until top-1 on ``val_images``/``val_labels`` drops by at
    most ``max_drop`` (absolute, fraction).  Callers pass held-out real images by default; the 2022 protocol
    (:mod:`.accuracy`, ``validation="calibration"``) passes the calibration set itself."""
    import nncf

    cfg = config or PTQConfig()
    cfg.validate()
    val_x = val_images.numpy()
    val_y = val_labels.numpy()
    items = [(val_x[i : i + 1], int(val_y[i])) for i in range(len(val_x))]

    def validate(compiled, data) -> float:
        out = compiled.outputs[0]
        hits = [int(np.argmax(compiled(x)[out]) == y) for x, y in data]
        return float(np.mean(hits))

    kw = nncf_kwargs(cfg, len(calibration))
    adv = kw.pop("advanced_parameters", None)
    from ..quiet import quiet_progress

    with quiet_progress():
        return nncf.quantize_with_accuracy_control(
            ov_model,
            _nncf_dataset(calibration),
            nncf.Dataset(items, lambda t: t[0]),
            validate,
            max_drop=max_drop,
            advanced_quantization_parameters=adv,
            **kw,
        )


def export_int8_generator(
    model, out_dir: str | Path, calibration_size: int = 300, seed: int = 0, config: PTQConfig | None = None
) -> Path:
    """Write ``out_dir/generator_int8.xml`` -> the .xml path: the generator's IR quantized by :func:`quantize` with
    ``config`` (default the project's ``PTQConfig()``), calibrated on ``calibration_size`` random (z, class) inputs
    drawn with ``seed`` (:func:`gsoc_helpers.openvino.generator.calibration_items`)."""
    import openvino as ov

    from ..openvino.generator import calibration_items, convert_generator

    if calibration_size < 1:
        raise ValueError(f"calibration_size must be >= 1, got {calibration_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    int8 = quantize(convert_generator(model), calibration_items(model, calibration_size, seed), config)
    path = out / "generator_int8.xml"
    ov.save_model(int8, str(path), compress_to_fp16=False)
    return path


def save_ir(ov_model, path: str | Path) -> Path:
    """Save ``ov_model`` as IR (.xml + .bin, weights uncompressed); returns the .xml path."""
    import openvino as ov

    path = Path(path).with_suffix(".xml")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        ov.save_model(ov_model, str(path), compress_to_fp16=False)
    except (RuntimeError, OSError) as err:  # a full disk: "basic_ios::clear: iostream error", no path
        free = shutil.disk_usage(path.parent).free
        raise named_write_error(
            OSError(errno.ENOSPC if free < 2**20 else None, f"{' '.join(str(err).split())[:160]}; is the disk full?"),
            path,
        ) from None
    return path
