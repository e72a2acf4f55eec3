"""The trainers' settings as plain dataclasses, shared by the command line, the notebooks and the trainers (no
torch here: the command line builds its flags from these fields while it builds its parser)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from ..config import default_output
from ..defaults import MAX_SEED
from ..losses.weights import DistillLossWeights
from .settings_check import check_settings, parse_policy

MAX_D_STEPS = 20  # discriminator steps per generator step: more only stalls G

PRECISIONS = ("fp32", "bf16")  # of GANTrainConfig.precision
DISTILL_PRECISIONS = ("auto", *PRECISIONS)  # of DistillConfig.precision


@dataclass
class GANTrainConfig:
    out_dir: str = field(default_factory=lambda: str(default_output("train-teacher")))
    steps: int = 100_000
    batch_size: int = 64
    ngf: int = 64
    ndf: int = 64
    z_dim: int = 128
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.99
    ema_decay: float = 0.999
    augment: str = "color,translation"
    hflip: bool = True
    d_steps: int = 1  # discriminator steps per generator step
    class_loss: float = 0.0  # weight of the AC-GAN class term (D's class head on real images, G's on its fakes)
    init_generator: str = ""  # start G and its EMA from this generator file (same kind and sizes); "" = random
    balanced_classes: bool = True  # every batch holds each class equally often (batch_size % 10 spread evenly)
    precision: str = "fp32"  # "bf16": torch.autocast bf16 for G and D (1.6x faster on AVX-512 BF16 CPUs)
    seed: int = 0
    max_minutes: float | None = None  # None or 0 = no limit; on expiry a checkpoint is saved and training stops
    checkpoint_minutes: float = 5.0
    snapshots: bool = False  # at every checkpoint also keep the EMA generator (snapshots/step_XXXXXXX.safetensors)
    grid_every: int = 200
    log_every: int = 10
    threads: int | None = None
    data_source: str = "jpeg"
    extra: dict = field(default_factory=dict)

    def validate(self) -> GANTrainConfig:
        """ValueError (one line) for any setting out of range; returns self."""
        check_settings(
            self,
            whole={
                "steps": 1,
                "batch_size": 1,
                "ngf": 1,
                "ndf": 1,
                "z_dim": 1,
                "d_steps": (1, MAX_D_STEPS),
                "grid_every": 0,
                "log_every": 1,
                "threads": 1,
                "seed": (0, MAX_SEED),
            },
            ranges={
                "lr_g": (0.0, 1.0, True),
                "lr_d": (0.0, 1.0, True),
                "beta1": (0.0, 1.0, False),
                "beta2": (0.0, 1.0, False),
                "ema_decay": (0.0, 1.0, False),
                "class_loss": (0.0, math.inf, False),
                "checkpoint_minutes": (0.0, math.inf, True),
                "max_minutes": (0.0, math.inf, False),
            },
            optional=("threads", "max_minutes"),
        )
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        parse_policy(self.augment)
        return self


@dataclass
class DistillConfig:
    """Every knob of a distillation run (shared by the ``distill`` CLI and notebooks)."""

    synthetic_root: str = ""
    out_dir: str = field(default_factory=lambda: str(default_output("distill")))
    real_source: str = "auto"  # load_cifar10 source ("auto", "exact", "jpeg", "batches", a folder)
    ngf: int = 256
    ndf: int = 128
    z_dim: int = 0  # 0: take it from the synthetic dataset's manifest
    batch_size: int = 128  # per process
    epochs: int = 150
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_pix: float = 0.2
    lambda_pix_decay: float = 0.01  # per epoch (TinyGAN); the original decayed per step by mistake
    ema_decay: float = 0.999
    diffaug: str = ""  # DiffAugment policy for D inputs, "" = off
    seed: int = 0
    log_every: int = 10
    sample_every: int = 500
    ckpt_every: int = 1000
    max_steps: int = 0  # 0 = no limit (epochs decide)
    max_minutes: float = 0.0  # 0 = no limit; on expiry a checkpoint is saved and training stops
    device: str = "auto"
    precision: str = "auto"  # "auto": bf16 autocast on CUDA, fp32 on CPU; "bf16": autocast on any device; "fp32"
    progress: bool = True
    loss_weights: DistillLossWeights = field(default_factory=DistillLossWeights)

    def validate(self) -> DistillConfig:
        """ValueError (one line) for any setting out of range; returns self."""
        check_settings(
            self,
            whole={
                "ngf": 16,
                "ndf": 1,
                "z_dim": 0,
                "batch_size": 1,
                "epochs": 1,
                "log_every": 1,
                "sample_every": 0,
                "ckpt_every": 0,
                "max_steps": 0,
                "seed": (0, MAX_SEED),
            },
            ranges={
                "lr": (0.0, 1.0, True),
                "beta1": (0.0, 1.0, False),
                "beta2": (0.0, 1.0, False),
                "lambda_pix": (0.0, math.inf, False),
                "lambda_pix_decay": (0.0, math.inf, False),
                "ema_decay": (0.0, 1.0, False),
                "max_minutes": (0.0, math.inf, False),
            },
        )
        if self.ngf % 16:
            raise ValueError(f"ngf must be a multiple of 16 (the student's GLU halves it four times), got {self.ngf}")
        if self.precision not in DISTILL_PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(DISTILL_PRECISIONS)}, got {self.precision!r}")
        parse_policy(self.diffaug)
        return self

    @classmethod
    def from_dict(cls, d: object) -> DistillConfig:
        """The config of a JSON object of its fields (``loss_weights`` an object of DistillLossWeights fields);
        ValueError (one line) for anything else."""
        names = {f.name for f in fields(cls)}
        if not isinstance(d, dict):
            raise ValueError(f"distill settings must be a JSON object of fields, got {str(d)[:80]}")
        unknown = set(d) - names
        if unknown:
            raise KeyError(f"unknown distill options {sorted(unknown)}; expected {sorted(names)}")
        d = dict(d)
        if "loss_weights" in d:
            lw, known = d["loss_weights"], {f.name for f in fields(DistillLossWeights)}
            if not isinstance(lw, dict) or set(lw) - known:
                raise ValueError(f"loss_weights must be an object of {sorted(known)}, got {str(lw)[:100]}")
            lw = dict(lw)
            lw["feature_weights"] = tuple(lw.get("feature_weights", DistillLossWeights().feature_weights))
            d["loss_weights"] = DistillLossWeights(**lw)
        return cls(**d)
