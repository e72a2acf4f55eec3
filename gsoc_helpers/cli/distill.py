"""Sub-command ``gsoc-helpers distill``: train the DiStyleGAN student.

``distill`` works under ``torchrun --nproc_per_node K -m gsoc_helpers distill ...`` (DDP) as well.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from ..training.configs import DISTILL_PRECISIONS, DistillConfig
from .args import add_out, device, finite_float, note_fresh_resume


def _distill(args: argparse.Namespace) -> int:
    from ..training.distill import run_distill

    cfg = _config_file(args.config) if args.config else DistillConfig()
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(DistillConfig)
        if getattr(args, f.name, None) is not None
    }
    cfg = dataclasses.replace(cfg, **overrides)
    note_fresh_resume("distill", cfg.out_dir, args.resume)
    result = run_distill(cfg, resume=args.resume, overwrite=args.overwrite)
    print(json.dumps(result))
    return 0


def _config_file(path: str) -> DistillConfig:
    """The DistillConfig of the JSON file ``path``; ValueError (one line, naming the file) when it is not one."""
    try:
        return DistillConfig.from_dict(json.loads(open(path, encoding="utf-8").read()))
    except (OSError, ValueError, KeyError, RecursionError) as err:
        why = err.strerror if isinstance(err, OSError) else err.args[0] if isinstance(err, KeyError) else err
        raise ValueError(f"--config {path!r}: {why}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("distill", help="distill the DiStyleGAN student from a synthetic teacher dataset (resumable)")
    p.add_argument("synthetic_root", nargs="?", default=None, help="synthetic dataset folder (gsoc-helpers sample)")
    p.add_argument("--config", default=None, help="JSON file of DistillConfig fields (flags override it)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out (same settings); starts one there when it holds none yet",
    )
    mode.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the earlier `distill` run in --out (its .gsoc-helpers.json mark) and start again; any other folder is refused",
    )
    add_out(p, f"run folder (default {DistillConfig().out_dir})", dest="out_dir")
    for f in dataclasses.fields(DistillConfig):
        if f.name in ("synthetic_root", "loss_weights", "out_dir"):
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            p.add_argument(flag, dest=f.name, default=None, action=argparse.BooleanOptionalAction)
        else:
            typ = {"int": int, "float": finite_float, "str": str}.get(str(f.type), str)
            typ = device if f.name == "device" else typ
            choices = DISTILL_PRECISIONS if f.name == "precision" else None
            p.add_argument(flag, dest=f.name, default=None, type=typ, choices=choices, help=f"default {f.default!r}")
    p.set_defaults(func=_distill)
