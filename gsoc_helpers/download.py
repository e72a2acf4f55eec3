"""Files from the internet and their checksums: one downloader for the whole package.

Every official file the project uses is an :class:`OfficialFile` in :data:`OFFICIAL_FILES` and is fetched by
:func:`fetch_official`: data root copy if present, else the cache, else downloaded (tqdm bar, via a temporary file
renamed only when complete and verified).  Checks: the published checksum where one exists (an md5 or the sha256
prefix in the file name), else the sha256 recorded beside the cached copy on first download.

``GSOC_DOWNLOAD_MIRROR=<base URL>`` fetches the file whose official URL ends in ``/NAME`` from ``<base URL>/NAME``
(air-gapped sites, CI).  ``GSOC_DOWNLOAD_CHECKSUMS=<json file>`` maps ``NAME`` to the sha256 of a file that a private
mirror serves in place of the official one (tests serving fixtures); without it the published checksums apply.
"""
from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .fileio import commit, digest_file, sha256_file, temp_path  # noqa: F401  (sha256_file re-exported)

MIRROR_ENV = "GSOC_DOWNLOAD_MIRROR"
CHECKSUMS_ENV = "GSOC_DOWNLOAD_CHECKSUMS"


def download_url(url: str, dest: str | os.PathLike, expected_sha256: str | None = None,
                 progress: bool = True, expected_md5: str | None = None) -> str:
    """Download ``url`` to ``dest`` via a temporary file (renamed only when complete and verified).

    ``expected_sha256`` may be a full digest or a prefix (e.g. the 8 hex digits in a file name); ``expected_md5``
    a full md5.  Returns the file's sha256.  Raises OSError for network failures (``urllib.error.HTTPError`` for
    an HTTP status) and truncated downloads, ValueError for a checksum mismatch; ``dest`` is untouched then.
    """
    from .progress import progress as tqdm  # tqdm's API; one final line in notebooks

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(dest)
    h, md5 = hashlib.sha256(), hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as out:  # noqa: S310 (https/file)
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {dest.name}",
                      disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    out.write(chunk)
                    h.update(chunk)
                    md5.update(chunk)
                    bar.update(len(chunk))
        if total is not None and tmp.stat().st_size != total:
            raise OSError(f"download of {url} truncated: {tmp.stat().st_size} of {total} bytes")
        digest = h.hexdigest()
        if expected_sha256 is not None and not digest.startswith(expected_sha256.lower()):
            raise ValueError(f"checksum mismatch for {url}: sha256 {digest}, expected {expected_sha256}")
        if expected_md5 is not None and md5.hexdigest() != expected_md5.lower():
            raise ValueError(f"checksum mismatch for {url}: md5 {md5.hexdigest()}, expected {expected_md5}")
        commit(tmp, dest)
        return digest
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class OfficialFile:
    """A third-party file: where it is published, its published checksum (if any), where a data root holds it."""

    url: str
    cache_subdir: str
    data_root_path: str | None         # relative to the data root, e.g. "classifiers/.../cifar10_resnet20-4118986f.pt"
    sha256_prefix: str | None = None   # published: the hex suffix of the file name (torch.hub convention)
    md5: str | None = None             # published md5 (CIFAR-10 tarball)
    mirrored: bool = True              # False for a URL the user gave: fetched from there, never from the mirror
    file_name: str | None = None       # cache file name when the URL's last part is not one

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
        raise ValueError(f"${CHECKSUMS_ENV}={path!r} is not a readable JSON file of name -> sha256: {err}") from None
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


def fetch_official(f: OfficialFile, data_root: str | os.PathLike | None = None,
                   cache_dir: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """A verified local copy of ``f``: ``<data root>/<f.data_root_path>``, else the cache, else downloaded
    (from ``$GSOC_DOWNLOAD_MIRROR`` when set).  Network failures raise FileNotFoundError with one line naming the
    file, its official URL, the mirror setting and the data-root layout; checksum mismatches raise ValueError.
    A failed download leaves the cache as it was."""
    from .config import get_cache_dir, get_data_root

    root = get_data_root(data_root) if f.data_root_path is not None else None
    if root is not None and (root / f.data_root_path).is_file():
        local = root / f.data_root_path
        _verify(local, f, None)
        return local
    dest = get_cache_dir(cache_dir) / f.cache_subdir / f.name
    sidecar = dest.with_name(dest.name + ".sha256")
    recorded = sidecar.read_text().split()[0] if sidecar.is_file() else None
    if dest.is_file():
        try:
            _verify(dest, f, recorded)
            return dest
        except ValueError:
            pass  # a damaged cache entry: fetch again; it is replaced only by a verified download
    url = source_url(f)
    override = _override_sha256(f.name)
    try:
        digest = download_url(url, dest, progress=progress,
                              expected_sha256=override or f.sha256_prefix,
                              expected_md5=None if override else f.md5)
    except urllib.error.HTTPError as err:
        raise FileNotFoundError(f"{url} answered HTTP {err.code} for {f.name} (official URL {f.url}); "
                                f"{_hint(f)}") from None
    except OSError as err:
        reason = getattr(err, "reason", None) or err
        raise FileNotFoundError(f"cannot download {f.name} from {url} ({reason}); {_hint(f)}") from None
    except ValueError as err:
        raise ValueError(f"{err}; the cache was left as it was") from None
    sidecar.write_text(f"{digest}  {dest.name}\n")
    return dest


def _hint(f: OfficialFile) -> str:
    if not f.mirrored or f.data_root_path is None:
        return "check the URL, or download the file yourself and pass its path"
    return (f"without network, set {MIRROR_ENV}=<base URL> serving <base URL>/{f.name}, or put the file at "
            f"<data root>/{f.data_root_path} (data root: --data-root or $GSOC_DATA_ROOT)")


# ------------------------------------------------------------------ the project's official files
CIFAR10_TARBALL = register_official(OfficialFile(
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", cache_subdir="cifar10",
    data_root_path="cifar-10-python.tar.gz", md5="c58f30108f718f92721af3b95e74349a"))
NVIDIA_CIFAR10_PKL = register_official(OfficialFile(
    url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/cifar10.pkl", cache_subdir="stylegan2-ada",
    data_root_path="stylegan2-ada/cifar10.pkl"))  # no published checksum: sha256 recorded at first download
TORCH_FIDELITY_INCEPTION = register_official(OfficialFile(
    url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
    cache_subdir="inception", data_root_path="inception/weights-inception-2015-12-05-6726825d.pth",
    sha256_prefix="6726825d"))
