"""No command deletes, or writes among, its own inputs: an output folder that is, holds or lies inside an input is
refused in one line (issue #21); ``.partial-PID`` folders of killed runs are cleaned; Ctrl-C says what is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_checks import QUANTIZE_FAST, assert_refused, tiny_train_teacher
from doubles import tiny_onnx

from gsoc_helpers.cli import main
from gsoc_helpers.safety import mark_output

from conftest import write_image_folder, write_tiny_synthetic
from official_fixtures import write_fakecifar10


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """models/tiny.onnx beside notes.txt, a calibration folder and a labelled held-out folder."""
    tiny_onnx(tmp_path / "models" / "tiny.onnx")
    (tmp_path / "models" / "notes.txt").write_text("an unrelated file of the user")
    write_image_folder(tmp_path / "cal", per_class=1)
    write_image_folder(tmp_path / "held", per_class=1)
    return {
        "root": tmp_path,
        "onnx": tmp_path / "models" / "tiny.onnx",
        "cal": tmp_path / "cal",
        "held": tmp_path / "held",
    }


def test_quantize_overwrite_refuses_every_input_and_deletes_nothing(inputs, capsys):
    root, onnx = inputs["root"], str(inputs["onnx"])
    cases = {  # --out: message
        inputs["cal"]: "is the calibration folder",
        inputs["held"]: "is the held-out folder",
        root / "models": "holds the model",
        root: "holds the model",
        inputs["cal"] / "airplane": "lies inside the calibration folder",
        inputs["held"] / "new": "lies inside the held-out folder",
    }
    for out, message in cases.items():
        argv = [
            "quantize",
            onnx,
            "--calibration",
            str(inputs["cal"]),
            "--held-out",
            str(inputs["held"]),
            "--out",
            str(out),
            "--overwrite",
            *QUANTIZE_FAST,
        ]
        assert_refused(argv, capsys, message, untouched=[root])  # nothing deleted, nothing added


def test_quantize_out_dot_fills_the_current_folder_and_cleans_stale_partials(inputs, tmp_path, monkeypatch, capsys):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".here.partial-{dead.pid}"  # what a kill -9 leaves: its own mark proves it a temporary
    (stale / "model_fp32.xml").parent.mkdir()
    (stale / "model_fp32.xml").write_text("half")
    mark_output(stale, "quantize", ["model_fp32.xml"])
    alive = tmp_path / f".here.partial-{os.getppid()}"  # a run still going: kept
    alive.mkdir()
    inode = here.stat().st_ino
    argv = ["quantize", str(inputs["onnx"]), "--calibration", "noise", "--out", ".", *QUANTIZE_FAST]
    assert main(argv) == 0, capsys.readouterr().err
    assert here.stat().st_ino == inode and Path.cwd() == here  # the same folder, not a replaced one
    assert {"model_int8.xml", "model_fp32.xml", "report.json", "report.md"} <= {p.name for p in here.iterdir()}
    assert not stale.exists() and alive.is_dir()
    capsys.readouterr()
    assert_refused(argv + ["--overwrite"], capsys, "is the current folder", untouched=[here])


def test_train_teacher_and_distill_refuse_their_inputs(tmp_path, capsys):
    write_image_folder(tmp_path / "imgs", per_class=1)
    syn = write_tiny_synthetic(tmp_path / "syn")
    assert_refused(
        tiny_train_teacher(str(tmp_path / "imgs"), tmp_path / "imgs", "--overwrite", steps=1),
        capsys,
        "is the data source folder",
        [tmp_path],
    )
    assert_refused(
        tiny_train_teacher(str(tmp_path), tmp_path / "imgs", "--overwrite", steps=1),
        capsys,
        "holds the data source folder",
        [tmp_path],
    )
    assert_refused(
        tiny_train_teacher(str(tmp_path / "imgs" / "cat"), tmp_path / "imgs", "--overwrite", steps=1),
        capsys,
        "lies inside the data source",
        [tmp_path],
    )
    d = [
        "distill",
        str(syn),
        "--ngf",
        "16",
        "--ndf",
        "8",
        "--batch-size",
        "4",
        "--max-steps",
        "1",
        "--device",
        "cpu",
        "--no-progress",
        "--real-source",
        str(tmp_path / "imgs"),
        "--overwrite",
        "--out",
    ]
    assert_refused(d + [str(syn)], capsys, "is the synthetic dataset", [tmp_path])
    assert_refused(d + [str(tmp_path / "imgs")], capsys, "is the real image folder", [tmp_path])


def test_import_and_sample_refuse_to_write_among_their_inputs(tmp_path, capsys):
    write_fakecifar10(tmp_path / "fc", per_class=(1,) * 10)
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "gen.safetensors").write_bytes(b"not read: refused before loading")
    fc = str(tmp_path / "fc")
    assert_refused(["import-fakecifar10", fc, "--out", fc], capsys, "is the FakeCIFAR10 folder", [tmp_path])
    assert_refused(
        ["import-fakecifar10", fc, "--out", str(tmp_path / "fc" / "class_0")],
        capsys,
        "lies inside the FakeCIFAR10",
        [tmp_path],
    )
    assert_refused(
        ["sample", str(tmp_path / "g" / "gen.safetensors"), "--out", str(tmp_path / "g")],
        capsys,
        "holds the generator",
        [tmp_path],
    )


@pytest.mark.parametrize("command,said", [("quantize", "nothing was written"), ("distill", "--resume"), ("fid", None)])
def test_ctrl_c_says_only_what_is_kept(command, said, monkeypatch, capsys):
    import gsoc_helpers.cli as cli

    parser = cli.build_parser()

    def interrupted(args):
        raise KeyboardInterrupt

    argv = {
        "quantize": ["quantize", "m.onnx", "--calibration", "noise", "--out", "o"],
        "distill": ["distill", "syn"],
        "fid": ["fid", "a", "b"],
    }[command]
    args = parser.parse_known_args(argv)[0]
    args.func = interrupted
    monkeypatch.setattr(cli, "build_parser", lambda: type("P", (), {"parse_args": lambda self, a: args})())
    assert cli.main(argv) == 130
    err = capsys.readouterr().err.strip()
    assert "finished work is kept" not in err
    assert (said in err) if said else err == "interrupted", err
