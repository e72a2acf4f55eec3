"""``gsoc-helpers quantize-study --bits``: the bit-width study from the command line (the engine, its shards and
resuming: test_study_engine.py)."""

from __future__ import annotations

import json

from cli_checks import assert_refused, run_cli

from conftest import write_image_folder, write_tiny_synthetic


def test_quantize_study_bits_cli(tmp_path, capsys, shared_data_root):
    """The real ResNet-20, 10 noise images, W4A4 and W4A8 with min/max ranges and NNCF's own call, on the bit-exact
    test images."""
    out = tmp_path / "study"
    argv = ["quantize-study", "--models", "akamaster_resnet20", "--sources", "noise", "--sizes", "10"]
    argv += ["--seeds", "0", "--bits", "4", "W4A8", "--estimators", "minmax", "nncf"]
    argv += ["--shard", "0/1", "--out", str(out)]
    assert run_cli(argv, capsys)[0] == 0
    cells = [json.loads(line) for line in (out / "cells.jsonl").read_text().splitlines()]
    assert sorted(c["config"] for c in cells) == ["W4A4/minmax", "W4A4/nncf", "W4A8/minmax", "W4A8/nncf"]
    assert all(c["exact_top1_fp32"] > 85 and 0 <= c["exact_agreement"] <= 100 for c in cells)
    assert (out / "summary.md").is_file()


def test_quantize_study_refuses_bad_bits_and_shard(tmp_path, capsys):
    base = ["quantize-study", "--models", "akamaster_resnet20", "--sources", "noise", "--out", str(tmp_path / "o")]
    assert_refused([*base, "--bits", "9"], capsys, "bit width", untouched=[tmp_path / "o"])
    assert_refused([*base, "--shard", "2/2"], capsys, "expected 0 <= i < n", untouched=[tmp_path / "o"])
    assert_refused([*base, "--bits", "4", "--compare-nncf-defaults"], capsys, "--bits", untouched=[tmp_path / "o"])


def test_quantize_study_on_validation_never_reads_a_test_set(tmp_path, capsys, monkeypatch, shared_data_root):
    from gsoc_helpers.study.cifar_test_split import CifarTestSplit

    def guarded(*a, **k):
        raise AssertionError("--on validation read a test set")

    monkeypatch.setattr(CifarTestSplit, "test", guarded)
    out = tmp_path / "val"
    argv = ["quantize-study", "--models", "akamaster_resnet20", "--sources", "noise", "--sizes", "10", "--seeds", "0"]
    assert run_cli([*argv, "--on", "validation", "--out", str(out)], capsys)[0] == 0
    cells = [json.loads(line) for line in (out / "cells.jsonl").read_text().splitlines()]
    assert [c["role"] for c in cells] == ["validation"] and "val_agreement" in cells[0]
    assert cells[0]["val_n"] == 5000  # test-split JPEG images in no test set, 500 per class


def test_quantize_study_estimators_need_bits(tmp_path, capsys):
    """--estimators without --bits was ignored: an INT8 study ran instead of the one asked for."""
    argv = ["quantize-study", "--models", "akamaster_resnet20", "--sources", "noise", "--out", str(tmp_path / "o")]
    assert_refused([*argv, "--estimators", "nncf"], capsys, "--estimators", untouched=[tmp_path])


def test_quantize_study_out_inside_an_input_is_refused(tmp_path, capsys):
    write_image_folder(tmp_path / "test", per_class=1)
    syn = write_tiny_synthetic(tmp_path / "syn", per_class=1)
    base = ["quantize-study", "--models", "akamaster_resnet20", "--sizes", "10", "--seeds", "0"]
    assert_refused(
        [*base, "--sources", "noise", "--test-sets", str(tmp_path / "test"), "--out", str(tmp_path / "test" / "o")],
        capsys,
        "lies inside the test set",
        untouched=[tmp_path],
    )
    assert_refused(
        [*base, "--sources", "student", "--source-option", f"student:dataset={syn}", "--out", str(syn / "o")],
        capsys,
        "lies inside the --source-option student:dataset",
        untouched=[tmp_path],
    )
