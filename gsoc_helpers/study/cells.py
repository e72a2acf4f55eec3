"""The study's one cell store: ``<folder>/cells.jsonl``, one JSON line per finished cell, keyed by ``"key"``.

Open it (a line an interrupt cut is dropped and the file rewritten, so the next cell starts on a line of its own),
ask whether a key is done, append a finished cell, load cells (all, or those of some keys). A rerun skips the
cells already there, so an interrupted study resumes; ``shard=(i, n)`` deals the work items ``i, i+n, ...`` to
worker i, and the workers' ``cells.jsonl`` files concatenated are the whole study. Per-image outcomes (for the
paired bootstrap of :mod:`.stats`) are stored as base64 bit strings (:func:`encode_outcomes`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

PROTOCOL = "p2"  # in every key: cells of an earlier protocol (p1: validation on held-out train images) never reused


def load_cells(path: str | Path) -> list[dict]:
    """The finished cells of a cells file (or of ``<folder>/cells.jsonl``); a line an interrupt cut is skipped."""
    path = Path(path)
    if path.is_dir():
        path = path / "cells.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # cut by an interrupt: the cell reruns
                continue
    return out


class CellStore:
    """``<folder>/cells.jsonl`` (folder made; a cut last line repaired)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "cells.jsonl"
        cells = load_cells(self.path)
        text = self.path.read_text() if self.path.is_file() else ""
        if text and (not text.endswith("\n") or text.count("\n") != len(cells)):
            self.path.write_text("".join(json.dumps(c) + "\n" for c in cells))
        self.keys = {c["key"] for c in cells}

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def append(self, cell: dict) -> None:
        """Write one finished cell (a dict with a ``"key"``) as one JSON line."""
        if "key" not in cell:
            raise ValueError("a cell needs a 'key'")
        with open(self.path, "a") as fh:
            fh.write(json.dumps(cell) + "\n")
        self.keys.add(cell["key"])

    def load(self, keys: set[str] | None = None) -> list[dict]:
        """The stored cells (only those of ``keys`` when given: the store may hold other studies' cells)."""
        return [c for c in load_cells(self.path) if keys is None or c["key"] in keys]


def shard_of(items: list, shard: tuple[int, int]) -> list:
    """Items ``i, i+n, ...`` of ``items`` for ``shard = (i, n)``: disjoint over i, together all of ``items``."""
    i, n = shard
    if not 0 <= i < n:
        raise ValueError(f"shard {i}/{n}: expected 0 <= i < n")
    return items[i::n]


def options_key(source_options: dict | None) -> str:
    """The part of a key naming a source's options ("" without any; objects such as a classifier left out)."""
    opts = {k: str(v) for k, v in (source_options or {}).items() if k not in ("classifier", "progress")}
    return "|" + json.dumps(opts, sort_keys=True) if opts else ""


def encode_outcomes(outcomes: np.ndarray) -> str:
    """bool [N] -> base64 of the packed bits (N/8 bytes)."""
    return base64.b64encode(np.packbits(np.asarray(outcomes, dtype=bool)).tobytes()).decode("ascii")


def decode_outcomes(text: str, n: int) -> np.ndarray:
    """The inverse of :func:`encode_outcomes`: bool [n]."""
    bits = np.unpackbits(np.frombuffer(base64.b64decode(text), dtype=np.uint8))
    if len(bits) < n:
        raise ValueError(f"stored outcomes hold {len(bits)} images, {n} expected")
    return bits[:n].astype(bool)
