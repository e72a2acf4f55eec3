"""Progress bars: one final line (count, time, rate) in a saved notebook, never the widget's "0%| | 0/3000"."""

from __future__ import annotations

import re

import nbformat
import pytest

from gsoc_helpers.progress import final_line, progress
from gsoc_helpers.series.notebooks import output_noise

LINE = re.compile(r"^loop: 3,000/3,000 it in \d+\.\d s \([\d,.]+ it/s\)$")


def test_outside_a_kernel_it_is_tqdms_text_bar(capsys):
    from tqdm import tqdm

    bar = progress(range(3), desc="loop")
    assert type(bar) is tqdm and sum(bar) == 3
    with progress(total=10, desc="steps", unit="step", disable=True) as off:
        off.update(10)
    assert capsys.readouterr().out == ""


def test_final_line_counts_time_rate_and_postfix():
    import io

    bar = progress(total=60, desc="distill", unit="step", file=io.StringIO())
    bar.update(60)
    bar.set_postfix(g="0.412")
    bar.start_t -= 12.0  # as if the loop had run 12 s
    line = final_line(bar)
    assert re.fullmatch(r"distill: 60/60 step in 12\.\d s \(5 step/s\), g=0\.412", line), line
    bar.n = 12
    assert final_line(bar).startswith("distill: stopped at 12/60 step in")
    size = progress(total=2_000_000, desc="download x", unit="B", unit_scale=True, file=io.StringIO())
    size.update(2_000_000)
    assert final_line(size).startswith("download x: 2.00M/2.00M B in")
    bar.close(), size.close()
    with progress([], desc="quantize-study", file=io.StringIO()) as empty:
        assert final_line(empty) == "quantize-study: nothing left to run"
    steps = progress(total=5, desc="quantize", file=io.StringIO())
    steps.set_description("report")  # tqdm stores "report: "; the line shows one separator, not "report: : 5/5"
    steps.update(5)
    assert final_line(steps).startswith("report: 5/5 it in"), final_line(steps)
    steps.close()


CELLS = [
    "from gsoc_helpers.progress import progress",
    "for _ in progress(range(3000), desc='loop'):\n    pass",
    "bar = progress(total=50, desc='manual', unit='step')\nfor _ in range(20):\n    bar.update(1)\nbar.close()",
    "for _ in progress(range(5), desc='inner', leave=False):\n    pass",
    "with progress(total=4, desc='ctx', unit='img') as bar:\n    bar.update(4)\n    bar.set_postfix(loss='0.5')",
]


@pytest.mark.slow
def test_saved_notebook_keeps_one_final_line_per_loop(tmp_path):
    """Executed by nbclient (what papermill and nbmake run on), with no widget front end, as in CI or Binder."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    nbformat.write(nb, str(tmp_path / "run.ipynb"))
    saved = nbformat.read(str(tmp_path / "run.ipynb"), as_version=4)

    def texts(i):
        outs = saved.cells[i].outputs
        assert all("application/vnd.jupyter.widget-view+json" not in o.get("data", {}) for o in outs), outs
        return [t for o in outs for t in (o.get("text", ""), o.get("data", {}).get("text/plain", "")) if t]

    assert len(texts(1)) == 1 and LINE.match(texts(1)[0]), texts(1)
    assert len(texts(2)) == 1 and texts(2)[0].startswith("manual: stopped at 20/50 step in"), texts(2)
    assert texts(3) == []  # leave=False: nothing left behind
    assert len(texts(4)) == 1 and re.match(r"ctx: 4/4 img in .* img/s\), loss=0\.5$", texts(4)[0]), texts(4)
    assert output_noise(saved) == []
