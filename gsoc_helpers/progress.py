"""Progress bars that leave one readable line behind, also in saved and executed notebooks.

In a Jupyter kernel tqdm draws an ipywidgets bar.  A notebook saved by a headless runner (papermill, nbclient,
nbmake, nbconvert) or reopened later keeps only the text that widget had when it was first displayed --
``0%|          | 0/3000`` -- as if the loop never ran.  :func:`progress` shows the same live widget while the loop
runs and, when the bar closes, replaces it in place (one display id) with a static line::

    distill: 60/60 steps in 12.3 s (4.87 steps/s), g=0.412, d=1.93

Outside a kernel (terminal, CLI, log files) it is tqdm's own text bar, whose last state says the same.  Every loop of
the package reports progress through :func:`progress`; it takes tqdm's arguments and returns a tqdm object.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm as _text_tqdm
from tqdm.std import tqdm as _std_tqdm


def final_line(bar: _std_tqdm) -> str:
    """``desc: n/total unit in T (rate unit/s)[, postfix]`` for a finished (or stopped) bar."""
    d = bar.format_dict
    n, total, unit, elapsed = d["n"], d["total"], d.get("unit") or "it", float(d["elapsed"])
    desc = f"{d['prefix']}: " if d.get("prefix") else ""
    if not n and not total:  # an empty loop: everything was cached or done already
        return f"{desc}nothing left to run"
    scale = d.get("unit_scale")
    count = (
        (lambda v: _std_tqdm.format_sizeof(v * (1 if scale is True else scale), divisor=d.get("unit_divisor") or 1000))
        if scale
        else (lambda v: f"{int(v):,}")
    )
    done = f"{count(n)}/{count(total)}" if total else count(n)
    if total and n < total:
        done = f"stopped at {done}"
    rate = (n - (d.get("initial") or 0)) / elapsed if elapsed > 0 else 0.0  # a resumed run: this session's rate
    rate_text = f"{count(rate)}" if scale else (f"{rate:.3g}" if rate < 1000 else f"{rate:,.0f}")
    seconds = f"{elapsed:.1f} s" if elapsed < 600 else _std_tqdm.format_interval(elapsed)
    post = f", {d['postfix']}" if d.get("postfix") else ""
    return f"{desc}{done} {unit} in {seconds} ({rate_text} {unit}/s){post}"


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _notebook_bar_class():
    from IPython.display import display
    from tqdm.notebook import tqdm as widget_tqdm

    class NotebookBar(widget_tqdm):
        """tqdm's widget bar under a display id; :meth:`close` swaps it for :func:`final_line`."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, display=False, **kwargs)
            self._handle = None
            if not self.disable:
                self._handle = display(self.container, display_id=True)
                self.displayed = True

        def close(self):
            if self.disable or self._handle is None:
                return super().close()
            super().close()
            handle, self._handle = self._handle, None
            text = final_line(self) if self.leave or (self.total and self.n < self.total) else ""
            handle.update({"text/plain": text}, raw=True)

    return NotebookBar


class _LineBar(_std_tqdm):
    """A kernel without ipywidgets: draw nothing while running, print :func:`final_line` once at the end."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "file": io.StringIO()})

    def close(self):
        was_open = not self.disable  # tqdm's close() disables the bar: a second close prints nothing
        super().close()
        if was_open and (self.leave or (self.total and self.n < self.total)):
            print(final_line(self), file=sys.stdout)


def progress(iterable: Iterable | None = None, **kwargs: Any) -> _std_tqdm:
    """A drop-in for ``tqdm.auto.tqdm(iterable, **kwargs)`` that ends as one static line in a notebook."""
    if kwargs.get("disable") or not _in_kernel():
        return _text_tqdm(iterable, **kwargs)
    try:
        cls = _notebook_bar_class()
        return cls(iterable, **kwargs)
    except ImportError:  # no ipywidgets in this kernel (tqdm: "IProgress not found")
        return _LineBar(iterable, **kwargs)


write = _text_tqdm.write  # print a line without breaking a bar (tqdm.write)
