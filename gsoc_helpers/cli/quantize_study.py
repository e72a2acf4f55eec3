"""Quantization sub-command: ``gsoc-helpers quantize-study --models ... --sources ... [--sizes] [--seeds]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..defaults import BN_MATCHING_STEPS, CALIBRATION_SIZE, SEEDS
from ..quantization.lowbit import LOWBIT_METHODS
from ..quantization.ptq import ACTIVATION_RANGES, BIAS_CORRECTIONS, OVERFLOW_FIXES, PTQConfig
from ..quantization.settings import PROJECT_DEFAULT, VALIDATION_DATA, AccuracyControl, points_to_fraction
from ..series.profiles import run_sizes
from .args import add_max_drop, add_out, add_source_option, non_negative_int, positive_int

# What a study writes into --out (gsoc_helpers.study): the names its folder's mark lists.
OUTPUT_NAMES = ("cells.jsonl", "summary.csv", "summary.md")
NNCF = "nncf"  # on the command line: "NNCF's own default" (None in PTQConfig)


def output_inputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The inputs --out must stay apart from: the test sets and the paths given as source options (names that are
    not on disk are skipped)."""
    found = [("test set", t) for t in args.test_sets] + [("model", m) for m in args.models]
    return found + [
        (f"--source-option {src}:{key}", value)
        for src, key, value in args.source_option
        if isinstance(value, str) and value
    ]


def _nncf_or(value: str) -> str | None:
    return None if value == NNCF else value


# Config names of accuracy-aware runs in the tables, per validation data (labelled: the 2022 protocol is explicit).
AAC_CONFIG_NAMES = {"heldout": "accuracy-aware", "calibration": "accuracy-aware-on-calibration(2022)"}


def accuracy_controls(args: argparse.Namespace) -> dict[str, AccuracyControl]:
    """Config name -> AccuracyControl for each ``--accuracy-data`` choice when ``--accuracy-aware`` is given."""
    if not args.accuracy_aware:
        return {}
    out = {
        AAC_CONFIG_NAMES[v]: AccuracyControl(
            max_drop=points_to_fraction(args.max_drop), validation=v, val_size=args.val_size
        )
        for v in dict.fromkeys(args.accuracy_data)
    }
    for control in out.values():
        control.validate()
    return out


def add_accuracy_arguments(p: argparse.ArgumentParser) -> None:
    d = AccuracyControl()
    p.add_argument(
        "--accuracy-aware",
        action="store_true",
        help="also run NNCF accuracy-aware PTQ (quantize_with_accuracy_control) with the default settings",
    )
    add_max_drop(p, d.max_drop, "accuracy-aware")
    p.add_argument(
        "--accuracy-data",
        nargs="+",
        default=[d.validation],
        choices=list(VALIDATION_DATA),
        help="accuracy-aware validation data: heldout = real train images not in the calibration set "
        "(default); calibration = the 2022 protocol, accuracy measured on the calibration set itself",
    )
    p.add_argument("--val-size", type=int, default=d.val_size, help="accuracy-aware: held-out images")


def _study(args: argparse.Namespace) -> int:
    import torch

    from ..calibration import check_source_options
    from ..config import default_output
    from ..quantization.ptq import NNCF_DEFAULTS
    from ..sampling import distributed_shard, parse_shard
    from ..study.engine import run_study
    from ..study.specs import BitsSpec, Int8Spec
    from ..study.splits import cifar10_splits
    from ..study.tables import summarize

    torch.set_num_threads(args.threads)
    configs = {
        PROJECT_DEFAULT: PTQConfig(
            preset=_nncf_or(args.preset),
            bias_correction=args.bias_correction,
            activation_range=_nncf_or(args.activation_range),
            overflow_fix=_nncf_or(args.overflow_fix),
        )
    }
    if args.compare_nncf_defaults:
        configs["nncf-default"] = NNCF_DEFAULTS
    controls = accuracy_controls(args)
    configs.update({name: configs[PROJECT_DEFAULT] for name in controls})
    opts = {"bn-matching": {"steps": args.bn_steps}}
    for src, key, value in args.source_option:  # SOURCE:KEY=VALUE
        if src is None:
            raise ValueError(
                f"--source-option {key}=...: name the source, e.g. student:{key}=..., since this command "
                "calibrates on several"
            )
        opts.setdefault(src, {})[key] = value
    for src, given_opts in opts.items():  # an unknown key: one line now, not a traceback hours into the grid
        if src in args.sources:
            check_source_options(src, {k: v for k, v in given_opts.items() if k != "classifier"})
    given = {k: v for k, v in (("sizes", args.sizes), ("seeds", args.seeds)) if v is not None}
    common = dict(models=args.models, sources=args.sources, source_options=opts, **given)
    if args.estimators is not None and not args.bits:
        raise ValueError("--estimators chooses the range estimators of a --bits study: give --bits too, or drop it")
    if args.bits and (args.compare_nncf_defaults or args.accuracy_aware):
        raise ValueError(
            "--bits re-levels the project's PTQ setting only: drop --compare-nncf-defaults/--accuracy-aware"
        )
    spec: Int8Spec | BitsSpec = (
        BitsSpec(
            bits=args.bits, estimators=args.estimators or list(LOWBIT_METHODS), ptq=configs[PROJECT_DEFAULT], **common
        )
        if args.bits  # the bit-width axis: one NNCF calibration per group, re-levelled per cell
        else Int8Spec(configs=configs, accuracy_control=controls, **common)
    )
    spec.validate()
    shard = parse_shard(args.shard) if args.shard else distributed_shard()
    out = args.out or default_output("quantize-study")
    splits = cifar10_splits(test_sources=tuple(args.test_sets))
    view = splits.selection() if args.on == "validation" else splits
    cells = run_study(spec, view, args.on, out, threads=args.threads, shard=shard)
    if not cells:
        print(f"shard {shard[0]}/{shard[1]}: no cells (the study has fewer parts than shards)")
        return 0
    table = summarize(cells, out)
    print(table.to_string(max_cols=12))
    if shard[1] > 1:  # the tables hold this part's cells only: say so where they are read
        note = (
            f"PARTIAL: shard {shard[0]}/{shard[1]} of the grid ({len(cells)} cells); concatenate every shard's "
            "cells.jsonl into one folder and rerun without --shard for the whole summary"
        )
        md = Path(out) / "summary.md"
        md.write_text(f"{note}\n\n{md.read_text()}")
        print(note)
    print(f"tables: {out}/summary.csv, {out}/summary.md")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    ptq = PTQConfig()  # the one source of the PTQ defaults below; --sizes/--seeds unset: the spec's defaults
    p = sub.add_parser("quantize-study", help="INT8 PTQ (OpenVINO+NNCF) grid over models x calibration sources")
    p.add_argument("--models", nargs="+", default=["akamaster_resnet20"])
    study = run_sizes("quick", "quick")  # the notebook's study: its calibration sources
    p.add_argument(
        "--sources",
        nargs="+",
        default=list(study.quant_sources),
        help=f"calibration sources (default {' '.join(study.quant_sources)}; any registered source)",
    )
    p.add_argument(
        "--sizes", nargs="+", type=positive_int, default=None, help=f"calibration sizes (default {CALIBRATION_SIZE})"
    )
    p.add_argument(
        "--seeds", nargs="+", type=non_negative_int, default=None, help=f"seeds (default {' '.join(map(str, SEEDS))})"
    )
    p.add_argument(
        "--preset",
        default=ptq.preset or NNCF,
        choices=[NNCF, "mixed", "performance"],
        help=f"default {ptq.preset or NNCF} (nncf = NNCF's performance preset)",
    )
    p.add_argument(
        "--bias-correction",
        default=ptq.bias_correction,
        choices=list(BIAS_CORRECTIONS),
        help=f"default {ptq.bias_correction} (fast = NNCF's default)",
    )
    p.add_argument(
        "--activation-range",
        default=ptq.activation_range or NNCF,
        choices=[NNCF, *ACTIVATION_RANGES],
        help=f"activation range estimator (default {ptq.activation_range or NNCF}; nncf = NNCF's mean_minmax)",
    )
    p.add_argument(
        "--overflow-fix",
        default=ptq.overflow_fix or NNCF,
        choices=[NNCF, *OVERFLOW_FIXES],
        help=f"default {ptq.overflow_fix or NNCF} (nncf = NNCF's first_layer_only)",
    )
    p.add_argument("--compare-nncf-defaults", action="store_true", help="also run nncf.quantize's defaults")
    add_accuracy_arguments(p)
    p.add_argument(
        "--bn-steps", type=positive_int, default=BN_MATCHING_STEPS, help="optimisation steps of the bn-matching source"
    )
    add_source_option(p, "student:dataset=outputs/x")
    p.add_argument("--test-sets", nargs="+", default=["exact"], help="load_cifar10 test sources (exact, jpeg, ...)")
    p.add_argument(
        "--on",
        choices=["test", "validation"],
        default="test",
        help="measure on the test sets (default) or on the protocol's validation images (5,000 CIFAR-10 test-split "
        "images in no test set): choose settings on validation, report them on test",
    )
    p.add_argument(
        "--bits",
        nargs="+",
        default=None,
        help="bit widths below 8: 8 6 5 4 (= W8A8 ...) or W4A8 W8A4; NNCF's own call where it expresses them, "
        "else an NNCF INT8 calibration re-levelled to b-bit weights and activations (gsoc_helpers.quantization.lowbit)",
    )
    p.add_argument(
        "--estimators",
        nargs="+",
        default=None,
        choices=list(LOWBIT_METHODS),
        help="with --bits: activation range estimators of the re-levelled model at each bit width, and 'nncf' "
        "(NNCF's own call, for W8A8 W4A8 W8A4 W4A4) (default: all)",
    )
    p.add_argument(
        "--shard",
        default=None,
        help="'i/n': run only part i of n of the study (default torchrun RANK/WORLD_SIZE or 0/1); the parts are "
        "disjoint: concatenate their cells.jsonl into one folder and rerun without --shard for the summary",
    )
    p.add_argument("--threads", type=positive_int, default=1)
    add_out(p, "output folder (default <output dir>/quant/study)")
    p.set_defaults(func=_study)
