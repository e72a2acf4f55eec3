"""Choices made on the validation images only: every function here takes the protocol's selection view
(:meth:`.splits.Splits.selection`), which refuses the test images, runs a spec on ``"validation"`` and returns
the choice with the table it was read from.

* :func:`choose_setting` — a PTQ setting (the project's INT8 setting; EfficientNet's settings);
* :func:`choose_estimators` — the range estimator per (model, source, bit width), never NNCF's own call;
* :func:`choose_variant` — a fine-tuning learning rate and step count per (model, source);
* :func:`choose_source_options` — a source's recipe (e.g. bn-matching's steps), among named option sets.

A choice maximises the mean validation agreement with FP32 (over seeds; for a setting, each source and model
weighted equally).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from .engine import run_study
from .splits import SelectionSplits
from .tables import summarize


def _check(selection) -> str:
    if not isinstance(selection, SelectionSplits):
        raise TypeError("selection code takes the protocol's selection view (splits.selection()), not the splits")
    names = selection.names("validation")
    if not names:
        raise ValueError(f"the protocol of {selection.what} has no validation set")
    return names[0]


def _table(selection, spec, out_dir, **run_kw) -> tuple[pd.DataFrame, str]:
    metric = f"{_check(selection)}_agreement_mean"
    return summarize(run_study(spec, selection, "validation", out_dir, **run_kw)), metric


def choose_setting(selection: SelectionSplits, spec, out_dir: str | Path, **run_kw) -> tuple[str, pd.DataFrame]:
    """The variant (PTQ setting) of ``spec`` with the best validation agreement averaged over models and sources."""
    table, metric = _table(selection, spec, out_dir, **run_kw)
    score = table.groupby(["config", "model", "source"])[metric].mean().groupby("config").mean()
    return str(score.idxmax()), table


def choose_estimators(selection: SelectionSplits, spec, out_dir: str | Path, **run_kw) -> tuple[dict, pd.DataFrame]:
    """{(model, source, bits): range estimator} with the best validation agreement, for a :class:`.specs.BitsSpec`.
    Only range estimators are chosen (a fine-tuning start needs one); NNCF's own call (``"nncf"``) stays in the table."""
    from ..quantization.ranges import ESTIMATORS

    table, metric = _table(selection, spec, out_dir, **run_kw)
    t = table.assign(bits=table["config"].str.split("/").str[0], estimator=table["config"].str.split("/").str[1])
    t = t[t["estimator"].isin(ESTIMATORS)]
    best = t.loc[t.groupby(["model", "source", "bits"])[metric].idxmax()]
    return {(r.model, r.source, r.bits): r.estimator for r in best.itertuples()}, table


def choose_variant(selection: SelectionSplits, spec, out_dir: str | Path, **run_kw) -> tuple[dict, pd.DataFrame]:
    """{(model, source): variant} with the best validation agreement (e.g. a fine-tuning lr and step count)."""
    table, metric = _table(selection, spec, out_dir, **run_kw)
    best = table.loc[table.groupby(["model", "source"])[metric].idxmax()]
    return {(r.model, r.source): r.config for r in best.itertuples()}, table


def choose_source_options(
    selection: SelectionSplits, spec, source: str, candidates: dict[str, dict], out_dir: str | Path, **run_kw
) -> tuple[str, pd.DataFrame]:
    """The name of the option set of ``candidates`` with which ``source`` gives the best validation agreement
    under ``spec``'s first variant (each candidate labelled ``source[name]`` in the table)."""
    metric = f"{_check(selection)}_agreement_mean"
    tables = []
    for name, options in candidates.items():
        one = replace(
            spec,
            sources=[source],
            source_options={**spec.source_options, source: options},
            source_labels={source: f"{source}[{name}]"},
        )
        tables.append(summarize(run_study(one, selection, "validation", out_dir, **run_kw)))
    table = pd.concat(tables, ignore_index=True)
    first = table[table["config"] == spec.variants()[0]]
    best = first.groupby("source")[metric].mean().idxmax()
    return str(best)[len(source) + 1 : -1], table
