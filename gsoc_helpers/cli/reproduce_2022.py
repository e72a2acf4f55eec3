"""``gsoc-helpers reproduce-2022``: the 2022 Part II quantization grid beside this project's protocol."""
from __future__ import annotations

import argparse


def _reproduce(args: argparse.Namespace) -> int:
    import time

    import torch

    from ..config import get_output_dir
    from ..quantization.reproduce2022 import plan, run

    torch.set_num_threads(args.threads)
    p = plan(args.zoo, args.models, args.original_size, args.project_size, args.seeds, args.teacher, args.student,
             args.teacher_dataset, args.student_dataset, args.val_size)
    print("substitutes:" if p.substitutes else "no substitutes: the original's models and generators")
    for s in p.substitutes:
        print(f"  - {s}")
    t0 = time.perf_counter()
    out = args.out or get_output_dir() / "quant" / "reproduce_2022"
    table, _ = run(p, out, threads=args.threads)
    print(table.to_string())
    print(f"finished in {time.perf_counter() - t0:.0f} s; tables: {out}/reproduce_2022.md, .csv")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from ..quantization.accuracy import AccuracyControl
    from ..quantization.reproduce2022 import ORIGINAL_SIZE

    p = sub.add_parser("reproduce-2022", help="rerun the 2022 Part II PTQ grid (5 models x 4 calibration sets x "
                                              "default/accuracy-aware) beside this project's protocol")
    p.add_argument("--zoo", default="auto", choices=["auto", "original", "offline"],
                   help="original = chenyaofo models + NVIDIA teacher (online); offline = offline zoo + bundled "
                        "generators; auto = original if it loads")
    p.add_argument("--models", nargs="+", default=None, help="override the zoo's models")
    p.add_argument("--original-size", type=int, default=ORIGINAL_SIZE, help="2022 protocol calibration images")
    p.add_argument("--project-size", type=int, default=300, help="project protocol calibration images")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="project protocol seeds")
    p.add_argument("--teacher", default=None, help="teacher generator (default: 'cifar10' online, else bundled)")
    p.add_argument("--student", default=None, help="student generator, e.g. a 2022 DiStyleGAN checkpoint folder")
    p.add_argument("--teacher-dataset", default=None, help="synthetic dataset folder for the teacher source "
                                                           "(e.g. an imported FakeCIFAR10)")
    p.add_argument("--student-dataset", default=None, help="synthetic dataset folder for the student source")
    p.add_argument("--val-size", type=int, default=AccuracyControl.val_size,
                   help="held-out real images for the project protocol's accuracy control")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    p.set_defaults(func=_reproduce)
