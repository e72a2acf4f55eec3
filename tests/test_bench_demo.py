"""benchmarks/bench_demo.py reads the per-notebook seconds from the SUMMARY.md that `gsoc-helpers demo` writes, and
the quick scale keeps the demo's heaviest parts (the below-8-bit grid, the fine-tuning, the test sets) small."""

import importlib.util
from pathlib import Path

from gsoc_helpers.series.notebooks import NotebookRun, write_summary
from gsoc_helpers.series.profiles import SCALES

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_demo.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_demo", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reads_each_notebook_from_a_real_summary(tmp_path):
    runs = [
        NotebookRun(Path("01_teacher_sampling.ipynb"), tmp_path / "executed" / "01.ipynb", 8.4, True),
        NotebookRun(Path("05_quantization_experiments.ipynb"), tmp_path / "executed" / "05.ipynb", 151.6, False, "x"),
    ]
    summary = write_summary(tmp_path, runs, {"PROFILE": "quick"}).read_text()
    assert _bench().notebook_seconds(summary) == {
        "01_teacher_sampling.ipynb": {"status": "ok", "seconds": 8},
        "05_quantization_experiments.ipynb": {"status": "FAILED: x", "seconds": 152},
    }


def test_names_the_cpu():
    assert "cores" in _bench().cpu_name()


def test_quick_scale_keeps_the_heaviest_parts_small():
    quick, full = SCALES["quick"], SCALES["full"]
    # the bit-width grid: (sources x bit widths x 3 estimators) cells, each measured on the largest test set
    assert (
        len(quick.quant_sources) * len(quick.quant_bits) * 3 <= 30 < len(full.quant_sources) * len(full.quant_bits) * 3
    )
    assert quick.finetune_steps <= 100 < full.finetune_steps
    assert 0 < quick.quant_test_n <= 2000 and full.quant_test_n == 0  # full: every test image
    assert quick.speed_seconds <= 0.5
    assert quick.quant_test_set_count == 1 and full.quant_test_set_count == 0  # 05: the bit-exact test set only
    assert quick.fid_n + quick.fid_reference_n <= 300 < full.fid_n  # 03: Inception-v3 features on the CPU


def test_docs_target_runs_the_demo_into_the_fresh_folder(tmp_path):
    """`make docs` writes the demo where DOCS_RUN says: the benchmark points it at its fresh folder and reads the
    per-notebook seconds from there (a stand-in `make` that writes the summary gsoc-helpers writes)."""
    import stat
    import sys

    make = tmp_path / "make"
    make.write_text(
        f"#!{sys.executable}\n"
        "import sys\nfrom pathlib import Path\n"
        "from gsoc_helpers.series.notebooks import NotebookRun, write_summary\n"
        "run = Path(next(a.split('=', 1)[1] for a in sys.argv if a.startswith('DOCS_RUN=')))\n"
        "run.mkdir(parents=True)\n"
        "write_summary(run, [NotebookRun(Path('01_teacher_sampling.ipynb'), run / '01.ipynb', 3.0, True)], {})\n"
    )
    make.chmod(make.stat().st_mode | stat.S_IEXEC)
    result = _bench().run(str(make), "docs")
    assert result["returncode"] == 0
    assert result["notebooks"] == {"01_teacher_sampling.ipynb": {"status": "ok", "seconds": 3}}
