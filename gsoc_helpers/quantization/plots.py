"""Plots of a quantization study (matplotlib, Agg) that show the differences between calibration sources.

Agreement sits at 98-99 % for every source, so the figures plot **disagreement** (100 - agreement, % of test
images where INT8 and FP32 predict different classes) or the KL divergence on a log axis, where a factor of two
is visible.  Input: the table of :func:`gsoc_helpers.quantization.runner.summarize` (one row per model, source,
size and config; ``<test>_<metric>_mean`` / ``_std`` columns, ``n_seeds``).  Several models, sizes and configs
are drawn as separate bars, lines and panels, never merged.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

KEYS = ("model", "source", "size", "config")
METRIC_LABELS = {"disagreement": "disagreement with FP32 (%, log)", "kl": "KL(FP32 ‖ INT8) (nats, log)",
                 "drop": "top-1 drop (points)"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def metric_values(table, test_set: str, metric: str):
    """(mean, std) Series of ``metric`` on ``test_set``; 'disagreement' = 100 - agreement (same std).

    std is NaN where one seed was run (no error bar is drawn then)."""
    if metric not in METRIC_LABELS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(METRIC_LABELS)}")
    col = f"{test_set}_{'agreement' if metric == 'disagreement' else metric}"
    if f"{col}_mean" not in table.columns:
        tests = sorted({c.split("_")[0] for c in table.columns if c.endswith("_agreement_mean")})
        raise ValueError(f"no column {col}_mean in the table; test sets: {tests}")
    mean = table[f"{col}_mean"].astype(float)
    return (100.0 - mean if metric == "disagreement" else mean), table[f"{col}_std"].astype(float)


def _log_yerr(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """[2, N] error bars for a log axis: the lower bar stops at 5 % of the mean (never at or below zero)."""
    std = np.nan_to_num(std, nan=0.0)
    return np.stack([np.minimum(std, 0.95 * mean), std])


def _log_axis(ax, axis: str = "y") -> None:
    """Log scale with plain-number tick labels (0.5, 1, 2 rather than 2 x 10^0)."""
    from matplotlib.ticker import FormatStrFormatter

    getattr(ax, f"set_{axis}scale")("log")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FormatStrFormatter("%g"))
    if axis == "y":
        target.set_minor_formatter(FormatStrFormatter("%g"))


def _facets(table) -> list[tuple[tuple, object]]:
    """One panel per (config, size), in the table's order."""
    return list(table.groupby(["config", "size"], sort=False))


def _figure(n_panels: int, width: float, height: float = 3.4):
    plt = _plt()
    cols = min(n_panels, 3)
    rows = -(-n_panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, sharey=True)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return plt, fig, list(axes.flat)


def _save(plt, fig, path: str | Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_by_source(table, path: str | Path, test_set: str = "exact", metric: str = "disagreement") -> Path:
    """:func:`figure_by_source` saved as PNG at ``path``."""
    return _save(_plt(), figure_by_source(table, test_set, metric), path)


def plot_vs_size(table, path: str | Path, test_set: str = "exact", metric: str = "disagreement") -> Path:
    """:func:`figure_vs_size` saved as PNG at ``path``."""
    return _save(_plt(), figure_vs_size(table, test_set, metric), path)


def figure_by_source(table, test_set: str = "exact", metric: str = "disagreement"):
    """Bars per model (x) and calibration source (colour), mean over seeds with std error bars; one panel per
    (config, size).  'disagreement' and 'kl' use a log y axis; 'drop' a linear one.  Returns the Figure."""
    mean, std = metric_values(table, test_set, metric)
    t = table.assign(_mean=mean.values, _std=std.values)
    facets = _facets(t)
    sources = list(dict.fromkeys(t["source"]))
    models = list(dict.fromkeys(t["model"]))
    plt, fig, axes = _figure(len(facets), 1.3 * len(models) + 2)  # noqa: F841 (plt: colours)
    w = 0.8 / max(1, len(sources))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, ((config, size), sub) in zip(axes, facets):
        for j, s in enumerate(sources):
            rows = sub[sub["source"] == s].groupby("model", sort=False)[["_mean", "_std"]].first()
            x = np.array([models.index(m) + j * w for m in rows.index], dtype=float)
            m, e = rows["_mean"].to_numpy(), rows["_std"].to_numpy()
            if np.isnan(e).all():  # one seed: no spread measured, no error bar drawn
                yerr = None
            else:
                yerr = _log_yerr(m, e) if metric != "drop" else np.nan_to_num(e, nan=0.0)
            ax.bar(x, m, w, yerr=yerr, capsize=3, label=s, color=colors[j % len(colors)])
        ax.set_xticks([i + w * (len(sources) - 1) / 2 for i in range(len(models))], models, rotation=15,
                      fontsize=8)
        ax.set_title(f"{config}, {size} images", fontsize=9)
        if metric == "drop":
            ax.axhline(0, color="k", lw=0.5)
        else:
            _log_axis(ax)
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0].set_ylabel(f"{METRIC_LABELS[metric]} on {test_set}")
    axes[0].legend(fontsize=7, title="calibration", title_fontsize=7)
    return fig


def figure_vs_size(table, test_set: str = "exact", metric: str = "disagreement"):
    """Lines of ``metric`` against calibration size (log x), one per (model, source), with mean ± std bands;
    one panel per config.  Needs at least two sizes.  Returns the Figure."""
    if table["size"].nunique() < 2:
        raise ValueError("plot_vs_size needs at least two calibration sizes in the table")
    mean, std = metric_values(table, test_set, metric)
    t = table.assign(_mean=mean.values, _std=std.values)
    configs = list(t.groupby("config", sort=False))
    plt, fig, axes = _figure(len(configs), 5.0)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    sources, models = list(dict.fromkeys(t["source"])), list(dict.fromkeys(t["model"]))
    styles = ["-", "--", ":", "-."]
    for ax, (config, sub) in zip(axes, configs):
        for (m, s), line in sub.groupby(["model", "source"], sort=False):  # colour = source, line style = model
            line = line.groupby("size")[["_mean", "_std"]].first().sort_index()
            x, y, e = line.index.to_numpy(), line["_mean"].to_numpy(), np.nan_to_num(line["_std"].to_numpy())
            color = colors[sources.index(s) % len(colors)]
            ax.plot(x, y, marker="o", color=color, ls=styles[models.index(m) % len(styles)], label=f"{m} / {s}")
            lo = np.maximum(y - e, 0.05 * y) if metric != "drop" else y - e
            ax.fill_between(x, lo, y + e, color=color, alpha=0.15, lw=0)
        _log_axis(ax, "x")
        ax.set_xticks(sorted(set(t["size"])))
        if metric != "drop":
            _log_axis(ax)
        ax.set_xlabel("calibration images")
        ax.set_title(str(config), fontsize=9)
        ax.grid(which="both", alpha=0.3)
    axes[0].set_ylabel(f"{METRIC_LABELS[metric]} on {test_set}")
    axes[0].legend(fontsize=7)
    return fig
