"""Accuracy-aware PTQ in the study engine and the CLI: held-out real validation by default, the 2022 protocol on request."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from doubles import TinyClassifier

from gsoc_helpers.calibration import get_calibration
from gsoc_helpers.quantization import accuracy
from gsoc_helpers.quantization.accuracy import AccuracyControl, heldout_validation
from gsoc_helpers.quantization.ptq import PTQConfig
from gsoc_helpers.study.engine import run_study
from gsoc_helpers.study.specs import Int8Spec
from gsoc_helpers.study.splits import fixed_splits


def Tiny() -> TinyClassifier:
    return TinyClassifier(width=8, second_bn=False)


def test_heldout_validation_is_real_balanced_and_disjoint_from_calibration(shared_data_root):
    calib = get_calibration("real", 40, seed=0)
    x, y = heldout_validation(calib, 30, seed=0)
    assert x.shape == (30, 3, 32, 32) and np.bincount(y.numpy()).tolist() == [3] * 10
    used = {r.tobytes() for r in (calib.images * 255).round().to(torch.uint8).numpy()}
    assert not any(r.tobytes() in used for r in (x * 255).round().to(torch.uint8).numpy())
    x2, _ = heldout_validation(calib, 30, seed=0)
    assert torch.equal(x, x2)


def test_runner_accuracy_aware_protocols(tmp_path, monkeypatch, shared_data_root):
    seen = {}
    real = accuracy.quantize_with_accuracy_control

    def spy(fp32, calib, vx, vy, max_drop, config):
        seen[len(seen)] = (calib, vx, vy, max_drop)
        return real(fp32, calib, vx, vy, max_drop=max_drop, config=config)

    monkeypatch.setattr(accuracy, "quantize_with_accuracy_control", spy)
    cfg = PTQConfig(preset="performance", bias_correction="fast", activation_range=None)
    grid = Int8Spec(
        models=["tiny"],
        sources=["noise"],
        sizes=[12],
        seeds=[0],
        configs={"d": cfg, "aa": cfg, "aa-cal": cfg},
        accuracy_control={"aa": AccuracyControl(0.05, "heldout", 20), "aa-cal": AccuracyControl(0.05, "calibration")},
    )
    g = torch.Generator().manual_seed(0)
    tests = fixed_splits({"t": (torch.rand(24, 3, 32, 32, generator=g), torch.arange(24) % 10)})
    cells = run_study(grid, tests, "test", tmp_path, model_factory=lambda n: Tiny(), progress=False)
    by = {c["config"]: c for c in cells}
    assert set(by) == {"d", "aa", "aa-cal"} and len(seen) == 2
    assert "accuracy_control" not in by["d"] and by["aa"]["n_fp32_layers"] >= 0
    assert "val=heldout" in by["aa"]["key"] and "val=calibration" in by["aa-cal"]["key"]
    (c1, vx1, _, d1), (c2, vx2, vy2, _) = seen[0], seen[1]
    # 2022 protocol: validates on the calibration set itself, with its (here nominal) labels
    assert d1 == 0.05 and torch.equal(vx2, c2) and torch.equal(vy2, get_calibration("noise", 12, seed=0).labels)
    assert vx1.shape == (20, 3, 32, 32) and not torch.equal(vx1[:12], c1)  # held-out: real train images
    run_study(grid, tests, "test", tmp_path, model_factory=lambda n: Tiny(), progress=False)
    assert len(seen) == 2  # cached
    with pytest.raises(KeyError, match="unknown config"):
        Int8Spec(
            models=["tiny"], sources=["noise"], configs={"d": cfg}, accuracy_control={"x": AccuracyControl()}
        ).validate(check_models=False)
    with pytest.raises(ValueError, match="max_drop"):
        AccuracyControl(max_drop=2).validate()


def test_cli_quantize_study_accuracy_aware(tmp_path, capsys, shared_data_root):
    from gsoc_helpers.cli import main

    out = tmp_path / "q"
    rc = main(
        [
            "quantize-study",
            "--models",
            "akamaster_resnet20",
            "--sources",
            "noise",
            "--sizes",
            "16",
            "--seeds",
            "0",
            "--accuracy-aware",
            "--accuracy-data",
            "heldout",
            "calibration",
            "--max-drop",
            "0.5",
            "--val-size",
            "20",
            "--out",
            str(out),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    cells = [json.loads(line) for line in (out / "cells.jsonl").read_text().splitlines()]
    assert sorted(c["config"] for c in cells) == ["accuracy-aware", "accuracy-aware-on-calibration(2022)", "default"]
    assert "accuracy-aware-on-calibration(2022)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:  # --max-drop is in points on every command: (0, 100]
        main(
            [
                "quantize-study",
                "--models",
                "akamaster_resnet20",
                "--sources",
                "noise",
                "--accuracy-aware",
                "--max-drop",
                "150",
                "--out",
                str(out),
            ]
        )
    assert exit_info.value.code == 2 and "--max-drop: must be in (0, 100]" in capsys.readouterr().err
