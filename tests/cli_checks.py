"""The one check of a refused command, shared by every test of bad input: exit code 2, one ``error:`` line on
stderr holding a given fragment, no traceback, and nothing written (the paths named stay as they were)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from gsoc_helpers.cli import main

# `quantize` at its smallest: 8 calibration and 8 held-out images, one speed batch of a few milliseconds
QUANTIZE_FAST = [
    "--calibration-size",
    "8",
    "--held-out-size",
    "8",
    "--speed-batches",
    "1",
    "--speed-seconds",
    "0.02",
    "--threads",
    "1",
]


def tiny_train_teacher(out, data_source, *extra: str, steps: int = 2) -> list[str]:
    """``train-teacher`` argv at its smallest (ngf/ndf 8, batch 2, no grids, no progress bar) on ``data_source``."""
    return [
        "train-teacher",
        "--out-dir",
        str(out),
        "--steps",
        str(steps),
        "--batch-size",
        "2",
        "--ngf",
        "8",
        "--ndf",
        "8",
        "--grid-every",
        "0",
        "--data-source",
        str(data_source),
        "--no-progress",
        *extra,
    ]


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """``main(argv)`` -> (exit code, stderr). argparse's own refusals exit through SystemExit; its code counts."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


def tree_digest(root: str | os.PathLike) -> dict[str, str] | None:
    """relative path -> sha256 of every file (``"dir"`` for every folder) at and under ``root``; None if missing."""
    root = Path(root)
    if not root.exists():
        return None
    if root.is_file():
        return {".": hashlib.sha256(root.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def assert_one_line_error(code: int, err: str, fragment: str, progress: bool = False) -> str:
    """Exit 2, no traceback, exactly one ``error:`` line, holding ``fragment``; returns that line. stderr holds
    nothing else, except (``progress=True``) the progress bars of work that had started."""
    lines = [part for part in err.replace("\r", "\n").split("\n") if part.strip()]
    errors = [part for part in lines if "error: " in part]
    assert code == 2 and "Traceback" not in err and len(errors) == 1, err
    assert progress or len(lines) == 1, err
    assert fragment in errors[0].split("error: ", 1)[1], errors[0]
    return errors[0]


def assert_refused(
    argv: list[str], capsys, fragment: str, untouched: Iterable[str | os.PathLike] = (), progress: bool = False
) -> str:
    """Run the command line ``argv`` and check it is refused as :func:`assert_one_line_error` says, and that every
    path in ``untouched`` is as it was (a missing one still missing, a file or folder tree byte for byte); returns
    the error line."""
    paths = list(untouched)
    before = [tree_digest(p) for p in paths]
    line = assert_one_line_error(*run_cli(argv, capsys), fragment, progress=progress)
    for path, digest in zip(paths, before, strict=True):
        assert tree_digest(path) == digest, f"{path} changed: {argv}"
    return line
