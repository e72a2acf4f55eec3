"""Sub-command ``gsoc-helpers app``: the generation panel served by Voilà."""

from __future__ import annotations

import argparse

from .args import port, positive_float, positive_int


def _app(args: argparse.Namespace) -> int:
    from ..app.server import serve

    return serve(args.host, args.port, args.max_sessions, args.idle_minutes)


def register(sub: argparse._SubParsersAction) -> None:
    from ..app.server import IDLE_MINUTES, MAX_SESSIONS

    p = sub.add_parser("app", help="serve the class-conditional generation panel with Voilà on 127.0.0.1")
    p.add_argument("--port", type=port, default=8866, help="TCP port (default 8866, Voilà's)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="bind address (default 127.0.0.1, local only; another address also accepts requests naming any host)",
    )
    p.add_argument(
        "--max-sessions",
        type=positive_int,
        default=MAX_SESSIONS,
        help=f"most open pages at a time, each a kernel of about 800 MB (default {MAX_SESSIONS})",
    )
    p.add_argument(
        "--idle-minutes",
        type=positive_float,
        default=IDLE_MINUTES,
        help=f"stop a kernel after this long without messages, even with its page still open (a silent page "
        f"holds no session for longer; default {IDLE_MINUTES:g})",
    )
    p.set_defaults(func=_app)
