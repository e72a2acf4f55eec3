"""Synthetic-data fine-tuning of a b-bit classifier (the GDFQ family's recipe, with this project's generators).

Start: the FP32 PyTorch classifier with its BatchNorms folded into the convolutions, fake-quant at the input of
every Conv2d/Linear (per-tensor asymmetric activations) and on every weight (per-output-channel symmetric), with
ranges from the same estimators as the OpenVINO study (:mod:`.ranges`) on the calibration images. Then
knowledge distillation: KL(FP32 softmax || quantized softmax) on images from a source, with straight-through
rounding and LSQ-style learnable step sizes (Esser et al. 2020), Adam, cosine learning rate.
Evaluation is in PyTorch fake-quant (float emulation of the b-bit model, like OpenVINO's for levels != 256), not an
exported IR. Resumable: ``<out>/checkpoint.pt`` (tensors only, read with ``weights_only=True``) every
``checkpoint_every`` steps; the batch of step k depends only on (seed, k), so a resumed run sees the same images.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..progress import progress as tqdm
from .lowbit import SAMPLES_PER_TENSOR, BitWidth
from .ranges import ESTIMATORS, estimate_range, weight_scales


def _grad_scale(x: torch.Tensor, g: float) -> torch.Tensor:
    return (x - x * g).detach() + x * g


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return (x.round() - x).detach() + x


class ActQuant(nn.Module):
    """Per-tensor asymmetric fake-quant over [low, low + scale*(levels-1)]; ``low`` stays 0 (not learnt) for
    non-negative inputs. Off (identity) until :meth:`init` sets the range."""

    def __init__(self, levels: int) -> None:
        super().__init__()
        self.levels = levels
        self.low = nn.Parameter(torch.zeros(()), requires_grad=False)
        self.scale = nn.Parameter(torch.ones(()))
        self.register_buffer("ready", torch.zeros((), dtype=torch.bool))

    def init(self, low: float, high: float) -> None:
        with torch.no_grad():
            self.low.fill_(low)
            self.scale.fill_((high - low) / (self.levels - 1))
        self.low.requires_grad_(low < 0)
        self.ready.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not bool(self.ready):
            return x
        s = _grad_scale(self.scale, 1 / math.sqrt(x[0].numel() * (self.levels - 1))).abs() + 1e-8
        q = torch.clamp((x - self.low) / s, 0, self.levels - 1)
        return _round_ste(q) * s + self.low


class QuantLayer(nn.Module):
    """A Conv2d or Linear with fake-quant input (:class:`ActQuant`) and per-channel symmetric b-bit weights."""

    def __init__(self, layer: nn.Conv2d | nn.Linear, bits: BitWidth, estimator: str) -> None:
        super().__init__()
        self.layer = layer
        self.act = ActQuant(2**bits.activations)
        self.qmax = 2 ** (bits.weights - 1) - 1
        w = layer.weight.detach().numpy()
        self.w_scale = nn.Parameter(
            torch.from_numpy(weight_scales(w, bits.weights, "mse" if estimator == "mse" else "minmax"))
        )

    def quantized_weight(self) -> torch.Tensor:
        w = self.layer.weight
        g = 1 / math.sqrt(w[0].numel() * self.qmax)
        s = (_grad_scale(self.w_scale, g).abs() + 1e-8).view(-1, *([1] * (w.ndim - 1)))
        return _round_ste(torch.clamp(w / s, -self.qmax, self.qmax)) * s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, w = self.act(x), self.quantized_weight()
        if isinstance(self.layer, nn.Linear):
            return F.linear(x, w, self.layer.bias)
        c = self.layer
        return F.conv2d(x, w, c.bias, c.stride, c.padding, c.dilation, c.groups)


def fold_batchnorms(model: nn.Module) -> nn.Module:
    """``model`` (in place, eval) with every BatchNorm2d that directly follows a Conv2d among its siblings folded
    into that convolution (the BatchNorm becomes Identity)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model.eval()
    for parent in list(model.modules()):
        names = list(parent._modules)
        for a, b in zip(names, names[1:], strict=False):
            conv, bn = parent._modules[a], parent._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                parent._modules[a] = fuse_conv_bn_eval(conv, bn)
                parent._modules[b] = nn.Identity()
    return model


def quantize_modules(model: nn.Module, bits: BitWidth, estimator: str = "mse") -> list[QuantLayer]:
    """Replace (in place) every Conv2d/Linear of ``model`` by a :class:`QuantLayer`; returns them in order."""
    out = []
    for parent in list(model.modules()):
        for name, child in list(parent._modules.items()):
            if isinstance(child, (nn.Conv2d, nn.Linear)):
                q = QuantLayer(child, bits, estimator)
                parent._modules[name] = q
                out.append(q)
    return out


@torch.no_grad()
def init_activation_ranges(model: nn.Module, layers: list[QuantLayer], images: torch.Tensor, estimator: str) -> None:
    """Set every :class:`ActQuant` range with ``estimator`` at its level count from the inputs ``images``
    [N,3,H,W] produce (quantizers still off, so the statistics are the FP32 model's with quantized weights)."""
    rng = np.random.default_rng(0)
    seen: dict[int, list[np.ndarray]] = {i: [] for i in range(len(layers))}
    hooks = [
        layer.register_forward_pre_hook(lambda _m, inp, i=i: seen[i].append(inp[0].detach().numpy().ravel()))
        for i, layer in enumerate(layers)
    ]
    try:
        model.eval()(images)
    finally:
        for h in hooks:
            h.remove()
    for i, layer in enumerate(layers):
        v = np.concatenate(seen[i])
        pick = np.concatenate(
            [rng.choice(v.size, min(SAMPLES_PER_TENSOR, v.size), replace=False), [v.argmin(), v.argmax()]]
        )
        layer.act.init(*estimate_range(v[pick], layer.act.levels, estimator))


@dataclass
class FinetuneConfig:
    source: str = "student"  # training images: a generator sampled per step ("student"/"teacher") or a pool
    bits: str = "W4A4"
    estimator: str = "mse"  # range estimator of the starting point (ranges.ESTIMATORS)
    calibration_source: str | None = None  # None: the training source
    calibration_size: int = 300
    seed: int = 0
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-5  # weights and biases; 600 student steps (W4A4 ResNet-20, benchmarks/RESULTS.md): 3e-6 87.1 %,
    # 1e-5 88.5 %, 3e-5 87.3 % top-1 (FP32 91.6 %)
    scale_lr: float = 1e-4  # quantizer step sizes and offsets
    temperature: float = 1.0
    pool_size: int = 2048  # images drawn once from a non-generator source
    eval_every: int = 100
    checkpoint_every: int = 100

    def validate(self) -> None:
        BitWidth.parse(self.bits)
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"unknown range estimator {self.estimator!r}; expected one of {ESTIMATORS}")
        for name in ("calibration_size", "steps", "batch_size", "pool_size", "eval_every", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def _evaluate(model: nn.Module, teacher_logits: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    with torch.no_grad():
        pred = torch.cat([model(x[s : s + 500]) for s in range(0, len(x), 500)]).argmax(1)
    return {
        "top1": 100 * float((pred == y).float().mean()),
        "agreement": 100 * float((pred == teacher_logits.argmax(1)).float().mean()),
    }


def finetune(
    fp32: nn.Module,
    cfg: FinetuneConfig,
    out_dir: str | Path,
    batch_for_step: Callable[[int], torch.Tensor],
    calibration: torch.Tensor,
    test: tuple[torch.Tensor, torch.Tensor],
    progress: bool = True,
) -> dict:
    """Fine-tune a b-bit copy of ``fp32`` (takes [0,1] images) for ``cfg.steps`` steps, resuming from
    ``<out_dir>/checkpoint.pt``. ``batch_for_step(k)``: float32 [B,3,H,W] in [0,1], a function of k only.
    Returns the record written to ``<out_dir>/result.json``: top-1/agreement (%) on ``test`` before and after,
    the history every ``cfg.eval_every`` steps, and the wall seconds of this call."""
    import copy

    cfg.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    teacher = fp32.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = fold_batchnorms(copy.deepcopy(teacher))
    layers = quantize_modules(student, BitWidth.parse(cfg.bits), cfg.estimator)
    init_activation_ranges(student, layers, calibration, cfg.estimator)
    scales = [p for n, p in student.named_parameters() if n.endswith(("act.scale", "act.low", "w_scale"))]
    weights = [p for n, p in student.named_parameters() if not n.endswith(("act.scale", "act.low", "w_scale"))]
    for p in weights:  # the teacher's parameters were frozen before the copy
        p.requires_grad_(True)
    opt = torch.optim.Adam([{"params": weights, "lr": cfg.lr}, {"params": scales, "lr": cfg.scale_lr}])
    x_test, y_test = test
    with torch.no_grad():
        t_logits = torch.cat([teacher(x_test[s : s + 500]) for s in range(0, len(x_test), 500)])
    record: dict = {"config": asdict(cfg), "top1_fp32": 100 * float((t_logits.argmax(1) == y_test).float().mean())}
    ckpt = out / "checkpoint.pt"
    start, history = 0, [{"step": 0, **_evaluate(student, t_logits, x_test, y_test)}]
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=True)
        if json.loads(state["config"]) != asdict(cfg):
            raise ValueError(f"{ckpt} was written with other settings; use another output folder")
        student.load_state_dict(state["model"], strict=True)
        opt.load_state_dict(state["optimizer"])
        start, history = int(state["step"]), json.loads(state["history"])
    t0 = time.time()
    bar = tqdm(range(start, cfg.steps), desc=f"fine-tune {cfg.bits} on {cfg.source}", disable=not progress)
    for step in bar:
        factor = 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for group, base in zip(opt.param_groups, (cfg.lr, cfg.scale_lr), strict=True):
            group["lr"] = base * factor
        x = batch_for_step(step)
        with torch.no_grad():
            target = F.log_softmax(teacher(x) / cfg.temperature, 1)
        student.train()
        log_q = F.log_softmax(student(x) / cfg.temperature, 1)
        loss = F.kl_div(log_q, target, log_target=True, reduction="batchmean") * cfg.temperature**2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step + 1
        if done % cfg.eval_every == 0 or done == cfg.steps:
            history.append({"step": done, "loss": loss.item(), **_evaluate(student.eval(), t_logits, x_test, y_test)})
            bar.set_postfix(top1=f"{history[-1]['top1']:.2f}")
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            state = {
                "model": student.state_dict(),
                "optimizer": opt.state_dict(),
                "step": torch.tensor(done),
                "config": json.dumps(asdict(cfg)),
                "history": json.dumps(history),
            }
            torch.save(state, out / "checkpoint.tmp")
            (out / "checkpoint.tmp").replace(ckpt)
    record.update(
        {
            "top1_start": history[0]["top1"],
            "agreement_start": history[0]["agreement"],
            "top1_end": history[-1]["top1"],
            "agreement_end": history[-1]["agreement"],
            "history": history,
            "seconds_this_call": round(time.time() - t0, 1),
        }
    )
    (out / "result.json").write_text(json.dumps(record, indent=1))
    return record


def _step_generator(cfg: FinetuneConfig, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)


def training_batches(cfg: FinetuneConfig, classifier: nn.Module, options: dict | None = None):
    """``step -> float32 [B,3,32,32]`` in [0,1]: a calibration source with a ``generator`` option (the bundled
    generators) is sampled afresh at every step (random latents and classes); any other source gives a pool of
    ``cfg.pool_size`` images once, drawn from with random flips and 4-pixel shifts."""
    from ..calibration import get_calibration, source_option_names
    from ..models.registry import load_generator
    from ..pixels import to_uint8, uint8_to_unit

    opts = dict(options or {})
    if "generator" in source_option_names(cfg.source) and "dataset" not in opts:
        gen = load_generator(opts.get("generator") or cfg.source)

        def sample(step: int) -> torch.Tensor:
            g = _step_generator(cfg, step)
            z = torch.randn(cfg.batch_size, gen.z_dim, generator=g)
            c = torch.randint(0, 10, (cfg.batch_size,), generator=g)
            with torch.no_grad():
                return uint8_to_unit(to_uint8(gen(z, c, truncation_psi=1.0, noise_mode="const")))

        return sample
    if cfg.source == "bn-matching":
        opts.setdefault("classifier", classifier)
    pool = get_calibration(cfg.source, cfg.pool_size, cfg.seed + 1, **opts).images

    def draw(step: int) -> torch.Tensor:
        g = _step_generator(cfg, step)
        x = pool[torch.randint(0, len(pool), (cfg.batch_size,), generator=g)]
        flip = torch.rand(cfg.batch_size, generator=g) < 0.5
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        dx, dy = (int(v) for v in torch.randint(-4, 5, (2,), generator=g))
        return torch.roll(x, (dy, dx), (2, 3))

    return draw


def finetune_lowbit(
    model_name: str,
    cfg: FinetuneConfig,
    out_dir: str | Path,
    source_options: dict | None = None,
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    progress: bool = True,
) -> dict:
    """:func:`finetune` of the registered classifier ``model_name`` on ``cfg.source`` images, calibrated on
    ``cfg.calibration_size`` images of ``cfg.calibration_source`` (default: the training source), evaluated on
    ``test`` (images [N,3,32,32] in [0,1], labels; default the 1,017 bit-exact CIFAR-10 test images)."""
    from ..calibration import get_calibration
    from ..data import load_cifar10
    from ..models.classifiers import get_classifier

    options = dict(source_options or {})
    model = get_classifier(model_name)
    calib_source = cfg.calibration_source or cfg.source
    calib_opts = dict(options.get(calib_source, {}))
    if calib_source == "bn-matching":
        calib_opts.setdefault("classifier", get_classifier(model_name))
    calib = get_calibration(calib_source, cfg.calibration_size, cfg.seed, **calib_opts).images
    batches = training_batches(cfg, get_classifier(model_name), options.get(cfg.source))
    test = test if test is not None else load_cifar10("test", source="exact").to_tensors()
    return {"model": model_name, **finetune(model, cfg, out_dir, batches, calib, test, progress)}
