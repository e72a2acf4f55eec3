"""Teacher vs student comparison table: size, compute, speed and sample quality (FID, KID, class accuracy), each with
its protocol."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from ..defaults import JUDGE_CLASSIFIER
from .complexity import count_macs, count_parameters
from .speed import generator_call, interleaved_rates


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description(device: str = "cpu") -> str:
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    try:
        from ..openvino.core import cpu_isa, default_precision

        isa = f" ({cpu_isa()}; OpenVINO default precision {default_precision()})"
    except Exception:  # OpenVINO missing: the name alone
        isa = ""
    return f"{_cpu_name()}{isa}, {torch.get_num_threads()} threads"


def generator_speeds(
    models: Mapping[str, nn.Module],
    batches: tuple[int, ...] = (1, 64),
    openvino: bool = True,
    min_seconds: float = 1.0,
    device: str = "cpu",
    rounds: int = 3,
) -> dict[str, dict[str, float]]:
    """Images/s per model and column ("PyTorch img/s b1", "OpenVINO f32 img/s b64", and, where OpenVINO's default
    precision is not f32, "OpenVINO <default> img/s b64"), every model and backend measured in the same interleaved
    rounds (warm-up, ``rounds`` rounds, medians: :func:`gsoc_helpers.metrics.speed.interleaved_rates`)."""
    engines: dict[tuple[str, str], tuple[Callable[[], Any], int]] = {}
    for name, model in models.items():
        for b in batches:
            engines[(name, f"PyTorch img/s b{b}")] = (generator_call(model, b, device), b)
    if openvino:
        from ..openvino.core import default_precision
        from ..openvino.generator import OpenVINOGenerator

        default = default_precision()
        for name, model in models.items():
            twins = {"f32": OpenVINOGenerator(model, precision="f32")}
            if default != "f32":
                twins[default] = OpenVINOGenerator(model, precision=None)
            for label, twin in twins.items():
                for b in batches:
                    engines[(name, f"OpenVINO {label} img/s b{b}")] = (generator_call(twin, b), b)
    rates = interleaved_rates(engines, rounds=rounds, min_seconds=min_seconds, pause=0.2 if openvino else 0.0)
    out: dict[str, dict[str, float]] = {name: {} for name in models}
    for (name, col), v in rates.items():
        out[name][col] = round(v, 1)
    return out


def size_and_speed(
    name: str,
    model: nn.Module,
    batches: tuple[int, ...] = (1, 64),
    openvino: bool = True,
    min_seconds: float = 1.0,
    device: str = "cpu",
) -> dict[str, Any]:
    """Parameters, MACs per image, images/s (PyTorch, and OpenVINO f32 / default precision if ``openvino``) per
    batch size."""
    return {
        **size_row(name, model, device),
        **generator_speeds({name: model}, batches, openvino, min_seconds, device)[name],
    }


def size_row(name: str, model: nn.Module, device: str = "cpu") -> dict[str, Any]:
    """Parameters and MACs per image."""
    z = torch.zeros(1, int(model.z_dim), device=device)
    c = torch.zeros(1, dtype=torch.long, device=device)
    return {
        "model": name,
        "parameters": count_parameters(model),
        "MACs/image (M)": round(count_macs(model, z, c) / 1e6, 1),
    }


def quality(
    name: str,
    model: nn.Module,
    n: int,
    reference_n: int | None,
    reference_source: str,
    reference_split: str = "train",
    device: str = "cpu",
    seed: int = 2020,
) -> dict[str, Any]:
    """FID and KID of ``n`` generated images against a CIFAR-10 reference, with the protocol as columns."""
    from .fidelity import compute_fidelity

    t0 = time.perf_counter()
    res = compute_fidelity(
        model,
        metrics=("fid", "kid"),
        n_generated=n,
        reference_split=reference_split,
        reference_source=reference_source,
        reference_n=reference_n,
        device=device,
        seed=seed,
    )
    v, p = res.values, res.protocol
    protocol = f"{p['n_candidate']} generated vs {p['reference']} n={p['reference_n']}; {p['feature_extractor']}"
    return {
        "model": name,
        "FID": round(float(v["fid"]), 2),
        "KID x1e3": round(1e3 * float(v["kid"]), 2),
        "protocol": protocol,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def compare_generators(
    models: Mapping[str, nn.Module],
    *,
    fid_n: int,
    reference_n: int | None,
    reference_source: str,
    batches: tuple[int, ...] = (1, 64),
    openvino: bool = True,
    device: str = "cpu",
    min_seconds: float = 1.0,
    classifier: str | None = JUDGE_CLASSIFIER,
):
    """One row per generator: size, speed (all generators measured in the same interleaved rounds, so a noisy moment
    cannot invert their order) and quality (a pandas DataFrame): FID, KID and, unless ``classifier`` is None, the
    class accuracy of ``fid_n`` class-balanced images judged by ``classifier`` ("class acc %", the judge in
    "class acc judge"; per class in ``df.attrs["class_accuracy"]``: model -> class name -> %)."""
    import pandas as pd

    from .class_accuracy import class_accuracy

    speeds = generator_speeds(models, batches, openvino, min_seconds, device)  # one interleaved measurement
    rows, per_class = [], {}
    for name, model in models.items():
        row = {**size_row(name, model, device), **speeds[name]}
        row.update(
            {
                k: v
                for k, v in quality(name, model, fid_n, reference_n, reference_source, device=device).items()
                if k != "model"
            }
        )
        if classifier is not None:
            acc = class_accuracy(model, n=fid_n, classifier=classifier, device=device)
            row["class acc %"] = round(100 * acc.accuracy, 1)
            row["class acc judge"] = f"{acc.classifier} (FP32), {acc.n} images"
            per_class[name] = acc.per_class_percent()
        rows.append(row)
    df = pd.DataFrame(rows).set_index("model")
    df.attrs["machine"] = machine_description(device)
    if per_class:
        df.attrs["class_accuracy"] = per_class
    return df
