"""The report of :func:`gsoc_helpers.quantization.tool.quantize_model`: one dict, written as JSON and Markdown.

Keys: ``model``, ``preprocessing``, ``calibration``, ``ptq``, ``evaluation`` (agreement %, KL(FP32 || INT8) in nats,
agreement on confident images, top-5 overlap, top-1 % when labelled), ``speed`` (images/s per batch size), ``size`` (IR bytes), ``fp32_layers``, ``environment``,
``wall_seconds``.
"""

from __future__ import annotations

import json
from pathlib import Path


def environment() -> dict:
    # only when a report is written: importing nncf takes seconds, and this module's callers may not need it
    import nncf
    import openvino as ov
    import torch

    from ..openvino.core import cpu_isa, default_precision

    try:
        cpu = ov.Core().get_property("CPU", "FULL_DEVICE_NAME")
    except Exception:  # noqa: BLE001 - informational only
        cpu = "unknown"
    return {
        "openvino": ov.__version__,
        "nncf": nncf.__version__,
        "torch": torch.__version__,
        "cpu": str(cpu),
        "isa": cpu_isa(),
        "default_precision": default_precision(),
    }


def _fmt_list(values) -> str:
    return ", ".join(f"{v:g}" for v in values)


def to_markdown(r: dict) -> str:
    """Human-readable report (Markdown)."""
    m, p, c, q, e = r["model"], r["preprocessing"], r["calibration"], r["ptq"], r["evaluation"]
    lines = [
        f"# INT8 quantization report: `{m['spec']}`",
        "",
        f"- Model: {m['kind']}, input {m['input']}, {m['num_classes']} classes"
        + (f", weights `{m['weights']}`" if m.get("weights") else ""),
        f"- Preprocessing: images in [0,1] resized to {p['image_size']}x{p['image_size']}, scaled to "
        f"[{_fmt_list(p['value_range'])}], minus mean [{_fmt_list(p['mean'])}], divided by std "
        f"[{_fmt_list(p['std'])}]",
        f"- Calibration: {c['description']}",
        f"- PTQ: {q['name']} (`{q['key']}`)",
    ]
    if q.get("accuracy_control"):
        a = q["accuracy_control"]
        lines.append(
            f"- Accuracy-aware PTQ: max top-1 drop {a['max_drop_points']:g} points, checked by NNCF on "
            f"{a['validation_images']} labelled images of the held-out folder; the numbers below are on "
            "the other images of that folder"
        )
    lines += [
        "",
        "## Agreement with FP32",
        "",
        f"Measured on: **{e['set']}** — {e['description']}. "
        "FP32 reference compiled with `INFERENCE_PRECISION_HINT=f32`.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| agreement (same top-1 class as FP32) | {e['agreement']:.2f} % |",
        f"| KL(FP32 ‖ INT8) of softmaxes, mean | {e['kl']:.3e} nats |",
    ]
    if e.get("top5_overlap") is not None:  # reports before these rows existed lack them
        conf = e.get("agreement_confident")
        lines += [
            f"| agreement on images FP32 is confident about (top probability ≥ 0.5; {e['confident']:.0f} % of "
            f"them) | {'no such image' if conf is None else f'{conf:.2f} %'} |",
            f"| top-5 overlap (share of FP32's top-5 classes in INT8's top-5) | {e['top5_overlap']:.2f} % |",
            f"| FP32's class among INT8's top-5 | {e['top1_in_top5']:.2f} % |",
        ]
    if e.get("top1_fp32") is not None:
        lines += [
            f"| top-1 FP32 | {e['top1_fp32']:.2f} % |",
            f"| top-1 INT8 | {e['top1_int8']:.2f} % |",
            f"| top-1 drop | {e['drop']:+.2f} points |",
        ]
    else:
        lines.append("| top-1 drop | not measured (no labels) |")
    s, env, z = r["speed"], r["environment"], r["size"]
    default = env.get("default_precision", "default")
    has_default = all("default" in v for v in s["batches"].values())
    lines += [
        "",
        "## Speed and size",
        "",
        f"OpenVINO asynchronous inference ({s['seconds']:g} s per measurement) on {env['cpu']}"
        + (f" ({env['isa']})" if env.get("isa") else "")
        + ": FP32 with the f32 precision hint"
        + (f", FP32 in OpenVINO's default precision ({default} on this CPU)" if has_default else "")
        + ", INT8 with OpenVINO's default (as deployed).",
        "",
    ]
    if has_default:
        lines += [
            f"| batch | f32 images/s | default ({default}) images/s | INT8 images/s | INT8 / f32 | INT8 / default |",
            "|---|---|---|---|---|---|",
        ]
        for b, v in s["batches"].items():
            lines.append(
                f"| {b} | {v['fp32']:.0f} | {v['default']:.0f} | {v['int8']:.0f} | "
                f"{v['int8'] / v['fp32']:.2f}x | {v['int8'] / v['default']:.2f}x |"
            )
    else:  # a report written before the default-precision column existed
        lines += ["| batch | FP32 images/s | INT8 images/s | INT8 / FP32 |", "|---|---|---|---|"]
        for b, v in s["batches"].items():
            lines.append(f"| {b} | {v['fp32']:.0f} | {v['int8']:.0f} | {v['int8'] / v['fp32']:.2f}x |")
    lines += [
        "",
        "| IR | size |",
        "|---|---|",
        f"| FP32 (`{z['fp32_file']}` + .bin) | {z['fp32_bytes'] / 1e6:.3f} MB |",
        f"| INT8 (`{z['int8_file']}` + .bin) | {z['int8_bytes'] / 1e6:.3f} MB ({z['int8_bytes'] / z['fp32_bytes']:.2f}x) |",
    ]
    if has_default and env.get("isa") and s["batches"]:
        from ..openvino.core import int8_verdict

        v = s["batches"][max(s["batches"], key=int)]
        lines += [
            "",
            int8_verdict(
                env["isa"], v["int8"] / v["fp32"], v["int8"] / v["default"], z["fp32_bytes"] / z["int8_bytes"], default
            )
            + f" (batch {max(s['batches'], key=int)})",
        ]
    f = r["fp32_layers"]
    lines += [
        "",
        "## Layers left in FP32",
        "",
        f"{len(f['names'])} of {f['total']} Convolution/MatMul layers run in FP32"
        + (": " + ", ".join(f"`{n}`" for n in f["names"]) if f["names"] else "."),
    ]
    depthwise = r.get("per_channel_depthwise_inputs") or []
    if depthwise:
        lines += [
            "",
            f"**{len(depthwise)} depthwise convolutions take their input with one range per channel** (NNCF's CPU "
            "choice). Calibration images unlike your model's inputs set such ranges badly: on EfficientNet-Lite0 they "
            "cost most of the INT8 model's agreement with FP32 (benchmarks/RESULTS.md section 8). Compare "
            "`--per-tensor-activations` (all INT8) and `--ignore-types GroupConvolution` (those layers in floating "
            "point) on your held-out images.",
        ]
    lines += [
        "",
        f"OpenVINO {env['openvino']}, NNCF {env['nncf']}, torch {env['torch']}; wall time {r['wall_seconds']:.1f} s.",
    ]
    return "\n".join(lines) + "\n"


def write_report(report: dict, folder: str | Path) -> tuple[Path, Path]:
    """``report.json`` (strict JSON: a NaN or inf is a ValueError, nothing written) and ``report.md`` in ``folder``."""
    folder = Path(folder)
    js, md = folder / "report.json", folder / "report.md"
    text = json.dumps(report, indent=2, allow_nan=False) + "\n"
    js.write_text(text)
    md.write_text(to_markdown(report))
    return js, md
