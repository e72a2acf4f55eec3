"""Shared fixtures: tiny CIFAR-10 copies in the official formats, written by the tests themselves."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from gsoc_helpers.data import CIFAR10_CLASSES

torch.set_num_threads(1)


def fake_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n, dtype=np.int64) % 10


def write_python_batches(root: Path, per_batch: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Write an official-format cifar-10-batches-py folder; return all train images/labels written."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": list(CIFAR10_CLASSES), "num_cases_per_batch": per_batch, "num_vis": 3072}, fh)
    all_imgs, all_labels = [], []
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        imgs, labels = fake_images(per_batch, seed=i)
        data = imgs.transpose(0, 3, 1, 2).reshape(per_batch, 3072)
        with open(root / name, "wb") as fh:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels.tolist(), b"data": data,
                         b"filenames": [f"{j}.png".encode() for j in range(per_batch)]}, fh, protocol=2)
        if name != "test_batch":
            all_imgs.append(imgs)
            all_labels.append(labels)
    return np.concatenate(all_imgs), np.concatenate(all_labels)


def write_image_folder(root: Path, per_class: int = 3, suffix: str = ".png") -> None:
    from PIL import Image

    imgs, _ = fake_images(per_class * 10, seed=7)
    for c, name in enumerate(CIFAR10_CLASSES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for j in range(per_class):
            Image.fromarray(imgs[c * per_class + j]).save(root / name / f"{j:05d}{suffix}")


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch) -> Path:
    """A data root with cifar10-exact/ and cifar10-jpeg/ trees (3 images per class per split)."""
    root = tmp_path / "data_root"
    for split in ("train", "test"):
        write_image_folder(root / "cifar10-exact" / split, 3, ".png")
        write_image_folder(root / "cifar10-jpeg" / split, 2, ".jpg")
    monkeypatch.setenv("GSOC_DATA_ROOT", str(root))
    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    return root


@pytest.fixture
def shared_data_root() -> Path:
    """The real offline data root ($GSOC_DATA_ROOT), or skip."""
    value = os.environ.get("GSOC_DATA_ROOT")
    if not value or not Path(value).is_dir():
        pytest.skip("no data root ($GSOC_DATA_ROOT) on this machine")
    return Path(value)
