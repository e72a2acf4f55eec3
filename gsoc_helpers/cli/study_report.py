"""``gsoc-helpers study-report``: the study's answer generated from the results files (gsoc_helpers.study.report)."""

from __future__ import annotations

import argparse


def _study_report(args: argparse.Namespace) -> int:
    from ..study.report import check, write

    if args.check:
        stale = check(args.root)
        for path in stale:
            print(f"{path}: generated blocks differ from the results files (run gsoc-helpers study-report)")
        return 1 if stale else 0
    for path in write(args.root):
        print(f"updated {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "study-report",
        help="write the README's short answer, RESULTS.md's protocol, answer and tables and notebooks 05/06's "
        "conclusion numbers from benchmarks/*_results",
    )
    p.add_argument("--root", default=".", help="the repository's root (default: the current folder)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when a generated block is stale")
    p.set_defaults(func=_study_report)
