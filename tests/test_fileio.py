"""gsoc_helpers.fileio: write-fsync-rename, one temporary-name scheme, sha256."""

from __future__ import annotations

import hashlib
import os

import pytest

from gsoc_helpers.fileio import atomic_path, atomic_write_bytes, atomic_write_text, is_temp_name, sha256_file, temp_path


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two" and sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]
    assert sha256_file(target) == hashlib.sha256(b"two").hexdigest()


def test_an_error_while_writing_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_one_temporary_name_scheme(tmp_path):
    tmp = temp_path(tmp_path / "shard.npy")
    assert tmp.parent == tmp_path and tmp.name == f".shard.npy.{os.getpid()}.tmp" and is_temp_name(tmp.name)
    assert not is_temp_name("shard.npy") and not is_temp_name(".shard.npy.tmp") and not is_temp_name(".x.12.part")
