"""The in-memory image dataset type shared by every CIFAR-10 loader."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


class DataError(ValueError):
    """Bad or missing data: the message names the path and what was expected."""


def balanced_labels(size: int, seed: int, num_classes: int = 10) -> np.ndarray:
    """int64 [size]: ``size//C`` per class, the remainder to a seeded choice of classes; sorted by class."""
    counts = np.full(num_classes, size // num_classes)
    counts[np.random.default_rng(seed).permutation(num_classes)[: size % num_classes]] += 1
    return np.repeat(np.arange(num_classes), counts).astype(np.int64)


@dataclass
class ImageDataset:
    """Images and labels held in memory.

    images: uint8 [N, 32, 32, 3] (NHWC, RGB); labels: int64 [N] in [0, num_classes);
    class_names: the name of every label; source: where it came from (for protocols).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...] = CIFAR10_CLASSES
    source: str = ""

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.class_names = tuple(self.class_names)
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[-1] != 3:
            raise DataError(
                f"{self.source or 'dataset'}: expected uint8 images of shape [N, H, W, 3], got "
                f"{self.images.dtype} {tuple(self.images.shape)}"
            )
        if len(self.labels) != len(self.images):
            raise DataError(f"{self.source or 'dataset'}: {len(self.images)} images but {len(self.labels)} labels")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise DataError(f"{self.source or 'dataset'}: labels outside [0, {len(self.class_names)})")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, indices) -> ImageDataset:
        idx = np.asarray(indices, dtype=np.int64)
        return ImageDataset(self.images[idx], self.labels[idx], self.class_names, self.source)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.num_classes)

    def to_tensors(self):
        """(float32 [N, 3, H, W] in [0, 1], int64 [N]) torch tensors."""
        import torch  # only when asked: gsoc_helpers.data (data-info, downloads) imports without torch

        from ..pixels import uint8_to_unit

        return uint8_to_unit(self.images), torch.from_numpy(self.labels)

    def describe(self) -> str:
        counts = ", ".join(f"{n}={c}" for n, c in zip(self.class_names, self.class_counts(), strict=True))
        h, w = self.images.shape[1:3]
        return f"{len(self)} images {h}x{w} from {self.source}; per class: {counts}"
