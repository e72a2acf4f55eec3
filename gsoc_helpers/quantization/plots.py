"""Plots of a quantization study (matplotlib, Agg): drop per model by source; drop vs calibration size."""
from __future__ import annotations

from pathlib import Path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_drop_by_source(table, path: str | Path, metric: str = "exact_drop", config: str | None = None) -> Path:
    """Grouped bars: mean ``metric`` per model (per model and calibration size when the table holds several sizes),
    one bar per calibration source, std error bars."""
    plt = _plt()
    t = table if config is None else table[table["config"] == config]
    if t.empty:
        raise ValueError(f"no rows to plot (config {config!r})")
    several = t["size"].nunique() > 1
    t = t.assign(group=[f"{m}\nn={s}" if several else str(m) for m, s in zip(t["model"], t["size"])])
    if t.duplicated(["group", "source"]).any():
        raise ValueError("the table holds several rows per (model, size, source); pass config= to pick one")
    models, sources = list(dict.fromkeys(t["group"])), list(dict.fromkeys(t["source"]))
    w = 0.8 / max(1, len(sources))
    fig, ax = plt.subplots(figsize=(1.6 * len(models) + 2, 3.5))
    for j, s in enumerate(sources):
        sub = t[t["source"] == s].set_index("group").reindex(models)
        ax.bar([i + j * w for i in range(len(models))], sub[f"{metric}_mean"], w,
               yerr=sub[f"{metric}_std"].fillna(0), capsize=3, label=s)
    ax.set_xticks([i + w * (len(sources) - 1) / 2 for i in range(len(models))], models, rotation=15)
    ax.set_ylabel(metric)
    ax.axhline(0, color="k", lw=0.5)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_drop_vs_size(table, path: str | Path, metric: str = "exact_drop") -> Path:
    """Lines: mean ``metric`` against calibration size (log x), one line per (model, source), std bands."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for (m, s), sub in table.groupby(["model", "source"], sort=False):
        sub = sub.sort_values("size")
        ax.errorbar(sub["size"], sub[f"{metric}_mean"], yerr=sub[f"{metric}_std"].fillna(0), capsize=3,
                    marker="o", label=f"{m} / {s}")
    ax.set_xscale("log")
    ax.set_xlabel("calibration images")
    ax.set_ylabel(metric)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
