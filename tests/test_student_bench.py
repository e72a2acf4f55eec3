"""Smoke test of benchmarks/bench_generators.py (student only, PyTorch only, tiny timing window)."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_generators.py"


def test_bench_generators_student_only(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_generators", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "bench"
    assert (
        mod.main(
            [
                "--student",
                "preset:tiny",
                "--no-teacher",
                "--no-openvino",
                "--batches",
                "1,4",
                "--min-seconds",
                "0.01",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(open(out.with_suffix(".csv"))))
    assert rows[0]["parameters"] == "171835" and float(rows[0]["PyTorch b4"]) > 0
    assert "| student preset:tiny |" in out.with_suffix(".md").read_text()
