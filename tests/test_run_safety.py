"""Nothing is lost or silently mixed: run folders are not reused unless asked, resumed runs keep their settings,
logs hold each step once, and an interrupted or damaged synthetic dataset is repaired on the next run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_checks import assert_refused, tiny_train_teacher
from doubles import TinyGenerator
from PIL import Image

from gsoc_helpers.cli import main
from gsoc_helpers.data import CIFAR10_CLASSES
from gsoc_helpers.data.synthetic import SyntheticDataset, SyntheticDatasetWriter
from gsoc_helpers.safety import mark_output
from gsoc_helpers.sampling import sample_dataset
from gsoc_helpers.training.distill import RUN_FILES, DistillTrainer

from conftest import tiny_cfg, tiny_real, write_tiny_synthetic


def with_opt(argv: list[str], flag: str, value: str) -> list[str]:
    """``argv`` with the value after ``flag`` replaced."""
    i = argv.index(flag)
    return argv[: i + 1] + [value] + argv[i + 2 :]


def _steps(path: Path) -> list[int]:
    return [json.loads(x)["step"] for x in path.read_text().splitlines()]


@pytest.fixture
def image_tree(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for name in CIFAR10_CLASSES:
        (tmp_path / "imgs" / name).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "imgs" / name / "0.png")
    return tmp_path / "imgs"


@pytest.mark.slow
def test_train_teacher_never_overwrites_a_run_unless_told(tmp_path, image_tree, capsys):
    out = tmp_path / "run"
    argv = tiny_train_teacher(out, image_tree, "--log-every", "1")
    assert main(argv) == 0
    capsys.readouterr()
    assert_refused(argv, capsys, "not empty", untouched=[out])
    assert main(argv + ["--resume"]) == 0 and _steps(out / "metrics.jsonl") == [1, 2]  # nothing left to do
    assert main(with_opt(argv, "--steps", "3") + ["--resume"]) == 0 and _steps(out / "metrics.jsonl") == [1, 2, 3]
    assert_refused(
        with_opt(with_opt(argv, "--steps", "4"), "--ngf", "16") + ["--resume"], capsys, "ngf: 8 -> 16", untouched=[out]
    )
    assert main(argv + ["--overwrite"]) == 0 and _steps(out / "metrics.jsonl") == [1, 2]


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all"], ids=["empty", "garbage"])
def test_corrupt_checkpoint_is_one_line(tmp_path, image_tree, capsys, content):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(content)
    mark_output(out, "train-teacher", ["checkpoint.pt"])  # an earlier run's folder, its checkpoint damaged
    argv = tiny_train_teacher(out, image_tree, "--resume")
    assert_refused(argv, capsys, "checkpoint", untouched=[out])


@pytest.mark.slow
def test_distill_resume_refuses_changed_settings(tmp_path, capsys):
    syn = write_tiny_synthetic(tmp_path / "syn")
    real = tmp_path / "real"
    for i, name in enumerate(CIFAR10_CLASSES):
        (real / name).mkdir(parents=True)
        Image.fromarray(np.full((32, 32, 3), i * 20, np.uint8)).save(real / name / "0.png")
    out = tmp_path / "run"
    argv = [
        "distill",
        str(syn),
        "--out",
        str(out),
        "--real-source",
        str(real),
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
    capsys.readouterr()
    assert_refused(argv, capsys, "not empty", [out])
    assert_refused(argv + ["--resume", "--lr", "0.001"], capsys, "lr: 0.0002 -> 0.001", [out])
    assert_refused(argv + ["--resume", "--seed", "3"], capsys, "seed: 0 -> 3", [out])
    assert_refused(with_opt(argv, "--ngf", "32") + ["--resume"], capsys, "ngf: 16 -> 32", [out])
    assert main(with_opt(argv, "--max-steps", "3") + ["--resume"]) == 0  # a larger step budget may change
    assert _steps(out / "metrics.jsonl") == [2, 3]  # logged every 10 steps and at the last one


def test_restart_before_first_checkpoint_logs_each_step_once(tmp_path):
    cfg = tiny_cfg(tmp_path, max_steps=3, diffaug="")
    Path(cfg.out_dir).mkdir()
    # a killed run that logged steps 1-2 but never wrote a checkpoint (and tore its last line); its mark lists it
    (Path(cfg.out_dir) / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2}\n{"ste')
    mark_output(cfg.out_dir, "distill", RUN_FILES)
    DistillTrainer(cfg, real=tiny_real()).train(resume=True)
    assert _steps(Path(cfg.out_dir) / "metrics.jsonl") == [1, 2, 3]


def test_sampler_removes_leftovers_and_rewrites_a_corrupted_shard(tmp_path):
    g = TinyGenerator()
    root = tmp_path / "ds"
    sample_dataset(g, root, generator_name="tiny", per_class=4, shard_size=3, progress=False)
    good = SyntheticDataset(root).image_array()
    # a sampler killed while writing leaves a temporary file named after its (now gone) process id
    stale = root / "shards" / ".shard_00001.images.npy.999999999.tmp"
    stale.write_bytes(b"half")
    damaged = root / "shards" / "shard_00002.images.npy"
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="shard 2 is corrupt"):
        rep = sample_dataset(g, root, generator_name="tiny", per_class=4, shard_size=3, progress=False)
    assert rep.written == 3 and rep.complete and not stale.exists()
    assert np.array_equal(SyntheticDataset(root).image_array(), good)
    damaged.write_bytes(b"")
    w = SyntheticDatasetWriter(
        root,
        generator_name="tiny",
        generator_checksum=json.loads((root / "manifest.json").read_text())["generator_checksum"],
        num_classes=3,
        per_class=4,
        z_dim=4,
        image_size=4,
        shard_size=3,
        class_names=("class_0", "class_1", "class_2"),
    )
    assert not w.is_complete()  # a damaged shard never reports the dataset complete


def test_sampler_refuses_non_finite_truncation(tmp_path):
    with pytest.raises(ValueError, match="finite"):
        sample_dataset(
            TinyGenerator(),
            tmp_path / "ds",
            generator_name="tiny",
            per_class=1,
            truncation_psi=float("nan"),
            progress=False,
        )
    assert not (tmp_path / "ds" / "manifest.json").exists()


def test_resume_into_a_folder_without_a_run_says_it_starts_one(tmp_path, image_tree, capsys):
    """``--resume`` means "start or continue" (make bundle relies on it); the command names a folder without a run
    on stderr, and says nothing when it continues one."""
    argv = tiny_train_teacher(tmp_path / "typo", image_tree) + ["--resume"]
    assert main(argv) == 0
    assert "train-teacher: nothing to resume in" in capsys.readouterr().err
    assert main(argv) == 0
    assert "nothing to resume" not in capsys.readouterr().err
