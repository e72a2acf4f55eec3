"""Natural photos that ship inside installed wheels (no download): the offline stand-in for "images that fit the
model" when a user gives no held-out folder and the model is not a CIFAR-10 one, and the study's photo splits.

:data:`PHOTO_FILES` are the 20 photographs in scikit-image's wheel (portraits, a cat, a cup of coffee, a rocket,
motorcycles, textures such as brick and grass, microscopy, a telescope field, a page of text; grey photos are
read as RGB with equal channels). The synthetic test patterns beside them (chessboards, a colour wheel, a logo,
a phantom, a silhouette) are left out. :func:`photo_catalogue` adds scikit-learn's two sample photos, matplotlib's
portrait and, when the ``foolbox`` wheel (MIT) is installed, its 20 labelled ImageNet validation images (the
ImageNet class is the file name's last number). Each photo gives ``views`` square crops: the centred largest
square, then seeded crops of 50-100 % of the short side at random places, half of them mirrored, each resized to
the model's size (bilinear, antialiased). Views of one photo are correlated: quote the photo count beside the
view count, and split by photo, never by crop (:func:`split_photos`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..pil_images import read_rgb
from ..pixels import resize, uint8_to_unit

PHOTO_FILES = (
    "astronaut.png",
    "brick.png",
    "camera.png",
    "cell.png",
    "chelsea.png",
    "clock_motion.png",
    "coffee.png",
    "coins.png",
    "grass.png",
    "gravel.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "microaneurysms.png",
    "moon.png",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "page.png",
    "retina.jpg",
    "rocket.jpg",
    "text.png",
)
VIEWS = 5  # crops per photo: 100 images from the 20 photos
SPLIT_ORDER = ("test", "validation", "calibration")  # photos of one origin are dealt round-robin in this order
SPLIT_SEED = 2022  # the permutation of each origin's photos before dealing: fixed, never a study's seed


@dataclass(frozen=True)
class Photo:
    name: str  # "<origin>/<file name>"
    path: Path
    label: int  # ImageNet class, or -1 when the photo is not labelled


def photo_folder() -> Path | None:
    """scikit-image's bundled data folder, or None when scikit-image is not installed."""
    try:
        import skimage
    except ImportError:
        return None
    folder = Path(skimage.__file__).parent / "data"
    return folder if all((folder / f).is_file() for f in PHOTO_FILES) else None


def _package_folder(package: str, *parts: str) -> Path | None:
    """A data folder inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    return folder if folder.is_dir() else None


def photo_catalogue() -> dict[str, list[Photo]]:
    """origin -> its photos (sorted by name): ``skimage`` (20), ``sklearn`` (2), ``matplotlib`` (1) and
    ``foolbox`` (20 labelled ImageNet validation images); an origin whose package is not installed is left out."""
    out: dict[str, list[Photo]] = {}
    folder = photo_folder()
    if folder is not None:
        out["skimage"] = [Photo(f"skimage/{f}", folder / f, -1) for f in PHOTO_FILES]
    for origin, package, parts, names in (
        ("sklearn", "sklearn", ("datasets", "images"), ("china.jpg", "flower.jpg")),
        ("matplotlib", "matplotlib", ("mpl-data", "sample_data"), ("grace_hopper.jpg",)),
    ):
        where = _package_folder(package, *parts)
        if where is not None and all((where / n).is_file() for n in names):
            out[origin] = [Photo(f"{origin}/{n}", where / n, -1) for n in names]
    where = _package_folder("foolbox", "data")
    files = sorted(where.glob("imagenet_*_*.jpg")) if where is not None else []
    if files:
        out["foolbox"] = [Photo(f"foolbox/{f.name}", f, int(f.stem.rsplit("_", 1)[1])) for f in files]
    return out


def split_photos(catalogue: dict[str, list[Photo]] | None = None) -> dict[str, list[Photo]]:
    """role ("calibration", "validation", "test") -> photos: each origin's photos permuted with
    :data:`SPLIT_SEED` and dealt round-robin in :data:`SPLIT_ORDER`, so every role gets photos of every origin
    with at least three photos, and no photo is in two roles."""
    out: dict[str, list[Photo]] = {role: [] for role in SPLIT_ORDER}
    for _origin, photos in sorted((catalogue if catalogue is not None else photo_catalogue()).items()):
        order = np.random.default_rng(SPLIT_SEED).permutation(len(photos))
        for i, j in enumerate(order):
            out[SPLIT_ORDER[i % len(SPLIT_ORDER)]].append(photos[int(j)])
    return out


def photo_views(photos: list[Photo], image_size: int, views: int = VIEWS, seed: int = 0) -> torch.Tensor:
    """float32 [len(photos) * views, 3, S, S] in [0,1]: ``views`` crops of each photo (see module doc)."""
    if not photos:
        raise ValueError("no photos to crop: install scikit-image (and foolbox for labelled ImageNet photos)")
    rng = np.random.default_rng(seed)
    out = []
    for photo in photos:
        img = read_rgb(photo.path)
        h, w = img.shape[:2]
        short = min(h, w)
        for v in range(views):
            side = short if v == 0 else int(rng.integers(short // 2, short + 1))
            top = (h - side) // 2 if v == 0 else int(rng.integers(0, h - side + 1))
            left = (w - side) // 2 if v == 0 else int(rng.integers(0, w - side + 1))
            crop = img[top : top + side, left : left + side]
            if v > 0 and v % 2 == 0:
                crop = crop[:, ::-1]
            out.append(resize(uint8_to_unit(np.ascontiguousarray(crop)[None]), image_size))
    return torch.cat(out).clamp_(0, 1).contiguous()


def natural_photos(image_size: int, views: int = VIEWS, seed: int = 0) -> tuple[torch.Tensor, str]:
    """(float32 [len(PHOTO_FILES) * views, 3, S, S] in [0,1], description) of scikit-image's photos.
    FileNotFoundError without scikit-image."""
    folder = photo_folder()
    if folder is None:
        raise FileNotFoundError("scikit-image's bundled photos are not installed (pip install scikit-image)")
    images = photo_views([Photo(f, folder / f, -1) for f in PHOTO_FILES], image_size, views, seed)
    text = (
        f"{len(images)} crops ({views} per photo) of the {len(PHOTO_FILES)} natural photos bundled with "
        f"scikit-image, resized to {image_size}x{image_size}"
    )
    return images, text
