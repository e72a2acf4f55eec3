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
    assert finals == ["int8", "bits", "finetune", "lite0"]
    assert all(f"select-{s}" in bench.STAGES for s in ("bits", "finetune", "lite0"))
    full, smoke = bench.Plan(), bench.SMOKE
    assert smoke.size < full.size and len(smoke.seeds) < len(full.seeds) and max(smoke.ft_steps) < min(full.ft_steps)
