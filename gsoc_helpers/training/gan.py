"""Class-conditional GAN training of the offline teacher on CPU (or GPU).

Hinge loss, spectral-norm projection discriminator, Adam, EMA of G, DiffAugment on real and fake
images before D, one D step per G step (the fake batch of the D step is reused for the G step). With
``class_loss`` > 0 the discriminator also has an AC-GAN class head (Odena et al. 2017), trained by cross-entropy on
real images only; the generator adds the same weight times the head's cross-entropy on its fakes for the requested
class. The head is part of D and learns from the training images alone: no pretrained classifier is used.
Resumable: the checkpoint (:class:`~gsoc_helpers.training.loop.RunFiles`) holds G, EMA, D, both optimisers, the
RNG state, the step and the settings. ``max_minutes`` stops cleanly at a wall-clock budget. Outputs in ``out_dir``:
metrics.jsonl, samples/step_XXXXXXX.png, checkpoint.pt and, at the end, the EMA generator as
``generator_ema.safetensors`` (registry format).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import load_cifar10
from ..data.cifar10 import SOURCES
from ..images import save_grid
from ..losses.adversarial import d_hinge_loss, g_hinge_loss
from ..models.discriminator import ProjectionDiscriminator
from ..models.offline_teacher import OfflineTeacher, OfflineTeacherConfig
from ..models.registry import load_generator, save_generator
from ..progress import progress as tqdm  # tqdm's API; one final line in notebooks
from .augment import diff_augment
from .configs import GANTrainConfig
from .ema import EMA
from .loop import CHECKPOINT, METRICS, SAMPLES, RunFiles, TimeBudget, load_trainer_state, trainer_state
from .run_folder import run_folder

SNAPSHOTS = "snapshots"  # the EMA generator at each checkpoint (``snapshots``): a training curve after the run
RUN_FILES = (CHECKPOINT, METRICS, SAMPLES, SNAPSHOTS, "generator_ema.safetensors")
MAY_CHANGE_ON_RESUME = (
    "out_dir",
    "steps",
    "max_minutes",
    "checkpoint_minutes",
    "snapshots",
    "grid_every",
    "log_every",
    "threads",
    "data_source",
    "extra",
)


class GANTrainer:
    """Holds models, optimisers and RNG; ``train(images, labels)`` runs until steps or time run out.

    images: float32 [N, 3, 32, 32] in [-1, 1]; labels: int64 [N].
    """

    def __init__(self, cfg: GANTrainConfig) -> None:
        self.cfg = cfg.validate()
        torch.manual_seed(cfg.seed)
        self.G = OfflineTeacher(OfflineTeacherConfig(z_dim=cfg.z_dim, ngf=cfg.ngf))
        if cfg.init_generator:
            _warm_start(self.G, cfg.init_generator)
        self.D = ProjectionDiscriminator(ndf=cfg.ndf, num_classes=self.G.c_dim, class_head=cfg.class_loss > 0)
        self.ema = EMA(self.G, cfg.ema_decay)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.step = 0
        self.out = Path(cfg.out_dir)
        self.files = RunFiles(self.out, cfg, MAY_CHANGE_ON_RESUME)
        fixed = torch.Generator().manual_seed(12345)
        self.fixed_z = torch.randn(100, cfg.z_dim, generator=fixed)
        self.fixed_y = torch.arange(10).repeat_interleave(10)
        self._by_class: tuple[torch.Tensor, list[torch.Tensor]] | None = None  # (labels, indices of each class)

    # ---------------------------------------------------------------- checkpointing
    def state_dict(self) -> dict:
        return {**trainer_state(self), "rng": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        load_trainer_state(self, state)
        self.gen.set_state(state["rng"])

    def save_checkpoint(self) -> Path:
        """Write checkpoint.pt (and with ``snapshots`` the EMA generator as snapshots/step_XXXXXXX.safetensors)."""
        if self.cfg.snapshots:
            self.export(self.out / SNAPSHOTS / f"step_{self.step:07d}.safetensors")
        return self.files.save(self.state_dict()) or self.files.checkpoint

    def load_checkpoint(self, path: Path | None = None) -> bool:
        """Load ``path`` (default out_dir/checkpoint.pt) if it exists -> whether something was loaded; ValueError
        if it was written with other settings."""
        state = self.files.load(path)
        if state is not None:
            self.load_state_dict(state)
        return state is not None

    # ---------------------------------------------------------------- training
    def _batch(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A real batch (flipped at random when ``hflip``): [B, 3, 32, 32] and [B]; with ``balanced_classes`` each
        class appears batch_size // C or one more times (which classes get one more rotates at random)."""
        cfg, g = self.cfg, self.gen
        if cfg.balanced_classes:
            if self._by_class is None or self._by_class[0] is not labels:
                self._by_class = (labels, [torch.nonzero(labels == c).flatten() for c in range(self.G.c_dim)])
            pools = self._by_class[1]
            c = self.G.c_dim
            y = (torch.arange(cfg.batch_size) + int(torch.randint(0, c, (1,), generator=g))) % c
            idx = torch.stack([pools[k][int(torch.randint(0, len(pools[k]), (1,), generator=g))] for k in y.tolist()])
        else:
            idx = torch.randint(0, images.shape[0], (cfg.batch_size,), generator=g)
        real, y = images[idx], labels[idx]
        if cfg.hflip:
            flip = torch.rand(cfg.batch_size, generator=g) < 0.5
            real = torch.where(flip[:, None, None, None], real.flip(3), real)
        return real, y

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        """``d_steps`` discriminator updates, then one generator update (the last D step's fake batch reused)."""
        cfg, g = self.cfg, self.gen
        aug = (lambda x: diff_augment(x, cfg.augment, generator=g)) if cfg.augment else (lambda x: x)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
        w, cls_real, cls_fake = cfg.class_loss, torch.zeros(()), torch.zeros(())
        for _ in range(cfg.d_steps):
            real, y = self._batch(images, labels)
            z = torch.randn(cfg.batch_size, cfg.z_dim, generator=g)
            with autocast:
                fake = self.G(z, y)
                pooled_real, _ = self.D.trunk(aug(real))
                d_real = self.D.head(pooled_real, y).float()
                d_fake = self.D(aug(fake.detach()), y).float()
            loss_d = d_hinge_loss(d_real, d_fake)
            if w:
                cls_real = F.cross_entropy(self._classify(pooled_real), y)
                loss_d = loss_d + w * cls_real
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        with autocast:
            pooled_gen, _ = self.D.trunk(aug(fake))
            d_gen = self.D.head(pooled_gen, y).float()
        loss_g = g_hinge_loss(d_gen)
        if w:
            cls_fake = F.cross_entropy(self._classify(pooled_gen), y)
            loss_g = loss_g + w * cls_fake
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.ema.update(self.G)
        self.step += 1
        out = {
            "loss_d": loss_d.item(),
            "loss_g": loss_g.item(),
            "d_real": d_real.mean().item(),
            "d_fake": d_fake.mean().item(),
        }
        if w:
            out.update(cls_real=cls_real.item(), cls_fake=cls_fake.item())
        return out

    def _classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """D's class head: pooled features [N, 4ndf] -> float32 logits [N, C] (outside bf16 autocast's rounding)."""
        assert self.D.classify is not None
        return self.D.classify(pooled.float()).float()

    @torch.no_grad()
    def save_grid(self) -> Path:
        imgs = self.ema.module(self.fixed_z, self.fixed_y)
        return save_grid(imgs, self.files.sample_path(self.step), nrow=10)

    def train(self, images: torch.Tensor, labels: torch.Tensor, progress: bool = True) -> dict:
        cfg = self.cfg
        if images.dim() != 4 or images.shape[1:] != (3, 32, 32):
            raise ValueError(f"expected images [N, 3, 32, 32], got {tuple(images.shape)}")
        self.files.trim_log(self.step)  # a restart must not log its steps twice
        budget, last_ckpt = TimeBudget(cfg.max_minutes), time.perf_counter()
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not progress, desc="gan", dynamic_ncols=True)
        stopped = "done"
        try:
            while self.step < cfg.steps:
                t0 = time.perf_counter()
                m = self.train_step(images, labels)
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == 1:
                    m.update(
                        step=self.step,
                        sec_per_step=round(time.perf_counter() - t0, 3),
                        elapsed_min=round(budget.minutes(), 2),
                    )
                    self.files.log(m)
                    bar.set_postfix(d=f"{m['loss_d']:.3f}", g=f"{m['loss_g']:.3f}")
                if cfg.grid_every and self.step % cfg.grid_every == 0:
                    self.save_grid()
                if (time.perf_counter() - last_ckpt) / 60 >= cfg.checkpoint_minutes:
                    self.save_checkpoint()
                    last_ckpt = time.perf_counter()
                if budget.expired():
                    stopped = "max_minutes"
                    break
        finally:
            bar.close()
            self.save_checkpoint()
        self.save_grid()
        return {"step": self.step, "stopped": stopped, "minutes": budget.minutes()}

    def export(self, path: Path | None = None) -> Path:
        path = Path(path or self.out / "generator_ema.safetensors")
        extra = {
            "train_steps": self.step,
            "train_config": asdict(self.cfg),
            "data": f"CIFAR-10 train ({self.cfg.data_source})",
        }
        return save_generator(self.ema.module, path, extra_metadata=extra)


def _init_file(name: str) -> str | None:
    """The file behind ``init_generator`` when it names one (not a bundled name), for the run folder's overlap check."""
    return name if name and Path(name).expanduser().exists() else None


def _warm_start(G: OfflineTeacher, path: str) -> None:
    """Copy the weights of the generator file ``path`` into ``G``; ValueError (one line) unless it is an offline
    teacher of the same sizes."""
    src = load_generator(path)

    def shapes(m: torch.nn.Module) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in m.state_dict().items()}

    if not isinstance(src, OfflineTeacher) or shapes(src) != shapes(G):
        c = G.config
        raise ValueError(
            f"init_generator {path!r} is not an offline teacher of this run's sizes (z_dim {c.z_dim}, ngf {c.ngf})"
        )
    G.load_state_dict(src.state_dict())


def load_training_data(source: str = "jpeg", data_root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 train -> (float32 [N, 3, 32, 32] in [-1, 1], int64 [N])."""
    ds = load_cifar10("train", source=source, data_root=data_root)
    x, y = ds.to_tensors()
    return x * 2.0 - 1.0, y


def run_training(cfg: GANTrainConfig, resume: bool = False, progress: bool = True, overwrite: bool = False) -> dict:
    """Full run: data, (resume), train, checkpoint, export. Returns a summary dict.

    A non-empty ``out_dir`` is refused unless ``resume`` (continue its checkpoint, same settings) or ``overwrite``
    (delete the earlier run's files first)."""
    cfg.validate()
    data = None if cfg.data_source in SOURCES else cfg.data_source
    with run_folder(
        cfg.out_dir,
        "overwrite" if overwrite else "resume" if resume else "new",
        RUN_FILES,
        "train-teacher",
        inputs=[("data source folder", data), ("init generator", _init_file(cfg.init_generator))],
    ):
        return _train(cfg, resume, progress)


def _train(cfg: GANTrainConfig, resume: bool, progress: bool) -> dict:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    trainer = GANTrainer(cfg)
    if resume:
        trainer.load_checkpoint()
    images, labels = load_training_data(cfg.data_source)
    summary = trainer.train(images, labels, progress=progress)
    summary["generator"] = str(trainer.export())
    return summary
