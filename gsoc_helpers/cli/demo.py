"""Sub-command ``gsoc-helpers demo``: run every notebook headless with papermill."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .args import add_out, device, typed_value

# What a series run writes into --out (gsoc_helpers.series.notebooks.run_series and the notebooks' series_paths: one
# folder per profile, "-<scale>" when the scale is not the profile's own): the names its mark lists.
_PROFILES, _SCALES = ("quick", "full"), ("smoke", "quick", "full")
OUTPUT_NAMES = (
    "executed",
    "SUMMARY.md",
    *(p if p == s else f"{p}-{s}" for p in _PROFILES for s in _SCALES),
)


def check_parameter(name: str, text: str, value: object, default: object) -> None:
    """ValueError (one line) unless ``value`` (``text`` as papermill reads it) suits the notebook parameter
    ``name`` whose default is ``default``: the same kind as the default (an int where it is an int; a number
    where it is a float), finite, and for SEED / TRUNCATION_PSI / DEVICE within their range or vocabulary."""
    import argparse

    from ..defaults import MAX_SEED, TRUNCATION_PSI_RANGE

    where = f"-p {name} {text}"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: must be a finite number")
    if isinstance(default, bool) or default is None:
        return
    if isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{where}: must be an integer (default {default!r})")
    if isinstance(default, float) and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"{where}: must be a number (default {default!r})")
    if isinstance(default, str) and not isinstance(value, str):
        raise ValueError(f"{where}: must be text (default {default!r})")
    if name == "SEED" and not 0 <= int(value) <= MAX_SEED:  # type: ignore[call-overload]
        raise ValueError(f"{where}: a seed is within 0..{MAX_SEED}")
    if name == "TRUNCATION_PSI" and not TRUNCATION_PSI_RANGE[0] <= float(value) <= TRUNCATION_PSI_RANGE[1]:  # type: ignore[arg-type]
        raise ValueError(
            f"{where}: truncation psi is within [{TRUNCATION_PSI_RANGE[0]:g}, {TRUNCATION_PSI_RANGE[1]:g}]"
        )
    if name == "DEVICE":
        from ..config import resolve_device

        try:
            device(str(value))
            resolve_device(str(value))  # one that is not here (cuda:99) fails now, not inside a notebook
        except (argparse.ArgumentTypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None


def demo_parameters(profile: str | None, scale: str | None, pairs: list[list[str]], notebook_dir=None) -> dict:
    """Notebook parameters from ``--profile``/``--scale`` and papermill-style ``-p NAME VALUE`` pairs.

    NAME is a name of the notebooks' ``parameters`` cells (``SEED``, ``TRUNCATION_PSI``, ...) or a run-size field
    of :mod:`gsoc_helpers.series.profiles` (``quant_models``, ``fid_n``, ...; gathered into ``SIZES``).  Every value is
    checked here, so a bad one fails before any notebook starts (ValueError naming it)."""
    from ..config import get_profile
    from ..series.notebooks import NOTEBOOK_DIR, parameter_defaults
    from ..series.profiles import OVERRIDABLE, get_scale, parse_override, run_sizes

    profile = get_profile(profile)
    params: dict = {"PROFILE": profile, "SCALE": get_scale(scale, profile), "SIZES": {}}
    defaults = parameter_defaults(notebook_dir or NOTEBOOK_DIR)
    names = set(defaults) - {"PROFILE", "SCALE", "SIZES"}
    for name, value in pairs:
        if name in OVERRIDABLE or name.lower() in OVERRIDABLE:
            key = name.lower()
            parse_override(key, value)
            params["SIZES"][key] = value
        elif name in names:
            params[name] = typed_value(value)
            check_parameter(name, value, params[name], defaults[name])
        else:
            raise ValueError(
                f"unknown parameter {name!r} for -p; expected a notebook parameter "
                f"({', '.join(sorted(names))}) or a run size ({', '.join(OVERRIDABLE)})"
            )
    sizes = run_sizes(params["PROFILE"], params["SCALE"], **params["SIZES"])  # the whole combination is valid
    check_names(sizes, params["SIZES"])
    return params


def check_names(sizes, given: dict) -> None:
    """ValueError (one line) when a model or calibration source of the run sizes ``sizes`` is not registered,
    naming the ``-p`` parameter (from ``given``) it came from: a notebook would fail on it minutes later."""
    from ..calibration import available_sources
    from ..models.classifiers import CLASSIFIERS

    lists = {"quant_models": sorted(CLASSIFIERS)}
    lists.update({name: sorted(available_sources()) for name in ("quant_sources", "any_model_sources")})
    for name, known in lists.items():
        unknown = [v for v in getattr(sizes, name) if v not in known]
        if unknown:
            where = f"-p {name} {given[name]}" if name in given else f"the profile's {name}"
            raise ValueError(f"{where}: unknown {', '.join(map(repr, unknown))}; expected some of {', '.join(known)}")


def _demo(args: argparse.Namespace) -> int:
    from ..config import default_output
    from ..series.notebooks import NOTEBOOK_DIR, SeriesConfig, run_series

    folder = Path(args.notebook_dir) if args.notebook_dir else NOTEBOOK_DIR
    params = demo_parameters(args.profile, "smoke" if args.smoke else args.scale, args.param or [], folder)
    out = Path(args.out) if args.out else default_output("demo")
    runs = run_series(SeriesConfig(notebook_dir=folder, output_dir=out, parameters=params, only=tuple(args.only or ())))
    print(f"summary: {out / 'SUMMARY.md'}")
    return 0 if all(r.ok for r in runs) else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the notebook series headless (papermill) and write SUMMARY.md")
    p.add_argument(
        "--profile",
        default=None,
        choices=["quick", "full"],
        help="where inputs come from (default $GSOC_PROFILE, else quick)",
    )
    p.add_argument(
        "--scale", default=None, choices=["smoke", "quick", "full"], help="how much work (default: the profile's own)"
    )
    p.add_argument("--smoke", action="store_true", help="same as --scale smoke (seconds per notebook)")
    p.add_argument(
        "-p",
        "--parameter",
        dest="param",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="papermill-style override, e.g. -p quant_models chenyaofo_resnet20,chenyaofo_resnet56 "
        "or -p SEED 1 (repeatable)",
    )
    add_out(p, "output folder (default <output dir>/demo)")
    p.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 01 03")
    p.add_argument(
        "--notebook-dir",
        default=None,
        help="folder of the numbered notebooks (default: the checkout's notebooks/; needed when the "
        "package is installed from a wheel or git, which carries no notebooks)",
    )
    p.set_defaults(func=_demo)
