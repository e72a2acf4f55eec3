"""Class-conditional GAN training of the offline teacher on CPU (or GPU).

Hinge loss, spectral-norm projection discriminator, Adam, EMA of G, DiffAugment on real and fake
images before D, one D step per G step (the fake batch of the D step is reused for the G step).
Resumable: an atomic checkpoint (``checkpoint.pt``: plain tensors/dicts, loaded with
``weights_only=True``) holds G, EMA, D, both optimisers, the RNG state and the step. ``max_minutes``
stops cleanly at a wall-clock budget. Outputs in ``out_dir``: metrics.jsonl, grids/step_XXXXXX.png,
checkpoint.pt and, at the end, the EMA generator as ``generator_ema.safetensors`` (registry format).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from ..progress import progress as tqdm  # tqdm's API; one final line in notebooks

from ..losses import d_hinge_loss, g_hinge_loss
from ..models.discriminator import ProjectionDiscriminator
from ..models.offline_teacher import OfflineTeacher, OfflineTeacherConfig
from .augment import diff_augment
from .ema import EMA
from .run_folder import load_checkpoint_file, prepare_run_folder, refuse_changed_config, trim_log
from .settings_check import check_settings

CHECKPOINT = "checkpoint.pt"
RUN_FILES = (CHECKPOINT, CHECKPOINT + ".tmp", "metrics.jsonl", "grids", "generator_ema.safetensors")
MAY_CHANGE_ON_RESUME = ("out_dir", "steps", "max_minutes", "checkpoint_minutes", "grid_every", "log_every",
                        "threads", "data_source", "extra")


@dataclass
class GANTrainConfig:
    out_dir: str = "runs/offline_teacher"
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
    seed: int = 0
    max_minutes: float | None = None
    checkpoint_minutes: float = 5.0
    grid_every: int = 200
    log_every: int = 10
    threads: int | None = None
    data_source: str = "jpeg"
    extra: dict = field(default_factory=dict)


    def validate(self) -> "GANTrainConfig":
        """ValueError (one line) for any setting out of range; returns self."""
        check_settings(self, whole={"steps": 1, "batch_size": 1, "ngf": 1, "ndf": 1, "z_dim": 1, "grid_every": 0,
                                    "log_every": 1, "threads": 1},
                       ranges={"lr_g": (0.0, 1.0, True), "lr_d": (0.0, 1.0, True), "beta1": (0.0, 1.0, False),
                               "beta2": (0.0, 1.0, False), "ema_decay": (0.0, 1.0, False),
                               "checkpoint_minutes": (0.0, math.inf, True), "max_minutes": (0.0, math.inf, False)},
                       optional=("threads", "max_minutes"))
        return self


class GANTrainer:
    """Holds models, optimisers and RNG; ``train(images, labels)`` runs until steps or time run out.

    images: float32 [N, 3, 32, 32] in [-1, 1]; labels: int64 [N].
    """

    def __init__(self, cfg: GANTrainConfig) -> None:
        self.cfg = cfg.validate()
        torch.manual_seed(cfg.seed)
        self.G = OfflineTeacher(OfflineTeacherConfig(z_dim=cfg.z_dim, ngf=cfg.ngf))
        self.D = ProjectionDiscriminator(ndf=cfg.ndf, num_classes=self.G.c_dim)
        self.ema = EMA(self.G, cfg.ema_decay)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.step = 0
        self.out = Path(cfg.out_dir)
        fixed = torch.Generator().manual_seed(12345)
        self.fixed_z = torch.randn(100, cfg.z_dim, generator=fixed)
        self.fixed_y = torch.arange(10).repeat_interleave(10)

    # ---------------------------------------------------------------- checkpointing
    def state_dict(self) -> dict:
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "ema": self.ema.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "rng": self.gen.get_state(), "torch_rng": torch.get_rng_state(),
                "step": torch.tensor(self.step), "config": json.dumps(asdict(self.cfg))}

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.gen.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.step = int(state["step"])

    def save_checkpoint(self, path: Path | None = None) -> Path:
        path = Path(path or self.out / CHECKPOINT)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, path)
        return path

    def load_checkpoint(self, path: Path | None = None) -> None:
        path = Path(path or self.out / CHECKPOINT)
        if not path.is_file():
            raise FileNotFoundError(f"no GAN checkpoint at {path} (nothing to resume)")
        state = load_checkpoint_file(path)
        if isinstance(state.get("config"), str):
            refuse_changed_config(path, json.loads(state["config"]), json.loads(json.dumps(asdict(self.cfg))),
                                  MAY_CHANGE_ON_RESUME)
        self.load_state_dict(state)

    # ---------------------------------------------------------------- training
    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        cfg, g = self.cfg, self.gen
        idx = torch.randint(0, images.shape[0], (cfg.batch_size,), generator=g)
        real, y = images[idx], labels[idx]
        if cfg.hflip:
            flip = torch.rand(cfg.batch_size, generator=g) < 0.5
            real = torch.where(flip[:, None, None, None], real.flip(3), real)
        z = torch.randn(cfg.batch_size, cfg.z_dim, generator=g)
        fake = self.G(z, y)
        aug = (lambda x: diff_augment(x, cfg.augment, generator=g)) if cfg.augment else (lambda x: x)
        d_real = self.D(aug(real), y)
        d_fake = self.D(aug(fake.detach()), y)
        loss_d = d_hinge_loss(d_real, d_fake)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        loss_g = g_hinge_loss(self.D(aug(fake), y))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.ema.update(self.G)
        self.step += 1
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "d_real": d_real.mean().item(),
                "d_fake": d_fake.mean().item()}

    @torch.no_grad()
    def save_grid(self) -> Path:
        from ..images import save_grid

        imgs = self.ema.module(self.fixed_z, self.fixed_y)
        return save_grid(imgs, self.out / "grids" / f"step_{self.step:06d}.png", nrow=10)

    def train(self, images: torch.Tensor, labels: torch.Tensor, progress: bool = True) -> dict:
        cfg = self.cfg
        if images.dim() != 4 or images.shape[1:] != (3, 32, 32):
            raise ValueError(f"expected images [N, 3, 32, 32], got {tuple(images.shape)}")
        self.out.mkdir(parents=True, exist_ok=True)
        trim_log(self.out / "metrics.jsonl", self.step)  # a restart must not log its steps twice
        start = last_ckpt = time.time()
        log = open(self.out / "metrics.jsonl", "a")
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not progress, desc="gan", dynamic_ncols=True)
        stopped = "steps"
        try:
            while self.step < cfg.steps:
                t0 = time.time()
                m = self.train_step(images, labels)
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == 1:
                    m.update(step=self.step, sec_per_step=round(time.time() - t0, 3),
                             elapsed_min=round((time.time() - start) / 60, 2))
                    log.write(json.dumps(m) + "\n")
                    log.flush()
                    bar.set_postfix(d=f"{m['loss_d']:.3f}", g=f"{m['loss_g']:.3f}")
                if cfg.grid_every and self.step % cfg.grid_every == 0:
                    self.save_grid()
                if (time.time() - last_ckpt) / 60 >= cfg.checkpoint_minutes:
                    self.save_checkpoint()
                    last_ckpt = time.time()
                if cfg.max_minutes is not None and (time.time() - start) / 60 >= cfg.max_minutes:
                    stopped = "time"
                    break
        finally:
            bar.close()
            log.close()
            self.save_checkpoint()
        self.save_grid()
        return {"step": self.step, "stopped": stopped, "minutes": (time.time() - start) / 60}

    def export(self, path: Path | None = None) -> Path:
        from ..models.registry import save_generator

        path = Path(path or self.out / "generator_ema.safetensors")
        extra = {"train_steps": self.step, "train_config": asdict(self.cfg),
                 "data": f"CIFAR-10 train ({self.cfg.data_source})"}
        return save_generator(self.ema.module, path, extra_metadata=extra)


def load_training_data(source: str = "jpeg", data_root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 train -> (float32 [N, 3, 32, 32] in [-1, 1], int64 [N])."""
    from ..data import load_cifar10

    ds = load_cifar10("train", source=source, data_root=data_root)
    x, y = ds.to_tensors()
    return x * 2.0 - 1.0, y


def run_training(cfg: GANTrainConfig, resume: bool = False, progress: bool = True, overwrite: bool = False) -> dict:
    """Full run: data, (resume), train, checkpoint, export. Returns a summary dict.

    A non-empty ``out_dir`` is refused unless ``resume`` (continue its checkpoint, same settings) or ``overwrite``
    (delete the earlier run's files first)."""
    cfg.validate()
    prepare_run_folder(cfg.out_dir, "overwrite" if overwrite else "resume" if resume else "new", RUN_FILES)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    trainer = GANTrainer(cfg)
    if resume and (trainer.out / CHECKPOINT).is_file():
        trainer.load_checkpoint()
    images, labels = load_training_data(cfg.data_source)
    summary = trainer.train(images, labels, progress=progress)
    summary["generator"] = str(trainer.export())
    return summary
