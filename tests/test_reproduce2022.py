"""reproduce-2022: the plan (offline substitutes), both grids, the side-by-side table, CLI errors.

The offline plan reads the data root's CIFAR-10 copies (the 1,017 exact test images): these tests need it."""

from __future__ import annotations

from cli_checks import assert_refused
from doubles import TinyClassifier  # the grid's plumbing without a real model's cost

from gsoc_helpers.quantization import reproduce2022 as rep


def test_offline_plan_names_its_substitutes(shared_data_root):
    p = rep.plan("offline", original_size=100000, project_size=50, seeds=[0])
    assert p.models == ["akamaster_resnet20", "akamaster_resnet32", "akamaster_resnet44", "akamaster_resnet56"]
    assert p.test_set == "exact" and p.source_options["stylegan2-ada"] == {"generator": "offline-teacher"}
    text = "\n".join(p.substitutes)
    for what in (
        "offline zoo",
        "bit-exact subset",
        "'offline-teacher'",
        "'student'",
        "gsoc_helpers.calibration.fractals",
        "2022 calibration size 100000 ->",
    ):
        assert what in text
    assert p.original_size % 10 == 0 and p.original_size < 100000
    # a user's 2022 DiStyleGAN folder and an imported FakeCIFAR10 replace the bundled stand-ins
    q = rep.plan("offline", student="ckpt_dir", teacher_dataset="fake_ds")
    assert q.source_options["student"] == {"generator": "ckpt_dir"}
    assert q.source_options["stylegan2-ada"] == {"dataset": "fake_ds"}
    assert not any("'student'" in s or "offline-teacher" in s for s in q.substitutes)


def test_original_grid_uses_pot_settings(shared_data_root):
    original, project = rep.grids(rep.plan("offline", models=["akamaster_resnet20"], original_size=500))
    assert original.sizes == [500] and original.seeds == [0] and original.sources == list(rep.SOURCE_NAMES)
    cfg = original.configs["default(POT)"]
    assert (cfg.preset, cfg.bias_correction, cfg.subset_size, cfg.activation_range) == (
        "performance",
        "fast",
        None,
        None,
    )
    aac = original.accuracy_control["accuracy-aware(POT, on calibration)"]
    assert aac.max_drop == 0.02 and aac.validation == "calibration"
    assert project.accuracy_control["accuracy-aware(held-out)"].validation == "heldout"
    assert project.sizes == [300] and project.seeds == [0, 1, 2]


def test_run_prints_both_protocols_side_by_side(tmp_path, shared_data_root):
    p = rep.plan("offline", models=["tiny"], original_size=10, project_size=10, seeds=[0], val_size=10)
    table, head = rep.run(
        p, tmp_path, progress=False, model_factory=lambda name: TinyClassifier(width=8, second_bn=False)
    )
    assert list(table.index.get_level_values("calibration")) == ["CIFAR-10", "StyleGAN2-ADA", "DiStyleGAN", "Fractal"]
    assert list(table.columns)[:3] == ["FP32 top-1", "2022 default INT8 top-1", "2022 default drop"]
    assert list(table.columns)[-4:-2] == ["ours default agreement", "ours default KL(1e-3)"]
    for col in (
        "FP32 top-1",
        "2022 default INT8 top-1",
        "2022 acc-aware drop",
        "2022 acc-aware FP32 layers",
        "ours default agreement",
        "ours acc-aware KL(1e-3)",
    ):
        assert col in table.columns and table[col].notna().all()
    assert "±" in table["ours default agreement"].iloc[0]
    md = (tmp_path / "reproduce_2022.md").read_text()
    assert "Substitutes:" in md and "-> tiny (offline zoo" in md and "(1017 images)" in md
    assert len((tmp_path / "original_protocol" / "cells.jsonl").read_text().splitlines()) == 8
    assert len((tmp_path / "project_protocol" / "cells.jsonl").read_text().splitlines()) == 8


def test_cli_errors(capsys, shared_data_root):
    assert_refused(["reproduce-2022", "--zoo", "offline", "--project-size", "3"], capsys, "must be >= 10")
    assert_refused(
        ["reproduce-2022", "--zoo", "offline", "--models", "nope", "--original-size", "20", "--project-size", "10"],
        capsys,
        "unknown classifier",
    )
