"""Range checks for the settings of a training run, shared by every trainer's config (one-line ValueErrors), and
the DiffAugment policy names (torch-free, so that a config is checked before any run folder is touched)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")


def parse_policy(policy: str) -> list[str]:
    """'color,translation' -> ['color', 'translation'] ('' -> []); ValueError naming an unknown policy."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    for p in names:
        if p not in DIFFAUGMENT_POLICIES:
            raise ValueError(f"unknown DiffAugment policy {p!r}; expected a comma list of {DIFFAUGMENT_POLICIES}")
    return names


def check_settings(
    cfg: Any,
    whole: Mapping[str, int | tuple[int, int]] = {},
    ranges: Mapping[str, tuple[float, float, bool]] = {},
    optional: tuple[str, ...] = (),
) -> None:
    """ValueError naming the first field of ``cfg`` out of range.

    ``whole``: field -> smallest allowed whole number, or (smallest, largest).  ``ranges``: field -> (low, high, low excluded) for finite
    numbers.  Fields in ``optional`` may also be None."""
    for name, bounds in whole.items():
        value = getattr(cfg, name)
        if value is None and name in optional:
            continue
        low, high = bounds if isinstance(bounds, tuple) else (bounds, math.inf)
        if not isinstance(value, int) or isinstance(value, bool) or value < low or value > high:
            allowed = f">= {low}" if high == math.inf else f"in {low}..{high}"
            raise ValueError(f"{name} must be a whole number {allowed}, got {value!r}")
    for name, (lo, high, open_low) in ranges.items():
        value = getattr(cfg, name)
        if value is None and name in optional:
            continue
        number = float(value)
        if not math.isfinite(number) or number < lo or number > high or (open_low and number == lo):
            raise ValueError(
                f"{name} must be a finite number in {'(' if open_low else '['}{lo:g}, {high:g}], got {value!r}"
            )
