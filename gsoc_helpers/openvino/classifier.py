"""Classifiers through OpenVINO: conversion from PyTorch and async throughput at a fixed batch size."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from .core import compile_model

if TYPE_CHECKING:
    from torch import nn


def to_openvino(model: nn.Module, image_size: int | None = None):
    """Convert a classifier (input [N,3,S,S] in [0,1]) to an ``openvino.Model`` with a dynamic batch; ``image_size``
    None: the model's ``image_size`` attribute (the registered classifiers have one), else CIFAR-10's 32."""
    import openvino as ov
    import torch

    from ..defaults import IMAGE_SIZE
    from ..quiet import quiet_tracing

    side: int = image_size or int(getattr(model, "image_size", IMAGE_SIZE))
    model = model.eval()
    with torch.no_grad(), quiet_tracing():
        return ov.convert_model(
            model,
            example_input=torch.zeros(1, 3, side, side),
            input=[ov.PartialShape([-1, 3, side, side])],
        )


def throughput(
    ov_model, batch_size: int, seconds: float = 3.0, threads: int | None = None, precision: str | None = "f32"
) -> float:
    """Images/s with an OpenVINO AsyncInferQueue (THROUGHPUT hint) at a fixed batch size. ``precision`` as in
    :func:`~gsoc_helpers.openvino.core.compile_model` (``None``: OpenVINO's choice, bf16 for float ops on CPUs that
    have it)."""
    import openvino as ov
    import openvino.properties.hint as hints

    m = ov_model.clone()
    shape = m.inputs[0].get_partial_shape()  # [N,3,H,W]; a dynamic H or W is measured at 32
    h, w = (d.get_length() if d.is_static else 32 for d in (shape[2], shape[3]))
    m.reshape([batch_size, 3, h, w])
    compiled = compile_model(m, threads, precision, **{hints.performance_mode: hints.PerformanceMode.THROUGHPUT})
    queue = ov.AsyncInferQueue(compiled)
    x = np.random.default_rng(0).random((batch_size, 3, h, w), dtype=np.float32)
    for _ in range(len(queue)):  # warm-up
        queue.start_async({0: x})
    queue.wait_all()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        queue.start_async({0: x})
        n += 1
    queue.wait_all()
    return n * batch_size / (time.perf_counter() - t0)
