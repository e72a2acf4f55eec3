"""What NNCF's INT8 does to EfficientNet-Lite0's depthwise convolutions: RESULTS' ``depthwise`` block, generated from
``study_results/lite0_depthwise.json`` (written by ``benchmarks/why_lite0_depthwise.py`` on the validation photos
only)."""

from __future__ import annotations

import json
from pathlib import Path

from .stats import format_mean_std, mean_std

FILE = "study_results/lite0_depthwise.json"
# the variants the script measures, each the chosen setting's preset, ranges and bias correction otherwise
PER_CHANNEL = "per-channel at depthwise inputs (NNCF's CPU choice)"
PER_TENSOR = "one range per tensor"
DW_FLOAT = "depthwise convolutions in floating point"
FQ_TORCH, FQ_IR = "fake-quant W8A8, PyTorch", "fake-quant W8A8, OpenVINO IR"
CLOSE = 3.0  # points of agreement: "as good as" when within this (two of 75 validation crops, plus seed spread)
COMMAND = "`benchmarks/why_lite0_depthwise.py`"


def _agreement(rows: list[dict], source: str, setting: str) -> tuple[float, float, int]:
    return mean_std([r["agreement"] for r in rows if r["source"] == source and r["setting"] == setting])


def depthwise_block(root: Path) -> str:
    """A table per source and setting (validation agreement, mean ± std over seeds), the layers left in floating
    point and the speed of each model, then what they show."""
    path = root / FILE
    if not path.is_file():
        return f"Not measured yet: {COMMAND} writes `benchmarks/{FILE}`."
    data = json.loads(path.read_text())
    rows, env = data["rows"], data.get("environment", {})
    sources = list(dict.fromkeys(r["source"] for r in rows))
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    seeds = sorted({r["seed"] for r in rows})
    out = [
        f"Measured by {COMMAND} ({env.get('cpu', 'CPU not recorded')}, {env.get('isa', '?')}; one thread; "
        f"{data['calibration_size']} calibration images per source and seed, seeds {', '.join(map(str, seeds))}; "
        f"agreement with FP32 on the {data['validation_photos']} validation photo crops, never the test photos). "
        f"Each NNCF variant keeps the chosen setting's (`{data['chosen']}`) preset, range estimator and bias correction; "
        "the fake-quant is the fine-tuning path's W8A8 start (BatchNorms folded, per-output-channel weights, one "
        "min/max range per tensor at every convolution's input, depthwise ones included).",
        "",
        "| source | " + " | ".join(settings) + " |",
        "|---|" + "---:|" * len(settings),
    ]
    for s in sources:
        out.append(f"| {s} | " + " | ".join(format_mean_std(*_agreement(rows, s, k)) for k in settings) + " |")
    speed, floats, layers = data["images_per_second_batch16_one_thread"], data["float_layers"], data["layers"]
    out += [
        "",
        "| model | convolutions/matmuls not in INT8 | images/s (batch 16, one thread) |",
        "|---|---:|---:|",
        f"| FP32 | {layers['conv_and_matmul']} of {layers['conv_and_matmul']} | {speed['FP32']:.1f} |",
        *[
            f"| {name} | {floats[name]} of {layers['conv_and_matmul']} | {speed[name]:.1f} |"
            for name in floats
            if name in speed
        ],
        "",
    ]
    out += _findings(rows, sources, settings, speed)
    return "\n".join(out) + "\n"


def _findings(rows: list[dict], sources: list[str], settings: list[str], speed: dict[str, float]) -> list[str]:
    """What the tables show, from their numbers: what one range per tensor and floating-point depthwise
    convolutions each give over NNCF's per-channel ranges, how close the all-INT8 fake-quant IR comes, and the speed."""
    if PER_CHANNEL not in settings:
        return []

    def gain(variant: str) -> str:
        return ", ".join(
            f"{_agreement(rows, s, variant)[0] - _agreement(rows, s, PER_CHANNEL)[0]:+.2f} points ({s})"
            for s in sources
        )

    out = []
    if PER_TENSOR in settings:
        out.append(
            f"- One activation range per tensor instead of NNCF's per-channel ones changes the agreement by {gain(PER_TENSOR)}."
        )
    if DW_FLOAT in settings:
        out.append(f"- Depthwise convolutions in floating point change it by {gain(DW_FLOAT)}.")
    if FQ_IR in settings and DW_FLOAT in settings:
        worst_gap = max(_agreement(rows, s, DW_FLOAT)[0] - _agreement(rows, s, FQ_IR)[0] for s in sources)
        out.append(
            f"- The project's fake-quant IR, every depthwise convolution in INT8, is at most {max(worst_gap, 0):.2f} "
            "points below floating-point depthwise convolutions on any source"
            + (
                ": OpenVINO runs INT8 depthwise convolutions that keep FP32's predictions; what loses them is how "
                "NNCF quantizes them (its per-channel activation ranges above; what else, not found here)."
                if worst_gap <= CLOSE
                else "."
            )
        )
    if {PER_TENSOR, DW_FLOAT} <= set(speed):
        out.append(
            f"- Speed (one thread, batch 16): {speed[PER_TENSOR]:.1f} images/s all INT8 with one range per tensor, "
            f"{speed[DW_FLOAT]:.1f} with depthwise convolutions in floating point, {speed['FP32']:.1f} in FP32."
        )
    return out
