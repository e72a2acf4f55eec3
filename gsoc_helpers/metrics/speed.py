"""Throughput of generators: images per second for a batch size, on any callable with the generator protocol
(PyTorch modules and the OpenVINO twin alike)."""
from __future__ import annotations

import time
from typing import Any

import torch


@torch.no_grad()
def images_per_second(generator: Any, batch_size: int, min_seconds: float = 1.0, warmup: int = 1,
                      max_iters: int = 1000, device: str | torch.device = "cpu", seed: int = 0) -> float:
    """Images/s of ``generator(z, labels)`` at ``batch_size``: ``warmup`` calls, then calls until ``min_seconds``
    of wall time have passed (at least one), synchronising CUDA if used."""
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(batch_size, int(generator.z_dim), generator=g).to(device)
    labels = torch.randint(0, int(generator.c_dim), (batch_size,), generator=g).to(device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    for _ in range(warmup):
        generator(z, labels)
    sync()
    start, iters = time.perf_counter(), 0
    while iters < max_iters and (iters == 0 or time.perf_counter() - start < min_seconds):
        generator(z, labels)
        iters += 1
    sync()
    return batch_size * iters / (time.perf_counter() - start)
