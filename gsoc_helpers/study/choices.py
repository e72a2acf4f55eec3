"""Every choice of the study as made on validation (``study_results/selection.json``) beside the choice the earlier
studies made (on the test images, or never), and whether it changed: RESULTS' ``choices`` block."""

from __future__ import annotations

import json
from pathlib import Path

# What the earlier studies used (RESULTS.md sections 5, 9 and 10 before protocol p2), as (choice, what it was chosen on).
EARLIER: dict[str, tuple[object, str]] = {
    "ptq": ("mixed+minmax+nobc", "the 10,000 JPEG test images"),
    "bn": ("steps200", "never compared: the INT8 study's default (the bit-width study ran 50 steps)"),
    "lite0_ptq": ("mixed+minmax+nobc", "never chosen for EfficientNet-Lite0: the CIFAR-10 setting"),
    # the range estimator per source and bit width, picked on the 1,017 exact test images
    "estimators": (
        {
            f"akamaster_resnet20|{source}|{bits}": est
            for bits, row in {
                "W8A8": ("minmax", "mse", "mse", "mse", "mse", "minmax"),
                "W6A6": ("percentile", "mse", "minmax", "mse", "percentile", "mse"),
                "W5A5": ("mse", "percentile", "percentile", "percentile", "mse", "mse"),
                "W4A4": ("mse", "percentile", "minmax", "mse", "mse", "percentile"),
                "W3A3": ("mse", "mse", "mse", "mse", None, None),
                "W4A8": ("minmax",) * 6,
                "W8A4": ("mse", "percentile", "percentile", "mse", "mse", "percentile"),
            }.items()
            for source, est in zip(
                ("real", "offline-teacher", "student", "noise", "bn-matching", "fractal"), row, strict=True
            )
            if est is not None
        },
        "the 1,017 exact test images",
    ),
    # learning rate / steps of the W4A4 fine-tuning: 1e-5 for the student picked on the exact test images; the
    # other sources ran 3e-5 for 100 steps, never chosen
    "finetune": (
        {
            "akamaster_resnet20|student": "W4A4/lr1e-05/600",
            "akamaster_resnet20|real": "W4A4/lr3e-05/100",
            "akamaster_resnet20|noise": "W4A4/lr3e-05/100",
            "akamaster_resnet20|bn-matching": "W4A4/lr3e-05/100",
        },
        "the exact test images for the student; never for the others",
    ),
}
TITLES = {
    "ptq": "INT8 PTQ setting (CIFAR-10 ResNets)",
    "bn": "bn-matching's step count",
    "estimators": "range estimator per source and bit width (ResNet-20)",
    "finetune": "W4A4 fine-tuning learning rate and steps per source (ResNet-20)",
    "lite0_ptq": "EfficientNet-Lite0's INT8 PTQ setting",
}


def _short(key: str) -> str:
    return key.replace("akamaster_resnet20|", "")


def choices_block(benchmarks: str | Path) -> str:
    """One row per choice, then one table per choice made per source (and bit width)."""
    path = Path(benchmarks) / "study_results" / "selection.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    lines = ["| choice | now made on | chosen now | earlier | earlier made on | changed |", "|---|---|---|---|---|---|"]
    details = []
    for name, title in TITLES.items():
        earlier, on = EARLIER[name]
        if name not in data:
            lines.append(f"| {title} | not re-made yet | — | {_fmt(earlier)} | {on} | — |")
            continue
        now = data[name]["choice"]
        where = "validation photos" if data[name]["chosen_on"] == "photos" else "validation images"
        if not isinstance(now, dict):
            lines.append(f"| {title} | {where} | {now} | {earlier} | {on} | {'no' if now == earlier else 'yes'} |")
            continue
        old = earlier if isinstance(earlier, dict) else {}
        changed = [k for k in now if k in old and old[k] != now[k]]
        compared = [k for k in now if k in old]
        lines.append(
            f"| {title} | {where} | per source (below) | per source | {on} | {len(changed)} of {len(compared)} |"
        )
        details += [f"{title}:", "", "| source | now | earlier | changed |", "|---|---|---|---|"]
        details += [
            f"| {_short(k)} | {v} | {old.get(k, '—')} | {'—' if k not in old else ('yes' if old[k] != v else 'no')} |"
            for k, v in now.items()
        ]
        details.append("")
    return "\n".join(lines) + "\n" + ("\n" + "\n".join(details) if details else "") + _fp32_line(Path(benchmarks))


def _fp32_line(benchmarks: Path) -> str:
    """How hard each image set is: ResNet-20's FP32 top-1 on validation and on each test set, from the INT8 cells."""
    from .cells import load_cells

    top1: dict[str, float] = {}
    for c in load_cells(benchmarks / "study_results" / "int8_cells.jsonl"):
        if c.get("model") == "akamaster_resnet20":
            for k, v in c.items():
                if k.endswith("_top1_fp32") and v is not None:
                    top1.setdefault(k[: -len("_top1_fp32")], float(v))
    if not top1:
        return ""
    names = {"val": "validation", "jpeg": "JPEG test", "exact": "bit-exact test"}
    sets = ", ".join(f"{names.get(k, k)} {v:.2f} %" for k, v in top1.items())
    return (
        f"\nResNet-20's FP32 top-1 on each image set: {sets} (validation and the JPEG test set are the data root's "
        "JPEG copies, the bit-exact test set the original pixels).\n"
    )


def _fmt(value: object) -> str:
    return "per source" if isinstance(value, dict) else str(value)
