"""Quantization study on the offline zoo (akamaster ResNets), CPU. Every stage is resumable: rerun to continue.

  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_quantization.py search  # settings search, ResNet-20
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_quantization.py zoo     # 4 models x 5 sources x 3 seeds
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
from gsoc_helpers.data import load_cifar10
from gsoc_helpers.models.classifiers import OFFLINE_ZOO, get_classifier
from gsoc_helpers.openvino.classifier import throughput, to_openvino
from gsoc_helpers.quantization import evaluate as ev
from gsoc_helpers.quantization.ptq import NNCF_DEFAULTS, PTQConfig, quantize
from gsoc_helpers.quantization.runner import Grid, format_mean_std, load_cells, run_grid, summarize
from gsoc_helpers.series.profiles import run_sizes

STUDY = run_sizes("quick", "quick")  # the quick study: its calibration sources and bn-matching budget
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
PAIR = {"nncf-default": NNCF_DEFAULTS, DEFAULT_NAME: DEFAULT}
VNNI_NAME = "mixed+minmax+nobc+noOF"
BN = {"steps": STUDY.quant_bn_steps}  # bn-matching budget of the CPU study (seconds per image matter here)
RESULTS = Path(__file__).resolve().parent / "quantization_results"


def test_sets() -> dict:
    return {
        "exact": load_cifar10("test", source="exact").to_tensors(),
        "jpeg": load_cifar10("test", source="jpeg").to_tensors(),
    }


def stage(what: str, out: Path, configs: list[str] | None = None) -> None:
    pick = (lambda d: {k: SEARCH[k] for k in configs}) if configs else (lambda d: d)
    if what == "search":
        grids = [
            Grid(
                ["akamaster_resnet20"], ["real", "student", "offline-teacher", "noise"], [300], [0, 1, 2], pick(SEARCH)
            )
        ]
    elif what == "zoo":  # bn-matching (about 70 s per 300 images on this CPU) on ResNet-20 only
        grids = [
            Grid(list(OFFLINE_ZOO), SOURCES[:4], [300], [0, 1, 2], pick(PAIR)),
            Grid(
                ["akamaster_resnet20"],
                ["bn-matching"],
                [300],
                [0, 1, 2],
                pick(PAIR),
                source_options={"bn-matching": BN},
            ),
        ]
    elif what == "vnni":  # the default with 8-bit weights everywhere: safe only on CPUs with VNNI/AMX
        grids = [Grid(list(OFFLINE_ZOO), SOURCES[:3], [300], [0, 1, 2], pick({VNNI_NAME: SEARCH[VNNI_NAME]}))]
    elif what == "sizes":
        grids = [
            Grid(
                ["akamaster_resnet20"],
                ["real", "student"],
                [1, 10, 100, 300, 1000],
                [0, 1, 2],
                pick({DEFAULT_NAME: DEFAULT}),
            )
        ]
    else:
        raise SystemExit(f"unknown stage {what!r}")
    for grid in grids:
        summarize(run_grid(grid, test_sets(), out / what), out / what)


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


def _agree(r, metric: str) -> list[str]:
    if r is None:
        return ["—", "—"]
    n = r["n_seeds"]
    return [
        format_mean_std(r[metric + "_agreement_mean"], r[metric + "_agreement_std"], n),
        format_mean_std(1000 * r[metric + "_kl_mean"], 1000 * r[metric + "_kl_std"], n, digits=1),
    ]


def pair_markdown(table, metric: str = "jpeg") -> str:
    """One row per (model, source): NNCF defaults vs the project default (and, where measured, the default with
    the overflow fix off), agreement % (mean ± std) and KL ×1e-3; INT8 top-1 drop of the default."""
    configs = list(PAIR) + ([VNNI_NAME] if VNNI_NAME in set(table["config"]) else [])
    names = {"nncf-default": "NNCF defaults", DEFAULT_NAME: "project default", VNNI_NAME: "default, overflow fix off"}
    head = ["model", "calibration"] + [f"{names[c]}: {m}" for c in configs for m in ("agreement %", "KL ×1e-3")]
    head += ["default: INT8 top-1 drop, exact / JPEG test (points)", "seeds"]
    rows = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    t = table.set_index(["model", "source", "config"])
    for (model, source), _ in table[table["config"].isin(PAIR)].groupby(["model", "source"], sort=False):
        get = lambda cfg: t.loc[(model, source, cfg)] if (model, source, cfg) in t.index else None  # noqa: E731
        cells = [c for cfg in configs for c in _agree(get(cfg), metric)]
        r = get(DEFAULT_NAME)
        drop = "—" if r is None else f"{r['exact_drop_mean']:+.2f} / {r['jpeg_drop_mean']:+.2f}"
        seeds = "—" if r is None else str(int(r["n_seeds"]))
        rows.append(f"| {model.replace('akamaster_', '')} | {source} | " + " | ".join(cells) + f" | {drop} | {seeds} |")
    return "\n".join(rows) + "\n"


def search_markdown(table, metric: str = "jpeg") -> str:
    """Settings x sources: agreement % (mean ± std) and KL ×1e-3 on the ``metric`` test set."""
    sources = list(dict.fromkeys(table["source"]))
    rows = ["| setting | " + " | ".join(sources) + " |", "|---|" + "---|" * len(sources)]
    t = table.set_index(["config", "source"])
    for cfg in [c for c in SEARCH if c in set(table["config"])]:
        cells = []
        for src in sources:
            r = t.loc[(cfg, src)] if (cfg, src) in t.index else None
            cells.append(
                "—"
                if r is None
                else format_mean_std(r[metric + "_agreement_mean"], r[metric + "_agreement_std"], r["n_seeds"])
                + f" ({1000 * r[metric + '_kl_mean']:.1f})"
            )
        rows.append(f"| {cfg}{' (default)' if cfg == DEFAULT_NAME else ''} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def report(out: Path, results: Path) -> None:
    from gsoc_helpers.quantization.headline_plot import plot_headline
    from gsoc_helpers.quantization.plots import plot_by_source, plot_closest, plot_vs_size

    results.mkdir(parents=True, exist_ok=True)
    for name in ("search", "zoo", "vnni", "sizes"):
        cells = load_cells(out / name / "cells.jsonl")
        if name == "zoo":
            cells = [c for c in cells if c["config"] in PAIR]
        if not cells:
            print(f"[report] no cells for {name!r} yet")
            continue
        (results / f"{name}_cells.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cells))
        table = summarize(cells, results, f"summary_{name}")
        if name == "search":
            (results / "search_pivot.md").write_text(search_markdown(table))
            print("## search pivot\n" + search_markdown(table))
        if name == "zoo":
            both = summarize(cells + load_cells(out / "vnni" / "cells.jsonl"))
            (results / "zoo_pairs.md").write_text(pair_markdown(both))
            print("## zoo pairs\n" + pair_markdown(both))
            plot_closest(table, results / "zoo_jpeg_closest.png", "jpeg")  # agreement + KL per model and source
            plot_headline(table, results / "zoo_jpeg_headline.png", "jpeg")  # the README's figure
            plot_by_source(table, results / "zoo_exact_drop.png", "exact", "drop")
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
    p.add_argument("what", choices=["search", "zoo", "vnni", "sizes", "speed", "report", "plan"])
    p.add_argument("--out", type=Path, default=None, help="cache folder (default: $GSOC_OUTPUT_DIR/quant)")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--seconds", type=float, default=5.0, help="seconds per throughput measurement")
    p.add_argument("--configs", nargs="+", choices=list(SEARCH), help="only these PTQ settings (by name)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = args.out or get_output_dir() / "quant"
    out.mkdir(parents=True, exist_ok=True)
    for what in ["search", "zoo", "vnni", "sizes", "speed", "report"] if args.what == "plan" else [args.what]:
        if what == "speed":
            speed(out, args.seconds)
        elif what == "report":
            report(out, args.results)
        else:
            stage(what, out, args.configs)


if __name__ == "__main__":
    main()
