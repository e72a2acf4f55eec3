"""Bad inputs of issue #21 that gave a traceback (or were accepted): each is now one line, exit 2, nothing written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch
from cli_checks import QUANTIZE_FAST, assert_refused
from doubles import tiny_onnx
from PIL import Image

from gsoc_helpers.quantization.user_model import first_line

from conftest import write_image_folder, write_tiny_synthetic
from official_fixtures import FAKECIFAR10_Z_DIM as Z_DIM
from official_fixtures import write_fakecifar10

ROOT = Path(__file__).resolve().parent.parent


def test_unknown_source_option_key_quantize_and_study(tmp_path, capsys):
    onnx = str(tiny_onnx(tmp_path / "m.onnx"))
    out = str(tmp_path / "out")
    assert_refused(
        ["quantize", onnx, "--calibration", "noise", "--source-option", "sdt=0.1", "--out", out, *QUANTIZE_FAST],
        capsys,
        "has no option 'sdt'; its options are mean, std",
        [tmp_path],
    )
    (tmp_path / "cal").mkdir()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(tmp_path / "cal" / "a.png")
    assert_refused(
        [
            "quantize",
            onnx,
            "--calibration",
            str(tmp_path / "cal"),
            "--source-option",
            "mean=0.1",
            "--out",
            out,
            *QUANTIZE_FAST,
        ],
        capsys,
        "not to a folder",
        [tmp_path],
    )
    assert_refused(
        ["quantize-study", "--sources", "noise", "bn-matching", "--source-option", "bn-matching:step=3", "--out", out],
        capsys,
        "'bn-matching' has no option 'step'",
        [tmp_path],
    )


BAD_LATENTS = {  # name: (tensor saved as class_1/noise_0.pt, fragment)
    "empty": (torch.zeros(0), "empty tensor"),
    "sparse": (torch.zeros(Z_DIM).to_sparse(), "sparse_coo tensor"),
    "nan": (torch.full((Z_DIM,), float("nan")), "NaN or infinite"),
    "inf": (torch.full((Z_DIM,), float("inf")), "NaN or infinite"),
    "complex": (torch.zeros(Z_DIM, dtype=torch.complex64), "complex64 tensor"),
}


@pytest.mark.parametrize("case", list(BAD_LATENTS))
def test_bad_fakecifar10_latents_are_one_line(case, tmp_path, capsys):
    write_fakecifar10(tmp_path / "fc", per_class=(1,) * 10)
    tensor, fragment = BAD_LATENTS[case]
    torch.save(tensor, tmp_path / "fc" / "class_1" / "noise_0.pt")
    assert_refused(
        ["import-fakecifar10", str(tmp_path / "fc"), "--out", str(tmp_path / "o")],
        capsys,
        fragment,
        [tmp_path / "fc"],
        progress=True,
    )  # found while importing: its bar was drawn
    torch.save(tensor, tmp_path / "fc" / "class_0" / "noise_0.pt")  # the first file, which gives z_dim
    assert_refused(
        ["import-fakecifar10", str(tmp_path / "fc"), "--out", str(tmp_path / "p")],
        capsys,
        fragment,
        [tmp_path / "fc", tmp_path / "p"],
    )


def test_duplicate_fakecifar10_ids_are_refused(tmp_path, capsys):
    write_fakecifar10(tmp_path / "fc", per_class=(2,) * 10)
    shutil.copy(tmp_path / "fc" / "class_3" / "image_1.png", tmp_path / "fc" / "class_3" / "image_01.png")
    assert_refused(
        ["import-fakecifar10", str(tmp_path / "fc"), "--out", str(tmp_path / "o")],
        capsys,
        "holds both image_01.png and image_1.png, the same id 1",
        [tmp_path],
    )


def test_openvino_reason_is_the_line_shown(tmp_path, capsys):
    (tmp_path / "bad.xml").write_text("<net><layers></net>")
    (tmp_path / "bad.bin").write_bytes(b"")
    line = assert_refused(
        ["quantize", str(tmp_path / "bad.xml"), "--calibration", "noise", "--out", str(tmp_path / "o"), *QUANTIZE_FAST],
        capsys,
        "Unable to read the model",
        [tmp_path],
    )
    assert "core.cpp" not in line, line
    text = (
        "Exception from src/inference/src/cpp/core.cpp:84:\nCheck 'false' failed at src/frontends/onnx/x.cpp:7:\n"
        "Unsupported operator Foo\n"
    )
    assert first_line(text) == "Unsupported operator Foo"
    assert (
        first_line("Exception from src/inference/src/cpp/core.cpp:84:\n")
        == "Exception from src/inference/src/cpp/core.cpp:84:"
    )  # nothing better: keep what there is


@pytest.mark.parametrize("value", ["nan", "inf", "Infinity"])
def test_demo_refuses_non_finite_parameters_before_starting(value, tmp_path, capsys):
    assert_refused(
        ["demo", "-p", "TRUNCATION_PSI", value, "--out", str(tmp_path / "d")],
        capsys,
        "must be a finite number",
        [tmp_path],
    )


def test_quantize_help_and_readme_say_a_factory_runs_code(capsys):
    from gsoc_helpers.cli import main

    with pytest.raises(SystemExit):
        main(["quantize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "IMPORTS AND RUNS package.module" in text and "sys.path" in text
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "**imports and runs** `package.module`" in readme and "`sys.path`" in readme


@pytest.mark.parametrize(
    "name, value, fragment",
    [
        ("SEED", "abc", "must be an integer"),
        ("SEED", "-1", "a seed is within"),
        ("SEED", "1e23", "must be an integer"),
        ("SEED", "1.5", "must be an integer"),
        ("TRUNCATION_PSI", "-7", "truncation psi is within"),
        ("TRUNCATION_PSI", "abc", "must be a number"),
        ("DEVICE", "toaster", "unknown device"),
    ],
)
def test_demo_checks_each_parameter_before_any_notebook_starts(name, value, fragment, tmp_path, capsys):
    assert_refused(["demo", "-p", name, value, "--out", str(tmp_path / "d")], capsys, fragment, [tmp_path])


def test_interrupt_messages_name_flags_the_command_has(capsys):
    from gsoc_helpers.cli import ON_INTERRUPT, build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command, text in ON_INTERRUPT.items():
        flags = set(commands[command]._option_string_actions)
        for flag in re.findall(r"--[a-z][a-z-]*", text):
            assert flag in flags, (command, text)


def test_empty_noise_file_and_duplicate_class_folders_are_one_line(tmp_path, capsys):
    write_fakecifar10(tmp_path / "fc", per_class=(1,) * 10)
    (tmp_path / "fc" / "class_1" / "noise_0.pt").write_bytes(b"")  # a 0-byte file: torch raises a bare EOFError
    argv = ["import-fakecifar10", str(tmp_path / "fc"), "--out", str(tmp_path / "o")]
    assert_refused(argv, capsys, "the file is empty", [tmp_path / "fc"], progress=True)
    write_fakecifar10(tmp_path / "fc2", per_class=(1,) * 10)
    shutil.copytree(tmp_path / "fc2" / "class_1", tmp_path / "fc2" / "class_01")  # one class, two folders
    argv = ["import-fakecifar10", str(tmp_path / "fc2"), "--out", str(tmp_path / "p")]
    assert_refused(argv, capsys, "holds both class_01 and class_1", [tmp_path])


BAD_MANIFESTS = {  # name: (change to manifest.json, fragment)
    "shard_size 0": (lambda m: {**m, "shard_size": 0}, "shard_size must be a whole number >= 1"),
    "a JSON list": (lambda m: [m], "holds a JSON list"),
    "class_names not a list": (lambda m: {**m, "class_names": 7}, "class_names must be a list of 10"),
    "absurd total": (lambda m: {**m, "total": 10**8}, "total 100000000 must be num_classes x per_class"),
}


@pytest.mark.parametrize("case", list(BAD_MANIFESTS))
def test_bad_synthetic_manifest_is_one_line(case, tmp_path, capsys):
    import json

    syn = write_tiny_synthetic(tmp_path / "syn")
    change, fragment = BAD_MANIFESTS[case]
    path = syn / "manifest.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    write_image_folder(tmp_path / "real", per_class=1)
    argv = ["distill", str(syn), "--out", str(tmp_path / "run"), "--device", "cpu", "--real-source"]
    assert_refused([*argv, str(tmp_path / "real"), "--no-progress"], capsys, fragment, [tmp_path / "syn"])
