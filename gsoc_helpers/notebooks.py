"""Execute the numbered notebooks headless (papermill-style parameter injection) and collect a summary.

Each notebook has one cell tagged ``parameters`` (``PROFILE = "quick"``, ``SMOKE = False``, ...).  The runner
inserts a cell right after it that overrides those names, executes the notebook on a fresh kernel with
nbclient, and writes the executed copy; the stored notebooks themselves stay without outputs.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
# Text that a reader should never see in an executed notebook: warnings, log lines, progress-bar glyphs.
NOISE = re.compile(r"\b\w*Warning\b|\bWARNING\b|━|No CUDA runtime")


@dataclass
class NotebookRun:
    notebook: Path
    executed: Path
    seconds: float
    ok: bool
    error: str = ""


@dataclass
class SeriesConfig:
    """What ``gsoc-helpers demo`` runs: every notebook of ``notebook_dir`` with ``parameters``."""

    notebook_dir: Path = NOTEBOOK_DIR
    output_dir: Path = Path("outputs")
    parameters: dict = field(default_factory=lambda: {"PROFILE": "quick"})
    timeout_per_cell: int = 1800
    only: tuple[str, ...] = ()  # notebook name prefixes, e.g. ("01", "03")


def list_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks ``NN_name.ipynb`` in order."""
    return sorted(p for p in Path(folder).glob("[0-9][0-9]_*.ipynb"))


def inject_parameters(nb, parameters: dict) -> None:
    """Insert a cell assigning ``parameters`` after the cell tagged ``parameters`` (or at the top)."""
    import nbformat

    lines = ["# Parameters injected by gsoc_helpers.notebooks"] + [f"{k} = {v!r}" for k, v in parameters.items()]
    new = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": ["injected-parameters"]})
    index = next((i + 1 for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), 0)
    nb.cells.insert(index, new)


def has_outputs(path: Path) -> bool:
    """True if a stored notebook holds outputs or execution counts (it should be stored clean)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    return any(c.cell_type == "code" and (c.get("outputs") or c.get("execution_count")) for c in nb.cells)


def strip_outputs(path: Path) -> bool:
    """Remove outputs and execution counts in place; returns True if the file changed."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    changed = False
    for c in nb.cells:
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count")):
            c.outputs, c.execution_count, changed = [], None, True
    if changed:
        nbformat.write(nb, str(path))
    return changed


def execute_notebook(path: Path, executed_path: Path, parameters: dict, timeout: int = 1800,
                     cwd: Path | None = None) -> NotebookRun:
    """Run ``path`` on a fresh kernel with ``parameters``; write the executed copy even when a cell fails."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from jupyter_client.manager import KernelManager

    nb = nbformat.read(str(path), as_version=4)
    inject_parameters(nb, parameters)
    start, error = time.perf_counter(), ""
    with tempfile.TemporaryDirectory(prefix="gsoc-kernel-") as sockets:
        # IPC sockets (not TCP): local-only, and the kernel has no "running over TCP without encryption" warning
        km = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel"))
        client = NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(cwd or path.parent)}})
        try:
            client.execute()
        except CellExecutionError as err:
            error = str(err).splitlines()[-1] if str(err) else type(err).__name__
            error = _last_error_line(str(err)) or error
        finally:
            if km.has_kernel:  # a kernel manager passed in is not shut down by nbclient itself
                km.shutdown_kernel(now=True)
    executed_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(executed_path))
    return NotebookRun(path, executed_path, time.perf_counter() - start, not error, error)


def output_noise(nb) -> list[str]:
    """Lines of an executed notebook's outputs (and widget state) that match :data:`NOISE`, cell-numbered."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            texts = [out.get("text", "")] + [out.get("data", {}).get(k, "") for k in ("text/plain", "text/html")]
            for text in texts:
                text = "".join(text) if isinstance(text, list) else str(text)
                found += [f"cell {i}: {ln.strip()[:200]}" for ln in text.splitlines() if NOISE.search(ln)]
    widgets = json.dumps(nb.metadata.get("widgets", {}), ensure_ascii=False)
    found += [f"widget state: {m.group(0)}" for m in NOISE.finditer(widgets)][:5]
    return found


def _last_error_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    errs = [ln for ln in lines if "Error" in ln or "Exception" in ln]
    return (errs[-1] if errs else (lines[-1] if lines else "")).strip()[:500]


def run_series(cfg: SeriesConfig) -> list[NotebookRun]:
    """Execute every notebook in order (stopping at the first failure) and write ``SUMMARY.md``."""
    from tqdm.auto import tqdm

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["GSOC_OUTPUT_DIR"] = str(out.resolve())  # the kernels inherit it: every notebook writes under out/
    notebooks = [p for p in list_notebooks(cfg.notebook_dir) if not cfg.only or p.name.startswith(cfg.only)]
    if not notebooks:
        raise FileNotFoundError(f"no numbered notebooks (NN_name.ipynb) in {str(cfg.notebook_dir)!r}")
    runs: list[NotebookRun] = []
    for nb in tqdm(notebooks, desc="notebooks", unit="nb"):
        run = execute_notebook(nb, out / "executed" / nb.name, cfg.parameters, cfg.timeout_per_cell,
                               cwd=cfg.notebook_dir)
        runs.append(run)
        tqdm.write(f"{nb.name}: {'ok' if run.ok else 'FAILED'} in {run.seconds:.0f} s {run.error}")
        if not run.ok:
            break
    write_summary(out, runs, cfg.parameters)
    return runs


def write_summary(out: Path, runs: list[NotebookRun], parameters: dict) -> Path:
    """SUMMARY.md: the run table, then every <profile>/results/*.md that the notebooks wrote, in name order."""
    lines = ["# Quick-profile run summary", "", f"Run {time.strftime('%Y-%m-%d %H:%M %Z')}, parameters "
             f"`{parameters}`.", "", "| notebook | status | seconds | executed copy |", "|---|---|---:|---|"]
    for r in runs:
        rel = os.path.relpath(r.executed, out)
        lines.append(f"| {r.notebook.name} | {'ok' if r.ok else 'FAILED: ' + r.error} | {r.seconds:.0f} | [{rel}]({rel}) |")
    lines.append(f"\nTotal: {sum(r.seconds for r in runs):.0f} s.\n")
    for md in sorted(out.glob("*/results/*.md")):
        lines += [md.read_text().rstrip(), ""]
    path = out / "SUMMARY.md"
    path.write_text("\n".join(lines) + "\n")
    return path
