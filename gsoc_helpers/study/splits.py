"""The protocol: three disjoint image sets for every study, and the view of them that selection code gets.

* **calibration pool**: what the ``real`` calibration source (and ``photos`` for an ImageNet-sized model) draws
  from;
* **validation**: where every choice is made (PTQ setting, range estimator per source and bit width, fine-tuning
  learning rate and steps, bn-matching recipe, EfficientNet settings);
* **test**: touched once per final configuration.

CIFAR-10: the calibration pool = the train split minus :data:`VALIDATION_FRACTION` of each class held out
(:func:`validation_mask`, drawn with :data:`PROTOCOL_SEED`); validation = 5,000 class-balanced images of the *test*
split that are in no test set, test = the rest of the test split (:mod:`.cifar_test_split`). Validation is not
taken from the train split: the classifiers were trained on it, so the first protocol's validation (the data root's
516 held-out train images) scored FP32 100.0 % and every INT8 setting agreed with FP32 on 99.6-100 % of it -- it
could not rank the settings.
ImageNet-sized models: the natural photos of :mod:`gsoc_helpers.quantization.photos`, split by photo (never by
crop) into the three roles; CIFAR-10 test pictures upsampled are a second test set (held-out train pictures
upsampled the second validation set: the ImageNet models never saw CIFAR-10).

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
VALIDATION_FRACTION = 0.1  # of each class of the CIFAR-10 train split, never calibrated on
PROTOCOL_SEED = 20221  # fixes the CIFAR-10 held-out and validation images; never a study's seed


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
    """bool [N]: the CIFAR-10 train images held out of the calibration pool (:data:`VALIDATION_FRACTION` of each
    class, at least one, drawn with :data:`PROTOCOL_SEED`; accuracy control and photo_splits validate on them)."""
    rng = np.random.default_rng(PROTOCOL_SEED)
    mask = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = max(1, int(round(VALIDATION_FRACTION * len(members))))
        mask[rng.choice(members, size=k, replace=False)] = True
    return mask


def calibration_pool(labels: np.ndarray) -> np.ndarray:
    """Indices of the CIFAR-10 train images the ``real`` source may calibrate on (not held out)."""
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


def upsampled(images: np.ndarray, labels: np.ndarray, what: str, side: int) -> EvalSet:
    """EvalSet of uint8 [N,32,32,3] images, resized to ``side`` when it differs (said in the description)."""
    from ..pixels import resize, uint8_to_unit

    x = uint8_to_unit(images)
    if side != x.shape[-1]:
        x, what = resize(x, side).clamp_(0, 1), what + f" upsampled to {side}x{side}"
    return EvalSet(x, torch.from_numpy(np.asarray(labels, dtype=np.int64)), what)


def _cifar_test(source: str, n: int | None, side: int) -> EvalSet:
    from ..data import load_cifar10

    ds = load_cifar10("test", source=source)
    return _first(upsampled(ds.images, ds.labels, f"{len(ds)} CIFAR-10 test images ({ds.source})", side), n)


def _cifar_train_holdout(n: int, side: int) -> EvalSet:
    """``n`` of the CIFAR-10 train images held out of the calibration pool (seeded, class-mixed)."""
    from ..calibration import train_split

    ds = train_split("auto")
    idx = np.flatnonzero(validation_mask(ds.labels))
    if n < len(idx):
        idx = np.sort(np.random.default_rng(PROTOCOL_SEED + 1).choice(idx, size=n, replace=False))
    what = f"{len(idx)} held-out CIFAR-10 train images ({ds.source}; never calibration)"
    return upsampled(ds.images[idx], ds.labels[idx], what, side)


def cifar10_splits(
    test_sources: tuple[str, ...] = ("jpeg", "exact"),
    validation_n: int | None = None,
    test_n: int | None = None,
    image_size: int = 32,
) -> Splits:
    """CIFAR-10's protocol: validation ``"val"`` = ``validation_n`` (default 5,000) class-balanced test-split images
    in no test set; test = each of ``test_sources`` (``load_cifar10`` sources) without the validation images, its
    first ``test_n`` when given (:mod:`.cifar_test_split`)."""
    from .cifar_test_split import VALIDATION_N, CifarTestSplit

    split = CifarTestSplit(VALIDATION_N if validation_n is None else validation_n)

    def test(source: str) -> EvalSet:
        return _first(split.test(source, image_size), test_n)

    tests: dict[str, Callable[[], EvalSet]] = {t: functools.partial(test, t) for t in test_sources}
    val: dict[str, Callable[[], EvalSet]] = {"val": functools.partial(split.validation, image_size)}
    return Splits({"validation": val, "test": tests}, "CIFAR-10")


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
        val["cifar10-val"] = functools.partial(_cifar_train_holdout, cifar_n, image_size)
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
