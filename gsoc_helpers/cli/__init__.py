"""``gsoc-helpers`` command line: one sub-command per concern.

Each module listed in :data:`COMMAND_MODULES` is named after its sub-command and defines ``register(subparsers)`` that adds
its sub-commands; a sub-command's handler is stored as ``func`` on its parser.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES: tuple[str, ...] = (
    "gsoc_helpers.cli.data_info",
    "gsoc_helpers.cli.quantize_study",
    "gsoc_helpers.cli.study_report",
    "gsoc_helpers.cli.quantize",
    "gsoc_helpers.cli.train_teacher",
    "gsoc_helpers.cli.demo",
    "gsoc_helpers.cli.notebooks",
    "gsoc_helpers.cli.sample",
    "gsoc_helpers.cli.app",
    "gsoc_helpers.cli.fid",
    "gsoc_helpers.cli.distill",
    "gsoc_helpers.cli.export",
    "gsoc_helpers.cli.import_fakecifar10",
    "gsoc_helpers.cli.reproduce_2022",
)

# What an interrupted command leaves behind (said on Ctrl-C); commands not listed: plain "interrupted".
_RESUME = "rerun the same command to resume"
ON_INTERRUPT: dict[str, str] = {
    "quantize": "nothing was written to --out (its temporary folder was removed)",
    "train-teacher": "checkpoints already saved in --out are kept (rerun with --resume to continue)",
    "distill": "checkpoints already saved in --out are kept (rerun with --resume to continue)",
    "sample": f"finished shards are kept ({_RESUME})",
    "import-fakecifar10": f"finished shards are kept ({_RESUME})",
    "quantize-study": f"finished cells are kept ({_RESUME})",
    "reproduce-2022": f"finished cells are kept ({_RESUME})",
}


# Commands that write into --out and are rerun to resume or refresh: each module's OUTPUT_NAMES lists what it
# writes there. Their --out must be new, empty or their own marked folder (quantize, distill and train-teacher
# check theirs themselves; see gsoc_helpers.safety).
CLAIMED_OUTPUT = ("sample", "import-fakecifar10", "quantize-study", "reproduce-2022", "export", "demo")


def claim(args: argparse.Namespace):
    """The context of :func:`gsoc_helpers.safety.claimed_output` for ``args.command`` (one of
    :data:`CLAIMED_OUTPUT`): its module's ``OUTPUT_NAMES`` and, if it defines ``output_inputs(args)``, the inputs
    --out must stay apart from."""
    from ..safety import claimed_output

    module = importlib.import_module(f"{__name__}.{args.command.replace('-', '_')}")
    inputs = module.output_inputs(args) if hasattr(module, "output_inputs") else []
    return claimed_output(args.out, args.command, module.OUTPUT_NAMES, inputs)


def build_parser() -> argparse.ArgumentParser:
    from .args import OneLineParser

    parser = OneLineParser(prog="gsoc-helpers", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None, help="folder of local offline copies (overrides $GSOC_DATA_ROOT)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _message(err: BaseException) -> str:
    """One line for the user; torch's advice to load a file unsafely (``weights_only=False``) is never passed on."""
    import re

    text = " ".join(str(err.args[0] if isinstance(err, KeyError) and err.args else err).split())
    if re.search(r"weights_only.{0,40}False", text):
        kept = [s for s in re.split(r"(?<=[.;:])\s+", text) if not re.search(r"weights_only|trusted source", s)]
        text = " ".join(kept) + " (this project never loads a file that would run code)"
    return text or type(err).__name__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.data_root:
        import os

        from ..config import DATA_ROOT_ENV, DATA_ROOT_ORIGIN_ENV, get_data_root

        os.environ[DATA_ROOT_ENV] = args.data_root
        os.environ[DATA_ROOT_ORIGIN_ENV] = "--data-root"
        try:
            get_data_root()
        except FileNotFoundError as err:
            print(f"error: {_message(err)}", file=sys.stderr)
            return 2
    try:
        out = getattr(args, "out", None) if args.command in CLAIMED_OUTPUT else None
        if out is None:
            return int(args.func(args) or 0)
        with claim(args):
            return int(args.func(args) or 0)
    except (OSError, ValueError, KeyError) as err:  # user errors, files, network: one line, no traceback
        print(f"error: {_message(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        kept = ON_INTERRUPT.get(args.command)
        print("interrupted" + (f"; {kept}" if kept else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
