"""The README's headline figure: INT8 agreement with FP32 per calibration source, one panel per PTQ setting, one
marker per model, every term named on the figure itself (no legend key defined elsewhere)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .plots import _plt, save_png

# PTQ setting (the study's config name) -> what a reader should read: the activation-range estimator decides
SETTINGS = {
    "mixed+minmax+nobc": "this project's setting:\nglobal min/max activation ranges",
    "default": "this project's setting:\nglobal min/max activation ranges",
    "project": "this project's setting, chosen on validation:\nglobal min/max activation ranges",  # bench_study's
    "nncf-default": "NNCF's defaults:\nmean of per-image min/max ranges",
}
SOURCE_NAMES = {"teacher": "offline-teacher"}  # the earlier logs' name of the bundled stand-in teacher
MARKERS = "osD^v"


def figure_headline(table, test_set: str = "jpeg"):
    """Matplotlib figure from a study summary (columns model, source, config, ``<test_set>_agreement_mean``/``_std``,
    n_seeds): x = calibration source, y = agreement (%), one panel per setting of :data:`SETTINGS` present."""
    plt = _plt()
    configs = [c for c in SETTINGS if c in set(table["config"])]
    if not configs:
        raise ValueError(f"no PTQ setting of {sorted(SETTINGS)} in the table (configs: {sorted(set(table['config']))})")
    sources = list(dict.fromkeys(table["source"]))
    models = list(dict.fromkeys(table["model"]))
    mean, std = f"{test_set}_agreement_mean", f"{test_set}_agreement_std"
    fig, axes = plt.subplots(1, len(configs), figsize=(4.6 * len(configs), 4.2), sharey=True, squeeze=False)
    for ax, config in zip(axes[0], configs, strict=True):
        sub = table[table["config"] == config]
        for k, model in enumerate(models):
            rows = sub[sub["model"] == model].set_index("source").reindex(sources)
            x = np.arange(len(sources)) + (k - (len(models) - 1) / 2) * 0.12
            ax.errorbar(
                x,
                rows[mean].astype(float),
                yerr=rows[std].astype(float).fillna(0.0),
                fmt=MARKERS[k % len(MARKERS)],
                ms=5,
                capsize=2,
                lw=1,
                label=model.replace("akamaster_resnet", "ResNet-"),
            )
        ax.set_title(SETTINGS[config], fontsize=9.5, loc="left")
        ax.set_xticks(range(len(sources)), [SOURCE_NAMES.get(s, s) for s in sources], rotation=20, fontsize=8.5)
        ax.grid(axis="y", alpha=0.3)
    seeds = int(table["n_seeds"].max()) if "n_seeds" in table else 1
    shown = {"jpeg": "JPEG", "exact": "bit-exact"}.get(test_set, test_set)
    axes[0][0].set_ylabel(f"INT8 agreement with FP32 (%)\non the {shown} CIFAR-10 test images")
    axes[0][0].legend(title=f"model ({seeds} seeds, ± std)", fontsize=8, title_fontsize=8, loc="lower left")
    fig.suptitle("Which calibration images keep INT8 closest to FP32? (higher is closer)", fontsize=10.5)
    fig.tight_layout()
    return fig


def plot_headline(table, path: str | Path, test_set: str = "jpeg") -> Path:
    """:func:`figure_headline` saved as PNG at ``path``."""
    return save_png(figure_headline(table, test_set), path)
