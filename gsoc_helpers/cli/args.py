"""The command line's one vocabulary: an ``ArgumentParser`` whose errors are one line (exit 2), ``type=``
converters that refuse values out of range with a message naming the allowed range, and the flags that several
commands share, each defined once here:

* ``--out DIR``         every output folder;
* ``--psi X``           the truncation ψ;
* ``--source-option``   ``[SOURCE:]KEY=VALUE`` for a calibration source, VALUE typed like papermill's ``-p``;
* ``--max-drop P``      accuracy-aware PTQ: largest top-1 drop in **points** (2 = 2 points; fractions inside).

This module imports no torch: building the parser must stay fast (``--help`` under a second).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

# What every command taking a generator accepts (gsoc_helpers.models.registry.load_generator).
GENERATOR_HELP = (
    "offline-teacher | student (bundled), cifar10 (NVIDIA StyleGAN2-ADA, downloaded), "
    "a StyleGAN2-ADA .pkl path or URL, a .safetensors checkpoint or a 2022 DiStyleGAN folder"
)
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


def int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer >= ``low`` (and <= ``high`` when given)."""

    def convert(text: str) -> int:
        value = int(_number(int, text))
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {value}")
        return value

    convert.__name__ = f"int>={low}"
    return convert


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def float_in(
    low: float = -math.inf, high: float = math.inf, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
    """argparse type: a finite float in [low, high] (an end excluded with ``low_open`` / ``high_open``); NaN and inf
    refused."""

    def convert(text: str) -> float:
        value = float(_number(float, text))
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if value < low or value > high or (low_open and value == low) or (high_open and value == high):
            lo, hi = "(" if low_open else "[", ")" if high_open else "]"
            raise argparse.ArgumentTypeError(f"must be in {lo}{low:g}, {high:g}{hi}, got {value:g}")
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


# ---------------------------------------------------------------------------------------------- shared flags
def add_out(
    p: argparse.ArgumentParser, help: str, *, required: bool = False, default: object = None, dest: str = "out"
) -> None:
    """``--out DIR``, stored as ``args.<dest>``."""
    p.add_argument(
        "--out",
        dest=dest,
        type=output_folder,
        required=required,
        default=default,
        metavar="DIR",
        help=help,
    )


def note_fresh_resume(command: str, out: str | Path | None, resume: bool) -> None:
    """``--resume`` means "start or continue" (``make bundle`` relies on it); when ``out`` holds no run yet, say so
    on stderr, so that a mistyped folder does not pass unseen."""
    from ..safety import holds_only_mark

    if resume and out is not None and holds_only_mark(out):
        print(f"{command}: nothing to resume in {str(out)!r}; starting a new run there", file=sys.stderr)


def add_psi(p: argparse.ArgumentParser, default: float = 1.0, help: str = "truncation psi") -> None:
    """``--psi X``, stored as ``args.psi``."""
    p.add_argument(
        "--psi",
        dest="psi",
        type=finite_float,
        default=default,
        help=f"{help} (default {default:g})",
    )


def add_max_drop(p: argparse.ArgumentParser, default_fraction: float | None, what: str) -> None:
    """``--max-drop POINTS`` in top-1 points, (0, 100]; ``args.max_drop`` stays in points (convert with
    :func:`gsoc_helpers.quantization.settings.points_to_fraction`)."""
    shown = "" if default_fraction is None else f" (default {default_fraction * 100:g})"
    p.add_argument(
        "--max-drop",
        type=float_in(0.0, 100.0, low_open=True),
        metavar="POINTS",
        default=None if default_fraction is None else round(default_fraction * 100, 10),
        help=f"{what}: largest allowed top-1 drop in points, e.g. 2 = 2 points{shown}",
    )


def source_option(text: str) -> tuple[str | None, str, object]:
    """argparse type: ``[SOURCE:]KEY=VALUE`` -> (source or None, key, value); VALUE typed like papermill's ``-p``
    (True/False/None, int, float, else text: a path with ':' or '=' stays whole)."""
    head, sep, value = text.partition("=")
    source, colon, key = head.rpartition(":")
    if not sep or not key or (colon and not source):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected [SOURCE:]KEY=VALUE, e.g. student:truncation_psi=0.7 or steps=50"
        )
    return (source or None), key, typed_value(value)


def add_source_option(p: argparse.ArgumentParser, example: str) -> None:
    """``--source-option [SOURCE:]KEY=VALUE`` (repeatable), parsed by :func:`source_option`."""
    p.add_argument(
        "--source-option",
        action="append",
        type=source_option,
        default=[],
        metavar="[SOURCE:]KEY=VALUE",
        help=f"keyword argument of a calibration source, typed like papermill -p (repeatable), e.g. {example}",
    )
