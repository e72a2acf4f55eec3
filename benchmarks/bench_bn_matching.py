"""bn-matching at 224x224 on EfficientNet-Lite0: images/s of generation and the INT8 agreement it buys, beside
calibration on the protocol's calibration photos (the ``photos`` source). CPU. Resumable.

  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_bn_matching.py [--recipes default fp32 ...] [--seeds 0]
  PYTHONPATH=. python benchmarks/bench_bn_matching.py --speed   # seconds per step (batch 32) at 224 and 112

Recipes (:data:`RECIPES`): ``default`` = ``bn_matching.LARGE_INPUT`` (what ``--calibration bn-matching`` does for a
model larger than 64 px); the others change one thing. A recipe is a choice, so agreement/KL are measured by the
study engine (:mod:`gsoc_helpers.study`) on the protocol's *validation* photos and held-out CIFAR-10 train pictures
upsampled, never on test images; cells are cached in ``$GSOC_OUTPUT_DIR/study/lite0/cells.jsonl`` (shared with
bench_study.py). Speeds depend on what else runs on the CPU: say whether the machine was loaded.
"""

from __future__ import annotations

import argparse

from gsoc_helpers.config import get_output_dir
from gsoc_helpers.quantization.ptq import PTQConfig
from gsoc_helpers.quantization.settings import PROJECT_DEFAULT
from gsoc_helpers.study.engine import run_study
from gsoc_helpers.study.specs import Int8Spec
from gsoc_helpers.study.splits import photo_splits

RECIPES: dict[str, dict] = {
    "default": {},  # bn_matching.LARGE_INPUT
    "fp32": {"channels_last": False, "bf16": False},  # without channels-last memory and bf16 autocast
    "no-warmup": {"warmup": 0.0},  # every step at 224x224
    "steps32": {"steps": 32},  # twice the steps
    "steps32-warm75": {"steps": 32, "warmup": 0.75},  # twice the steps, the extra ones at 112x112 (1.4x the time)
    "no-priors": {"tv_weight": 0.0, "jitter": 0.0, "flip": False, "ce_weight": 0.0},  # BN statistics only
    # cheaper: more of the 16 steps at 112x112 (a step there costs about 0.3x one at 224 on the 2-core EPYC, under
    # load); 12 + 4 steps cost about 0.73x the default's 8 + 8, 13 + 3 about 0.66x
    "warm75": {"warmup": 0.75},
    "warm81": {"warmup": 0.8125},
    "batch64-warm75": {"warmup": 0.75, "batch_size": 64},  # fewer, larger batches
}


def step_seconds(side: int, channels_last: bool, bf16: bool, batch: int = 32, repeats: int = 3) -> float:
    """Median seconds of one bn-matching step (forward + backward, BN loss + class term) on ``batch`` images of
    ``side`` x ``side`` through EfficientNet-Lite0 (the first step, a warm-up, not counted)."""
    import time

    import torch
    import torch.nn.functional as F

    from gsoc_helpers.calibration.bn_matching import BNStatsLoss
    from gsoc_helpers.models.classifiers import get_classifier

    net = get_classifier("efficientnet-lite0").requires_grad_(False)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    hooks = BNStatsLoss(net)
    p = torch.randn(batch, 3, side, side).requires_grad_(True)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = net(torch.sigmoid(p).contiguous(memory_format=fmt))
        (hooks.value() + F.cross_entropy(logits.float(), torch.zeros(batch, dtype=torch.long))).backward()
        times.append(time.perf_counter() - t0)
    hooks.remove()
    return sorted(times[1:])[len(times[1:]) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", nargs="+", default=["default"], choices=list(RECIPES))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--speed", action="store_true", help="only time one step at 224 and 112 per variant")
    args = ap.parse_args()
    if args.speed:
        print("| input | memory | autocast | s/step (32 images) | image-steps/s |\n|---|---|---|---|---|")
        for side in (224, 112):
            for cl, bf16 in ((False, False), (True, False), (True, True)):
                sec = step_seconds(side, cl, bf16)
                mem = "channels-last" if cl else "NCHW"
                print(f"| {side} | {mem} | {'bf16' if bf16 else 'fp32'} | {sec:.2f} | {32 / sec:.1f} |")
        return
    out = get_output_dir() / "study" / "lite0"  # the calibration images are shared with bench_study.py
    configs = {PROJECT_DEFAULT: PTQConfig()}
    splits = photo_splits(224, views=5, cifar_n=300).selection()  # a recipe is a choice: validation photos only
    common = dict(models=["efficientnet-lite0"], sizes=[args.size], seeds=list(args.seeds), configs=configs)
    rows = run_study(
        Int8Spec(sources=["photos"], calibration_cache=out / "calibration", **common), splits, "validation", out
    )
    for name in args.recipes:
        opts = {"bn-matching": RECIPES[name]} if RECIPES[name] else {}
        spec = Int8Spec(sources=["bn-matching"], source_options=opts, calibration_cache=out / "calibration", **common)
        rows += [dict(c, recipe=name) for c in run_study(spec, splits, "validation", out)]
    print(
        "| calibration | seed | images/s | agreement photos | confident | top-5 overlap | KL photos | agreement CIFAR-10↑ (validation) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        name = r.get("recipe", "(calibration photos)")
        print(
            f"| {r['source']} {name} | {r['seed']} | {r['size'] / r['calibration_seconds']:.3f} | "
            f"{r['photos_agreement']:.1f} | {r['photos_agreement_confident']:.1f} | {r['photos_top5_overlap']:.1f} | "
            f"{r['photos_kl']:.4f} | {r['cifar10-val_agreement']:.1f} |"
        )


if __name__ == "__main__":
    main()
