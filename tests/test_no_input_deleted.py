"""No command deletes, or writes among, its own inputs: an output folder that is, holds or lies inside an input is
refused in one line (issue #21); ``.partial-PID`` folders of killed runs are cleaned; Ctrl-C says what is kept."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import write_image_folder
from torch import nn

from gsoc_helpers.cli import main
from gsoc_helpers.safety import clean_stale_temporaries, refuse_overlap
from test_bad_input import assert_one_line_error, run_cli

FAST_CLI = ["--calibration-size", "8", "--held-out-size", "8", "--speed-batches", "1", "--speed-seconds", "0.02",
            "--threads", "1"]


def tree_digest(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``root``."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def tiny_onnx(path: Path) -> Path:
    """A seeded 10-class conv net for 32x32 RGB, exported to ONNX at ``path``."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 10)).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(net, (torch.zeros(1, 3, 32, 32),), str(path), dynamo=False)
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """models/tiny.onnx beside notes.txt, a calibration folder and a labelled held-out folder."""
    tiny_onnx(tmp_path / "models" / "tiny.onnx")
    (tmp_path / "models" / "notes.txt").write_text("an unrelated file of the user")
    write_image_folder(tmp_path / "cal", per_class=1)
    write_image_folder(tmp_path / "held", per_class=1)
    return {"root": tmp_path, "onnx": tmp_path / "models" / "tiny.onnx", "cal": tmp_path / "cal",
            "held": tmp_path / "held"}


def test_quantize_overwrite_refuses_every_input_and_deletes_nothing(inputs, capsys):
    root, onnx = inputs["root"], str(inputs["onnx"])
    before = tree_digest(root)
    cases = {  # --out: message
        inputs["cal"]: "is the calibration folder",
        inputs["held"]: "is the held-out folder",
        root / "models": "holds the model",
        root: "holds the model",
        inputs["cal"] / "airplane": "lies inside the calibration folder",
        inputs["held"] / "new": "lies inside the held-out folder",
    }
    for out, message in cases.items():
        argv = ["quantize", onnx, "--calibration", str(inputs["cal"]), "--held-out", str(inputs["held"]),
                "--out", str(out), "--overwrite", *FAST_CLI]
        assert_one_line_error(*run_cli(argv, capsys), message)
        assert tree_digest(root) == before, out  # nothing deleted, nothing added


def test_quantize_out_dot_fills_the_current_folder_and_cleans_stale_partials(inputs, tmp_path, monkeypatch, capsys):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".here.partial-{dead.pid}"  # what a kill -9 leaves
    (stale / "model_fp32.xml").parent.mkdir()
    (stale / "model_fp32.xml").write_text("half")
    alive = tmp_path / f".here.partial-{os.getppid()}"  # a run still going: kept
    alive.mkdir()
    inode = here.stat().st_ino
    argv = ["quantize", str(inputs["onnx"]), "--calibration", "noise", "--out", ".", *FAST_CLI]
    assert main(argv) == 0, capsys.readouterr().err
    assert here.stat().st_ino == inode and Path.cwd() == here  # the same folder, not a replaced one
    assert {"model_int8.xml", "model_fp32.xml", "report.json", "report.md"} <= {p.name for p in here.iterdir()}
    assert not stale.exists() and alive.is_dir()
    capsys.readouterr()
    assert_one_line_error(*run_cli(argv + ["--overwrite"], capsys), "is the current folder")
    assert (here / "report.json").is_file()


def test_train_teacher_and_distill_refuse_their_inputs(tmp_path, capsys):
    from test_distill_trainer import write_tiny_synthetic

    write_image_folder(tmp_path / "imgs", per_class=1)
    syn = write_tiny_synthetic(tmp_path / "syn")
    before = tree_digest(tmp_path)
    tt = ["train-teacher", "--steps", "1", "--batch-size", "2", "--ngf", "8", "--ndf", "8", "--grid-every", "0",
          "--data-source", str(tmp_path / "imgs"), "--no-progress", "--overwrite", "--out-dir"]
    assert_one_line_error(*run_cli(tt + [str(tmp_path / "imgs")], capsys), "is the data source folder")
    assert_one_line_error(*run_cli(tt + [str(tmp_path)], capsys), "holds the data source folder")
    assert_one_line_error(*run_cli(tt + [str(tmp_path / "imgs" / "cat")], capsys), "lies inside the data source")
    d = ["distill", str(syn), "--ngf", "16", "--ndf", "8", "--batch-size", "4", "--max-steps", "1", "--device",
         "cpu", "--no-progress", "--real-source", str(tmp_path / "imgs"), "--overwrite", "--out-dir"]
    assert_one_line_error(*run_cli(d + [str(syn)], capsys), "is the synthetic dataset")
    assert_one_line_error(*run_cli(d + [str(tmp_path / "imgs")], capsys), "is the real image folder")
    assert tree_digest(tmp_path) == before


def test_import_and_sample_refuse_to_write_among_their_inputs(tmp_path, capsys):
    from test_fakecifar10_import import write_fakecifar10

    write_fakecifar10(tmp_path / "fc", per_class=(1,) * 10)
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "gen.safetensors").write_bytes(b"not read: refused before loading")
    before = tree_digest(tmp_path)
    assert_one_line_error(*run_cli(["import-fakecifar10", str(tmp_path / "fc"), "--out", str(tmp_path / "fc")],
                                   capsys), "is the FakeCIFAR10 folder")
    assert_one_line_error(*run_cli(["import-fakecifar10", str(tmp_path / "fc"), "--out",
                                    str(tmp_path / "fc" / "class_0")], capsys), "lies inside the FakeCIFAR10")
    assert_one_line_error(*run_cli(["sample", str(tmp_path / "g" / "gen.safetensors"), "--out", str(tmp_path / "g")],
                                   capsys), "holds the generator")
    assert tree_digest(tmp_path) == before


def test_refuse_overlap_and_stale_cleanup_units(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    refuse_overlap(tmp_path / "c", [("x", tmp_path / "a"), ("name", "student"), ("none", None)])  # apart: fine
    refuse_overlap(tmp_path / "ab", [("x", tmp_path / "a")])  # a sibling sharing a prefix is apart
    with pytest.raises(ValueError, match="holds the x"):
        refuse_overlap(tmp_path, [("x", tmp_path / "a" / "b")])
    (tmp_path / ".o.old-999999999").mkdir()  # no such process
    (tmp_path / ".o.partial-x").mkdir()  # not ours: kept
    assert clean_stale_temporaries(tmp_path / "o") == [tmp_path / ".o.old-999999999"]
    assert (tmp_path / ".o.partial-x").is_dir()


@pytest.mark.parametrize("command,said", [("quantize", "nothing was written"), ("distill", "--resume"),
                                          ("fid", None)])
def test_ctrl_c_says_only_what_is_kept(command, said, monkeypatch, capsys):
    import gsoc_helpers.cli as cli

    parser = cli.build_parser()

    def interrupted(args):
        raise KeyboardInterrupt

    argv = {"quantize": ["quantize", "m.onnx", "--calibration", "noise", "--out", "o"],
            "distill": ["distill", "syn"], "fid": ["fid", "a", "b"]}[command]
    args = parser.parse_known_args(argv)[0]
    args.func = interrupted
    monkeypatch.setattr(cli, "build_parser", lambda: type("P", (), {"parse_args": lambda self, a: args})())
    assert cli.main(argv) == 130
    err = capsys.readouterr().err.strip()
    assert "finished work is kept" not in err
    assert (said in err) if said else err == "interrupted", err
