"""The stored notebooks are clean, and each runs top to bottom with smoke parameters."""
from __future__ import annotations

import os

import nbformat
import pytest

from gsoc_helpers.notebooks import execute_notebook, has_outputs, list_notebooks, output_noise

NOTEBOOKS = list_notebooks()


def test_series_exists_and_is_numbered():
    names = [p.name[:2] for p in NOTEBOOKS]
    assert names == [f"{i:02d}" for i in range(1, len(names) + 1)] and len(names) >= 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_stored_without_outputs_and_has_parameters(path):
    assert not has_outputs(path), f"{path.name} is committed with outputs: run `gsoc-helpers notebooks --strip`"
    nb = nbformat.read(str(path), as_version=4)
    tags = [c.get("metadata", {}).get("tags", []) for c in nb.cells]
    assert any("parameters" in t for t in tags), f"{path.name} has no cell tagged 'parameters'"
    src = "\n".join(c.source for c in nb.cells)
    assert "colab.research.google.com" in src and "mybinder.org" in src and "%pip install" in src


def test_papermill_injects_after_parameters_cell(tmp_path):
    import papermill

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# t"),
                                         nbformat.v4.new_code_cell("A = 1", metadata={"tags": ["parameters"]}),
                                         nbformat.v4.new_code_cell("print(A)")])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, str(tmp_path / "in.ipynb"))
    papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                               parameters={"A": 2, "SIZES": {"fid_n": "8"}}, prepare_only=True)
    cells = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4).cells
    assert "injected-parameters" in cells[2].metadata["tags"]
    assert "A = 2" in cells[2].source and "SIZES = {\"fid_n\": \"8\"}" in cells[2].source


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_with_smoke_parameters(path, tmp_path, monkeypatch, shared_data_root):
    """The quick profile at smoke scale; it reads the offline data root (without one, the full-profile smoke test,
    tests/test_full_profile_smoke.py, still runs every notebook against a loopback mirror)."""
    monkeypatch.setenv("GSOC_OUTPUT_DIR", str(tmp_path / "outputs"))
    run = execute_notebook(path, tmp_path / path.name, {"PROFILE": "quick", "SCALE": "smoke"}, timeout=600)
    assert run.ok, f"{path.name} failed: {run.error} (executed copy: {run.executed})"
    noise = output_noise(nbformat.read(str(run.executed), as_version=4))
    assert not noise, f"{path.name}: warning/progress text in the outputs: {noise[:5]}"


def test_output_noise_finds_warnings_and_progress_bars():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("stream", name="stderr",
                                                                       text="a.py:3: FutureWarning: old\n")]),
        nbformat.v4.new_code_cell("y", outputs=[nbformat.v4.new_output("stream", name="stdout", text="ok 98.5 %\n")]),
        nbformat.v4.new_code_cell("z", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/plain": "Statistics collection ━━━ 100%"})])])
    assert output_noise(nb) == ["cell 0: a.py:3: FutureWarning: old", "cell 2: Statistics collection ━━━ 100%"]
