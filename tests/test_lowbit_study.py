"""The bit-width grid and ``--shard i/n``: shards are disjoint, together cover the grid, and merge without rework."""

from __future__ import annotations

import json

import pytest
from cli_checks import assert_refused, run_cli
from test_quantization import Tiny, _data

from gsoc_helpers.quantization import lowbit_study, runner
from gsoc_helpers.quantization.lowbit_study import LowBitGrid, run_lowbit_grid
from gsoc_helpers.quantization.ptq import PTQConfig
from gsoc_helpers.quantization.runner import shard_of


def _tiny(name: str):
    return Tiny()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_shards_are_disjoint_and_cover(n):
    items = list(range(7))
    parts = [shard_of(items, (i, n)) for i in range(n)]
    assert sorted(x for p in parts for x in p) == items
    with pytest.raises(ValueError, match="expected 0 <= i < n"):
        shard_of(items, (n, n))


def _counting(monkeypatch, module, name: str = "quantize") -> list:
    calls: list = []
    real = getattr(module, name)

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(module, name, counting)
    return calls


class Unscaled(Tiny):
    """Tiny without its final constant Multiply: NNCF 3.4.0's NPU config fails on a Multiply by a constant
    after the last MatMul (its unified-scale group gets no statistics: IndexError in _unify_statistics)."""

    def forward(self, x):
        return self.fc(self.f(x).mean((2, 3)))


def test_run_grid_shards_merge(tmp_path, monkeypatch):
    calls = _counting(monkeypatch, runner)
    grid = runner.Grid(["m"], ["noise"], [10], [0, 1, 2], {"fast": PTQConfig(bias_correction="fast")})
    tests = {"t": _data(32)}
    parts = [runner.run_grid(grid, tests, tmp_path / f"s{i}", _tiny, progress=False, shard=(i, 2)) for i in (0, 1)]
    keys = [{c["key"] for c in p} for p in parts]
    assert len(calls) == 3 and keys[0].isdisjoint(keys[1]) and len(keys[0] | keys[1]) == 3
    merged = tmp_path / "all"
    merged.mkdir()
    (merged / "cells.jsonl").write_text("".join((tmp_path / f"s{i}" / "cells.jsonl").read_text() for i in (0, 1)))
    cells = runner.run_grid(grid, tests, merged, _tiny, progress=False)
    assert len(calls) == 3 and {c["key"] for c in cells} == keys[0] | keys[1]  # nothing recomputed


def test_lowbit_grid_shards_and_resumes(tmp_path, monkeypatch):
    calls = _counting(monkeypatch, lowbit_study, "calibrate_for_relevel")
    grid = LowBitGrid(["m"], ["noise"], [10], [0, 1], ["W4A4", "8"], ["minmax", "mse"])
    tests = {"t": _data(32)}
    parts = [run_lowbit_grid(grid, tests, tmp_path, _tiny, progress=False, shard=(i, 2)) for i in (0, 1)]
    assert len(calls) == 2 and [len(p) for p in parts] == [4, 4]
    assert {c["seed"] for c in parts[0]} == {0} and {c["seed"] for c in parts[1]} == {1}
    assert {c["config"] for c in parts[0]} == {"W4A4/minmax", "W4A4/mse", "W8A8/minmax", "W8A8/mse"}
    assert all(0 <= c["t_agreement"] <= 100 and c["activation_bits"] in (4, 8) for p in parts for c in p)
    path = tmp_path / "cells.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:15])  # the last cell cut by an interrupt
    again = run_lowbit_grid(grid, tests, tmp_path, _tiny, progress=False)
    assert len(calls) == 3 and len(again) == 8 and len(path.read_text().splitlines()) == 8
    table = runner.summarize(again)
    assert table.loc[0, "n_seeds"] == 2
    from gsoc_helpers.quantization.lowbit_plots import best_estimator_markdown, plot_bits

    text = best_estimator_markdown(table, "t")
    assert "| W4A4 | " in text and ("(minmax)" in text or "(mse)" in text)
    assert plot_bits(table, tmp_path / "bits.png", "t").stat().st_size > 0


def test_lowbit_grid_nncf_cells_beside_relevelled_ones(tmp_path, monkeypatch):
    """'nncf' cells come from NNCF's own call on the same calibration images, only where NNCF expresses the bits."""
    calls = _counting(monkeypatch, lowbit_study, "nncf_lowbit")
    grid = LowBitGrid(["m"], ["noise"], [10], [0], ["W4A4", "W3A3"], ["minmax", "nncf"])
    cells = run_lowbit_grid(grid, {"t": _data(32)}, tmp_path, lambda _name: Unscaled(), progress=False)
    assert sorted(c["config"] for c in cells) == ["W3A3/minmax", "W4A4/minmax", "W4A4/nncf"] and len(calls) == 1
    assert all(0 <= c["t_agreement"] <= 100 for c in cells)
    with pytest.raises(ValueError, match="range estimator"):
        LowBitGrid(["m"], ["noise"], estimators=["nncf-ish"]).validate()


def test_quantize_study_bits_cli(tmp_path, capsys):
    """The real ResNet-20, 10 noise images, W4A4 and W4A8 with min/max ranges, on the bit-exact test images."""
    out = tmp_path / "study"
    argv = ["quantize-study", "--models", "akamaster_resnet20", "--sources", "noise", "--sizes", "10"]
    argv += [
        "--seeds",
        "0",
        "--bits",
        "4",
        "W4A8",
        "--estimators",
        "minmax",
        "nncf",
        "--shard",
        "0/1",
        "--out",
        str(out),
    ]
    assert run_cli(argv, capsys)[0] == 0
    cells = [json.loads(line) for line in (out / "cells.jsonl").read_text().splitlines()]
    assert sorted(c["config"] for c in cells) == ["W4A4/minmax", "W4A4/nncf", "W4A8/minmax", "W4A8/nncf"]
    assert all(c["exact_top1_fp32"] > 85 and 0 <= c["exact_agreement"] <= 100 for c in cells)
    assert (out / "summary.md").is_file()


def test_quantize_study_refuses_bad_bits_and_shard(tmp_path, capsys):
    base = ["quantize-study", "--models", "akamaster_resnet20", "--sources", "noise", "--out", str(tmp_path / "o")]
    assert_refused([*base, "--bits", "9"], capsys, "bit width", untouched=[tmp_path / "o"])
    assert_refused([*base, "--shard", "2/2"], capsys, "expected 0 <= i < n", untouched=[tmp_path / "o"])
    assert_refused([*base, "--bits", "4", "--compare-nncf-defaults"], capsys, "--bits", untouched=[tmp_path / "o"])
