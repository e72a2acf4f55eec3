"""Study plots and tables on a summary table with several models, sources, sizes, configs and seed counts:
disagreement (100 - agreement) and KL on log axes with error bars, size sweeps as lines with bands, and no
'± 0.00' for a single seed."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from gsoc_helpers.quantization import plots
from gsoc_helpers.quantization.runner import format_mean_std, markdown

MODELS, SOURCES, SIZES, CONFIGS = ["m20", "m32"], ["real", "noise", "student"], [10, 100, 300], ["ours", "nncf"]


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    rows = []
    for i, (m, s, n, c) in enumerate(itertools.product(MODELS, SOURCES, SIZES, CONFIGS)):
        agree = 99.5 - 0.5 * SOURCES.index(s) - 0.2 * MODELS.index(m) - (0.3 if c == "nncf" else 0) + 1 / n
        rows.append({"model": m, "source": s, "size": n, "config": c,
                     "exact_agreement_mean": agree, "exact_agreement_std": 0.05 + 0.01 * i,
                     "exact_kl_mean": (100 - agree) / 500, "exact_kl_std": 1e-4,
                     "exact_drop_mean": rng.normal(0.1, 0.2), "exact_drop_std": 0.1, "n_seeds": 3})
    return pd.DataFrame(rows)


def test_by_source_panels_bars_and_log_axis(table):
    fig = plots.figure_by_source(table, "exact", "disagreement")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == len(SIZES) * len(CONFIGS)  # one panel per (config, size), duplicates never merged
    ax = axes[0]
    assert ax.get_yscale() == "log" and "disagreement" in ax.get_ylabel() and ax.get_title() == "ours, 10 images"
    bars = [p for p in ax.patches]
    assert len(bars) == len(MODELS) * len(SOURCES)
    first = table[(table.config == "ours") & (table["size"] == 10)]
    expected = sorted(100 - first["exact_agreement_mean"])
    assert np.allclose(sorted(b.get_height() for b in bars), expected)  # bar = 100 - agreement
    from matplotlib.container import BarContainer

    bar_sets = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bar_sets) == len(SOURCES) and all(c.errorbar is not None for c in bar_sets)  # error bars
    assert [t.get_text() for t in ax.get_legend().get_texts()] == SOURCES
    drop = plots.figure_by_source(table, "exact", "drop").axes[0]
    assert drop.get_yscale() == "linear"


def test_vs_size_lines_with_bands(table, tmp_path):
    fig = plots.figure_vs_size(table, "exact", "kl")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == len(CONFIGS)
    ax = axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.lines) == len(MODELS) * len(SOURCES) and len(ax.collections) == len(ax.lines)  # one band each
    line = ax.lines[0]
    assert list(line.get_xdata()) == SIZES
    sub = table[(table.config == "ours") & (table.model == "m20") & (table.source == "real")].sort_values("size")
    assert np.allclose(line.get_ydata(), sub["exact_kl_mean"])
    assert plots.plot_vs_size(table, tmp_path / "s.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="two calibration sizes"):
        plots.figure_vs_size(table[table["size"] == 10])


def test_bad_metric_and_test_set(table):
    with pytest.raises(ValueError, match="unknown metric"):
        plots.figure_by_source(table, "exact", "accuracy")
    with pytest.raises(ValueError, match="test sets: \\['exact'\\]"):
        plots.figure_by_source(table, "jpeg")


def test_single_seed_tables_print_no_spread(table):
    assert format_mean_std(98.5, float("nan"), 1) == "98.50"
    assert format_mean_std(98.5, 0.0, 1) == "98.50"
    assert format_mean_std(98.5, 0.25, 3) == "98.50 ± 0.25"
    one = table.head(2).assign(n_seeds=1, exact_agreement_std=np.nan)
    md = markdown(one)
    assert "±" not in md and md.splitlines()[2].endswith("| 1 |")
    assert "±" in markdown(table.head(2))
    fig = plots.figure_by_source(one, "exact")  # NaN std: bars without error bars, no crash
    assert [len(a.patches) for a in fig.axes] == [1, 1]  # two configs: two panels
    assert all(c.errorbar is None for a in fig.axes for c in a.containers)  # one seed: no error bars
