"""``gsoc-helpers reproduce-2022``: the 2022 Part II quantization grid beside this project's protocol."""

from __future__ import annotations

import argparse

from ..defaults import CALIBRATION_SIZE, SEEDS
from .args import add_out, int_at_least, non_negative_int, positive_int

# What gsoc_helpers.quantization.reproduce2022.run writes into --out (the names its folder's mark lists).
OUTPUT_NAMES = ("original_protocol", "project_protocol", "reproduce_2022.csv", "reproduce_2022.md")


def _reproduce(args: argparse.Namespace) -> int:
    import time

    import torch

    from ..config import default_output
    from ..quantization.reproduce2022 import plan, run

    torch.set_num_threads(args.threads)
    p = plan(
        args.zoo,
        args.models,
        args.original_size,
        args.project_size,
        args.seeds,
        args.teacher,
        args.student,
        args.teacher_dataset,
        args.student_dataset,
        args.val_size,
    )
    print("substitutes:" if p.substitutes else "no substitutes: the original's models and generators")
    for s in p.substitutes:
        print(f"  - {s}")
    t0 = time.perf_counter()
    out = args.out or default_output("reproduce-2022")
    table, _ = run(p, out, threads=args.threads)
    print(table.to_string())
    print(f"finished in {time.perf_counter() - t0:.0f} s; tables: {out}/reproduce_2022.md, .csv")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from ..quantization.reproduce2022 import ORIGINAL_SIZE
    from ..quantization.settings import AccuracyControl

    p = sub.add_parser(
        "reproduce-2022",
        help="rerun the 2022 Part II PTQ grid (5 models x 4 calibration sets x "
        "default/accuracy-aware) beside this project's protocol",
    )
    p.add_argument(
        "--zoo",
        default="auto",
        choices=["auto", "original", "offline"],
        help="original = chenyaofo models + NVIDIA teacher (online); offline = offline zoo + bundled "
        "generators; auto = original if it loads",
    )
    p.add_argument("--models", nargs="+", default=None, help="override the zoo's models")
    p.add_argument("--original-size", type=positive_int, default=ORIGINAL_SIZE, help="2022 protocol calibration images")
    p.add_argument(
        "--project-size",
        type=positive_int,
        default=CALIBRATION_SIZE,
        help=f"project protocol calibration images (default {CALIBRATION_SIZE})",
    )
    p.add_argument("--seeds", nargs="+", type=non_negative_int, default=list(SEEDS), help="project protocol seeds")
    p.add_argument("--teacher", default=None, help="teacher generator (default: 'cifar10' online, else bundled)")
    p.add_argument("--student", default=None, help="student generator, e.g. a 2022 DiStyleGAN checkpoint folder")
    p.add_argument(
        "--teacher-dataset",
        default=None,
        help="synthetic dataset folder for the stylegan2-ada source (e.g. an imported FakeCIFAR10)",
    )
    p.add_argument("--student-dataset", default=None, help="synthetic dataset folder for the student source")
    p.add_argument(
        "--val-size",
        type=int_at_least(10),
        default=AccuracyControl.val_size,
        help="held-out real images for the project protocol's accuracy control",
    )
    p.add_argument("--threads", type=positive_int, default=1)
    add_out(p, "output folder (default <output dir>/quant/reproduce_2022)")
    p.set_defaults(func=_reproduce)
