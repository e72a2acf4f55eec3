"""The CIFAR-10 test split divided between the protocol's validation and test sets.

Validation must hold images the classifiers never saw, so it comes from the test split, and it must share no image
(as a picture, not just as a file) with any test set reported on:

* official test set (python batches, e.g. downloaded): validation = :data:`VALIDATION_N` class-balanced images of
  index >= :data:`EXACT_TEST_N` (drawn with :data:`PROTOCOL_SEED`); test = the rest (it keeps indices 0..1016, the
  data root's bit-exact test images);
* a data root: the bit-exact test images (official indices 0..1016) stay test; validation = :data:`VALIDATION_N`
  class-balanced JPEG test images that are not JPEG copies of them (found by content, :func:`copies_of`); the JPEG
  test set = the JPEG test images not in validation.

Any other test set has the copies of validation images (by content) left out.
"""

from __future__ import annotations

import functools

import numpy as np

from .splits import PROTOCOL_SEED, EvalSet, upsampled

VALIDATION_N = 5000  # CIFAR-10 validation images, class-balanced (all available when fewer)
EXACT_TEST_N = 1017  # the data root's bit-exact test images are the official test indices 0..1016
# JPEG q75 errs at high frequencies, so copies are found on 4x4 block means: measured on the data root, the JPEG copy
# of each of the 1,017 bit-exact test images scores >= 33.0 dB there (its nearest same-class JPEG image), every other
# same-class JPEG test image <= 26.0 dB (full resolution: copies >= 23.3 dB, others up to 22.1 dB: no clean cut).
COPY_BLOCK = 4
COPY_PSNR_DB = 29.0


def _block_means(images: np.ndarray) -> np.ndarray:
    """uint8 [N,32,32,3] -> float64 [N, 3*(32/COPY_BLOCK)^2]: the means of COPY_BLOCK x COPY_BLOCK blocks."""
    n, h, w, ch = images.shape
    b = COPY_BLOCK
    sums = images.reshape(n, h // b, b, w // b, b, ch).sum(axis=(2, 4), dtype=np.int32)
    return sums.reshape(n, -1) / float(b * b)


def copies_of(a_images: np.ndarray, a_labels: np.ndarray, b_images: np.ndarray, b_labels: np.ndarray) -> np.ndarray:
    """bool [len(b)]: which ``b`` images are a copy (lossless or JPEG) of some ``a`` image of the same class: PSNR of
    their :data:`COPY_BLOCK` block means >= :data:`COPY_PSNR_DB` to the nearest one. Images uint8 [N,32,32,3]."""
    out = np.zeros(len(b_labels), dtype=bool)
    for c in np.intersect1d(a_labels, b_labels):
        a, bi = _block_means(a_images[a_labels == c]), np.flatnonzero(b_labels == c)
        b = _block_means(b_images[bi])
        d2 = (a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * a @ b.T  # squared distances [na, nb]
        mse = np.maximum(d2.min(0), 1e-12) / a.shape[1]
        out[bi] = 10 * np.log10(255.0**2 / mse) >= COPY_PSNR_DB
    return out


def balanced_subset(labels: np.ndarray, candidates: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices: ``n`` of ``candidates`` (indices into ``labels``), an equal share per class (as equal as
    ``n`` allows; a class with fewer gives all it has), drawn with ``seed``; all candidates when ``n`` >= their number."""
    if n >= len(candidates):
        return np.sort(candidates)
    rng = np.random.default_rng(seed)
    classes = np.unique(labels[candidates])
    share = np.full(len(classes), n // len(classes)) + (np.arange(len(classes)) < n % len(classes))
    picked = []
    for c, k in zip(classes, share, strict=True):
        members = candidates[labels[candidates] == c]
        picked.append(rng.choice(members, size=min(int(k), len(members)), replace=False))
    return np.sort(np.concatenate(picked))


class CifarTestSplit:
    """The CIFAR-10 test split's validation images (chosen on first use) and the test sets without them."""

    def __init__(self, validation_n: int = VALIDATION_N) -> None:
        if validation_n < 1:
            raise ValueError(f"validation_n must be >= 1, got {validation_n}")
        self.validation_n = validation_n

    @property
    def chosen(self):
        """(the dataset validation draws from, its validation indices [n] sorted, where they come from)."""
        from ..config import get_cache_dir, get_data_root

        root = get_data_root()
        return _chosen(self.validation_n, str(root) if root else None, str(get_cache_dir()))

    def validation(self, side: int = 32) -> EvalSet:
        pool, idx, origin = self.chosen
        per = np.bincount(pool.labels[idx], minlength=10)
        per_class = f"{per.min()}" if per.min() == per.max() else f"{per.min()}-{per.max()}"
        what = (
            f"{len(idx)} CIFAR-10 test-split images ({pool.source}; {per_class} per class, seed {PROTOCOL_SEED}, of "
            f"the {origin}; validation: in no test set)"
        )
        return upsampled(pool.images[idx], pool.labels[idx], what, side)

    def test(self, source: str, side: int = 32) -> EvalSet:
        """The test images of ``source`` (a ``load_cifar10`` source) that are not validation images."""
        from ..data import load_cifar10

        ds = load_cifar10("test", source=source)
        pool, idx, _ = self.chosen
        if ds.source == pool.source:
            keep = np.setdiff1d(np.arange(len(ds)), idx)
            what = f"{len(keep)} CIFAR-10 test images ({ds.source}; the {len(idx)} validation images left out)"
        else:
            dropped = copies_of(pool.images[idx], pool.labels[idx], ds.images, ds.labels)
            keep = np.flatnonzero(~dropped)
            what = f"{len(keep)} CIFAR-10 test images ({ds.source}; {int(dropped.sum())} copies of validation images left out)"
        return upsampled(ds.images[keep], ds.labels[keep], what, side)


@functools.lru_cache(maxsize=2)
def _chosen(validation_n: int, data_root: str | None, cache_dir: str):
    """Kept for the next call with the same data root and cache (every test set needs it). Treat as read-only."""
    pool, candidates, origin = _validation_pool()
    return pool, balanced_subset(pool.labels, candidates, validation_n, PROTOCOL_SEED), origin


def _validation_pool():
    """(dataset, candidate indices, words): the test-split images validation may draw from."""
    from ..data import DataError, load_cifar10

    ds = load_cifar10("test", source="auto")
    if ds.source.startswith("batches:"):
        return ds, np.arange(EXACT_TEST_N, len(ds)), f"official test images with index >= {EXACT_TEST_N}"
    if ds.source.startswith("cifar10-jpeg"):
        return ds, np.arange(len(ds)), f"{len(ds)} JPEG test images"
    try:
        jpeg = load_cifar10("test", source="jpeg")
    except DataError as err:
        raise DataError(f"CIFAR-10 validation needs test images beyond the bit-exact ones: {err}") from None
    copies = copies_of(ds.images, ds.labels, jpeg.images, jpeg.labels)
    return (
        jpeg,
        np.flatnonzero(~copies),
        f"{len(jpeg) - int(copies.sum())} JPEG test images that are not copies of the {len(ds)} bit-exact ones",
    )
