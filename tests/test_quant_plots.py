"""Study plots and tables on a summary table with several models, sources, sizes, configs and seed counts: dots
with error bars on linear axes zoomed to the data, every value written, tick labels that do not overlap, size
sweeps as lines with bands, the compact results table, and no '± 0.00' for a single seed."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from gsoc_helpers.quantization import plots
from gsoc_helpers.study.stats import format_mean_std
from gsoc_helpers.study.tables import markdown

MODELS, SOURCES, SIZES, CONFIGS = ["m20", "m32"], ["real", "noise", "student"], [10, 100, 300], ["ours", "nncf"]


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    rows = []
    for i, (m, s, n, c) in enumerate(itertools.product(MODELS, SOURCES, SIZES, CONFIGS)):
        agree = 99.5 - 0.5 * SOURCES.index(s) - 0.2 * MODELS.index(m) - (0.3 if c == "nncf" else 0) + 1 / n
        rows.append(
            {
                "model": m,
                "source": s,
                "size": n,
                "config": c,
                "exact_agreement_mean": agree,
                "exact_agreement_std": 0.05 + 0.01 * i,
                "exact_kl_mean": (100 - agree) / 500,
                "exact_kl_std": 1e-4,
                "exact_drop_mean": rng.normal(0.1, 0.2),
                "exact_drop_std": 0.1,
                "n_seeds": 3,
            }
        )
    return pd.DataFrame(rows)


def _dots(ax):
    """(x, y) of every dot drawn by errorbar on ``ax``, in drawing order."""
    from matplotlib.container import ErrorbarContainer

    return [c.lines[0] for c in ax.containers if isinstance(c, ErrorbarContainer)]


def _labels_do_not_overlap(fig) -> None:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in (a for a in fig.axes if a.get_visible()):
        for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
            boxes = [t.get_window_extent(renderer) for t in ticks if t.get_text()]
            assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]), [
                t.get_text() for t in ticks
            ]


def test_by_source_dots_on_a_linear_zoomed_axis_with_every_value_written(table):
    fig = plots.figure_by_source(table, "exact", "agreement")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == len(MODELS) * len(SIZES)  # one panel per (model, size), never merged
    ax = axes[0]
    assert ax.get_xscale() == "linear" and ax.get_title(loc="left") == "m20, 10 calibration images"
    assert "agreement" in ax.get_xlabel() and "higher is closer" in ax.get_xlabel()
    sub = table[(table.model == "m20") & (table["size"] == 10)]
    dots = _dots(ax)
    assert len(dots) == len(CONFIGS)  # one series per PTQ setting
    for line, cfg in zip(dots, CONFIGS, strict=True):
        expected = sub[sub.config == cfg].set_index("source").loc[SOURCES, "exact_agreement_mean"]
        assert np.allclose(line.get_xdata(), expected)
    lo, hi = ax.get_xlim()
    assert lo > 90 and hi < 101  # zoomed to the data (98-99.5 here), not a 0-100 axis
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == len(SOURCES) * len(CONFIGS) and all("±" in t for t in texts)  # every value, with its std
    bold = [t.get_text() for t in ax.texts if t.get_fontweight() == "bold"]
    assert bold == [
        f"{sub[sub.config == c].exact_agreement_mean.max():.2f} ± "
        f"{sub[sub.config == c].sort_values('exact_agreement_mean').exact_agreement_std.iloc[-1]:.2f}"
        for c in CONFIGS
    ]  # the closest source of each setting
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["PTQ setting:"] + CONFIGS
    assert [t.get_text() for t in ax.get_yticklabels()] == SOURCES
    _labels_do_not_overlap(fig)
    drop = plots.figure_by_source(table, "exact", "drop").axes[0]
    lo, hi = drop.get_xlim()
    assert drop.get_xscale() == "linear" and lo < 0 < hi and any(ln.get_xdata()[0] == 0 for ln in drop.lines)


def test_closest_answers_the_question_per_model(table):
    fig = plots.figure_closest(table, "exact")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 2 * len(MODELS) * len(SIZES)  # (model, size) rows x (agreement, KL) columns
    assert "Which calibration source keeps INT8 closest to FP32?" in fig.get_suptitle()
    assert "3 seeds" in fig.get_suptitle()
    kl = axes[1]
    assert "KL" in kl.get_xlabel() or "KL" in axes[-1].get_xlabel()
    sub = table[(table.model == "m20") & (table["size"] == 10) & (table.config == "ours")]
    assert np.allclose(_dots(kl)[0].get_xdata(), 1000 * sub.set_index("source").loc[SOURCES, "exact_kl_mean"])
    assert len({ax.get_xlim() for ax in axes[0::2]}) == 1  # one scale per column: models compare directly
    _labels_do_not_overlap(fig)


def test_missing_source_is_said_not_drawn(table):
    part = table[~((table.model == "m32") & (table.source == "student"))]
    fig = plots.figure_by_source(part, "exact", "kl")
    m32 = [ax for ax in fig.axes if ax.get_title(loc="left").startswith("m32")][0]
    assert "not run" in [t.get_text() for t in m32.texts]


def test_vs_size_lines_with_bands_and_off_scale_points(table, tmp_path):
    fig = plots.figure_vs_size(table, "exact", "kl")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == len(CONFIGS)
    ax = axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert len(ax.lines) == len(MODELS) * len(SOURCES) and len(ax.collections) == len(ax.lines)  # one band each
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{s:,}" for s in SIZES]
    line = ax.lines[0]
    assert list(line.get_xdata()) == SIZES
    sub = table[(table.config == "ours") & (table.model == "m20") & (table.source == "real")].sort_values("size")
    assert np.allclose(line.get_ydata(), 1000 * sub["exact_kl_mean"])
    assert "off scale" not in ax.get_title(loc="left")
    far = table.copy()
    far.loc[(far["size"] == 10) & (far.source == "real") & (far.model == "m20"), "exact_agreement_mean"] = 60.0
    ax = plots.figure_vs_size(far, "exact", "agreement").axes[0]
    assert (
        ax.get_ylim()[0] > 90
        and "off scale" in ax.get_title(loc="left")
        and "real at 10: 60.00" in ax.get_title(loc="left")
    )
    _labels_do_not_overlap(ax.figure)
    assert plots.plot_vs_size(table, tmp_path / "s.png").stat().st_size > 1000
    assert plots.plot_closest(table, tmp_path / "c.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="two calibration sizes"):
        plots.figure_vs_size(table[table["size"] == 10])


def test_bad_metric_and_test_set(table):
    with pytest.raises(ValueError, match="unknown metric"):
        plots.figure_by_source(table, "exact", "accuracy")
    with pytest.raises(ValueError, match="test sets: \\['exact'\\]"):
        plots.figure_by_source(table, "jpeg")


def test_compact_table_has_the_columns_a_reader_needs(table):
    from gsoc_helpers.study.tables import compact_markdown

    one = table[table["size"] == 10]
    md = compact_markdown(one, "exact").splitlines()
    assert md[0] == "| model | source | setting | agreement (%) | KL (1e-3) | top-1 drop (points) |"
    r = one.iloc[0]
    assert md[2] == (
        f"| m20 | real | ours | {r.exact_agreement_mean:.2f} ± {r.exact_agreement_std:.2f} | "
        f"{1000 * r.exact_kl_mean:.2f} ± {1000 * r.exact_kl_std:.2f} | "
        f"{r.exact_drop_mean:.2f} ± {r.exact_drop_std:.2f} |"
    )
    assert compact_markdown(one[one.model == "m20"], "exact").startswith("| source | setting |")
    assert "| size |" in compact_markdown(table, "exact").splitlines()[0]
    with pytest.raises(ValueError, match="sets: \\['exact'\\]"):
        compact_markdown(table, "jpeg")


def test_single_seed_tables_print_no_spread(table):
    assert format_mean_std(98.5, float("nan"), 1) == "98.50 (1 seed)"
    assert format_mean_std(98.5, 0.0, 1) == "98.50 (1 seed)"
    assert format_mean_std(98.5, 0.25, 3) == "98.50 ± 0.25"
    one = table.head(2).assign(n_seeds=1, exact_agreement_std=np.nan)
    md = markdown(one)
    assert "±" not in md and "(1 seed)" in md and md.splitlines()[2].endswith("| 1 |")
    assert "±" in markdown(table.head(2))
    fig = plots.figure_by_source(one, "exact")  # NaN std: dots without error bars, no crash
    ax = fig.axes[0]
    assert [len(line.get_xdata()) for line in _dots(ax)] == [1, 1]  # two configs, one dot each
    assert all(c.has_xerr is False for c in ax.containers)  # one seed: no error bars
    assert all("±" not in t.get_text() for t in ax.texts)


@pytest.mark.parametrize("project", ["mixed+minmax+nobc", "project"])  # the earlier study's key, bench_study's
def test_headline_names_every_term_on_the_figure(project):
    """The README's figure: one panel per PTQ setting, titled in words (not the study's config keys), sources on the
    x axis with the stand-in teacher under its current name, one legend entry per model."""
    import pandas as pd

    from gsoc_helpers.quantization.headline_plot import figure_headline

    rows = [
        {
            "model": f"akamaster_resnet{d}",
            "source": s,
            "config": c,
            "jpeg_agreement_mean": 98.0 - k,
            "jpeg_agreement_std": 0.1,
            "n_seeds": 3,
        }
        for d in (20, 56)
        for k, s in enumerate(("real", "teacher", "noise"))
        for c in ("nncf-default", project)
    ]
    fig = figure_headline(pd.DataFrame(rows), "jpeg")
    axes = fig.get_axes()
    titles = [ax.get_title(loc="left") for ax in axes]
    assert len(axes) == 2 and "global min/max" in titles[0] and "NNCF's defaults" in titles[1]
    assert not any("+" in t for t in titles)  # no "mixed+minmax+nobc" left undefined
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["real", "offline-teacher", "noise"]
    legend = axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "ResNet-20",
        "ResNet-56",
    ] and "3 seeds" in legend.get_title().get_text()


def test_bit_figure_shows_every_cell_names_published_marks_and_tells_runs_apart(tmp_path, monkeypatch):
    """The below-8-bit figure: W3A3 on the axes (not clipped at an edge), the grey published marks named, and
    two fine-tuning runs of one source drawn with different markers."""
    import json
    from pathlib import Path

    import matplotlib.pyplot as plt
    import pandas as pd

    from gsoc_helpers.quantization import lowbit_plots

    results = Path(__file__).resolve().parents[1] / "benchmarks" / "lowbit_results"
    table = pd.read_csv(results / "summary_grid.csv")
    tuned = [json.loads(line) for line in (results / "finetune.jsonl").read_text().splitlines() if line.strip()]
    figures = []
    monkeypatch.setattr(lowbit_plots, "save_png", lambda fig, path, dpi=110: figures.append(fig) or Path(path))
    lowbit_plots.plot_bits(table, tmp_path / "bits.png", "exact", tuned)
    agreement, drop = figures[0].get_axes()
    best = lowbit_plots.best_per_source(table[table["model"] == table["model"].iloc[0]], "exact")
    assert agreement.get_ylim()[0] < best["exact_agreement_mean"].min()  # W3A3's ~25 % agreement is drawn
    assert drop.get_ylim()[0] > best["exact_drop_mean"].max() and drop.get_ylim()[1] < best["exact_drop_mean"].min()
    note = " ".join(t.get_text() for t in figures[0].texts)
    assert all(name in note for results_ in lowbit_plots.PUBLISHED.values() for name in results_)
    student = [ln.get_marker() for ln in agreement.get_lines() if ln.get_label().startswith("student fine-tuned")]
    assert len(student) >= 2 and len(set(student)) == len(student)
    plt.close("all")
