import hashlib

import pytest

from gsoc_helpers.download import download_url, sha256_file


def test_download_verifies_full_and_prefix_checksums(tmp_path):
    src = tmp_path / "weights-abc.bin"
    src.write_bytes(b"x" * 3_000_000)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    assert sha256_file(src) == digest
    dest = tmp_path / "cache" / "w.bin"
    assert download_url(src.as_uri(), dest, expected_sha256=digest[:8], progress=False) == digest
    assert dest.read_bytes() == src.read_bytes()
    with pytest.raises(ValueError, match="checksum mismatch"):
        download_url(src.as_uri(), tmp_path / "bad.bin", expected_sha256="00000000", progress=False)
    assert not (tmp_path / "bad.bin").exists() and not list(tmp_path.glob(".bad.bin.part*"))
    with pytest.raises(OSError):
        download_url((tmp_path / "missing").as_uri(), tmp_path / "m.bin", progress=False)
