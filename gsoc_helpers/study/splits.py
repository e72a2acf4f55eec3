"""The protocol: three disjoint image sets for every study, and the view of them that selection code gets.

* **calibration pool**: what the ``real`` calibration source (and ``photos`` for an ImageNet-sized model) draws
  from;
* **validation**: where every choice is made (PTQ setting, range estimator per source and bit width, fine-tuning
  learning rate and steps, bn-matching recipe, EfficientNet settings);
* **test**: touched once per final configuration.

CIFAR-10: validation = :data:`VALIDATION_FRACTION` of each class of the train split (5,000 of the official 50,000;
516 of the data root's 5,170 bit-exact train images), drawn with :data:`PROTOCOL_SEED`; the calibration pool = the
rest of the train split; test = the test split (the 10,000 JPEG and the 1,017 bit-exact test images). The classifiers
were trained on the whole train split, so FP32 is near 100 % there: validation measures agreement with FP32.
ImageNet-sized models: the natural photos of :mod:`gsoc_helpers.quantization.photos`, split by photo (never by
crop) into the three roles; CIFAR-10 test pictures upsampled are a second test set (validation pictures upsampled
the second validation set).

:class:`Splits` hands out evaluation sets by role; :meth:`Splits.selection` is the view selection code receives:
it refuses ``"test"`` (:class:`ForbiddenTestRead`), so a choice cannot be made on test images.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

ROLES = ("calibration", "validation", "test")
VALIDATION_FRACTION = 0.1  # of each class of the CIFAR-10 train split
PROTOCOL_SEED = 20221  # fixes the CIFAR-10 validation images; never a study's seed


class ForbiddenTestRead(PermissionError):
    """Selection code asked for test images."""


@dataclass(frozen=True)
class EvalSet:
    images: torch.Tensor  # float32 [N,3,S,S] in [0,1]
    labels: torch.Tensor  # int64 [N]; -1 where an image has no label
    description: str

    def __len__(self) -> int:
        return int(self.images.shape[0])


def validation_mask(labels: np.ndarray) -> np.ndarray:
    """bool [N]: the CIFAR-10 train images held out for validation (:data:`VALIDATION_FRACTION` of each class,
    at least one, drawn with :data:`PROTOCOL_SEED`)."""
    rng = np.random.default_rng(PROTOCOL_SEED)
    mask = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = max(1, int(round(VALIDATION_FRACTION * len(members))))
        mask[rng.choice(members, size=k, replace=False)] = True
    return mask


def calibration_pool(labels: np.ndarray) -> np.ndarray:
    """Indices of the CIFAR-10 train images the ``real`` source may calibrate on (not validation)."""
    return np.flatnonzero(~validation_mask(labels))


class Splits:
    """Evaluation sets by role, loaded on first use: ``loaders[role][name]() -> EvalSet``."""

    def __init__(self, loaders: dict[str, dict[str, Callable[[], EvalSet]]], what: str) -> None:
        unknown = sorted(set(loaders) - set(ROLES))
        if unknown:
            raise ValueError(f"unknown roles {unknown}; expected some of {ROLES}")
        self._loaders, self.what = loaders, what
        self._cache: dict[tuple[str, str], EvalSet] = {}

    def names(self, role: str) -> tuple[str, ...]:
        self._check(role)
        return tuple(self._loaders.get(role, {}))

    def sets(self, role: str) -> dict[str, EvalSet]:
        """name -> EvalSet of ``role`` ("validation" or "test")."""
        self._check(role)
        out = {}
        for name, load in self._loaders.get(role, {}).items():
            if (role, name) not in self._cache:
                self._cache[(role, name)] = load()
            out[name] = self._cache[(role, name)]
        return out

    def selection(self) -> SelectionSplits:
        return SelectionSplits(self)

    def _check(self, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")


class SelectionSplits:
    """What selection code may read: the validation sets. Asking for ``"test"`` raises :class:`ForbiddenTestRead`."""

    def __init__(self, splits: Splits) -> None:
        self._splits = splits
        self.what = splits.what

    def names(self, role: str) -> tuple[str, ...]:
        self._refuse(role)
        return self._splits.names(role)

    def sets(self, role: str = "validation") -> dict[str, EvalSet]:
        self._refuse(role)
        return self._splits.sets(role)

    def selection(self) -> SelectionSplits:
        return self

    @staticmethod
    def _refuse(role: str) -> None:
        if role == "test":
            raise ForbiddenTestRead("selection code may not read the test images: choose on the validation set")


def _first(x: EvalSet, n: int | None) -> EvalSet:
    return x if not n or n >= len(x) else EvalSet(x.images[:n], x.labels[:n], f"first {n} of {x.description}")


def _cifar_test(source: str, n: int | None, side: int) -> EvalSet:
    from ..data import load_cifar10
    from ..pixels import resize

    ds = load_cifar10("test", source=source)
    x, y = ds.to_tensors()
    what = f"{len(y)} CIFAR-10 test images ({ds.source})"
    if side != x.shape[-1]:
        x, what = resize(x, side).clamp_(0, 1), what + f" upsampled to {side}x{side}"
    return _first(EvalSet(x, y, what), n)


def _cifar_validation(train_source: str, n: int | None, side: int) -> EvalSet:
    from ..calibration import train_split
    from ..pixels import resize, uint8_to_unit

    ds = train_split(train_source)
    idx = np.flatnonzero(validation_mask(ds.labels))
    if n and n < len(idx):  # a seeded, class-mixed subset of the validation images (never pool images)
        idx = np.sort(np.random.default_rng(PROTOCOL_SEED + 1).choice(idx, size=n, replace=False))
    x = uint8_to_unit(ds.images[idx])
    what = f"{len(idx)} held-out CIFAR-10 train images ({ds.source}; validation, never calibration)"
    if side != x.shape[-1]:
        x, what = resize(x, side).clamp_(0, 1), what + f" upsampled to {side}x{side}"
    return EvalSet(x, torch.from_numpy(ds.labels[idx].astype(np.int64)), what)


def cifar10_splits(
    test_sources: tuple[str, ...] = ("jpeg", "exact"),
    validation_n: int | None = None,
    test_n: int | None = None,
    train_source: str = "auto",
    image_size: int = 32,
) -> Splits:
    """CIFAR-10's protocol: validation ``"val"`` (``validation_n`` of the held-out train images, all when None);
    test = each of ``test_sources`` (``load_cifar10`` sources, first ``test_n`` images when given)."""
    test: dict[str, Callable[[], EvalSet]] = {
        t: functools.partial(_cifar_test, t, test_n, image_size) for t in test_sources
    }
    val: dict[str, Callable[[], EvalSet]] = {
        "val": functools.partial(_cifar_validation, train_source, validation_n, image_size)
    }
    return Splits({"validation": val, "test": test}, "CIFAR-10")


def _photo_set(role: str, side: int, views: int) -> EvalSet:
    from ..quantization.photos import split_photos

    photos = split_photos()[role]
    images = _views(photos, side, views)
    labels = torch.tensor([p.label for p in photos for _ in range(views)], dtype=torch.int64)
    labelled = sum(p.label >= 0 for p in photos)
    return EvalSet(
        images,
        labels,
        f"{len(images)} crops ({views} per photo) of {len(photos)} natural photos ({role} photos, "
        f"{labelled} of them labelled ImageNet validation images), {side}x{side}",
    )


def _views(photos, side: int, views: int) -> torch.Tensor:
    from ..quantization.photos import photo_views

    return photo_views(photos, side, views)


def photo_splits(image_size: int, views: int = 5, cifar_n: int = 0) -> Splits:
    """An ImageNet-sized model's protocol: ``"photos"`` in validation and test (photos split by photo), and with
    ``cifar_n`` > 0 CIFAR-10 pictures upsampled (validation: held-out train pictures; test: test pictures)."""
    val: dict[str, Callable[[], EvalSet]] = {"photos": functools.partial(_photo_set, "validation", image_size, views)}
    test: dict[str, Callable[[], EvalSet]] = {"photos": functools.partial(_photo_set, "test", image_size, views)}
    if cifar_n:
        val["cifar10-val"] = functools.partial(_cifar_validation, "auto", cifar_n, image_size)
        test["cifar10-test"] = functools.partial(_cifar_test, "auto", cifar_n, image_size)
    return Splits({"validation": val, "test": test}, "natural photos")


def fixed_splits(
    test: dict[str, tuple[torch.Tensor, torch.Tensor]],
    validation: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    what: str = "given images",
) -> Splits:
    """Splits over images already in memory: ``name -> (images [N,3,S,S] in [0,1], labels int64 [N], -1 for
    none)`` per role (tests, notebooks at small scale)."""

    def sets(given: dict) -> dict[str, Callable[[], EvalSet]]:
        return {
            k: functools.partial(EvalSet, x, y.to(torch.int64), f"{len(y)} {what} ({k})") for k, (x, y) in given.items()
        }

    return Splits({"test": sets(test), "validation": sets(validation or {})}, what)
