"""Data sub-commands: ``gsoc-helpers data-info``."""

from __future__ import annotations

import argparse


def _data_info(args: argparse.Namespace) -> int:
    from ..data import load_cifar10

    ds = load_cifar10(args.split, source=args.source)
    print(ds.describe())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data-info", help="load a CIFAR-10 split and print a summary")
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--source", default="auto", help="auto | exact | jpeg | batches | download | <folder path>")
    p.set_defaults(func=_data_info)
