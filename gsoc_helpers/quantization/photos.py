"""Natural photos that ship with scikit-image (``skimage/data/``, no download): the offline stand-in for "images
that fit the model" when a user gives no held-out folder and the model is not a CIFAR-10 one.

:data:`PHOTO_FILES` are the 20 photographs in scikit-image's wheel (portraits, a cat, a cup of coffee, a rocket,
motorcycles, textures such as brick and grass, microscopy, a telescope field, a page of text; grey photos are
read as RGB with equal channels). The synthetic test patterns beside them (chessboards, a colour wheel, a logo,
a phantom, a silhouette) are left out. Each photo gives ``views`` square crops: the centred largest square, then
seeded crops of 50-100 % of the short side at random places, half of them mirrored, each resized to the model's
size (bilinear, antialiased). Views of one photo are correlated: quote the photo count beside the view count.
"""

from __future__ import annotations

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


def photo_folder() -> Path | None:
    """scikit-image's bundled data folder, or None when scikit-image is not installed."""
    try:
        import skimage
    except ImportError:
        return None
    folder = Path(skimage.__file__).parent / "data"
    return folder if all((folder / f).is_file() for f in PHOTO_FILES) else None


def natural_photos(image_size: int, views: int = VIEWS, seed: int = 0) -> tuple[torch.Tensor, str]:
    """(float32 [len(PHOTO_FILES) * views, 3, S, S] in [0,1], description). FileNotFoundError without scikit-image."""
    folder = photo_folder()
    if folder is None:
        raise FileNotFoundError("scikit-image's bundled photos are not installed (pip install scikit-image)")
    rng = np.random.default_rng(seed)
    out = []
    for name in PHOTO_FILES:
        img = read_rgb(folder / name)
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
    text = (
        f"{len(out)} crops ({views} per photo) of the {len(PHOTO_FILES)} natural photos bundled with "
        f"scikit-image, resized to {image_size}x{image_size}"
    )
    return torch.cat(out).clamp_(0, 1).contiguous(), text
