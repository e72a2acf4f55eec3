"""FractalDB-style colourised IFS fractals (Kataoka et al., ACCV 2020), the images of the ``fractal`` calibration
source (:func:`gsoc_helpers.calibration.fractal_source`).

The 2022 project calibrated on 5,000 fractal images generated with Datumaro (IFS fractals, colourised by a
downloaded colorisation network). This renders the same kind of image with numpy/PIL only:

* a *category* is an iterated function system of 2-4 affine maps ``x -> A x + b`` (FractalDB draws 2-8) with
  the six parameters drawn from U[-1, 1]; map ``i`` is chosen with probability proportional to ``|det A_i|``; a
  system is kept only if its attractor is finite and fills at least ``min_fill`` of the canvas (FractalDB's
  filling-rate rule);
* an *instance* multiplies one parameter of one map by a weight in [0.8, 1.2] (FractalDB's intra-category
  variation), may flip horizontally, and gets its own colours;
* rendering: a vectorised chaos game (``chains`` x ``steps`` points after a burn-in), a per-pixel hit histogram on a
  ``2 * size`` canvas, each map painted in its own colour with log-density brightness over a dark background, then
  box-downsampled to ``size`` x ``size``.

Class ``c`` of seed ``s`` is one category; image ``j`` of class ``c`` is a pure function of ``(s, c, j)``, so any
prefix of a class is reproducible on its own.
"""

from __future__ import annotations

import colorsys

import numpy as np

from ..data.dataset import balanced_labels
from ..progress import progress as tqdm  # tqdm's API; one final line in notebooks

MAX_TRIES = 500


def _probabilities(maps: np.ndarray) -> np.ndarray:
    det = np.abs(maps[:, 0] * maps[:, 3] - maps[:, 1] * maps[:, 2]) + 1e-6
    return det / det.sum()


def chaos_game(
    maps: np.ndarray, rng: np.random.Generator, chains: int = 128, steps: int = 88, burn_in: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Points float64 [chains * (steps - burn_in), 2] of the IFS ``maps`` [M, 6] (a, b, c, d, e, f:
    ``(x, y) -> (a x + b y + e, c x + d y + f)``) and the index of the map that produced each point."""
    ks = rng.choice(len(maps), size=(steps, chains), p=_probabilities(maps))
    coef = maps[ks]  # [steps, chains, 6]
    x, y = rng.uniform(-0.5, 0.5, chains), rng.uniform(-0.5, 0.5, chains)
    pts = np.empty((steps, chains, 2))
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            a, b, c, d, e, f = coef[t].T
            x, y = a * x + b * y + e, c * x + d * y + f
            pts[t, :, 0], pts[t, :, 1] = x, y
    return pts[burn_in:].reshape(-1, 2), ks[burn_in:].reshape(-1)


def _canvas_coords(points: np.ndarray, canvas: int) -> np.ndarray | None:
    """Integer pixel coordinates [P, 2] of ``points`` fitted into the canvas (aspect kept), or None if degenerate."""
    if not np.isfinite(points).all() or np.abs(points).max() > 1e4:
        return None
    lo, hi = np.quantile(points, 0.005, axis=0), np.quantile(points, 0.995, axis=0)  # robust to stray points
    span = float((hi - lo).max())
    if span < 1e-6:
        return None
    centred = (points - (lo + hi) / 2) / span  # in [-0.5, 0.5]
    return np.clip(((centred + 0.5) * (canvas - 1)).round().astype(np.int64), 0, canvas - 1)


def fill_rate(maps: np.ndarray, rng: np.random.Generator, canvas: int = 64) -> float:
    """Fraction of canvas pixels the attractor covers (0 for a diverging or collapsed system)."""
    pts, _ = chaos_game(maps, rng)
    xy = _canvas_coords(pts, canvas)
    if xy is None:
        return 0.0
    return len(np.unique(xy[:, 1] * canvas + xy[:, 0])) / canvas**2


def sample_category(rng: np.random.Generator, min_fill: float = 0.15, canvas: int = 64) -> np.ndarray:
    """float64 [M, 6]: a random IFS (2-4 maps) whose attractor fills at least ``min_fill`` of the canvas."""
    for _ in range(MAX_TRIES):
        maps = rng.uniform(-1.0, 1.0, (int(rng.integers(2, 5)), 6))
        if fill_rate(maps, rng, canvas) >= min_fill:
            return maps
    raise RuntimeError(f"no IFS reached a filling rate of {min_fill} in {MAX_TRIES} tries")


def render(maps: np.ndarray, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """uint8 [size, size, 3]: one colourised instance of the IFS ``maps`` (perturbed, maybe flipped)."""
    maps = maps.copy()
    maps[rng.integers(len(maps)), rng.integers(6)] *= rng.uniform(0.8, 1.2)
    canvas = 2 * size
    # as many points per canvas pixel at any size as at 32x32 (128 chains there)
    pts, idx = chaos_game(maps, rng, chains=128 * max(1, round((size / 32) ** 2)))
    xy = _canvas_coords(pts, canvas)
    base_hue = rng.uniform()
    colours = np.array(
        [
            colorsys.hsv_to_rgb((base_hue + rng.uniform(0.1, 0.4) * i) % 1.0, rng.uniform(0.5, 1.0), 1.0)
            for i in range(len(maps))
        ]
    )
    background = np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0, 0.6), rng.uniform(0, 0.25)))
    img = np.zeros((canvas * canvas, 3))
    hits = np.zeros(canvas * canvas)
    if xy is not None:  # a perturbation can break a system: such an instance is plain background
        flat = xy[:, 1] * canvas + xy[:, 0]
        hits = np.bincount(flat, minlength=canvas * canvas).astype(np.float64)
        for ch in range(3):
            img[:, ch] = np.bincount(flat, weights=colours[idx, ch], minlength=canvas * canvas)
        img /= np.maximum(hits, 1)[:, None]
    alpha = (np.log1p(hits) / max(np.log1p(hits).max(), 1e-9))[:, None]
    out = (alpha * img + (1 - alpha) * background).reshape(canvas, canvas, 3)
    if rng.uniform() < 0.5:
        out = out[:, ::-1]
    out = out.reshape(size, 2, size, 2, 3).mean((1, 3))  # box downsample
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)


def fractal_images(
    size: int, seed: int, min_fill: float = 0.15, progress: bool = False, image_size: int = 32, num_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [size, S, S, 3], int64 labels [size]) with ``S = image_size``: class-balanced over ``num_classes``
    categories (see :func:`balanced_labels`)."""
    labels = balanced_labels(size, seed, num_classes)
    categories = {
        int(c): sample_category(np.random.default_rng([seed, 7919, int(c)]), min_fill) for c in np.unique(labels)
    }
    images = np.empty((size, image_size, image_size, 3), np.uint8)
    seen: dict[int, int] = {}
    for n, c in enumerate(tqdm(labels, desc="fractals", disable=not progress, leave=False)):
        j = seen[int(c)] = seen.get(int(c), -1) + 1
        images[n] = render(categories[int(c)], np.random.default_rng([seed, int(c), j]), image_size)
    return images, labels
