"""Argument checking at the edge of the program: an ``ArgumentParser`` whose errors are one line (exit 2), and
``type=`` converters that refuse values out of range with a message naming the allowed range."""
from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Callable, NoReturn

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


class OneLineParser(argparse.ArgumentParser):
    """``error()`` prints ``<prog>: error: <message> (see --help)`` on one line and exits with 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _number(kind: Callable[[str], float], text: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None


def int_at_least(low: int) -> Callable[[str], int]:
    """argparse type: an integer >= ``low``."""
    def convert(text: str) -> int:
        value = int(_number(int, text))
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    convert.__name__ = f"int>={low}"
    return convert


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def float_in(low: float = -math.inf, high: float = math.inf, low_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite float in [low, high] ((low, high] with ``low_open``); NaN and inf refused."""
    def convert(text: str) -> float:
        value = float(_number(float, text))
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if value < low or value > high or (low_open and value == low):
            lo = "(" if low_open else "["
            raise argparse.ArgumentTypeError(f"must be in {lo}{low:g}, {high:g}], got {value:g}")
        return value

    convert.__name__ = "number"
    return convert


finite_float = float_in()
non_negative_float = float_in(0.0)
positive_float = float_in(0.0, low_open=True)


def device(text: str) -> str:
    """argparse type: auto | cpu | cuda | cuda:N | mps."""
    if not DEVICE_PATTERN.match(text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; expected auto, cpu, cuda, cuda:N or mps")
    return text


def port(text: str) -> int:
    """argparse type: a TCP port 0..65535 (0 = any free port)."""
    value = int(_number(int, text))
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in 0..65535, got {value}")
    return value


def output_folder(text: str) -> str:
    """argparse type: a path that is not an existing file (a folder, or nothing yet)."""
    if Path(text).expanduser().exists() and not Path(text).expanduser().is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, expected a folder")
    return text


def typed_value(text: str) -> object:
    """papermill's ``-p`` convention for a value given as text: True/False/None, an int, a float, else the text."""
    if text in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def fail(message: str) -> NoReturn:
    """Print ``error: message`` and exit 2 (for checks that need several arguments at once)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)
