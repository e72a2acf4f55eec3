"""``gsoc-helpers`` command line: one sub-command per concern.

Each module listed in :data:`COMMAND_MODULES` defines ``register(subparsers)`` that adds
its sub-commands; a sub-command's handler is stored as ``func`` on its parser.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES: tuple[str, ...] = (
    "gsoc_helpers.cli.data_cmds",
    "gsoc_helpers.cli.quant_cmds",
    "gsoc_helpers.cli.teacher_train_cmds",
    "gsoc_helpers.cli.series_cmds",
    "gsoc_helpers.cli.sample_cmds",
    "gsoc_helpers.cli.app_cmds",
    "gsoc_helpers.cli.student_cmds",
    "gsoc_helpers.cli.import_cmds",
    "gsoc_helpers.cli.reproduce_cmds",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gsoc-helpers", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None, help="folder of local offline copies (overrides $GSOC_DATA_ROOT)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.data_root:
        import os

        from ..config import DATA_ROOT_ENV

        os.environ[DATA_ROOT_ENV] = args.data_root
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, KeyError) as err:  # user errors: message, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
