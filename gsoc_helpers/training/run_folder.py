"""Rules for a training run's folder, shared by every trainer.

* A new run refuses a folder that already holds something (``mode="new"``); the user says ``resume`` to continue
  it or ``overwrite`` to start again (which deletes only the run's own files, and only in a folder marked as an
  earlier run of the same command: :func:`gsoc_helpers.safety.refuse_foreign`).
* One run per folder: :func:`run_folder` holds the folder's lock for the whole run; a second run is refused.
* A resumed run must have been started with the same settings: :func:`config_differences` names every key whose
  stored value differs from the requested one, except keys that may change between sessions (budgets, logging).
* ``metrics.jsonl`` keeps one line per logged step: :func:`trim_log` drops lines past the step a run restarts from.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import torch

from ..fileio import atomic_write_text, is_temp_name
from ..safety import is_mark_name, mark_output, output_lock, output_owner, refuse_foreign, refuse_overlap

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
    (:func:`prepare_run_folder`) and marked as ``command``'s for the block."""
    inputs = list(inputs)
    check_run_folder(out, mode, command, inputs)
    with output_lock(out, command, flag="run folder") if lock else contextlib.nullcontext():
        yield prepare_run_folder(out, mode, own_files, command, inputs, mark=lock)


def check_run_folder(
    out: str | Path, mode: RunMode, command: str, inputs: Iterable[tuple[str, str | Path | None]] = ()
) -> None:
    """Raise unless ``out`` may be used in ``mode`` (reads only): FileExistsError (one line, naming what is there
    and the two flags) for a non-empty folder in ``new`` mode, NotADirectoryError when ``out`` is a file, ValueError
    when ``out`` is, holds or lies inside one of the ``(what, path)`` ``inputs``, or when ``overwrite`` / ``resume``
    meet a folder that is not marked as an earlier ``command`` run (``resume`` accepts an unmarked one: its
    checkpoint is checked when loaded)."""
    if mode not in MODES:
        raise ValueError(f"run mode {mode!r}: expected one of {MODES}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"run folder {str(out)!r} is a file, expected a folder")
    refuse_overlap(out, inputs, flag="run folder")
    present = sorted(p.name for p in out.iterdir() if not is_mark_name(p.name)) if out.is_dir() else []
    if present and mode == "new":
        shown = ", ".join(present[:4]) + (", ..." if len(present) > 4 else "")
        raise FileExistsError(
            f"run folder {str(out)!r} is not empty ({shown}); use --resume to continue that run "
            "or --overwrite to start it again (resume=True / overwrite=True in Python)"
        )
    if mode == "overwrite" or output_owner(out) is not None:
        refuse_foreign(out, command, flag="run folder")


def prepare_run_folder(
    out: str | Path,
    mode: RunMode,
    own_files: Iterable[str],
    command: str,
    inputs: Iterable[tuple[str, str | Path | None]] = (),
    mark: bool = True,
) -> Path:
    """:func:`check_run_folder`, then create ``out`` (``overwrite``: delete the run's ``own_files`` first) and
    (``mark``) mark it as ``command``'s (a non-empty folder resumed without a mark stays unmarked: it may hold a user's files)."""
    check_run_folder(out, mode, command, inputs)
    out = Path(out)
    if mode == "overwrite":
        temporaries = [p.name for p in out.iterdir() if is_temp_name(p.name)] if out.is_dir() else []
        for name in [*own_files, *temporaries]:  # temporaries: of a writer killed mid-write
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    unmarked_resume = mode == "resume" and output_owner(out) is None and any(out.iterdir()) if out.is_dir() else False
    out.mkdir(parents=True, exist_ok=True)
    if mark and not unmarked_resume:  # an unmarked folder being resumed is marked only by a run that began in it
        mark_output(out, command)
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
        raise ValueError(
            f"checkpoint {str(path)!r} is not readable ({type(err).__name__}: {first}); delete it or "
            "use --overwrite to start again"
        ) from None
    if not isinstance(state, dict) or "step" not in state:
        raise ValueError(f"checkpoint {str(path)!r} is not a training checkpoint of this project")
    return state
