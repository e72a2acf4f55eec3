"""One line for every bad input issue #36 found: a 200,000-deep manifest, a full disk (with the path), a Content-Length
of "²", a custom operation or external data outside the model's folder (OpenVINO's reason kept), a pickle holding
code (never advising ``weights_only=False``), demo parameters naming a device, model or source that does not
exist, held-out class folders ``1`` and ``01``, a partial study summary, and a skipped ``.gif``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_checks import QUANTIZE_FAST, assert_refused, tiny_train_teacher
from PIL import Image
from test_download_robust import _failed_fetch, isolated  # noqa: F401 - the fixture is used by name

from gsoc_helpers.cli import _message, main
from gsoc_helpers.data.dataset import DataError
from gsoc_helpers.data.synthetic import read_manifest
from gsoc_helpers.safety import mark_output

from conftest import write_image_folder

FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full (Linux)")


def test_a_deep_manifest_is_one_line(tmp_path):
    (tmp_path / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(DataError, match="nested too deeply"):
        read_manifest(tmp_path)
    mark = tmp_path / "m"
    mark.mkdir()
    (mark / ".gsoc-helpers.json").write_text("{" * 1 + '"a":' + "[" * 200_000 + "]" * 200_000 + "}")
    from gsoc_helpers.safety import read_mark

    assert read_mark(mark) == (None, "the mark is unreadable")


@needs_dev_full
def test_a_full_disk_names_the_path(tmp_path):
    import openvino as ov

    from gsoc_helpers.data.synthetic import _atomic_save_npy
    from gsoc_helpers.fileio import temp_path
    from gsoc_helpers.quantization.ptq import save_ir

    model = ov.convert_model(torch.nn.Linear(4, 2).eval(), example_input=torch.zeros(1, 4))
    (tmp_path / "m.bin").symlink_to(FULL)  # every write there: ENOSPC
    with pytest.raises(OSError, match=r"^cannot write '.*m\.xml' \(.*is the disk full\?\)$") as err:
        save_ir(model, tmp_path / "m.xml")
    assert "\n" not in str(err.value)
    shard = tmp_path / "shard.images.npy"
    temp_path(shard).symlink_to(FULL)
    with pytest.raises(OSError, match=r"disk full while writing '.*shard\.images\.npy'"):
        _atomic_save_npy(shard, np.zeros((100, 32, 32, 3), np.uint8))


def test_a_content_length_of_a_superscript_two_is_one_line(isolated, monkeypatch):  # noqa: F811
    def bad_length(sock):
        sock.sendall("HTTP/1.1 200 OK\r\nContent-Length: ²\r\nConnection: close\r\n\r\nxx".encode())

    msg, _ = _failed_fetch(bad_length, monkeypatch)
    assert "\n" not in msg and "is not a number of bytes" in msg and "int()" not in msg, msg


def _onnx_models(folder: Path) -> dict[str, Path]:
    """A model with a custom operation, and one whose external data lies outside its folder."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder.mkdir(parents=True)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])
    custom = helper.make_graph([helper.make_node("MyOp", ["x"], ["y"], domain="custom.domain")], "g", [x], [y])
    opsets = [helper.make_opsetid("", 13), helper.make_opsetid("custom.domain", 1)]
    onnx.save(helper.make_model(custom, opset_imports=opsets), folder / "custom.onnx")
    w = numpy_helper.from_array(np.ones((10, 3072), np.float32), "w")
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "g2", [x], [y], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, folder / "ext.onnx", save_as_external_data=True, location="w.bin", size_threshold=0)
    outside = onnx.load(folder / "ext.onnx", load_external_data=False)
    for entry in outside.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = "../outside.bin"
    os.replace(folder / "w.bin", folder.parent / "outside.bin")
    onnx.save(outside, folder / "outside.onnx")
    return {"custom": folder / "custom.onnx", "outside": folder / "outside.onnx"}


def test_openvino_reason_is_kept(tmp_path, capsys):
    models = _onnx_models(tmp_path / "model")
    out = tmp_path / "out"
    for kind, fragment in (("custom", "custom.domain.MyOp"), ("outside", "outside the base directory")):
        argv = ["quantize", str(models[kind]), "--calibration", "noise", "--out", str(out), *QUANTIZE_FAST]
        line = assert_refused(argv, capsys, fragment, untouched=[out])
        assert "Check '" not in line, line


def _evil_pickle(path: Path) -> Path:
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo never run",))

    torch.save({"step": torch.tensor(1), "x": Evil()}, path)
    return path


def test_a_pickle_with_code_is_refused_without_unsafe_advice(tmp_path, capsys):
    from gsoc_helpers.quantization.user_model import load_weights

    evil = _evil_pickle(tmp_path / "evil.pt")
    with pytest.raises(ValueError) as err:
        load_weights(torch.nn.Linear(2, 2), evil)
    text = str(err.value)
    assert "would run code" in text and "posix.system" in text and "False" not in text and "\n" not in text, text
    run = tmp_path / "run"
    run.mkdir()
    _evil_pickle(run / "checkpoint.pt")
    mark_output(run, "train-teacher", ["checkpoint.pt"])
    images = tmp_path / "imgs"
    write_image_folder(images, per_class=1)
    line = assert_refused(tiny_train_teacher(run, images, "--resume"), capsys, "would run code", [run])
    assert "weights_only" not in line.replace("weights_only=True", "") and "False" not in line, line
    torch_text = (
        "Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` will likely succeed"
    )
    said = _message(ValueError(f"cannot read 'x.pt': {torch_text}, but it can result in code execution. Bad global."))
    assert "False" not in said and "never loads a file that would run code" in said and "x.pt" in said, said


@pytest.mark.parametrize(
    "name, value, fragment",
    [
        ("DEVICE", "cuda:99", "-p DEVICE cuda:99"),
        ("quant_models", "nosuchmodel", "unknown 'nosuchmodel'"),
        ("quant_sources", "noise,nosuch", "unknown 'nosuch'"),
    ],
)
def test_demo_parameters_are_checked_before_any_notebook(name, value, fragment, tmp_path, capsys):
    out = tmp_path / "demo"
    assert_refused(["demo", "-p", name, value, "--out", str(out)], capsys, fragment, untouched=[out])


def test_every_profile_and_scale_names_only_known_models_and_sources():
    from gsoc_helpers.cli.demo import check_names
    from gsoc_helpers.series.profiles import PROFILES, SCALES, run_sizes

    for profile in PROFILES:
        for scale in SCALES:
            check_names(run_sizes(profile, scale), {})


def test_class_folders_1_and_01_are_refused(tmp_path):
    from gsoc_helpers.quantization.user_images import load_folder

    rng = np.random.default_rng(0)
    for name in ("0", "1", "01"):
        (tmp_path / name).mkdir()
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), np.uint8)).save(tmp_path / name / "a.png")
    with pytest.raises(ValueError, match=r"class folders '01' and '1' in .* are both class 1"):
        load_folder(tmp_path, 32)


def test_a_skipped_gif_is_named(tmp_path):
    from gsoc_helpers.quantization.user_images import load_folder

    write_image_folder(tmp_path / "cal", per_class=1)
    Image.new("RGB", (32, 32)).save(tmp_path / "cal" / "cat" / "anim.gif")
    with pytest.warns(UserWarning, match=r"1 file\(s\) in .* are not .* skipped \(e\.g\. 'cat/anim\.gif'\)"):
        assert len(load_folder(tmp_path / "cal", 32).images) == 10


def test_a_shard_summary_says_it_is_partial(tmp_path, capsys, shared_data_root):
    out = tmp_path / "study"
    argv = ["quantize-study", "--models", "akamaster_resnet20", "--sources", "noise", "--sizes", "8"]
    assert main([*argv, "--seeds", "0", "1", "--shard", "0/2", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "PARTIAL: shard 0/2 of the grid (1 cells)" in said
    assert (out / "summary.md").read_text().startswith("PARTIAL: shard 0/2")
    assert len((out / "cells.jsonl").read_text().splitlines()) == 1 and json.loads(
        (out / ".gsoc-helpers.json").read_text()
    )


@pytest.mark.parametrize("gap", [0.05, 0.3])
def test_headers_cut_mid_line_are_reported_as_late_headers(gap, isolated, monkeypatch):  # noqa: F811
    """A drip cut by the header deadline in the middle of a header line was read as a complete (empty) answer and
    reported as a damaged download."""
    import time

    from gsoc_helpers import download as dl

    monkeypatch.setattr(dl, "HEADER_TIMEOUT_S", 1.0)
    monkeypatch.setattr(dl, "TIMEOUT_S", 3.0)

    def drip(sock):
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Slow: " + b"a" * 40:
            sock.sendall(bytes([byte]))
            time.sleep(gap)

    msg, seconds = _failed_fetch(drip, monkeypatch)
    assert "did not send its answer's headers within 1 s" in msg and "damaged" not in msg, msg
