"""Guards for commands that write or replace a folder: never delete, trim or mix up a user's files.

* :func:`refuse_overlap` - an output folder that is, contains or lies inside one of the command's inputs is refused
  (one line naming both), before anything is read or written.
* The mark (``.gsoc-helpers.json``): every output folder records the folder it was written for (resolved path), the
  command and the names that command creates there (:func:`mark_output`). A mark counts only in that folder, as a
  plain file with one link: a copied, moved, hard-linked or symlinked mark authorises nothing (:func:`read_mark`).
  ``--overwrite`` / ``--resume`` reuse only a folder whose mark names the same command (:func:`refuse_foreign`),
  remove only the names the mark lists (:func:`remove_own`), and refuse a folder holding a symbolic link
  (:func:`refuse_links`) before anything is deleted.
* :func:`clean_stale_temporaries` - hidden ``.NAME.partial-PID`` folders left beside an output by a killed run are
  removed only when their own mark proves they are that command's temporaries (and the process is gone).
* :func:`output_lock` - one writer per real folder: the lock is keyed on the resolved path, so a second run into it,
  spelled through a symbolic link or not, is refused at once, in one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .file_lock import try_exclusive_lock
from .fileio import atomic_write_bytes, atomic_write_text, is_temp_name

OUTPUT_MARK = ".gsoc-helpers.json"  # {"format": 2, "command": ..., "folder": ..., "names": [...]}
MARK_FORMAT = 2
PARTIAL = "partial"  # .NAME.partial-PID: a run's temporary output folder beside NAME


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


# ------------------------------------------------------------------------------------------------------ the mark
@dataclass(frozen=True)
class Mark:
    """A valid mark: the command that wrote the folder and the names (entries of the folder) it creates."""

    command: str
    names: tuple[str, ...]


def mark_output(folder: str | os.PathLike, command: str, names: Iterable[str]) -> Path:
    """Write the mark saying ``folder`` (its resolved path) is an output of ``gsoc-helpers command`` whose own
    entries are ``names``; returns the mark's path."""
    from . import __version__

    record = {
        "format": MARK_FORMAT,
        "command": command,
        "folder": str(_resolved(folder)),
        "names": sorted(set(names)),
        "gsoc_helpers": __version__,
    }
    return atomic_write_text(Path(folder) / OUTPUT_MARK, json.dumps(record) + "\n")


def read_mark(folder: str | os.PathLike) -> tuple[Mark | None, str]:
    """``(mark, "")`` when ``folder`` holds a mark written for it; ``(None, why)`` otherwise, ``why`` being ""
    when there is no mark at all, else the reason it does not count (copied, hard-linked, a link, unreadable)."""
    path = Path(folder) / OUTPUT_MARK
    if not path.is_symlink() and not path.exists():
        return None, ""
    if path.is_symlink() or not path.is_file():
        return None, "the mark is a symbolic link or not a file"
    try:
        links = path.stat().st_nlink
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None, "the mark is unreadable"
    if links > 1:
        return None, f"the mark is hard-linked ({links} links): a linked mark authorises nothing"
    if not isinstance(record, dict) or record.get("format") != MARK_FORMAT:
        return None, "the mark was written by an older gsoc-helpers and lists no files"
    command, names, written_for = record.get("command"), record.get("names"), record.get("folder")
    if not isinstance(command, str) or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None, "the mark is unreadable"
    if written_for != str(_resolved(folder)):
        return None, f"the mark was written for {written_for!r} (copied or moved): a copied mark authorises nothing"
    safe = tuple(n for n in names if n and "/" not in n and "\\" not in n and n not in (".", "..", OUTPUT_MARK))
    return Mark(command, safe), ""


def adopt_old_mark(folder: str | os.PathLike, command: str, names: Iterable[str]) -> bool:
    """Rewrite the mark of a folder written by ``command`` before marks listed their files (format 1) in today's
    format, listing ``names``, when that is provably safe: the folder holds nothing but ``names`` (their temporaries
    and the mark) and no symbolic link, so no file of a user's can be claimed. Returns whether it did."""
    folder, names = Path(folder), set(names)
    path = folder / OUTPUT_MARK
    if path.is_symlink() or not path.is_file() or first_link(folder) is not None:
        return False
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    if not isinstance(record, dict) or "format" in record or record.get("command") != command:
        return False
    for entry in folder.iterdir():
        base = entry.name[1:].rsplit(".", 2)[0] if is_temp_name(entry.name) else entry.name
        if not is_mark_name(entry.name) and base not in names:
            return False
    mark_output(folder, command, names)
    return True


def output_owner(folder: str | os.PathLike) -> str | None:
    """The command named by ``folder``'s valid mark; None without one (see :func:`read_mark`)."""
    mark, _ = read_mark(folder)
    return mark.command if mark else None


def is_mark_name(name: str) -> bool:
    """True for the mark's name and the temporary names it is written under (another process may be writing it)."""
    return name == OUTPUT_MARK or is_temp_name(name) and name.startswith(f".{OUTPUT_MARK}.")


def holds_only_mark(folder: str | os.PathLike) -> bool:
    """True for a missing or empty folder, or one holding nothing but its mark."""
    folder = Path(folder)
    return not folder.is_dir() or all(is_mark_name(p.name) for p in folder.iterdir())


def refuse_foreign(out: str | os.PathLike, command: str, flag: str = "--out") -> None:
    """ValueError (one line) unless ``out`` is missing, empty, or holds a valid mark of ``command``: what
    ``--overwrite`` / ``--resume`` / a rerun may reuse. Reads only."""
    if holds_only_mark(out):
        return
    mark, why = read_mark(out)
    if mark and mark.command == command:
        return
    if mark:
        whose = f"is an output of `gsoc-helpers {mark.command}`"
    elif why:
        whose = f"has a {OUTPUT_MARK} that does not count ({why})"
    else:
        whose = f"has no {OUTPUT_MARK} mark of this project"
    raise ValueError(
        f"{flag} {str(out)!r} {whose}, not an earlier `gsoc-helpers {command}` output; it is left as it is: "
        "choose another folder (or empty this one yourself)"
    )


def first_link(folder: str | os.PathLike) -> Path | None:
    """``folder`` itself when it is a symbolic link, else the first symbolic link inside it (never followed)."""
    folder = Path(folder)
    if folder.is_symlink():
        return folder
    if not folder.is_dir():
        return None
    for root, dirs, files in os.walk(folder):
        for name in sorted(dirs + files):
            if os.path.islink(os.path.join(root, name)):
                return Path(root) / name
    return None


def refuse_links(out: str | os.PathLike, flag: str = "--out") -> None:
    """ValueError (one line, naming it) when ``out`` is or holds a symbolic link: nothing there is deleted,
    trimmed or replaced."""
    link = first_link(out)
    if link is None:
        return
    where = f"{flag} {str(out)!r} is" if link == Path(out) else f"{flag} {str(out)!r} holds"
    raise ValueError(
        f"{where} a symbolic link {str(link)!r} (to {os.readlink(link)!r}); nothing was changed: "
        "give a plain folder without links"
    )


def own_names(folder: str | os.PathLike, command: str) -> tuple[str, ...]:
    """The names ``folder``'s valid mark of ``command`` lists; () without one."""
    mark, _ = read_mark(folder)
    return mark.names if mark and mark.command == command else ()


def remove_own(out: str | os.PathLike, command: str, names: Iterable[str] | None = None) -> list[str]:
    """Delete the entries of ``out`` that its valid mark of ``command`` lists (only those also in ``names`` when
    given) and the temporary files of a writer of them (``.NAME.PID.tmp``); returns the names deleted. Call after
    :func:`refuse_foreign` and :func:`refuse_links`."""
    out = Path(out)
    listed = set(own_names(out, command))
    if names is not None:
        listed &= set(names)
    removed = []
    for entry in sorted(out.iterdir()) if out.is_dir() else []:
        temp_of = entry.name[1:].rsplit(".", 2)[0] if is_temp_name(entry.name) else None
        if entry.name in listed or temp_of in listed:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry.name)
    return removed


# ------------------------------------------------------------------------------------- temporaries and the lock
def partial_folder(out: str | os.PathLike) -> Path:
    """The temporary folder a run of this process writes before publishing ``out``: ``.NAME.partial-PID``."""
    o = _resolved(out)
    return o.with_name(f".{o.name}.{PARTIAL}-{os.getpid()}")


def _pid_alive(pid: int) -> bool:
    """True while a process ``pid`` runs (this one included)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # another user's process
        return True
    return True


def clean_stale_temporaries(out: str | os.PathLike, command: str, alive_ok: bool = False) -> list[Path]:
    """Remove the ``.NAME.partial-PID`` folders beside ``out`` that are provably ``command``'s temporaries (a valid
    mark of ``command`` inside, written for that very folder, no symbolic link) and whose process is gone (or is
    this one, with ``alive_ok``); returns them. Anything else (a user's ``.NAME.old-20261204``, an unmarked folder)
    is left alone."""
    o = _resolved(out)
    pattern = re.compile(rf"^\.{re.escape(o.name)}\.{PARTIAL}-(\d+)$")
    removed: list[Path] = []
    if not o.parent.is_dir():
        return removed
    for entry in sorted(o.parent.iterdir()):
        m = pattern.match(entry.name)
        if not m or entry.is_symlink() or not entry.is_dir():
            continue
        pid = int(m.group(1))
        if _pid_alive(pid) and not (alive_ok and pid == os.getpid()):
            continue
        if output_owner(entry) == command and first_link(entry) is None:
            shutil.rmtree(entry)
            removed.append(entry)
    return removed


@contextlib.contextmanager
def output_lock(out: str | os.PathLike, command: str, flag: str = "--out") -> Iterator[None]:
    """Hold the lock of the real folder behind ``out`` (the file ``.NAME.lock`` beside its resolved path, removed
    afterwards) for the block; ValueError (one line) at once when another run holds it, whatever path it used."""
    o = _resolved(out)
    with try_exclusive_lock(o.with_name(f".{o.name}.lock")) as held:
        if not held:
            raise ValueError(
                f"another `gsoc-helpers {command}` run is writing {flag} {str(out)!r}; wait for it to finish "
                "or choose another folder"
            )
        yield


@contextlib.contextmanager
def claimed_output(
    out: str | os.PathLike,
    command: str,
    names: Iterable[str],
    inputs: Iterable[tuple[str, str | os.PathLike | None]] = (),
    flag: str = "--out",
) -> Iterator[None]:
    """For a command that writes ``names`` into ``out`` and may be rerun to resume: refuse (one line, before the
    block) an ``out`` among the ``inputs`` (:func:`refuse_overlap`), one that is or holds a symbolic link, or one
    that holds anything but is not ``command``'s marked output; mark a new or empty folder as ``command``'s before
    the block, so that an interrupted run is resumable. When the block fails having written nothing, the folder
    is left as it was found (the mark, and the folder if this made it, removed)."""
    out, names = Path(out), tuple(names)
    refuse_overlap(out, inputs, flag)
    refuse_links(out, flag)
    adopt_old_mark(out, command, names)
    refuse_foreign(out, command, flag)
    made, marked = not out.exists(), holds_only_mark(out) and output_owner(out) != command
    if marked:
        out.mkdir(parents=True, exist_ok=True)
        mark_output(out, command, names)
    try:
        yield
    except BaseException:
        if marked:
            unmark_unused(out, made)
        raise


def unmark_unused(out: str | os.PathLike, made: bool) -> None:
    """When ``out`` holds nothing but its mark (a run failed before writing), remove the mark, and the folder
    too when the run ``made`` it: the folder is left as the run found it."""
    out = Path(out)
    if holds_only_mark(out):
        (out / OUTPUT_MARK).unlink(missing_ok=True)
        if made:
            with contextlib.suppress(OSError):
                out.rmdir()


def write_owned_file(folder: str | os.PathLike, command: str, name: str, data: bytes, flag: str = "folder") -> Path:
    """Write ``data`` as ``folder/name`` (atomically) where ``folder`` is new, empty or ``command``'s marked output
    holding no symbolic link, and ``name`` is new there or one its mark lists; the mark then lists ``name``.
    ValueError (one line) otherwise: a user's file is never replaced."""
    folder = Path(folder)
    refuse_links(folder, flag)
    refuse_foreign(folder, command, flag)
    with output_lock(folder, command, flag):
        names = set(own_names(folder, command))
        path = folder / name
        if (path.exists() or path.is_symlink()) and name not in names:
            raise ValueError(f"{str(path)!r} exists and was not written by this project; it is left as it is")
        folder.mkdir(parents=True, exist_ok=True)
        mark_output(folder, command, names | {name})
        atomic_write_bytes(path, data)
    return path


_UNSAFE_ADVICE = re.compile(r"weights_only.{0,40}(False|false)")


def refused_pickle_reason(err: BaseException | str) -> str | None:
    """When ``err`` is torch's refusal of a pickle that holds more than tensors (``torch.load(weights_only=True)``),
    one line saying so with torch's own finding (e.g. the global it met), without its advice to load it unsafely;
    None for any other error. This project never executes code from a file."""
    text = str(err)
    if "Weights only load failed" not in text and not _UNSAFE_ADVICE.search(text):
        return None
    found = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip()
        and not _UNSAFE_ADVICE.search(ln)
        and "Weights only load failed" not in ln
        and not ln.strip().startswith("Check the documentation")
    ]
    reason = f" ({found[0][:160]})" if found else ""
    return (
        f"it holds more than tensors and would run code when unpickled{reason}; this project never loads such a "
        "file: save a plain state dict (torch.save(model.state_dict())) or safetensors"
    )
