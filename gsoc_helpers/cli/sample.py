"""Sampling sub-command: ``gsoc-helpers sample GENERATOR --out DIR [--per-class 5000] [--shard i/n]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import GENERATOR_HELP, add_out, add_psi, device, non_negative_int, positive_int

# What a synthetic dataset folder holds (gsoc_helpers.data.synthetic): the names its mark lists.
OUTPUT_NAMES = ("manifest.json", "shards")


def output_inputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The inputs --out must stay apart from."""
    return [("generator", args.generator)]


def _sample(args: argparse.Namespace) -> int:
    import torch

    from ..config import default_output, resolve_device
    from ..models.registry import canonical_name, load_generator
    from ..safety import refuse_overlap
    from ..sampling import distributed_shard, parse_shard, sample_dataset

    torch.set_num_threads(args.threads) if args.threads else None
    i, n = parse_shard(args.shard) if args.shard else distributed_shard()
    device = resolve_device(args.device)
    if device.type == "cuda" and n > 1 and args.device == "auto":
        import os

        device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', i)) % torch.cuda.device_count()}")
    out = Path(args.out) if args.out else default_output("sample", Path(canonical_name(args.generator)).stem)
    refuse_overlap(out, [("generator", args.generator)])
    model = load_generator(args.generator, device=str(device))
    report = sample_dataset(
        model,
        out,
        generator_name=args.name or str(args.generator),
        per_class=args.per_class,
        seed=args.seed,
        truncation_psi=args.psi,
        noise_mode=args.noise_mode,
        batch_size=args.batch_size,
        shard_size=args.shard_size,
        shard_index=i,
        num_shards=n,
        device=device,
        backend=args.backend,
        precision=args.precision,
        threads=args.threads or None,
    )
    if report.backend_summary:
        print(report.backend_summary)
    print(
        f"shard {i}/{n}: wrote {report.written} images to {report.root} in {report.seconds:.1f} s "
        f"({report.images_per_second:.1f} images/s; backend set-up {report.setup_seconds:.1f} s before); "
        f"dataset complete: {report.complete}"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="sample a class-balanced synthetic dataset from a generator (resumable)")
    p.add_argument("generator", help=GENERATOR_HELP)
    add_out(p, "dataset folder (default <output dir>/synthetic/<generator>)")
    p.add_argument("--per-class", type=positive_int, default=5000, help="images per class (default 5000 -> 50,000)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    add_psi(p)
    p.add_argument("--noise-mode", default="const", choices=["const", "random", "none"])
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--shard-size", type=positive_int, default=1000, help="images per shard file")
    p.add_argument("--shard", default=None, help="'i/n': this worker's part (default torchrun RANK/WORLD_SIZE or 0/1)")
    p.add_argument("--device", type=device, default="auto", help="auto | cpu | cuda:0")
    p.add_argument("--name", default=None, help="generator name recorded in the manifest (default: the argument)")
    p.add_argument(
        "--threads", type=non_negative_int, default=0, help="CPU threads of torch and OpenVINO (0 = their default)"
    )
    p.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "torch", "openvino"],
        help="auto (default): the OpenVINO f32 twin on the CPU for large runs, else PyTorch; a probe batch "
        "is checked against the reference forward (<= 1 uint8 level) before any shard is written",
    )
    p.add_argument(
        "--precision",
        default="f32",
        choices=["f32", "bf16"],
        help="f32 (default, exact) or bf16 (OpenVINO, faster on CPUs with bf16; its deviation is printed)",
    )
    p.set_defaults(func=_sample)
