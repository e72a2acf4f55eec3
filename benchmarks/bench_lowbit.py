"""Below 8 bits on CPU: which calibration source wins with the best range estimator, and synthetic-data fine-tuning.

  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_lowbit.py grid      # models x sources x seeds x bits x estimators
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_lowbit.py finetune  # W4A4 ResNet-20 fine-tuned per source
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_lowbit.py report    # tables + figure -> --results
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_lowbit.py plan      # all three, in order

Every stage is resumable (cells under ``$GSOC_OUTPUT_DIR/quant/lowbit``; fine-tuning checkpoints beside them) and
``grid``/``finetune`` take ``--shard i/n``: n workers (a SLURM array: ``--shard $SLURM_ARRAY_TASK_ID/$N``) each run a
disjoint part; copy their ``cells.jsonl`` / ``finetune.jsonl`` lines into one folder and run ``report``.
Agreement and top-1 are measured on the 1,017 bit-exact CIFAR-10 test images against the FP32 model (f32 hint).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from gsoc_helpers.config import get_output_dir
from gsoc_helpers.data import load_cifar10
from gsoc_helpers.models.classifiers import OFFLINE_ZOO
from gsoc_helpers.quantization.finetune import FinetuneConfig
from gsoc_helpers.quantization.lowbit import LOWBIT_METHODS
from gsoc_helpers.quantization.lowbit_study import BIT_WIDTHS, LowBitGrid, run_lowbit_grid
from gsoc_helpers.quantization.runner import load_cells, shard_of, summarize
from gsoc_helpers.sampling import distributed_shard, parse_shard
from gsoc_helpers.series.profiles import run_sizes

RESULTS = Path(__file__).resolve().parent / "lowbit_results"
BN = {"bn-matching": {"steps": 50}}  # the bn-matching budget of bench_quantization (seconds per image matter here)
FINETUNE_SOURCES = ("student", "real", "noise", "bn-matching")
RUN_KEYS = (
    "source",
    "seed",
    "bits",
    "steps",
    "lr",
    "scale_lr",
    "pool_size",
    "batch_size",
    "calibration_size",
)  # what tells two fine-tuning runs apart


def grid_stage(args, out: Path) -> None:
    grid = LowBitGrid(
        models=args.models,
        sources=args.sources,
        sizes=[args.size],
        seeds=args.seeds,
        bits=args.bits,
        estimators=args.estimators,
        source_options=BN,
    )
    tests = {"exact": load_cifar10("test", source="exact").to_tensors()}
    cells = run_lowbit_grid(grid, tests, out / "grid", shard=args.shard)
    print(f"[grid] {len(cells)} cells of shard {args.shard[0]}/{args.shard[1]} in {out / 'grid' / 'cells.jsonl'}")


def finetune_stage(args, out: Path) -> None:
    from gsoc_helpers.models.classifiers import classifier_info
    from gsoc_helpers.quantization.finetune import finetune_lowbit

    model = args.models[0]
    small = classifier_info(model).image_size == 32  # at 224 px bn-matching keeps its own recipe (LARGE_INPUT)
    jobs = shard_of([(s, seed) for s in args.finetune_sources for seed in args.seeds], args.shard)
    for source, seed in jobs:
        cfg = FinetuneConfig(
            source=source,
            seed=seed,
            steps=args.steps,
            bits=args.finetune_bits,
            pool_size=args.pool_size,
            lr=args.lr,
            scale_lr=args.scale_lr,
            batch_size=args.batch_size,
            calibration_size=args.size,
        )
        name = f"{source}-s{seed}-{cfg.bits}-{cfg.steps}-lr{cfg.lr:g}-{cfg.scale_lr:g}-b{cfg.batch_size}-c{cfg.calibration_size}"
        rec = finetune_lowbit(model, cfg, out / "finetune" / model / name, BN if small else {})
        with open(out / "finetune.jsonl", "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        print(json.dumps(rec))


def report(out: Path, results: Path) -> None:
    from gsoc_helpers.quantization.lowbit_plots import best_estimator_markdown, finetune_markdown, plot_bits

    results.mkdir(parents=True, exist_ok=True)
    cells = load_cells(out / "grid" / "cells.jsonl")
    if not cells:
        raise SystemExit(f"no cells under {out / 'grid'} yet: run the grid stage first")
    (results / "grid_cells.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cells))
    table = summarize(cells, results, "summary_grid")
    runs = load_cells(out / "finetune.jsonl")  # the last record of each run
    tuned = list({(r["model"], *(r["config"][k] for k in RUN_KEYS)): r for r in runs}.values())
    if tuned:
        (results / "finetune.jsonl").write_text("".join(json.dumps(c) + "\n" for c in tuned))
        (results / "finetune.md").write_text(finetune_markdown(tuned))
        print((results / "finetune.md").read_text())
    (results / "best_estimator.md").write_text(best_estimator_markdown(table, "exact"))
    plot_bits(table, results / "lowbit_agreement_drop.png", "exact", tuned)
    print((results / "best_estimator.md").read_text())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["grid", "finetune", "report", "plan"])
    p.add_argument("--models", nargs="+", default=list(OFFLINE_ZOO))
    # the studies' six sources with the offline teacher (NVIDIA's pickle is not needed)
    p.add_argument("--sources", nargs="+", default=list(run_sizes("quick", "full").any_model_sources))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--size", type=int, default=300, help="calibration images")
    p.add_argument("--bits", nargs="+", default=list(BIT_WIDTHS))
    p.add_argument("--estimators", nargs="+", default=list(LOWBIT_METHODS), choices=list(LOWBIT_METHODS))
    p.add_argument("--finetune-sources", nargs="+", default=list(FINETUNE_SOURCES))
    p.add_argument("--finetune-bits", default="W4A4")
    p.add_argument("--steps", type=int, default=2000, help="fine-tuning steps")
    p.add_argument("--lr", type=float, default=FinetuneConfig.lr, help="fine-tuning: weights' learning rate")
    p.add_argument("--scale-lr", type=float, default=FinetuneConfig.scale_lr, help="fine-tuning: step sizes' rate")
    p.add_argument("--batch-size", type=int, default=FinetuneConfig.batch_size, help="fine-tuning: images per step")
    p.add_argument("--pool-size", type=int, default=2048, help="fine-tuning images of a source without a generator")
    p.add_argument("--shard", default=None, help="i/n: this worker's part (default torchrun RANK/WORLD_SIZE or 0/1)")
    p.add_argument("--out", type=Path, default=None, help="cache folder (default: $GSOC_OUTPUT_DIR/quant/lowbit)")
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.shard = parse_shard(args.shard) if args.shard else distributed_shard()
    torch.set_num_threads(1)
    out = args.out or get_output_dir() / "quant" / "lowbit"
    out.mkdir(parents=True, exist_ok=True)
    for what in ["grid", "finetune", "report"] if args.what == "plan" else [args.what]:
        {"grid": lambda: grid_stage(args, out), "finetune": lambda: finetune_stage(args, out)}.get(
            what, lambda: report(out, args.results)
        )()


if __name__ == "__main__":
    main()
