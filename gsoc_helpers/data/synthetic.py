"""The synthetic-dataset format: generated images with the (z, label) that produced each one.

Layout of a dataset folder::

    manifest.json                    parameters (generator name + checksum, counts, seed, truncation, z_dim, ...)
    shards/shard_00000.images.npy    uint8 [n, H, W, 3]
    shards/shard_00000.labels.npy    int64 [n]
    shards/shard_00000.z.npy         float32 [n, z_dim]
    shards/shard_00000.json          completion record (range, count, sha256 of the three files): written last

Image ``i`` has label ``i % num_classes`` and latent ``latent_for_index(seed, i, z_dim)``, so any prefix is
class-balanced and every image is reproducible from its index alone.  Every file is written to a temporary
name and renamed, and a shard only counts once its completion record exists: an interrupted writer leaves no
half-written shard behind, and resuming writes exactly the missing shards (no duplicates, no holes).  Several
processes may write one dataset at once by splitting the shards (``pending_shards(i, n)``).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

from ..fileio import atomic_path, atomic_write_bytes, sha256_file, temp_path
from .dataset import CIFAR10_CLASSES, DataError, ImageDataset

FORMAT = "gsoc-synthetic-v1"
MANIFEST = "manifest.json"
_PARAM_KEYS = (
    "generator_name",
    "generator_checksum",
    "num_classes",
    "per_class",
    "z_dim",
    "image_size",
    "seed",
    "truncation_psi",
    "shard_size",
    "class_names",
)


def latent_for_index(seed: int, index: int, z_dim: int) -> np.ndarray:
    """z ~ N(0, I) of image ``index``: float32 [z_dim], a pure function of (seed, index)."""
    return np.random.default_rng([int(seed), int(index)]).standard_normal(z_dim).astype(np.float32)


def latents_for_range(seed: int, start: int, stop: int, z_dim: int) -> np.ndarray:
    """float32 [stop - start, z_dim]: :func:`latent_for_index` for every index in ``range(start, stop)``."""
    return (
        np.stack([latent_for_index(seed, i, z_dim) for i in range(start, stop)])
        if stop > start
        else np.zeros((0, z_dim), np.float32)
    )


def _atomic_save_npy(path: Path, array: np.ndarray) -> str:
    """Save ``array`` as .npy via write-then-rename; return the file's sha256."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array)
        digest = sha256_file(tmp)
    return digest


def _shard_stem(root: Path, k: int) -> Path:
    return root / "shards" / f"shard_{k:05d}"


class SyntheticDatasetWriter:
    """Create (or re-open, with identical parameters) a synthetic dataset at ``root`` and write its shards."""

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        generator_name: str,
        generator_checksum: str,
        num_classes: int = 10,
        per_class: int = 5000,
        z_dim: int = 512,
        image_size: int = 32,
        seed: int = 0,
        truncation_psi: float = 1.0,
        shard_size: int = 1000,
        class_names: tuple[str, ...] = CIFAR10_CLASSES,
        extra: dict | None = None,
    ) -> None:
        if per_class < 1 or num_classes < 1 or shard_size < 1 or z_dim < 1:
            raise ValueError("per_class, num_classes, shard_size and z_dim must all be >= 1")
        check_total(num_classes, per_class)
        if len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
        self.root = Path(root)
        params = dict(
            generator_name=generator_name,
            generator_checksum=generator_checksum,
            num_classes=int(num_classes),
            per_class=int(per_class),
            z_dim=int(z_dim),
            image_size=int(image_size),
            seed=int(seed),
            truncation_psi=float(truncation_psi),
            shard_size=int(shard_size),
            class_names=list(class_names),
        )
        if self.root.exists() and not self.root.is_dir():
            raise DataError(f"synthetic dataset folder {str(self.root)!r} is a file, expected a folder")
        if not np.isfinite(truncation_psi):
            raise ValueError(f"truncation_psi must be a finite number, got {truncation_psi!r}")
        (self.root / "shards").mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(self.root)
        manifest = {
            "format": FORMAT,
            **params,
            "total": num_classes * per_class,
            "extra": extra or {},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self.manifest = self._create_or_open(manifest)

    def _create_or_open(self, manifest: dict) -> dict:
        path = self.root / MANIFEST
        tmp = temp_path(path)
        tmp.write_text(json.dumps(manifest, indent=2))
        try:
            os.link(tmp, path)  # atomic and exclusive: exactly one process creates the manifest
            return manifest
        except FileExistsError:
            existing = read_manifest(self.root)
            diff = {k: (existing.get(k), manifest[k]) for k in _PARAM_KEYS if existing.get(k) != manifest[k]}
            if diff:
                raise DataError(
                    f"{str(path)!r} was written with other parameters; (existing, requested): {diff}. "
                    "Use another output folder or the same parameters to resume."
                ) from None
            return existing
        finally:
            tmp.unlink(missing_ok=True)

    @property
    def total(self) -> int:
        return int(self.manifest["total"])

    @property
    def shard_size(self) -> int:
        return int(self.manifest["shard_size"])

    def shard_ranges(self) -> list[tuple[int, int]]:
        return [(s, min(s + self.shard_size, self.total)) for s in range(0, self.total, self.shard_size)]

    def pending_shards(self, shard_index: int = 0, num_shards: int = 1, verify: bool = False) -> list[tuple[int, int]]:
        """(start, stop) of the shards not yet written that belong to worker ``shard_index`` of ``num_shards``.

        With ``verify``, a written shard whose files are missing or fail their sha256 counts as not written: its
        completion record is removed (with a warning) so that the shard is generated again."""
        if not 0 <= shard_index < num_shards:
            raise ValueError(f"shard index {shard_index} outside [0, {num_shards})")
        out = []
        for k, (s, e) in enumerate(self.shard_ranges()):
            if k % num_shards != shard_index:
                continue
            record = _shard_stem(self.root, k).with_suffix(".json")
            if record.is_file() and verify and not shard_is_intact(self.root, k):
                warnings.warn(
                    f"{str(record.parent)!r}: shard {k} is corrupt or incomplete; writing it again", stacklevel=2
                )
                record.unlink(missing_ok=True)
            if not record.is_file():
                out.append((s, e))
        return out

    def expected_labels(self, start: int, stop: int) -> np.ndarray:
        return np.arange(start, stop, dtype=np.int64) % int(self.manifest["num_classes"])

    def write_shard(self, start: int, images: np.ndarray, labels: np.ndarray, z: np.ndarray) -> None:
        """Write the shard beginning at ``start``: images uint8 [n, H, W, 3], labels int64 [n], z float32 [n, z_dim]."""
        ranges = dict(self.shard_ranges())
        if start not in ranges:
            raise ValueError(
                f"start {start} is not a shard boundary (shard size {self.shard_size}, total {self.total})"
            )
        stop, n, size = ranges[start], ranges[start] - start, int(self.manifest["image_size"])
        images, labels, z = np.asarray(images), np.asarray(labels, dtype=np.int64), np.asarray(z, dtype=np.float32)
        if images.dtype != np.uint8 or images.shape != (n, size, size, 3):
            raise ValueError(
                f"shard {start}:{stop}: expected uint8 images {(n, size, size, 3)}, got {images.dtype} {images.shape}"
            )
        if not np.array_equal(labels, self.expected_labels(start, stop)):
            raise ValueError(f"shard {start}:{stop}: labels must be index % num_classes")
        if z.shape != (n, int(self.manifest["z_dim"])):
            raise ValueError(f"shard {start}:{stop}: expected z of shape {(n, self.manifest['z_dim'])}, got {z.shape}")
        stem = _shard_stem(self.root, start // self.shard_size)
        digests = {
            part: _atomic_save_npy(stem.with_name(f"{stem.name}.{part}.npy"), arr)
            for part, arr in (("images", images), ("labels", labels), ("z", z))
        }
        record = {"start": start, "stop": stop, "count": n, "sha256": digests}
        atomic_write_bytes(stem.with_suffix(".json"), json.dumps(record).encode())

    def is_complete(self, verify: bool = True) -> bool:
        """Every shard written (and, with ``verify``, every file matching its recorded sha256)."""
        return all(
            shard_is_intact(self.root, k) if verify else _shard_stem(self.root, k).with_suffix(".json").is_file()
            for k in range(len(self.shard_ranges()))
        )


def shard_is_intact(root: str | os.PathLike, k: int) -> bool:
    """Shard ``k`` has its completion record and its three files match the recorded sha256."""
    stem = _shard_stem(Path(root), k)
    try:
        record = json.loads(stem.with_suffix(".json").read_text())
        return all(
            sha256_file(stem.with_name(f"{stem.name}.{part}.npy")) == record["sha256"][part]
            for part in ("images", "labels", "z")
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _pid_alive(pid: int) -> bool:
    """A running process other than this one (this one's leftovers are from an attempt that failed)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_temporaries(root: Path) -> None:
    """Delete ``.<name>.<pid>.tmp`` files left by writers that no longer run (a killed sampler)."""
    for folder in (root, root / "shards"):
        for tmp in folder.glob(".*.tmp"):
            pid = tmp.name.rsplit(".", 2)[-2]
            if not pid.isdigit() or not _pid_alive(int(pid)):
                tmp.unlink(missing_ok=True)


def read_manifest(root: str | os.PathLike) -> dict:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise DataError(f"{str(Path(root))!r} is not a synthetic dataset: {MANIFEST} is missing")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{str(path)!r} is not valid JSON: {err}") from None
    except RecursionError:  # [[[[...]]]] 200,000 deep
        raise DataError(f"{str(path)!r} is nested too deeply to be a manifest") from None
    if not isinstance(manifest, dict):
        raise DataError(f"{str(path)!r} holds a JSON {type(manifest).__name__}, expected an object")
    if manifest.get("format") != FORMAT:
        raise DataError(f"{str(path)!r}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    _check_counts(manifest, path)
    return manifest


MAX_TOTAL = 10_000_000  # images in one synthetic dataset (CIFAR-10's size x 166; the 2022 project used 50,000)


def check_total(num_classes: int, per_class: int) -> None:
    """ValueError (one line) when ``num_classes * per_class`` images exceed :data:`MAX_TOTAL`."""
    if num_classes * per_class > MAX_TOTAL:
        raise ValueError(
            f"{per_class:,} images per class x {num_classes} classes is more than the {MAX_TOTAL:,} images a "
            "synthetic dataset may hold; give a smaller --per-class"
        )


def _check_counts(m: dict, path: Path) -> None:
    """DataError (one line) unless the manifest's counts are whole numbers >= 1 that agree with each other."""
    for key in ("num_classes", "per_class", "z_dim", "image_size", "shard_size", "total"):
        value = m.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DataError(f"{str(path)!r}: {key} must be a whole number >= 1, got {value!r}")
    if m["total"] != m["num_classes"] * m["per_class"] or m["total"] > MAX_TOTAL:
        raise DataError(
            f"{str(path)!r}: total {m['total']} must be num_classes x per_class "
            f"({m['num_classes']} x {m['per_class']}) and at most {MAX_TOTAL:,}"
        )
    names = m.get("class_names")
    if not isinstance(names, list) or len(names) != m["num_classes"] or not all(isinstance(n, str) for n in names):
        raise DataError(f"{str(path)!r}: class_names must be a list of {m['num_classes']} names, got {names!r}"[:300])


try:  # torch is a dependency, but keep the format readable without it
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover
    _TorchDataset = object  # type: ignore[misc,assignment]


class SyntheticDataset(_TorchDataset):
    """Lazily memory-mapped reader: item ``i`` -> (uint8 tensor [3, H, W], int64 label, float32 z [z_dim])."""

    def __init__(self, root: str | os.PathLike, validate: bool = True) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"synthetic dataset folder {str(self.root)!r} does not exist")
        self.manifest = read_manifest(self.root)
        m = self.manifest
        self.total, self.shard_size = int(m["total"]), int(m["shard_size"])
        self.class_names = tuple(m["class_names"])
        n_shards = -(-self.total // self.shard_size)
        missing = [k for k in range(n_shards) if not _shard_stem(self.root, k).with_suffix(".json").is_file()]
        if missing:
            raise DataError(
                f"{str(self.root)!r} is incomplete: {len(missing)} of {n_shards} shards missing "
                f"(first: {missing[:5]}); run the sampler again with the same arguments to resume"
            )
        self._images: list[np.ndarray] = []
        labels, zs = [], []
        for k in range(n_shards):
            stem = _shard_stem(self.root, k)
            record = json.loads(stem.with_suffix(".json").read_text())
            parts = {}
            for part in ("images", "labels", "z"):
                path = stem.with_name(f"{stem.name}.{part}.npy")
                if not path.is_file():
                    raise DataError(f"shard file {str(path)!r} is missing")
                if validate and sha256_file(path) != record["sha256"][part]:
                    raise DataError(f"shard file {str(path)!r} is corrupt (sha256 mismatch)")
                try:
                    parts[part] = np.load(path, mmap_mode="r" if part == "images" else None)
                except ValueError as err:
                    raise DataError(f"shard file {str(path)!r} is not a readable .npy: {err}") from None
            size, n = int(m["image_size"]), record["count"]
            if (
                parts["images"].shape != (n, size, size, 3)
                or len(parts["labels"]) != n
                or parts["z"].shape != (n, int(m["z_dim"]))
            ):
                raise DataError(f"shard {str(stem)!r}: shapes do not match its record / the manifest")
            self._images.append(parts["images"])
            labels.append(parts["labels"])
            zs.append(parts["z"])
        self.labels = np.concatenate(labels).astype(np.int64)
        self.z = np.concatenate(zs).astype(np.float32)
        if validate and not np.array_equal(self.labels, np.arange(self.total) % int(m["num_classes"])):
            raise DataError(f"{str(self.root)!r}: labels do not follow index % num_classes")

    def __len__(self) -> int:
        return self.total

    def image(self, index: int) -> np.ndarray:
        """uint8 [H, W, 3] of image ``index``."""
        if not -self.total <= index < self.total:
            raise IndexError(f"index {index} out of range for {self.total} images")
        index %= self.total
        return np.asarray(self._images[index // self.shard_size][index % self.shard_size])

    def image_array(self) -> np.ndarray:
        """All images, uint8 [N, H, W, 3] (loaded into memory)."""
        return np.concatenate([np.asarray(a) for a in self._images])

    def __getitem__(self, index: int):
        import torch  # the format stays readable without torch (see _TorchDataset)

        img = torch.from_numpy(self.image(index).copy()).permute(2, 0, 1)
        return img, torch.tensor(self.labels[index]), torch.from_numpy(self.z[index])

    def to_image_dataset(self) -> ImageDataset:
        g = self.manifest["generator_name"]
        return ImageDataset(self.image_array(), self.labels, self.class_names, source=f"synthetic:{g}:{self.root}")
