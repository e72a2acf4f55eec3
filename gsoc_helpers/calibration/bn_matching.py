"""Data-free images for a classifier: optimise pixels so its BatchNorm inputs match the running statistics.

The recipe of ZeroQ (Cai et al. 2020), DeepInversion (Yin et al. 2020) and Sony MCT's data generation: images
``x = sigmoid(p)`` in [0,1] at the model's own input size, fed through the model's own preprocessing (the
classifier passed in takes [0,1] images); the loss is

* the BN-statistics loss (:class:`BNStatsLoss`): over every ``BatchNorm2d``, the squared distance of the batch mean
  and variance of its *input* from the running mean and variance (averaged over channels), summed over layers;
* image priors: ``tv_weight`` * total variation (mean absolute difference of neighbouring pixels) and
  ``l2_weight`` * mean squared distance from mid-grey;
* optionally ``ce_weight`` * cross-entropy towards a nominal label over the model's own classes;

each step sees the images randomly shifted (up to ``jitter`` of the side, wrapped) and flipped. Adam with a cosine
learning-rate schedule; the first ``warmup`` fraction of the steps optimises half-resolution images that the model
sees at half its input size (4x cheaper per step; only for models that take other sizes, i.e. convolutional with
global pooling), the parameters then upsampled to the full size. ``channels_last`` memory and ``bf16`` autocast (where the CPU has native bf16, see
:func:`bf16_available`) make each step cheaper; ``benchmarks/bench_bn_matching.py`` measures what they cost in
agreement.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..defaults import BN_MATCHING_STEPS
from ..progress import progress as tqdm  # tqdm's API; one final line in notebooks


class BNStatsLoss:
    """Hooks every BatchNorm2d of ``model``; ``value()`` = sum over layers of ||mu_b - mu||^2 + ||var_b - var||^2
    between the batch statistics of the BN *inputs* and the running statistics (averaged over channels)."""

    def __init__(self, model: nn.Module) -> None:
        self.terms: list[torch.Tensor] = []
        self.handles = [
            m.register_forward_pre_hook(self._hook) for m in model.modules() if isinstance(m, nn.BatchNorm2d)
        ]
        if not self.handles:
            raise ValueError("bn-matching needs a classifier with BatchNorm2d layers")

    def _hook(self, bn: nn.BatchNorm2d, inputs: tuple) -> None:
        var, mu = torch.var_mean(inputs[0].float(), (0, 2, 3), unbiased=False)  # one pass over the input
        self.terms.append(F.mse_loss(mu, bn.running_mean) + F.mse_loss(var, bn.running_var))

    def value(self) -> torch.Tensor:
        out = torch.stack(self.terms).sum()
        self.terms = []
        return out

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def bn_loss(model: nn.Module, images: torch.Tensor) -> float:
    """The BN-statistics loss of ``images`` (float32 [N,3,S,S] in [0,1]) under ``model`` (eval mode)."""
    hooks = BNStatsLoss(model)
    try:
        with torch.no_grad():
            model.eval()(images)
        return float(hooks.value())
    finally:
        hooks.remove()


def bf16_available() -> bool:
    """True when this CPU computes bf16 natively (AVX-512 BF16 or AMX), where bf16 autocast is faster, not slower."""
    try:
        cap = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # torch < 2.1
        return False
    if cap not in ("AVX512", "AMX"):
        return False
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


@dataclass
class InversionSettings:
    """Settings of :func:`invert`. The defaults are the recipe of the CIFAR-10 studies (32x32: 200 Adam steps at a
    constant rate, no priors); :func:`settings_for` gives the one for larger inputs. Weights are absolute: the
    BN-statistics loss of a model sets their scale (EfficientNet-Lite0: about 2e5 for noise, 3e4 for photos)."""

    steps: int = BN_MATCHING_STEPS
    lr: float = 0.1
    ce_weight: float = 0.1  # 0: BN statistics and priors only
    tv_weight: float = 0.0
    l2_weight: float = 0.0
    jitter: float = 0.0  # largest shift, a fraction of the side
    flip: bool = False
    warmup: float = 0.0  # fraction of the steps at half resolution, fed to the model at that size (0: none)
    batch_size: int = 100
    channels_last: bool = False
    bf16: bool | None = False  # None: where the CPU has native bf16 (bf16_available)
    cosine: bool = False  # cosine learning-rate decay to 0 (else constant)

    def validate(self) -> None:
        if self.steps < 0 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(f"bn-matching needs steps >= 0, batch_size >= 1, lr > 0; got {asdict(self)}")
        if not 0 <= self.warmup < 1 or not 0 <= self.jitter < 0.5:
            raise ValueError(f"bn-matching warmup must be in [0,1) and jitter in [0,0.5); got {asdict(self)}")
        if min(self.ce_weight, self.tv_weight, self.l2_weight) < 0:
            raise ValueError(f"bn-matching weights must be >= 0; got {asdict(self)}")


# Inputs larger than this get LARGE_INPUT: at 224x224 a step costs about 50x a 32x32 one, so few steps, half of them
# at half size, with DeepInversion's priors (jitter, flip, total variation) and a cosine schedule; the weights were
# set on EfficientNet-Lite0's BN-loss scale, and benchmarks/bench_bn_matching.py measures what they give.
SMALL_INPUT_MAX = 64
LARGE_INPUT = InversionSettings(
    steps=16,
    lr=0.25,
    ce_weight=100.0,
    tv_weight=2e4,
    jitter=0.125,
    flip=True,
    warmup=0.5,
    batch_size=32,
    channels_last=True,
    bf16=None,
    cosine=True,
)


def settings_for(image_size: int) -> InversionSettings:
    """The default recipe for a model taking ``image_size`` x ``image_size`` inputs."""
    return InversionSettings() if image_size <= SMALL_INPUT_MAX else LARGE_INPUT


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of horizontally and vertically neighbouring pixels of [N,3,H,W]."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def _augment(x: torch.Tensor, jitter: float, flip: bool, g: torch.Generator) -> torch.Tensor:
    side = x.shape[-1]
    j = int(round(jitter * side))
    if j:
        dy, dx = (int(v) for v in torch.randint(-j, j + 1, (2,), generator=g))
        x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    if flip and bool(torch.rand((), generator=g) < 0.5):
        x = x.flip(3)
    return x


def _lr(step: int, steps: int, lr: float) -> float:
    return 0.5 * lr * (1 + math.cos(math.pi * step / max(steps, 1)))


def invert(
    classifier: nn.Module,
    init: torch.Tensor,
    labels: torch.Tensor,
    settings: InversionSettings | None = None,
    seed: int = 0,
    progress: bool = True,
) -> torch.Tensor:
    """float32 [N,3,S,S] images in [0,1] optimised from the pre-sigmoid ``init`` [N,3,S,S] (see module doc) for
    ``classifier`` (taking [0,1] images, returning logits [N, classes]); ``labels`` int64 [N] are the nominal
    classes of the cross-entropy term. The classifier is left as it was (eval mode, gradients on)."""
    s = settings or InversionSettings()
    s.validate()
    bf16 = bf16_available() if s.bf16 is None else s.bf16
    model = classifier.eval()
    grads = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    if s.channels_last:
        model = model.to(memory_format=torch.channels_last)
    hooks = BNStatsLoss(model)
    side = init.shape[-1]
    low = max(8, side // 2)
    n_low = int(s.warmup * s.steps) if low < side else 0
    g = torch.Generator().manual_seed(seed)
    out = []
    try:
        starts = range(0, len(init), s.batch_size)
        bar = tqdm(total=len(starts) * s.steps, desc="bn-matching", disable=not progress, leave=False)
        for b0 in starts:
            p0 = init[b0 : b0 + s.batch_size]
            if n_low:
                p0 = F.interpolate(p0, size=(low, low), mode="area")
            param = p0.clone().contiguous(memory_format=_fmt(s)).requires_grad_(True)
            y = labels[b0 : b0 + s.batch_size]
            opt = torch.optim.Adam([param], lr=s.lr)
            for step in range(s.steps):
                if step == n_low and n_low:  # end of warm-up: same images at full resolution, fresh optimiser
                    up = F.interpolate(param.detach(), size=(side, side), mode="bilinear", align_corners=False)
                    param = up.contiguous(memory_format=_fmt(s)).requires_grad_(True)
                    opt = torch.optim.Adam([param], lr=s.lr)
                for group in opt.param_groups:
                    group["lr"] = _lr(step, s.steps, s.lr) if s.cosine else s.lr
                opt.zero_grad(set_to_none=True)
                x = torch.sigmoid(param)
                xa = _augment(x, s.jitter, s.flip, g)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    logits = model(xa.contiguous(memory_format=_fmt(s)))
                loss = hooks.value() + s.tv_weight * total_variation(x)
                if s.l2_weight:
                    loss = loss + s.l2_weight * (x - 0.5).pow(2).mean()
                if s.ce_weight:
                    loss = loss + s.ce_weight * F.cross_entropy(logits.float(), y)
                loss.backward()
                opt.step()
                bar.update(1)
            hooks.terms = []
            final = torch.sigmoid(param.detach()).float()
            if final.shape[-1] != side:  # steps == 0 with warm-up
                final = F.interpolate(final, size=(side, side), mode="bilinear", align_corners=False)
            out.append(final.contiguous())
        bar.close()
    finally:
        hooks.remove()
        if s.channels_last:
            classifier.to(memory_format=torch.contiguous_format)
        for p, r in zip(classifier.parameters(), grads, strict=True):
            p.requires_grad_(r)
    return torch.cat(out).clamp_(0, 1)


def _fmt(s: InversionSettings):
    return torch.channels_last if s.channels_last else torch.contiguous_format
