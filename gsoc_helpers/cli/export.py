"""Sub-command ``gsoc-helpers export``: a generator checkpoint to OpenVINO IR (FP32, optionally INT8)."""

from __future__ import annotations

import argparse

from ..config import default_output
from ..defaults import CALIBRATION_SIZE
from .args import GENERATOR_HELP, add_out, non_negative_int, positive_int

# What gsoc_helpers.openvino.generator.export_generator writes (the names the folder's mark lists).
OUTPUT_NAMES = ("generator_fp32.xml", "generator_fp32.bin", "generator_int8.xml", "generator_int8.bin")


def output_inputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The inputs --out must stay apart from."""
    return [("generator", args.generator)]


def _export(args: argparse.Namespace) -> int:
    import torch

    from ..models.registry import load_generator
    from ..openvino.generator import OpenVINOGenerator, export_generator, psnr
    from ..quantization.ptq import export_int8_generator

    model = load_generator(args.generator)
    fp32 = export_generator(model, args.out)
    print(f"FP32 IR: {fp32}")
    if args.int8:
        given = {k: v for k, v in (("calibration_size", args.calibration_size), ("seed", args.seed)) if v is not None}
        int8 = export_int8_generator(model, args.out, **given)  # unset flags: export_int8_generator's defaults
        g = torch.Generator().manual_seed(given.get("seed", 0) + 1)
        z = torch.randn(64, int(model.z_dim), generator=g)
        c = torch.randint(0, int(model.c_dim), (64,), generator=g)
        value = psnr(OpenVINOGenerator(fp32)(z, c), OpenVINOGenerator(int8)(z, c))
        print(f"INT8 IR: {int8}  (PSNR vs FP32 on 64 random (z, class): {value:.2f} dB)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a generator checkpoint to OpenVINO IR (FP32, optionally INT8)")
    p.add_argument("generator", help=GENERATOR_HELP)
    add_out(p, "output folder (default <output dir>/export)", default=str(default_output("export")))
    p.add_argument("--int8", action="store_true", help="also write an NNCF INT8 IR and report its PSNR vs FP32")
    p.add_argument(
        "--calibration-size",
        type=positive_int,
        default=None,
        help=f"random (z, class) inputs calibrating the INT8 IR (default: export_int8_generator's, {CALIBRATION_SIZE})",
    )
    p.add_argument(
        "--seed", type=non_negative_int, default=None, help="calibration seed (default: export_int8_generator's, 0)"
    )
    p.set_defaults(func=_export)
