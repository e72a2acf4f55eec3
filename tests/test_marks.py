"""A mark belongs to its folder (issue #36): ``.gsoc-helpers.json`` names the folder it was written for, the command
and the names that command creates; a copied, moved or hard-linked mark authorises nothing, ``--overwrite`` removes
only the listed names, a symbolic link as or inside an output is refused before anything is deleted, ``--resume``
continues only this project's own run, every writing command refuses a user's folder, stale temporaries are removed
only when provably a run's own and only after success, and the lock is keyed on the real folder."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from cli_checks import QUANTIZE_FAST, assert_refused, tiny_train_teacher, tree_digest
from doubles import tiny_onnx

from gsoc_helpers.cli import main
from gsoc_helpers.safety import (
    OUTPUT_MARK,
    mark_output,
    output_lock,
    output_owner,
    read_mark,
    refuse_links,
    remove_own,
)

from conftest import write_image_folder, write_tiny_synthetic

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no flock, no symbolic links without privileges")


def _thesis(folder: Path) -> Path:
    """A user's folder: a .tex file and a figures folder."""
    (folder / "figs").mkdir(parents=True)
    (folder / "thesis.tex").write_text("\\documentclass{article}")
    (folder / "figs" / "a.png").write_bytes(b"\x89PNG user figure")
    return folder


def test_a_mark_counts_only_in_the_folder_it_was_written_for(tmp_path):
    run = tmp_path / "q1"
    run.mkdir()
    mark_output(run, "quantize", ["report.json", "../escape", "/abs", OUTPUT_MARK])
    mark, why = read_mark(run)
    assert mark is not None and why == "" and mark.command == "quantize"
    assert mark.names == ("report.json",)  # a name with a separator, "..", or the mark itself is never listed
    record = json.loads((run / OUTPUT_MARK).read_text())
    assert record["folder"] == str(run.resolve()) and record["format"] == 2

    copied = _thesis(tmp_path / "thesis")
    (copied / OUTPUT_MARK).write_bytes((run / OUTPUT_MARK).read_bytes())
    mark, why = read_mark(copied)
    assert mark is None and "copied" in why and output_owner(copied) is None

    linked = _thesis(tmp_path / "thesis2")
    os.link(run / OUTPUT_MARK, linked / OUTPUT_MARK)
    assert read_mark(linked)[0] is None and "hard-linked" in read_mark(linked)[1]
    assert read_mark(run)[0] is None  # the original too: a linked mark authorises nothing anywhere

    moved = tmp_path / "moved"
    mark_output(tmp_path / "q2", "quantize", []) if (tmp_path / "q2").mkdir() is None else None
    (tmp_path / "q2").rename(moved)
    assert read_mark(moved)[0] is None and "written for" in read_mark(moved)[1]

    old = tmp_path / "old"
    old.mkdir()
    (old / OUTPUT_MARK).write_text('{"command": "quantize", "gsoc_helpers": "0.1"}\n')  # the format before #36
    assert read_mark(old)[0] is None and "older" in read_mark(old)[1]


def test_remove_own_and_links(tmp_path):
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    (run / "checkpoint.pt").write_bytes(b"ckpt")
    (run / ".checkpoint.pt.999999999.tmp").write_bytes(b"half")  # a killed writer's temporary of an own name
    (run / "notes.txt").write_text("the user's, added later")
    mark_output(run, "train-teacher", ["checkpoint.pt", "samples", "metrics.jsonl"])
    assert remove_own(run, "train-teacher") == [".checkpoint.pt.999999999.tmp", "checkpoint.pt", "samples"]
    assert sorted(p.name for p in run.iterdir()) == [OUTPUT_MARK, "notes.txt"]
    assert remove_own(run, "distill") == []  # another command's names: nothing

    (run / "data").symlink_to(tmp_path)
    with pytest.raises(ValueError, match=r"holds a symbolic link '.*run/data' \(to '.*'\); nothing was changed"):
        refuse_links(run)
    (tmp_path / "alias").symlink_to(run)
    with pytest.raises(ValueError, match=r"--out '.*alias' is a symbolic link"):
        refuse_links(tmp_path / "alias")
    refuse_links(tmp_path / "missing")  # nothing there: nothing to refuse


@pytest.fixture
def onnx(tmp_path: Path) -> str:
    return str(tiny_onnx(tmp_path / "model" / "tiny.onnx"))


def _quantize(model: str, out: Path, *extra: str) -> list[str]:
    return ["quantize", model, "--calibration", "noise", "--out", str(out), *QUANTIZE_FAST, *extra]


def test_quantize_overwrite_removes_only_its_names_and_never_trusts_a_copied_mark(onnx, tmp_path, capsys):
    q1 = tmp_path / "q1"
    assert main(_quantize(onnx, q1)) == 0
    assert set(read_mark(q1)[0].names) == {  # type: ignore[union-attr]
        "model_fp32.xml",
        "model_fp32.bin",
        "model_int8.xml",
        "model_int8.bin",
        "report.json",
        "report.md",
    }
    (q1 / "notes.txt").write_text("the user's")
    assert main(_quantize(onnx, q1, "--overwrite")) == 0
    assert (q1 / "notes.txt").read_text() == "the user's" and output_owner(q1) == "quantize"
    capsys.readouterr()

    copied = _thesis(tmp_path / "thesis")
    (copied / OUTPUT_MARK).write_bytes((q1 / OUTPUT_MARK).read_bytes())  # cp runs/q1/.gsoc-helpers.json thesis/
    assert_refused(_quantize(onnx, copied, "--overwrite"), capsys, "copied mark authorises nothing", [copied])
    linked = _thesis(tmp_path / "thesis2")
    os.link(q1 / OUTPUT_MARK, linked / OUTPUT_MARK)  # ln runs/q1/.gsoc-helpers.json thesis2/
    assert_refused(_quantize(onnx, linked, "--overwrite"), capsys, "hard-linked", [linked, q1])
    (linked / OUTPUT_MARK).unlink()

    (tmp_path / "qlink").symlink_to(q1)  # the output spelled through a link to it
    assert_refused(_quantize(onnx, tmp_path / "qlink", "--overwrite"), capsys, "is a symbolic link", [q1])
    (q1 / "figs").symlink_to(copied / "figs")  # a link inside: named, nothing deleted on either side
    assert_refused(_quantize(onnx, q1, "--overwrite"), capsys, f"{q1 / 'figs'}", [q1, copied])


def test_stale_partials_kept_unless_ours_and_removed_only_after_success(onnx, tmp_path, capsys):
    out = tmp_path / "q7"
    users = tmp_path / ".q7.old-20261204"  # a user's hidden folder whose name looks like a temporary
    (users / "keep.txt").parent.mkdir()
    (users / "keep.txt").write_text("mine")
    ours = tmp_path / ".q7.partial-999999999"  # a killed run's temporary, proved by its own mark
    ours.mkdir()
    mark_output(ours, "quantize", [])
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert_refused(
        _quantize(str(bad), out), capsys, "bad.onnx", [users, ours], progress=True
    )  # failed: nothing cleaned
    assert main(_quantize(onnx, out)) == 0
    assert (users / "keep.txt").read_text() == "mine" and not ours.exists()


def test_resume_into_a_users_folder_changes_nothing(tmp_path, capsys):
    images = tmp_path / "imgs"
    write_image_folder(images, per_class=1)
    syn = write_tiny_synthetic(tmp_path / "syn")
    user = tmp_path / "userexp"
    user.mkdir()
    (user / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "loss": 1.0 / s}) + "\n" for s in range(1, 6)))
    (user / "notes.md").write_text("my experiment")
    teacher = tiny_train_teacher(user, images, "--resume", steps=3)
    assert_refused(teacher, capsys, "has no .gsoc-helpers.json mark", [user])
    distill = ["distill", str(syn), "--out", str(user), "--resume", "--device", "cpu", "--max-steps", "1"]
    distill += ["--batch-size", "8", "--ngf", "16", "--ndf", "8", "--no-progress", "--real-source", str(images)]
    assert_refused(distill, capsys, "has no .gsoc-helpers.json mark", [user])
    theirs = tmp_path / "theirs"  # an earlier distill run: train-teacher does not resume it
    theirs.mkdir()
    (theirs / "metrics.jsonl").write_text('{"step": 1}\n')
    mark_output(theirs, "distill", ["metrics.jsonl"])
    assert_refused(tiny_train_teacher(theirs, images, "--resume"), capsys, "output of `gsoc-helpers distill`", [theirs])
    # its own run resumes, and a file it did not create stays byte for byte
    own = tmp_path / "own"
    assert main(tiny_train_teacher(own, images, "--log-every", "1")) == 0
    (own / "notes.md").write_text("added by the user")
    assert main(tiny_train_teacher(own, images, "--log-every", "1", "--resume", steps=3)) == 0
    assert (own / "notes.md").read_text() == "added by the user"
    capsys.readouterr()
    assert [json.loads(x)["step"] for x in (own / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]


def test_every_writing_command_refuses_a_users_folder(tmp_path, capsys):
    u3 = tmp_path / "u3"
    u3.mkdir()
    (u3 / "summary.md").write_text("my summary")
    (u3 / "summary.csv").write_text("a,b\n1,2\n")
    study = ["quantize-study", "--models", "akamaster_resnet20", "--sources", "noise", "--out", str(u3)]
    assert_refused(study, capsys, "has no .gsoc-helpers.json mark", [u3])
    u5 = tmp_path / "u5"
    u5.mkdir()
    (u5 / "generator_fp32.xml").write_text("<net>mine</net>")
    assert_refused(["export", "student", "--out", str(u5)], capsys, "has no .gsoc-helpers.json mark", [u5])
    u6 = tmp_path / "u6"
    u6.mkdir()
    (u6 / "manifest.json").write_text("{}")
    assert_refused(["sample", "student", "--out", str(u6), "--per-class", "1"], capsys, "no .gsoc-helpers", [u6])
    (tmp_path / "u7").symlink_to(tmp_path / "nowhere")
    assert_refused(["sample", "student", "--out", str(tmp_path / "u7")], capsys, "symbolic link", [u6])
    assert (tmp_path / "u7").is_symlink() and not (tmp_path / "nowhere").exists()


def test_sample_marks_its_new_folder_first_and_resumes_only_it(tmp_path, capsys):
    out = tmp_path / "ds"
    argv = ["sample", "student", "--out", str(out), "--per-class", "1", "--shard-size", "5", "--backend", "torch"]
    assert main(argv) == 0
    mark, _ = read_mark(out)
    assert mark is not None and mark.command == "sample"
    assert {p.name for p in out.iterdir()} <= {*mark.names, OUTPUT_MARK}  # the mark lists all it wrote
    assert main(argv) == 0  # its own folder: a rerun resumes (nothing left to write)
    capsys.readouterr()
    failed = tmp_path / "failed"
    assert_refused(["sample", str(tmp_path / "nosuch.safetensors"), "--out", str(failed)], capsys, "nosuch", [])
    assert not failed.exists()  # a refused run leaves no folder and no mark behind


def test_two_runs_through_a_symlink_share_one_lock(onnx, tmp_path, capsys):
    runs = tmp_path / "runs"
    (runs / "t").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(runs)
    (tmp_path / "tlink").symlink_to(runs / "t")  # a link to the run folder itself: main took it for another folder
    images = tmp_path / "imgs"
    write_image_folder(images, per_class=1)
    with output_lock(runs / "t", "train-teacher"):  # a run writing runs/t ...
        before = tree_digest(runs)
        argv = tiny_train_teacher(tmp_path / "alias" / "t", images)  # ... and another given alias/t
        assert_refused(argv, capsys, "another `gsoc-helpers train-teacher` run is writing", [])
        assert_refused(tiny_train_teacher(tmp_path / "tlink", images), capsys, "is a symbolic link", [])
        assert tree_digest(runs) == before
    with output_lock(tmp_path / "tlink", "quantize"):  # the lock of a link is the lock of its folder
        assert_refused(_quantize(onnx, runs / "t"), capsys, "another", [runs], progress=True)
    with output_lock(runs / "q", "quantize"):
        assert_refused(_quantize(onnx, tmp_path / "alias" / "q"), capsys, "another", [runs], progress=True)


def test_an_old_mark_is_adopted_only_where_nothing_of_a_users_could_be_claimed(onnx, tmp_path, capsys):
    from gsoc_helpers.safety import adopt_old_mark

    old = '{"command": "quantize", "gsoc_helpers": "0.1.0"}\n'  # what main wrote before #36
    thesis = _thesis(tmp_path / "thesis")
    (thesis / OUTPUT_MARK).write_text(old)
    assert not adopt_old_mark(thesis, "quantize", ["report.json"]) and read_mark(thesis)[0] is None
    assert_refused(_quantize(onnx, thesis, "--overwrite"), capsys, "older gsoc-helpers", [thesis])
    earlier = tmp_path / "earlier"  # an earlier version's output: only its own names
    earlier.mkdir()
    for name in ("model_fp32.xml", "model_fp32.bin", "report.json"):
        (earlier / name).write_text("old")
    (earlier / OUTPUT_MARK).write_text(old)
    assert not adopt_old_mark(earlier, "train-teacher", ["report.json"])  # another command's: no
    assert main(_quantize(onnx, earlier, "--overwrite")) == 0 and output_owner(earlier) == "quantize"
    assert (earlier / "model_int8.xml").is_file() and (earlier / "report.json").read_text() != "old"
