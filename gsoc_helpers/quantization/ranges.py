"""Quantization ranges at any bit width, from samples of a tensor: the estimators of the below-8-bit study.

NNCF picks its ranges for 8 bits (and refuses ``num_bits`` other than 8 for target ANY), so the study estimates the
ranges itself, for the bit width it uses, from activations the calibration images produce:

* ``minmax``      the global min and max (the project's 8-bit setting);
* ``percentile``  the 0.01 % and 99.99 % quantiles (clips rare extremes);
* ``mse``         the min/max scaled by the factor in (0, 1] that minimises the mean squared quantization error at
                  the given number of levels (a grid search, as NNCF's histogram/MSE estimators do at 8 bits).

:func:`fake_quantize` is OpenVINO's FakeQuantize formula (``levels`` equally spaced values over [low, high]), and
:func:`weight_scales` the per-output-channel symmetric scales of b-bit weights.
"""

from __future__ import annotations

import numpy as np

ESTIMATORS = ("minmax", "percentile", "mse")
PERCENTILE = 1e-4  # fraction clipped at each end by the percentile estimator
_MSE_GRID = np.linspace(0.05, 1.0, 96)  # clipping factors the mse estimator tries


def fake_quantize(x: np.ndarray, low: np.ndarray | float, high: np.ndarray | float, levels: int) -> np.ndarray:
    """OpenVINO FakeQuantize with equal input and output ranges: clip to [low, high], round to ``levels`` values."""
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    step = np.maximum(high - low, 1e-12) / (levels - 1)
    return np.round((np.clip(x, low, high) - low) / step) * step + low


def _mse_factor(x: np.ndarray, low: np.ndarray, high: np.ndarray, levels: int, axis=None) -> np.ndarray:
    """The clipping factor of :data:`_MSE_GRID` with the least squared error of ``fake_quantize(x, f*low, f*high)``
    (reduced over ``axis``: one factor per remaining index)."""
    errors = np.stack([((fake_quantize(x, f * low, f * high, levels) - x) ** 2).mean(axis=axis) for f in _MSE_GRID])
    return _MSE_GRID[np.argmin(errors, axis=0)]


def estimate_range(samples: np.ndarray, levels: int, estimator: str) -> tuple[float, float]:
    """(low, high) of one tensor's quantization range from ``samples`` (any shape, float) for ``levels`` values.

    ``low`` is 0 whenever every sample is >= 0 (a ReLU output keeps its exact zero)."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown range estimator {estimator!r}; expected one of {ESTIMATORS}")
    if levels < 2:
        raise ValueError(f"levels must be >= 2, got {levels}")
    x = np.asarray(samples, np.float64).ravel()
    if x.size == 0:
        raise ValueError("no samples to estimate a range from")
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    if estimator == "percentile":
        qlo, qhi = np.quantile(x, [PERCENTILE, 1 - PERCENTILE])
        lo, hi = min(float(qlo), 0.0), max(float(qhi), 0.0)
    elif estimator == "mse":
        f = float(_mse_factor(x, np.float64(lo), np.float64(hi), levels))
        lo, hi = f * lo, f * hi
    if hi - lo <= 0:
        hi = lo + 1e-6
    return lo, hi


def weight_scales(weights: np.ndarray, bits: int, estimator: str = "mse") -> np.ndarray:
    """Per-output-channel (axis 0) scales of symmetric ``bits``-bit weights on the narrow grid
    ``{-(2^(b-1)-1) .. 2^(b-1)-1} * scale``; ``estimator``: ``minmax`` (max |w|) or ``mse`` (max |w| times the
    factor with the least squared error). float32 [C_out] > 0."""
    if estimator not in ("minmax", "mse"):
        raise ValueError(f"weight range estimator must be 'minmax' or 'mse', got {estimator!r}")
    if not 2 <= bits <= 8:
        raise ValueError(f"weight bits must be in 2..8, got {bits}")
    w = np.asarray(weights, np.float64).reshape(len(weights), -1)
    qmax = 2 ** (bits - 1) - 1
    amax = np.maximum(np.abs(w).max(1), 1e-12)
    if estimator == "mse":
        amax = amax * _mse_factor(w, -amax[:, None], amax[:, None], 2 * qmax + 1, axis=1)
    return (amax / qmax).astype(np.float32)
