"""The answer is generated, not typed: the committed README, RESULTS.md and notebooks 05/06 hold exactly what the
results files give; verdicts come from the paired intervals; legacy files say what they are."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gsoc_helpers.study import report
from gsoc_helpers.study.cells import encode_outcomes

REPO = Path(__file__).resolve().parents[1]


def test_committed_files_match_the_results_files():
    stale = report.check(REPO)
    assert not stale, f"run `gsoc-helpers study-report`: {[str(p.relative_to(REPO)) for p in stale]}"


def test_legacy_results_say_they_were_chosen_on_test_and_test_nothing():
    text = report.blocks(REPO)["answer"]
    if "study_results" in text:
        pytest.skip("the protocol's results files are in place")
    assert "chosen on test; to be re-run under the protocol" in text
    rows = [ln for ln in text.splitlines() if ln.startswith("| INT8") or ln.startswith("| W4A4")]
    assert rows and not any(c.strip().endswith(("↑", "↓", "=")) for r in rows for c in r.split("|"))  # no claim
    assert "**" not in text  # nothing bold


def _cells(rng, source: str, swaps: int, base: np.ndarray, config: str) -> list[dict]:
    out = []
    for seed in range(3):
        o = base.copy()
        if swaps:  # as many agreements lost as won: the same mean, other images
            o[rng.choice(np.flatnonzero(base), swaps, replace=False)] = False
            o[rng.choice(np.flatnonzero(~base), swaps, replace=False)] = True
        if source in ("student", "bn-matching"):
            o = o | (rng.random(len(base)) < (0.5 if source == "student" else 0.8))  # fewer disagreements
        out.append(
            {
                "key": f"{source}|{seed}|{config}",
                "role": "test",
                "study": "int8",
                "model": "akamaster_resnet20",
                "source": source,
                "size": 10,
                "seed": seed,
                "config": config,
                "jpeg_agreement": 100 * float(o.mean()),
                "jpeg_n": len(o),
                "jpeg_outcomes": encode_outcomes(o),
            }
        )
    return out


def _tree(root: Path) -> None:
    (root / "benchmarks" / "study_results").mkdir(parents=True)
    rng = np.random.default_rng(0)
    base = rng.random(2000) < 0.96
    cells = []
    for config in ("project", "nncf-default"):
        for source, swaps in (("real", 0), ("student", 0), ("noise", 20), ("bn-matching", 0)):
            cells += _cells(rng, source, swaps, base, config)
    res = root / "benchmarks" / "study_results"
    (res / "int8_cells.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cells))
    (res / "selection.json").write_text(
        json.dumps({"ptq": {"choice": "mixed+minmax+nobc", "chosen_on": "val", "table": []}})
    )
    blocks = lambda *names: "\n".join(f"<!-- study-report:{n} -->\nold\n<!-- /study-report:{n} -->" for n in names)  # noqa: E731
    (root / "README.md").write_text("# x\n\n" + blocks("answer") + "\n\ntail\n")
    (root / "benchmarks" / "RESULTS.md").write_text(blocks("protocol", "answer", "regimes", "search") + "\n")
    (root / "notebooks").mkdir()
    for nb, name in (("05_quantization_experiments", "nb05-lowbit"), ("06_your_model_no_data", "nb06-answer")):
        cell = {"cell_type": "markdown", "id": "c", "metadata": {}, "source": [blocks(name)]}
        (root / "notebooks" / f"{nb}.ipynb").write_text(
            json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
        )


def test_verdicts_come_from_the_intervals_and_the_files_are_rewritten(tmp_path):
    _tree(tmp_path)
    assert len(report.check(tmp_path)) == 4
    assert len(report.write(tmp_path)) == 4 and report.check(tmp_path) == []
    readme = (tmp_path / "README.md").read_text()
    assert readme.startswith("# x\n") and readme.endswith("\ntail\n")  # only the block changed
    row = next(ln for ln in readme.splitlines() if ln.startswith("| INT8, project setting | ResNet-20 |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[4].endswith("↑") and cells[5].endswith("=")  # student better than real; noise indistinguishable
    assert "setting mixed+minmax+nobc chosen on validation" in (tmp_path / "benchmarks" / "RESULTS.md").read_text()
    assert "Every choice was made on validation images" in readme
    assert "generator images beat bn-matching never" in readme and "**" not in readme
    nb = json.loads((tmp_path / "notebooks" / "06_your_model_no_data.ipynb").read_text())
    assert "No results file holds this regime yet" in "".join(nb["cells"][0]["source"])


def test_missing_markers_are_one_clear_error(tmp_path):
    _tree(tmp_path)
    (tmp_path / "README.md").write_text("# no markers\n")
    with pytest.raises(ValueError, match="README.md: no <!-- study-report:answer -->"):
        report.check(tmp_path)
