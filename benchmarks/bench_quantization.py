"""Quantization study on the offline zoo (akamaster ResNets), CPU. Resumable: rerun to continue.

  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_quantization.py search   # NNCF defaults vs settings
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_quantization.py zoo      # models x sources x seeds
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_quantization.py sizes    # calibration-size sweep
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_quantization.py speed    # FP32 vs INT8 throughput
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_quantization.py synthetic  # bundled teacher/student sources
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_quantization.py report   # tables + plots of plan/synthetic
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from gsoc_helpers.config import get_output_dir
from gsoc_helpers.data import load_cifar10
from gsoc_helpers.models.classifiers import OFFLINE_ZOO, get_classifier
from gsoc_helpers.quantization import evaluate as ev
from gsoc_helpers.quantization.ptq import NNCF_DEFAULTS, PTQConfig, quantize, to_openvino
from gsoc_helpers.quantization.runner import Grid, run_grid, summarize

SOURCES = ["real", "noise", "bn-matching", "teacher", "student"]  # teacher/student: the bundled generators
BEST = PTQConfig()  # the project default (performance preset, full bias correction)
MIXED = PTQConfig(preset="mixed")
SEARCH = {
    "nncf-default": NNCF_DEFAULTS,
    "perf+fullbc": BEST,
    "mixed+fastbc": PTQConfig(preset="mixed", fast_bias_correction=True),
    "mixed+fullbc": MIXED,
    "mixed+fullbc+noOF": PTQConfig(preset="mixed", overflow_fix="disable"),
    "mixed+fullbc+fp32head": PTQConfig(preset="mixed", ignored_patterns=[".*linear/aten::linear/MatMul"]),
}
PAIR = {"nncf-default": NNCF_DEFAULTS, "perf+fullbc": BEST}
BN = {"steps": 50}  # bn-matching budget used in the CPU study (seconds per image matter here)


def test_sets() -> dict:
    return {"exact": load_cifar10("test", source="exact").to_tensors(),
            "jpeg": load_cifar10("test", source="jpeg").to_tensors()}


def main(what: str) -> None:
    torch.set_num_threads(1)
    out = get_output_dir() / "quant"
    if what == "plan":  # everything, most important first, one resumable cache
        ts, d = test_sets(), out / "study"
        jpeg = {"source_options": {"real": {"train_source": "jpeg"}}, "source_labels": {"real": "real-jpeg"}}
        steps = [
            Grid(["akamaster_resnet20"], ["real"], [300], [0, 1, 2], SEARCH),
            Grid(["akamaster_resnet20"], ["real"], [300], [0, 1, 2], PAIR, **jpeg),  # per-source preprocessing
            Grid(["akamaster_resnet20"], ["noise"], [300], [0, 1, 2], PAIR),
            Grid(["akamaster_resnet20"], ["bn-matching"], [300], [0, 1, 2], {"perf+fullbc": BEST},
                 source_options={"bn-matching": BN}),
            Grid(["akamaster_resnet56"], ["real", "noise"], [300], [0, 1, 2], PAIR),
            Grid(["akamaster_resnet32", "akamaster_resnet44"], ["real", "noise"], [300], [0, 1, 2], PAIR),
            Grid(["akamaster_resnet20"], ["real"], [1, 10, 100, 1000], [0, 1, 2], {"perf+fullbc": BEST}),
        ]
        for g in steps:
            summarize(run_grid(g, ts, d), d)
    elif what == "synthetic":  # calibration images from the bundled offline teacher and distilled student
        d = out / "study"
        grid = Grid(["akamaster_resnet20"], ["teacher", "student"], [300], [0, 1, 2], PAIR)
        summarize(run_grid(grid, test_sets(), d), d)
    elif what == "report":  # tables + plots from the study cache
        from gsoc_helpers.quantization.plots import plot_drop_by_source, plot_drop_vs_size
        from gsoc_helpers.quantization.runner import load_cells

        d = out / "study"
        cells = load_cells(d / "cells.jsonl")
        table = summarize([c for c in cells if c["size"] == 300], d, "summary_300")
        sizes = summarize([c for c in cells if c["config"] == "perf+fullbc" and c["source"] == "real"
                           and c["model"] == "akamaster_resnet20"], d, "summary_sizes")
        for metric in ("exact_drop", "jpeg_agreement", "jpeg_kl"):
            plot_drop_by_source(table, d / f"by_source_{metric}.png", metric=metric, config="perf+fullbc")
        plot_drop_vs_size(sizes, d / "drop_vs_size.png", metric="jpeg_agreement")
        print((d / "summary_300.md").read_text())
    elif what == "search":
        grid = Grid(models=list(OFFLINE_ZOO), sources=["real", "noise"], sizes=[300], seeds=[0, 1, 2], configs=SEARCH)
        summarize(run_grid(grid, test_sets(), out / "search"), out / "search")
    elif what == "search-jpeg":  # per-source preprocessing: calibrate on JPEG-compressed train images
        grid = Grid(models=list(OFFLINE_ZOO), sources=["real"], sizes=[300], seeds=[0, 1, 2],
                    configs={"perf+fullbc": BEST}, source_options={"real": {"train_source": "jpeg"}})
        summarize(run_grid(grid, test_sets(), out / "search-jpeg"), out / "search-jpeg")
    elif what == "zoo":
        grid = Grid(models=list(OFFLINE_ZOO), sources=SOURCES, sizes=[300], seeds=[0, 1, 2])
        summarize(run_grid(grid, test_sets(), out / "zoo"), out / "zoo")
    elif what == "sizes":
        grid = Grid(models=["akamaster_resnet20"], sources=["real", "noise"], sizes=[1, 10, 100, 300, 1000],
                    seeds=[0, 1, 2])
        summarize(run_grid(grid, test_sets(), out / "sizes"), out / "sizes")
    elif what == "speed":
        from gsoc_helpers.calibration import get_calibration

        rows = []
        for name in OFFLINE_ZOO:
            fp32 = to_openvino(get_classifier(name))
            int8 = quantize(fp32, get_calibration("real", 300, 0).images, BEST)
            row = {"model": name, "size_fp32": ev.model_size_bytes(fp32), "size_int8": ev.model_size_bytes(int8),
                   "fp32_layers_in_int8": ev.fp32_layers(int8)}
            for b in (1, 64):
                row[f"fp32_b{b}"] = ev.throughput(fp32, b)
                row[f"int8_b{b}"] = ev.throughput(int8, b)
            rows.append(row)
            print(json.dumps(row))
        (out / "speed.json").write_text(json.dumps(rows, indent=1))
    else:
        raise SystemExit(f"unknown study {what!r}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "search")
