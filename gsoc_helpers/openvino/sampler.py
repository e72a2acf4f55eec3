"""The sampler's backends: PyTorch eager or the generator's OpenVINO twin, checked against the reference forward.

:func:`choose_backend` returns a :class:`BackendChoice`: the callable that generates images, its backend and
precision, and what a probe batch measured.  Before any shard is written the candidate runs a probe batch (the
dataset's first ``probe_n`` latents and labels) and its uint8 images are compared with those of the *reference
forward* -- the generator in its reference formulation (for our StyleGAN2-ADA port, NVIDIA's grouped-convolution
modulated convs, :meth:`Generator.set_fused_modconv`).  An f32 candidate differing by more than
:data:`UINT8_TOLERANCE` levels anywhere is refused and the next candidate is tried (OpenVINO -> PyTorch eager ->
the reference forward itself), with the reason in ``BackendChoice.note``.  bf16 runs only when asked; its measured
deviation is reported, not checked.

``auto``: on CUDA, PyTorch (as before).  On the CPU, the OpenVINO f32 twin when the run is big enough to repay the
conversion (>= :data:`AUTO_MIN_IMAGES` images; the IR is cached afterwards) at batch >= :data:`AUTO_MIN_BATCH`, else
PyTorch eager.  benchmarks/bench_teacher.py (benchmarks/RESULTS.md, "Teacher speed") measured the teacher's twin 1.4x eager PyTorch
at batch 64; at batch 1 a quiet run favoured eager and a loaded one the twin, so small batches stay eager.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

BACKENDS = ("auto", "torch", "openvino")
SAMPLER_PRECISIONS = ("f32", "bf16")
UINT8_TOLERANCE = 1
AUTO_MIN_BATCH = 16
AUTO_MIN_IMAGES = 256
PROBE_N = 4


@dataclass
class BackendChoice:
    """What generates the images: ``generator`` (protocol callable), ``backend`` ('torch' | 'openvino'),
    ``precision`` ('f32' | 'bf16'), the probe's max |difference| from the reference forward (``max_abs`` in output
    units of ~[-1, 1], ``max_levels`` in uint8 levels) and ``note`` (why this one; any fallback)."""

    generator: Any
    backend: str
    precision: str
    max_abs: float = 0.0
    max_levels: int = 0
    probe_n: int = 0
    note: str = ""
    refused: list[str] = field(default_factory=list)

    def manifest(self) -> dict[str, Any]:
        """The entries the dataset manifest records."""
        return {
            "backend": self.backend,
            "precision": self.precision,
            "probe_max_uint8_diff": int(self.max_levels),
            "probe_images": int(self.probe_n),
        }

    def summary(self) -> str:
        """One line for the log, e.g. 'backend openvino f32: probe of 8 images max |diff| 1.2e-05 (0 uint8 levels)'."""
        what = "deviation from the f32 reference" if self.precision != "f32" else "max |diff| from the reference"
        line = (
            f"backend {self.backend} {self.precision}: probe of {self.probe_n} images, {what} "
            f"{self.max_abs:.3g} ({self.max_levels} uint8 levels)"
        )
        return line + (f"; {self.note}" if self.note else "")


@contextlib.contextmanager
def reference_forward(generator: nn.Module) -> Iterator[nn.Module]:
    """``generator`` in its reference formulation for the duration (NVIDIA's fused modulated convs for our
    StyleGAN2-ADA port; any other generator is its own reference)."""
    setter = getattr(generator, "set_fused_modconv", None)
    if setter is None:
        yield generator
        return
    before = [m.fused for m in generator.modules() if hasattr(m, "fused")]
    setter(True)
    try:
        yield generator
    finally:
        for m, f in zip((m for m in generator.modules() if hasattr(m, "fused")), before, strict=True):
            m.fused = f


def _images(gen: Any, z: np.ndarray, labels: np.ndarray, psi: float, noise_mode: str, device: Any) -> torch.Tensor:
    with torch.no_grad():
        zt, lt = torch.from_numpy(z).to(device), torch.from_numpy(labels).to(device)
        return gen(zt, lt, truncation_psi=psi, noise_mode=noise_mode).detach().float().cpu()


def _levels(x: torch.Tensor) -> torch.Tensor:
    return (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).to(torch.int16)


def compare_to_reference(
    candidate: Any, reference: torch.Tensor, z: np.ndarray, labels: np.ndarray, psi: float, noise_mode: str, device: Any
) -> tuple[float, int]:
    """(max |candidate - reference|, max uint8-level difference) on the probe batch."""
    out = _images(candidate, z, labels, psi, noise_mode, device)
    if out.shape != reference.shape:
        raise ValueError(f"candidate made images of shape {tuple(out.shape)}, reference {tuple(reference.shape)}")
    return float((out - reference).abs().max()), int((_levels(out) - _levels(reference)).abs().max())


def auto_backend(device: torch.device, batch_size: int, images: int | None, noise_mode: str, precision: str) -> str:
    """The backend ``auto`` tries first (see the module docstring)."""
    if device.type != "cpu":
        return "torch"
    if precision != "f32":
        return "openvino"
    if noise_mode != "const" or batch_size < AUTO_MIN_BATCH or (images is not None and images < AUTO_MIN_IMAGES):
        return "torch"
    try:
        import openvino  # noqa: F401
    except ImportError:
        return "torch"
    return "openvino"


def choose_backend(
    generator: nn.Module,
    backend: str = "auto",
    precision: str = "f32",
    *,
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    images: int | None = None,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    seed: int = 0,
    threads: int | None = None,
    probe_n: int = PROBE_N,
) -> BackendChoice:
    """Pick and check the backend that generates ``images`` images at ``batch_size`` (see the module docstring).

    Raises ValueError for a combination that cannot run (OpenVINO off the CPU or with random noise, bf16 with
    PyTorch)."""
    from ..data.synthetic import latents_for_range

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if precision not in SAMPLER_PRECISIONS:
        raise ValueError(f"precision must be one of {SAMPLER_PRECISIONS}, got {precision!r}")
    device = torch.device(device)
    if precision == "bf16" and backend == "torch":
        raise ValueError("precision bf16 runs through OpenVINO; use --backend openvino (or auto)")
    if backend == "openvino" or precision == "bf16":
        if device.type != "cpu":
            raise ValueError(f"the OpenVINO backend runs on the CPU, not {device}; use --device cpu or --backend torch")
        if noise_mode != "const":
            raise ValueError(
                f"the OpenVINO twin has noise_mode 'const' built in, got {noise_mode!r}; use --backend torch"
            )
    first = auto_backend(device, batch_size, images, noise_mode, precision) if backend == "auto" else backend
    if first == "torch" and not hasattr(generator, "set_fused_modconv"):  # eager is its own reference: no probe
        return BackendChoice(generator, "torch", "f32", note="PyTorch eager is the reference forward")
    c_dim = max(int(getattr(generator, "c_dim", 0) or 0), 1)
    n = max(1, int(probe_n))
    z = latents_for_range(seed, 0, n, int(generator.z_dim))
    labels = np.arange(n, dtype=np.int64) % c_dim
    with reference_forward(generator) as ref_gen:
        reference = _images(ref_gen, z, labels, truncation_psi, noise_mode, device)
    refused: list[str] = []
    if first == "openvino":
        try:
            from .generator import OpenVINOGenerator

            twin = OpenVINOGenerator(generator, precision=precision, threads=threads)
            max_abs, levels = compare_to_reference(twin, reference, z, labels, truncation_psi, noise_mode, device)
        except Exception as err:  # conversion or compilation failed: say so, fall back
            if precision != "f32":
                raise
            refused.append(f"OpenVINO unavailable ({type(err).__name__}: {err})")
        else:
            if precision != "f32" or levels <= UINT8_TOLERANCE:
                return BackendChoice(twin, "openvino", precision, max_abs, levels, n, "; ".join(refused), refused)
            refused.append(f"OpenVINO f32 differs from the reference by {levels} uint8 levels (> {UINT8_TOLERANCE})")
    max_abs, levels = compare_to_reference(generator, reference, z, labels, truncation_psi, noise_mode, device)
    if levels <= UINT8_TOLERANCE:
        note = "; ".join(refused + (["fell back to PyTorch eager"] if refused else []))
        return BackendChoice(generator, "torch", "f32", max_abs, levels, n, note, refused)
    refused.append(f"PyTorch eager differs from the reference by {levels} uint8 levels (> {UINT8_TOLERANCE})")
    if hasattr(generator, "set_fused_modconv"):
        generator.set_fused_modconv(True)
    return BackendChoice(
        generator, "torch", "f32", 0.0, 0, n, "; ".join(refused + ["using the reference forward itself"]), refused
    )
