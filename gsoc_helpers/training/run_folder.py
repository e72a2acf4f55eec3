"""Rules for a training run's folder, shared by every trainer.

* A new run refuses a folder that already holds something (``mode="new"``); the user says ``resume`` to continue
  it or ``overwrite`` to start again. Both only in a folder whose mark (:mod:`gsoc_helpers.safety`) says an earlier
  run of the same command wrote it there: an unmarked folder, another command's, one with a copied or hard-linked
  mark, or one holding a symbolic link is refused before anything is read, trimmed or deleted; ``overwrite``
  deletes only the names the mark lists.
* One run per real folder: :func:`run_folder` holds the folder's lock (keyed on its resolved path) for the whole
  run; a second run is refused, whichever path it was given.
* A resumed run must have been started with the same settings: :func:`config_differences` names every key whose
  stored value differs from the requested one, except keys that may change between sessions (budgets, logging).
* ``metrics.jsonl`` keeps one line per logged step: :func:`trim_log` drops lines past the step a run restarts from.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import torch

from ..fileio import atomic_write_text
from ..safety import (
    OUTPUT_MARK,
    adopt_old_mark,
    holds_only_mark,
    is_mark_name,
    mark_output,
    output_lock,
    refuse_foreign,
    refuse_links,
    refuse_overlap,
    refused_pickle_reason,
    remove_own,
    unmark_unused,
)

RunMode = Literal["new", "resume", "overwrite"]
MODES = ("new", "resume", "overwrite")


@contextlib.contextmanager
def run_folder(
    out: str | Path,
    mode: RunMode,
    own_files: Iterable[str],
    command: str,
    inputs: Iterable[tuple[str, str | Path | None]] = (),
    lock: bool = True,
) -> Iterator[Path]:
    """``with run_folder(...) as out:`` the run in ``out``: checked (:func:`check_run_folder`, before anything is
    written), then locked (``lock``: a second run into it is refused; DDP ranks other than 0 pass False), prepared
    (:func:`prepare_run_folder`) and marked as ``command``'s, listing ``own_files``, for the block. When the block
    fails having written nothing into a folder it found missing or empty, the folder is left as it was found."""
    inputs, own_files = list(inputs), tuple(own_files)
    if mode != "new":  # a run of an earlier version: its folder's mark listed no files
        adopt_old_mark(out, command, own_files)
    check_run_folder(out, mode, command, inputs)
    with output_lock(out, command, flag="run folder") if lock else contextlib.nullcontext():
        made, fresh = not Path(out).exists(), holds_only_mark(out) and not (Path(out) / OUTPUT_MARK).exists()
        folder = prepare_run_folder(out, mode, own_files, command, inputs, mark=lock)
        try:
            yield folder
        except BaseException:  # failed before writing anything: leave the folder as it was found
            if lock and fresh:
                unmark_unused(folder, made)
            raise


def check_run_folder(
    out: str | Path, mode: RunMode, command: str, inputs: Iterable[tuple[str, str | Path | None]] = ()
) -> None:
    """Raise unless ``out`` may be used in ``mode`` (reads only): FileExistsError (one line, naming what is there
    and the two flags) for a non-empty folder in ``new`` mode, NotADirectoryError when ``out`` is a file, ValueError
    when ``out`` is, holds or lies inside one of the ``(what, path)`` ``inputs``, is or holds a symbolic link, or
    when ``overwrite`` / ``resume`` meet a non-empty folder without a valid mark of ``command``."""
    if mode not in MODES:
        raise ValueError(f"run mode {mode!r}: expected one of {MODES}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"run folder {str(out)!r} is a file, expected a folder")
    refuse_links(out, flag="run folder")
    refuse_overlap(out, inputs, flag="run folder")
    present = sorted(p.name for p in out.iterdir() if not is_mark_name(p.name)) if out.is_dir() else []
    if present and mode == "new":
        shown = ", ".join(present[:4]) + (", ..." if len(present) > 4 else "")
        raise FileExistsError(
            f"run folder {str(out)!r} is not empty ({shown}); use --resume to continue that run "
            "or --overwrite to start it again (resume=True / overwrite=True in Python)"
        )
    refuse_foreign(out, command, flag="run folder")


def prepare_run_folder(
    out: str | Path,
    mode: RunMode,
    own_files: Iterable[str],
    command: str,
    inputs: Iterable[tuple[str, str | Path | None]] = (),
    mark: bool = True,
) -> Path:
    """:func:`check_run_folder`, then create ``out`` (``overwrite``: delete first the ``own_files`` its mark lists)
    and (``mark``) mark it as ``command``'s, listing ``own_files``."""
    own_files = tuple(own_files)
    check_run_folder(out, mode, command, inputs)
    out = Path(out)
    if mode == "overwrite":
        remove_own(out, command, own_files)
    fresh = holds_only_mark(out)
    out.mkdir(parents=True, exist_ok=True)
    if mark and (fresh or mode == "overwrite"):  # a resumed run's mark already lists its files
        mark_output(out, command, own_files)
    return out


def config_differences(stored: dict[str, Any], requested: dict[str, Any], may_change: Iterable[str]) -> list[str]:
    """``key: stored -> requested`` for every key (outside ``may_change``) whose values differ, sorted."""
    free = set(may_change)
    out = []
    for key in sorted(set(stored) | set(requested)):
        if key in free:
            continue
        a, b = stored.get(key, "<absent>"), requested.get(key, "<absent>")
        if json.dumps(a, sort_keys=True, default=str) != json.dumps(b, sort_keys=True, default=str):
            out.append(f"{key}: {a!r} -> {b!r}")
    return out


def refuse_changed_config(
    path: str | Path, stored: dict[str, Any], requested: dict[str, Any], may_change: Iterable[str]
) -> None:
    """ValueError naming the keys that differ between the checkpoint's settings and the requested ones."""
    diff = config_differences(stored, requested, may_change)
    if diff:
        raise ValueError(
            f"cannot resume {str(path)!r} with other settings ({'; '.join(diff)}); use the stored "
            "settings, another folder, or --overwrite to start again"
        )


def trim_log(path: str | Path, last_step: int) -> None:
    """Keep the lines of the JSON-lines log ``path`` with ``step <= last_step`` (and drop a torn last line)."""
    path = Path(path)
    if not path.is_file():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and int(record.get("step", 0)) <= last_step:
            keep.append(line)
    atomic_write_text(path, "".join(ln + "\n" for ln in keep))


def load_checkpoint_file(path: str | Path, map_location: Any = "cpu") -> dict:
    """``torch.load(weights_only=True)`` of a training checkpoint; ValueError (one line) if it is not one."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise ValueError(f"checkpoint {str(path)!r} is empty; delete it or use --overwrite to start again")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many kinds for a corrupt file: all mean the same to the user
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        first = refused_pickle_reason(err) or first
        raise ValueError(
            f"checkpoint {str(path)!r} is not readable ({type(err).__name__}: {first}); delete it or "
            "use --overwrite to start again"
        ) from None
    if not isinstance(state, dict) or "step" not in state:
        raise ValueError(f"checkpoint {str(path)!r} is not a training checkpoint of this project")
    return state
