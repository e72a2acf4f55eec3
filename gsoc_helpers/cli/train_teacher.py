"""``gsoc-helpers train-teacher``: train the offline class-conditional GAN teacher on CIFAR-10."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields

from ..training.configs import MAX_D_STEPS, PRECISIONS, GANTrainConfig
from .args import (
    add_out,
    float_in,
    int_at_least,
    non_negative_float,
    non_negative_int,
    note_fresh_resume,
    positive_float,
    positive_int,
)

adam_beta = float_in(0.0, 1.0, high_open=True)


def _train(args: argparse.Namespace) -> int:
    from ..training.gan import run_training

    kw = {f.name: getattr(args, f.name) for f in fields(GANTrainConfig) if hasattr(args, f.name)}
    note_fresh_resume("train-teacher", args.out_dir, args.resume)
    summary = run_training(
        GANTrainConfig(**kw), resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite
    )
    print(json.dumps(summary))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    d = GANTrainConfig()
    p = sub.add_parser("train-teacher", help="train the offline teacher GAN (hinge, SN projection D, EMA, DiffAugment)")
    add_out(p, f"run folder (default {d.out_dir})", default=d.out_dir, dest="out_dir")
    p.add_argument("--steps", type=positive_int, default=d.steps)
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    p.add_argument("--ngf", type=positive_int, default=d.ngf)
    p.add_argument("--ndf", type=positive_int, default=d.ndf)
    p.add_argument("--z-dim", type=positive_int, default=d.z_dim)
    p.add_argument("--lr-g", type=positive_float, default=d.lr_g)
    p.add_argument("--lr-d", type=positive_float, default=d.lr_d)
    p.add_argument("--beta1", type=adam_beta, default=d.beta1, help="Adam beta1, in [0, 1)")
    p.add_argument("--beta2", type=adam_beta, default=d.beta2, help="Adam beta2, in [0, 1)")
    p.add_argument("--ema-decay", type=float_in(0.0, 1.0), default=d.ema_decay, help="EMA of G, in [0, 1]")
    p.add_argument("--augment", default=d.augment, help="DiffAugment policy, e.g. 'color,translation' ('' = none)")
    p.add_argument("--no-hflip", dest="hflip", action="store_false")
    p.add_argument(
        "--d-steps", type=int_at_least(1, MAX_D_STEPS), default=d.d_steps, help="discriminator steps per generator step"
    )
    p.add_argument(
        "--class-loss",
        type=non_negative_float,
        default=d.class_loss,
        help="weight of the AC-GAN class term (a class head on D, trained on real images; 0 = off)",
    )
    p.add_argument(
        "--init-generator",
        default=d.init_generator,
        help="start G and its EMA from this offline-teacher file (e.g. offline-teacher); the discriminator starts afresh",
    )
    p.add_argument(
        "--no-balanced-classes",
        dest="balanced_classes",
        action="store_false",
        help="draw real images uniformly instead of the same number of each class per batch",
    )
    p.add_argument("--precision", choices=PRECISIONS, default=d.precision, help="bf16: autocast G and D")
    p.add_argument("--seed", type=non_negative_int, default=d.seed)
    p.add_argument(
        "--max-minutes", type=non_negative_float, default=None, help="wall-clock budget; stops cleanly and saves"
    )
    p.add_argument("--checkpoint-minutes", type=positive_float, default=d.checkpoint_minutes)
    p.add_argument(
        "--snapshots",
        action="store_true",
        help="keep the EMA generator at every checkpoint (snapshots/step_XXXXXXX.safetensors) for a training curve",
    )
    p.add_argument("--grid-every", type=non_negative_int, default=d.grid_every)
    p.add_argument("--log-every", type=positive_int, default=d.log_every)
    p.add_argument("--threads", type=positive_int, default=None, help="torch.set_num_threads")
    p.add_argument("--data-source", default=d.data_source, help="load_cifar10 source (jpeg = all 50k, JPEG q75)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out (same settings); starts one there when it holds none yet",
    )
    mode.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the earlier `train-teacher` run in --out (its .gsoc-helpers.json mark) and start again; any other folder is refused",
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_train)
