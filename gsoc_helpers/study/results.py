"""The study's results files, read into one shape per regime: for each model, each source's agreement with FP32
on the regime's test set (mean, std and seed count) and, where the cells keep them, its per-image outcomes.

Files under ``benchmarks/`` (``root``):

* ``study_results/`` — written by ``benchmarks/bench_study.py report`` under the protocol (:mod:`.splits`):
  ``{int8,bits,finetune,lite0}_cells.jsonl`` (validation and test cells, told apart by ``role``),
  ``selection.json`` (each choice, what it was chosen on, its validation table), ``environment.json``;
* otherwise the files of the earlier studies, read as they are and marked **legacy**: their settings were chosen
  on the test images, some have one seed, and no cell keeps per-image outcomes (so no interval can be computed):
  ``quantization_results/zoo_cells.jsonl``, ``lowbit_results/grid_cells.jsonl``, ``lowbit_results/finetune.jsonl``,
  ``any_model_results/summary.csv``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cells import decode_outcomes, load_cells
from .stats import mean_std

LEGACY_SOURCE_NAMES = {"teacher": "offline-teacher"}
LEGACY_NOTE = "chosen on test; to be re-run under the protocol"


@dataclass
class Stat:
    """One source's agreement (%) over seeds; ``outcomes`` [seeds, images] when stored."""

    mean: float
    std: float
    n: int
    outcomes: np.ndarray | None = None
    detail: str = ""  # e.g. the range estimator, the fine-tuning schedule
    images: int = 0  # test images measured on (0: not stored)


@dataclass
class Regime:
    key: str
    title: str
    test_set: str  # what the agreement is measured on
    rows: dict[str, dict[str, Stat]] = field(default_factory=dict)  # model -> source -> Stat
    legacy: bool = False
    chosen_on: str = ""  # what the regime's choices were made on
    files: list[str] = field(default_factory=list)
    reference: str = "real"  # the source every other is compared with
    # sources whose choice was made on validation cells of generator weights no longer installed (those cells in
    # <study>_superseded_cells.jsonl, none of the current weights): their choice was not re-made
    stale: list[str] = field(default_factory=list)


def stat_of(cells: list[dict], test_set: str, detail: str = "") -> Stat:
    """One source's :class:`Stat` from its cells (one per seed) on ``test_set``."""
    cells = sorted(cells, key=lambda c: c["seed"])
    m, s, n = mean_std([c[f"{test_set}_agreement"] for c in cells])
    key = f"{test_set}_outcomes"
    outcomes = None
    if cells and all(isinstance(c.get(key), str) for c in cells):
        outcomes = np.stack([decode_outcomes(str(c[key]), int(c[f"{test_set}_n"])) for c in cells]).astype(float)
    images = int(cells[0].get(f"{test_set}_n", 0)) if cells else 0
    return Stat(m, s, n, outcomes, detail, images)


def _group(cells: list[dict], config: str | None = None) -> dict[str, dict[str, list[dict]]]:
    out: dict[str, dict[str, list[dict]]] = {}
    for c in cells:
        if config is None or c["config"] == config:
            src = LEGACY_SOURCE_NAMES.get(c["source"], c["source"])
            out.setdefault(c["model"], {}).setdefault(src, []).append(c)
    return out


def load_test_cells(root: Path, study: str) -> list[dict]:
    """The test cells of ``root/study_results/<study>_cells.jsonl`` (``root``: the ``benchmarks`` folder). Fine-tuning
    cells: only each (model, source)'s variant chosen now (``selection.json``); a variant chosen before a re-made
    choice keeps its cells in the file, in no table."""
    cells = [c for c in load_cells(root / "study_results" / f"{study}_cells.jsonl") if c.get("role") == "test"]
    sel = root / "study_results" / "selection.json"
    if study == "finetune" and sel.is_file():
        chosen = json.loads(sel.read_text()).get("finetune", {}).get("choice", {})
        cells = [
            c for c in cells if chosen.get(f"{c.get('model')}|{c.get('source')}", c.get("config")) == c.get("config")
        ]
    return cells


def stale_sources(root: Path, study: str) -> list[str]:
    """Sources with validation cells of ``study`` only from earlier generator weights (``bench_study.py report``
    set them aside in ``<study>_superseded_cells.jsonl``): their choice was made with weights no longer installed."""
    res = root / "study_results"

    def sources(name: str) -> set[str]:
        return {c["source"] for c in load_cells(res / name) if c.get("role") == "validation"}

    return sorted(sources(f"{study}_superseded_cells.jsonl") - sources(f"{study}_cells.jsonl"))


def _mark_stale(r: Regime, root: Path, study: str) -> Regime:
    r.stale = stale_sources(root, study)
    if r.stale:
        r.chosen_on += f" (for {', '.join(r.stale)} with earlier weights of that generator, not re-chosen)"
    return r


def _protocol_regimes(root: Path) -> list[Regime]:
    res = root / "study_results"
    sel = json.loads((res / "selection.json").read_text()) if (res / "selection.json").is_file() else {}
    test = {k: load_test_cells(root, k) for k in STUDY_FILES}
    out = []
    for key, title, config in (
        ("int8-project", "INT8, project setting", "project"),
        ("int8-nncf", "INT8, NNCF defaults", "nncf-default"),
    ):
        if test["int8"]:
            how = (
                f"setting {sel.get('ptq', {}).get('choice', '?')} chosen on validation"
                if config == "project"
                else "NNCF's defaults"
            )
            r = Regime(key, title, "jpeg", chosen_on=how, files=["study_results/int8_cells.jsonl"])
            r.rows = {
                m: {s: stat_of(cs, "jpeg") for s, cs in by.items()} for m, by in _group(test["int8"], config).items()
            }
            out.append(_mark_stale(r, root, "int8") if config == "project" else r)
    if test["bits"] and "estimators" in sel:
        r = Regime(
            "w4a4-calibration",
            "W4A4, calibration",
            "exact",
            chosen_on="range estimator per source chosen on validation",
            files=["study_results/bits_cells.jsonl", "study_results/selection.json"],
        )
        for m, by in _group(test["bits"]).items():
            for s, cs in by.items():
                est = sel["estimators"]["choice"].get(f"{m}|{s}|W4A4")
                mine = [c for c in cs if c["config"] == f"W4A4/{est}"]
                if mine:
                    r.rows.setdefault(m, {})[s] = stat_of(mine, "exact", str(est))
        out.append(_mark_stale(r, root, "bits"))
    if test["finetune"]:
        r = Regime(
            "w4a4-finetune",
            "W4A4, fine-tuned",
            "exact",
            chosen_on="learning rate and steps per source chosen on validation",
            files=["study_results/finetune_cells.jsonl"],
        )
        r.rows = {
            m: {s: stat_of(cs, "exact", cs[0]["config"]) for s, cs in by.items()}
            for m, by in _group(test["finetune"]).items()
        }
        out.append(_mark_stale(r, root, "finetune"))
    if test["lite0"]:
        how = f"setting {sel.get('lite0_ptq', {}).get('choice', '?')} chosen on validation photos"
        r = Regime(
            "lite0-int8", "EfficientNet-Lite0 INT8", "photos", chosen_on=how, files=["study_results/lite0_cells.jsonl"]
        )
        r.rows = {
            m: {s: stat_of(cs, "photos") for s, cs in by.items()} for m, by in _group(test["lite0"], "project").items()
        }
        if any("photos" in by for by in r.rows.values()):
            r.reference = "photos"  # the model's own kind of data, not CIFAR-10 pictures upsampled
        out.append(_mark_stale(r, root, "lite0"))
    if test["lite0fq"]:
        r = Regime(
            "lite0-fakequant",
            "EfficientNet-Lite0 INT8, project fake-quant",
            "photos",
            chosen_on="W8A8 min/max ranges, not chosen (the fine-tuning path's start, 0 steps; no NNCF)",
            files=["study_results/lite0fq_cells.jsonl"],
        )
        for m, by in _group(test["lite0fq"]).items():
            for src, cs in by.items():
                ir = mean_std([float(c["photos_ir_agreement"]) for c in cs])[0]
                r.rows.setdefault(m, {})[src] = stat_of(cs, "photos", f"OpenVINO IR {ir:.2f} %")
        if any("photos" in by for by in r.rows.values()):
            r.reference = "photos"
        out.append(r)
    return out


STUDY_FILES = ("int8", "bits", "finetune", "lite0", "lite0fq")


def _legacy_regimes(root: Path) -> list[Regime]:
    out = []
    zoo = load_cells(root / "quantization_results" / "zoo_cells.jsonl")
    for key, title, config in (
        ("int8-project", "INT8, project setting", "mixed+minmax+nobc"),
        ("int8-nncf", "INT8, NNCF defaults", "nncf-default"),
    ):
        if zoo:
            r = Regime(
                key,
                title,
                "jpeg",
                legacy=True,
                chosen_on=LEGACY_NOTE if config != "nncf-default" else "NNCF's defaults",
                files=["quantization_results/zoo_cells.jsonl"],
            )
            r.rows = {m: {s: stat_of(cs, "jpeg") for s, cs in by.items()} for m, by in _group(zoo, config).items()}
            out.append(r)
    grid = [c for c in load_cells(root / "lowbit_results" / "grid_cells.jsonl") if c.get("bits") == "W4A4"]
    if grid:
        r = Regime(
            "w4a4-calibration",
            "W4A4, calibration",
            "exact",
            legacy=True,
            chosen_on="range estimator per source " + LEGACY_NOTE,
            files=["lowbit_results/grid_cells.jsonl"],
        )
        for m, by in _group(grid).items():
            for s, cs in by.items():
                per = {e: [c for c in cs if c["estimator"] == e] for e in sorted({c["estimator"] for c in cs})}
                best = max(per, key=lambda e: mean_std(c["exact_agreement"] for c in per[e])[0])
                r.rows.setdefault(m, {})[s] = stat_of(per[best], "exact", best)
        out.append(r)
    runs = load_cells(root / "lowbit_results" / "finetune.jsonl")
    same = [x for x in runs if x["config"]["steps"] == 100 and x["config"]["lr"] == 3e-5]  # one schedule for all
    if same:
        r = Regime(
            "w4a4-finetune",
            "W4A4, fine-tuned",
            "exact",
            legacy=True,
            chosen_on="learning rate " + LEGACY_NOTE,
            files=["lowbit_results/finetune.jsonl"],
        )
        for x in same:
            src = LEGACY_SOURCE_NAMES.get(x["config"]["source"], x["config"]["source"])
            r.rows.setdefault(x["model"], {})[src] = Stat(
                x["agreement_end"], float("nan"), 1, None, "100 steps, lr 3e-5"
            )
        out.append(r)
    path = root / "any_model_results" / "summary.csv"
    if path.is_file():
        r = Regime(
            "lite0-int8",
            "EfficientNet-Lite0 INT8",
            "photos",
            legacy=True,
            chosen_on="settings never chosen on held-out images, measured on crops of all 20 scikit-image photos; to be re-run under the protocol",
            files=["any_model_results/summary.csv"],
        )
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                if row["config"] == "default":
                    src = LEGACY_SOURCE_NAMES.get(row["source"], row["source"])
                    n = int(row["seeds"])
                    std = float(row["photos_agreement_std"]) if n > 1 else float("nan")
                    r.rows.setdefault("efficientnet-lite0", {})[src] = Stat(float(row["photos_agreement"]), std, n)
        out.append(r)
    return out


REGIME_ORDER = ("int8-project", "int8-nncf", "w4a4-calibration", "w4a4-finetune", "lite0-int8", "lite0-fakequant")


def load_regimes(root: str | Path) -> list[Regime]:
    """Every regime in :data:`REGIME_ORDER`: from ``study_results/`` where it holds the regime's test cells, else
    from the legacy files (see module doc)."""
    root = Path(root)
    new = {r.key: r for r in _protocol_regimes(root)}
    old = {r.key: r for r in _legacy_regimes(root)}
    return [new.get(k) or old[k] for k in REGIME_ORDER if k in new or k in old]
