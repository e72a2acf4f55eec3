"""The model cards' quality tables and RESULTS.md section 2, generated from ``bundle_quality.json``.

Usage: ``python benchmarks/generator_results/make_tables.py`` (rewrites the QUALITY blocks of data/*.md and
benchmarks/RESULTS.md between ``<!-- quality:NAME -->`` markers; a test checks they match the file).
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


def blocks() -> dict[str, str]:
    data = json.loads((HERE / "bundle_quality.json").read_text())
    note = f"\n\nMachine: {data['machine']}; command: `{data['command']}`; file: `benchmarks/generator_results/bundle_quality.json`."
    return {name: table(data["rows"], prefixes) + note for name, prefixes in BLOCKS.items()}


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
