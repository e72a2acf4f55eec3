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
