"""Why EfficientNet-Lite0's PTQ setting leaves its depthwise convolutions in floating point: RESULTS' ``depthwise``
block, generated from ``study_results/lite0_depthwise.json`` (written by ``benchmarks/why_lite0_depthwise.py`` on
the validation photos only)."""

from __future__ import annotations

import json
from pathlib import Path

from .stats import format_mean_std, mean_std

FILE = "study_results/lite0_depthwise.json"
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
        f"`depthwise INT8` is the chosen setting (`{data['chosen']}`) without its ignored scope.",
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
    """What the table shows, from its numbers: the gain of floating-point depthwise convolutions per source, and
    whether the project's fake-quant IR (depthwise convolutions in INT8) keeps FP32's predictions as well."""
    dw_int8, dw_float = "depthwise INT8", "depthwise float (chosen)"
    ir = "fake-quant W8A8, OpenVINO IR"
    if not {dw_int8, dw_float} <= set(settings):
        return []
    gains = {s: _agreement(rows, s, dw_float)[0] - _agreement(rows, s, dw_int8)[0] for s in sources}
    out = [
        "- Depthwise convolutions in floating point raise the validation agreement by "
        + ", ".join(f"{g:+.2f} points ({s})" for s, g in gains.items())
        + "."
    ]
    if ir in settings:
        worst_gap = max(_agreement(rows, s, dw_float)[0] - _agreement(rows, s, ir)[0] for s in sources)
        same = worst_gap <= CLOSE
        out.append(
            f"- The project's fake-quant IR, with every depthwise convolution in INT8, is at most {max(worst_gap, 0):.2f} "
            "points below the chosen setting on any source"
            + (
                ": OpenVINO's INT8 depthwise convolutions keep FP32's predictions; what loses them is how NNCF's "
                "post-training quantization quantizes those layers (not found here which of its choices)."
                if same
                else "."
            )
        )
    if dw_float in speed and dw_int8 in speed:
        out.append(
            f"- The price: {speed[dw_float]:.1f} images/s with depthwise convolutions in floating point against "
            f"{speed[dw_int8]:.1f} with all of them in INT8 and {speed['FP32']:.1f} in FP32 (one thread, batch 16)."
        )
    return out
