"""The ``fractal`` calibration source: FractalDB-style IFS fractals, seeded and class-balanced."""

from __future__ import annotations

import numpy as np
import torch

from gsoc_helpers.calibration import available_sources, get_calibration
from gsoc_helpers.calibration.fractals import chaos_game, fill_rate, render, sample_category


def test_fractal_source_is_seeded_balanced_and_prefix_stable():
    assert "fractal" in available_sources()
    a = get_calibration("fractal", 23, seed=3)
    assert a.images.shape == (23, 3, 32, 32) and a.images.dtype == torch.float32
    assert 0 <= float(a.images.min()) and float(a.images.max()) <= 1
    counts = np.bincount(a.labels.numpy(), minlength=10)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 23
    assert torch.equal(a.images, get_calibration("fractal", 23, seed=3).images)  # same seed, same images
    assert not torch.equal(a.images, get_calibration("fractal", 23, seed=4).images)
    # image j of class c depends only on (seed, c, j): a larger set of the same seed starts with the same images
    big = get_calibration("fractal", 40, seed=3)
    for c in range(10):
        small_c, big_c = a.images[a.labels == c], big.images[big.labels == c]
        assert torch.equal(small_c, big_c[: len(small_c)])


def test_images_are_fractals_not_noise():
    rng = np.random.default_rng(0)
    maps = sample_category(rng, min_fill=0.15)
    assert 2 <= len(maps) <= 4 and maps.shape[1] == 6 and np.abs(maps).max() <= 1.2
    # accepted on one chaos game at >= 0.15; other runs of the same IFS vary, so a margin: mean over 5 runs >= 0.1
    assert np.mean([fill_rate(maps, np.random.default_rng(k)) for k in range(1, 6)]) >= 0.1
    img = render(maps, np.random.default_rng(2))
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    # structured: neighbouring pixels are far more alike than in uniform noise, and the image is not flat
    grey = img.astype(np.float64).mean(2)
    assert grey.std() > 5
    assert np.abs(np.diff(grey, axis=1)).mean() < 0.5 * grey.std() * np.sqrt(2)
    # instances of one class differ (perturbation, flip, colours) but share the IFS
    other = render(maps, np.random.default_rng(3))
    assert not np.array_equal(img, other)


def test_chaos_game_on_a_known_ifs():
    # Sierpinski triangle: three maps x/2 + offset; its points stay in the unit triangle
    maps = np.array([[0.5, 0, 0, 0.5, 0, 0], [0.5, 0, 0, 0.5, 0.5, 0], [0.5, 0, 0, 0.5, 0.25, 0.5]])
    pts, idx = chaos_game(maps, np.random.default_rng(0))
    assert pts.shape[1] == 2 and len(pts) == len(idx) and set(np.unique(idx)) == {0, 1, 2}
    assert pts.min() > -1e-6 and pts.max() < 1 + 1e-6
    assert 0.1 < fill_rate(maps, np.random.default_rng(0)) < 0.6  # a sparse attractor, not a filled square
