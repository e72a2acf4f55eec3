"""Sub-command ``gsoc-helpers fid``: FID/KID/precision-recall through torch-fidelity, and class accuracy (the share
of images a named CIFAR-10 classifier assigns to their intended class: :mod:`gsoc_helpers.metrics.class_accuracy`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..defaults import JUDGE_CLASSIFIER
from .args import GENERATOR_HELP, add_psi, device, positive_int

FIDELITY_METRICS = ("fid", "kid", "prc", "isc")  # through torch-fidelity
CLASS_ACC = "class-acc"


def metric_list(text: str) -> tuple[str, ...]:
    """'fid,kid,class-acc' -> ('fid', 'kid', 'class-acc'); an unknown or empty entry is refused."""
    names = tuple(m.strip() for m in text.split(","))
    unknown = [m for m in names if m not in (*FIDELITY_METRICS, CLASS_ACC)]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown metric(s) {unknown}; expected a comma list of {', '.join((*FIDELITY_METRICS, CLASS_ACC))}"
        )
    return names


def _fid(args: argparse.Namespace) -> int:
    import torch

    from ..config import resolve_device
    from ..fileio import atomic_write_text
    from ..metrics.fidelity import compute_fidelity

    if args.json and (Path(args.json).exists() or Path(args.json).is_symlink()):  # before hours of work
        what = "is a folder" if Path(args.json).is_dir() else "exists"
        raise ValueError(f"--json {args.json!r} {what}; it is left as it is: give a new file name")
    torch.set_num_threads(args.threads)
    args.device = str(resolve_device(args.device))  # "auto": CUDA when present
    target = args.candidate
    from ..models.distylegan2022 import is_original_checkpoint

    if Path(target).is_dir() and not is_original_checkpoint(target):
        candidate = target
    elif target.startswith("cifar10-"):
        from ..data import load_cifar10

        split, _, source = target[len("cifar10-") :].partition(":")
        candidate = load_cifar10(split, source=source or "auto")
    else:
        from ..models.registry import load_generator

        candidate = load_generator(target, device=args.device)
    if CLASS_ACC in args.metrics:  # a judge that does not fit: refused before FID's minutes, not after
        from ..metrics.class_accuracy import check_judge

        check_judge(candidate, args.classifier)
    out: dict = {}
    fidelity = tuple(m for m in args.metrics if m != CLASS_ACC)
    if fidelity:
        res = compute_fidelity(
            candidate,
            metrics=fidelity,
            n_generated=args.n,
            n_candidate=args.n_candidate,
            reference_split=args.split,
            reference_source=args.source,
            reference_n=args.reference_n,
            truncation_psi=args.psi,
            batch_size=args.batch_size,
            device=args.device,
            verbose=args.verbose,
        )
        print(res)
        out.update(res.to_dict())
    if CLASS_ACC in args.metrics:
        from ..metrics.class_accuracy import class_accuracy
        from ..models.protocol import is_generator

        acc = class_accuracy(
            candidate,
            n=args.n if is_generator(candidate) else args.n_candidate,
            classifier=args.classifier,
            truncation_psi=args.psi,
            batch_size=args.batch_size,
            device=args.device,
            # an image subset: the one FID measured (compute_fidelity draws candidate subsets with seed 1)
            seed=0 if is_generator(candidate) else 1,
        )
        print(acc)
        out["class_accuracy"] = acc.to_dict()
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(out, indent=1))
        print(f"wrote {args.json}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fid", help="FID / KID / precision-recall / class accuracy of a generator, synthetic set or CIFAR-10 split"
    )
    p.add_argument(
        "candidate",
        help="a synthetic dataset folder, cifar10-<train|test>[:<source>], or a generator: " + GENERATOR_HELP,
    )
    p.add_argument(
        "--metrics",
        type=metric_list,
        default=metric_list("fid,kid,prc"),
        help=f"comma list of {', '.join(FIDELITY_METRICS)}, {CLASS_ACC} (share of images --classifier assigns to "
        "their intended class, overall and per class)",
    )
    p.add_argument(
        "--classifier",
        default=JUDGE_CLASSIFIER,
        help="CIFAR-10 classifier of the registry that judges class accuracy (FP32)",
    )
    p.add_argument("--n", type=positive_int, default=10_000, help="images to generate (generator candidates)")
    p.add_argument("--n-candidate", type=positive_int, default=None, help="subset of an image candidate (default all)")
    p.add_argument("--split", default="train", choices=["train", "test"], help="CIFAR-10 reference split")
    p.add_argument("--source", default="auto", help="reference source for load_cifar10 (auto, exact, jpeg, ...)")
    p.add_argument("--reference-n", type=positive_int, default=None, help="reference subset size (default whole split)")
    add_psi(p, help="truncation psi for generators")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--device", type=device, default="auto", help="auto (CUDA when present) | cpu | cuda:N")
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads")
    p.add_argument(
        "--json",
        default=None,
        help="write the result with its protocol to this new JSON file (an existing one is refused)",
    )
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=_fid)
