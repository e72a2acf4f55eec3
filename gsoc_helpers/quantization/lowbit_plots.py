"""Tables and the figure of the bit-width study: which calibration source wins with its best range estimator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .lowbit import BitWidth
from .plots import save_png

# Published data-free W4A4 / W3A3 results on ResNet-20 / CIFAR-10 (test top-1, %), all fine-tuned on synthetic
# images from an FP32 model at 93.89 % (SynQ, ICLR 2025, Table 1; the Qimera and IntraQ READMEs).
PUBLISHED_FP32 = 93.89
PUBLISHED = {
    "W4A4": {
        "GDFQ": 90.11,
        "Qimera": 91.26,
        "IntraQ": 91.49,
        "AdaDFQ": 92.31,
        "HAST": 92.36,
        "PLF": 92.47,
        "TexQ": 92.68,
        "SynQ": 92.76,
    },
    "W3A3": {"GDFQ": 75.11, "IntraQ": 77.07, "SynQ": 88.11},
}


TUNED_MARKERS = "*PXds"  # successive fine-tuning runs of one source: one colour, a marker each


def _order(bits: list[str]) -> list[str]:
    """Bit widths from widest to narrowest: equal widths by bits, then the mixed ones."""
    parsed = {b: BitWidth.parse(b) for b in bits}
    return sorted(
        bits, key=lambda b: (parsed[b].weights != parsed[b].activations, -parsed[b].weights - parsed[b].activations)
    )


def best_per_source(table: pd.DataFrame, test_set: str, metric: str = "agreement") -> pd.DataFrame:
    """Per (model, source, bit width): the estimator with the highest mean ``metric`` (lowest for drop/kl), with
    its mean/std over seeds. ``table``: :func:`gsoc_helpers.study.tables.summarize` of study cells (config ``"W4A4/mse"``)."""
    t = table.copy()
    t[["bits", "estimator"]] = t["config"].str.split("/", expand=True)
    col = f"{test_set}_{metric}_mean"
    lower_is_better = metric in ("drop", "kl")
    t = t.sort_values(col, ascending=lower_is_better)
    return t.groupby(["model", "source", "bits"], sort=False).head(1).reset_index(drop=True)


def best_estimator_markdown(table: pd.DataFrame, test_set: str) -> str:
    """Bit widths x sources: agreement with FP32 (%, mean ± std over seeds) with the best estimator per cell (named),
    then every estimator at each bit width below 8 (the check of "min/max ranges reward smooth images")."""
    from ..study.stats import format_mean_std

    best = best_per_source(table, test_set)
    t = table.copy()
    t[["bits", "estimator"]] = t["config"].str.split("/", expand=True)
    sources = list(dict.fromkeys(t["source"]))
    lines = []
    for model in dict.fromkeys(t["model"]):
        lines += [f"**{model}**: agreement with FP32 (%), best range estimator per source", ""]
        lines += ["| bits | " + " | ".join(sources) + " |", "|---|" + "---|" * len(sources)]
        b = best[best["model"] == model].set_index(["bits", "source"])
        for bits in _order(list(dict.fromkeys(t["bits"]))):
            cells = []
            for s in sources:
                if (bits, s) not in b.index:
                    cells.append("—")
                    continue
                r = b.loc[(bits, s)]
                m, sd = r[f"{test_set}_agreement_mean"], r[f"{test_set}_agreement_std"]
                cells.append(f"{format_mean_std(m, sd, r['n_seeds'])} ({r['estimator']})")
            lines.append(f"| {bits} | " + " | ".join(cells) + " |")
        lines += ["", f"**{model}**: agreement (%) per range estimator", ""]
        ests = list(dict.fromkeys(t["estimator"]))
        lines += ["| bits | estimator | " + " | ".join(sources) + " |", "|---|---|" + "---|" * len(sources)]
        tm = t[t["model"] == model].set_index(["bits", "estimator", "source"])
        for bits in _order(list(dict.fromkeys(t["bits"]))):
            if bits == "W8A8":
                continue
            for e in ests:
                cells = [
                    f"{tm.loc[(bits, e, s), f'{test_set}_agreement_mean']:.2f}" if (bits, e, s) in tm.index else "—"
                    for s in sources
                ]
                lines.append(f"| {bits} | {e} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def plot_bits(table: pd.DataFrame, path: str | Path, test_set: str, tuned: list[dict] | None = None) -> Path:
    """Two panels over bit widths (x, widest first): agreement with FP32 and top-1 drop (points), one line per
    calibration source with its best range estimator, error bars = std over seeds; fine-tuned W4A4 models
    (``tuned``: records of :func:`.finetune.finetune_lowbit`) as large markers, one marker per run of a source;
    published ResNet-20 results as grey marks named in a note (drops from their own FP32, 93.89 %). Every cell lies on
    the axes, W3A3 too. The first model of ``table`` only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = table["model"].iloc[0]
    best = best_per_source(table[table["model"] == model], test_set)
    bits = _order(list(dict.fromkeys(best["bits"])) + [b for b in PUBLISHED if b not in set(best["bits"])])
    x = {b: i for i, b in enumerate(bits)}
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.8))
    colours = plt.get_cmap("tab10")
    sources = list(dict.fromkeys(table["source"]))  # the grid's order: stable colours
    for k, source in enumerate(sources):
        rows = best[best["source"] == source].set_index("bits").reindex([b for b in bits if b in set(best["bits"])])
        rows = rows.dropna(subset=["n_seeds"])
        uniform = [BitWidth.parse(b).weights == BitWidth.parse(b).activations for b in rows.index]
        for ax, metric in zip(axes, ("agreement", "drop"), strict=True):
            xs = np.array([x[b] for b in rows.index]) + 0.04 * (k - len(sources) / 2)
            ys, err = (
                rows[f"{test_set}_{metric}_mean"].to_numpy(),
                rows[f"{test_set}_{metric}_std"].fillna(0).to_numpy(),
            )
            for part, style in ((np.array(uniform), "-"), (~np.array(uniform), "none")):  # mixed widths: no line
                if part.any():
                    ax.errorbar(
                        xs[part],
                        ys[part],
                        yerr=err[part],
                        marker="o",
                        ms=4,
                        capsize=3,
                        ls=style,
                        color=colours(k),
                        label=source if style == "-" or not any(uniform) else None,
                    )
    runs: dict[str, int] = {}
    for rec in tuned or []:
        if rec.get("model") != model:
            continue
        cfg = rec["config"]
        k = sources.index(cfg["source"]) if cfg["source"] in sources else len(sources)
        if cfg["bits"] not in x:
            continue
        n = runs[cfg["source"]] = runs.get(cfg["source"], -1) + 1  # the n-th run of this source: its own marker
        marker = TUNED_MARKERS[n % len(TUNED_MARKERS)]
        label = f"{cfg['source']} fine-tuned ({cfg['steps']} steps, lr {cfg['lr']:g})"
        xb = x[cfg["bits"]] + 0.25 + 0.05 * k
        axes[0].plot(xb, rec["agreement_end"], marker, ms=11, color=colours(k), mec="black", label=label)
        axes[1].plot(xb, rec["top1_fp32"] - rec["top1_end"], marker, ms=11, color=colours(k), mec="black")
    for i, (b, results) in enumerate(PUBLISHED.items()):
        drops = [PUBLISHED_FP32 - v for v in results.values()]
        pub_label = f"published, fine-tuned (their FP32 {PUBLISHED_FP32} %)" if i == 0 else None
        axes[1].scatter([x[b] - 0.25] * len(drops), drops, marker="_", s=200, color="grey", zorder=3, label=pub_label)
    listed = []
    for b, results in PUBLISHED.items():  # each grey mark named, smallest drop first
        names = sorted(results, key=lambda m: PUBLISHED_FP32 - results[m])
        marks = [f"{m} {PUBLISHED_FP32 - results[m]:.1f}" for m in names]
        listed += [f"{b}: " + ", ".join(marks[:3])] + [
            "    " + ", ".join(marks[i : i + 3]) for i in range(3, len(marks), 3)
        ]
    fig.text(
        0.805,
        0.04,
        f"grey marks: published, fine-tuned\n(drop from their FP32, {PUBLISHED_FP32} %)\n" + "\n".join(listed),
        fontsize=7,
        color="dimgrey",
        va="bottom",
    )
    axes[0].set_ylabel(f"agreement with FP32 (%), {test_set} test")
    axes[1].set_ylabel("top-1 drop (points; inverted: up = better)")
    for ax in axes:
        ax.set_xticks(range(len(bits)), bits)
        ax.set_xlabel("bits (weights W, activations A)")
        ax.grid(alpha=0.3)
        mixed = [i for i, b in enumerate(bits) if BitWidth.parse(b).weights != BitWidth.parse(b).activations]
        if mixed:
            ax.axvline(min(mixed) - 0.5, color="black", lw=0.8)
    low = best[f"{test_set}_agreement_mean"] - best[f"{test_set}_agreement_std"].fillna(0)
    high = best[f"{test_set}_drop_mean"] + best[f"{test_set}_drop_std"].fillna(0)
    worst_published = max(PUBLISHED_FP32 - v for r in PUBLISHED.values() for v in r.values())
    axes[0].set_ylim(min(float(low.min()), 100.0) - 3, 100.5)  # every cell on the axes, W3A3 too
    best_drop = float((best[f"{test_set}_drop_mean"] - best[f"{test_set}_drop_std"].fillna(0)).min())
    axes[1].set_ylim(max(float(high.max()), worst_published) + 3, min(best_drop, 0.0) - 1)  # inverted: up = better
    handles, labels = axes[0].get_legend_handles_labels()
    extra = [
        (h, lab) for h, lab in zip(*axes[1].get_legend_handles_labels(), strict=True) if lab.startswith("published")
    ]
    fig.legend(
        [*handles, *(h for h, _ in extra)], [*labels, *(lab for _, lab in extra)], fontsize=8, loc="center right"
    )
    fig.suptitle(f"{model}: calibration alone (lines, best range estimator per source) vs fine-tuned (large markers)")
    fig.tight_layout(rect=(0, 0, 0.8, 1))
    return save_png(fig, path, dpi=110)
