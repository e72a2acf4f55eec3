"""Sub-command ``gsoc-helpers app``: the generation panel served by Voilà."""
from __future__ import annotations

import argparse

from .args import port


def _app(args: argparse.Namespace) -> int:
    from ..app import serve

    return serve(args.host, args.port)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="serve the class-conditional generation panel with Voilà on 127.0.0.1")
    p.add_argument("--port", type=port, default=8866, help="TCP port (default 8866, Voilà's)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1, local only)")
    p.set_defaults(func=_app)
