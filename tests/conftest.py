"""Shared fixtures: tiny CIFAR-10 copies in the official formats, written by the tests themselves."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from gsoc_helpers.data import CIFAR10_CLASSES

from official_fixtures import fake_images, write_python_batches  # noqa: F401 (shared with other test modules)

torch.set_num_threads(1)


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
