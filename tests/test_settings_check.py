"""gsoc_helpers.training.settings_check: the one range check of trainer settings names the first bad field."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gsoc_helpers.training.settings_check import check_settings


@dataclass
class Cfg:
    steps: object = 10
    lr: object = 0.002
    beta: object = 0.0
    max_minutes: object = None


WHOLE = {"steps": 1}
RANGES = {"lr": (0.0, 1.0, True), "beta": (0.0, 1.0, False), "max_minutes": (0.0, float("inf"), False)}


def test_settings_in_range_pass():
    check_settings(Cfg(), WHOLE, RANGES, optional=("max_minutes",))
    check_settings(Cfg(steps=1, lr=1.0, beta=0.0, max_minutes=0), WHOLE, RANGES)  # the bounds themselves


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("steps", 0, "steps must be a whole number >= 1, got 0"),
        ("steps", 2.0, "steps must be a whole number >= 1, got 2.0"),
        ("steps", True, "steps must be a whole number >= 1, got True"),
        ("lr", 0.0, "lr must be a finite number in (0, 1], got 0.0"),  # low end excluded
        ("lr", float("nan"), "lr must be a finite number in (0, 1], got nan"),
        ("beta", -0.1, "beta must be a finite number in [0, 1], got -0.1"),
        ("beta", 1.5, "beta must be a finite number in [0, 1], got 1.5"),
        ("max_minutes", float("inf"), "max_minutes must be a finite number"),
    ],
)
def test_the_first_bad_field_is_named(field, value, message):
    with pytest.raises(ValueError) as err:
        check_settings(Cfg(**{field: value}), WHOLE, RANGES, optional=("max_minutes",))
    assert str(err.value).startswith(message), err.value


def test_none_only_where_optional():
    with pytest.raises(ValueError, match="steps must be a whole number"):
        check_settings(Cfg(steps=None), WHOLE, RANGES, optional=("max_minutes",))
    check_settings(Cfg(steps=None), WHOLE, RANGES, optional=("steps", "max_minutes"))
