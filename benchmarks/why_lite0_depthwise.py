"""What NNCF's INT8 does to EfficientNet-Lite0's depthwise convolutions, and what keeps their predictions.

On the CPU NNCF gives each depthwise convolution's (OpenVINO ``GroupConvolution``) input one activation range per
channel. This script measures, on the **validation photos only**, for the calibration photos, the student and
Gaussian noise (128 images, seeds 0-2, as the ``lite0`` stage of ``bench_study.py`` makes them), the agreement with
FP32 of three NNCF variants of the chosen setting: NNCF's per-channel ranges, one range per tensor, and the depthwise
convolutions left in floating point (``IgnoredScope(types=["GroupConvolution"])``); the same for the project's own
W8A8 fake-quant (every convolution's input and weight quantized, depthwise ones included: BatchNorms folded first,
per-output-channel symmetric weights, per-tensor asymmetric activations with min/max ranges, the starting point of
its fine-tuning) in PyTorch and as the OpenVINO IR it exports: if that IR keeps FP32's predictions, OpenVINO's INT8
depthwise convolutions are not the cause, NNCF's quantization of them is; how many convolutions stay in floating
point; and images/s of FP32, full INT8 and the chosen mix on one thread (batch 16, median of 3).

    PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/why_lite0_depthwise.py  # -> study_results/lite0_depthwise.json

``gsoc-helpers study-report`` turns the file into RESULTS' table (block ``depthwise``).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_study import LITE0_SEARCH, RESULTS, Plan, choices  # noqa: E402

from gsoc_helpers.calibration import SourceContext, get_calibration  # noqa: E402
from gsoc_helpers.models.classifiers import classifier_info, get_classifier  # noqa: E402
from gsoc_helpers.openvino.classifier import to_openvino  # noqa: E402
from gsoc_helpers.openvino.core import compile_model  # noqa: E402
from gsoc_helpers.quantization.evaluate import fp32_layers, logits  # noqa: E402
from gsoc_helpers.quantization.fake_quant import export_openvino, fold_batchnorms, quantize_modules  # noqa: E402
from gsoc_helpers.quantization.finetune import init_activation_ranges  # noqa: E402
from gsoc_helpers.quantization.lowbit import BitWidth  # noqa: E402
from gsoc_helpers.quantization.ptq import quantize  # noqa: E402
from gsoc_helpers.quantization.report import environment  # noqa: E402
from gsoc_helpers.study.splits import photo_splits  # noqa: E402
from gsoc_helpers.study.why_depthwise import DW_FLOAT, FQ_IR, FQ_TORCH, PER_CHANNEL, PER_TENSOR  # noqa: E402

MODEL = "efficientnet-lite0"
SOURCES = ("photos", "student", "noise")


def fake_quant_agreement(net, cal: torch.Tensor, val, ref: np.ndarray) -> tuple[float, float, object]:
    """(PyTorch agreement, OpenVINO IR agreement, the IR) with FP32 of the project's W8A8 fake-quant calibrated on
    ``cal``."""
    model = fold_batchnorms(copy.deepcopy(net), cal[:4])
    layers = quantize_modules(model, BitWidth.parse("W8A8"), "minmax")
    init_activation_ranges(model, layers, cal, "minmax")
    with torch.no_grad():
        torch_pred = torch.cat([model.eval()(val.images[s : s + 25]) for s in range(0, len(val), 25)]).argmax(1)
    ir = export_openvino(model, val.images.shape[-1])
    ir_pred = logits(ir, val.images, threads=1).argmax(1)
    return 100 * float((torch_pred.numpy() == ref).mean()), 100 * float((ir_pred == ref).mean()), ir


def images_per_second(model, x: torch.Tensor, rounds: int = 3) -> float:
    compiled = compile_model(model, threads=1)
    logits(compiled, x[:16])  # warm-up
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        logits(compiled, x, batch_size=16)
        times.append(time.perf_counter() - t)
    return len(x) / statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--out", type=Path, default=RESULTS / "lite0_depthwise.json")
    p.add_argument("--study", type=Path, default=Path("outputs/study"), help="the study's cell folder (its choice)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    plan = Plan()
    chosen_name = (choices(args.study) or json.loads((RESULTS / "selection.json").read_text()))["lite0_ptq"]["choice"]
    base = replace(LITE0_SEARCH[chosen_name], ignored_types=[], activations_per_channel=None)
    settings = {
        PER_CHANNEL: base,
        PER_TENSOR: replace(base, activations_per_channel=False),
        DW_FLOAT: replace(base, ignored_types=["GroupConvolution"]),
    }
    info = classifier_info(MODEL)
    net = get_classifier(MODEL)
    context = SourceContext(info.input, net)
    val = photo_splits(info.input.image_size, views=plan.views).sets("validation")["photos"]
    fp32 = to_openvino(net, info.input.image_size)
    ref = logits(fp32, val.images, threads=1).argmax(1)
    rows, models = [], {}
    for source in SOURCES:
        for seed in args.seeds:
            cal = get_calibration(source, plan.lite0_size, seed, context=context).images
            for name, cfg in settings.items():
                int8 = quantize(fp32, cal, cfg)
                agree = 100 * float((logits(int8, val.images, threads=1).argmax(1) == ref).mean())
                rows.append({"source": source, "seed": seed, "setting": name, "agreement": agree})
                models.setdefault(name, int8)
                print(json.dumps(rows[-1]), flush=True)
            torch_agree, ir_agree, ir = fake_quant_agreement(net, cal, val, ref)
            models.setdefault(FQ_IR, ir)
            for name, agree in ((FQ_TORCH, torch_agree), (FQ_IR, ir_agree)):
                rows.append({"source": source, "seed": seed, "setting": name, "agreement": agree})
                print(json.dumps(rows[-1]), flush=True)
    speed = {"FP32": images_per_second(fp32, val.images)}
    speed.update({name: images_per_second(m, val.images) for name, m in models.items()})
    groups = sum(op.get_type_name() == "GroupConvolution" for op in fp32.get_ordered_ops())
    convs = sum(op.get_type_name() in ("Convolution", "GroupConvolution", "MatMul") for op in fp32.get_ordered_ops())
    out = {
        "model": MODEL,
        "chosen": chosen_name,
        "validation_photos": len(val),
        "calibration_size": plan.lite0_size,
        "rows": rows,
        "images_per_second_batch16_one_thread": speed,
        "layers": {"conv_and_matmul": convs, "depthwise": groups},
        "float_layers": {name: len(fp32_layers(m)) for name, m in models.items()},
        "environment": environment(),
        "command": "PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/why_lite0_depthwise.py",
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
