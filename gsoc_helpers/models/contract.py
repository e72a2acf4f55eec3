"""One type for what a classifier takes: :class:`InputContract` (image size, class count, normalisation, layout).

Used by the registered classifiers (:class:`gsoc_helpers.models.classifiers.ClassifierInfo`), by a user's model
(``gsoc-helpers quantize --mean/--std/--value-range/--image-size``) and by every calibration source (which makes
images at the contract's size, with labels over its classes).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from ..defaults import CIFAR10_MEAN, CIFAR10_STD, IMAGE_SIZE, VALUE_RANGE

LAYOUTS = ("NCHW",)
CIFAR10_CLASS_COUNT = 10


@dataclass(frozen=True)
class InputContract:
    """Square RGB images of ``image_size`` pixels in ``layout``, ``num_classes`` logits out. From images ``x`` float32
    [N,3,h,w] in [0,1] the model input is ``(resize(x, image_size) * (hi - lo) + lo - mean) / std`` with ``(lo, hi) =
    value_range``; ``mean``/``std`` are in value-range units (one value, or one per RGB channel). Defaults: CIFAR-10
    (32x32, 10 classes, [0,1], the CIFAR-10 mean/std)."""

    image_size: int = IMAGE_SIZE
    num_classes: int = CIFAR10_CLASS_COUNT
    mean: tuple[float, ...] = CIFAR10_MEAN
    std: tuple[float, ...] = CIFAR10_STD
    value_range: tuple[float, float] = VALUE_RANGE
    layout: str = "NCHW"

    @classmethod
    def identity(cls, image_size: int = IMAGE_SIZE, num_classes: int = CIFAR10_CLASS_COUNT) -> InputContract:
        """[0,1] images as they are (models with their normalisation inside, e.g. the registered classifiers)."""
        return cls(image_size, num_classes, (0.0,), (1.0,), (0.0, 1.0))

    def same_preprocessing(self, other: InputContract) -> bool:
        """True when ``other`` turns images into the same model input (class count aside)."""
        keys = ("image_size", "mean", "std", "value_range", "layout")
        return all(tuple(getattr(self, k)) == tuple(getattr(other, k)) if k in ("mean", "std", "value_range")
                   else getattr(self, k) == getattr(other, k) for k in keys)  # fmt: skip

    @property
    def unit_mean(self) -> tuple[float, ...]:
        """The mean per RGB channel in [0,1] units (3 values)."""
        lo, hi = self.value_range
        m = tuple((v - lo) / (hi - lo) for v in self.mean)
        return m * (3 // len(m))

    @property
    def unit_std(self) -> tuple[float, ...]:
        """The std per RGB channel in [0,1] units (3 values)."""
        lo, hi = self.value_range
        s = tuple(v / (hi - lo) for v in self.std)
        return s * (3 // len(s))

    def validate(self) -> None:
        """ValueError (one line) for values that cannot describe a model input."""
        size, classes = self.image_size, self.num_classes
        if not isinstance(size, int) or isinstance(size, bool) or not 8 <= size <= 1024:
            raise ValueError(f"image size must be an integer in [8, 1024], got {size!r}")
        if not isinstance(classes, int) or isinstance(classes, bool) or classes < 2:
            raise ValueError(f"model class count must be an integer >= 2, got {classes!r}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"input layout must be one of {LAYOUTS}, got {self.layout!r}")
        mean, std, rng = tuple(self.mean), tuple(self.std), tuple(self.value_range)
        for name, vals in (("mean", mean), ("std", std)):
            if len(vals) not in (1, 3) or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals):
                raise ValueError(f"{name} must be 1 or 3 finite numbers, got {list(vals)}")
        if len(rng) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in rng) or rng[0] >= rng[1]:
            raise ValueError(f"value range must be two finite numbers LO < HI, got {list(rng)}")
        lo, hi = rng
        if min(std) <= 0 or max(std) > hi - lo:
            raise ValueError(f"std must be > 0 and at most the value range's width {hi - lo:g}, got {list(std)}")
        if min(mean) < lo or max(mean) > hi:
            raise ValueError(
                f"mean {list(mean)} lies outside the value range [{lo:g}, {hi:g}]; state mean/std in "
                "the units of the value range"
            )
        if hi - lo > 2 and max(mean) <= 1 and max(std) <= 1:
            raise ValueError(
                f"mean {list(mean)} and std {list(std)} look like [0,1] units but the value range is "
                f"[{lo:g}, {hi:g}]; state mean/std in the units of the value range"
            )

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(mean=list(self.mean), std=list(self.std), value_range=list(self.value_range))
        return d

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """float32 [N,3,h,w] in [0,1] -> float32 [N,3,S,S] model input (differentiable)."""
        from ..pixels import resize

        x = resize(images.float(), self.image_size)
        lo, hi = self.value_range
        mean = torch.tensor(self.mean, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32).view(1, -1, 1, 1)
        return ((x * (hi - lo) + lo) - mean) / std
