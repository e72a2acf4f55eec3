"""Shared fixtures, written by the tests themselves: tiny CIFAR-10 copies in the official formats, a tiny synthetic
dataset in the package's format, a tiny real image set and a distillation config that trains on both in seconds."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from gsoc_helpers.data import CIFAR10_CLASSES, ImageDataset
from gsoc_helpers.data.synthetic import SyntheticDatasetWriter, latents_for_range
from gsoc_helpers.training.configs import DistillConfig

from official_fixtures import fake_images, write_python_batches  # noqa: F401 (shared with other test modules)

torch.set_num_threads(1)


def write_image_folder(root: Path, per_class: int = 3, suffix: str = ".png") -> None:
    from PIL import Image

    imgs, _ = fake_images(per_class * 10, seed=7)
    for c, name in enumerate(CIFAR10_CLASSES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for j in range(per_class):
            Image.fromarray(imgs[c * per_class + j]).save(root / name / f"{j:05d}{suffix}")


TINY_Z_DIM = 8  # latent size of write_tiny_synthetic's dataset


def write_tiny_synthetic(root: Path, per_class: int = 4) -> Path:
    """A complete synthetic dataset at ``root``: 10 classes x ``per_class`` random 32x32 images (seeded), latents
    of seed 0 with z_dim 8, shards of 20."""
    w = SyntheticDatasetWriter(
        root, generator_name="fake", generator_checksum="0" * 64, per_class=per_class, z_dim=TINY_Z_DIM, shard_size=20
    )
    rng = np.random.default_rng(0)
    for start, stop in w.pending_shards():
        n = stop - start
        w.write_shard(
            start,
            rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
            w.expected_labels(start, stop),
            latents_for_range(0, start, stop, TINY_Z_DIM),
        )
    return root


def tiny_real(n: int = 20) -> ImageDataset:
    """``n`` random 32x32 "real" images (seeded), labels 0..9 in turn."""
    rng = np.random.default_rng(1)
    return ImageDataset(rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 10, source="tiny")


def tiny_cfg(tmp_path: Path, **kw) -> DistillConfig:
    """A CPU distillation config on a fresh write_tiny_synthetic dataset (tmp_path/syn -> tmp_path/run), ``kw``
    replacing fields."""
    base = DistillConfig(
        synthetic_root=str(write_tiny_synthetic(tmp_path / "syn")),
        out_dir=str(tmp_path / "run"),
        ngf=16,
        ndf=8,
        batch_size=8,
        epochs=2,
        log_every=1,
        sample_every=3,
        ckpt_every=0,
        diffaug="color,translation,cutout",
        device="cpu",
        progress=False,
    )
    return replace(base, **kw)


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
