"""INT8 side measurements on the offline zoo (akamaster ResNets), CPU: the calibration-size sweep, 8-bit weights
everywhere (overflow fix off) and speed. The study itself (settings chosen on validation, every source on test) is
``benchmarks/bench_study.py``. Every stage is resumable: rerun to continue.

  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_quantization.py vnni    # overflow fix off, 4 models
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_quantization.py sizes   # calibration-size sweep
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_quantization.py speed   # FP32 / BF16 / INT8 throughput
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_quantization.py report  # tables + plots -> --results
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_quantization.py plan    # all of the above, in order

Cells are cached under ``$GSOC_OUTPUT_DIR/quant/<stage>/cells.jsonl``; ``report`` writes the tables and plots to
``benchmarks/quantization_results`` (``--results`` to change). Agreement and KL are INT8 vs the FP32 model run
with ``INFERENCE_PRECISION_HINT=f32`` (OpenVINO would otherwise run "FP32" in BF16 on CPUs that have it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from gsoc_helpers.config import get_output_dir
from gsoc_helpers.models.classifiers import OFFLINE_ZOO, get_classifier
from gsoc_helpers.openvino.classifier import throughput, to_openvino
from gsoc_helpers.quantization import evaluate as ev
from gsoc_helpers.quantization.ptq import NNCF_DEFAULTS, PTQConfig, quantize
from gsoc_helpers.series.profiles import run_sizes
from gsoc_helpers.study.cells import load_cells
from gsoc_helpers.study.engine import run_study
from gsoc_helpers.study.specs import Int8Spec
from gsoc_helpers.study.splits import cifar10_splits
from gsoc_helpers.study.tables import summarize

STUDY = run_sizes("quick", "quick")  # the quick study: its calibration sources
SOURCES = list(STUDY.quant_sources)  # real, offline-teacher, student (the bundled generators), noise, bn-matching
DEFAULT = PTQConfig()  # the project default (= "mixed+minmax+nobc" below)


def _cfg(preset: str, bc: str, rng: str | None = "minmax", of: str | None = None) -> PTQConfig:
    return PTQConfig(preset=preset, bias_correction=bc, activation_range=rng, overflow_fix=of)


SEARCH = {  # every setting spelled out, so that cached cells keep their keys when the default changes
    "nncf-default": NNCF_DEFAULTS,
    "perf+fullbc": _cfg("performance", "full", None),  # session-1 default: NNCF's mean-of-min/max ranges
    "minmax+fastbc": _cfg("performance", "fast"),
    "minmax+fullbc": _cfg("performance", "full"),
    "minmax+nobc": _cfg("performance", "none"),
    "minmax+fullbc+noOF": _cfg("performance", "full", of="disable"),
    "minmax+nobc+noOF": _cfg("performance", "none", of="disable"),
    "histogram+fullbc": _cfg("performance", "full", "histogram"),
    "mixed+minmax+fullbc": _cfg("mixed", "full"),
    "mixed+minmax+nobc": _cfg("mixed", "none"),
    "mixed+minmax+nobc+noOF": _cfg("mixed", "none", of="disable"),
}
assert SEARCH["mixed+minmax+nobc"] == DEFAULT
DEFAULT_NAME = "mixed+minmax+nobc"
VNNI_NAME = "mixed+minmax+nobc+noOF"
RESULTS = Path(__file__).resolve().parent / "quantization_results"


def stage(what: str, out: Path, configs: list[str] | None = None) -> None:
    pick = (lambda d: {k: SEARCH[k] for k in configs}) if configs else (lambda d: d)
    if what == "vnni":  # the default with 8-bit weights everywhere: safe only on CPUs with VNNI/AMX
        specs = [
            Int8Spec(list(OFFLINE_ZOO), SOURCES[:3], [300], [0, 1, 2], configs=pick({VNNI_NAME: SEARCH[VNNI_NAME]}))
        ]
    elif what == "sizes":
        specs = [Int8Spec(["akamaster_resnet20"], ["real", "student"], [1, 10, 100, 300, 1000], [0, 1, 2],
                          configs=pick({DEFAULT_NAME: DEFAULT}))]  # fmt: skip
    else:
        raise SystemExit(f"unknown stage {what!r}")
    splits = cifar10_splits(test_sources=("exact", "jpeg"))
    for spec in specs:
        summarize(run_study(spec, splits, "test", out / what), out / what)


def speed(out: Path, seconds: float) -> None:
    """FP32 (f32 hint), OpenVINO's default float precision (BF16 here) and INT8 images/s at batch 1 and 64."""
    from gsoc_helpers.calibration import get_calibration

    rows = []
    for name in OFFLINE_ZOO:
        fp32 = to_openvino(get_classifier(name))
        int8 = quantize(fp32, get_calibration("real", 300, 0).images, DEFAULT)
        row = {
            "model": name,
            "size_fp32": ev.model_size_bytes(fp32),
            "size_int8": ev.model_size_bytes(int8),
            "fp32_layers_in_int8": ev.fp32_layers(int8),
        }
        for b in (1, 64):
            row[f"fp32_b{b}"] = throughput(fp32, b, seconds, precision="f32")
            row[f"auto_b{b}"] = throughput(fp32, b, seconds, precision=None)
            row[f"int8_b{b}"] = throughput(int8, b, seconds, precision=None)
        rows.append(row)
        print(json.dumps(row), flush=True)
    (out / "speed.json").write_text(json.dumps(rows, indent=1))


def speed_markdown(rows: list[dict]) -> str:
    head = (
        "| model | IR MB FP32 / INT8 | FP32 img/s b1 / b64 | default (BF16) b1 / b64 | INT8 b1 / b64 "
        "| INT8 / FP32 b64 | INT8 / BF16 b64 |\n|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['model']} | {r['size_fp32'] / 1e6:.2f} / {r['size_int8'] / 1e6:.2f} "
        f"| {r['fp32_b1']:.0f} / {r['fp32_b64']:.0f} | {r['auto_b1']:.0f} / {r['auto_b64']:.0f} "
        f"| {r['int8_b1']:.0f} / {r['int8_b64']:.0f} | {r['int8_b64'] / r['fp32_b64']:.2f}× "
        f"| {r['int8_b64'] / r['auto_b64']:.2f}× |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


def report(out: Path, results: Path) -> None:
    from gsoc_helpers.quantization.plots import plot_vs_size

    results.mkdir(parents=True, exist_ok=True)
    for name in ("vnni", "sizes"):
        cells = load_cells(out / name / "cells.jsonl")
        if not cells:
            print(f"[report] no cells for {name!r} yet")
            continue
        (results / f"{name}_cells.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cells))
        table = summarize(cells, results, f"summary_{name}")
        if name == "sizes":
            for metric in ("agreement", "kl"):
                plot_vs_size(table, results / f"sizes_jpeg_{metric}.png", "jpeg", metric)
        print(f"## {name}\n" + (results / f"summary_{name}.md").read_text())
    if (out / "speed.json").is_file():
        rows = json.loads((out / "speed.json").read_text())
        (results / "speed.json").write_text(json.dumps(rows, indent=1))
        (results / "speed.md").write_text(speed_markdown(rows))
        print("## speed\n" + speed_markdown(rows))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["vnni", "sizes", "speed", "report", "plan"])
    p.add_argument("--out", type=Path, default=None, help="cache folder (default: $GSOC_OUTPUT_DIR/quant)")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--seconds", type=float, default=5.0, help="seconds per throughput measurement")
    p.add_argument("--configs", nargs="+", choices=list(SEARCH), help="only these PTQ settings (by name)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = args.out or get_output_dir() / "quant"
    out.mkdir(parents=True, exist_ok=True)
    for what in ["vnni", "sizes", "speed", "report"] if args.what == "plan" else [args.what]:
        if what == "speed":
            speed(out, args.seconds)
        elif what == "report":
            report(out, args.results)
        else:
            stage(what, out, args.configs)


if __name__ == "__main__":
    main()
