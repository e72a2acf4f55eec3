"""Range checks for the settings of a training run, shared by every trainer's config (one-line ValueErrors)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def check_settings(
    cfg: Any,
    whole: Mapping[str, int] = {},
    ranges: Mapping[str, tuple[float, float, bool]] = {},
    optional: tuple[str, ...] = (),
) -> None:
    """ValueError naming the first field of ``cfg`` out of range.

    ``whole``: field -> smallest allowed whole number.  ``ranges``: field -> (low, high, low excluded) for finite
    numbers.  Fields in ``optional`` may also be None."""
    for name, low in whole.items():
        value = getattr(cfg, name)
        if value is None and name in optional:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    for name, (lo, high, open_low) in ranges.items():
        value = getattr(cfg, name)
        if value is None and name in optional:
            continue
        number = float(value)
        if not math.isfinite(number) or number < lo or number > high or (open_low and number == lo):
            raise ValueError(
                f"{name} must be a finite number in {'(' if open_low else '['}{lo:g}, {high:g}], got {value!r}"
            )
