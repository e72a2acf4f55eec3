"""Why generator images can beat real ones at INT8 with the project setting, generated from
``study_results/int8_ranges.json`` (``benchmarks/why_int8_ranges.py``): the activation ranges each source gives,
measured on the validation images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .stats import format_mean_std

FILE = "study_results/int8_ranges.json"
COMMAND = "`PYTHONPATH=. python benchmarks/why_int8_ranges.py --out <study folder>`"


def _ms(values: list[float], digits: int = 2) -> str:
    v = np.asarray(values, dtype=float)
    return format_mean_std(float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan"), len(v), digits)


def _short(model: str) -> str:
    return model.replace("akamaster_resnet", "ResNet-")


def ranges_block(root: Path) -> str:
    """RESULTS' ``ranges`` block: a table per model and source, then what the interventions on real's ranges gave."""
    path = root / FILE
    if not path.is_file():
        return f"Not measured yet: {COMMAND} writes `benchmarks/{FILE}`."
    data = json.loads(path.read_text())
    rows = data["rows"]
    seeds = sorted({r["seed"] for r in rows})
    models = list(dict.fromkeys(r["model"] for r in rows))
    sources = list(dict.fromkeys(r["source"] for r in rows))
    env = data.get("environment", {})
    out = [
        f"Measured by {COMMAND} ({env.get('cpu', 'CPU not recorded')}, {env.get('isa', '?')}; setting `{data['setting']}`, "
        f"{data['size']} calibration images, seeds {', '.join(map(str, seeds))}; agreement with FP32 on the 5,000 "
        "validation images, never the test images). Per source: the median over the model's activation "
        "FakeQuantizes of its range width divided by real's (same seed), the share of activations whose range is "
        "narrower than real's, and the INT8 model's validation agreement (%); mean ± std over seeds.",
        "",
        "| model | source | width / real's | narrower than real's | validation agreement | weights as real's |",
        "|---|---|---:|---:|---:|---|",
    ]
    for m in models:
        for s in sources:
            mine = [r for r in rows if r["model"] == m and r["source"] == s]
            if not mine:
                continue
            same = "yes" if all(r["weights_as_real"] for r in mine) else "no"
            out.append(
                f"| {_short(m)} | {s} | {_ms([r['median_width_ratio'] for r in mine])} | "
                f"{_ms([100 * r['share_narrower'] for r in mine], 0)} % | {_ms([r['val_agreement'] for r in mine])} "
                f"| {same} |"
            )
    identical = all(r["weights_as_real"] for r in rows)
    out += ["", "What this shows:", ""]
    out.append(
        "- "
        + (
            "Every source gives the same quantized weights (their ranges come from the weights alone: no bias "
            "correction in this setting), so two sources' INT8 models differ only in their activation ranges."
            if identical
            else "Some sources give different quantized weights, so the models differ in more than their ranges."
        )
    )
    reals = [r for r in rows if r["source"] == "real" and "val_agreement_narrowed" in r]
    for m in models:
        mine = [r for r in reals if r["model"] == m]
        if not mine:
            continue
        factor = _ms([r["narrowed_by"] for r in mine])
        narrowed = np.mean([r["val_agreement_narrowed"] for r in mine])
        verdict = (
            "narrower ranges alone do not make a better model"
            if narrowed < np.mean([r["val_agreement"] for r in mine])
            else "narrowing alone does not lose agreement here"
        )
        out.append(
            f"- {_short(m)}: real's ranges all narrowed by the generators' median ratio ({factor}) give "
            f"{_ms([r['val_agreement_narrowed'] for r in mine])} % against real's own "
            f"{_ms([r['val_agreement'] for r in mine])} %: {verdict}."
        )
        swap_keys = [k for k in mine[0] if k.startswith("val_agreement_") and k.endswith("_ranges")]
        for k in swap_keys:
            src = k[len("val_agreement_") : -len("_ranges")]
            theirs = [r for r in rows if r["model"] == m and r["source"] == src]
            out.append(
                f"  Real's model with all of {src}'s ranges: {_ms([r[k] for r in mine])} % ({src}'s own model: "
                f"{_ms([r['val_agreement'] for r in theirs])} %)."
            )
        for r in mine:
            gains = {k: v for k, v in r.items() if k.startswith("one_") and k.endswith("_range_gain")}
            for k, per in gains.items():
                src = k[len("one_") : -len("_range_gain")]
                values = np.array(list(per.values()))
                best = max(per, key=per.__getitem__)
                whole = r.get(f"val_agreement_{src}_ranges", float("nan")) - r["val_agreement"]
                if whole > 0 and values.sum() < 0:
                    carried = "one at a time they mostly lower it, all together they raise it: the ranges act as a set"
                elif whole > 0 and values.max() >= 0.5 * whole:
                    carried = "one range carries most of the difference"
                else:
                    carried = "no single range carries the difference"
                out.append(
                    f"  One of {src}'s ranges at a time in real's model (seed {r['seed']}, {len(values)} "
                    f"activations): {int((values > 0).sum())} raise the agreement, {int((values < 0).sum())} lower "
                    f"it; the largest gain {values.max():+.2f} points (`{best}`), the largest loss "
                    f"{values.min():+.2f}, their sum {values.sum():+.2f}, all of them at once {whole:+.2f}: "
                    f"{carried}."
                )
    return "\n".join(out)
