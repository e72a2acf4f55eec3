"""CIFAR-10 from any of its forms, as one :class:`ImageDataset` type.

Sources
-------
* ``"batches"``  -- the official python-batches folder ``cifar-10-batches-py`` (data_batch_1..5, test_batch,
  batches.meta), searched under the data root and the cache.
* ``"exact"``    -- ``<data_root>/cifar10-exact/<split>/<class>/*.png`` (bit-exact subset).
* ``"jpeg"``     -- ``<data_root>/cifar10-jpeg/<split>/<class>/*.jpg`` (all 60,000, JPEG quality 75: lossy!).
* ``"download"`` -- the official tarball through ``gsoc_helpers.download`` (md5 verified; ``$GSOC_DOWNLOAD_MIRROR``).
* a folder path  -- an image-folder tree ``<path>/<class>/*`` or ``<path>/<split>/<class>/*`` or a batches folder.
* ``"auto"``     -- batches if found locally, else exact, else jpeg, else download.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from ..config import get_cache_dir, get_data_root
from ..download import CIFAR10_TARBALL, fetch_official
from ..file_lock import exclusive_lock
from ..pil_images import read_rgb
from .dataset import CIFAR10_CLASSES, DataError, ImageDataset

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
BATCH_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
SOURCES = ("auto", "batches", "exact", "jpeg", "download")


def _check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; expected 'train' or 'test'")


def load_image(path: Path, size: int = 32) -> np.ndarray:
    """One image file as uint8 [size, size, 3]: every PIL mode converted (16-bit scaled) or refused, huge images
    refused (:func:`gsoc_helpers.pil_images.read_rgb`); DataError naming the file for those and for another size."""
    try:
        arr = read_rgb(path)
    except ValueError as err:
        raise DataError(str(err)) from None
    if arr.shape != (size, size, 3):
        raise DataError(f"image {str(path)!r} has shape {arr.shape}; expected ({size}, {size}, 3)")
    return arr


def load_image_folder(
    path: str | os.PathLike, class_names: tuple[str, ...] = CIFAR10_CLASSES, image_size: int = 32
) -> ImageDataset:
    """Read ``<path>/<class_name>/*.png|jpg`` into uint8 [N, H, W, 3]; files sorted by name per class."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} does not exist; expected <folder>/<class_name>/*.png|jpg")
    present = sorted(p.name for p in root.iterdir() if p.is_dir())
    unknown = [name for name in present if name not in class_names]
    missing = [name for name in class_names if name not in present]
    if unknown or missing:
        raise DataError(
            f"image folder {str(root)!r}: class folders do not match the expected names {list(class_names)}"
            + (f"; unknown: {unknown}" if unknown else "")
            + (f"; missing: {missing}" if missing else "")
        )
    images, labels = [], []
    for label, name in enumerate(class_names):
        files = sorted(f for f in (root / name).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        for f in files:
            images.append(load_image(f, image_size))
            labels.append(label)
    if not images:
        raise DataError(f"image folder {str(root)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return ImageDataset(np.stack(images), np.asarray(labels), class_names, source=f"folder:{root}")


def _unpickle_batch(path: Path) -> dict:
    """Read one official python batch (a pickle of plain dicts/lists/ndarrays) with a restricted unpickler."""

    class _BatchUnpickler(pickle.Unpickler):
        ALLOWED = {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),
        }  # protocol-2 pickles written by Python 3 encode bytes this way

        def find_class(self, module: str, name: str):
            if (module, name) not in self.ALLOWED:
                raise DataError(f"{str(path)!r}: refusing to load global {module}.{name} (not a CIFAR-10 batch)")
            return super().find_class(module, name)

    try:
        with open(path, "rb") as fh:
            obj = _BatchUnpickler(fh, encoding="bytes").load()
    except DataError:
        raise
    except Exception as err:  # truncated / not a pickle
        raise DataError(f"{str(path)!r} is not a readable CIFAR-10 python batch: {type(err).__name__}: {err}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{str(path)!r}: expected a dict in a CIFAR-10 batch, got {type(obj).__name__}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def load_python_batches(folder: str | os.PathLike, split: str = "train") -> ImageDataset:
    """Official ``cifar-10-batches-py`` folder -> ImageDataset (50,000 train or 10,000 test)."""
    _check_split(split)
    root = Path(folder)
    names = TRAIN_BATCHES if split == "train" else TEST_BATCHES
    missing = [n for n in names if not (root / n).is_file()]
    if not root.is_dir() or missing:
        raise DataError(
            f"CIFAR-10 batches folder {str(root)!r} lacks {missing or list(names)}; expected the "
            f"official python version ({', '.join(TRAIN_BATCHES + TEST_BATCHES)}, batches.meta)"
        )
    class_names = CIFAR10_CLASSES
    if (root / "batches.meta").is_file():
        meta = _unpickle_batch(root / "batches.meta")
        raw = meta.get("label_names")
        if raw is not None:
            class_names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in raw)
            if class_names != CIFAR10_CLASSES:
                raise DataError(f"{str(root / 'batches.meta')!r}: class names {class_names} are not CIFAR-10's")
    images, labels = [], []
    for name in names:
        batch = _unpickle_batch(root / name)
        data, lab = batch.get("data"), batch.get("labels")
        if data is None or lab is None:
            raise DataError(f"{str(root / name)!r}: missing 'data' or 'labels' entry")
        data = np.asarray(data)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(lab) != len(data):
            raise DataError(
                f"{str(root / name)!r}: expected uint8 data [N, 3072] and N labels, got "
                f"{data.dtype} {data.shape} and {len(lab)} labels"
            )
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(lab, dtype=np.int64))
    return ImageDataset(np.concatenate(images), np.concatenate(labels), class_names, source=f"batches:{root}:{split}")


def _find_batches(data_root: Path | None) -> Path | None:
    for base in (data_root, get_cache_dir()):
        if base is not None and (base / BATCH_FOLDER / "batches.meta").is_file():
            return base / BATCH_FOLDER
    return None


def download_cifar10(root: str | os.PathLike | None = None) -> Path:
    """The official python tarball through :func:`gsoc_helpers.download.fetch_official` (md5 checked; data root,
    cache or ``$GSOC_DOWNLOAD_MIRROR``), unpacked into ``root`` (default: the cache); returns the batches folder."""
    target = Path(root) if root else get_cache_dir()
    done = target / BATCH_FOLDER / "batches.meta"  # the folder appears complete (renamed into place) or not at all
    if done.is_file():
        return target / BATCH_FOLDER
    tarball = fetch_official(CIFAR10_TARBALL)
    target.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(target / f".{BATCH_FOLDER}.lock"):  # one process unpacks; the others wait, then use it
        if done.is_file():
            return target / BATCH_FOLDER
        with tarfile.open(tarball, "r:gz") as tar:
            members = [
                m
                for m in tar.getmembers()
                if m.name.startswith(BATCH_FOLDER + "/") and m.isfile() and ".." not in Path(m.name).parts
            ]
            if not members:
                raise DataError(f"{str(tarball)!r} holds no {BATCH_FOLDER}/ files; not the CIFAR-10 python tarball")
            with tempfile.TemporaryDirectory(dir=target) as tmp:  # unpacked aside, renamed when complete
                safe: dict = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(tmp, members=members, **safe)  # noqa: S202 (regular files under BATCH_FOLDER/)
                shutil.rmtree(target / BATCH_FOLDER, ignore_errors=True)  # an incomplete one (no batches.meta)
                os.replace(Path(tmp) / BATCH_FOLDER, target / BATCH_FOLDER)
    return target / BATCH_FOLDER


def load_cifar10(
    split: str = "train", source: str = "auto", data_root: str | os.PathLike | None = None
) -> ImageDataset:
    """CIFAR-10 ``split`` as an ImageDataset (uint8 [N, 32, 32, 3], int64 labels) from ``source`` (see module doc)."""
    _check_split(split)
    root = get_data_root(data_root)
    if source not in SOURCES:
        path = Path(source)
        if (path / "batches.meta").is_file() or (path / TEST_BATCHES[0]).is_file():
            return load_python_batches(path, split)
        if (path / split).is_dir():
            path = path / split
        ds = load_image_folder(path)
        ds.source = f"folder:{path}"
        return ds
    if source in ("auto", "batches"):
        found = _find_batches(root)
        if found is not None:
            return load_python_batches(found, split)
        if source == "batches":
            raise DataError(f"no {BATCH_FOLDER}/ folder under the data root ({root}) or the cache ({get_cache_dir()})")
    for name in ("exact", "jpeg") if source == "auto" else (source,) if source in ("exact", "jpeg") else ():
        folder = None if root is None else root / f"cifar10-{name}" / split
        if folder is not None and folder.is_dir():
            ds = load_image_folder(folder)
            ds.source = f"cifar10-{name}:{split}" + (" (JPEG q75, lossy)" if name == "jpeg" else "")
            return ds
        if source != "auto":
            where = (
                "no data root is set ($GSOC_DATA_ROOT or --data-root)"
                if root is None
                else f"{str(folder)!r} is missing"
            )
            raise DataError(f"CIFAR-10 source {name!r} unavailable: {where}")
    return load_python_batches(download_cifar10(), split)
