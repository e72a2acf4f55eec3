"""gsoc_helpers.safety: an output folder apart from every input, and the leftovers of killed runs removed (only
those whose process is gone). The commands that use it are tested in test_no_input_deleted.py."""

from __future__ import annotations

import os

import pytest

from gsoc_helpers.safety import OUTPUT_MARK, clean_stale_temporaries, mark_output, refuse_overlap, refuse_replacing_cwd


def test_refuse_overlap_is_holds_and_lies_inside(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "f.txt").write_text("x")
    refuse_overlap(tmp_path / "c", [("x", tmp_path / "a"), ("name", "student"), ("none", None)])  # apart: fine
    refuse_overlap(tmp_path / "ab", [("x", tmp_path / "a")])  # a sibling sharing a prefix is apart
    refuse_overlap(tmp_path / "a" / "f.txt.d", [("file", tmp_path / "a" / "f.txt")])  # beside a file: apart
    with pytest.raises(ValueError, match=r"^--out '.*' is the x '.*'; choose an output folder apart"):
        refuse_overlap(tmp_path / "a", [("x", tmp_path / "a")])
    with pytest.raises(ValueError, match="holds the x"):
        refuse_overlap(tmp_path, [("x", tmp_path / "a" / "b")])
    with pytest.raises(ValueError, match=r"^--out-dir '.*' lies inside the x"):
        refuse_overlap(tmp_path / "a" / "b" / "new", [("x", tmp_path / "a")], flag="--out-dir")
    with pytest.raises(ValueError, match="holds the x"):  # a path spelled another way is the same path
        refuse_overlap(tmp_path / "a" / ".." / "a", [("x", tmp_path / "a" / "f.txt")])


def test_refuse_replacing_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    for out in (".", str(tmp_path)):
        with pytest.raises(ValueError, match="is the current folder or holds it"):
            refuse_replacing_cwd(out)
    refuse_replacing_cwd("below")  # a folder below the current one may be replaced


def test_stale_temporaries_only_when_provably_ours(tmp_path):
    gone = tmp_path / ".o.partial-999999999"  # no such process, and its own mark says it is quantize's temporary
    gone.mkdir()
    (gone / "half.bin").write_bytes(b"x")
    mark_output(gone, "quantize", ["half.bin"])
    users = tmp_path / ".o.old-20261204"  # a user's hidden folder whose "PID" does not run: kept
    users.mkdir()
    (users / "thesis.tex").write_text("mine")
    unmarked = tmp_path / ".o.partial-999999997"  # no mark: nothing proves it ours, kept
    unmarked.mkdir()
    copied = tmp_path / ".o.partial-999999996"  # a mark written for another folder: kept
    copied.mkdir()
    (copied / OUTPUT_MARK).write_text((gone / OUTPUT_MARK).read_text())
    other = tmp_path / ".o.partial-999999995"  # another command's temporary: kept
    other.mkdir()
    mark_output(other, "export", [])
    mine = tmp_path / f".o.partial-{os.getpid()}"  # a run still going: kept
    mine.mkdir()
    mark_output(mine, "quantize", [])
    (tmp_path / "target").mkdir()
    (tmp_path / ".o.partial-999999998").symlink_to(tmp_path / "target")  # a link is never followed or removed
    assert clean_stale_temporaries(tmp_path / "o", "quantize") == [gone]
    assert not gone.exists() and (users / "thesis.tex").read_text() == "mine"
    assert unmarked.is_dir() and copied.is_dir() and other.is_dir() and mine.is_dir() and (tmp_path / "target").is_dir()
    assert clean_stale_temporaries(tmp_path / "missing" / "o", "quantize") == []  # no parent folder: nothing to do
