"""Class accuracy: does a class-conditional generator's image carry the class it was drawn for?

A CIFAR-10 classifier of the registry (default :data:`gsoc_helpers.defaults.JUDGE_CLASSIFIER`, the akamaster
ResNet-56, FP32, weights from the data root) labels the images; the score is the share it assigns to the intended
class, overall and per class. It sits beside FID/KID: FID says whether images look like CIFAR-10 as a whole, class
accuracy whether each one shows its own class (real exact test images score about 0.93 with the default judge).
Generated images go through the same uint8 mapping as FID and saved datasets (``(x * 127.5 + 128).clamp(0, 255)``).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.dataset import CIFAR10_CLASSES, balanced_labels
from ..defaults import JUDGE_CLASSIFIER, TRUNCATION_PSI_RANGE
from ..models.classifiers import ClassifierInfo, classifier_info, get_classifier
from ..models.protocol import is_generator
from ..pixels import uint8_to_unit

GENERATED_N = 1000  # images drawn from a generator by default: the model cards' protocol


@dataclass
class ClassAccuracy:
    """accuracy: share in [0, 1] of images the judge assigns to their intended class; per_class: the same per
    intended class (name -> share, NaN for a class without images); counts: images per intended class."""

    accuracy: float
    per_class: dict[str, float]
    counts: dict[str, int]
    n: int
    classifier: str
    candidate: str
    truncation_psi: float | None = None  # generators only
    seed: int | None = None  # latents and the class draw (generators) or the subset (image sets)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def per_class_percent(self) -> dict[str, float]:
        return {k: round(100 * v, 1) for k, v in self.per_class.items()}

    def __str__(self) -> str:
        per = ", ".join(f"{k} {'-' if math.isnan(v) else f'{100 * v:.0f}'}" for k, v in self.per_class.items())
        psi = "" if self.truncation_psi is None else f", psi={self.truncation_psi:g}"
        return (
            f"class accuracy {100 * self.accuracy:.1f} % [judge {self.classifier} (FP32); {self.n} images of "
            f"{self.candidate}{psi}]; per class %: {per}"
        )


def _judge(name: str, num_classes: int, resolution: int) -> ClassifierInfo:
    info = classifier_info_or_error(name)
    inp = info.input
    if inp.num_classes != num_classes or inp.image_size != resolution:
        raise ValueError(
            f"classifier {name!r} takes {inp.image_size}x{inp.image_size} images of {inp.num_classes} classes "
            f"({info.dataset}); the images are {resolution}x{resolution} of {num_classes} classes"
        )
    return info


def check_judge(candidate: Any, classifier: str = JUDGE_CLASSIFIER) -> None:
    """ValueError (one line) unless ``classifier`` is a registry name whose input fits ``candidate`` (a generator,
    a synthetic dataset folder, an ImageDataset or a SyntheticDataset): read from its attributes or manifest, no
    image drawn or loaded, so a caller can refuse before a long computation."""
    if is_generator(candidate):
        classes, size = int(candidate.c_dim), int(candidate.img_resolution)
    elif isinstance(candidate, (str, os.PathLike)) and (Path(candidate) / "manifest.json").is_file():
        from ..data.synthetic import read_manifest

        m = read_manifest(candidate)
        classes, size = int(m["num_classes"]), int(m["image_size"])
    elif hasattr(candidate, "images") and hasattr(candidate, "class_names"):  # an ImageDataset
        classes, size = len(candidate.class_names), int(np.shape(candidate.images)[1])
    else:
        classifier_info_or_error(classifier)
        return
    _judge(classifier, classes, size)


def classifier_info_or_error(name: str) -> ClassifierInfo:
    """The registry entry ``name``; ValueError (one line) listing the names when there is none."""
    try:
        return classifier_info(name)
    except KeyError as err:
        raise ValueError(err.args[0]) from None


def _image_set(candidate: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    """(uint8 [N, H, W, 3], int64 [N], class names, description) of an image candidate."""
    if isinstance(candidate, (str, os.PathLike)):
        from ..data.synthetic import SyntheticDataset

        if not (Path(candidate) / "manifest.json").is_file():
            raise ValueError(f"{str(candidate)!r} is not a synthetic dataset folder (no manifest.json)")
        candidate = SyntheticDataset(candidate)
    if hasattr(candidate, "to_image_dataset"):  # a SyntheticDataset
        candidate = candidate.to_image_dataset()
    names: tuple[str, ...] = tuple(getattr(candidate, "class_names", CIFAR10_CLASSES))
    if hasattr(candidate, "images") and hasattr(candidate, "labels"):  # an ImageDataset
        if labels is not None:
            raise ValueError("labels given twice: the image set carries its own labels")
        images, labels, desc = candidate.images, candidate.labels, getattr(candidate, "source", "") or "images"
    else:
        images, desc = candidate, "images"
        if labels is None:
            raise ValueError("images need their intended labels: class_accuracy(images, labels)")
    images = np.asarray(images.cpu() if isinstance(images, torch.Tensor) else images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise ValueError(f"expected uint8 images [N, H, W, 3] with N >= 1, got {images.dtype} {images.shape}")
    lab = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if lab.shape != (len(images),) or lab.dtype.kind not in "iu":
        raise ValueError(f"expected {len(images)} integer labels [N], got {lab.dtype} {lab.shape}")
    if lab.min() < 0 or lab.max() >= len(names):
        raise ValueError(f"labels must lie in [0, {len(names)}), got {lab.min()}..{lab.max()}")
    return images, lab.astype(np.int64), names, desc


def _generated(
    generator: Any, n: int, seed: int, truncation_psi: float, batch_size: int, device: Any
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    """``n`` class-balanced images of ``generator`` (latents :func:`latents_for_range` of ``seed``)."""
    from ..sampling import generate_uint8, latents_for_range

    lo, hi = TRUNCATION_PSI_RANGE
    if not lo <= float(truncation_psi) <= hi:
        raise ValueError(f"truncation psi must be within [{lo:g}, {hi:g}], got {truncation_psi}")
    c_dim = int(generator.c_dim)
    names = tuple(getattr(generator, "class_names", None) or (CIFAR10_CLASSES if c_dim == 10 else ()))
    names = names or tuple(f"class_{k}" for k in range(c_dim))
    labels = balanced_labels(n, seed, c_dim)
    z = latents_for_range(seed, 0, n, int(generator.z_dim))
    with torch.no_grad():
        images = generate_uint8(generator, z, labels, float(truncation_psi), "const", batch_size, device)
    path = getattr(generator, "checkpoint_path", None)
    desc = f"generator:{type(generator).__name__}" + (f"({str(path).rsplit('/', 1)[-1]})" if path else "")
    return images, labels, names, desc


def class_accuracy(
    candidate: Any,
    labels: Any = None,
    *,
    n: int | None = None,
    classifier: str = JUDGE_CLASSIFIER,
    seed: int = 0,
    truncation_psi: float = 1.0,
    batch_size: int = 250,
    device: str | torch.device = "cpu",
) -> ClassAccuracy:
    """Class accuracy of ``candidate`` as judged by the registry classifier ``classifier`` (FP32).

    ``candidate``: a generator (the generator protocol; ``n`` class-balanced images, default 1,000, latents and
    class draw seeded by ``seed``, ``truncation_psi`` applied), an ImageDataset, a SyntheticDataset or its folder,
    or uint8 images [N, H, W, 3] with their intended ``labels`` int [N] (``n``: a seeded subset, default all).
    Raises ValueError (one line) for bad input or a classifier that does not fit the images.
    """
    if n is not None and (not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1):
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch size must be a positive integer, got {batch_size!r}")
    psi: float | None = None
    if is_generator(candidate):
        if labels is not None:
            raise ValueError("labels are drawn class-balanced for a generator; pass labels only with images")
        psi = float(truncation_psi)
        if candidate.c_dim < 2:
            raise ValueError(
                f"class accuracy needs a class-conditional generator; this one has c_dim {candidate.c_dim}"
            )
        _judge(classifier, int(candidate.c_dim), int(candidate.img_resolution))  # before any image is drawn
        images, lab, names, desc = _generated(candidate, int(n or GENERATED_N), seed, psi, batch_size, device)
    else:
        images, lab, names, desc = _image_set(candidate, labels)
        if n is not None and n != len(images):
            if n > len(images):
                raise ValueError(f"n={n} images requested from {desc}, which holds {len(images)}")
            keep = np.sort(np.random.default_rng(seed).permutation(len(images))[:n])
            images, lab = images[keep], lab[keep]
    if images.shape[1] != images.shape[2]:
        raise ValueError(f"expected square images, got {images.shape[1]}x{images.shape[2]}")
    _judge(classifier, len(names), int(images.shape[1]))
    net = get_classifier(classifier).to(device)
    preds = []
    with torch.no_grad():
        for s in range(0, len(images), batch_size):
            preds.append(net(uint8_to_unit(images[s : s + batch_size]).to(device)).argmax(1).cpu().numpy())
    hit = np.concatenate(preds) == lab
    counts = np.bincount(lab, minlength=len(names))
    right = np.bincount(lab, weights=hit, minlength=len(names))
    per = {name: float(right[k] / counts[k]) if counts[k] else float("nan") for k, name in enumerate(names)}
    return ClassAccuracy(
        float(hit.mean()),
        per,
        {name: int(c) for name, c in zip(names, counts, strict=True)},
        int(len(lab)),
        classifier,
        desc,
        psi,
        seed,
    )
