"""Executed copies for readers (docs/notebooks/): small, readable on GitHub, and never silently stale."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys

import nbformat
import pytest

from gsoc_helpers.series import rendered
from gsoc_helpers.series.notebooks import NOTEBOOK_DIR, list_notebooks

NOTEBOOKS = list_notebooks()
MAX_COPY_BYTES = 3_000_000  # a whole rendered notebook; the quick-profile copies are far smaller


def _fake_executed(source, dest, parameters):
    """What papermill writes: the injected-parameters cell, outputs, papermill/nbclient metadata, widget state."""
    import papermill

    papermill.execute_notebook(str(source), str(dest), parameters=parameters, prepare_only=True)
    nb = nbformat.read(str(dest), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[-1].outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={rendered.WIDGET_VIEW: {"model_id": "abc", "version_major": 2}, "text/plain": "VBox(children=(...))"},
        )
    ]
    big = base64.b64encode(bytes(1_500_000)).decode()
    code[-2].outputs = [nbformat.v4.new_output("display_data", data={"image/png": big, "text/plain": "<Image>"})]
    code[-3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="a small result: 98.5 %\n")]
    for c in nb.cells:
        c.metadata["execution"] = {"iopub.status.busy": "2026-12-01T00:00:00Z"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"abc": {"x": "y" * 1000}}}}
    nbformat.write(nb, str(dest))
    return dest


def test_render_copy_is_small_readable_and_says_what_ran(tmp_path):
    src = NOTEBOOK_DIR / "04_image_generation.ipynb"
    executed = _fake_executed(src, tmp_path / "executed.ipynb", {"PROFILE": "quick", "SCALE": "quick", "SIZES": {}})
    out = rendered.render_copy(executed, tmp_path / "docs" / src.name, src)
    nb = nbformat.read(str(out), as_version=4)
    assert "widgets" not in nb.metadata and "papermill" not in nb.metadata
    assert nb.metadata["gsoc_rendered"] == {"profile": "quick", "scale": "quick"}
    assert rendered.BANNER in nb.cells[0].metadata["tags"] and "`quick` profile at `quick` scale" in nb.cells[0].source
    assert "../../notebooks/04_image_generation.ipynb" in nb.cells[0].source
    assert "This is the executed copy" in nb.cells[1].source and "Results without running" not in nb.cells[1].source
    texts = [
        o.get("text", "") + o.get("data", {}).get("text/plain", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    ]
    assert any("interactive ipywidgets panel" in t for t in texts) and any("2.0 MB, left out" in t for t in texts)
    assert any("a small result: 98.5 %" in t for t in texts)  # small outputs are kept as they were
    screenshot = next(c.source for c in nb.cells if "app_screenshot.png" in c.source)
    assert "](../app_screenshot.png)" in screenshot  # retargeted from notebooks/ to docs/notebooks/
    assert (rendered.DOCS_DIR / ".." / "app_screenshot.png").is_file()
    assert not any(rendered.WIDGET_VIEW in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert all("execution" not in c.metadata for c in nb.cells)
    assert out.stat().st_size < 100_000


def test_relink_retargets_relative_links_only():
    text = '![a](../docs/x.png) [r](../benchmarks/RESULTS.md) [u](https://h/p) [s](#sec) <img src="../docs/y.png">'
    assert rendered.relink(text) == (
        '![a](../x.png) [r](../../benchmarks/RESULTS.md) [u](https://h/p) [s](#sec) <img src="../y.png">'
    )


def _notebook_with(outputs, intro="**Contents**\n\n1. One\n2. Two", headings=("## 1. One", "## 2. Two")):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(intro), *(nbformat.v4.new_markdown_cell(h) for h in headings)]
    code = nbformat.v4.new_code_cell("x")
    code.outputs = outputs
    nb.cells.append(code)
    return nb


def test_reader_problems_finds_each_kind(tmp_path):
    stream = nbformat.v4.new_output
    bad = [
        stream("stream", name="stdout", text="full table: /home/someone/outputs/quick/summary.csv\n"),
        stream("stream", name="stdout", text="config: PTQConfig(preset='mixed')\n"),
        stream("stream", name="stdout", text="<gsoc_helpers.Grid object at 0x7f00aa11bb22>\n"),
        stream("execute_result", data={"text/plain": "{'preset': <QuantizationPreset.MIXED: 'mixed'>}"}),
        stream("display_data", data={"text/plain": "[an output of 1.7 MB, left out of the rendered copy]"}),
        stream("error", ename="ValueError", evalue="boom", traceback=[]),
    ]
    path = tmp_path / "bad.ipynb"
    nbformat.write(_notebook_with(bad, headings=("## 1. One", "## 2. Two", "## 2. Three")), str(path))
    found = "\n".join(rendered.reader_problems(path))
    for expected in (
        "an absolute path: /home/someone",
        "an object repr: PTQConfig(",
        "object at 0x",
        "<QuantizationPreset.MIXED",
        "an output left out",
        "an error: ValueError: boom",
        "contents list ['1. One', '2. Two'] != headings ['1. One', '2. Two', '2. Three']",
    ):
        assert expected in found, (expected, found)
    good = [
        stream("stream", name="stdout", text="full table: $GSOC_OUTPUT_DIR/quick/summary.csv; see https://a/b/c\n"),
        stream("display_data", data={"text/markdown": "| a |", "text/plain": "<IPython.core.display.Markdown object>"}),
    ]
    nbformat.write(_notebook_with(good), str(path))
    assert rendered.reader_problems(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_source_contents_list_matches_its_headings(path):
    assert rendered.contents_mismatch(nbformat.read(str(path), as_version=4)) == ""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_copy_is_readable(path):
    """What GitHub shows of docs/notebooks/: no absolute path of the machine that rendered it, no object repr, no
    output left out, no error, a contents list that matches the headings."""
    assert rendered.reader_problems(rendered.DOCS_DIR / path.name) == []


def test_stale_copies_names_the_notebook_and_cell(tmp_path):
    sources, docs = tmp_path / "notebooks", tmp_path / "docs"
    sources.mkdir()
    for p in NOTEBOOKS[:2]:
        shutil.copy2(p, sources / p.name)
    assert [s.split(":")[0] for s in rendered.stale_copies(sources, docs)] == [p.name for p in NOTEBOOKS[:2]]
    for p in NOTEBOOKS[:2]:
        executed = _fake_executed(sources / p.name, tmp_path / f"x_{p.name}", {"PROFILE": "quick"})
        rendered.render_copy(executed, docs / p.name, sources / p.name)
    assert rendered.stale_copies(sources, docs) == []  # the injected-parameters cell and outputs do not count
    nb = nbformat.read(str(sources / NOTEBOOKS[1].name), as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    cells[2].source += "\nprint('a new line')"
    nbformat.write(nb, str(sources / NOTEBOOKS[1].name))
    problems = rendered.stale_copies(sources, docs)
    assert len(problems) == 1 and problems[0].startswith(f"{NOTEBOOKS[1].name}: code cell 3 of {len(cells)} differs")
    assert "+print('a new line')" in problems[0]
    with pytest.raises(FileNotFoundError, match="no executed copy of"):
        rendered.render_series(tmp_path / "nothing", docs, sources)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_source_links_to_its_rendered_copy(path):
    first = nbformat.read(str(path), as_version=4).cells[0]
    assert rendered.copy_link(path.name) in first.source


def test_committed_copies_match_their_sources():
    """docs/notebooks/ holds the quick-profile run of every notebook, with the sources' code (`make docs`)."""
    assert rendered.stale_copies() == []
    for path in NOTEBOOKS:
        copy = rendered.DOCS_DIR / path.name
        nb = nbformat.read(str(copy), as_version=4)
        assert nb.metadata["gsoc_rendered"] == {"profile": "quick", "scale": "quick"}, copy
        assert copy.stat().st_size < MAX_COPY_BYTES, f"{copy}: {copy.stat().st_size / 1e6:.1f} MB"
        assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{copy} has no outputs"


@pytest.mark.slow
def test_demo_then_render_on_a_real_run(tmp_path, shared_data_root):
    """The `make docs` path on notebooks 01 and 04 at smoke scale: papermill's executed copies, 04's live widget
    panel and widget state, rendered into copies that match the sources and that a reader can read."""
    out = tmp_path / "run"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "gsoc_helpers",
            "demo",
            "--profile",
            "quick",
            "--scale",
            "smoke",
            "--only",
            "01",
            "04",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    for name in ("01_teacher_sampling.ipynb", "04_image_generation.ipynb"):
        copy = rendered.render_copy(out / "executed" / name, tmp_path / "docs" / name, NOTEBOOK_DIR / name)
        assert rendered.reader_problems(copy) == [], name
    src = NOTEBOOK_DIR / "04_image_generation.ipynb"
    copy = tmp_path / "docs" / src.name
    nb = nbformat.read(str(copy), as_version=4)
    assert nb.metadata["gsoc_rendered"] == {"profile": "quick", "scale": "smoke"}
    assert rendered._code_sources(nb) == rendered._code_sources(nbformat.read(str(src), as_version=4))
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the grids are kept
    assert not any(rendered.WIDGET_VIEW in o.get("data", {}) for o in outputs) and "widgets" not in nb.metadata
    assert any("interactive ipywidgets panel" in o.get("data", {}).get("text/plain", "") for o in outputs)
    assert copy.stat().st_size < MAX_COPY_BYTES
