"""The study's targets below 8 bits and for the ImageNet model, each beside what the test cells measured and whether
it is met: RESULTS' ``targets`` block, generated from ``study_results/{finetune,bits,lite0,lite0fq}_cells.jsonl`` and
``environment.json`` (the CPU they ran on).

A target is met when the mean over seeds is on its side of the bound (the IR-against-fake-quant target: when every
run is); the std beside it says how sure that is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .results import load_test_cells
from .stats import format_mean_std, mean_std

FILES = ("finetune", "bits", "lite0", "lite0fq")
COMMAND = "`python benchmarks/bench_study.py plan` then `python benchmarks/bench_study.py report`"


@dataclass(frozen=True)
class Target:
    """One target: ``what`` it asks, the bound, and which test cells and field measure it (``at_most``: the mean
    must be ≤ bound, else ≥)."""

    what: str
    study: str  # which cells file
    select: Callable[[dict], bool]
    value: Callable[[dict], float | None]
    bound: float
    at_most: bool
    unit: str
    every_run: bool = False  # met only when every run is on the bound's side (else: when the mean is)


def _is(**want) -> Callable[[dict], bool]:
    return lambda c: all(c.get(k) == v for k, v in want.items())


def _minutes(field: str) -> Callable[[dict], float | None]:
    return lambda c: None if c.get(field) is None else float(c[field]) / 60


TARGETS = (  # issue 39's targets, in the units the issue states them
    Target(
        "ResNet-20 W4A4 fine-tuned on student images alone: top-1 drop from FP32 (1,017 exact test images)",
        "finetune",
        _is(model="akamaster_resnet20", source="student"),
        lambda c: c.get("exact_drop"),
        2.0,
        True,
        "points",
    ),
    Target(
        "the same fine-tuning: wall time per seed",
        "finetune",
        _is(model="akamaster_resnet20", source="student"),
        _minutes("seconds"),
        30.0,
        True,
        "min",
    ),
    Target(
        "the fine-tuned OpenVINO IR against PyTorch fake-quant: |top-1 difference| (every fine-tuned run)",
        "finetune",
        lambda c: c.get("exact_ir_top1") is not None,
        lambda c: abs(float(c["exact_ir_top1"]) - float(c["exact_top1_int8"])),
        0.3,
        True,
        "points",
        every_run=True,
    ),
    Target(
        "EfficientNet-Lite0 INT8 calibrated on the image-free source chosen on validation photos: agreement with FP32 "
        "on the test photos",
        "lite0",
        _is(config="project"),
        lambda c: c.get("photos_agreement"),
        85.0,
        False,
        "%",
    ),
    Target(
        "EfficientNet-Lite0 with every convolution in INT8 (the project's W8A8 fake-quant as an OpenVINO IR, no NNCF), "
        "calibrated on the same image-free source: agreement with FP32 on the test photos",
        "lite0fq",
        lambda c: True,
        lambda c: c.get("photos_ir_agreement"),
        85.0,
        False,
        "%",
    ),
    Target(
        "bn-matching at 224 px: 128 images (one EfficientNet-Lite0 calibration set)",
        "lite0",
        _is(source="bn-matching", config="project"),
        _minutes("calibration_seconds"),
        10.0,
        True,
        "min",
    ),
)
IMAGE_FREE = ("offline-teacher", "student", "noise", "bn-matching", "fractal")  # no natural image in their making


def _validation_choice(selection: dict) -> str | None:
    """The image-free source with the best mean agreement on the validation photos under EfficientNet-Lite0's chosen
    PTQ setting (``selection.json``'s ``lite0_ptq`` table), or None when the choice was not recorded."""
    lite = selection.get("lite0_ptq") or {}
    rows = [r for r in lite.get("table", []) if r.get("config") == lite.get("choice") and r.get("source") in IMAGE_FREE]
    return max(rows, key=lambda r: r["photos_agreement_mean"])["source"] if rows else None


def _row(t: Target, cells: list[dict], selection: dict) -> str:
    picked = [c for c in cells if t.select(c)]
    name = ""
    if t.study.startswith("lite0") and "agreement" in t.what:  # the image-free source chosen on validation
        by: dict[str, list[dict]] = {}
        for c in picked:
            if c["source"] in IMAGE_FREE:
                by.setdefault(c["source"], []).append(c)
        chosen = _validation_choice(selection)
        if chosen in by:
            picked, name = by[chosen], f"{chosen} (chosen on validation), "
        elif by:  # no validation choice recorded: the best test mean, which flatters it
            best = max(by, key=lambda s: mean_std([t.value(c) for c in by[s]])[0])
            picked, name = by[best], f"{best} (the best test mean: optimistic), "
        else:
            picked = []
    bound = f"{'≤' if t.at_most else '≥'} {t.bound:g} {t.unit}"
    if not picked:
        return f"| {t.what} | {bound} | not measured under the protocol | — |"
    values = [v for v in (t.value(c) for c in picked) if v is not None]
    m, s, n = mean_std(values)
    worst = (max(values) if t.at_most else min(values)) if t.every_run else m
    met = worst <= t.bound if t.at_most else worst >= t.bound
    gap = "" if met else f", {abs(worst - t.bound):.2f} {'points' if t.unit == '%' else t.unit} short"
    shown = format_mean_std(m, s, n) + (f", worst {worst:.2f}" if t.every_run else "")
    return f"| {t.what} | {bound} | {name}{shown} {t.unit} ({n} runs) | {'yes' if met else 'no'}{gap} |"


def _by_source(cells: list[dict], field: str, label: str) -> list[str]:
    """One line per source and setting (estimator, schedule or PTQ config): ``field``'s mean ± std over seeds."""
    by: dict[tuple[str, str], list[dict]] = {}
    for c in cells:
        by.setdefault((c["source"], str(c["config"])), []).append(c)
    return [
        f"| {label} | {src} | {config} | {format_mean_std(*mean_std([c.get(field) for c in cs]))} | {len(cs)} |"
        for (src, config), cs in by.items()
    ]


def targets_block(root: Path) -> str:
    """RESULTS' ``targets`` block: the target table, then each measured figure per source behind it."""
    cells = {s: load_test_cells(root, s) for s in FILES}
    sel_path = root / "study_results" / "selection.json"
    selection = json.loads(sel_path.read_text()) if sel_path.is_file() else {}
    if not any(cells.values()):
        return f"Not measured under the protocol yet: {COMMAND}."
    env_path = root / "study_results" / "environment.json"
    env = json.loads(env_path.read_text()) if env_path.is_file() else {}
    out = [
        f"Measured on the test images by `benchmarks/bench_study.py` ({env.get('cpu', 'CPU not recorded')}, "
        f"{env.get('isa', '?')}; each worker one thread on one of the 2 cores, the other core running the other "
        "worker). Mean ± std over the runs; met when the mean (for the IR: every run) is on the target's side.",
        "",
        "| target | asked | measured | met |",
        "|---|---|---|---|",
        *[_row(t, cells[t.study], selection) for t in TARGETS],
        "",
        "Behind them (test images; mean ± std over seeds):",
        "",
        "| figure | source | setting | mean ± std | seeds |",
        "|---|---|---|---|---:|",
    ]
    out += _by_source(cells["finetune"], "exact_drop", "W4A4 fine-tuned, top-1 drop from FP32 (points)")
    out += _by_source(cells["finetune"], "exact_ir_agreement", "W4A4 fine-tuned IR, agreement with FP32 (%)")
    w3 = [c for c in cells["bits"] if c.get("bits") == "W3A3"]
    out += _by_source(w3, "exact_agreement", "W3A3 calibration, agreement with FP32 (%)")
    lite = [c for c in cells["lite0"] if c.get("config") == "project"]
    out += _by_source(lite, "photos_agreement", "EfficientNet-Lite0 INT8, agreement on test photos (%)")
    out += _by_source(lite, "photos_top1_int8", "EfficientNet-Lite0 INT8, top-1 on the labelled test photos (%)")
    if lite:
        fp32 = lite[0].get("photos_top1_fp32")
        out.append(f"| EfficientNet-Lite0 FP32, top-1 on the labelled test photos (%) | — | — | {fp32:.2f} | — |")
    out += _ceiling(lite)
    return "\n".join(out) + "\n"


def _ceiling(lite: list[dict]) -> list[str]:
    """A sentence when even calibration on held-out natural photos (the ``photos`` source) misses the agreement
    target: the target then asks more than natural calibration images give under this setting."""
    target = next(t for t in TARGETS if t.study == "lite0" and "agreement" in t.what)
    photos = [float(c["photos_agreement"]) for c in lite if c.get("source") == "photos"]
    if not photos:
        return []
    m, s, n = mean_std(photos)
    if m >= target.bound:
        return []
    means = [
        mean_std([float(c["photos_agreement"]) for c in lite if c.get("source") == src])[0]
        for src in IMAGE_FREE
        if any(c.get("source") == src for c in lite)
    ]
    spread = f" the image-free sources' means lie between {min(means):.2f} and {max(means):.2f} %" if means else ""
    return [
        "",
        f"EfficientNet-Lite0's ceiling: calibrated on held-out natural photos, INT8 agrees "
        f"{format_mean_std(m, s, n)} % with FP32 on the test photos ({n} seeds), below the {target.bound:g} % asked: "
        f"the target asks more than natural calibration images give under this PTQ setting;{spread} (each against "
        "the photos, with its paired interval, in section 0's answer).",
    ]
