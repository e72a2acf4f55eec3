"""The model cards' quality tables and RESULTS.md section 2, generated from ``bundle_quality.json``.

Usage: ``python benchmarks/generator_results/make_tables.py`` (rewrites the QUALITY blocks of data/*.md and
benchmarks/RESULTS.md between ``<!-- quality:NAME -->`` markers; a test checks they match the files). The teacher's
training curve (block ``teacher-curve``) comes from ``teacher_bundle_curve.jsonl``: the class accuracy of each
snapshot of the bundled teacher's EMA generator (``train-teacher --snapshots``; ``benchmarks/bench_training_curve.py``,
1,000 images), its first line saying which run it is. The recipe pilots (blocks ``teacher-pilots`` and
``student-pilots``) come from ``teacher_pilots.jsonl`` and ``student_pilots.jsonl``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
BLOCKS = {  # marker name -> the rows (generator label prefixes) it shows
    "teacher": ("offline teacher", "real exact test images"),
    "student": ("student", "offline teacher, this bundle", "real exact test images"),
}


def table(rows: list[dict], prefixes: tuple[str, ...]) -> str:
    head = "| generator | FID | KID ×1e3 | class accuracy % | " + " | ".join(CLASSES) + " |"
    lines = [head, "|---" + "|---:" * (3 + len(CLASSES)) + "|"]
    for prefix in prefixes:
        for r in rows:
            if r["generator"].startswith(prefix):
                per = " | ".join(f"{r[c + ' %']:.0f}" for c in CLASSES)
                lines.append(f"| {r['generator']} | {r['FID']} | {r['KID x1e3']} | {r['class acc %']} | {per} |")
    return "\n".join(lines)


def curve_table(rows: list[dict]) -> str:
    """One row per checkpoint: step, class accuracy and the class the judge finds hardest."""
    lines = ["| step | class accuracy % | lowest class % |", "|---:|---:|---|"]
    for r in rows:
        low = min(range(len(CLASSES)), key=lambda c: r["per_class"][c])
        lines.append(f"| {r['step']:,} | {r['class_acc']} | {CLASSES[low]} {r['per_class'][low]:.0f} |")
    return "\n".join(lines)


def _row(rows: list[dict], prefix: str) -> dict:
    return next(r for r in rows if r["generator"].startswith(prefix))


def targets_table(rows: list[dict]) -> str:
    """Issue 37's targets against this bundle's rows: met or missed, with the measured figure."""
    t, s = _row(rows, "offline teacher, this bundle"), _row(rows, "student, this bundle")
    worst = min(CLASSES, key=lambda c: t[c + " %"])
    checks = [
        ("teacher FID", "≤ 85", t["FID"], t["FID"] <= 85),
        ("teacher class accuracy %", "≥ 65", t["class acc %"], t["class acc %"] >= 65),
        ("teacher's lowest class %", "≥ 30", f"{t[worst + ' %']:.0f} ({worst})", t[worst + " %"] >= 30),
        ("student class accuracy %", "≥ 55", s["class acc %"], s["class acc %"] >= 55),
        ("student FID", f"≤ teacher + 10 = {t['FID'] + 10:.1f}", s["FID"], s["FID"] <= t["FID"] + 10),
    ]
    lines = ["| target (issue 37) | aim | measured | |", "|---|---|---:|---|"]
    lines += [f"| {name} | {aim} | {value} | {'met' if ok else '**missed**'} |" for name, aim, value, ok in checks]
    return "\n".join(lines)


PILOT_HEAD = "minutes | steps | FID | KID ×1e3 | class accuracy % | lowest class %"


def _pilot_cells(r: dict) -> str:
    """A pilot's minutes, steps, FID, KID, class accuracy and lowest class, as table cells."""
    low = min(range(len(CLASSES)), key=lambda c: r["per_class"][c])
    return (
        f"{r['minutes']:.0f} | {r['steps']:,} | {r['fid']} | {r['kid_x1e3']} | {r['class_acc']} "
        f"| {CLASSES[low]} {r['per_class'][low]:.0f}"
    )


def pilots_table(rows: list[dict]) -> str:
    """One row per recipe pilot: its class-loss weight, steps in its minutes, FID, KID, class accuracy, lowest class,
    and what ran beside it; then its class accuracy at each snapshot."""
    lines = [f"| pilot | AC-GAN class weight | {PILOT_HEAD} | beside it |", "|---|" + "---:|" * 7 + "---|---|"]
    lines += [f"| {r['pilot']} | {r['class_loss']:g} | {_pilot_cells(r)} | {r['beside']} |" for r in rows]
    curves = "; ".join(
        f"{r['pilot']}: " + ", ".join(f"{c['class_acc']} at {c['step']:,}" for c in r["curve"]) for r in rows
    )
    return (
        "\n".join(lines) + f"\n\nClass accuracy % at each snapshot (step): {curves}.\n\nMachine: {rows[0]['machine']}."
    )


def student_pilots_table(rows: list[dict]) -> str:
    """One row per distillation pilot: what it changed, steps in its minutes, FID, KID, class accuracy, lowest class."""
    lines = [f"| pilot | DiffAugment | {PILOT_HEAD} |", "|---|---|" + "---:|" * 5 + "---|"]
    lines += [f"| {r['pilot']} | {r['diffaug'] or 'none'} | {_pilot_cells(r)} |" for r in rows]
    first = rows[0]
    return "\n".join(lines) + (
        f"\n\nRecipe: {first['recipe']}; teacher: {first['teacher']}; beside it: {first['beside']}. "
        f"Machine: {first['machine']}."
    )


def _jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (HERE / name).read_text().splitlines() if line.strip()]


def blocks() -> dict[str, str]:
    data = json.loads((HERE / "bundle_quality.json").read_text())
    note = f"\n\nMachine: {data['machine']}; command: `{data['command']}`; file: `benchmarks/generator_results/bundle_quality.json`."
    made = {name: table(data["rows"], prefixes) + note for name, prefixes in BLOCKS.items()}
    made["targets"] = targets_table(data["rows"])
    curve = [r for r in _jsonl("teacher_bundle_curve.jsonl") if "step" in r]
    made["teacher-curve"] = curve_table(curve) + "\n\nFile: `benchmarks/generator_results/teacher_bundle_curve.jsonl`."
    made["teacher-pilots"] = (
        pilots_table(_jsonl("teacher_pilots.jsonl")) + "\n\nFile: `benchmarks/generator_results/teacher_pilots.jsonl`."
    )
    made["student-pilots"] = (
        student_pilots_table(_jsonl("student_pilots.jsonl"))
        + "\n\nFile: `benchmarks/generator_results/student_pilots.jsonl`."
    )
    return made


def fill(text: str, made: dict[str, str]) -> str:
    for name, body in made.items():
        pattern = re.compile(rf"(<!-- quality:{name} -->\n).*?(<!-- /quality:{name} -->)", re.S)
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text


def targets() -> list[Path]:
    return [ROOT / "data" / "offline_teacher.md", ROOT / "data" / "student.md", ROOT / "benchmarks" / "RESULTS.md"]


if __name__ == "__main__":
    made = blocks()
    for path in targets():
        path.write_text(fill(path.read_text(), made))
