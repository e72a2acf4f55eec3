"""bn-matching at 224x224 on EfficientNet-Lite0: images/s of generation and the INT8 agreement it buys, beside
calibration on natural photos (CIFAR-10 train pictures upsampled, the ``real`` source). CPU. Resumable.

  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_bn_matching.py [--recipes default fp32 ...] [--seeds 0]

Recipes (:data:`RECIPES`): ``default`` = ``bn_matching.LARGE_INPUT`` (what ``--calibration bn-matching`` does for a
model larger than 64 px); the others change one thing. Agreement/KL are measured by
:mod:`gsoc_helpers.quantization.any_model` on scikit-image's photos and CIFAR-10 test pictures upsampled; cells are
cached in ``$GSOC_OUTPUT_DIR/any_model/cells.jsonl`` (shared with bench_any_model.py). Speeds depend on what else
runs on the CPU: say whether the machine was loaded.
"""

from __future__ import annotations

import argparse

from gsoc_helpers.config import get_output_dir
from gsoc_helpers.quantization.any_model import AnyModelStudy, run_study
from gsoc_helpers.quantization.ptq import PTQConfig
from gsoc_helpers.quantization.settings import PROJECT_DEFAULT

RECIPES: dict[str, dict] = {
    "default": {},  # bn_matching.LARGE_INPUT
    "fp32": {"channels_last": False, "bf16": False},  # without channels-last memory and bf16 autocast
    "no-warmup": {"warmup": 0.0},  # every step at 224x224
    "steps32": {"steps": 32},  # twice the steps
    "steps32-warm75": {"steps": 32, "warmup": 0.75},  # twice the steps, the extra ones at 112x112 (1.4x the time)
    "no-priors": {"tv_weight": 0.0, "jitter": 0.0, "flip": False, "ce_weight": 0.0},  # BN statistics only
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", nargs="+", default=["default"], choices=list(RECIPES))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--size", type=int, default=128)
    args = ap.parse_args()
    out = get_output_dir() / "any_model"
    configs = {PROJECT_DEFAULT: PTQConfig()}
    rows = run_study(AnyModelStudy(sources=("real",), seeds=tuple(args.seeds), calibration_size=args.size,
                                   configs=configs), out)  # fmt: skip
    for name in args.recipes:
        study = AnyModelStudy(
            sources=("bn-matching",),
            seeds=tuple(args.seeds),
            calibration_size=args.size,
            configs=configs,
            source_options={"bn-matching": RECIPES[name]} if RECIPES[name] else {},
        )
        rows += [dict(c, recipe=name) for c in run_study(study, out)]
    print(
        "| calibration | seed | images/s | agreement photos | confident | top-5 overlap | KL photos | agreement CIFAR-10↑ |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        name = r.get("recipe", "CIFAR-10 train, upsampled")
        print(
            f"| {r['source']} {name} | {r['seed']} | {r['size'] / r['calibration_seconds']:.3f} | "
            f"{r['photos_agreement']:.1f} | {r['photos_agreement_confident']:.1f} | {r['photos_top5_overlap']:.1f} | "
            f"{r['photos_kl']:.4f} | {r['cifar10-test_agreement']:.1f} |"
        )


if __name__ == "__main__":
    main()
