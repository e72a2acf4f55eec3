"""One command-line vocabulary (gsoc_helpers.cli.args): --out, --psi, --source-option and --max-drop mean the same
on every command, no second spelling parses (0.x keeps no aliases), default output folders come from config, and building the parser
imports no torch (so --help is fast)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gsoc_helpers.cli import COMMAND_MODULES, build_parser, main
from gsoc_helpers.config import OUTPUT_DIR_ENV, OUTPUT_FOLDERS, default_output


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args([*argv, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def test_building_the_parser_imports_no_torch():
    code = (
        "import sys; from gsoc_helpers.cli import build_parser; build_parser(); "
        "import json; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'openvino', 'nncf', 'torch_fidelity', 'torchvision'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout) == []


def test_every_command_help_runs_in_a_fresh_process_without_torch():
    commands = sorted(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert len(commands) >= len(COMMAND_MODULES)
    code = (
        "import sys, contextlib, io\nfrom gsoc_helpers.cli import main\n"
        f"for c in {commands!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n            main([c, '--help'])\n        except SystemExit as e:\n"
        "            assert e.code == 0, c\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_out_is_the_one_output_flag_and_psi_the_one_truncation_flag(capsys):
    p = build_parser()
    assert p.parse_args(["demo", "--out", "a"]).out == "a"
    assert p.parse_args(["train-teacher", "--out", "b"]).out_dir == "b"
    assert p.parse_args(["distill", "--out", "c"]).out_dir == "c"
    assert (
        p.parse_args(["sample", "offline-teacher", "--psi", "0.5"]).psi
        == p.parse_args(["fid", "x", "--psi", "0.5"]).psi
        == 0.5
    )
    for argv in (
        ["demo", "--output", "a"],
        ["train-teacher", "--out-dir", "b"],
        ["sample", "g", "--truncation-psi", "1"],
    ):
        with pytest.raises(SystemExit) as stop:
            p.parse_args(argv)
        assert stop.value.code == 2 and f"unrecognized arguments: {argv[-2]}" in capsys.readouterr().err, argv
    for argv in (
        ["demo"],
        ["train-teacher"],
        ["distill"],
        ["sample", "g"],
        ["export", "g"],
        ["quantize-study"],
        ["reproduce-2022"],
        ["import-fakecifar10", "src"],
    ):
        text = _help(argv, capsys)
        assert "--out DIR" in text and "--out-dir" not in text and "--output" not in text, argv
    assert "--truncation-psi" not in _help(["sample", "g"], capsys)


def test_every_bundled_name_the_generator_help_offers_loads():
    from gsoc_helpers.cli.args import GENERATOR_HELP
    from gsoc_helpers.models.registry import BUNDLED

    offered = GENERATOR_HELP.split(" (bundled)")[0].split(" | ")
    assert offered == sorted(BUNDLED), offered  # no name that fails ("teacher" once did)


def test_default_output_folders_come_from_config(tmp_path, monkeypatch):
    from gsoc_helpers.training.configs import DistillConfig, GANTrainConfig

    monkeypatch.setenv(OUTPUT_DIR_ENV, str(tmp_path / "o"))
    assert default_output("demo") == tmp_path / "o" / OUTPUT_FOLDERS["demo"]
    assert GANTrainConfig().out_dir == str(default_output("train-teacher"))
    assert DistillConfig().out_dir == str(default_output("distill"))
    p = build_parser()
    assert p.parse_args(["train-teacher"]).out_dir == str(default_output("train-teacher"))
    assert p.parse_args(["export", "student"]).out == str(default_output("export"))
    assert not (tmp_path / "o").exists()  # building the parser creates nothing


def test_max_drop_is_in_points_on_every_command(monkeypatch, capsys):
    from gsoc_helpers.cli.quantize_study import accuracy_controls

    p = build_parser()
    study = p.parse_args(["quantize-study", "--accuracy-aware", "--max-drop", "2"])
    assert [c.max_drop for c in accuracy_controls(study).values()] == [0.02]  # 2 points -> 0.02 inside
    assert p.parse_args(["quantize-study"]).max_drop == 2  # the default, shown in points
    seen = {}

    def fake_quantize_model(model, calibration, out, **kw):
        seen.update(kw["options"].__dict__)
        raise ValueError("stop here")

    monkeypatch.setattr("gsoc_helpers.quantization.tool.quantize_model", fake_quantize_model)
    assert (
        main(
            [
                "quantize",
                "m.onnx",
                "--calibration",
                "noise",
                "--out",
                "o",
                "--max-drop",
                "2",
                "--source-option",
                "std=0.2",
                "--source-option",
                "noise:mean=0.4",
            ]
        )
        == 2
    )
    assert seen["max_drop"] == 0.02 and seen["source_options"] == {"std": 0.2, "mean": 0.4}
    for argv in (["quantize", "m", "--calibration", "noise", "--out", "o"], ["quantize-study"]):
        assert "in points" in _help(argv, capsys)
        with pytest.raises(SystemExit):
            p.parse_args([*argv, "--max-drop", "150"])
        assert "--max-drop: must be in (0, 100]" in capsys.readouterr().err


def test_sample_takes_the_same_generator_names_as_fid(tmp_path, capsys):
    """`sample offline-teacher` works like `fid offline-teacher`: one load_generator behind both."""
    assert (
        main(["sample", "offline-teacher", "--per-class", "1", "--out", str(tmp_path / "t"), "--threads", "1"]) == 0
    ), capsys.readouterr().err
    manifest = json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert manifest["generator_name"] == "offline-teacher" and manifest["total"] == 10
