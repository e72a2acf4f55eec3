"""Teacher vs student comparison table: size, compute, speed and sample quality, each with its protocol."""
from __future__ import annotations

import platform
import time
from typing import Any, Mapping

import torch
from torch import nn

from .complexity import count_macs, count_parameters
from .speed import images_per_second


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
    return f"{_cpu_name()}, {torch.get_num_threads()} threads"


def size_and_speed(name: str, model: nn.Module, batches: tuple[int, ...] = (1, 64), openvino: bool = True,
                   min_seconds: float = 1.0, device: str = "cpu") -> dict[str, Any]:
    """Parameters, MACs per image, images/s (PyTorch, and OpenVINO FP32 if ``openvino``) per batch size."""
    z = torch.zeros(1, int(model.z_dim), device=device)
    c = torch.zeros(1, dtype=torch.long, device=device)
    row: dict[str, Any] = {"model": name, "parameters": count_parameters(model),
                           "MACs/image (M)": round(count_macs(model, z, c) / 1e6, 1)}
    for b in batches:
        row[f"PyTorch img/s b{b}"] = round(images_per_second(model, b, min_seconds, device=device), 1)
    if openvino:
        from ..export import OpenVINOGenerator

        ov_model = OpenVINOGenerator(model)
        for b in batches:
            row[f"OpenVINO FP32 img/s b{b}"] = round(images_per_second(ov_model, b, min_seconds), 1)
    return row


def quality(name: str, model: nn.Module, n: int, reference_n: int | None, reference_source: str,
            reference_split: str = "train", device: str = "cpu", seed: int = 2020) -> dict[str, Any]:
    """FID and KID of ``n`` generated images against a CIFAR-10 reference, with the protocol as columns."""
    from .fidelity import compute_fidelity

    t0 = time.perf_counter()
    res = compute_fidelity(model, metrics=("fid", "kid"), n_generated=n, reference_split=reference_split,
                           reference_source=reference_source, reference_n=reference_n, device=device, seed=seed)
    v, p = res.values, res.protocol
    protocol = (f"{p['n_candidate']} generated vs {p['reference']} n={p['reference_n']}; {p['feature_extractor']}")
    return {"model": name, "FID": round(float(v["fid"]), 2), "KID x1e3": round(1e3 * float(v["kid"]), 2),
            "protocol": protocol, "seconds": round(time.perf_counter() - t0, 1)}


def compare_generators(models: Mapping[str, nn.Module], *, fid_n: int, reference_n: int | None,
                       reference_source: str, batches: tuple[int, ...] = (1, 64), openvino: bool = True,
                       device: str = "cpu", min_seconds: float = 1.0):
    """One row per generator: size, speed and quality (a pandas DataFrame)."""
    import pandas as pd

    rows = []
    for name, model in models.items():
        row = size_and_speed(name, model, batches, openvino, min_seconds, device)
        row.update({k: v for k, v in quality(name, model, fid_n, reference_n, reference_source, device=device).items()
                    if k != "model"})
        rows.append(row)
    df = pd.DataFrame(rows).set_index("model")
    df.attrs["machine"] = machine_description(device)
    return df
