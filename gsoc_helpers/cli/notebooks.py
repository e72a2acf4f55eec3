"""Sub-command ``gsoc-helpers notebooks --strip``: maintenance of the stored notebooks."""
from __future__ import annotations

import argparse


def _notebooks(args: argparse.Namespace) -> int:
    from ..notebooks import list_notebooks, strip_outputs

    for nb in list_notebooks():
        if args.strip and strip_outputs(nb):
            print(f"stripped {nb.name}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("notebooks", help="maintenance of the stored notebooks")
    p.add_argument("--strip", action="store_true", help="remove outputs from the stored notebooks")
    p.set_defaults(func=_notebooks)
