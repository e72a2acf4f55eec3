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


# ------------------------------------------------------------------ official files, mirror, checksums
import json  # noqa: E402
import urllib.error  # noqa: E402

from cli_checks import assert_refused  # noqa: E402

from gsoc_helpers import download as dl  # noqa: E402

from official_fixtures import loopback_mirror, write_cifar10_tarball  # noqa: E402


def _official(tmp_path, payload: bytes, name: str = "weights-x.pth") -> tuple[dl.OfficialFile, str]:
    digest = hashlib.sha256(payload).hexdigest()
    return dl.OfficialFile(
        url=f"https://example.invalid/releases/{name}",
        cache_subdir="t",
        data_root_path=f"t/{name}",
        sha256_prefix=digest[:8],
    ), digest


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("GSOC_DATA_ROOT", dl.MIRROR_ENV, dl.CHECKSUMS_ENV):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "mirror").mkdir()
    return tmp_path


def test_mirror_download_cached_and_verified(isolated, monkeypatch):
    payload = b"w" * 100_000
    f, digest = _official(isolated, payload)
    (isolated / "mirror" / f.name).write_bytes(payload)
    with loopback_mirror(isolated / "mirror") as (base, requested):
        monkeypatch.setenv(dl.MIRROR_ENV, base + "/")
        assert dl.source_url(f) == f"{base}/{f.name}"
        path = dl.fetch_official(f, progress=False)
        assert path == isolated / "cache" / "t" / f.name and path.read_bytes() == payload
        assert (path.parent / (f.name + ".sha256")).read_text().split()[0] == digest
        assert dl.fetch_official(f, progress=False) == path  # from the cache: no second request
        assert requested == [f"/{f.name}"]


def test_mirror_404_and_wrong_checksum_leave_cache_untouched(isolated, monkeypatch):
    f, _ = _official(isolated, b"right")
    cached = isolated / "cache" / "t" / f.name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"damaged")  # fails its check -> fetched again; failures must keep it as it was
    with loopback_mirror(isolated / "mirror") as (base, requested):
        monkeypatch.setenv(dl.MIRROR_ENV, base)
        with pytest.raises(FileNotFoundError) as err:
            dl.fetch_official(f, progress=False)
        msg = str(err.value)
        assert "\n" not in msg and "HTTP 404" in msg and f.url in msg and dl.MIRROR_ENV in msg
        (isolated / "mirror" / f.name).write_bytes(b"wrong payload")
        with pytest.raises(ValueError, match="checksum mismatch.*cache was left"):
            dl.fetch_official(f, progress=False)
        assert len(requested) == 2
    assert cached.read_bytes() == b"damaged" and sorted(p.name for p in cached.parent.iterdir()) == [f.name]


def test_no_network_no_data_root_one_line_error(isolated, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(dl.urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError) as err:
        dl.fetch_official(dl.NVIDIA_CIFAR10_PKL, progress=False)
    msg = str(err.value)
    assert "\n" not in msg and "cifar10.pkl" in msg and dl.NVIDIA_CIFAR10_PKL.url in msg
    assert f"{dl.MIRROR_ENV}=<base URL>" in msg and "<data root>/stylegan2-ada/cifar10.pkl" in msg
    assert not (isolated / "cache" / "stylegan2-ada" / "cifar10.pkl").exists()


def test_cli_reports_missing_official_file_in_one_line(isolated, monkeypatch, capsys):
    with loopback_mirror(isolated / "mirror") as (base, _):  # an empty mirror: 404 for cifar10.pkl
        monkeypatch.setenv(dl.MIRROR_ENV, base)
        line = assert_refused(
            ["sample", "cifar10", "--per-class", "1", "--out", str(isolated / "o")],
            capsys,
            "cifar10.pkl",
            [isolated / "o"],
        )
    assert dl.MIRROR_ENV in line


def test_data_root_copy_is_used_and_checked(isolated, monkeypatch):
    payload = b"local copy"
    f, _ = _official(isolated, payload)
    local = isolated / "root" / f.data_root_path
    local.parent.mkdir(parents=True)
    local.write_bytes(payload)
    monkeypatch.setenv("GSOC_DATA_ROOT", str(isolated / "root"))
    assert dl.fetch_official(f) == local
    local.write_bytes(b"tampered")
    with pytest.raises(ValueError, match="checksum mismatch"):
        dl.fetch_official(f)


def test_cifar10_tarball_md5_checked_then_unpacked(isolated, monkeypatch):
    from gsoc_helpers.data import load_cifar10

    tarball = write_cifar10_tarball(isolated / "mirror" / "cifar-10-python.tar.gz", per_batch=4)
    with loopback_mirror(isolated / "mirror") as (base, _):
        monkeypatch.setenv(dl.MIRROR_ENV, base)
        with pytest.raises(ValueError, match="md5 .* expected c58f30108f718f92721af3b95e74349a"):
            load_cifar10("train", source="download")  # the production check: a fixture is not the real tarball
        sums = isolated / "sums.json"
        sums.write_text(json.dumps({tarball.name: hashlib.sha256(tarball.read_bytes()).hexdigest()}))
        monkeypatch.setenv(dl.CHECKSUMS_ENV, str(sums))
        ds = load_cifar10("train", source="download")
    assert len(ds) == 20 and ds.source.startswith("batches:") and str(isolated / "cache") in ds.source
    assert len(load_cifar10("test", source="auto")) == 4  # unpacked once into the cache, found there


def test_published_checksums_registered():
    from gsoc_helpers.models.classifiers import akamaster, chenyaofo

    assert dl.CIFAR10_TARBALL.md5 == "c58f30108f718f92721af3b95e74349a"
    assert dl.TORCH_FIDELITY_INCEPTION.sha256_prefix == "6726825d" and dl.NVIDIA_CIFAR10_PKL.sha256_prefix is None
    for name, (_, prefix, _) in chenyaofo.RELEASES.items():
        assert chenyaofo.release_url(name).endswith(f"-{prefix}.pt")
    for fname, prefix, _, _ in akamaster.WEIGHTS.values():
        assert fname.endswith(f"-{prefix}.th")
    with pytest.raises(ValueError, match="already registered"):
        dl.register_official(
            dl.OfficialFile(url="https://other.invalid/cifar10.pkl", cache_subdir="x", data_root_path="x")
        )
