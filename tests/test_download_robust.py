"""Downloads against misbehaving HTTP servers on 127.0.0.1 (issue #21): a truncated checksum-less file is never
recorded, a stalled or dripping server ends in one line, malformed HTTP is one line, and a user's URL never shares
a cache entry with an official file of the same name."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_checks import assert_refused

from gsoc_helpers import download as dl
from gsoc_helpers.models.stylegan2_ada.pickle_loader import load_stylegan2_ada

from official_fixtures import loopback_mirror, write_cifar10_snapshot


@contextlib.contextmanager
def raw_server(respond: Callable) -> Iterator[str]:
    """A TCP server on 127.0.0.1: each connection's request head is read, then ``respond(socket)`` writes raw bytes.
    Yields the base URL. Every handler ends within seconds, so a test can never hang on it."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(5)
            head = b""
            try:
                while b"\r\n\r\n" not in head:
                    data = self.request.recv(4096)
                    if not data:
                        return
                    head += data
                respond(self.request)
            except OSError:  # the client gave up (what a stalled download should do)
                pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("GSOC_DATA_ROOT", dl.MIRROR_ENV, dl.CHECKSUMS_ENV):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> bytes:
    return write_cifar10_snapshot(tmp_path_factory.mktemp("snap") / "cifar10.pkl").read_bytes()


def _cache_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def test_truncated_checksumless_pickle_is_not_recorded_or_kept(isolated, monkeypatch, snapshot):
    served = {"body": snapshot[: len(snapshot) // 2]}

    def close_early(sock):  # no Content-Length: the end of the body is the end of the connection
        sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + served["body"])

    with raw_server(close_early) as base:
        monkeypatch.setenv(dl.MIRROR_ENV, base)
        with pytest.raises(FileNotFoundError) as err:
            dl.fetch_official(dl.NVIDIA_CIFAR10_PKL, progress=False)
        msg = str(err.value)
        assert "\n" not in msg and "cifar10.pkl" in msg and "incomplete or damaged" in msg and dl.MIRROR_ENV in msg
        assert _cache_files(isolated / "cache") == []
        served["body"] = snapshot  # the whole file: accepted, parsed, recorded
        path = dl.fetch_official(dl.NVIDIA_CIFAR10_PKL, progress=False)
    assert path.read_bytes() == snapshot
    assert path.with_name("cifar10.pkl.sha256").read_text().split()[0] == hashlib.sha256(snapshot).hexdigest()


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
MALFORMED = {  # name: (raw answer, fragment of the one-line message)
    "truncated chunked body": (CHUNKED_HEAD + b"10\r\n" + b"x" * 16 + b"\r\n100\r\n" + b"y" * 10, "IncompleteRead"),
    "garbage status line": (b"GARBAGE\r\n\r\n", "BadStatusLine"),
    "over-long header": (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", "LineTooLong"),
    "closed without answer": (b"", "Remote end closed connection"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_http_is_one_line(case, isolated, monkeypatch, capsys):
    answer, fragment = MALFORMED[case]
    with raw_server(lambda sock: sock.sendall(answer)) as base:
        monkeypatch.setenv(dl.MIRROR_ENV, base)
        err = assert_refused(
            ["sample", "cifar10", "--per-class", "1", "--out", str(isolated / "o")],
            capsys,
            fragment,
            [isolated / "o"],
            progress=True,
        )  # the download's bar was drawn
    assert "cifar10.pkl" in err and dl.MIRROR_ENV in err, err
    assert _cache_files(isolated / "cache") == [] and not (isolated / "o").exists()


def test_dripping_and_silent_servers_stop_with_one_line(isolated, monkeypatch):
    monkeypatch.setattr(dl, "MIN_RATE", 1000)
    monkeypatch.setattr(dl, "RATE_WINDOW_S", 0.5)
    monkeypatch.setattr(dl, "TIMEOUT_S", 0.5)

    def drip(sock):  # 1 byte every 50 ms of a 1000-byte file (20 bytes/s); gives up by itself after 5 s
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(100):
            sock.sendall(b"x")
            time.sleep(0.05)

    def silent(sock):
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nxx")
        time.sleep(5)

    for respond, fragment in ((drip, "too slow"), (silent, "no data")):
        msg, took = _failed_fetch(respond, monkeypatch)
        assert "\n" not in msg and fragment in msg and "cifar10.pkl" in msg and f"${dl.MIRROR_ENV} is" in msg, msg
        assert took < 4, took  # stopped by the client, not by the server giving up
        assert _cache_files(isolated / "cache") == []


def _failed_fetch(respond: Callable, monkeypatch) -> tuple[str, float]:
    """(message, seconds) of the failed fetch of the NVIDIA pickle from a mirror that answers with ``respond``."""
    with raw_server(respond) as base:
        monkeypatch.setenv(dl.MIRROR_ENV, base)
        t0 = time.monotonic()
        with pytest.raises(FileNotFoundError) as err:
            dl.fetch_official(dl.NVIDIA_CIFAR10_PKL, progress=False)
        return str(err.value), time.monotonic() - t0


@pytest.mark.parametrize("official_first", [True, False], ids=["official-first", "user-first"])
def test_user_url_never_shares_the_official_cache_entry(isolated, monkeypatch, official_first):
    (isolated / "srv" / "user").mkdir(parents=True)
    official = write_cifar10_snapshot(isolated / "srv" / "cifar10.pkl", seed=0)
    user = write_cifar10_snapshot(isolated / "srv" / "user" / "cifar10.pkl", seed=1)
    with loopback_mirror(isolated / "srv") as (base, _):
        monkeypatch.setenv(dl.MIRROR_ENV, base)
        steps = [
            ("official", lambda: load_stylegan2_ada("cifar10")),
            ("user", lambda: load_stylegan2_ada(f"{base}/user/cifar10.pkl")),
        ]
        got = {name: load() for name, load in (steps if official_first else steps[::-1])}
    want = {
        "official": hashlib.sha256(official.read_bytes()).hexdigest(),
        "user": hashlib.sha256(user.read_bytes()).hexdigest(),
    }
    assert {k: g.checksum for k, g in got.items()} == want
    assert got["official"].source != got["user"].source
    for name, g in got.items():
        assert Path(g.source).with_name("cifar10.pkl.sha256").read_text().split()[0] == want[name]


def test_checksum_table_must_be_an_object(isolated, monkeypatch):
    table = isolated / "sums.json"
    table.write_text(json.dumps(["cifar10.pkl", "0" * 64]))
    monkeypatch.setenv(dl.CHECKSUMS_ENV, str(table))
    with pytest.raises(ValueError, match="must hold a JSON object") as err:
        dl.fetch_official(dl.NVIDIA_CIFAR10_PKL, progress=False)
    assert "\n" not in str(err.value)


def test_truncated_file_recorded_by_an_older_version_is_fetched_again(isolated, monkeypatch, snapshot):
    cached = isolated / "cache" / "stylegan2-ada" / "cifar10.pkl"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(snapshot[:1000])  # what a truncated download left, with its sha256 recorded (old sidecar)
    cached.with_name("cifar10.pkl.sha256").write_text(f"{hashlib.sha256(snapshot[:1000]).hexdigest()}  cifar10.pkl\n")
    (isolated / "srv").mkdir()
    (isolated / "srv" / "cifar10.pkl").write_bytes(snapshot)
    parsed = []
    check = dl.VALIDATORS["stylegan2-pickle"]
    monkeypatch.setitem(dl.VALIDATORS, "stylegan2-pickle", lambda p: (parsed.append(p), check(p)))
    with loopback_mirror(isolated / "srv") as (base, requested):
        monkeypatch.setenv(dl.MIRROR_ENV, base)
        path = dl.fetch_official(dl.NVIDIA_CIFAR10_PKL, progress=False)
        assert path.read_bytes() == snapshot and requested == ["/cifar10.pkl"]
        assert path.with_name("cifar10.pkl.sha256").read_text().split() == [
            hashlib.sha256(snapshot).hexdigest(),
            "cifar10.pkl",
            dl.PARSED_MARK,
        ]
        n = len(parsed)
        assert dl.fetch_official(dl.NVIDIA_CIFAR10_PKL, progress=False) == path and len(parsed) == n  # not again
        assert requested == ["/cifar10.pkl"]


def test_user_url_without_pkl_suffix_is_parsed_before_it_is_recorded(isolated, snapshot):
    from gsoc_helpers.models.stylegan2_ada.pickle_loader import download

    served = {"body": snapshot[: len(snapshot) // 2]}

    def close_early(sock):  # no Content-Length: the end of the body is the end of the connection
        sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + served["body"])

    with raw_server(close_early) as base:
        url = f"{base}/get?id=7"  # the caller asked for a pickle; the URL does not say so
        with pytest.raises(OSError, match="incomplete or damaged") as err:
            download(url)
        assert "\n" not in str(err.value)
        assert _cache_files(isolated / "cache") == []  # nothing recorded, nothing kept
        served["body"] = snapshot
        path = download(url)
    assert path.read_bytes() == snapshot and path.with_name(path.name + ".sha256").read_text().split()[2] == "parsed"


def test_dripped_headers_and_bad_content_length_are_one_line(isolated, monkeypatch):
    monkeypatch.setattr(dl, "HEADER_TIMEOUT_S", 1.0)
    monkeypatch.setattr(dl, "TIMEOUT_S", 3.0)  # each byte comes well within it: only the header deadline can stop

    def drip_headers(sock):  # one header byte every 0.2 s; gives up by itself after 5 s (the handler's timeout)
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 40:
            sock.sendall(bytes([byte]))
            time.sleep(0.2)

    def bad_length(sock):
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\nConnection: close\r\n\r\nxx")

    for respond, fragment in ((drip_headers, "did not send its answer's headers within 1 s"), (bad_length, "abc")):
        msg, _ = _failed_fetch(respond, monkeypatch)
        assert "\n" not in msg and fragment in msg and "checksum" not in msg, msg
        assert _cache_files(isolated / "cache") == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_full_disk_says_so_with_the_path(tmp_path):
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "x.bin").write_bytes(b"z" * 200_000)
    dest = tmp_path / "dl" / "x.bin"
    dest.parent.mkdir()
    dl.temp_path(dest).symlink_to("/dev/full")  # the kernel answers every write there with ENOSPC
    with loopback_mirror(tmp_path / "srv") as (base, _):
        with pytest.raises(OSError, match="disk full") as err:
            dl.download_url(f"{base}/x.bin", dest, progress=False)
    assert str(dl.temp_path(dest)) in str(err.value) and not dest.exists()
