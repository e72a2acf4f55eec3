"""Throughput, measured one way everywhere (notebooks, benchmarks/): warm-up calls, then several rounds that
interleave every engine being compared (load on the machine hits all of them alike), and the median of the rounds.

Works on any callable; :func:`images_per_second` wraps a generator (PyTorch modules and the OpenVINO twin alike).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

import torch

Key = TypeVar("Key", bound=Hashable)


def rate(fn: Callable[[], Any], items: int, min_seconds: float, min_calls: int = 1, max_calls: int = 1000) -> float:
    """Items/s of repeated ``fn()`` calls (``items`` per call): at least ``min_calls`` calls and ``min_seconds``."""
    n, t0 = 0, time.perf_counter()
    while n < max_calls and (n < min_calls or time.perf_counter() - t0 < min_seconds):
        fn()
        n += 1
    return items * n / (time.perf_counter() - t0)


def interleaved_rates(
    engines: Mapping[Key, tuple[Callable[[], Any], int]],
    rounds: int = 3,
    min_seconds: float = 1.0,
    warmup: int = 1,
    pause: float = 0.0,
    max_calls: int = 1000,
) -> dict[Key, float]:
    """Median items/s per engine: ``engines`` maps a key to (callable, items per call); ``warmup`` calls each, then
    ``rounds`` rounds in which every engine runs for ``min_seconds / rounds`` (at least one call), in turn.
    ``pause``: seconds of idleness before each measurement (lets another runtime's worker threads go to sleep)."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    for fn, items in engines.values():
        if items < 1:
            raise ValueError(f"items per call must be >= 1, got {items}")
        for _ in range(warmup):
            fn()
    per_round = min_seconds / rounds
    samples: dict[Key, list[float]] = {k: [] for k in engines}
    for _ in range(rounds):
        for key, (fn, items) in engines.items():
            if pause:
                time.sleep(pause)
            samples[key].append(rate(fn, items, per_round, max_calls=max_calls))
    return {k: statistics.median(v) for k, v in samples.items()}


def generator_inputs(
    generator: Any, batch_size: int, device: str | torch.device = "cpu", seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded z float32 [batch_size, z_dim] ~ N(0, I) and labels int64 [batch_size] on ``device``."""
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(batch_size, int(generator.z_dim), generator=g).to(device)
    labels = torch.randint(0, max(int(generator.c_dim), 1), (batch_size,), generator=g).to(device)
    return z, labels


def generator_call(
    generator: Any, batch_size: int, device: str | torch.device = "cpu", seed: int = 0
) -> Callable[[], Any]:
    """A no-argument callable generating one batch (synchronising CUDA), for :func:`interleaved_rates`."""
    z, labels = generator_inputs(generator, batch_size, device, seed)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)

    @torch.no_grad()
    def call() -> None:
        generator(z, labels)
        sync()

    return call


def images_per_second(
    generator: Any,
    batch_size: int,
    min_seconds: float = 1.0,
    warmup: int = 1,
    max_iters: int = 1000,
    device: str | torch.device = "cpu",
    seed: int = 0,
    rounds: int = 3,
) -> float:
    """Median images/s of ``generator(z, labels)`` at ``batch_size`` over ``rounds`` rounds of ``min_seconds / rounds``
    each (at least one call per round), after ``warmup`` calls."""
    fn = generator_call(generator, batch_size, device, seed)
    return interleaved_rates({0: (fn, batch_size)}, rounds, min_seconds, warmup, max_calls=max_iters)[0]
