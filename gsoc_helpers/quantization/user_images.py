"""Images for quantizing a user's model: calibration (a registered source or a folder) and the held-out set
(a folder, labelled or not; else images that fit the model: held-out synthetic CIFAR-10 images for a 32x32,
10-class model, natural photos (:mod:`.photos`) for any other).

Folders: every ``.png/.jpg/.jpeg/.bmp`` below the folder (sorted by path), read as 8-bit RGB by
:func:`gsoc_helpers.pil_images.read_rgb` (every mode converted or refused, huge images refused), resized to the
model's image size (bilinear, antialiased; no crop; a warning says how many were another size). A folder is
*labelled* when its images sit in class folders named by CIFAR-10 class names or by class indices (``0``, ``1``,
...): the label is that class's index.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..calibration import SourceContext, available_sources, get_calibration, needs_classifier
from ..data.cifar10 import IMAGE_SUFFIXES
from ..data.dataset import CIFAR10_CLASSES
from ..defaults import IMAGE_SIZE
from ..models.contract import InputContract
from ..pil_images import read_rgb
from ..pixels import resize, uint8_to_unit
from .photos import natural_photos, photo_folder

HELD_OUT_SOURCE = "student"  # generator of the held-out synthetic images when no held-out folder is given
HELD_OUT_SEED_OFFSET = 1_000_003  # held-out seed = calibration seed + this: latents disjoint from calibration's


@dataclass
class ImageSet:
    images: torch.Tensor  # float32 [N,3,S,S] in [0,1] (before the model's preprocessing)
    labels: torch.Tensor | None  # int64 [N] or None (unlabelled)
    description: str  # what they are, for the report


def image_files(folder: str | Path) -> list[Path]:
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {str(root)!r} does not exist")
    every = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    files = [p for p in every if p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise ValueError(f"folder {str(root)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    skipped = [p for p in every if p.suffix.lower() not in IMAGE_SUFFIXES]
    if skipped:
        warnings.warn(
            f"{len(skipped)} file(s) in {str(root)!r} are not {'/'.join(IMAGE_SUFFIXES)} images and are skipped "
            f"(e.g. {str(skipped[0].relative_to(root))!r}); convert them to use them",
            UserWarning,
            stacklevel=2,
        )
    return files


def _label_of(root: Path, files: list[Path]) -> list[int] | None:
    """Class index per file from its class folder (CIFAR-10 name or integer), or None if not all are labelled."""
    if any(len(f.relative_to(root).parts) != 2 for f in files):
        return None
    names = [f.relative_to(root).parts[0] for f in files]
    if all(n in CIFAR10_CLASSES for n in names):
        return [CIFAR10_CLASSES.index(n) for n in names]
    if all(n.isascii() and n.isdigit() for n in names):
        spelled: dict[int, str] = {}
        for n in sorted(set(names)):
            if spelled.setdefault(int(n), n) != n:
                raise ValueError(
                    f"class folders {spelled[int(n)]!r} and {n!r} in {str(root)!r} are both class {int(n)}; "
                    "merge them or rename one"
                )
        return [int(n) for n in names]
    return None


def load_folder(folder: str | Path, image_size: int, max_images: int | None = None, seed: int = 0) -> ImageSet:
    """The folder's images resized to ``image_size`` (``max_images``: a seeded random subset, kept in path order)."""
    root = Path(folder).expanduser()
    files = image_files(root)
    labels = _label_of(root, files)
    idx = np.arange(len(files))
    if max_images is not None and len(files) > max_images:
        idx = np.sort(np.random.default_rng(seed).choice(len(files), size=max_images, replace=False))
    out, other_sizes = [], []
    for i in idx:
        arr = read_rgb(files[i])  # every PIL mode converted (16-bit scaled) or refused; huge images refused
        if arr.shape[:2] != (image_size, image_size):
            other_sizes.append(f"{arr.shape[1]}x{arr.shape[0]}")
        x = uint8_to_unit(arr[None])
        out.append(resize(x, image_size))
    if other_sizes:
        warnings.warn(
            f"{len(other_sizes)} of {len(idx)} images in {str(root)!r} are not the model's "
            f"{image_size}x{image_size} (e.g. {other_sizes[0]}); resized without crop, which changes "
            "their statistics",
            UserWarning,
            stacklevel=2,
        )
    y = None if labels is None else torch.tensor([labels[i] for i in idx], dtype=torch.int64)
    what = f"{len(idx)} images from folder {str(root)!r}" + (" (labelled by class folder)" if y is not None else "")
    return ImageSet(torch.cat(out).contiguous(), y, what)


def is_folder(spec: str) -> bool:
    return Path(str(spec)).expanduser().is_dir()


def check_calibration_spec(spec: str, torch_model_available: bool | None = None) -> str:
    """'folder' or 'source' for a calibration spec; KeyError / ValueError otherwise."""
    if spec in available_sources():
        if needs_classifier(spec) and torch_model_available is False:
            raise ValueError(
                f"the {spec} source makes its images through the model: it needs a PyTorch model (a registered "
                "classifier or package.module:factory), not an ONNX/IR file"
            )
        return "source"
    if is_folder(spec):
        image_files(spec)
        return "folder"
    if Path(str(spec)).expanduser().exists():
        raise ValueError(f"calibration {spec!r} is a file; expected a source name or a folder of images")
    raise KeyError(
        f"unknown calibration source {spec!r}; expected one of {sorted(available_sources())} or a folder of images"
    )


def calibration_images(
    spec: str,
    size: int,
    seed: int,
    model_input: InputContract,
    torch_model=None,
    source_options: dict | None = None,
) -> ImageSet:
    """``size`` calibration images (all of a smaller folder) float32 [N,3,S,S] in [0,1] at the model's size."""
    kind = check_calibration_spec(spec, torch_model is not None)
    if kind == "folder":
        got = load_folder(spec, model_input.image_size, max_images=size, seed=seed)
        return ImageSet(got.images, None, got.description)
    context = SourceContext(model_input, torch_model)
    cal = get_calibration(spec, size, seed, context=context, **dict(source_options or {}))
    return ImageSet(cal.images, None, f"{size} images from source {spec!r} ({cal.source}, seed {seed})")


DEGENERATE_TOLERANCE = 1 / 255  # mean absolute deviation (images in [0,1]) below which an image counts as flat
NEAR_COPY_TOLERANCE = 4 / 255  # mean absolute difference below which two images count as copies (a few grey levels)


def warn_if_degenerate(images: torch.Tensor, description: str) -> None:
    """UserWarning when the calibration images float32 [N,3,S,S] in [0,1] cannot give NNCF usable activation ranges:
    a single image, all images (nearly) identical, or every image (nearly) one flat colour. "Nearly identical":
    within ``NEAR_COPY_TOLERANCE`` (four 8-bit grey levels) of the first on average, so copies with a pixel or two
    changed or a little noise added count; "flat": within ``DEGENERATE_TOLERANCE`` (one grey level) of its mean."""
    n = len(images)
    flat = images.reshape(n, -1)
    tol = DEGENERATE_TOLERANCE
    if n == 1:
        problem = "only 1 image"
    elif bool(((flat - flat[:1]).abs().mean(1) < NEAR_COPY_TOLERANCE).all()):
        problem = f"{n} identical images (to within {round(NEAR_COPY_TOLERANCE * 255)} grey levels on average)"
    elif bool(((images.flatten(2) - images.flatten(2).mean(2, keepdim=True)).abs().mean(2) < tol).all()):
        problem = f"{n} images that are each one flat colour"
    else:
        return
    warnings.warn(
        f"the calibration set is {problem} ({description}); the INT8 ranges it gives will not fit real "
        "inputs: use more, varied images",
        UserWarning,
        stacklevel=2,
    )


def held_out_synthetic(size: int, seed: int, model_input: InputContract) -> ImageSet:
    """``size`` images of the bundled student generator with seed ``seed + HELD_OUT_SEED_OFFSET`` (never the
    calibration images) at the model's size. Labels are not given: they are the generator's intended classes, not
    ground truth."""
    held_seed = seed + HELD_OUT_SEED_OFFSET
    cal = get_calibration(HELD_OUT_SOURCE, size, held_seed, model_input)
    return ImageSet(
        cal.images,
        None,
        f"{size} held-out synthetic images from the {HELD_OUT_SOURCE} generator (seed {held_seed}, "
        f"not among the calibration images; {cal.source})",
    )


def fits_cifar10(model_input: InputContract) -> bool:
    """True for a model taking CIFAR-10's 32x32 pictures with 10 outputs (the held-out synthetic images fit it)."""
    return model_input.image_size == IMAGE_SIZE and model_input.num_classes == len(CIFAR10_CLASSES)


def held_out_default(size: int, seed: int, model_input: InputContract) -> tuple[ImageSet, str]:
    """(images, set name) to measure agreement on when the user gives no held-out folder: held-out synthetic
    CIFAR-10 images for a CIFAR-10-shaped model; otherwise scikit-image's natural photos (the calibration
    images never include them); without scikit-image, the synthetic images upsampled, named for what they are."""
    if fits_cifar10(model_input):
        return held_out_synthetic(size, seed, model_input), "held-out synthetic images"
    if photo_folder() is not None:
        images, text = natural_photos(model_input.image_size, seed=seed)
        return ImageSet(images, None, text + " (not among the calibration images)"), "natural photos"
    held = held_out_synthetic(size, seed, model_input)
    warnings.warn(
        "no --held-out folder and scikit-image is not installed: agreement is measured on 32x32 CIFAR-10 "
        "pictures upsampled, which do not fit this model; pass --held-out with images like your inputs",
        UserWarning,
        stacklevel=2,
    )
    return held, "upsampled CIFAR-10-like synthetic images (do not fit this model)"
