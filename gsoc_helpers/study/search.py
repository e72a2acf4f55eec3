"""The INT8 PTQ settings search as a generated table: from ``study_results/selection.json`` (scored on validation)
when present, else from the earlier ``quantization_results/search_cells.jsonl`` (scored on the JPEG test images,
shown as such)."""

from __future__ import annotations

import json
from pathlib import Path

from .cells import load_cells
from .results import LEGACY_SOURCE_NAMES
from .stats import format_mean_std, mean_std

LEGACY_CHOICE = "mixed+minmax+nobc"  # the setting the earlier search picked (on test)


def _pivot(rows: dict[tuple[str, str], tuple[float, float, int]], chosen: str, note: str) -> str:
    settings = list(dict.fromkeys(k[0] for k in rows))
    sources = list(dict.fromkeys(k[1] for k in rows))
    lines = ["| setting | " + " | ".join(sources) + " |", "|---|" + "---:|" * len(sources)]
    for cfg in settings:
        cells = [format_mean_std(*rows[(cfg, s)]) if (cfg, s) in rows else "—" for s in sources]
        lines.append(f"| {cfg}{f' ({note})' if cfg == chosen else ''} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def search_block(benchmarks: str | Path) -> str:
    root = Path(benchmarks)
    sel = root / "study_results" / "selection.json"
    data = json.loads(sel.read_text()) if sel.is_file() else {}
    if "ptq" in data:
        rows = {}
        metric = f"{data['ptq']['chosen_on']}_agreement"
        for r in data["ptq"]["table"]:
            rows[(r["config"], r["source"])] = (r[f"{metric}_mean"], r[f"{metric}_std"], int(r["n_seeds"]))
        head = (
            "ResNet-20, agreement (%) on the validation images (CIFAR-10 test-split images in no test set), "
            "mean ± std over seeds:"
        )
        return head + "\n\n" + _pivot(rows, data["ptq"]["choice"], "chosen") + "\n"
    cells = load_cells(root / "quantization_results" / "search_cells.jsonl")
    if not cells:
        return "No settings search in the results files yet.\n"
    per: dict[tuple[str, str], list[float]] = {}
    for c in cells:
        per.setdefault((c["config"], LEGACY_SOURCE_NAMES.get(c["source"], c["source"])), []).append(c["jpeg_agreement"])
    rows = {k: mean_std(v) for k, v in per.items()}
    head = (
        "ResNet-20, agreement (%) on the 10,000 JPEG test images, mean ± std over seeds. This earlier search was scored "
        "on the same test images the study reports on: its choice is chosen on test; to be re-run under the protocol "
        "(`benchmarks/bench_study.py select-ptq`)."
    )
    return head + "\n\n" + _pivot(rows, LEGACY_CHOICE, "the project setting, chosen on these test images") + "\n"
