"""The stored notebooks are clean, and each runs top to bottom with smoke parameters."""

from __future__ import annotations

import os

import nbformat
import pytest

from gsoc_helpers.series.notebooks import has_outputs, list_notebooks, output_noise

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

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# t"),
            nbformat.v4.new_code_cell("A = 1", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("print(A)"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, str(tmp_path / "in.ipynb"))
    papermill.execute_notebook(
        str(tmp_path / "in.ipynb"),
        str(tmp_path / "out.ipynb"),
        parameters={"A": 2, "SIZES": {"fid_n": "8"}},
        prepare_only=True,
    )
    cells = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4).cells
    assert "injected-parameters" in cells[2].metadata["tags"]
    assert "A = 2" in cells[2].source and 'SIZES = {"fid_n": "8"}' in cells[2].source


@pytest.mark.slow
def test_every_notebook_passes_under_nbmake_at_smoke_scale(tmp_path, shared_data_root):
    """A runner that is not the project's: ``pytest --nbmake`` (nbclient, the notebook's own
    ``metadata.execution.timeout``, no parameters injected), the scale set only by ``GSOC_SCALE``.  The quick
    profile reads the offline data root (without one, tests/test_full_profile_smoke.py still runs every notebook
    through papermill against a loopback mirror).  Runs on copies: ``--overwrite`` writes the outputs back."""
    import shutil
    import subprocess
    import sys

    copies = tmp_path / "notebooks"
    copies.mkdir()
    for path in NOTEBOOKS:
        shutil.copy2(path, copies / path.name)
    env = {**os.environ, "GSOC_SCALE": "smoke", "GSOC_PROFILE": "quick", "GSOC_OUTPUT_DIR": str(tmp_path / "out")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbmake",
            "--overwrite",
            "-p",
            "no:cacheprovider",
            "-q",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            str(copies),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"{len(NOTEBOOKS)} passed" in run.stdout
    for path in NOTEBOOKS:
        nb = nbformat.read(str(copies / path.name), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), f"{path.name}: not every cell ran"
        noise = output_noise(nb)
        assert not noise, f"{path.name}: warning/log/progress text in the outputs: {noise[:5]}"
    first = nbformat.read(str(copies / NOTEBOOKS[0].name), as_version=4)
    printed = "".join(o.get("text", "") for c in first.cells if c.cell_type == "code" for o in c.outputs)
    assert "quick-smoke" in printed  # the series folder of the scale GSOC_SCALE picked


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_an_execution_timeout(path):
    """``metadata.execution.timeout`` (read by nbmake) covers the notebook's slowest cell at the quick scale."""
    timeout = nbformat.read(str(path), as_version=4).metadata.get("execution", {}).get("timeout")
    assert isinstance(timeout, int) and 300 <= timeout <= 3600, timeout


def test_output_noise_finds_warnings_and_progress_bars():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "x", outputs=[nbformat.v4.new_output("stream", name="stderr", text="a.py:3: FutureWarning: old\n")]
            ),
            nbformat.v4.new_code_cell(
                "y", outputs=[nbformat.v4.new_output("stream", name="stdout", text="ok 98.5 %\n")]
            ),
            nbformat.v4.new_code_cell(
                "z",
                outputs=[nbformat.v4.new_output("display_data", data={"text/plain": "Statistics collection ━━━ 100%"})],
            ),
        ]
    )
    assert output_noise(nb) == ["cell 0: a.py:3: FutureWarning: old", "cell 2: Statistics collection ━━━ 100%"]


def test_output_noise_finds_log_lines_and_stale_bars():
    lines = [
        "INFO:nncf:Elapsed Time: 00:00:00",
        "INFO:nncf:Accuracy drop: -0.0020000000000000018",
        "WARNING:root:something",
        "[IPKernelApp] INFO | kernel",
        "ERROR: failed",
        "  0%|          | 0/3000",
    ]
    kept = [
        "information: 3 layers left in FP32",
        "accuracy drop of 0.2 points",
        "agreement 98.5 % | KL 2e-3",
        "distill: 60/60 steps in 12.3 s (4.87 steps/s)",
    ]
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "x", outputs=[nbformat.v4.new_output("stream", name="stdout", text="\n".join(lines + kept) + "\n")]
            )
        ]
    )
    assert output_noise(nb) == [f"cell 0: {ln.strip()}" for ln in lines]


def test_quiet_progress_keeps_nncf_info_lines_back():
    """Through a handler of our own beside NNCF's stdout one (whose stream pytest may have swapped earlier)."""
    import io
    import logging

    from nncf.common.logging import nncf_logger

    from gsoc_helpers.quiet import quiet_progress

    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    nncf_logger.addHandler(handler)
    level = nncf_logger.level
    nncf_logger.setLevel(logging.INFO)  # NNCF's own default (an earlier test may have changed it)
    try:
        with quiet_progress():
            nncf_logger.info("Elapsed Time: 00:00:00")
            nncf_logger.warning("a real warning")
        nncf_logger.info("after the block")
    finally:
        nncf_logger.removeHandler(handler)
        nncf_logger.setLevel(level)
    out = buf.getvalue()
    assert "Elapsed Time" not in out and "WARNING:nncf:a real warning" in out and "INFO:nncf:after the block" in out
