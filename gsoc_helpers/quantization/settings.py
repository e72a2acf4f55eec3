"""Settings of the quantization tools as plain dataclasses (no torch: the command line reads their defaults while
it builds its parser). On the command line ``--max-drop`` is in top-1 points; here, as NNCF takes it, a fraction:
:func:`points_to_fraction` converts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..defaults import CALIBRATION_SIZE, HELD_OUT_SIZE

VALIDATION_DATA = ("heldout", "calibration")
# The name of the project's PTQ setting (PTQConfig's defaults, the measured best) in every table and grid, beside
# "nncf-default" (NNCF's own defaults).
PROJECT_DEFAULT = "default"


@dataclass(frozen=True)
class AccuracyControl:
    """``max_drop``: allowed absolute top-1 drop (0.02 = 2 points, the 2022 ``maximal_drop``); ``validation``: one of
    :data:`VALIDATION_DATA`; ``val_size``: held-out images (ignored for ``"calibration"``)."""

    max_drop: float = 0.02  # fraction (the command line takes points: --max-drop 2)
    validation: str = "heldout"
    val_size: int = HELD_OUT_SIZE
    train_source: str = "auto"

    def validate(self) -> None:
        if not 0 <= self.max_drop < 1:
            raise ValueError(f"max_drop must be in [0, 1) (a fraction, 0.02 = 2 points), got {self.max_drop}")
        if self.validation not in VALIDATION_DATA:
            raise ValueError(f"validation must be one of {VALIDATION_DATA}, got {self.validation!r}")
        if self.val_size < 10:
            raise ValueError(f"val_size must be >= 10, got {self.val_size}")

    def key(self) -> str:
        size = f",n={self.val_size},{self.train_source}" if self.validation == "heldout" else ""
        return f"aac(max_drop={self.max_drop},val={self.validation}{size})"


@dataclass
class QuantizeOptions:
    """Settings of :func:`quantize_model` other than the model, the images and the PTQ config."""

    calibration_size: int = CALIBRATION_SIZE  # images from the source (a smaller folder: all of it)
    seed: int = 0
    held_out_size: int = HELD_OUT_SIZE  # held-out synthetic images when no held-out folder is given
    max_drop: float | None = None  # fraction of top-1 (0.01 = 1 point): accuracy-aware PTQ on the labelled
    # held-out folder
    nncf_defaults: bool = False  # NNCF's own defaults instead of the project's measured best PTQConfig
    speed_batches: tuple[int, ...] = (1, 64)
    speed_seconds: float = 2.0
    threads: int | None = None  # OpenVINO inference threads (None: OpenVINO's choice)
    source_options: dict = field(default_factory=dict)  # keyword arguments of the calibration source
    # OpenVINO op types NNCF leaves in floating point (its IgnoredScope), e.g. ("GroupConvolution",): the depthwise
    # convolutions, which lose EfficientNet-Lite0 most of its INT8 agreement (benchmarks/RESULTS.md section 8)
    ignored_types: tuple[str, ...] = ()
    per_tensor_activations: bool = False  # one activation range per tensor (NNCF: per channel at depthwise inputs)

    def validate(self) -> None:
        for name in ("calibration_size", "held_out_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name.replace('_', ' ')} must be a positive integer, got {v!r}")
        if self.max_drop is not None and not (isinstance(self.max_drop, (int, float)) and 0 < self.max_drop < 1):
            raise ValueError(f"max drop must be in (0, 1) (a fraction of top-1: 0.01 = 1 point), got {self.max_drop!r}")
        if not self.speed_batches or any(int(b) < 1 for b in self.speed_batches):
            raise ValueError(f"speed batch sizes must be positive integers, got {list(self.speed_batches)}")
        if not (math.isfinite(self.speed_seconds) and self.speed_seconds > 0):
            raise ValueError(f"speed seconds must be > 0, got {self.speed_seconds!r}")
        if any(not isinstance(t, str) or not t.isidentifier() for t in self.ignored_types):
            raise ValueError(
                f"ignored types must be OpenVINO op type names (e.g. GroupConvolution), got {list(self.ignored_types)}"
            )
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads!r}")


def points_to_fraction(points: float) -> float:
    """Top-1 points (the command line's unit, 2 = 2 points) -> the fraction the settings hold (0.02)."""
    return round(points / 100, 12)
