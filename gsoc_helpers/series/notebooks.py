"""Execute the numbered notebooks headless with papermill and collect a summary.

Each notebook has one cell tagged ``parameters`` (``PROFILE = None``, ``SCALE = None``, ``SIZES = {}``, ...).
papermill inserts a cell right after it that overrides those names, executes the notebook on a fresh kernel and
writes the executed copy (also when a cell fails); the stored notebooks themselves stay without outputs.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
# Text that a reader should never see in an executed notebook: warnings, log lines ("INFO:nncf:...",
# "WARNING:root:...", "[IPKernelApp] INFO | ..."), progress-bar glyphs and a tqdm bar's text ("0%|   | 0/3000").
NOISE = re.compile(
    r"\b\w*Warning\b|\bWARNING\b|━|No CUDA runtime"
    r"|^\s*(\[\w+\]\s*)?(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b\s*[:|]"
    r"|\d+%\|"
)


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


def parameter_defaults(folder: Path = NOTEBOOK_DIR) -> dict[str, object]:
    """Name -> default value (a Python literal; None when it is not one) of every assignment in the ``parameters``
    cells of the numbered notebooks."""
    import ast

    import nbformat

    defaults: dict[str, object] = {}
    for path in list_notebooks(folder):
        for cell in nbformat.read(str(path), as_version=4).cells:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                for node in ast.parse(cell.source).body:
                    if isinstance(node, ast.Assign):
                        try:
                            value = ast.literal_eval(node.value)
                        except ValueError:
                            value = None
                        defaults.update({t.id: value for t in node.targets if isinstance(t, ast.Name)})
    return defaults


def parameter_names(folder: Path = NOTEBOOK_DIR) -> set[str]:
    """Names assigned in the ``parameters`` cells of the numbered notebooks."""
    return set(parameter_defaults(folder))


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


def execute_notebook(
    path: Path, executed_path: Path, parameters: dict, timeout: int = 1800, cwd: Path | None = None
) -> NotebookRun:
    """Run ``path`` with papermill on a fresh kernel with ``parameters``; the executed copy is written even when a
    cell fails (the run is then ``ok=False`` with the error's last line)."""
    import papermill
    from jupyter_client.manager import KernelManager
    from papermill.exceptions import PapermillExecutionError

    executed_path.parent.mkdir(parents=True, exist_ok=True)
    start, error = time.perf_counter(), ""
    with tempfile.TemporaryDirectory(prefix="gsoc-kernel-") as sockets:
        # IPC sockets (not TCP): local-only, and the kernel has no "running over TCP without encryption" warning
        km = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel"))
        try:
            papermill.execute_notebook(
                str(path),
                str(executed_path),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(cwd or path.parent),
                progress_bar=False,
                execution_timeout=timeout,
                km=km,
            )
        except PapermillExecutionError as err:
            error = f"{err.ename}: {err.evalue}"[:500]
        finally:
            if km.has_kernel:  # a kernel manager passed in is not shut down by nbclient itself
                km.shutdown_kernel(now=True)
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


def run_series(cfg: SeriesConfig) -> list[NotebookRun]:
    """Execute every notebook in order (stopping at the first failure) and write ``SUMMARY.md``."""
    from ..progress import progress as tqdm  # tqdm's API; one final line in notebooks
    from ..progress import write

    available = list_notebooks(cfg.notebook_dir)
    if not available:
        raise FileNotFoundError(f"no numbered notebooks (NN_name.ipynb) in {str(cfg.notebook_dir)!r}")
    unmatched = [o for o in cfg.only if not any(p.name.startswith(o) for p in available)]
    if unmatched:
        raise ValueError(
            f"--only {' '.join(unmatched)}: no notebook name starts with that; the notebooks are "
            f"{', '.join(p.stem for p in available)}"
        )
    notebooks = [p for p in available if not cfg.only or p.name.startswith(tuple(cfg.only))]
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["GSOC_OUTPUT_DIR"] = str(out.resolve())  # the kernels inherit it: every notebook writes under out/
    runs: list[NotebookRun] = []
    for nb in tqdm(notebooks, desc="notebooks", unit="nb"):
        run = execute_notebook(
            nb, out / "executed" / nb.name, cfg.parameters, cfg.timeout_per_cell, cwd=cfg.notebook_dir
        )
        runs.append(run)
        write(f"{nb.name}: {'ok' if run.ok else 'FAILED'} in {run.seconds:.0f} s {run.error}")
        if not run.ok:
            break
    write_summary(out, runs, cfg.parameters)
    return runs


def write_summary(out: Path, runs: list[NotebookRun], parameters: dict) -> Path:
    """SUMMARY.md: the run table, then every <profile>/results/*.md that the notebooks wrote, in name order."""
    lines = [
        f"# {parameters.get('PROFILE') or 'quick'}-profile run summary",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M %Z')}, parameters `{parameters}`.",
        "",
        "| notebook | status | seconds | executed copy |",
        "|---|---|---:|---|",
    ]
    for r in runs:
        rel = os.path.relpath(r.executed, out)
        lines.append(
            f"| {r.notebook.name} | {'ok' if r.ok else 'FAILED: ' + r.error} | {r.seconds:.0f} | [{rel}]({rel}) |"
        )
    lines.append(f"\nTotal: {sum(r.seconds for r in runs):.0f} s.\n")
    for md in sorted(out.glob("*/results/*.md")):
        lines += [md.read_text().rstrip(), ""]
    path = out / "SUMMARY.md"
    path.write_text("\n".join(lines) + "\n")
    return path
