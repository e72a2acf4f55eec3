"""Notebook 05's plot and conclusions on tables with several models, calibration sizes and configs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from gsoc_helpers.quantization.conclusions import conclusions
from gsoc_helpers.quantization.plots import plot_by_source, plot_vs_size
from gsoc_helpers.study.tables import summarize


def _cells(models=("m1", "m2"), sizes=(10, 100), sources=("real", "noise", "offline-teacher"), seeds=(0, 1)):
    rng = np.random.default_rng(0)
    return [
        {
            "model": m,
            "source": s,
            "size": n,
            "seed": k,
            "config": c,
            "exact_agreement": 90 + (5 if s == "real" else 0) + (2 if c == "default" else 0) + rng.normal(),
            "exact_kl": abs(rng.normal()) * 1e-3,
        }
        for m, n, s, k, c in itertools.product(models, sizes, sources, seeds, ("default", "nncf-default"))
    ]


def test_plots_with_several_models_and_sizes(tmp_path):
    """The table notebook 05 plots (several models, sizes and configs) draws without error: one panel per
    (config, size), every model and source in each."""
    table = summarize(_cells())
    png = plot_by_source(table, tmp_path / "by_source.png", test_set="exact", metric="disagreement")
    assert Image.open(png).size[0] > 400
    png = plot_vs_size(table, tmp_path / "vs_size.png", test_set="exact", metric="kl")
    assert png.is_file()


def test_conclusions_with_several_models_and_sizes():
    import pandas as pd

    table = summarize(_cells())
    speed = pd.DataFrame({"INT8 / FP32": [1.5, 2.5], "INT8 / default": [1.1, 1.9]}, index=["batch 1", "batch 64"])
    text = conclusions(table, "exact_agreement", speed)
    blocks = [ln for ln in text.splitlines() if ln.startswith("- **")]
    assert len(blocks) == 4 and blocks[0].startswith("- **m1, 10 calibration images**: exact_agreement (default): real")
    assert text.count("vs real calibration") == 8 and text.count("default vs nncf-default") == 4
    assert text.endswith("- INT8 speed-up at batch 64: 2.50x over FP32, 1.90x over OpenVINO's default float precision")
    one = conclusions(summarize(_cells(models=("m1",), sizes=(20,), sources=("noise",))), "exact_agreement")
    assert "vs real" not in one and one.count("\n") == 1
    with pytest.raises(ValueError, match="no column 'jpeg_agreement_mean'"):
        conclusions(table, "jpeg_agreement")


def test_conclusions_give_intervals_and_verdicts_from_the_cells():
    from gsoc_helpers.study.cells import encode_outcomes

    rng = np.random.default_rng(0)
    base = rng.random(2000) < 0.95
    cells = []
    for s, better in (("real", 0.0), ("student", 0.6), ("noise", 0.0)):
        for k in range(3):
            o = base | (rng.random(2000) < better)
            cells.append({"model": "m", "source": s, "size": 10, "seed": k, "config": "default",
                          "exact_agreement": 100 * o.mean(), "exact_n": 2000, "exact_outcomes": encode_outcomes(o)})  # fmt: skip
    text = conclusions(summarize(cells), "exact_agreement", cells=cells)
    assert "student: +" in text and "points, better vs real calibration" in text
    assert "noise: +0.00 [+0.00, +0.00] points, indistinguishable vs real calibration" in text
    assert "untested" in conclusions(summarize(cells), "exact_agreement")  # without the cells: no verdict
