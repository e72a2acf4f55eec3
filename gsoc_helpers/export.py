"""OpenVINO export of protocol generators: FP32 IR, INT8 IR (NNCF post-training quantisation), a runner, PSNR.

The IR takes ``z`` float32 [N, z_dim] and ``labels`` int64 [N] and returns float32 [N, 3, R, R] in ~[-1, 1];
truncation is fixed at psi = 1 and noise_mode at "const" (whatever the PyTorch model does with them).
INT8 calibration uses random z ~ N(0, I) and uniform random labels (no data needed).
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn


class _ExportWrapper(nn.Module):
    """forward(z, labels) -> model(z, labels, truncation_psi=1.0, noise_mode='const') with the model in eval mode."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.model(z, labels, truncation_psi=1.0, noise_mode="const")


def _check_protocol(model: Any) -> None:
    for attr in ("z_dim", "c_dim", "img_resolution"):
        if not hasattr(model, attr):
            raise TypeError(f"{type(model).__name__} does not follow the generator protocol (no `{attr}`)")


def convert_generator(model: nn.Module, batch_size: int | None = None):
    """PyTorch protocol generator -> openvino.Model with inputs 'z' [N, z_dim] f32 and 'labels' [N] i64.

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
        b = -1 if batch_size is None else int(batch_size)
        with torch.no_grad():
            ov_model = ov.convert_model(_ExportWrapper(model), example_input=(z, c),
                                        input=[ov.PartialShape([b, int(model.z_dim)]), ov.PartialShape([b])])
    finally:
        model.train(was_training)
    for port, name in zip(ov_model.inputs, ("z", "labels")):
        port.get_tensor().set_names({name})
    ov_model.outputs[0].get_tensor().set_names({"images"})
    for key in ("z_dim", "c_dim", "img_resolution"):
        ov_model.set_rt_info(str(int(getattr(model, key))), ["gsoc_generator", key])
    return ov_model


class OpenVINOGenerator:
    """Runs an OpenVINO generator with the protocol's call signature; returns torch float32 [N, 3, R, R].

    ``model_or_xml_path``: a PyTorch protocol generator (converted here), an openvino.Model or an IR .xml path.
    """

    def __init__(self, model_or_xml_path: Any, device: str = "CPU") -> None:
        import openvino as ov

        core = ov.Core()
        if isinstance(model_or_xml_path, nn.Module):
            ov_model = convert_generator(model_or_xml_path)
        elif isinstance(model_or_xml_path, (str, os.PathLike)):
            path = Path(model_or_xml_path)
            if not path.is_file():
                raise FileNotFoundError(f"OpenVINO IR {str(path)!r} does not exist (expected an .xml file)")
            ov_model = core.read_model(str(path))
        else:
            ov_model = model_or_xml_path
        self.ov_model = ov_model
        try:
            info = {k: int(str(ov_model.get_rt_info(["gsoc_generator", k]))) for k in ("z_dim", "c_dim",
                                                                                        "img_resolution")}
        except Exception:  # IR written elsewhere: read what the shapes say
            info = {"z_dim": int(ov_model.inputs[0].get_partial_shape()[1].get_length()), "c_dim": 10,
                    "img_resolution": int(ov_model.outputs[0].get_partial_shape()[2].get_length())}
        self.z_dim, self.c_dim, self.img_resolution = info["z_dim"], info["c_dim"], info["img_resolution"]
        # f32 inference precision: CPUs with bf16/AMX would otherwise run the "FP32" IR in bf16
        config = {"INFERENCE_PRECISION_HINT": "f32"} if device.upper().startswith("CPU") else {}
        self.compiled = core.compile_model(ov_model, device, config)
        self.training = False

    def eval(self) -> "OpenVINOGenerator":
        return self

    def __call__(self, z, labels, truncation_psi: float = 1.0, noise_mode: str = "const") -> torch.Tensor:
        return self.forward(z, labels, truncation_psi, noise_mode)

    def forward(self, z, labels, truncation_psi: float = 1.0, noise_mode: str = "const") -> torch.Tensor:
        """z: float [N, z_dim]; labels: int64 [N] or one-hot [N, c_dim]. truncation_psi must be 1 (fixed in the IR)."""
        if truncation_psi != 1.0:
            raise ValueError(f"the OpenVINO generator has truncation fixed at 1.0, got truncation_psi={truncation_psi}")
        z = torch.as_tensor(z).detach().float().cpu()
        labels = torch.as_tensor(labels).detach().cpu()
        if labels.dim() == 2:
            labels = labels.argmax(dim=1)
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"expected z of shape [N, {self.z_dim}], got {tuple(z.shape)}")
        if labels.shape[0] != z.shape[0]:
            raise ValueError(f"{z.shape[0]} latents but {labels.shape[0]} labels")
        out = self.compiled({"z": z.numpy(), "labels": labels.long().numpy()})
        return torch.from_numpy(np.array(out[self.compiled.outputs[0]], dtype=np.float32))


def _calibration_items(model: nn.Module, n: int, seed: int) -> list[dict[str, np.ndarray]]:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, int(model.z_dim), generator=g)
    c = torch.randint(0, int(model.c_dim), (n,), generator=g)
    return [{"z": z[i:i + 1].numpy(), "labels": c[i:i + 1].numpy()} for i in range(n)]


def export_generator(model: nn.Module, out_dir: str | os.PathLike, int8: bool = False,
                     calibration_size: int = 300, seed: int = 0) -> Path:
    """Write ``out_dir/generator_fp32.xml`` (or ``generator_int8.xml``, NNCF-quantised) -> the .xml path."""
    import openvino as ov

    if calibration_size < 1:
        raise ValueError(f"calibration_size must be >= 1, got {calibration_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ov_model = convert_generator(model)
    name = "generator_fp32.xml"
    if int8:
        import nncf

        data = nncf.Dataset(_calibration_items(model, calibration_size, seed))
        ov_model = nncf.quantize(ov_model, data, subset_size=calibration_size)
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
    return math.inf if mse == 0 else 10.0 * math.log10(data_range ** 2 / mse)
