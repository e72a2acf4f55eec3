"""Executed copies of the notebooks for readers who do not run them (GitHub renders ``docs/notebooks/*.ipynb``).

The sources in ``notebooks/`` are stored without outputs; ``make docs`` runs the quick-profile demo (papermill) and
:func:`render_series` turns each executed notebook into a small copy a browser can show:

* a banner cell on top: which profile and scale ran, when, and where the source is;
* ipywidgets views (they need a live kernel) replaced by a one-line note, the widget state dropped;
* any single output above :data:`MAX_OUTPUT_BYTES` replaced by a note (no 10 MB notebooks);
* papermill's and nbclient's per-cell timing metadata dropped (no noise in diffs); execution counts kept.

:func:`stale_copies` compares every copy's code cells with its source (papermill's injected-parameters cell aside),
so a test fails as soon as a source changes without ``make docs``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from .notebooks import NOTEBOOK_DIR, list_notebooks

DOCS_DIR = NOTEBOOK_DIR.parent / "docs" / "notebooks"
MAX_OUTPUT_BYTES = 1_000_000
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
INJECTED = "injected-parameters"
BANNER = "rendered-copy"  # tag of the banner cell
# the source's first-cell line that points at its copy (rewritten in the copy to point back at the source)
COPY_LINK = re.compile(r"^\*\*Results without running:\*\*.*$", re.M)


def copy_link(name: str) -> str:
    """The line each source notebook's first cell carries (``name``: ``01_teacher_sampling.ipynb``)."""
    return (
        f"**Results without running:** [the executed quick-profile copy](../docs/notebooks/{name}) shows every "
        "figure, table and number of this notebook (`make docs` regenerates it)."
    )


def _code_sources(nb) -> list[str]:
    return [
        c.source for c in nb.cells if c.cell_type == "code" and INJECTED not in c.get("metadata", {}).get("tags", [])
    ]


def _size(output) -> int:
    return len(json.dumps(output, ensure_ascii=False))


def _small_outputs(cell) -> list:
    import nbformat

    out = []
    for o in cell.get("outputs", []):
        data = o.get("data", {})
        if WIDGET_VIEW in data:
            o = nbformat.v4.new_output(
                "display_data",
                data={"text/plain": "[an interactive ipywidgets panel: open the source notebook in Jupyter to use it]"},
            )
        elif _size(o) > MAX_OUTPUT_BYTES:
            o = nbformat.v4.new_output(
                "display_data",
                data={"text/plain": f"[an output of {_size(o) / 1e6:.1f} MB, left out of the rendered copy]"},
            )
        out.append(o)
    return out


def render_copy(executed: Path, dest: Path, source: Path | None = None) -> Path:
    """Write the readable copy of the executed notebook ``executed`` to ``dest`` (see the module doc)."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    params = nb.metadata.get("papermill", {}).get("parameters", {})
    profile, scale = params.get("PROFILE") or "quick", params.get("SCALE") or params.get("PROFILE") or "quick"
    for key in ("widgets", "papermill"):
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        for key in ("papermill", "execution"):
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = _small_outputs(cell)
    src = f"../../notebooks/{(source or executed).name}"
    if nb.cells and nb.cells[0].cell_type == "markdown":
        nb.cells[0].source = COPY_LINK.sub(
            f"**This is the executed copy** of [notebooks/{(source or executed).name}]({src}), stored with its "
            "outputs for reading; open the source to run it.",
            nb.cells[0].source,
        )
    banner = nbformat.v4.new_markdown_cell(
        f"> Executed copy: `{profile}` profile at `{scale}` scale, run {time.strftime('%Y-%m-%d')} by `make docs` "
        f"(papermill). Source: [{(source or executed).name}]({src}). Numbers and speeds are this run's, on that "
        "machine's CPU (named in the outputs where speed is measured).",
        metadata={"tags": [BANNER]},
    )
    nb.cells.insert(0, banner)
    nb.metadata["gsoc_rendered"] = {"profile": profile, "scale": scale}
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(dest))
    return dest


def render_series(executed_dir: Path, docs_dir: Path = DOCS_DIR, source_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """Render every source notebook's executed copy from ``executed_dir`` into ``docs_dir``; all must be there."""
    sources = list_notebooks(source_dir)
    missing = [p.name for p in sources if not (Path(executed_dir) / p.name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"no executed copy of {', '.join(missing)} in {str(executed_dir)!r}; run the demo "
            "first (make docs does both)"
        )
    return [render_copy(Path(executed_dir) / p.name, Path(docs_dir) / p.name, p) for p in sources]


def stale_copies(source_dir: Path = NOTEBOOK_DIR, docs_dir: Path = DOCS_DIR) -> list[str]:
    """One line per source notebook whose rendered copy is missing or whose code cells differ from it."""
    import difflib

    import nbformat

    problems = []
    for src in list_notebooks(source_dir):
        copy = Path(docs_dir) / src.name
        if not copy.is_file():
            problems.append(f"{src.name}: no rendered copy in {docs_dir} (run `make docs`)")
            continue
        want = _code_sources(nbformat.read(str(src), as_version=4))
        have = _code_sources(nbformat.read(str(copy), as_version=4))
        if want != have:
            diff = next(
                (i for i, (a, b) in enumerate(zip(want, have, strict=False)) if a != b), min(len(want), len(have))
            )
            detail = "".join(
                difflib.unified_diff(
                    (have[diff] if diff < len(have) else "").splitlines(True),
                    (want[diff] if diff < len(want) else "").splitlines(True),
                    "copy",
                    "source",
                    n=0,
                )
            )[:400]
            problems.append(
                f"{src.name}: code cell {diff + 1} of {len(want)} differs from the rendered copy "
                f"(run `make docs`):\n{detail}"
            )
    return problems
