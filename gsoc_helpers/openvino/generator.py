"""OpenVINO twins of protocol generators: conversion, FP32 IR, INT8 IR (NNCF post-training quantisation), a runner
in f32 or another inference precision, PSNR.

The IR takes ``z`` float32 [N, z_dim], ``labels`` int64 [N] and ``truncation_psi`` float32 [] (a scalar, so one
compiled model serves every ψ) and returns float32 [N, 3, R, R] in ~[-1, 1]; noise_mode is fixed at "const".
INT8 calibration uses random z ~ N(0, I), uniform random labels and ψ = 1 (no data needed) and goes through the
project's one quantize function, :func:`gsoc_helpers.quantization.ptq.quantize`, with a :class:`PTQConfig`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..quiet import quiet_tracing
from .core import compile_model

INPUT_NAMES = ("z", "labels", "truncation_psi")


class _ExportWrapper(nn.Module):
    """forward(z, labels, psi) -> model(z, labels, truncation_psi=psi, noise_mode='const'), model in eval mode."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, labels: torch.Tensor, truncation_psi: torch.Tensor) -> torch.Tensor:
        return self.model(z, labels, truncation_psi=truncation_psi, noise_mode="const")


def _check_protocol(model: Any) -> None:
    for attr in ("z_dim", "c_dim", "img_resolution"):
        if not hasattr(model, attr):
            raise TypeError(f"{type(model).__name__} does not follow the generator protocol (no `{attr}`)")


def convert_generator(model: nn.Module, batch_size: int | None = None):
    """PyTorch protocol generator -> openvino.Model with inputs 'z' [N, z_dim] f32, 'labels' [N] i64 and
    'truncation_psi' [] f32.

    ``batch_size`` None gives a dynamic batch dimension.
    """
    import openvino as ov

    _check_protocol(model)
    was_training = model.training
    model.eval()
    try:
        n = batch_size or 2
        z = torch.zeros(n, int(model.z_dim))
        c = torch.zeros(n, dtype=torch.long)
        psi = torch.tensor(0.5)  # not 1: a model that skips truncation at psi == 1 still traces the truncation
        b = -1 if batch_size is None else int(batch_size)
        with torch.no_grad(), quiet_tracing():
            ov_model = ov.convert_model(
                _ExportWrapper(model),
                example_input=(z, c, psi),
                input=[ov.PartialShape([b, int(model.z_dim)]), ov.PartialShape([b]), ov.PartialShape([])],
            )
    finally:
        model.train(was_training)
    for port, name in zip(ov_model.inputs, INPUT_NAMES, strict=True):
        port.get_tensor().set_names({name})
    ov_model.outputs[0].get_tensor().set_names({"images"})
    for key in ("z_dim", "c_dim", "img_resolution"):
        ov_model.set_rt_info(str(int(getattr(model, key))), ["gsoc_generator", key])
    return ov_model


def twin_cache_key(model: nn.Module) -> str:
    """Key of ``model``'s converted IR (:func:`gsoc_helpers.openvino.core.module_digest`)."""
    from .core import module_digest

    return module_digest(model, "generator", INPUT_NAMES)


def generator_ir(model: nn.Module, cache: bool = True):
    """:func:`convert_generator` (dynamic batch), kept as IR under ``<cache dir>/openvino/ir/<key>.xml``
    (:func:`twin_cache_key`) so that the next run reads it instead of tracing the model again (the teacher's
    conversion takes seconds to tens of seconds; reading the IR, well under one)."""
    from .core import cached_ir

    if not cache:
        return convert_generator(model)
    return cached_ir(twin_cache_key(model), lambda: convert_generator(model))


class OpenVINOGenerator:
    """Runs an OpenVINO generator with the protocol's call signature; returns torch float32 [N, 3, R, R].

    ``model_or_xml_path``: a PyTorch protocol generator (converted here), an openvino.Model or an IR .xml path.
    ``precision``: CPU inference precision, "f32" (default: CPUs with bf16/AMX would otherwise run the "FP32" IR in
    bf16), "bf16", or None for OpenVINO's own default. ``threads``: CPU inference threads (None: OpenVINO's choice).
    With ``cache``, a PyTorch model's IR (:func:`generator_ir`) and the compiled blob
    (:func:`gsoc_helpers.openvino.core.compile_model`) are kept in the cache folder.
    """

    def __init__(
        self,
        model_or_xml_path: Any,
        device: str = "CPU",
        precision: str | None = "f32",
        threads: int | None = None,
        cache: bool = True,
    ) -> None:
        import openvino as ov

        if isinstance(model_or_xml_path, nn.Module):
            ov_model = generator_ir(model_or_xml_path, cache)
        elif isinstance(model_or_xml_path, (str, os.PathLike)):
            path = Path(model_or_xml_path)
            if not path.is_file():
                raise FileNotFoundError(f"OpenVINO IR {str(path)!r} does not exist (expected an .xml file)")
            ov_model = ov.Core().read_model(str(path))
        else:
            ov_model = model_or_xml_path
        self.ov_model = ov_model
        try:
            info = {
                k: int(str(ov_model.get_rt_info(["gsoc_generator", k]))) for k in ("z_dim", "c_dim", "img_resolution")
            }
        except Exception:  # IR written elsewhere: read what the shapes say
            info = {
                "z_dim": int(ov_model.inputs[0].get_partial_shape()[1].get_length()),
                "c_dim": 10,
                "img_resolution": int(ov_model.outputs[0].get_partial_shape()[2].get_length()),
            }
        self.z_dim, self.c_dim, self.img_resolution = info["z_dim"], info["c_dim"], info["img_resolution"]
        self.precision = precision
        self.compiled = compile_model(ov_model, threads, precision, device=device, cache=cache)
        self.has_psi_input = any("truncation_psi" in p.get_names() for p in ov_model.inputs)
        self.training = False

    def eval(self) -> OpenVINOGenerator:
        return self

    def __call__(self, z, labels, truncation_psi: float = 1.0, noise_mode: str = "const") -> torch.Tensor:
        return self.forward(z, labels, truncation_psi, noise_mode)

    def forward(self, z, labels, truncation_psi: float = 1.0, noise_mode: str = "const") -> torch.Tensor:
        """z: float [N, z_dim]; labels: int64 [N] or one-hot [N, c_dim]; any truncation_psi (an input of the IR;
        an IR written before ψ was an input accepts ψ = 1 only)."""
        if not self.has_psi_input and float(truncation_psi) != 1.0:
            raise ValueError(
                "this OpenVINO IR has truncation fixed at 1.0 (exported before ψ was an input); "
                f"got truncation_psi={truncation_psi}: export it again"
            )
        z = torch.as_tensor(z).detach().float().cpu()
        labels = torch.as_tensor(labels).detach().cpu()
        if labels.dim() == 2:
            labels = labels.argmax(dim=1)
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"expected z of shape [N, {self.z_dim}], got {tuple(z.shape)}")
        if labels.shape[0] != z.shape[0]:
            raise ValueError(f"{z.shape[0]} latents but {labels.shape[0]} labels")
        inputs = {"z": z.numpy(), "labels": labels.long().numpy()}
        if self.has_psi_input:
            inputs["truncation_psi"] = np.asarray(truncation_psi, dtype=np.float32)
        out = self.compiled(inputs)
        return torch.from_numpy(np.array(out[self.compiled.outputs[0]], dtype=np.float32))


def _calibration_items(model: nn.Module, n: int, seed: int) -> list[dict[str, np.ndarray]]:
    """n single-sample input dicts: z ~ N(0, I) [1, z_dim], a uniform random label [1], ψ = 1."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, int(model.z_dim), generator=g)
    c = torch.randint(0, int(model.c_dim), (n,), generator=g)
    psi = np.asarray(1.0, dtype=np.float32)
    return [{"z": z[i : i + 1].numpy(), "labels": c[i : i + 1].numpy(), "truncation_psi": psi} for i in range(n)]


def export_generator(
    model: nn.Module,
    out_dir: str | os.PathLike,
    int8: bool = False,
    calibration_size: int = 300,
    seed: int = 0,
    config: Any = None,
) -> Path:
    """Write ``out_dir/generator_fp32.xml`` (or ``generator_int8.xml``) -> the .xml path.

    INT8 goes through :func:`gsoc_helpers.quantization.ptq.quantize` with ``config`` (a ``PTQConfig``; default
    the project's measured-best ``PTQConfig()``), calibrated on ``calibration_size`` random inputs.
    """
    import openvino as ov

    if calibration_size < 1:
        raise ValueError(f"calibration_size must be >= 1, got {calibration_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ov_model = convert_generator(model)
    name = "generator_fp32.xml"
    if int8:
        from ..quantization.ptq import quantize

        ov_model = quantize(ov_model, _calibration_items(model, calibration_size, seed), config)
        name = "generator_int8.xml"
    path = out / name
    ov.save_model(ov_model, str(path), compress_to_fp16=False)
    return path


def psnr(a, b, data_range: float = 2.0) -> float:
    """Peak signal-to-noise ratio in dB between two arrays/tensors of the same shape (inf when identical)."""
    a = torch.as_tensor(a).double()
    b = torch.as_tensor(b).double()
    if a.shape != b.shape:
        raise ValueError(f"psnr needs equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)
