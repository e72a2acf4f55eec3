"""One way to read an image file as 8-bit RGB, shared by every image loader of the package (calibration and held-out
folders, image-folder CIFAR-10, the FakeCIFAR10 import).

* Every PIL mode is converted with its meaning kept, or refused with one line naming the file: 16-bit grayscale
  (``I;16*``, and ``I`` holding 0..65535) is scaled by 255/65535 instead of being clipped to white; palette images go
  through their palette (and transparency); images with alpha (``LA``, ``RGBA``, ``PA``, ...) are composited onto
  white; ``CMYK`` and ``YCbCr`` are converted by Pillow; float (``F``) and other modes are refused.
* An image over :data:`MAX_PIXELS` is refused from its header, before any pixel is decoded (decompression bombs).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 4096 * 4096  # 16.8 MP, far above any classifier's input; a 32x32 model needs 1024
GRAY16_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
ALPHA_MODES = ("LA", "La", "RGBA", "RGBa", "PA")
PILLOW_RGB_MODES = ("1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr")


def _gray16_to_rgb(values: np.ndarray, path: Path, mode: str) -> np.ndarray:
    v = values.astype(np.int64)
    if v.size and (v.min() < 0 or v.max() > 65535):
        raise ValueError(
            f"image {str(path)!r} ({mode}) holds values {v.min()}..{v.max()}, outside 16 bits; save it as 8- or 16-bit"
        )
    gray = ((v * 255 + 32767) // 65535).astype(np.uint8)  # 0 -> 0, 65535 -> 255, rounded
    return np.repeat(gray[..., None], 3, axis=-1)


def _to_rgb(im, path: Path) -> np.ndarray:
    mode = im.mode
    if mode in GRAY16_MODES or mode == "I":
        return _gray16_to_rgb(np.asarray(im), path, mode)
    if mode == "P" and "transparency" in im.info:
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in ALPHA_MODES:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)
    if mode in PILLOW_RGB_MODES:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)
    raise ValueError(
        f"image {str(path)!r} has PIL mode {mode!r} (e.g. float or 32-bit data), which is not "
        "converted; save it as 8-bit RGB or grayscale"
    )


def read_rgb(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """uint8 [H, W, 3] of the image at ``path`` (first frame). ValueError (one line naming the file) for an
    unreadable file, a mode that cannot be converted, or more than ``max_pixels`` pixels (checked before decoding)."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own, lower limit applies
            with Image.open(path) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise ValueError(
                        f"image {str(path)!r} is {w}x{h} ({w * h:,} pixels), over the limit of "
                        f"{max_pixels:,}; refused before decoding (shrink it first)"
                    )
                im.load()
                return _to_rgb(im, path).copy()
    except Image.DecompressionBombError as err:  # Pillow's own, higher limit, met while reading the header
        size = " ".join(str(err).split()).split(" exceeds")[0]
        raise ValueError(
            f"image {str(path)!r}: {size}, over the limit of {max_pixels:,} pixels; refused before "
            "decoding (shrink it first)"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError) as err:  # SyntaxError: some broken PNG/TIFF headers
        text = " ".join(str(err).split()) or type(err).__name__
        raise ValueError(f"cannot read image {str(path)!r}: {text}") from None
