"""Import sub-command: ``gsoc-helpers import-fakecifar10 SRC --out DIR [--per-class N]`` (the 2022 synthetic set)."""

from __future__ import annotations

import argparse

from .args import add_out
from .sample import OUTPUT_NAMES as OUTPUT_NAMES  # the same synthetic dataset layout


def output_inputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The inputs --out must stay apart from."""
    return [("FakeCIFAR10 folder", args.src)]


def _import_fakecifar10(args: argparse.Namespace) -> int:
    from ..data.fakecifar10 import import_fakecifar10

    if args.per_class is not None and args.per_class < 1:
        raise ValueError(f"--per-class must be >= 1, got {args.per_class}")
    if args.shard_size < 1:
        raise ValueError(f"--shard-size must be >= 1, got {args.shard_size}")
    rep = import_fakecifar10(args.src, args.out, per_class=args.per_class, shard_size=args.shard_size)
    dropped = sum(rep.skipped_per_class.values())
    print(
        f"imported {rep.num_classes} classes x {rep.per_class} images (z_dim {rep.z_dim}) into {rep.root}; "
        f"{rep.written} written now"
        + (f", {dropped} surplus images left out to keep classes balanced" if dropped else "")
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-fakecifar10",
        help="import the 2022 FakeCIFAR10 folder (class_<k>/image_<i>.png + "
        "noise_<i>.pt) as a synthetic dataset (resumable)",
    )
    p.add_argument("src", help="FakeCIFAR10 folder holding class_0 .. class_9")
    add_out(p, "synthetic dataset folder to write", required=True)
    p.add_argument("--per-class", type=int, default=None, help="images per class (default: the smallest class)")
    p.add_argument("--shard-size", type=int, default=1000)
    p.set_defaults(func=_import_fakecifar10)
