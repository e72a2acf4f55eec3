"""Experiment grid over (model, calibration source, calibration size, seed, PTQ config) with a resumable cache.

Every finished cell is appended as one JSON line to ``<out>/cells.jsonl``; a rerun skips cells already there,
so an interrupted run resumes. :func:`summarize` turns the cells into a pandas table (mean ± std over seeds)
saved as CSV and Markdown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..calibration import available_sources, get_calibration
from ..defaults import CALIBRATION_SIZE, SEEDS
from ..models.classifiers import CIFAR10_CLASSIFIERS, get_classifier
from ..openvino.classifier import to_openvino
from ..progress import progress as tqdm  # tqdm's API; one final line in notebooks
from . import evaluate as ev
from .accuracy import quantize_accuracy_aware
from .ptq import PTQConfig, quantize
from .settings import PROJECT_DEFAULT, AccuracyControl

METRICS = ("top1_fp32", "top1_int8", "drop", "agreement", "kl")


@dataclass
class Grid:
    models: list[str]
    sources: list[str]
    sizes: list[int] = field(default_factory=lambda: [CALIBRATION_SIZE])
    seeds: list[int] = field(default_factory=lambda: list(SEEDS))
    configs: dict[str, PTQConfig] = field(default_factory=lambda: {PROJECT_DEFAULT: PTQConfig()})
    source_options: dict[str, dict] = field(default_factory=dict)  # per source: kwargs for get_calibration
    source_labels: dict[str, str] = field(default_factory=dict)  # per source: name shown in tables (e.g. "real-jpeg")
    # per config name: quantize with NNCF accuracy control instead of nncf.quantize (see quantization.accuracy)
    accuracy_control: dict[str, AccuracyControl] = field(default_factory=dict)

    def validate(self, check_models: bool = True) -> None:
        for m in self.models if check_models else []:
            if m not in CIFAR10_CLASSIFIERS:  # the study measures on CIFAR-10 test images
                raise KeyError(f"unknown classifier {m!r}; the study takes one of {sorted(CIFAR10_CLASSIFIERS)}")
        for s in self.sources:
            if s not in available_sources():
                raise KeyError(f"unknown calibration source {s!r}; expected one of {sorted(available_sources())}")
        for n in self.sizes:
            if int(n) < 1:
                raise ValueError(f"calibration sizes must be >= 1, got {n}")
        for name, control in self.accuracy_control.items():
            if name not in self.configs:
                raise KeyError(f"accuracy control for unknown config {name!r}; configs: {sorted(self.configs)}")
            control.validate()


def cell_key(
    model: str,
    source: str,
    size: int,
    seed: int,
    config_name: str,
    config: PTQConfig,
    source_options: dict | None = None,
    accuracy_control: AccuracyControl | None = None,
) -> str:
    aac = f",{accuracy_control.key()}" if accuracy_control is not None else ""
    return f"{model}|{source}|{size}|{seed}|{config_name}|{config.key()}{aac}{options_key(source_options)}"


def options_key(source_options: dict | None) -> str:
    """The part of a cell key naming a source's options ("" without any; the classifier and progress bar left out)."""
    opts = {k: str(v) for k, v in (source_options or {}).items() if k not in ("classifier", "progress")}
    return "|" + json.dumps(opts, sort_keys=True) if opts else ""


def fp32_reference(model_factory: Callable[[str], torch.nn.Module], name: str, test_sets: dict, threads: int | None):
    """(torch model, its OpenVINO FP32 model, {test set: FP32 logits [N,10]}) of classifier ``name``."""
    model = model_factory(name)
    fp32 = to_openvino(model)
    return model, fp32, {t: ev.logits(fp32, x, threads=threads) for t, (x, _) in test_sets.items()}


def calibration_images(source: str, size: int, seed: int, options: dict | None, classifier: torch.nn.Module):
    """:func:`get_calibration` with ``options``; bn-matching gets ``classifier`` and no progress bar."""
    opts = dict(options or {})
    if source == "bn-matching":
        opts.setdefault("classifier", classifier)
        opts.setdefault("progress", False)
    return get_calibration(source, size, seed, **opts)


def load_cells(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by an interrupt: ignore, the cell reruns
                continue
    return out


def repair_cells(path: Path) -> list[dict]:
    """The finished cells of ``path``, rewriting the file without a line an interrupt cut (so that the next
    appended cell starts on a line of its own)."""
    cached = load_cells(path)
    text = path.read_text() if path.is_file() else ""
    if text and (not text.endswith("\n") or text.count("\n") != len(cached)):
        path.write_text("".join(json.dumps(c) + "\n" for c in cached))
    return cached


def open_cells(out_dir: str | Path) -> tuple[Path, set[str]]:
    """``out_dir/cells.jsonl`` (folder made, a cut last line repaired) and the keys of the cells it holds."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "cells.jsonl"
    return path, {c["key"] for c in repair_cells(path)}


def append_cell(path: Path, rec: dict, model, ref: dict, test_sets: dict, threads: int | None) -> None:
    """Add ``model``'s agreement/KL/top-1 against the FP32 logits ``ref`` on every test set to ``rec``, then append
    it to the cells file ``path`` as one JSON line."""
    for t, (x, y) in test_sets.items():
        res = ev.compare(ref[t], ev.logits(model, x, threads=threads), y.numpy())
        rec.update({f"{t}_{k}": v for k, v in res.items()})
    with open(path, "a") as fh:
        fh.write(json.dumps(rec) + "\n")


def shard_of(items: list, shard: tuple[int, int]) -> list:
    """Items ``i, i+n, ...`` of ``items`` for ``shard = (i, n)``: disjoint over i, together all of ``items``."""
    i, n = shard
    if not 0 <= i < n:
        raise ValueError(f"shard {i}/{n}: expected 0 <= i < n")
    return items[i::n]


def run_grid(
    grid: Grid,
    test_sets: dict[str, tuple[torch.Tensor, torch.Tensor]],
    out_dir: str | Path,
    model_factory: Callable[[str], torch.nn.Module] = get_classifier,
    threads: int | None = 1,
    progress: bool = True,
    shard: tuple[int, int] = (0, 1),
) -> list[dict]:
    """Run every missing cell of ``shard`` (i, n): cells i, i+n, ... of the grid's fixed order; return those cells
    (cached + new), never other cells the cache holds (say, from an earlier setting under the same config name).
    ``test_sets``: name -> (images [N,3,32,32], labels). n workers' ``cells.jsonl`` files concatenated = the grid."""
    grid.validate(check_models=model_factory is get_classifier)
    path, done = open_cells(out_dir)
    cells = {
        cell_key(m, s, n, seed, cn, grid.configs[cn], grid.source_options.get(s), grid.accuracy_control.get(cn)): (
            m,
            s,
            n,
            seed,
            cn,
        )
        for m in grid.models
        for s in grid.sources
        for n in grid.sizes
        for seed in grid.seeds
        for cn in grid.configs
    }
    cells = dict(shard_of(list(cells.items()), shard))
    todo = [cell for key, cell in cells.items() if key not in done]
    cache: dict[str, tuple] = {}
    for m, s, n, seed, cn in tqdm(todo, desc="quantize-study", disable=not progress):
        if m not in cache:
            cache = {m: fp32_reference(model_factory, m, test_sets, threads)}  # keep one model at a time
        model, fp32, ref = cache[m]
        calib = calibration_images(s, n, seed, grid.source_options.get(s), model)
        control = grid.accuracy_control.get(cn)
        int8 = (
            quantize_accuracy_aware(fp32, calib, grid.configs[cn], control, seed)
            if control is not None
            else quantize(fp32, calib.images, grid.configs[cn])
        )
        label = grid.source_labels.get(s, s)
        rec: dict = {
            "key": cell_key(m, s, n, seed, cn, grid.configs[cn], grid.source_options.get(s), control),
            "model": m,
            "source": label,
            "size": n,
            "seed": seed,
            "config": cn,
            "config_key": grid.configs[cn].key(),
        }
        if control is not None:
            rec["accuracy_control"] = control.key()
            rec["n_fp32_layers"] = len(ev.fp32_layers(int8))
        append_cell(path, rec, int8, ref, test_sets, threads)
    return [c for c in load_cells(path) if c["key"] in cells]  # this grid's cells only: the cache may hold others


def summarize(cells: list[dict], out_dir: str | Path | None = None, name: str = "summary"):
    """DataFrame of mean and std over seeds per (model, source, size, config); saved as CSV + Markdown."""
    if not cells:
        raise ValueError("no finished cells to summarise")
    df = pd.DataFrame(cells)
    cols = [c for c in df.columns if any(c.endswith("_" + k) for k in METRICS)]
    g = df.groupby(["model", "source", "size", "config"], sort=False)
    table = g[cols].agg(["mean", "std"])
    table.columns = [f"{a}_{b}" for a, b in table.columns]
    table["n_seeds"] = g.size()
    table = table.reset_index()
    if out_dir is not None:
        out = Path(out_dir)
        table.to_csv(out / f"{name}.csv", index=False)
        (out / f"{name}.md").write_text(markdown(table))
    return table


def format_mean_std(mean: float, std: float, n: int, digits: int = 2) -> str:
    """'mean ± std' over n seeds; just 'mean' when n = 1 (no spread was measured)."""
    if int(n) <= 1 or std is None or np.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown(table) -> str:
    """Markdown table with ``mean ± std`` cells over ``n_seeds`` seeds (the mean alone when n = 1; KL in 1e-3
    units)."""
    keys = ["model", "source", "size", "config"]
    metric_cols = sorted({c[:-5] for c in table.columns if c.endswith("_mean")}, key=lambda c: (c.split("_")[0], c))
    head = keys + [c.replace("_kl", "_kl(1e-3)") for c in metric_cols] + ["n_seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [str(r[k]) for k in keys]
        for c in metric_cols:
            scale = 1000 if c.endswith("_kl") else 1
            cells.append(format_mean_std(r[f"{c}_mean"] * scale, r[f"{c}_std"] * scale, r["n_seeds"]))
        cells.append(str(r["n_seeds"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def compact_markdown(table, test_set: str) -> str:
    """The few columns a reader needs, on ``test_set``: (model, size where several), source, setting, agreement
    (%), KL (1e-3 nats), top-1 drop (points), each ``mean ± std`` over seeds rounded to 2 decimals.  The full table
    (every test set, FP32/INT8 top-1, std) is :func:`markdown` and the CSV that :func:`summarize` saves."""
    if f"{test_set}_agreement_mean" not in table.columns:
        raise ValueError(
            f"no {test_set}_agreement_mean column; test sets: "
            f"{sorted({c.split('_')[0] for c in table.columns if c.endswith('_agreement_mean')})}"
        )
    keys = [k for k in ("model", "size") if table[k].nunique() > 1] + ["source", "config"]
    head = [{"config": "setting"}.get(k, k) for k in keys] + ["agreement (%)", "KL (1e-3)", "top-1 drop (points)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(keys) + "---:|" * 3]
    for _, r in table.iterrows():
        cells = [str(r[k]) for k in keys]
        for metric, scale in (("agreement", 1), ("kl", 1000), ("drop", 1)):
            c = f"{test_set}_{metric}"
            cells.append(format_mean_std(r[f"{c}_mean"] * scale, r[f"{c}_std"] * scale, r["n_seeds"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
