"""Why a generator can beat real images at INT8 with the project setting: the activation ranges each source gives.

The project setting takes each activation's range as the global min/max over the calibration images (no averaging
over batches, no outlier rejection). A source whose images drive activations less far gives narrower ranges, so a
finer INT8 grid for the typical activations of real test images, at the cost of clipping their rare extremes. This
script measures that directly: for each model, source and seed it calibrates the FP32 model exactly as the ``int8``
stage of ``bench_study.py`` does (same sources, 300 images, seeds, setting), reads every activation FakeQuantize's
range from the INT8 model and compares its width with the same seed's real-image range; then it narrows every
activation range of the real-image INT8 model by the generators' median ratio and measures both on the 5,000
validation images (never the test images): if narrowing alone gives real images the generators' agreement, the
ranges are the reason.

    PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/why_int8_ranges.py   # -> benchmarks/study_results/int8_ranges.json

``gsoc-helpers study-report`` turns the file into RESULTS' table (block ``ranges``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_study import RESULTS, SEARCH, Plan, choices  # noqa: E402

from gsoc_helpers.calibration import SourceContext, get_calibration  # noqa: E402
from gsoc_helpers.models.classifiers import OFFLINE_ZOO, classifier_info, get_classifier  # noqa: E402
from gsoc_helpers.openvino.classifier import to_openvino  # noqa: E402
from gsoc_helpers.quantization.ptq import quantize  # noqa: E402
from gsoc_helpers.quantization.report import environment  # noqa: E402
from gsoc_helpers.study.splits import cifar10_splits  # noqa: E402

SOURCES = ("real", "offline-teacher", "student", "noise")
GENERATORS = ("offline-teacher", "student")


Ranges = dict[str, list[np.ndarray]]  # activation FakeQuantize name -> its input low/high and output low/high


def _activation_fqs(int8_model) -> dict:
    """name -> FakeQuantize op of every FakeQuantize on an activation (its input not a constant weight)."""
    return {
        op.get_friendly_name(): op
        for op in int8_model.get_ops()
        if op.get_type_name() == "FakeQuantize" and op.input_value(0).get_node().get_type_name() != "Constant"
    }


def get_ranges(int8_model) -> Ranges:
    return {
        n: [op.input_value(i).get_node().get_data().copy() for i in (1, 2, 3, 4)]
        for n, op in _activation_fqs(int8_model).items()
    }


def set_ranges(int8_model, ranges: Ranges):
    """``int8_model`` (in place) with the activation ranges of ``ranges`` (names it lacks stay as they are)."""
    import openvino as ov

    for name, op in _activation_fqs(int8_model).items():
        for i, data in zip((1, 2, 3, 4), ranges.get(name, []), strict=False):
            op.input(i).replace_source_output(ov.op.Constant(np.array(data, dtype=data.dtype)).output(0))
    int8_model.validate_nodes_and_infer_types()
    return int8_model


def width(r: list[np.ndarray]) -> float:
    return float(np.max(r[1]) - np.min(r[0]))


def weight_ranges(int8_model) -> list[np.ndarray]:
    return [
        op.input_value(i).get_node().get_data()
        for op in int8_model.get_ops()
        if op.get_type_name() == "FakeQuantize" and op.input_value(0).get_node().get_type_name() == "Constant"
        for i in (1, 2)
    ]


def agreement(model, images: torch.Tensor, ref: np.ndarray) -> float:
    """% of images on which ``model`` predicts the class of the reference logits ``ref``."""
    from gsoc_helpers.quantization.evaluate import logits

    return 100 * float(np.mean(logits(model, images, threads=1).argmax(1) == ref.argmax(1)))


def measure(models: list[str], seeds: list[int], size: int, setting: str, val: torch.Tensor, swap: str) -> list[dict]:
    """One row per model, source and seed: its ranges against real's and the validation agreement of its INT8
    model; the real row adds real's INT8 model (a) with every activation range narrowed by the generators' median
    width ratio, (b) with all of ``swap``'s ranges, (c) with one of ``swap``'s ranges at a time (first model; (c) first seed only)."""
    from gsoc_helpers.quantization.evaluate import logits

    rows = []
    for m in models:
        net = get_classifier(m)
        fp32 = to_openvino(net)
        ref = logits(fp32, val, threads=1)
        context = SourceContext(classifier_info(m).input, net)
        for seed in seeds:
            ranges, agree, weights = {}, {}, {}
            for s in SOURCES:
                int8 = quantize(fp32, get_calibration(s, size, seed, context=context).images, SEARCH[setting])
                ranges[s], agree[s], weights[s] = get_ranges(int8), agreement(int8, val, ref), weight_ranges(int8)
            names = sorted(ranges["real"])
            ratios = {s: np.array([width(ranges[s][n]) / width(ranges["real"][n]) for n in names]) for s in SOURCES}
            narrow = float(np.median(np.concatenate([ratios[g] for g in GENERATORS])))

            real_images = get_calibration("real", size, seed, context=context).images

            def real_with(new: Ranges, fp32=fp32, images=real_images, ref=ref) -> float:
                return agreement(set_ranges(quantize(fp32, images, SEARCH[setting]), new), val, ref)

            scaled = {n: [a * narrow for a in r] for n, r in ranges["real"].items()}
            extra = {"narrowed_by": narrow, "val_agreement_narrowed": real_with(scaled)}
            if m == models[0]:
                extra[f"val_agreement_{swap}_ranges"] = real_with(ranges[swap])
            if m == models[0] and seed == seeds[0]:  # one range at a time: 32 evaluations, first model and seed
                one = {n: real_with({n: ranges[swap][n]}) - agree["real"] for n in names}
                extra[f"one_{swap}_range_gain"] = dict(sorted(one.items(), key=lambda kv: -kv[1]))
            for s in SOURCES:
                rows.append(
                    {
                        "model": m,
                        "source": s,
                        "seed": seed,
                        "activations": len(names),
                        "weights_as_real": all(
                            np.array_equal(a, b) for a, b in zip(weights[s], weights["real"], strict=True)
                        ),
                        "median_width_ratio": float(np.median(ratios[s])),
                        "share_narrower": float(np.mean(ratios[s] < 1)),
                        "val_agreement": agree[s],
                        **(extra if s == "real" else {}),
                    }
                )
                print(m, s, seed, {k: v for k, v in rows[-1].items() if not k.startswith("one_")}, flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=None, help="the study's cell folder (reads its selection.json)")
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    plan = Plan()
    setting = (
        choices(args.out)["ptq"]["choice"]
        if args.out
        else json.loads((args.results / "selection.json").read_text())["ptq"]["choice"]
    )
    val = cifar10_splits().selection().sets("validation")["val"].images  # the 5,000 validation images, never test
    rows = measure(list(OFFLINE_ZOO), plan.seeds, plan.size, setting, val, swap="student")
    args.results.mkdir(parents=True, exist_ok=True)
    data = {"setting": setting, "size": plan.size, "seeds": plan.seeds, "rows": rows, "environment": environment()}
    (args.results / "int8_ranges.json").write_text(json.dumps(data, indent=1) + "\n")
    print("wrote", args.results / "int8_ranges.json")


if __name__ == "__main__":
    main()
