"""The one study engine: INT8 settings, bit widths and accuracy-aware PTQ as specs over one cell store; caching,
resuming after a cut line, ``shard=(i, n)``; selection on validation only."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from doubles import TinyClassifier

from gsoc_helpers.quantization import lowbit, ptq
from gsoc_helpers.quantization.ptq import PTQConfig
from gsoc_helpers.study import selection
from gsoc_helpers.study.cells import CellStore, decode_outcomes, load_cells, shard_of
from gsoc_helpers.study.engine import run_study as run
from gsoc_helpers.study.specs import BitsSpec, Int8Spec
from gsoc_helpers.study.splits import ForbiddenTestRead, cifar10_splits, fixed_splits
from gsoc_helpers.study.tables import summarize


def _tiny(name: str):
    return TinyClassifier(width=8, second_bn=False)


def _data(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 32, 32, generator=g), torch.arange(n) % 10


def _counting(monkeypatch, module=ptq, name: str = "quantize") -> list:
    calls: list = []
    real = getattr(module, name)

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(module, name, counting)
    return calls


class Unscaled(TinyClassifier):
    """TinyClassifier without its final constant Multiply: NNCF 3.4.0's NPU config fails on a Multiply by a
    constant after the last MatMul (its unified-scale group gets no statistics: IndexError in _unify_statistics)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.f(x).mean((2, 3)))


FAST = {"fast": PTQConfig(bias_correction="fast")}


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_shards_are_disjoint_and_cover(n):
    items = list(range(7))
    parts = [shard_of(items, (i, n)) for i in range(n)]
    assert sorted(x for p in parts for x in p) == items
    with pytest.raises(ValueError, match="expected 0 <= i < n"):
        shard_of(items, (n, n))


def test_int8_cells_cache_resume_and_keep_outcomes(tmp_path, monkeypatch):
    calls = _counting(monkeypatch)
    spec = Int8Spec(models=["m"], sources=["noise"], sizes=[10], seeds=[0, 1], configs=FAST)
    splits = fixed_splits({"t": _data(32)})
    cells = run(spec, splits, "test", tmp_path, _tiny, progress=False)
    assert len(cells) == 2 and len(calls) == 2
    c = cells[0]
    assert c["role"] == "test" and c["study"] == "int8" and c["t_n"] == 32 and 0 <= c["t_agreement"] <= 100
    assert 100 * decode_outcomes(c["t_outcomes"], 32).mean() == pytest.approx(c["t_agreement"])
    run(spec, splits, "test", tmp_path, _tiny, progress=False)
    assert len(calls) == 2  # rerun: nothing recomputed
    path = tmp_path / "cells.jsonl"
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1][:20])  # interrupted while writing the second cell
    cells = run(spec, splits, "test", tmp_path, _tiny, progress=False)
    assert len(calls) == 3 and sorted(c["seed"] for c in cells) == [0, 1]
    other = Int8Spec(models=["m"], sources=["noise"], sizes=[10], seeds=[0], configs={"fast": PTQConfig()})
    mine = run(other, splits, "test", tmp_path, _tiny, progress=False)  # same name, other settings
    assert len(calls) == 4 and len(mine) == 1 and "bias_correction=none" in mine[0]["config_key"]
    assert len(load_cells(path)) == 3
    table = summarize(cells, tmp_path)
    assert table.loc[0, "n_seeds"] == 2 and "t_agreement_mean" in table.columns
    assert "±" in (tmp_path / "summary.md").read_text()


def test_specs_given_one_calibration_cache_share_its_images(tmp_path, monkeypatch):
    from gsoc_helpers.study import engine

    calls = _counting(monkeypatch, engine, "get_calibration")
    splits, cache = fixed_splits({"t": _data(16)}), tmp_path / "calibration"
    int8 = Int8Spec(models=["m"], sources=["noise"], sizes=[10], seeds=[0], configs=FAST, calibration_cache=cache)
    bits = BitsSpec(["m"], ["noise"], [10], [0], bits=["W4A4"], estimators=["minmax"], calibration_cache=cache)
    first = run(int8, splits, "test", tmp_path / "int8", _tiny, progress=False)
    low = run(bits, splits, "test", tmp_path / "bits", _tiny, progress=False)  # another store, the same images
    assert len(calls) == 1 and len(list(cache.glob("*.pt"))) == 1
    assert low[0]["what"] == first[0]["what"] and low[0]["calibration_seconds"] == first[0]["calibration_seconds"]
    plain = BitsSpec(["m"], ["noise"], [10], [0], bits=["W4A4"], estimators=["minmax"])
    run(plain, splits, "test", tmp_path / "plain", _tiny, progress=False)
    assert len(calls) == 2 and not (tmp_path / "plain" / "calibration").exists()  # no folder named: nothing kept


def test_validation_and_test_cells_never_mix(tmp_path, monkeypatch):
    calls = _counting(monkeypatch)
    spec = Int8Spec(models=["m"], sources=["noise"], sizes=[10], seeds=[0], configs=FAST)
    splits = fixed_splits({"t": _data(16)}, {"v": _data(16, 1)})
    val = run(spec, splits.selection(), "validation", tmp_path, _tiny, progress=False)
    test = run(spec, splits, "test", tmp_path, _tiny, progress=False)
    assert len(calls) == 2 and val[0]["key"] != test[0]["key"]
    assert "v_agreement" in val[0] and "t_agreement" not in val[0] and "t_agreement" in test[0]
    with pytest.raises(ForbiddenTestRead):
        run(spec, splits.selection(), "test", tmp_path, _tiny, progress=False)


def test_shards_merge_without_rework(tmp_path, monkeypatch):
    calls = _counting(monkeypatch)
    spec = Int8Spec(models=["m"], sources=["noise"], sizes=[10], seeds=[0, 1, 2], configs=FAST)
    splits = fixed_splits({"t": _data(32)})
    parts = [run(spec, splits, "test", tmp_path / f"s{i}", _tiny, progress=False, shard=(i, 2)) for i in (0, 1)]
    keys = [{c["key"] for c in p} for p in parts]
    assert len(calls) == 3 and keys[0].isdisjoint(keys[1]) and len(keys[0] | keys[1]) == 3
    merged = CellStore(tmp_path / "all")
    merged.path.write_text("".join((tmp_path / f"s{i}" / "cells.jsonl").read_text() for i in (0, 1)))
    cells = run(spec, splits, "test", merged.folder, _tiny, progress=False)
    assert len(calls) == 3 and {c["key"] for c in cells} == keys[0] | keys[1]


def test_bits_spec_shards_and_resumes(tmp_path, monkeypatch):
    calls = _counting(monkeypatch, lowbit, "calibrate_for_relevel")
    spec = BitsSpec(["m"], ["noise"], [10], [0, 1], bits=["W4A4", "8"], estimators=["minmax", "mse"])
    splits = fixed_splits({"t": _data(32)})
    parts = [run(spec, splits, "test", tmp_path, _tiny, progress=False, shard=(i, 2)) for i in (0, 1)]
    assert len(calls) == 2 and [len(p) for p in parts] == [4, 4]
    assert {c["config"] for c in parts[0]} == {"W4A4/minmax", "W4A4/mse", "W8A8/minmax", "W8A8/mse"}
    path = tmp_path / "cells.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:15])  # the last cell cut by an interrupt
    again = run(spec, splits, "test", tmp_path, _tiny, progress=False)
    assert len(calls) == 3 and len(again) == 8 and len(path.read_text().splitlines()) == 8
    table = summarize(again)
    from gsoc_helpers.quantization.lowbit_plots import best_estimator_markdown, plot_bits

    assert "| W4A4 | " in best_estimator_markdown(table, "t")
    assert plot_bits(table, tmp_path / "bits.png", "t").stat().st_size > 0


def test_bits_spec_nncf_cells_beside_relevelled_ones(tmp_path, monkeypatch):
    """'nncf' cells come from NNCF's own call on the same calibration images, only where NNCF expresses the bits."""
    calls = _counting(monkeypatch, lowbit, "nncf_lowbit")
    spec = BitsSpec(["m"], ["noise"], [10], [0], bits=["W4A4", "W3A3"], estimators=["minmax", "nncf"])
    cells = run(
        spec, fixed_splits({"t": _data(32)}), "test", tmp_path, lambda _name: Unscaled(8, False), progress=False
    )
    assert sorted(c["config"] for c in cells) == ["W3A3/minmax", "W4A4/minmax", "W4A4/nncf"] and len(calls) == 1
    assert all(0 <= c["t_agreement"] <= 100 for c in cells)
    with pytest.raises(ValueError, match="range estimator"):
        BitsSpec(["m"], ["noise"], estimators=["nncf-ish"]).validate(check_models=False)


def test_selection_reads_validation_only_and_refuses_the_splits(tmp_path, monkeypatch):
    spec = Int8Spec(models=["m"], sources=["noise"], sizes=[10], seeds=[0], configs={**FAST, "none": PTQConfig()})
    splits = fixed_splits({"t": _data(16)}, {"v": _data(16, 1)})
    with pytest.raises(TypeError, match="selection view"):
        selection.choose_setting(splits, spec, tmp_path)  # type: ignore[arg-type]
    name, table = selection.choose_setting(splits.selection(), spec, tmp_path, model_factory=_tiny, progress=False)
    assert name in ("fast", "none") and set(table["config"]) == {"fast", "none"}
    assert all(c["role"] == "validation" for c in load_cells(tmp_path))


def test_selection_never_loads_a_cifar10_test_set(data_root, tmp_path, monkeypatch):
    """Selection reads the validation images (test-split images in no test set) and never a test set."""
    from gsoc_helpers.study.cifar_test_split import CifarTestSplit

    def guarded(*a, **k):
        raise AssertionError("selection code loaded a CIFAR-10 test set")

    monkeypatch.setattr(CifarTestSplit, "test", guarded)
    spec = BitsSpec(["m"], ["real", "noise"], [10], [0], bits=["W4A4"], estimators=["minmax", "mse"])
    choice, _ = selection.choose_estimators(
        cifar10_splits().selection(), spec, tmp_path, model_factory=_tiny, progress=False
    )
    assert set(choice) == {("m", "real", "W4A4"), ("m", "noise", "W4A4")}
    assert set(choice.values()) <= {"minmax", "mse"}


def test_choose_estimators_never_chooses_nncf_own_call(tmp_path, monkeypatch):
    """A fine-tuning start needs a range estimator: an 'nncf' cell that agrees 100 % (here: the FP32 model itself)
    stays in the table but is never the choice."""
    monkeypatch.setattr(lowbit, "nncf_lowbit", lambda fp32, *a, **k: fp32)
    spec = BitsSpec(["m"], ["noise"], [10], [0], bits=["W4A4"], estimators=["nncf", "minmax"])
    splits = fixed_splits({"t": _data(16)}, {"v": _data(16, 1)})
    choice, table = selection.choose_estimators(splits.selection(), spec, tmp_path, model_factory=_tiny, progress=False)
    assert choice == {("m", "noise", "W4A4"): "minmax"}
    assert table.set_index("config").loc["W4A4/nncf", "v_agreement_mean"] == 100


def test_choose_source_options_labels_each_candidate(tmp_path):
    spec = Int8Spec(models=["m"], sources=["noise"], sizes=[10], seeds=[0], configs=FAST)
    splits = fixed_splits({"t": _data(16)}, {"v": _data(16, 1)})
    recipes = {"dark": {"mean": 0.2}, "mid": {"mean": 0.5}}
    name, table = selection.choose_source_options(
        splits.selection(), spec, "noise", recipes, tmp_path, model_factory=_tiny, progress=False
    )
    assert name in recipes and set(table["source"]) == {"noise[dark]", "noise[mid]"}


def test_finetune_spec_runs_through_the_engine_on_validation(shared_data_root, tmp_path):
    from gsoc_helpers.study.specs import FinetuneSpec

    spec = FinetuneSpec(["akamaster_resnet20"], ["noise"], [10], [0], lrs=[1e-5], steps=[2],
                        options={"batch_size": 4, "pool_size": 8})  # fmt: skip
    x, y = _data(20)
    splits = fixed_splits({"exact": (x, y)}, {"v": (x, y)})
    choice, table = selection.choose_variant(splits.selection(), spec, tmp_path, progress=False)
    assert choice == {("akamaster_resnet20", "noise"): "W4A4/lr1e-05/2"}
    cell = load_cells(tmp_path)[0]
    assert cell["role"] == "validation" and 0 <= cell["v_agreement"] <= 100 and cell["history"][-1]["step"] == 2
    assert (tmp_path / "finetune").is_dir()  # its checkpoints below the store
    assert 0 <= cell["v_ir_agreement"] <= 100 and cell["ir"] == "model.xml"  # the fine-tuned IR, run by OpenVINO
    assert cell["trained_in"] is None  # trained for itself
    test = run(spec, splits, "test", tmp_path, progress=False)[0]  # the same seed and schedule: not trained again
    assert test["trained_in"] == next((tmp_path / "finetune").glob("p2_v_*")).name and test["exact_n"] == 20
    assert test["seconds"] == cell["seconds"] and [h["step"] for h in test["history"]] == [0, 2]
    assert 100 * decode_outcomes(test["exact_outcomes"], 20).mean() == pytest.approx(test["exact_agreement"])


def test_bits_spec_given_the_choices_measures_only_them_and_nncf(tmp_path):
    """The test stage: each group's chosen estimator per width (by model and source) and NNCF's own call, no other."""
    chosen = {"m|noise|W4A4": "mse", "m|noise|W3A3": "minmax", "m|fractal|W4A4": "minmax"}
    spec = BitsSpec(["m"], ["noise", "fractal"], [10], [0], bits=["W4A4", "W3A3"], estimators=["minmax", "mse", "nncf"],
                    chosen=chosen)  # fmt: skip
    assert spec.group_variants(("m", "noise", 10, 0)) == ["W4A4/mse", "W4A4/nncf", "W3A3/minmax"]
    assert spec.group_variants(("m", "fractal", 10, 0)) == ["W4A4/minmax", "W4A4/nncf"]  # W3A3 never chosen: none
    assert BitsSpec(["m"], ["noise"], bits=["W4A4"], estimators=["minmax", "mse"]).group_variants(
        ("m", "noise", 10, 0)
    ) == ["W4A4/minmax", "W4A4/mse"]
    cells = run(replace(spec, estimators=["minmax", "mse"]), fixed_splits({"t": _data(32)}), "test", tmp_path, _tiny,
                progress=False)  # fmt: skip
    assert sorted((c["source"], c["config"]) for c in cells) == [
        ("fractal", "W4A4/minmax"),
        ("noise", "W3A3/minmax"),
        ("noise", "W4A4/mse"),
    ]


def test_finetune_spec_makes_its_sets_once_through_the_cache(shared_data_root, tmp_path, monkeypatch):
    """Two schedules of one group share the calibration set and the training pool (bn-matching takes minutes)."""
    import gsoc_helpers.study.engine as engine
    from gsoc_helpers.study.specs import FinetuneSpec

    calls = _counting(monkeypatch, engine, "get_calibration")
    spec = FinetuneSpec(["akamaster_resnet20"], ["noise"], [10], [0], lrs=[1e-5], steps=[1, 2],
                        options={"batch_size": 4, "pool_size": 8}, calibration_cache=tmp_path / "cache")  # fmt: skip
    x, y = _data(12)
    cells = run(spec, fixed_splits({"exact": (x, y)}), "test", tmp_path / "store", progress=False)
    assert sorted(c["config"] for c in cells) == ["W4A4/lr1e-05/1", "W4A4/lr1e-05/2"]
    assert len(calls) == 2 and len(list((tmp_path / "cache").glob("*.pt"))) == 2  # 10 images seed 0, 8 seed 1


def test_generator_weights_are_part_of_every_key(tmp_path, monkeypatch):
    """New weights under the same checkpoint path never reuse the cells or the cached images of the old ones."""
    from gsoc_helpers.models.registry import save_generator
    from gsoc_helpers.models.student import StudentConfig, StudentGenerator
    from gsoc_helpers.study import engine

    calls = _counting(monkeypatch, engine, "get_calibration")
    ckpt = tmp_path / "g.safetensors"

    def save(seed: int) -> None:
        torch.manual_seed(seed)
        save_generator(StudentGenerator(StudentConfig(z_dim=8, ngf=16)).eval(), ckpt)

    save(0)
    spec = Int8Spec(
        ["m"], ["student"], [10], [0], {"student": {"generator": str(ckpt)}}, configs=FAST,
        calibration_cache=tmp_path / "cache",
    )  # fmt: skip
    splits = fixed_splits({"t": _data(16)})
    first = run(spec, splits, "test", tmp_path / "cells", _tiny, progress=False)
    run(spec, splits, "test", tmp_path / "cells", _tiny, progress=False)
    assert len(calls) == 1 and "|weights=" in first[0]["key"]
    save(1)
    second = run(spec, splits, "test", tmp_path / "cells", _tiny, progress=False)
    assert len(calls) == 2 and second[0]["key"] != first[0]["key"]
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 2
    plain = Int8Spec(["m"], ["noise"], [10], [0], configs=FAST).key(("m", "noise", 10, 0), "fast", "test")
    assert "weights=" not in plain
