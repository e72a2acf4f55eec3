"""Notebook series sub-commands: ``demo`` (run every notebook, quick profile) and ``notebooks --strip``."""
from __future__ import annotations

import argparse
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from ..config import get_output_dir
    from ..notebooks import SeriesConfig, run_series

    params = {"PROFILE": args.profile}
    if args.smoke:
        params["SMOKE"] = True
    out = Path(args.output) if args.output else get_output_dir() / "demo"
    runs = run_series(SeriesConfig(output_dir=out, parameters=params, only=tuple(args.only or ())))
    print(f"summary: {out / 'SUMMARY.md'}")
    return 0 if all(r.ok for r in runs) else 1


def _notebooks(args: argparse.Namespace) -> int:
    from ..notebooks import list_notebooks, strip_outputs

    for nb in list_notebooks():
        if args.strip and strip_outputs(nb):
            print(f"stripped {nb.name}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the notebook series headless and write SUMMARY.md")
    p.add_argument("--profile", default="quick", choices=["quick", "full"])
    p.add_argument("--smoke", action="store_true", help="tiny parameters (seconds per notebook)")
    p.add_argument("--output", default=None, help="output folder (default <output dir>/demo)")
    p.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 01 03")
    p.set_defaults(func=_demo)
    p = sub.add_parser("notebooks", help="maintenance of the stored notebooks")
    p.add_argument("--strip", action="store_true", help="remove outputs from the stored notebooks")
    p.set_defaults(func=_notebooks)
