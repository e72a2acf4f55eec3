"""benchmarks/bench_study.py loads (its imports follow the package layout) and its smoke plan is a shrunk plan."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_study.py"


def _module(monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("bench_study", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_loads_and_every_final_stage_has_its_selection_stage(monkeypatch):
    bench = _module(monkeypatch)
    finals = [s for s in bench.STAGES if not s.startswith("select-")]
    assert finals == ["int8", "bits", "finetune", "lite0", "lite0-fq"]  # lite0-fq: nothing chosen (min/max, 0 steps)
    assert all(f"select-{s}" in bench.STAGES for s in ("bits", "finetune", "lite0"))
    full, smoke = bench.Plan(), bench.SMOKE
    assert smoke.size < full.size and len(smoke.seeds) < len(full.seeds) and max(smoke.ft_steps) < min(full.ft_steps)


def test_restore_puts_committed_cells_back_and_never_replaces_a_file(monkeypatch, tmp_path):
    bench = _module(monkeypatch)
    results, out = tmp_path / "results", tmp_path / "out"
    results.mkdir()
    (results / "int8_cells.jsonl").write_text('{"key": "a"}\n')
    (results / "bits_cells.jsonl").write_text('{"key": "b"}\n')
    (results / "selection.json").write_text('{"ptq": {}}')
    (out / "bits").mkdir(parents=True)
    (out / "bits" / "cells.jsonl").write_text('{"key": "mine"}\n')  # a worker's cells already there
    written = bench.restore(results, out)
    assert sorted(p.relative_to(out).as_posix() for p in written) == ["int8/cells.jsonl", "selection.json"]
    assert (out / "int8" / "cells.jsonl").read_text() == '{"key": "a"}\n'
    assert (out / "bits" / "cells.jsonl").read_text() == '{"key": "mine"}\n'  # kept
    assert bench.restore(results, out) == []  # a second run writes nothing


def test_report_sets_aside_cells_of_generator_weights_no_longer_installed(monkeypatch, tmp_path):
    import json

    from gsoc_helpers.calibration import source_identity

    bench = _module(monkeypatch)
    ident = source_identity("student")
    assert ident.startswith("weights=")  # the bundled student's digest
    cells = [
        {"key": "p2|test|int8|m|student|300|0|project|x", "source": "student", "role": "validation"},  # before digests
        {
            "key": "p2|test|int8|m|student|300|0|project|x|weights=000000000000",
            "source": "student",
            "role": "validation",
        },
        {"key": f"p2|test|int8|m|student|300|0|project|x|{ident}", "source": "student", "role": "validation"},
        {"key": "p2|test|int8|m|noise|300|0|project|x", "source": "noise", "role": "validation"},
    ]
    (tmp_path / "out" / "int8").mkdir(parents=True)
    (tmp_path / "out" / "int8" / "cells.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cells))
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "unused")
    for _ in range(2):  # a second report adds nothing to the set-aside file
        bench.report(tmp_path / "out", tmp_path / "results")
    kept = bench.load_cells(tmp_path / "results" / "int8_cells.jsonl")
    aside = bench.load_cells(tmp_path / "results" / "int8_superseded_cells.jsonl")
    assert [c["key"] for c in kept] == [cells[2]["key"], cells[3]["key"]]
    assert [c["key"] for c in aside] == [cells[0]["key"], cells[1]["key"]]


def test_sources_subset_keeps_only_those_and_records_no_choice(monkeypatch, tmp_path):
    from dataclasses import replace

    import pandas as pd

    bench = _module(monkeypatch)
    with pytest.raises(SystemExit, match="--sources: unknown bogus"):
        bench.main(["select-ptq", "--sources", "bogus,student", "--out", str(tmp_path)])
    subset = replace(bench.Plan(), sources=["student", "photos"])
    assert subset.keep(bench.LITE0_SOURCES) == ["photos", "student"] and subset.keep(["real"]) == []
    table = pd.DataFrame([{"setting": "a", "agreement": 1.0}])
    bench.record(tmp_path, "ptq", "a", table, "val", (0, 1), subset)
    assert not (tmp_path / "selection.json").exists()  # a subset saw part of the cells: no choice
    bench.record(tmp_path, "ptq", "a", table, "val", (0, 1), bench.Plan())
    assert bench.choices(tmp_path)["ptq"]["choice"] == "a"
