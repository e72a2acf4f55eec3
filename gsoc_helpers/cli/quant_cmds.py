"""Quantization sub-command: ``gsoc-helpers quantize-study --models ... --sources ... [--sizes] [--seeds]``."""
from __future__ import annotations

import argparse

from ..quantization.ptq import ACTIVATION_RANGES, BIAS_CORRECTIONS, OVERFLOW_FIXES, PTQConfig

NNCF = "nncf"  # on the command line: "NNCF's own default" (None in PTQConfig)


def _nncf_or(value: str) -> str | None:
    return None if value == NNCF else value


def _study(args: argparse.Namespace) -> int:
    import torch

    from ..config import get_output_dir
    from ..data import load_cifar10
    from ..quantization.ptq import NNCF_DEFAULTS
    from ..quantization.runner import Grid, run_grid, summarize

    torch.set_num_threads(args.threads)
    configs = {"default": PTQConfig(preset=_nncf_or(args.preset), bias_correction=args.bias_correction,
                                    activation_range=_nncf_or(args.activation_range),
                                    overflow_fix=_nncf_or(args.overflow_fix))}
    if args.compare_nncf_defaults:
        configs["nncf-default"] = NNCF_DEFAULTS
    opts = {"bn-matching": {"steps": args.bn_steps}}
    for spec in args.source_option or []:  # SOURCE:KEY=VALUE
        src, kv = spec.split(":", 1)
        k, v = kv.split("=", 1)
        opts.setdefault(src, {})[k] = v
    given = {k: v for k, v in (("sizes", args.sizes), ("seeds", args.seeds)) if v is not None}
    grid = Grid(models=args.models, sources=args.sources, configs=configs, source_options=opts, **given)
    grid.validate()
    tests = {t: load_cifar10("test", source=t).to_tensors() for t in args.test_sets}
    out = args.out or get_output_dir() / "quant" / "study"
    table = summarize(run_grid(grid, tests, out, threads=args.threads), out)
    print(table.to_string(max_cols=12))
    print(f"tables: {out}/summary.csv, {out}/summary.md")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    ptq = PTQConfig()  # the one source of the PTQ defaults below; --sizes/--seeds unset: Grid's defaults
    p = sub.add_parser("quantize-study", help="INT8 PTQ (OpenVINO+NNCF) grid over models x calibration sources")
    p.add_argument("--models", nargs="+", default=["akamaster_resnet20"])
    p.add_argument("--sources", nargs="+", default=["real", "noise", "bn-matching"])
    p.add_argument("--sizes", nargs="+", type=int, default=None, help="calibration sizes (default: Grid's, 300)")
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="seeds (default: Grid's, 0 1 2)")
    p.add_argument("--preset", default=ptq.preset or NNCF, choices=[NNCF, "mixed", "performance"],
                   help=f"default {ptq.preset or NNCF} (nncf = NNCF's performance preset)")
    p.add_argument("--bias-correction", default=ptq.bias_correction, choices=list(BIAS_CORRECTIONS),
                   help=f"default {ptq.bias_correction} (fast = NNCF's default)")
    p.add_argument("--activation-range", default=ptq.activation_range or NNCF, choices=[NNCF, *ACTIVATION_RANGES],
                   help=f"activation range estimator (default {ptq.activation_range or NNCF}; "
                        "nncf = NNCF's mean_minmax)")
    p.add_argument("--overflow-fix", default=ptq.overflow_fix or NNCF, choices=[NNCF, *OVERFLOW_FIXES],
                   help=f"default {ptq.overflow_fix or NNCF} (nncf = NNCF's first_layer_only)")
    p.add_argument("--compare-nncf-defaults", action="store_true", help="also run nncf.quantize's defaults")
    p.add_argument("--bn-steps", type=int, default=200, help="optimisation steps of the bn-matching source")
    p.add_argument("--source-option", action="append", help="SOURCE:KEY=VALUE, e.g. student:dataset=outputs/x")
    p.add_argument("--test-sets", nargs="+", default=["exact"], help="load_cifar10 test sources (exact, jpeg, ...)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    p.set_defaults(func=_study)
