"""Tables of a study's cells: mean ± std over seeds per (model, source, size, setting), saved as CSV + Markdown."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .engine import METRICS
from .stats import format_mean_std

KEYS = ["model", "source", "size", "config"]


def summarize(cells: list[dict], out_dir: str | Path | None = None, name: str = "summary") -> pd.DataFrame:
    """DataFrame of mean and std (ddof 1) over seeds of every ``<set>_<metric>`` column per (model, source, size,
    config), ``n_seeds`` and ``calibration_seconds_mean``; saved as ``<name>.csv`` + ``<name>.md`` under
    ``out_dir``."""
    if not cells:
        raise ValueError("no finished cells to summarise")
    df = pd.DataFrame(cells)
    cols = [c for c in df.columns if any(c.endswith("_" + k) for k in METRICS) and pd.api.types.is_numeric_dtype(df[c])]
    if "calibration_seconds" in df.columns:
        cols.append("calibration_seconds")
    g = df.groupby(KEYS, sort=False)
    table = g[cols].agg(["mean", "std"])
    table.columns = [f"{a}_{b}" for a, b in table.columns]
    table["n_seeds"] = g["seed"].nunique()
    if "what" in df.columns:
        table["what"] = g["what"].first()
    table = table.reset_index()
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / f"{name}.csv", index=False)
        (out / f"{name}.md").write_text(markdown(table))
    return table


def markdown(table: pd.DataFrame) -> str:
    """Markdown table: ``mean ± std`` cells over ``n_seeds`` seeds (KL in 1e-3 units)."""
    metric_cols = [
        c[:-5]
        for c in table.columns
        if c.endswith("_mean") and c != "calibration_seconds_mean" and table[c].notna().any()
    ]
    metric_cols = sorted(metric_cols, key=lambda c: (c.split("_")[0], c))
    head = KEYS + [c.replace("_kl", "_kl(1e-3)") for c in metric_cols] + ["n_seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [str(r[k]) for k in KEYS]
        for c in metric_cols:
            scale = 1000 if c.endswith("_kl") else 1
            cells.append(format_mean_std(r[f"{c}_mean"] * scale, r[f"{c}_std"] * scale, r["n_seeds"]))
        cells.append(str(r["n_seeds"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def compact_markdown(table: pd.DataFrame, test_set: str) -> str:
    """The few columns a reader needs, on ``test_set``: (model, size where several), source, setting, agreement
    (%), KL (1e-3 nats), top-1 drop (points), each ``mean ± std`` over seeds. The full table is :func:`markdown`."""
    if f"{test_set}_agreement_mean" not in table.columns:
        raise ValueError(
            f"no {test_set}_agreement_mean column; sets: "
            f"{sorted({c.split('_')[0] for c in table.columns if c.endswith('_agreement_mean')})}"
        )
    keys = [k for k in ("model", "size") if table[k].nunique() > 1] + ["source", "config"]
    head = [{"config": "setting"}.get(k, k) for k in keys] + ["agreement (%)", "KL (1e-3)", "top-1 drop (points)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(keys) + "---:|" * 3]
    for _, r in table.iterrows():
        cells = [str(r[k]) for k in keys]
        for metric, scale in (("agreement", 1), ("kl", 1000), ("drop", 1)):
            c = f"{test_set}_{metric}"
            if f"{c}_mean" not in table.columns or pd.isna(r[f"{c}_mean"]):
                cells.append("—")
                continue
            cells.append(format_mean_std(r[f"{c}_mean"] * scale, r[f"{c}_std"] * scale, r["n_seeds"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
