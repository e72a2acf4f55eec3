"""RESULTS section 9's tables under the protocol, generated from ``study_results/{bits,finetune}_cells.jsonl``: each bit
width's agreement per source with the range estimator chosen on validation (and NNCF's own low-bit call where it
expresses the width), and each source's W4A4 fine-tuning from start to end, in PyTorch fake-quant and as the
OpenVINO IR. Mean ± std over seeds on the 1,017 bit-exact test images."""

from __future__ import annotations

from pathlib import Path

from .results import load_test_cells
from .stats import format_mean_std, mean_std

TEST_SET = "exact"
COMMAND = "`python benchmarks/bench_study.py select-bits bits select-finetune finetune`, then `report`"


def _ms(cells: list[dict], field: str) -> str:
    return format_mean_std(*mean_std([c.get(field) for c in cells]))


def _group(cells: list[dict], *keys: str) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for c in cells:
        out.setdefault(tuple(c[k] for k in keys), []).append(c)
    return out


def bits_table(cells: list[dict]) -> str:
    """Rows: bit width (then NNCF's own call at that width); columns: sources; each cell 'mean ± std (estimator)'."""
    sources = list(dict.fromkeys(c["source"] for c in cells))
    by = _group(cells, "bits", "source", "estimator")
    seeds = max(len(v) for v in by.values())
    lines = [
        f"Agreement with FP32 (%), mean ± std over {seeds} seeds; in brackets the range estimator chosen on validation.",
        "",
        "| bits | " + " | ".join(sources) + " |",
        "|---|" + "---:|" * len(sources),
    ]
    for bits in dict.fromkeys(c["bits"] for c in cells):
        for nncf in (False, True):
            row = []
            for s in sources:
                mine = {e: cs for (b, src, e), cs in by.items() if b == bits and src == s and (e == "nncf") == nncf}
                row.append("; ".join(f"{_ms(cs, f'{TEST_SET}_agreement')} ({e})" for e, cs in mine.items()) or "—")
            label = f"{bits}, NNCF's own call" if nncf else bits
            if any(r != "—" for r in row):
                lines.append(f"| {label} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def finetune_table(cells: list[dict]) -> str:
    """One row per source and schedule: top-1 and agreement before → after, the drop, the IR, minutes per run."""
    lines = [
        "| source | schedule (bits/lr/steps) | estimator | seeds | top-1 calibrated → fine-tuned (%) | agreement (%) "
        "| drop from FP32 (points) | IR top-1 (%) | IR agreement (%) | min per run |",
        "|---|---|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for (source, config), cs in _group(cells, "source", "config").items():
        minutes = [None if c.get("seconds") is None else c["seconds"] / 60 for c in cs]
        lines.append(
            f"| {source} | {config} | {cs[0].get('estimator', '?')} | {len(cs)} "
            f"| {_ms(cs, 'top1_start')} → {_ms(cs, f'{TEST_SET}_top1_int8')} "
            f"| {_ms(cs, 'agreement_start')} → {_ms(cs, f'{TEST_SET}_agreement')} | {_ms(cs, f'{TEST_SET}_drop')} "
            f"| {_ms(cs, f'{TEST_SET}_ir_top1')} | {_ms(cs, f'{TEST_SET}_ir_agreement')} "
            f"| {format_mean_std(*mean_std(minutes), digits=1)} |"
        )
    fp32 = {float(c[f"{TEST_SET}_top1_fp32"]) for c in cells if c.get(f"{TEST_SET}_top1_fp32") is not None}
    return "\n".join(lines) + f"\n\nFP32 top-1 on these images: {', '.join(f'{v:.2f} %' for v in sorted(fp32))}.\n"


def estimator_table(selection: dict, bits: str = "W4A4") -> str:
    """What the estimator choice saw: ``bits``' validation agreement per source (columns) and estimator (rows)."""
    rows = [r for r in selection.get("estimators", {}).get("table", []) if r["config"].startswith(f"{bits}/")]
    if not rows:
        return ""
    sources = list(dict.fromkeys(r["source"] for r in rows))
    by = {(r["config"].split("/")[1], r["source"]): r for r in rows}
    lines = [
        f"What the choice saw at {bits}: agreement with FP32 (%) on the validation images per range estimator, mean ± "
        f"std over {max(int(r['n_seeds']) for r in rows)} seeds (`nncf`: NNCF's own call, never chosen: a "
        "fine-tuning start needs a range estimator).",
        "",
        "| estimator | " + " | ".join(sources) + " |",
        "|---|" + "---:|" * len(sources),
    ]
    for est in dict.fromkeys(e for e, _ in by):
        cells = [by.get((est, s)) for s in sources]
        shown = [
            "—" if r is None else format_mean_std(r["val_agreement_mean"], r["val_agreement_std"], int(r["n_seeds"]))
            for r in cells
        ]
        lines.append(f"| {est} | " + " | ".join(shown) + " |")
    return "\n".join(lines) + "\n"


def lowbit_block(root: Path) -> str:
    """RESULTS' ``lowbit`` block: the bit-width table, what the W4A4 estimator choice saw, and the fine-tuning
    table, or what to run when missing."""
    import json

    bits, ft = load_test_cells(root, "bits"), load_test_cells(root, "finetune")
    sel_path = root / "study_results" / "selection.json"
    selection = json.loads(sel_path.read_text()) if sel_path.is_file() else {}
    out = []
    out.append(bits_table(bits) if bits else f"The bit-width study has not run under the protocol yet: {COMMAND}.\n")
    if bits and estimator_table(selection):
        out.append(estimator_table(selection))
    if ft:
        out.append("W4A4 fine-tuning (each run distils FP32 into the fake-quant model on its source's images):\n")
        out.append(finetune_table(ft))
    else:
        out.append(f"The fine-tuning has not run under the protocol yet: {COMMAND}.\n")
    return "\n".join(out)
