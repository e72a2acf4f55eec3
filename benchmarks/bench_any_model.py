"""EfficientNet-Lite0 (ImageNet, 224x224) INT8 with every registered calibration source, both PTQ settings, several
seeds: the study of notebook 06 at full size, for benchmarks/RESULTS.md. CPU. Resumable (cells cached in
``$GSOC_OUTPUT_DIR/any_model/cells.jsonl``, shared with bench_bn_matching.py).

  GSOC_DATA_ROOT=... .venv/bin/python benchmarks/bench_any_model.py [--seeds 0 1 2] [--bn-seeds 0] [--size 128]

Prints the Markdown table and writes the figure to ``--results`` (default benchmarks/any_model_results/).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gsoc_helpers.config import get_output_dir
from gsoc_helpers.quantization.any_model import AnyModelStudy, plot_study, run_study, study_table
from gsoc_helpers.series.profiles import run_sizes


def _fmt(row, key: str, digits: int = 1) -> str:
    m, s = row[key], row[key + "_std"]
    return f"{m:.{digits}f}" + (f" ± {s:.{digits}f}" if row["seeds"] > 1 else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--bn-seeds", type=int, nargs="+", default=None, help="bn-matching's seeds (default: --seeds)")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--sources", nargs="+", default=None, help="default: the full profile's sources")
    ap.add_argument("--cifar-test", type=int, default=300, help="CIFAR-10 test pictures, upsampled")
    ap.add_argument("--results", type=Path, default=Path(__file__).parent / "any_model_results")
    args = ap.parse_args()
    sources = tuple(args.sources or run_sizes("quick", "full").any_model_sources)
    bn_seeds = tuple(args.bn_seeds or args.seeds)
    studies = [
        AnyModelStudy(sources=tuple(s for s in sources if s != "bn-matching"), seeds=tuple(args.seeds)),
        AnyModelStudy(sources=("bn-matching",) if "bn-matching" in sources else (), seeds=bn_seeds),
    ]
    cells = []
    for study in studies:
        study.calibration_size, study.cifar_test_n = args.size, args.cifar_test
        cells += run_study(study, get_output_dir() / "any_model")
    table = study_table(cells)
    args.results.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.results / "summary.csv", index=False)
    print(plot_study(table, args.results / "agreement_photos.png"))
    print("| source | PTQ | seeds | photos: agreement | confident | top-5 overlap | KL | CIFAR-10↑: agreement | confident "
          "| top-5 overlap | KL | images/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for _, r in table.iterrows():
        cells = [_fmt(r, f"{e}_{m}", 3 if m == "kl" else 1) for e in ("photos", "cifar10-test")
                 for m in ("agreement", "agreement_confident", "top5_overlap", "kl")]  # fmt: skip
        speed = args.size / r["calibration_seconds"]
        print(f"| {r['source']} | {r['config']} | {r['seeds']} | " + " | ".join(cells) + f" | {speed:.2f} |")


if __name__ == "__main__":
    main()
