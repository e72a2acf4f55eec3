"""Statistics a reviewer accepts: mean ± std over seeds, and for a source against ``real`` a paired 95 % bootstrap
confidence interval over test images and seeds, with a verdict only when the interval excludes 0.

Per-image outcomes are arrays ``[seeds, images]`` (1 where INT8 agrees with FP32 on that image for that seed's
calibration set, else 0). Both sources are measured on the same images, so each bootstrap replicate draws one set of
image indices for both (paired), and each source's seeds independently (its calibration sets are independent
draws). The statistic is the difference of the mean outcomes, in the outcomes' units (x100 for points of agreement).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
N_BOOT = 2000
BOOT_SEED = 0  # the bootstrap's own seed: the interval is reproducible
MIN_SEEDS = 3  # every printed number: at least this many seeds


def mean_std(values) -> tuple[float, float, int]:
    """(mean, sample std (ddof 1; NaN for one value), count) of finite ``values``."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if not len(v):
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan"), len(v)


def format_mean_std(mean: float, std: float, n: int, digits: int = 2) -> str:
    """'mean ± std' over n seeds; 'mean (1 seed)' when no spread was measured."""
    if int(n) <= 1 or std is None or not np.isfinite(std):
        return f"{mean:.{digits}f} (1 seed)"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


@dataclass(frozen=True)
class Interval:
    diff: float  # mean(a) - mean(b), outcome units
    low: float
    high: float
    n_images: int
    seeds: tuple[int, int]  # (seeds of a, seeds of b)

    @property
    def verdict(self) -> str:
        """ "better" / "worse" when the interval excludes 0, else "indistinguishable"."""
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "indistinguishable"

    def text(self, scale: float = 100.0, digits: int = 2) -> str:
        """'+0.12 [−0.05, +0.30]' in ``scale`` units (points for agreement)."""
        return f"{self.diff * scale:+.{digits}f} [{self.low * scale:+.{digits}f}, {self.high * scale:+.{digits}f}]"


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, n_boot: int = N_BOOT, seed: int = BOOT_SEED, level: float = LEVEL
) -> Interval:
    """Percentile bootstrap interval of mean(a) - mean(b) for outcomes ``a`` [seeds_a, N] and ``b`` [seeds_b, N]
    on the same N images (see module doc)."""
    a, b = np.atleast_2d(np.asarray(a, dtype=np.float64)), np.atleast_2d(np.asarray(b, dtype=np.float64))
    if a.shape[1] != b.shape[1] or a.shape[1] == 0:
        raise ValueError(f"paired outcomes need the same images: got {a.shape[1]} and {b.shape[1]} images")
    rng = np.random.default_rng(seed)
    n = a.shape[1]
    sa, sb = len(a), len(b)
    diffs = np.empty(n_boot)
    for k in range(n_boot):
        w = np.bincount(rng.integers(0, n, n), minlength=n) / n  # image weights of this replicate
        ca = np.bincount(rng.integers(0, sa, sa), minlength=sa) / sa
        cb = np.bincount(rng.integers(0, sb, sb), minlength=sb) / sb
        diffs[k] = (ca @ a - cb @ b) @ w
    tail = (1 - level) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    return Interval(float(a.mean() - b.mean()), float(low), float(high), n, (sa, sb))


def normal_halfwidth(p: float, n: int, level: float = LEVEL) -> float:
    """Half-width of the normal-approximation interval of a proportion ``p`` over ``n`` images (for tests and
    back-of-envelope checks)."""
    z = {0.95: 1.959964}.get(level, 1.959964)
    return z * math.sqrt(p * (1 - p) / n)
