"""Plots of a quantization study (matplotlib, Agg) that answer *which calibration source keeps INT8 closest to FP32*.

Every figure is a dot plot on a **linear** axis zoomed to the data: one row per calibration source, one dot per PTQ
setting (colour and marker), horizontal error bars = std over seeds (none for one seed), and every value written
beside its dot, so nothing has to be read off a tick.  The best source of each setting is written in bold.

Input: the table of :func:`gsoc_helpers.study.tables.summarize` (one row per model, source, size and
config; ``<test>_<metric>_mean`` / ``_std`` columns, ``n_seeds``).  Models and calibration sizes get panels of their
own; they are never merged.

* :func:`figure_closest` -- the question at a glance: agreement and KL, one row of panels per model.
* :func:`figure_by_source` -- one metric, one panel per (model, size).
* :func:`figure_vs_size` -- one metric against the calibration size, one panel per setting.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

KEYS = ("model", "source", "size", "config")
# metric -> (axis label, which way is closer to FP32, scale of the plotted values, value format)
METRICS = {
    "agreement": ("agreement with FP32 (%)", "higher is closer", 1.0, "{:.2f}"),
    "disagreement": ("disagreement with FP32 (% of images)", "lower is closer", 1.0, "{:.2f}"),
    "kl": ("KL(FP32 ‖ INT8) (×1e-3 nats)", "lower is closer", 1000.0, "{:.2f}"),
    "drop": ("top-1 drop (points)", "nearer 0 is closer", 1.0, "{:+.2f}"),
}
MARKERS = "osD^vP"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def metric_values(table, test_set: str, metric: str):
    """(mean, std) Series of ``metric`` on ``test_set`` in plotted units ('disagreement' = 100 - agreement, KL in
    1e-3 nats).  std is NaN where one seed was run (no error bar is drawn then)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(METRICS)}")
    col = f"{test_set}_{'agreement' if metric == 'disagreement' else metric}"
    if f"{col}_mean" not in table.columns:
        tests = sorted({c.split("_")[0] for c in table.columns if c.endswith("_agreement_mean")})
        raise ValueError(f"no column {col}_mean in the table; test sets: {tests}")
    scale = METRICS[metric][2]
    mean = table[f"{col}_mean"].astype(float) * scale
    std = table[f"{col}_std"].astype(float) * scale
    return (100.0 - mean if metric == "disagreement" else mean), std


def _limits(lo: np.ndarray, hi: np.ndarray, include_zero: bool) -> tuple[float, float]:
    """Axis range around [min lo, max hi] with room on the right for the value labels."""
    a, b = float(np.nanmin(lo)), float(np.nanmax(hi))
    if include_zero:
        a, b = min(a, 0.0), max(b, 0.0)
    span = b - a if b > a else max(abs(b), 1e-3) * 0.1
    return a - 0.08 * span, b + 0.45 * span


def _dot_panel(
    ax,
    sub,
    metric: str,
    sources: list[str],
    configs: list[str],
    colors: list[str],
    xlim: tuple[float, float] | None = None,
) -> None:
    """Dots of ``sub`` (rows of one model and size) on ``ax``: y = source, offset per config, value labels."""
    from matplotlib.ticker import MaxNLocator

    fmt, better = METRICS[metric][3], METRICS[metric][1]
    step = 0.7 / max(1, len(configs))
    for j, cfg in enumerate(configs):
        rows = sub[sub["config"] == cfg].groupby("source", sort=False)[["_mean", "_std"]].first()
        rows = rows.reindex([s for s in sources if s in rows.index])
        if rows.empty:
            continue
        y = np.array([sources.index(s) for s in rows.index], dtype=float) + (j - (len(configs) - 1) / 2) * step
        m, e = rows["_mean"].to_numpy(), rows["_std"].to_numpy()
        xerr = None if np.isnan(e).all() else np.nan_to_num(e, nan=0.0)
        ax.errorbar(
            m,
            y,
            xerr=xerr,
            fmt=MARKERS[j % len(MARKERS)],
            color=colors[j % len(colors)],
            ms=6,
            capsize=3,
            lw=1.2,
            label=cfg,
        )
        best = int(
            np.nanargmax(m)
            if better.startswith("higher")
            else np.nanargmin(np.abs(m) if better.startswith("nearer 0") else m)
        )
        for k, (value, spread, yy) in enumerate(zip(m, np.nan_to_num(e, nan=0.0), y, strict=True)):
            text = fmt.format(value) + (f" ± {fmt.format(spread).lstrip('+')}" if spread > 0 else "")
            ax.annotate(
                text,
                (value + spread, yy),
                xytext=(5, 0),
                textcoords="offset points",
                va="center",
                fontsize=7.5,
                fontweight="bold" if k == best and len(m) > 1 else "normal",
                color=colors[j % len(colors)],
            )
    for i, src in enumerate(sources):
        if src not in set(sub["source"]):
            ax.text(
                0.02,
                i,
                "not run",
                transform=ax.get_yaxis_transform(),
                va="center",
                fontsize=7.5,
                color="0.5",
                style="italic",
            )
    ax.set_yticks(range(len(sources)), sources, fontsize=8.5)
    ax.set_ylim(len(sources) - 0.5, -0.5)  # first source on top
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    if metric == "drop":
        ax.axvline(0, color="k", lw=0.6)
    if xlim is not None:
        ax.set_xlim(*xlim)


def _legend_on_top(fig, ax, title: str = ""):
    """A title and one legend of the PTQ settings above the panels (never over a dot or a label)."""
    handles, labels = ax.get_legend_handles_labels()
    height = fig.get_figheight()
    top = 1 - (0.45 + (0.3 if title else 0.0)) / height
    fig.tight_layout(rect=(0, 0, 1, top))
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.08 / height, va="top")
    fig.legend(
        [_blank()] + handles,
        ["PTQ setting:"] + labels,
        loc="lower center",
        bbox_to_anchor=(0.5, top),
        ncol=len(labels) + 1,
        fontsize=8,
        frameon=False,
    )
    return fig


def _blank():
    from matplotlib.lines import Line2D

    return Line2D([], [], ls="none")


def _prepared(table, test_set: str, metric: str):
    mean, std = metric_values(table, test_set, metric)
    return table.assign(_mean=mean.values, _std=std.values)


def _panel_limits(t, metric: str) -> tuple[float, float]:
    spread = np.nan_to_num(t["_std"].to_numpy(), nan=0.0)
    return _limits(t["_mean"].to_numpy() - spread, t["_mean"].to_numpy() + spread, metric == "drop")


def _seed_note(t) -> str:
    seeds = sorted(set(int(n) for n in t["n_seeds"])) if "n_seeds" in t.columns else []
    if not seeds:
        return ""
    return "1 seed" if seeds == [1] else f"{'/'.join(map(str, seeds))} seeds, bars = ± std"


def figure_closest(table, test_set: str = "exact", metrics: tuple[str, ...] = ("agreement", "kl")):
    """The study's question at a glance: one row of panels per (model, size), one column per metric (agreement
    and KL by default); bold = the source closest to FP32 for that setting.  Returns the Figure."""
    prepared = {m: _prepared(table, test_set, m) for m in metrics}
    first = prepared[metrics[0]]
    groups = list(first.groupby(["model", "size"], sort=False).groups)
    sources, configs = list(dict.fromkeys(first["source"])), list(dict.fromkeys(first["config"]))
    plt = _plt()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    height = 0.32 * len(sources) * max(1, len(configs)) ** 0.5 + 0.9
    fig, axes = plt.subplots(
        len(groups), len(metrics), figsize=(5.2 * len(metrics), height * len(groups) + 0.7), squeeze=False
    )
    for c, metric in enumerate(metrics):
        t = prepared[metric]
        xlim = _panel_limits(t, metric)  # one scale per column: models compare directly
        for r, (model, size) in enumerate(groups):
            ax = axes[r][c]
            sub = t[(t["model"] == model) & (t["size"] == size)]
            _dot_panel(ax, sub, metric, sources, configs, colors, xlim)
            ax.set_title(f"{model}, {size} calibration images" if c == 0 else "", fontsize=9, loc="left")
            if c:
                ax.set_yticklabels([])
            if r == len(groups) - 1:
                ax.set_xlabel(f"{METRICS[metric][0]} — {METRICS[metric][1]}", fontsize=8.5)
    note = _seed_note(first)
    return _legend_on_top(
        fig,
        axes[0][0],
        f"Which calibration source keeps INT8 closest to FP32? ({test_set} test "
        f"images{', ' + note if note else ''}; bold = closest per setting)",
    )


def figure_by_source(table, test_set: str = "exact", metric: str = "agreement"):
    """``metric`` per calibration source, one panel per (model, size), one dot per PTQ setting.  Returns the
    Figure."""
    t = _prepared(table, test_set, metric)
    groups = list(t.groupby(["model", "size"], sort=False))
    sources, configs = list(dict.fromkeys(t["source"])), list(dict.fromkeys(t["config"]))
    plt = _plt()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    cols = min(len(groups), 2)
    rows = -(-len(groups) // cols)
    height = 0.32 * len(sources) * max(1, len(configs)) ** 0.5 + 1.0
    fig, axes = plt.subplots(rows, cols, figsize=(5.4 * cols, height * rows + 0.5), squeeze=False)
    flat = list(axes.flat)
    xlim = _panel_limits(t, metric)
    for ax, ((model, size), sub) in zip(flat, groups, strict=False):
        _dot_panel(ax, sub, metric, sources, configs, colors, xlim)
        ax.set_title(f"{model}, {size} calibration images", fontsize=9, loc="left")
        ax.set_xlabel(f"{METRICS[metric][0]} on {test_set} — {METRICS[metric][1]}", fontsize=8.5)
    for ax in flat[len(groups) :]:
        ax.set_visible(False)
    return _legend_on_top(fig, flat[0])


def figure_vs_size(table, test_set: str = "exact", metric: str = "agreement"):
    """``metric`` against calibration size (log x, ticks at the sizes run), one line per (model, source) with
    ± std bands, one panel per setting.  The y axis is linear and zoomed to the bulk of the points; a point far
    outside (one calibration image) is drawn on the edge with its value written there.  Returns the Figure."""
    if table["size"].nunique() < 2:
        raise ValueError("plot_vs_size needs at least two calibration sizes in the table")
    t = _prepared(table, test_set, metric)
    configs = list(t.groupby("config", sort=False))
    plt = _plt()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    sources, models = list(dict.fromkeys(t["source"])), list(dict.fromkeys(t["model"]))
    styles = ["-", "--", ":", "-."]
    fmt = METRICS[metric][3]
    fig, axes = plt.subplots(1, len(configs), figsize=(5.6 * len(configs), 3.8), squeeze=False)
    q1, q3 = np.nanpercentile(t["_mean"], [25, 75])
    fence = 3 * max(q3 - q1, 1e-9)
    inside = t[(t["_mean"] >= q1 - fence) & (t["_mean"] <= q3 + fence)]
    lo, hi = _limits(
        inside["_mean"] - inside["_std"].fillna(0), inside["_mean"] + inside["_std"].fillna(0), metric == "drop"
    )
    hi = hi - 0.3 * (hi - lo) / 1.53  # values are written on the lines, not beside them: less room on the right
    sizes = sorted(set(int(s) for s in t["size"]))
    for ax, (config, sub) in zip(axes[0], configs, strict=True):
        off: list[str] = []
        for (m, s), line in sub.groupby(["model", "source"], sort=False):  # colour = source, line style = model
            line = line.groupby("size")[["_mean", "_std"]].first().sort_index()
            x, y, e = line.index.to_numpy(), line["_mean"].to_numpy(), np.nan_to_num(line["_std"].to_numpy())
            color = colors[sources.index(s) % len(colors)]
            shown = np.clip(y, lo, hi)
            label = f"{s}" if len(models) == 1 else f"{m} / {s}"
            ax.plot(x, shown, marker="o", ms=4, color=color, ls=styles[models.index(m) % len(styles)], label=label)
            ax.fill_between(x, np.clip(y - e, lo, hi), np.clip(y + e, lo, hi), color=color, alpha=0.12, lw=0)
            for xx, yy, ee, ss in zip(x, y, e, shown, strict=True):
                if yy != ss:  # off the zoomed axis: a triangle on the edge, the value in the panel title
                    ax.plot([xx], [ss], marker="v" if ss == lo else "^", ms=7, color=color, clip_on=False)
                    spread = f" ± {fmt.format(ee).lstrip('+')}" if ee > 0 else ""
                    off.append(f"{label} at {int(xx):,}: {fmt.format(yy)}{spread}")
            ax.annotate(
                fmt.format(y[-1]),
                (x[-1], shown[-1]),
                xytext=(5, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
                color=color,
            )
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
        ax.minorticks_off()
        ax.set_xlim(min(sizes) / 1.5, max(sizes) * 2.5)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("calibration images", fontsize=8.5)
        ax.set_title(str(config) + ("\noff scale (▼/▲): " + "; ".join(off) if off else ""), fontsize=8.5, loc="left")
        ax.grid(alpha=0.3)
        ax.set_ylabel(f"{METRICS[metric][0]} on {test_set}\n{METRICS[metric][1]}", fontsize=8.5)
    axes[0][0].legend(fontsize=7.5, title="calibration", title_fontsize=7.5)
    fig.tight_layout()
    return fig


def save_png(fig, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` as a PNG at ``path`` (its folder made), close it, return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    _plt().close(fig)
    return out


def plot_closest(table, path: str | Path, test_set: str = "exact") -> Path:
    """:func:`figure_closest` saved as PNG at ``path``."""
    return save_png(figure_closest(table, test_set), path)


def plot_by_source(table, path: str | Path, test_set: str = "exact", metric: str = "agreement") -> Path:
    """:func:`figure_by_source` saved as PNG at ``path``."""
    return save_png(figure_by_source(table, test_set, metric), path)


def plot_vs_size(table, path: str | Path, test_set: str = "exact", metric: str = "agreement") -> Path:
    """:func:`figure_vs_size` saved as PNG at ``path``."""
    return save_png(figure_vs_size(table, test_set, metric), path)


def plot_study(table, path: str | Path, eval_set: str = "photos") -> Path:
    """One figure of a :func:`gsoc_helpers.study.tables.summarize` table of one model: per calibration source
    (rows), top-1 agreement (left) and KL (right, log scale) on ``eval_set`` for each PTQ setting (dots, bars = ±
    std over seeds), each agreement written beside its dot."""
    import matplotlib.ticker

    plt = _plt()

    sources = list(dict.fromkeys(table["source"]))
    configs = list(dict.fromkeys(table["config"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.6 * len(sources) + 1.8), sharey=True)
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:red")
    for j, config in enumerate(configs):
        sub = table[table["config"] == config].set_index("source")
        y = np.arange(len(sources)) + (j - (len(configs) - 1) / 2) * 0.22
        for ax, metric in zip(axes, ("agreement", "kl"), strict=True):
            mean = np.array([sub.loc[s, f"{eval_set}_{metric}_mean"] if s in sub.index else np.nan for s in sources])
            std = np.array([sub.loc[s, f"{eval_set}_{metric}_std"] if s in sub.index else np.nan for s in sources])
            ax.errorbar(mean, y, xerr=np.nan_to_num(std), fmt="o", color=colours[j % 4], label=config, capsize=3)
            if metric == "agreement":
                for xv, yv in zip(mean, y, strict=True):
                    if np.isfinite(xv):
                        ax.annotate(f"{xv:.1f}", (xv, yv), xytext=(6, -3), textcoords="offset points", fontsize=8)
    axes[0].set_yticks(np.arange(len(sources)))
    what = dict(zip(table["source"], table["what"], strict=True))
    axes[0].set_yticklabels([f"{s}\n(32 px, upsampled)" if "upsampled" in str(what.get(s)) else s for s in sources])
    axes[0].invert_yaxis()
    axes[0].set_xlabel(f"top-1 agreement INT8 vs FP32 on {eval_set} (%)")
    axes[0].set_xlim(0, 105)
    axes[1].set_xscale("log")
    axes[1].xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axes[1].xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    axes[1].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[1].set_xlabel(f"KL(FP32 ‖ INT8) on {eval_set} (nats, log)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, [f"PTQ: {x}" for x in labels], loc="upper right", ncol=len(configs), fontsize=8)
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("INT8 vs FP32 by calibration source", fontsize=11, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save_png(fig, path, dpi=110)
