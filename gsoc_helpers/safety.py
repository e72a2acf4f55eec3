"""Guards for commands that write or replace a folder: never delete or mix up a user's input.

* :func:`refuse_overlap` - an output folder that is, contains or lies inside one of the command's inputs is refused
  (one line naming both), before anything is read or written.
* :func:`clean_stale_temporaries` - hidden ``.NAME.partial-PID`` / ``.NAME.old-PID`` folders left beside an output by
  a process that no longer runs (``kill -9``, power loss) are removed on the next run.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Iterable

STALE_KINDS = ("partial", "old")


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
