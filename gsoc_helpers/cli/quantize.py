"""``gsoc-helpers quantize MODEL --calibration SOURCE --out DIR``: INT8 PTQ of your own classifier
(:func:`gsoc_helpers.quantization.tool.quantize_model`)."""

from __future__ import annotations

import argparse
from typing import Any

from ..defaults import CIFAR10_MEAN, CIFAR10_STD, IMAGE_SIZE, VALUE_RANGE
from ..quantization.settings import QuantizeOptions, points_to_fraction
from .args import add_max_drop, add_out, add_source_option, finite_float, int_at_least, positive_float, positive_int


def source_options_for(source: str, given: list[tuple[str | None, str, object]]) -> dict:
    """``--source-option`` entries for the one calibration ``source`` -> its keyword arguments; an entry naming
    another source is a ValueError."""
    out = {}
    for src, key, value in given:
        if src is not None and src != source:
            raise ValueError(f"--source-option {src}:{key}=...: this command calibrates on {source!r} only")
        out[key] = value
    return out


def _quantize(args: argparse.Namespace) -> int:
    from ..models.contract import InputContract
    from ..quantization.tool import quantize_model

    given: dict[str, Any] = {
        k: getattr(args, k) for k in ("mean", "std", "value_range", "image_size") if getattr(args, k) is not None
    }
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
    prep = InputContract(**given) if given else None
    opts = QuantizeOptions(
        calibration_size=args.calibration_size,
        seed=args.seed,
        held_out_size=args.held_out_size,
        max_drop=None if args.max_drop is None else points_to_fraction(args.max_drop),
        nncf_defaults=args.nncf_defaults,
        speed_batches=tuple(args.speed_batches),
        speed_seconds=args.speed_seconds,
        threads=args.threads,
        source_options=source_options_for(args.calibration, args.source_option),
        ignored_types=tuple(args.ignore_types),
        per_tensor_activations=args.per_tensor_activations,
    )
    res = quantize_model(
        args.model,
        args.calibration,
        args.out,
        weights=args.weights,
        preprocessing=prep,
        held_out=args.held_out,
        options=opts,
        overwrite=args.overwrite,
    )
    e = res.report["evaluation"]
    drop = f", top-1 drop {e['drop']:+.2f} points" if e.get("drop") is not None else ""
    print(f"agreement {e['agreement']:.2f} %, KL {e['kl']:.2e} on {e['set']}{drop}")
    print(f"wrote {res.int8_xml}, {res.fp32_xml}, {res.out / 'report.md'}, {res.out / 'report.json'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    o = QuantizeOptions()
    p = sub.add_parser(
        "quantize",
        help="INT8-quantize your classifier (ONNX, OpenVINO IR, registered name or "
        "package.module:factory) calibrated on synthetic images or a folder of your own",
    )
    p.add_argument(
        "model",
        help="model.onnx | model.xml | registered classifier name | package.module:factory "
        "(this IMPORTS AND RUNS package.module, found with the current folder added to the end of "
        "sys.path: only code you trust)",
    )
    p.add_argument(
        "--calibration",
        required=True,
        help="calibration source name (student, noise, fractal, bn-matching, ...) or an image folder; "
        "every source makes images at the model's input size",
    )
    add_out(p, "output folder (FP32 + INT8 IR, report.json, report.md)", required=True)
    p.add_argument(
        "--weights",
        default=None,
        help="weights of a package.module:factory model (.safetensors or a "
        "state dict readable with torch.load(weights_only=True))",
    )
    p.add_argument(
        "--mean",
        type=finite_float,
        nargs="+",
        default=None,
        help=f"input mean, value-range units, 1 or 3 values (default CIFAR-10: {list(CIFAR10_MEAN)})",
    )
    p.add_argument("--std", type=finite_float, nargs="+", default=None, help=f"input std (default {list(CIFAR10_STD)})")
    p.add_argument(
        "--value-range",
        type=finite_float,
        nargs=2,
        default=None,
        metavar=("LO", "HI"),
        help=f"pixel value range before mean/std (default {list(VALUE_RANGE)}; e.g. 0 255)",
    )
    p.add_argument(
        "--image-size", type=int_at_least(8), default=None, help=f"input height = width (default {IMAGE_SIZE})"
    )
    p.add_argument(
        "--held-out",
        default=None,
        help="folder of held-out images for agreement/KL (class folders: top-1 too); default: held-out "
        "synthetic images for a 32x32 10-class model, scikit-image's natural photos for any other",
    )
    p.add_argument("--calibration-size", type=positive_int, default=o.calibration_size)
    p.add_argument(
        "--held-out-size",
        type=positive_int,
        default=o.held_out_size,
        help="held-out synthetic images when no --held-out folder is given (32x32 10-class models)",
    )
    p.add_argument("--seed", type=int_at_least(0), default=o.seed)
    add_max_drop(p, o.max_drop, "accuracy-aware PTQ on the labelled --held-out folder")
    p.add_argument(
        "--nncf-defaults",
        action="store_true",
        help="NNCF's default PTQ settings instead of the project's measured best",
    )
    p.add_argument(
        "--ignore-types",
        nargs="+",
        default=[],
        metavar="TYPE",
        help="OpenVINO op types NNCF leaves in floating point, e.g. GroupConvolution (depthwise convolutions)",
    )
    p.add_argument(
        "--per-tensor-activations",
        action="store_true",
        help="one activation range per tensor (NNCF gives depthwise convolutions' inputs one per channel)",
    )
    add_source_option(p, "steps=50 (or bn-matching:steps=50)")
    p.add_argument("--speed-batches", type=positive_int, nargs="+", default=list(o.speed_batches))
    p.add_argument("--speed-seconds", type=positive_float, default=o.speed_seconds)
    p.add_argument("--threads", type=positive_int, default=o.threads)
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out when it holds an earlier `quantize` output (its .gsoc-helpers.json mark); any other folder is refused",
    )
    p.set_defaults(func=_quantize)
