"""CLI: ``distill`` on tiny data (real images from a class-folder tree) and ``export`` with INT8."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from cli_checks import assert_refused
from PIL import Image

from gsoc_helpers.cli import main
from gsoc_helpers.data import CIFAR10_CLASSES
from gsoc_helpers.models.registry import save_generator
from gsoc_helpers.models.student import StudentConfig, StudentGenerator

from conftest import write_tiny_synthetic


@pytest.mark.slow
def test_distill_cli(tmp_path, capsys):
    syn = write_tiny_synthetic(tmp_path / "syn")
    rng = np.random.default_rng(0)
    for name in CIFAR10_CLASSES:
        (tmp_path / "real" / name).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "real" / name / "0.png")
    out = tmp_path / "run"
    argv = [
        "distill",
        str(syn),
        "--out",
        str(out),
        "--real-source",
        str(tmp_path / "real"),
        "--ngf",
        "16",
        "--ndf",
        "8",
        "--batch-size",
        "8",
        "--max-steps",
        "2",
        "--device",
        "cpu",
        "--no-progress",
    ]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["step"] == 2
    assert main(argv[:-4] + ["3", "--device", "cpu", "--no-progress", "--resume"]) == 0  # resumes from step 2
    assert [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [2, 3]
    assert_refused(["distill", str(tmp_path / "nope"), "--out", str(out)], capsys, "nope", untouched=[out])


@pytest.mark.slow
def test_export_cli(tmp_path, capsys):
    pytest.importorskip("openvino")
    torch.manual_seed(0)
    ckpt = save_generator(StudentGenerator(StudentConfig(z_dim=8, ngf=16)).eval(), tmp_path / "s.safetensors")
    assert main(["export", str(ckpt), "--out", str(tmp_path / "ir"), "--int8", "--calibration-size", "16"]) == 0
    text = capsys.readouterr().out
    assert "PSNR" in text and (tmp_path / "ir" / "generator_int8.xml").is_file()
