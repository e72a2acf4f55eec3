"""Every bad input at the command line ends in one line on stderr and exit code 2: no traceback, nothing written.

Each row is (what a user typed, a fragment the message must contain).  The numeric checks run before any model or
data is loaded, so the rows are fast."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from cli_checks import assert_refused, tiny_train_teacher

from gsoc_helpers.models.registry import save_generator
from gsoc_helpers.models.student import StudentConfig, StudentGenerator


@pytest.fixture
def student_ckpt(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return save_generator(StudentGenerator(StudentConfig(z_dim=8, ngf=16)).eval(), tmp_path / "s.safetensors")


SAMPLE_ROWS = [
    (["--psi", "nan"], "finite"),
    (["--psi", "inf"], "finite"),
    (["--batch-size", "0"], ">= 1"),
    (["--per-class", "0"], ">= 1"),
    (["--shard-size", "-2"], ">= 1"),
    (["--device", "tpu"], "unknown device"),
    (["--threads", "-1"], ">= 0"),
    (["--per-class", "many"], "not a whole number"),
    (["--per-class", "1000001"], "smaller --per-class"),  # over 10,000,000 images: refused before any shard
]


@pytest.mark.parametrize("extra,fragment", SAMPLE_ROWS, ids=[" ".join(r[0]) for r in SAMPLE_ROWS])
def test_sample_refuses_nonsense(student_ckpt, tmp_path, capsys, extra, fragment):
    assert_refused(
        ["sample", str(student_ckpt), "--out", str(tmp_path / "syn"), "--per-class", "1", *extra],
        capsys,
        fragment,
        untouched=[tmp_path],
    )


def test_sample_out_is_a_file(student_ckpt, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert_refused(["sample", str(student_ckpt), "--out", str(tmp_path / "f")], capsys, "is a file", [tmp_path])


DISTILL_ROWS = [
    (["--epochs", "0"], "epochs must be"),
    (["--max-steps", "-5"], "max_steps must be"),
    (["--batch-size", "-4"], "batch_size must be"),
    (["--batch-size", "0"], "batch_size must be"),
    (["--lr", "nan"], "finite"),
    (["--ngf", "12"], ">= 16"),
    (["--ngf", "24"], "multiple of 16"),  # the student's own rule, said before the student is built
    (["--device", "tpu"], "unknown device"),
    (["--precision", "fp16"], "--precision"),
    (["--seed", "-1"], "seed must be"),
    (["--diffaug", "bogus"], "DiffAugment policy 'bogus'"),
]


@pytest.mark.parametrize("extra,fragment", DISTILL_ROWS, ids=[" ".join(r[0]) for r in DISTILL_ROWS])
def test_distill_refuses_nonsense(tmp_path, capsys, extra, fragment):
    assert_refused(
        ["distill", str(tmp_path / "syn"), "--out", str(tmp_path / "run"), *extra],
        capsys,
        fragment,
        untouched=[tmp_path],
    )


CONFIG_FILES = [
    ("5", "JSON object"),
    ('{"loss_weights": 3}', "loss_weights must be"),
    ('{"loss_weights": {"zzz": 1}}', "loss_weights must be"),
    ('{"ngf": 16', "Expecting"),
]


@pytest.mark.parametrize("text,fragment", CONFIG_FILES, ids=[r[0] for r in CONFIG_FILES])
def test_distill_config_file_that_is_not_settings(tmp_path, capsys, text, fragment):
    (tmp_path / "c.json").write_text(text)
    line = assert_refused(
        ["distill", str(tmp_path / "syn"), "--out", str(tmp_path / "run"), "--config", str(tmp_path / "c.json")],
        capsys,
        fragment,
        untouched=[tmp_path],
    )
    assert "--config" in line and "c.json" in line


TEACHER_ROWS = [
    (["--steps", "0"], ">= 1"),
    (["--steps", "-3"], ">= 1"),
    (["--batch-size", "0"], ">= 1"),
    (["--threads", "-1"], ">= 1"),
    (["--lr-g", "0"], "(0, inf]"),
    (["--max-minutes", "nan"], "finite"),
    (["--seed", str(2**64)], "seed must be"),
    (["--augment", "bogus"], "DiffAugment policy 'bogus'"),  # refused before a run folder or checkpoint exists
    (["--beta2", "1"], "--beta2: must be in [0, 1), got 1"),  # the flag named, not the config field
    (["--ema-decay", "1.5"], "--ema-decay: must be in [0, 1]"),
    (["--d-steps", "1000"], "--d-steps: must be <= 20"),
    (["--class-loss", "-1"], "--class-loss: must be in [0, inf]"),
    (["--init-generator", "missing.safetensors"], "missing.safetensors"),
]


@pytest.mark.parametrize("extra,fragment", TEACHER_ROWS, ids=[" ".join(r[0]) for r in TEACHER_ROWS])
def test_train_teacher_refuses_nonsense(tmp_path, capsys, extra, fragment):
    assert_refused(["train-teacher", "--out", str(tmp_path / "run"), *extra], capsys, fragment, [tmp_path])


def test_train_teacher_that_fails_before_writing_leaves_no_run_folder(tmp_path, capsys):
    assert_refused(
        tiny_train_teacher(tmp_path / "run", tmp_path / "no-images"), capsys, "does not exist", untouched=[tmp_path]
    )
    (tmp_path / "empty").mkdir()  # a folder the user made stays, empty
    assert_refused(
        tiny_train_teacher(tmp_path / "empty", tmp_path / "no-images"), capsys, "does not exist", untouched=[tmp_path]
    )


@pytest.mark.parametrize(
    "extra,fragment",
    [
        (["--batch-size", "0"], ">= 1"),
        (["--n", "0"], ">= 1"),
        (["--device", "tpu"], "unknown device"),
        (["--threads", "-1"], ">= 1"),
        (["--psi", "nan"], "finite"),
    ],
)
def test_fid_refuses_nonsense(tmp_path, capsys, extra, fragment):
    assert_refused(["fid", "student", *extra], capsys, fragment)


@pytest.mark.parametrize("port_text", ["70000", "-1", "http"])
def test_app_port_out_of_range(capsys, port_text):
    assert_refused(["app", "--port", port_text], capsys, "port")


def test_data_root_flag_is_named_when_wrong(tmp_path, capsys, monkeypatch):
    # main() writes --data-root into os.environ (so notebook kernels inherit it); set both variables through
    # monkeypatch first so that they are restored afterwards (delenv on an absent variable records nothing)
    for name in ("GSOC_DATA_ROOT", "GSOC_DATA_ROOT_ORIGIN"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    line = assert_refused(["--data-root", str(tmp_path / "nowhere"), "data-info"], capsys, "--data-root")
    assert "$GSOC_DATA_ROOT" not in line


def test_generator_checkpoint_that_does_not_fit(student_ckpt, tmp_path, capsys):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(student_ckpt), framework="pt") as fh:
        meta = fh.metadata()
    tensors = load_file(str(student_ckpt))
    wrong_shape = dict(tensors)
    key = next(k for k, v in tensors.items() if v.ndim == 4)
    wrong_shape[key] = torch.zeros(tuple(tensors[key].shape[:-1]) + (5,))
    save_file(wrong_shape, str(tmp_path / "shape.safetensors"), metadata=meta)
    extra_key = dict(meta, config=json.dumps({**json.loads(meta["config"]), "bogus": 1}))
    save_file(tensors, str(tmp_path / "config.safetensors"), metadata=extra_key)
    for name, fragment in (("shape.safetensors", "has shape"), ("config.safetensors", "bogus")):
        assert_refused(
            ["sample", str(tmp_path / name), "--out", str(tmp_path / "o"), "--per-class", "1"],
            capsys,
            fragment,
            untouched=[tmp_path],
        )


def test_unreachable_url_is_one_line(tmp_path, capsys, monkeypatch):
    """Offline (here: a refused loopback port), downloading a teacher is an error message, not a traceback."""
    import socket

    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: connections are refused
    assert_refused(
        ["sample", f"http://127.0.0.1:{port}/cifar10.pkl", "--out", str(tmp_path / "o")],
        capsys,
        f"127.0.0.1:{port}",
        untouched=[tmp_path / "o"],
    )


def test_source_option_values_are_typed(capsys):
    """One syntax and one typed parser for --source-option on every command (quantize and quantize-study)."""
    import argparse

    from gsoc_helpers.cli.args import source_option
    from gsoc_helpers.cli.quantize import source_options_for

    assert source_option("offline-teacher:truncation_psi=0.7") == ("offline-teacher", "truncation_psi", 0.7)
    assert source_option("bn-matching:steps=20") == ("bn-matching", "steps", 20)
    assert source_option("student:dataset=outputs/x:y=z") == ("student", "dataset", "outputs/x:y=z")
    assert source_option("progress=False") == (None, "progress", False)  # typed: not the string "False"
    for bad in ("offline-teacher-truncation", ":steps=2", "offline-teacher:=2"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"\[SOURCE:\]KEY=VALUE"):
            source_option(bad)
    assert source_options_for("noise", [(None, "std", 0.2), ("noise", "mean", 0.4)]) == {"std": 0.2, "mean": 0.4}
    with pytest.raises(ValueError, match="calibrates on 'noise' only"):
        source_options_for("noise", [("offline-teacher", "truncation_psi", 0.7)])
    for argv in (
        ["quantize", "m.onnx", "--calibration", "noise", "--out", "o", "--source-option", "steps"],
        ["quantize-study", "--source-option", "offline-teacher-truncation"],
    ):
        assert_refused(argv, capsys, "[SOURCE:]KEY=VALUE")


def test_app_port_in_use_is_one_line(capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert_refused(["app", "--port", str(port)], capsys, f"cannot serve on 127.0.0.1:{port}")


def test_demo_only_names_a_notebook_that_does_not_exist(tmp_path, capsys):
    assert_refused(
        ["demo", "--only", "99", "--out", str(tmp_path / "demo")],
        capsys,
        "--only 99: no notebook name starts with that; the notebooks are 01_",
        untouched=[tmp_path],
    )


def test_empty_data_root_offline_is_one_line(tmp_path, capsys, monkeypatch):
    """An empty data root with source 'auto' falls back to downloading the CIFAR-10 tarball; offline (a mirror on
    a refused loopback port) that is one line naming the file and the ways to provide it."""
    import socket

    (tmp_path / "root").mkdir()
    monkeypatch.setenv("GSOC_DATA_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("GSOC_DOWNLOAD_MIRROR", f"http://127.0.0.1:{port}")
    line = assert_refused(["data-info", "--source", "auto"], capsys, "cifar-10-python.tar.gz")
    assert "GSOC_DOWNLOAD_MIRROR" in line and not list((tmp_path / "cache").rglob("*.part*"))
