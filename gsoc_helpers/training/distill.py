"""Black-box distillation trainer for the DiStyleGAN student (CPU, single GPU with AMP, DDP via ``torchrun``).

Data: pairs (teacher image, class, z) from a synthetic dataset folder (gsoc_helpers.data.synthetic) and real
CIFAR-10 images for the 0.2-weighted real/fake discriminator term.  Losses: gsoc_helpers.losses.distillation.

Reproducibility: the data order of epoch e is a permutation derived from (seed, e) (DistributedSampler), every
other random draw of step s on rank r (fresh z and classes, real-image indices, DiffAugment) comes from a
torch.Generator seeded with (seed, s, r).  A checkpoint holds G, EMA, D, both optimisers, the global torch/CUDA
RNG states and the step, so a resumed run continues exactly (bitwise on CPU) like an uninterrupted one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DistributedSampler

from ..config import resolve_device
from ..data import SOURCES, ImageDataset, load_cifar10
from ..data.synthetic import SyntheticDataset
from ..images import save_grid
from ..losses.distillation import LambdaPixSchedule, discriminator_loss, generator_loss
from ..models.discriminator import ProjectionDiscriminator
from ..models.registry import save_generator
from ..models.student import StudentConfig, StudentGenerator
from ..pixels import uint8_to_float
from ..progress import progress as tqdm  # tqdm's API; one final line in notebooks
from .augment import diff_augment
from .configs import DistillConfig
from .ema import EMA
from .loop import CHECKPOINT, METRICS, SAMPLES, RunFiles, TimeBudget, load_trainer_state, trainer_state
from .run_folder import RunMode, run_folder

COMMAND = "distill"  # the command named in the run folder's mark
# What a distillation run writes into its folder (deleted by overwrite), and the settings a resumed run may change.
RUN_FILES = (CHECKPOINT, METRICS, SAMPLES, "student_ema.safetensors")
MAY_CHANGE_ON_RESUME = (
    "synthetic_root",
    "out_dir",
    "epochs",
    "max_steps",
    "max_minutes",
    "log_every",
    "sample_every",
    "ckpt_every",
    "device",
    "precision",
    "progress",
)


def _step_generator(seed: int, step: int, rank: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + step * 7_919 + rank * 104_729) % (2**63))
    return g


class DistillTrainer:
    """Holds models, optimisers and data; ``train()`` runs until epochs / max_steps / max_minutes are used up."""

    def __init__(self, cfg: DistillConfig, real: ImageDataset | None = None) -> None:
        self.cfg = cfg.validate()
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.distributed else 0
        self.world = dist.get_world_size() if self.distributed else 1
        device = resolve_device(cfg.device)
        if device.type == "cuda" and self.distributed:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
        self.device = device
        self.out = Path(cfg.out_dir)
        self.files = RunFiles(self.out, cfg, MAY_CHANGE_ON_RESUME, writer=self.rank == 0)
        if not cfg.synthetic_root:
            raise ValueError("DistillConfig.synthetic_root is empty: give the synthetic dataset folder")
        syn = SyntheticDataset(cfg.synthetic_root)
        self.syn_images = torch.from_numpy(syn.image_array())  # uint8 [N, H, W, 3]
        self.syn_labels = torch.from_numpy(syn.labels)  # int64 [N]
        self.syn_z = torch.from_numpy(syn.z)  # float32 [N, z_dim]
        self.num_classes = int(syn.manifest["num_classes"])
        z_dim = int(syn.manifest["z_dim"])
        if cfg.z_dim and cfg.z_dim != z_dim:
            raise ValueError(f"z_dim={cfg.z_dim} but the synthetic dataset {cfg.synthetic_root!r} has z_dim={z_dim}")
        real = real if real is not None else load_cifar10("train", source=cfg.real_source)
        self.real_images = torch.from_numpy(real.images)  # uint8 [M, 32, 32, 3]
        self.real_labels = torch.from_numpy(real.labels)
        if len(syn) < cfg.batch_size * self.world:
            raise ValueError(f"{len(syn)} synthetic images < batch {cfg.batch_size} x {self.world} processes")

        torch.manual_seed(cfg.seed)  # identical initial weights on every rank
        self.G = StudentGenerator(StudentConfig(z_dim=z_dim, c_dim=self.num_classes, ngf=cfg.ngf)).to(device)
        self.D = ProjectionDiscriminator(ndf=cfg.ndf, num_classes=self.num_classes).to(device)
        self.ema = EMA(self.G, cfg.ema_decay)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=betas)
        if self.distributed:
            ids = [device.index] if device.type == "cuda" else None
            self.G_ddp: nn.Module = nn.parallel.DistributedDataParallel(self.G, device_ids=ids)
            self.D_ddp: nn.Module = nn.parallel.DistributedDataParallel(self.D, device_ids=ids)
        else:
            self.G_ddp, self.D_ddp = self.G, self.D
        self.lambda_pix = LambdaPixSchedule(cfg.lambda_pix, cfg.lambda_pix_decay)
        self.steps_per_epoch = len(syn) // (cfg.batch_size * self.world)
        self.step = 0
        g = torch.Generator().manual_seed(cfg.seed + 12345)
        n_fixed = 10 * self.num_classes if self.num_classes <= 10 else self.num_classes
        self.fixed_z = torch.randn(n_fixed, z_dim, generator=g)
        self.fixed_c = torch.arange(n_fixed) // max(1, n_fixed // self.num_classes) % self.num_classes

    # ----------------------------------------------------------------- data
    def epoch_indices(self, epoch: int) -> torch.Tensor:
        """This rank's synthetic indices of ``epoch``: int64 [steps_per_epoch, batch], derived from (seed, epoch)."""
        sampler = DistributedSampler(
            range(len(self.syn_labels)),
            num_replicas=self.world,
            rank=self.rank,
            shuffle=True,
            seed=self.cfg.seed,
            drop_last=True,
        )
        sampler.set_epoch(epoch)
        idx = torch.tensor(list(sampler), dtype=torch.long)
        b = self.cfg.batch_size
        return idx[: self.steps_per_epoch * b].view(self.steps_per_epoch, b)

    # ------------------------------------------------------------ one step
    def train_step(self, idx: torch.Tensor, epoch: int) -> dict[str, float]:
        cfg, dev, n = self.cfg, self.device, idx.numel()
        g = _step_generator(cfg.seed, self.step, self.rank, torch.device("cpu"))
        x_t = uint8_to_float(self.syn_images[idx]).to(dev)
        y = self.syn_labels[idx].to(dev)
        z = self.syn_z[idx].to(dev)
        z_fresh = torch.randn(n, z.shape[1], generator=g).to(dev)
        y_fresh = torch.randint(0, self.num_classes, (n,), generator=g).to(dev)
        ridx = torch.randint(0, len(self.real_labels), (n,), generator=g)
        x_r, y_r = uint8_to_float(self.real_images[ridx]).to(dev), self.real_labels[ridx].to(dev)
        aug_seed = int(torch.randint(0, 2**62, (1,), generator=g))
        lam = self.lambda_pix(epoch)
        amp = cfg.precision == "bf16" or (cfg.precision == "auto" and dev.type == "cuda")

        def aug(x: torch.Tensor, k: int) -> torch.Tensor:
            if not cfg.diffaug:
                return x
            return diff_augment(x, cfg.diffaug, generator=_step_generator(aug_seed, k, 0, x.device))

        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            x_all = self.G_ddp(torch.cat([z, z_fresh]), torch.cat([y, y_fresh]))  # one DDP forward per step
            x_s, x_f = x_all[:n], x_all[n:]
            # discriminator: teacher = real, student = fake; plus 0.2 x (real CIFAR-10 vs student)
            logits = self.D_ddp(aug(torch.cat([x_t, x_s.detach(), x_r]), 0), torch.cat([y, y, y_r])).float()
            d_loss, d_terms = discriminator_loss(
                logits[:n], logits[n : 2 * n], logits[2 * n :], weights=cfg.loss_weights
            )
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()

        for p in self.D.parameters():
            p.requires_grad_(False)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            with torch.no_grad():
                _, f_t = self.D(x_t, y, return_features=True)
            l_sf, f_sf = self.D(torch.cat([x_s, aug(x_f, 1)]), torch.cat([y, y_fresh]), return_features=True)
            f_s = [f[:n].float() for f in f_sf]
            g_loss, g_terms = generator_loss(
                [f.float() for f in f_t],
                f_s,
                x_s.float(),
                x_t,
                l_sf[:n].float(),
                l_sf[n:].float(),
                lam,
                cfg.loss_weights,
            )
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        for p in self.D.parameters():
            p.requires_grad_(True)
        self.ema.update(self.G)
        self.step += 1
        out = {k: float(v.detach()) for k, v in {**d_terms, **g_terms}.items()}
        out["lambda_pix"] = lam
        return out

    # --------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        state = trainer_state(self)
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict) -> None:
        load_trainer_state(self, state)
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])

    @property
    def checkpoint_path(self) -> Path:
        return self.files.checkpoint

    def save_checkpoint(self) -> Path | None:
        """Atomic write (rank 0 only) of the full training state to ``out_dir/checkpoint.pt``."""
        return self.files.save(self.state_dict())

    def load_checkpoint(self, path: str | os.PathLike | None = None) -> bool:
        """Load ``path`` (default out_dir/checkpoint.pt) if it exists -> whether something was loaded; ValueError
        if it was written with other settings."""
        state = self.files.load(path, map_location=self.device)
        if state is None:
            return False
        self.load_state_dict(state)
        return True

    def save_samples(self) -> Path | None:
        if self.rank != 0:
            return None
        with torch.no_grad():
            imgs = self.ema.module(self.fixed_z.to(self.device), self.fixed_c.to(self.device)).float().cpu()
        nrow = max(1, len(self.fixed_z) // self.num_classes)
        return save_grid(imgs, self.files.sample_path(self.step), nrow=nrow)

    def export_ema(self) -> Path | None:
        if self.rank != 0:
            return None
        return save_generator(
            self.ema.module,
            self.out / "student_ema.safetensors",
            {"step": self.step, "synthetic_root": str(self.cfg.synthetic_root)},
        )

    # --------------------------------------------------------------- loop
    def _time_is_up(self, budget: TimeBudget) -> bool:
        """max_minutes reached? Under DDP every rank takes rank 0's decision (no rank may stop alone)."""
        flag = torch.tensor([float(budget.expired())])
        if self.distributed:
            flag = flag.to(self.device)
            dist.broadcast(flag, src=0)
        return bool(flag.item())

    def train(self, resume: bool = True, overwrite: bool = False) -> dict:
        """Train; returns {'step', 'stopped' ('done'|'max_steps'|'max_minutes'), 'images_per_s'}.

        ``resume`` continues the checkpoint in ``out_dir`` (refusing changed settings); with neither ``resume`` nor
        ``overwrite`` a non-empty ``out_dir`` is refused; ``overwrite`` deletes the earlier run's files first.
        """
        mode = _mode(resume, overwrite)
        with run_folder(
            self.out,
            mode if self.rank == 0 or mode != "overwrite" else "resume",
            RUN_FILES,
            COMMAND,
            inputs=_inputs(self.cfg),
            lock=self.rank == 0,
        ):
            return self._train(mode)

    def _train(self, mode: RunMode) -> dict:
        cfg = self.cfg
        if mode == "resume":
            self.load_checkpoint()
        self.files.trim_log(self.step)  # a restart before the first checkpoint must not log its steps twice
        total = cfg.epochs * self.steps_per_epoch
        if cfg.max_steps:
            total = min(total, cfg.max_steps)
        self.G.train()
        self.D.train()
        budget, t_last, s_last = TimeBudget(cfg.max_minutes), time.perf_counter(), self.step
        stopped, ips = "done", 0.0
        bar = tqdm(
            total=total, initial=self.step, disable=not cfg.progress or self.rank != 0, desc="distill", unit="step"
        )
        while self.step < total:
            epoch, k = divmod(self.step, self.steps_per_epoch)
            batches = self.epoch_indices(epoch)
            for b in range(k, self.steps_per_epoch):
                if self.step >= total:
                    break
                terms = self.train_step(batches[b], epoch)
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == total:
                    now = time.perf_counter()
                    ips = (self.step - s_last) * cfg.batch_size * self.world / max(now - t_last, 1e-9)
                    t_last, s_last = now, self.step
                    self.files.log({"step": self.step, "epoch": epoch, **terms, "images_per_s": ips})
                    bar.set_postfix(g=f"{terms['g_total']:.3f}", d=f"{terms['d_total']:.3f}")
                if cfg.sample_every and self.step % cfg.sample_every == 0:
                    self.save_samples()
                if cfg.ckpt_every and self.step % cfg.ckpt_every == 0:
                    self.save_checkpoint()
                if cfg.max_minutes and self._time_is_up(budget):
                    stopped = "max_minutes"
                    break
            if stopped != "done":
                break
        bar.close()
        if (
            stopped == "done"
            and cfg.max_steps
            and self.step >= cfg.max_steps
            and self.step < cfg.epochs * self.steps_per_epoch
        ):
            stopped = "max_steps"
        self.save_checkpoint()
        self.save_samples()
        self.export_ema()
        return {"step": self.step, "stopped": stopped, "images_per_s": ips}


def _mode(resume: bool, overwrite: bool) -> RunMode:
    return "overwrite" if overwrite else "resume" if resume else "new"


def _inputs(cfg: DistillConfig) -> list[tuple[str, str | None]]:
    """The run's input paths, which its folder must stay apart from."""
    real = None if cfg.real_source in SOURCES else cfg.real_source
    return [("synthetic dataset", cfg.synthetic_root), ("real image folder", real)]


def run_distill(
    cfg: DistillConfig, resume: bool = True, real: ImageDataset | None = None, overwrite: bool = False
) -> dict:
    """Entry point for the CLI / torchrun: sets up the process group when WORLD_SIZE > 1, then trains."""
    own_group = False
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and cfg.device != "cpu" else "gloo"
        dist.init_process_group(backend)
        own_group = True
    try:
        result = DistillTrainer(cfg, real=real).train(resume=resume, overwrite=overwrite)
    finally:
        if own_group:
            dist.destroy_process_group()
    return result


__all__ = ["DistillConfig", "DistillTrainer", "run_distill"]
