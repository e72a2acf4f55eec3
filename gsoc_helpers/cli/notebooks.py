"""Sub-command ``gsoc-helpers notebooks --strip | --render DIR``: maintenance of the stored notebooks."""

from __future__ import annotations

import argparse
from pathlib import Path


def _notebooks(args: argparse.Namespace) -> int:
    from ..series.notebooks import list_notebooks, strip_outputs

    for nb in list_notebooks():
        if args.strip and strip_outputs(nb):
            print(f"stripped {nb.name}")
    if args.render:
        from ..series.rendered import DOCS_DIR, render_series

        for path in render_series(Path(args.render), Path(args.docs_dir) if args.docs_dir else DOCS_DIR):
            print(f"rendered {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("notebooks", help="maintenance of the stored notebooks")
    p.add_argument("--strip", action="store_true", help="remove outputs from the stored notebooks")
    p.add_argument(
        "--render",
        metavar="EXECUTED_DIR",
        default=None,
        help="write readable executed copies (docs/notebooks/) from a demo's executed notebooks "
        "(`make docs` runs the quick-profile demo and this)",
    )
    p.add_argument("--docs-dir", default=None, help="where --render writes (default: the checkout's docs/notebooks)")
    p.set_defaults(func=_notebooks)
