"""Files from the internet and their checksums: one downloader for the whole package.

Every official file the project uses is an :class:`OfficialFile` in :data:`OFFICIAL_FILES` and is fetched by
:func:`fetch_official`: data root copy if present, else the cache, else downloaded (tqdm bar, via a temporary file
renamed only when complete and verified).  Checks: the published checksum where one exists (an md5 or the sha256
prefix in the file name), else the sha256 recorded beside the cached copy on first download.

``GSOC_DOWNLOAD_MIRROR=<base URL>`` fetches the file whose official URL ends in ``/NAME`` from ``<base URL>/NAME``
(air-gapped sites, CI).  ``GSOC_DOWNLOAD_CHECKSUMS=<json file>`` maps ``NAME`` to the sha256 of a file that a private
mirror serves in place of the official one (tests serving fixtures); without it the published checksums apply.

A file the user names by URL (``mirrored=False``) is cached under ``url-<sha256 of the URL>/`` so that it never
shares an entry with an official file of the same name.  A file without any checksum is recorded only after it is
complete and parses (:data:`VALIDATORS`, by what the caller asked for, :attr:`OfficialFile.kind`, else by file
suffix: a StyleGAN2-ADA pickle must read with the project's safe loader, whatever its URL ends in).  Downloads stop
with one line after :data:`TIMEOUT_S` of silence (connect or read), when the answer's headers take longer than
:data:`HEADER_TIMEOUT_S` in all (a server dripping them), or when fewer than :data:`MIN_RATE` bytes/s arrive over
:data:`RATE_WINDOW_S`; a full disk says so, naming the path.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
import os
import socket
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import get_cache_dir, get_data_root
from .fileio import commit, digest_file, sha256_file, temp_path
from .progress import progress as tqdm  # tqdm's API; one final line in notebooks

MIRROR_ENV = "GSOC_DOWNLOAD_MIRROR"
CHECKSUMS_ENV = "GSOC_DOWNLOAD_CHECKSUMS"
TIMEOUT_S = 30.0  # connect, and longest silence while reading
HEADER_TIMEOUT_S = 60.0  # the whole answer head (status line and headers), however it trickles in
MIN_RATE = 1024  # bytes/s ...
RATE_WINDOW_S = 60.0  # ... averaged over this many seconds (a slower download stops with one line)
CHUNK = 1 << 16  # read granularity (the progress bar moves by bytes)
PARSED_MARK = "parsed"  # third field of a cache sidecar: the file was parsed (VALIDATORS) before it was recorded


def download_url(
    url: str,
    dest: str | os.PathLike,
    expected_sha256: str | None = None,
    progress: bool = True,
    expected_md5: str | None = None,
    validate: Callable[[Path], None] | None = None,
) -> str:
    """Download ``url`` to ``dest`` via a temporary file (renamed only when complete and verified).

    ``expected_sha256`` may be a full digest or a prefix (e.g. the 8 hex digits in a file name); ``expected_md5``
    a full md5; ``validate(tmp_path)`` raises if the file is incomplete or not what was asked for.  Returns the
    file's sha256.  Raises OSError for network failures (``urllib.error.HTTPError`` for an HTTP status; a stalled
    or too slow transfer; malformed HTTP), truncated and invalid downloads, ValueError for a checksum mismatch;
    ``dest`` is untouched then and nothing partial is kept.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(dest)
    h, md5 = hashlib.sha256(), hashlib.md5()
    try:
        with _open_within(url) as resp, open(tmp, "wb") as out:
            total = _content_length(resp, url)
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=f"download {dest.name}",
                disable=not progress,
            ) as bar:
                _copy(resp, out, bar, (h, md5), url)
        if total is not None and tmp.stat().st_size != total:
            raise OSError(f"download of {url} truncated: {tmp.stat().st_size} of {total} bytes")
        digest = h.hexdigest()
        if expected_sha256 is not None and not digest.startswith(expected_sha256.lower()):
            raise ValueError(f"checksum mismatch for {url}: sha256 {digest}, expected {expected_sha256}")
        if expected_md5 is not None and md5.hexdigest() != expected_md5.lower():
            raise ValueError(f"checksum mismatch for {url}: md5 {md5.hexdigest()}, expected {expected_md5}")
        if validate is not None:
            try:
                validate(tmp)
            except (ValueError, OSError) as err:
                raise OSError(
                    f"download of {url} is incomplete or damaged ({tmp.stat().st_size} bytes; "
                    f"{_first_line(err)}); nothing was kept"
                ) from None
        commit(tmp, dest)
        return digest
    except http.client.HTTPException as err:  # IncompleteRead, BadStatusLine, LineTooLong, ... are not OSError
        raise OSError(f"malformed HTTP answer from {url} ({type(err).__name__}: {_first_line(err)[:120]})") from None
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OSError(f"disk full while saving {url} to {str(tmp)!r}; free space there and try again") from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _content_length(resp, url: str) -> int | None:
    """The answer's Content-Length in bytes (None: not given); OSError for one that is not a byte count."""
    text = resp.headers.get("Content-Length")
    if text is None or not text.strip():
        return None
    if not text.strip().isdigit():
        raise OSError(f"malformed HTTP answer from {url} (Content-Length {text[:40]!r} is not a number of bytes)")
    return int(text) or None


def _open_within(url: str):
    """``urlopen(url)`` whose answer head must arrive within :data:`HEADER_TIMEOUT_S` in all (the socket timeout,
    :data:`TIMEOUT_S`, bounds only each silence): past it the connection is shut and OSError says so."""
    socks: list[socket.socket] = []

    def watched(base: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
        class Watched(base):  # type: ignore[valid-type, misc]
            def connect(self) -> None:
                super().connect()
                socks.append(self.sock)

        return Watched

    class HTTP(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(watched(http.client.HTTPConnection), req)

    class HTTPS(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(watched(http.client.HTTPSConnection), req, context=self._context)

    fired = threading.Event()

    def cut() -> None:
        fired.set()
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(HEADER_TIMEOUT_S, cut)
    timer.daemon = True
    timer.start()
    try:
        return urllib.request.build_opener(HTTP, HTTPS).open(url, timeout=TIMEOUT_S)
    except (OSError, http.client.HTTPException):
        if fired.is_set():
            raise OSError(f"{url} did not send its answer's headers within {HEADER_TIMEOUT_S:g} s") from None
        raise
    finally:
        timer.cancel()


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _copy(resp, out, bar, hashes, url: str) -> None:
    """Copy ``resp`` to ``out`` in pieces of at most :data:`CHUNK` bytes; OSError when the transfer is slower than
    :data:`MIN_RATE` over the last :data:`RATE_WINDOW_S` (silence longer than TIMEOUT_S ends in the socket)."""
    marks = [(time.monotonic(), 0)]  # (time, bytes so far), pruned to the window
    got = 0
    while True:
        try:
            chunk = resp.read1(CHUNK)
        except TimeoutError:
            raise OSError(f"no data from {url} for {TIMEOUT_S:g} s (timed out after {got} bytes)") from None
        if not chunk:
            return
        out.write(chunk)
        for h in hashes:
            h.update(chunk)
        got += len(chunk)
        bar.update(len(chunk))
        now = time.monotonic()
        marks.append((now, got))
        while len(marks) > 2 and now - marks[1][0] >= RATE_WINDOW_S:
            marks.pop(0)
        t0, b0 = marks[0]
        if now - t0 >= RATE_WINDOW_S and (got - b0) / (now - t0) < MIN_RATE:
            raise OSError(
                f"download from {url} too slow: {(got - b0) / (now - t0):.0f} bytes/s over the last "
                f"{now - t0:.0f} s (minimum {MIN_RATE} bytes/s), {got} bytes so far"
            )


@dataclass(frozen=True)
class OfficialFile:
    """A third-party file: where it is published, its published checksum (if any), where a data root holds it."""

    url: str
    cache_subdir: str
    data_root_path: str | None  # relative to the data root, e.g. "classifiers/.../cifar10_resnet20-4118986f.pt"
    sha256_prefix: str | None = None  # published: the hex suffix of the file name (torch.hub convention)
    md5: str | None = None  # published md5 (CIFAR-10 tarball)
    mirrored: bool = True  # False for a URL the user gave: fetched from there, never from the mirror
    file_name: str | None = None  # cache file name when the URL's last part is not one
    kind: str | None = None  # what the caller asked for (a VALIDATORS key); None: judged by the file name's suffix

    def cache_path(self, cache_dir: Path) -> Path:
        """``<cache>/<subdir>/<name>``; a user's URL: ``<cache>/<subdir>/url-<sha256(url)[:16]>/<name>``."""
        folder = cache_dir / self.cache_subdir
        if not self.mirrored:
            folder = folder / f"url-{hashlib.sha256(self.url.encode()).hexdigest()[:16]}"
        return folder / self.name

    @property
    def name(self) -> str:
        return self.file_name or self.url.rsplit("/", 1)[-1]


OFFICIAL_FILES: dict[str, OfficialFile] = {}


def register_official(f: OfficialFile) -> OfficialFile:
    """Add ``f`` to :data:`OFFICIAL_FILES` (keyed by file name); a different file under the same name is refused."""
    old = OFFICIAL_FILES.get(f.name)
    if old is not None and old != f:
        raise ValueError(f"official file {f.name!r} is already registered as {old.url}")
    OFFICIAL_FILES[f.name] = f
    return f


def source_url(f: OfficialFile) -> str:
    """``$GSOC_DOWNLOAD_MIRROR/NAME`` when the mirror is set, else the official URL."""
    base = os.environ.get(MIRROR_ENV, "").strip() if f.mirrored else ""
    return f"{base.rstrip('/')}/{f.name}" if base else f.url


def _override_sha256(name: str) -> str | None:
    path = os.environ.get(CHECKSUMS_ENV, "").strip()
    if not path:
        return None
    try:
        table = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ValueError(
            f"${CHECKSUMS_ENV}={path!r} is not a readable JSON file of name -> sha256: {_first_line(err)}"
        ) from None
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ValueError(
            f"${CHECKSUMS_ENV}={path!r} must hold a JSON object of file name -> sha256 text, got {type(table).__name__}"
        )
    return table.get(name)


def _verify(path: Path, f: OfficialFile, recorded: str | None) -> str:
    """sha256 of ``path`` after checking it against the override, published or recorded checksum."""
    digest = sha256_file(path)
    override = _override_sha256(f.name)
    if override is not None:
        ok, want = digest == override.lower(), f"sha256 {override} (from ${CHECKSUMS_ENV})"
    elif f.md5 is not None:
        ok, want = digest_file(path, "md5") == f.md5, f"md5 {f.md5} (published)"
    elif f.sha256_prefix is not None:
        ok, want = digest.startswith(f.sha256_prefix), f"sha256 prefix {f.sha256_prefix} (published)"
    else:
        ok, want = recorded in (None, digest), f"sha256 {recorded} (recorded at first download)"
    if not ok:
        raise ValueError(f"checksum mismatch for {str(path)!r}: sha256 {digest}, expected {want}")
    return digest


def fetch_official(
    f: OfficialFile,
    data_root: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> Path:
    """A verified local copy of ``f``: ``<data root>/<f.data_root_path>``, else the cache, else downloaded
    (from ``$GSOC_DOWNLOAD_MIRROR`` when set).  Network failures raise FileNotFoundError with one line naming the
    file, its official URL, the mirror setting and the data-root layout; checksum mismatches raise ValueError.
    A failed download leaves the cache as it was."""
    root = get_data_root(data_root) if f.data_root_path is not None else None
    local = root / f.data_root_path if root is not None and f.data_root_path is not None else None
    if local is not None and local.is_file():
        _verify(local, f, None)
        return local
    dest = f.cache_path(get_cache_dir(cache_dir))
    sidecar = dest.with_name(dest.name + ".sha256")
    fields = sidecar.read_text().split() if sidecar.is_file() else []
    recorded = fields[0] if fields else None
    override = _override_sha256(f.name)
    unchecked = override is None and f.sha256_prefix is None and f.md5 is None
    validate = validator_for(f.name, f.kind) if unchecked else None
    if dest.is_file():
        try:
            digest = _verify(dest, f, recorded)
            if validate is not None and PARSED_MARK not in fields[2:]:  # recorded before files were parsed
                validate(dest)
                sidecar.write_text(f"{digest}  {dest.name}  {PARSED_MARK}\n")
            return dest
        except ValueError:
            pass  # a damaged cache entry: fetch again; it is replaced only by a verified download
    url = source_url(f)
    try:
        digest = download_url(
            url,
            dest,
            progress=progress,
            expected_sha256=override or f.sha256_prefix,
            expected_md5=None if override else f.md5,
            validate=validate,
        )
    except urllib.error.HTTPError as err:
        raise FileNotFoundError(
            f"{url} answered HTTP {err.code} for {f.name} (official URL {f.url}); {_hint(f)}"
        ) from None
    except OSError as err:
        reason = getattr(err, "reason", None) or err
        raise FileNotFoundError(
            f"cannot download {f.name} from {url} ({reason}); {_mirror_setting(f)}{_hint(f)}"
        ) from None
    except ValueError as err:
        raise ValueError(f"{err}; the cache was left as it was") from None
    sidecar.write_text(f"{digest}  {dest.name}" + (f"  {PARSED_MARK}" if validate is not None else "") + "\n")
    return dest


def _mirror_setting(f: OfficialFile) -> str:
    if not f.mirrored:
        return ""
    value = os.environ.get(MIRROR_ENV, "").strip()
    return f"${MIRROR_ENV} is {value!r}; " if value else f"${MIRROR_ENV} is not set; "


def _check_stylegan2_pickle(path: Path) -> None:
    from .models.stylegan2_ada.pickle_loader import read_stylegan2_pickle  # it imports this module: no cycle

    read_stylegan2_pickle(path)


def _check_torch_file(path: Path) -> None:
    import torch  # only for .pt files: downloads (CIFAR-10 tarball, data-info) need no torch

    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a torn file
        raise ValueError(f"not a readable weights-only torch file ({type(err).__name__}: {_first_line(err)})") from None


def _check_tarball(path: Path) -> None:
    try:
        with tarfile.open(path) as tar:
            for _ in tar:  # reads to the end: a torn gzip stream fails here
                pass
    except (tarfile.TarError, EOFError, OSError) as err:
        raise ValueError(f"not a complete tar archive ({_first_line(err)})") from None


# How a file without any checksum is checked before its sha256 is recorded, by what it should be ...
VALIDATORS: dict[str, Callable[[Path], None]] = {
    "stylegan2-pickle": _check_stylegan2_pickle,
    "torch": _check_torch_file,
    "tarball": _check_tarball,
}
# ... which, when the caller did not say, the file name's suffix tells.
SUFFIX_KINDS = {
    ".pkl": "stylegan2-pickle",
    ".pt": "torch",
    ".pth": "torch",
    ".th": "torch",
    ".tar.gz": "tarball",
    ".tgz": "tarball",
}


def validator_for(name: str, kind: str | None = None) -> Callable[[Path], None] | None:
    """The check for a downloaded file that should be ``kind`` (a :data:`VALIDATORS` key), else judged by its
    name's suffix (None: no parser known for it)."""
    if kind is not None:
        return VALIDATORS[kind]
    return next((VALIDATORS[k] for suffix, k in SUFFIX_KINDS.items() if name.lower().endswith(suffix)), None)


def _hint(f: OfficialFile) -> str:
    if not f.mirrored or f.data_root_path is None:
        return "check the URL, or download the file yourself and pass its path"
    return (
        f"without network, set {MIRROR_ENV}=<base URL> serving <base URL>/{f.name}, or put the file at "
        f"<data root>/{f.data_root_path} (data root: --data-root or $GSOC_DATA_ROOT)"
    )


# ------------------------------------------------------------------ the project's official files
CIFAR10_TARBALL = register_official(
    OfficialFile(
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        cache_subdir="cifar10",
        data_root_path="cifar-10-python.tar.gz",
        md5="c58f30108f718f92721af3b95e74349a",
    )
)
NVIDIA_CIFAR10_PKL = register_official(
    OfficialFile(
        url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/cifar10.pkl",
        cache_subdir="stylegan2-ada",
        data_root_path="stylegan2-ada/cifar10.pkl",
    )
)  # no published checksum: sha256 recorded at first download
TORCH_FIDELITY_INCEPTION = register_official(
    OfficialFile(
        url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
        cache_subdir="inception",
        data_root_path="inception/weights-inception-2015-12-05-6726825d.pth",
        sha256_prefix="6726825d",
    )
)
