"""Guards for commands that write or replace a folder: never delete or mix up a user's input.

* :func:`refuse_overlap` - an output folder that is, contains or lies inside one of the command's inputs is refused
  (one line naming both), before anything is read or written.
* :func:`clean_stale_temporaries` - hidden ``.NAME.partial-PID`` / ``.NAME.old-PID`` folders left beside an output by
  a process that no longer runs (``kill -9``, power loss) are removed on the next run.
* :func:`mark_output` / :func:`marked_if_new` / :func:`refuse_foreign` - every output folder carries a mark (``.gsoc-helpers.json``, naming
  the command that wrote it); ``--overwrite`` replaces only a folder marked by the same command, whatever else the
  folder is (a data root, a cache, a user's package): a deny-list of inputs always misses one.
* :func:`output_lock` - one writer per output folder: a second run into it is refused at once, in one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from .file_lock import try_exclusive_lock
from .fileio import atomic_write_text, is_temp_name

STALE_KINDS = ("partial", "old")
OUTPUT_MARK = ".gsoc-helpers.json"  # {"command": "quantize", ...} in every folder a command wrote


def _resolved(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().resolve()


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def refuse_overlap(
    out: str | os.PathLike, inputs: Iterable[tuple[str, str | os.PathLike | None]], flag: str = "--out"
) -> None:
    """ValueError unless the folder ``out`` and every ``(what, path)`` in ``inputs`` are apart: ``out`` must not be an
    input, hold one, or lie inside an input folder. ``None`` paths and names that are not on disk are skipped
    (registered model names, calibration source names)."""
    o = _resolved(out)
    for what, path in inputs:
        if path is None or not Path(path).expanduser().exists():
            continue
        p = _resolved(path)
        if _within(p, o):
            how = "is" if p == o else "holds"
            raise ValueError(
                f"{flag} {str(out)!r} {how} the {what} {str(path)!r}; choose an output folder apart from the inputs"
            )
        if p.is_dir() and _within(o, p):
            raise ValueError(
                f"{flag} {str(out)!r} lies inside the {what} {str(path)!r}; choose an output folder "
                "apart from the inputs"
            )


def refuse_replacing_cwd(out: str | os.PathLike, flag: str = "--out") -> None:
    """ValueError when replacing ``out`` would delete the current folder or one above it (``--out .``)."""
    o, cwd = _resolved(out), Path.cwd().resolve()
    if _within(cwd, o):
        raise ValueError(
            f"{flag} {str(out)!r} is the current folder or holds it; --overwrite would delete it, "
            "choose a folder below it"
        )


def _pid_alive(pid: int) -> bool:
    """True while a process ``pid`` runs (this one included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def clean_stale_temporaries(out: str | os.PathLike) -> list[Path]:
    """Remove ``.NAME.partial-PID`` and ``.NAME.old-PID`` beside ``out`` whose process is gone; returns them."""
    o = Path(out).expanduser().absolute()
    pattern = re.compile(rf"^\.{re.escape(o.name)}\.({'|'.join(STALE_KINDS)})-(\d+)$")
    removed: list[Path] = []
    if not o.parent.is_dir():
        return removed
    for entry in o.parent.iterdir():
        m = pattern.match(entry.name)
        if m and entry.is_dir() and not entry.is_symlink() and not _pid_alive(int(m.group(2))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def mark_output(folder: str | os.PathLike, command: str) -> Path:
    """Write the mark saying ``folder`` is an output of ``gsoc-helpers command``; returns the mark's path."""
    from . import __version__

    mark = Path(folder) / OUTPUT_MARK
    return atomic_write_text(mark, json.dumps({"command": command, "gsoc_helpers": __version__}) + "\n")


def output_owner(folder: str | os.PathLike) -> str | None:
    """The command named by ``folder``'s mark; None when it has no readable mark (a symlink does not count)."""
    mark = Path(folder) / OUTPUT_MARK
    if mark.is_symlink() or not mark.is_file():
        return None
    try:
        record = json.loads(mark.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    command = record.get("command") if isinstance(record, dict) else None
    return command if isinstance(command, str) else None


def is_mark_name(name: str) -> bool:
    """True for the mark's name and the temporary names it is written under (another process may be writing it)."""
    return name == OUTPUT_MARK or is_temp_name(name) and name.startswith(f".{OUTPUT_MARK}.")


def holds_only_mark(folder: str | os.PathLike) -> bool:
    """True for a missing or empty folder, or one holding nothing but its mark."""
    folder = Path(folder)
    return not folder.is_dir() or all(is_mark_name(p.name) for p in folder.iterdir())


@contextlib.contextmanager
def marked_if_new(out: str | os.PathLike, command: str) -> Iterator[None]:
    """Mark ``out`` as ``command``'s output when the block ends without an error, if before it the folder was missing,
    empty or already ``command``'s: a folder that held anything else (a user's files) is never marked."""
    owner = output_owner(out)
    fresh = owner == command or (owner is None and holds_only_mark(out))
    yield
    if fresh and Path(out).is_dir():
        mark_output(out, command)


def refuse_foreign(out: str | os.PathLike, command: str, flag: str = "--out") -> None:
    """ValueError (one line) unless ``out`` is missing, empty, or marked as an output of ``command``: what
    ``--overwrite`` / ``--resume`` may reuse. Reads only."""
    if holds_only_mark(out):
        return
    owner = output_owner(out)
    if owner == command:
        return
    whose = f"is an output of `gsoc-helpers {owner}`" if owner else f"has no {OUTPUT_MARK} mark of this project"
    raise ValueError(
        f"{flag} {str(out)!r} {whose}, not an earlier `gsoc-helpers {command}` output; it is left as it is: "
        "choose another folder (or empty this one yourself)"
    )


@contextlib.contextmanager
def output_lock(out: str | os.PathLike, command: str, flag: str = "--out") -> Iterator[None]:
    """Hold the lock of the output folder ``out`` (the file ``.NAME.lock`` beside it, removed afterwards) for the
    block; ValueError (one line) at once when another run holds it."""
    o = Path(out).expanduser().absolute()
    with try_exclusive_lock(o.with_name(f".{o.name}.lock")) as held:
        if not held:
            raise ValueError(
                f"another `gsoc-helpers {command}` run is writing {flag} {str(out)!r}; wait for it to finish "
                "or choose another folder"
            )
        yield
