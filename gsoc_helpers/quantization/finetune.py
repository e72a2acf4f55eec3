"""Synthetic-data fine-tuning of a b-bit classifier (the GDFQ family's recipe, with this project's generators), ending
in an OpenVINO IR.

Start: the FP32 PyTorch classifier with its BatchNorms folded by data flow, b-bit fake-quant on the input and the
weight of every Conv2d/Linear (:mod:`.fake_quant`: each layer's own forward still runs), ranges from the same
estimators as the OpenVINO study (:mod:`.ranges`) on the calibration images. Then knowledge distillation:
KL(FP32 softmax || quantized softmax) on images from a source, with straight-through rounding and LSQ-style
learnable step sizes (Esser et al. 2020), Adam, cosine learning rate. The result is exported with
``openvino.convert_model`` and saved with ``openvino.save_model`` (``<out>/model.xml``), and measured in OpenVINO
beside the PyTorch fake-quant (``ir_*`` fields of the record).

Why not NNCF's quantization-aware training (checked with nncf 3.4.0 on ResNet-20, W4A4 on the NPU config): it
quantizes and trains, but compiles a C++ extension on first use (570 s on one loaded core here), its ``nncf.strip``
needs ``torchao``, the IR converted without it disagreed with its own PyTorch model (81 % of 32 predictions), and
no NNCF hardware config has 3-bit (W3A3) or asymmetric 4-bit activations.

Resumable: ``<out>/checkpoint.pt`` (tensors only, read with ``weights_only=True``) every ``checkpoint_every``
steps; the batch of step k depends only on (seed, k), so a resumed run sees the same images.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..progress import progress as tqdm
from .fake_quant import (
    ActQuant,
    export_openvino,
    fold_batchnorms,
    quantize_modules,
    quantizer_parameters,
    set_quantizers_training,
)
from .lowbit import SAMPLES_PER_TENSOR, BitWidth
from .ranges import ESTIMATORS, estimate_range

if TYPE_CHECKING:
    from ..calibration import CalibrationSet

MakeSet = Callable[[str, int, int], "CalibrationSet"]  # (source, images, seed) -> a calibration set


@torch.no_grad()
def init_activation_ranges(
    model: nn.Module, layers: list[nn.Module], images: torch.Tensor, estimator: str, batch_size: int = 32
) -> None:
    """Set every layer's ``input_quantizer`` range with ``estimator`` at its level count from the inputs ``images``
    [N,3,H,W] produce (quantizers still off, so the statistics are the FP32 model's with quantized weights); up
    to :data:`.lowbit.SAMPLES_PER_TENSOR` values per layer, its min and max included."""
    rng = np.random.default_rng(0)
    per_batch = max(1, SAMPLES_PER_TENSOR * batch_size // max(len(images), 1))
    seen: dict[int, list[np.ndarray]] = {i: [] for i in range(len(layers))}

    def keep(i: int, x: torch.Tensor) -> None:
        v = x.detach().float().numpy().ravel()
        pick = rng.choice(v.size, min(per_batch, v.size), replace=False)
        seen[i].append(np.concatenate([v[pick], [v.min(), v.max()]]))

    hooks = [layer.register_forward_pre_hook(lambda _m, inp, i=i: keep(i, inp[0])) for i, layer in enumerate(layers)]
    try:
        model.eval()
        for s in range(0, len(images), batch_size):
            model(images[s : s + batch_size])
    finally:
        for h in hooks:
            h.remove()
    for i, layer in enumerate(layers):
        quantizer = layer.input_quantizer
        assert isinstance(quantizer, ActQuant)
        quantizer.init(*estimate_range(np.concatenate(seen[i]), quantizer.levels, estimator))


@dataclass
class FinetuneConfig:
    source: str = "student"  # training images: a generator sampled per step ("student"/"teacher") or a pool
    bits: str = "W4A4"
    estimator: str = "mse"  # range estimator of the starting point (ranges.ESTIMATORS)
    calibration_source: str | None = None  # None: the training source
    calibration_size: int = 300
    seed: int = 0
    steps: int = 2000  # 0: the calibrated start only (no training images made), exported and measured
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
        for name in ("calibration_size", "batch_size", "pool_size", "eval_every", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if int(self.steps) < 0:
            raise ValueError(f"steps must be >= 0 (0: the calibrated start only), got {self.steps}")


def _predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x[s : s + 250]) for s in range(0, len(x), 250)])


def _scores(pred: torch.Tensor, teacher_logits: torch.Tensor, y: torch.Tensor) -> dict[str, float | None]:
    """top-1 (% of ``y``; labels < 0 count as unknown: top-1 None) and agreement with the teacher (%)."""
    known = y >= 0
    top1 = 100 * float((pred[known] == y[known]).float().mean()) if bool(known.any()) else None
    return {"top1": top1, "agreement": 100 * float((pred == teacher_logits.argmax(1)).float().mean())}


def _evaluate(model: nn.Module, teacher_logits: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> dict:
    model.eval()
    return _scores(_predict(model, x).argmax(1), teacher_logits, y)


def measure_ir(
    ir, fake_quant: nn.Module, teacher_logits: torch.Tensor, x: torch.Tensor, y: torch.Tensor
) -> dict[str, float | None]:
    """The OpenVINO IR ``ir`` (model or .xml path) on ``x``, compiled in f32: top-1, agreement with the teacher
    and ``ir_matches_fake_quant`` (% of images where it predicts what the PyTorch ``fake_quant`` model does)."""
    from . import evaluate as ev
    from .evaluate import compile_model

    pred = torch.from_numpy(ev.logits(compile_model(ir, precision="f32", cache=False), x)).argmax(1)
    torch_pred = _predict(fake_quant.eval(), x).argmax(1)
    scores = _scores(pred, teacher_logits, y)
    return {
        "ir_top1": scores["top1"],
        "ir_agreement": scores["agreement"],
        "ir_matches_fake_quant": 100 * float((pred == torch_pred).float().mean()),
    }


def finetune(
    fp32: nn.Module,
    cfg: FinetuneConfig,
    out_dir: str | Path,
    batch_for_step: Callable[[int], torch.Tensor],
    calibration: torch.Tensor,
    test: tuple[torch.Tensor, torch.Tensor],
    progress: bool = True,
    trained: str | Path | None = None,
) -> dict:
    """Fine-tune a b-bit copy of ``fp32`` (takes [0,1] images) for ``cfg.steps`` steps, resuming from
    ``<out_dir>/checkpoint.pt``, then export it to ``<out_dir>/model.xml`` (OpenVINO IR). ``batch_for_step(k)``:
    float32 [B,3,H,W] in [0,1], a function of k only. ``test``: (images, labels; -1 = unknown). Returns the record
    written to ``<out_dir>/result.json``: top-1/agreement (%) on ``test`` before and after in PyTorch fake-quant,
    the same for the IR in OpenVINO (``ir_*``), the history every ``cfg.eval_every`` steps, the wall seconds (of
    the training: a finished run measured again keeps them); the returned record adds ``per_image_agreement``.

    ``trained``: the folder of a finished run of the same configuration measured on other images (training never
    sees ``test``, so it is the same model): its final model is measured on ``test`` instead of training again; the
    history then holds the start and the end only, and the seconds are that run's."""
    import copy

    from .ptq import save_ir

    cfg.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    teacher = fp32.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = fold_batchnorms(copy.deepcopy(teacher), calibration[:4])
    layers = quantize_modules(student, BitWidth.parse(cfg.bits), cfg.estimator)
    init_activation_ranges(student, layers, calibration, cfg.estimator)
    scales, weights = quantizer_parameters(student)
    for p in weights:  # the teacher's parameters were frozen before the copy
        p.requires_grad_(True)
    opt = torch.optim.Adam([{"params": weights, "lr": cfg.lr}, {"params": scales, "lr": cfg.scale_lr}])
    x_test, y_test = test
    t_logits = _predict(teacher, x_test)
    known = y_test >= 0
    top1_fp32 = 100 * float((t_logits.argmax(1)[known] == y_test[known]).float().mean()) if bool(known.any()) else None
    record: dict = {"config": asdict(cfg), "top1_fp32": top1_fp32}
    ckpt = out / "checkpoint.pt"
    start, history = 0, [{"step": 0, **_evaluate(student, t_logits, x_test, y_test)}]
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=True)
        if json.loads(state["config"]) != asdict(cfg):
            raise ValueError(f"{ckpt} was written with other settings; use another output folder")
        student.load_state_dict(state["model"], strict=True)
        opt.load_state_dict(state["optimizer"])
        start, history = int(state["step"]), json.loads(state["history"])
    reused_seconds = None
    if start == cfg.steps and (out / "result.json").is_file():  # finished before: measured again, its time kept
        reused_seconds = json.loads((out / "result.json").read_text())["seconds_this_call"]
    if trained is not None and not ckpt.is_file():
        state = torch.load(Path(trained) / "checkpoint.pt", weights_only=True)
        if json.loads(state["config"]) != asdict(cfg) or int(state["step"]) != cfg.steps:
            raise ValueError(f"{trained} holds no finished run of these settings")
        student.load_state_dict(state["model"], strict=True)
        start = cfg.steps
        history.append({"step": cfg.steps, **_evaluate(student, t_logits, x_test, y_test)})
        reused_seconds = json.loads((Path(trained) / "result.json").read_text())["seconds_this_call"]
        record["trained_in"] = Path(trained).name
    t0 = time.time()
    bar = tqdm(range(start, cfg.steps), desc=f"fine-tune {cfg.bits} on {cfg.source}", disable=not progress)
    for step in bar:
        factor = 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for group, base in zip(opt.param_groups, (cfg.lr, cfg.scale_lr), strict=True):
            group["lr"] = base * factor
        x = batch_for_step(step)
        with torch.no_grad():
            target = F.log_softmax(teacher(x) / cfg.temperature, 1)
        set_quantizers_training(student.eval(), True)  # the layers stay in eval: no dropout, BatchNorm statistics
        log_q = F.log_softmax(student(x) / cfg.temperature, 1)
        loss = F.kl_div(log_q, target, log_target=True, reduction="batchmean") * cfg.temperature**2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step + 1
        if done % cfg.eval_every == 0 or done == cfg.steps:
            history.append({"step": done, "loss": loss.item(), **_evaluate(student, t_logits, x_test, y_test)})
            bar.set_postfix(agreement=f"{history[-1]['agreement']:.2f}")
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
    seconds = reused_seconds if reused_seconds is not None else round(time.time() - t0, 1)
    ir_path = save_ir(export_openvino(student, int(x_test.shape[-1])), out / "model.xml")
    record.update(
        {
            "top1_start": history[0]["top1"],
            "agreement_start": history[0]["agreement"],
            "top1_end": history[-1]["top1"],
            "agreement_end": history[-1]["agreement"],
            **measure_ir(ir_path, student, t_logits, x_test, y_test),
            "ir": ir_path.name,
            "history": history,
            "seconds_this_call": seconds,
        }
    )
    (out / "result.json").write_text(json.dumps(record, indent=1))
    agrees = (_predict(student, x_test).argmax(1) == t_logits.argmax(1)).numpy()
    return {**record, "per_image_agreement": agrees}  # bool [N]: the end model agrees with FP32 on image i


def _step_generator(cfg: FinetuneConfig, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)


def training_batches(
    cfg: FinetuneConfig,
    classifier: nn.Module,
    options: dict | None = None,
    model_input=None,
    make_set: MakeSet | None = None,
):
    """``step -> float32 [B,3,S,S]`` in [0,1] (``S`` = ``model_input``'s size, default CIFAR-10's 32): a calibration
    source with a ``generator`` option (the bundled generators) is sampled afresh at every step (random latents and
    classes) when it makes images of that size; any other source, or any other size, gives a pool of
    ``cfg.pool_size`` images once (seed ``cfg.seed + 1``; from ``make_set(source, n, seed)`` when given, e.g. a
    cache), drawn from with random flips and shifts of up to S/8 pixels."""
    from ..calibration import SourceContext, get_calibration, source_option_names
    from ..models.contract import InputContract
    from ..models.registry import load_generator
    from ..pixels import to_uint8, uint8_to_unit

    opts = dict(options or {})
    inp = model_input or InputContract()
    if "generator" in source_option_names(cfg.source) and "dataset" not in opts:
        gen = load_generator(opts.get("generator") or cfg.source)
        if gen.img_resolution == inp.image_size:

            def sample(step: int) -> torch.Tensor:
                g = _step_generator(cfg, step)
                z = torch.randn(cfg.batch_size, gen.z_dim, generator=g)
                c = torch.randint(0, gen.c_dim, (cfg.batch_size,), generator=g)
                with torch.no_grad():
                    return uint8_to_unit(to_uint8(gen(z, c, truncation_psi=1.0, noise_mode="const")))

            return sample
    if make_set is not None:
        pool = make_set(cfg.source, cfg.pool_size, cfg.seed + 1).images
    else:
        pool = get_calibration(
            cfg.source, cfg.pool_size, cfg.seed + 1, context=SourceContext(inp, classifier), **opts
        ).images
    shift = max(1, inp.image_size // 8)

    def draw(step: int) -> torch.Tensor:
        g = _step_generator(cfg, step)
        x = pool[torch.randint(0, len(pool), (cfg.batch_size,), generator=g)]
        flip = torch.rand(cfg.batch_size, generator=g) < 0.5
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        dx, dy = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=g))
        return torch.roll(x, (dy, dx), (2, 3))

    return draw


def _no_training(step: int) -> torch.Tensor:
    raise RuntimeError(f"a 0-step fine-tuning asked for the batch of step {step}")


def finetune_lowbit(
    model_name: str,
    cfg: FinetuneConfig,
    out_dir: str | Path,
    source_options: dict | None = None,
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    progress: bool = True,
    make_set: MakeSet | None = None,
    trained: str | Path | None = None,
) -> dict:
    """:func:`finetune` of the registered classifier ``model_name`` on ``cfg.source`` images at its input size,
    calibrated on ``cfg.calibration_size`` images of ``cfg.calibration_source`` (default: the training source),
    evaluated on ``test`` (images [N,3,S,S] in [0,1], labels, -1 = unknown; default: the 1,017 bit-exact CIFAR-10
    test images for a CIFAR-10 model, else the natural photos of :mod:`.photos` without labels).
    ``make_set(source, n, seed)``: where the calibration set and a training pool come from (default
    ``get_calibration`` with ``source_options``; the study passes its calibration cache, since bn-matching takes
    minutes per set). ``trained``: see :func:`finetune`."""
    from ..calibration import SourceContext, get_calibration
    from ..models.classifiers import classifier_info, get_classifier

    options = dict(source_options or {})
    model = get_classifier(model_name)
    info = classifier_info(model_name)
    inp = info.input
    calib_source = cfg.calibration_source or cfg.source
    context = SourceContext(inp, get_classifier(model_name))  # bn-matching optimises through a copy, never `model`
    if make_set is None:

        def make_set(source: str, n: int, seed: int) -> CalibrationSet:
            return get_calibration(source, n, seed, context=context, **options.get(source, {}))

    calib = make_set(calib_source, cfg.calibration_size, cfg.seed).images
    batches = (
        training_batches(cfg, get_classifier(model_name), options.get(cfg.source), inp, make_set)
        if cfg.steps
        else _no_training
    )
    if test is None:
        if info.dataset == "CIFAR-10":
            from ..data import load_cifar10

            test = load_cifar10("test", source="exact").to_tensors()
        else:
            from .photos import natural_photos

            photos = natural_photos(inp.image_size)[0]
            test = (photos, torch.full((len(photos),), -1))
    return {"model": model_name, **finetune(model, cfg, out_dir, batches, calib, test, progress, trained)}
