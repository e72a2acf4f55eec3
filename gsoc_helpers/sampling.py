"""Sample a class-balanced synthetic dataset from any generator into the synthetic-dataset format.

Image ``i`` uses ``z = latent_for_index(seed, i, z_dim)`` (N(0, I); the original project drew z uniformly
in [0, 1), which narrowed the teacher's distribution) and label ``i % num_classes``; images are stored as
uint8 with NVIDIA's fixed mapping ``(x * 127.5 + 128).clamp(0, 255)`` (the original stretched every image
to its own min/max, distorting colours).  Work is split by shard (``shard_index`` of ``num_shards``, or the
``RANK``/``WORLD_SIZE`` of a ``torchrun`` launch); each worker writes only its shards, and re-running
resumes exactly the missing ones.  Works with any module following the generator protocol
(attributes ``z_dim``, ``c_dim``, ``img_resolution``; ``forward(z, labels, truncation_psi, noise_mode)``).

Backends (:mod:`gsoc_helpers.openvino.sampler`): ``auto`` (default), ``torch`` or ``openvino``, in ``f32`` or (when
asked) ``bf16``; before the first shard a probe batch is checked against the reference forward.  The manifest
records the backend and precision; resuming a dataset with ``auto`` keeps the ones it records, so a resumed run
writes the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .data.dataset import CIFAR10_CLASSES
from .data.synthetic import SyntheticDatasetWriter, check_total, latents_for_range
from .defaults import TRUNCATION_PSI_RANGE
from .fileio import sha256_file
from .images import MAX_IMAGES, MAX_PER_CLASS, make_grid, resolve_classes
from .models.protocol import check_generator
from .models.registry import load_generator
from .openvino.twin_cache import openvino_generator
from .pixels import to_uint8


@dataclass
class SampleReport:
    """What one worker did: images written, seconds spent generating and writing them and throughput; whether the
    dataset is complete; the backend and the seconds spent choosing and checking it."""

    root: str
    written: int
    seconds: float
    images_per_second: float
    shard_index: int
    num_shards: int
    complete: bool
    backend: str = ""
    precision: str = ""
    backend_summary: str = ""
    setup_seconds: float = 0.0  # choosing and checking the backend (not in ``seconds``)


def distributed_shard(shard_index: int | None = None, num_shards: int | None = None) -> tuple[int, int]:
    """Explicit (i, n), else torchrun's ``RANK``/``WORLD_SIZE`` environment, else (0, 1)."""
    if shard_index is None and num_shards is None:
        shard_index, num_shards = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if shard_index is None or num_shards is None or not 0 <= shard_index < num_shards:
        raise ValueError(f"shard {shard_index}/{num_shards}: expected 0 <= i < n")
    return int(shard_index), int(num_shards)


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' -> (i, n), e.g. '0/4'."""
    try:
        i, n = (int(p) for p in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected 'i/n' with integers, e.g. '0/4'") from None
    return distributed_shard(i, n)


def model_checksum(model: nn.Module) -> str:
    """``model.checksum`` / sha256 of ``model.checkpoint_path`` if known, else sha256 of the state dict."""
    if isinstance(getattr(model, "checksum", None), str):
        return model.checksum
    path = getattr(model, "checkpoint_path", None)
    if path and Path(path).is_file():
        return sha256_file(path)
    if not hasattr(model, "state_dict"):
        raise ValueError(f"cannot checksum a {type(model).__name__}; pass generator_checksum=... explicitly")
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@torch.no_grad()
def generate_uint8(
    generator: nn.Module,
    z: np.ndarray,
    labels: np.ndarray,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Generate uint8 [n, R, R, 3] images for z float32 [n, z_dim] and labels int64 [n], batch by batch."""
    out = []
    for s in range(0, len(z), batch_size):
        zt = torch.from_numpy(np.ascontiguousarray(z[s : s + batch_size])).to(device)
        lt = torch.from_numpy(np.ascontiguousarray(labels[s : s + batch_size])).to(device)
        out.append(to_uint8(generator(zt, lt, truncation_psi=truncation_psi, noise_mode=noise_mode)))
    return (
        np.concatenate(out) if out else np.zeros((0, generator.img_resolution, generator.img_resolution, 3), np.uint8)
    )


def sample_dataset(
    generator: nn.Module,
    root: str | os.PathLike,
    *,
    generator_name: str,
    generator_checksum: str | None = None,
    per_class: int = 5000,
    seed: int = 0,
    truncation_psi: float = 1.0,
    noise_mode: str = "const",
    batch_size: int = 64,
    shard_size: int = 1000,
    shard_index: int | None = None,
    num_shards: int | None = None,
    device: str | torch.device | None = None,
    class_names: tuple[str, ...] | None = None,
    progress: bool = True,
    backend: str = "auto",
    precision: str = "f32",
    threads: int | None = None,
) -> SampleReport:
    """Write this worker's missing shards of a ``per_class * c_dim`` image dataset at ``root``.

    ``backend`` / ``precision``: see :func:`gsoc_helpers.openvino.sampler.choose_backend` (``threads``: OpenVINO's
    CPU threads). Returns a :class:`SampleReport`; call again with the same arguments to resume after an
    interruption.
    """
    from .openvino.sampler import choose_backend
    from .progress import progress as tqdm  # tqdm's API; one final line in notebooks

    i, n = distributed_shard(shard_index, num_shards)
    if not np.isfinite(truncation_psi):
        raise ValueError(f"truncation_psi must be a finite number, got {truncation_psi!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    check_generator(generator)
    c_dim = generator.c_dim
    check_total(c_dim, per_class)
    if class_names is None:
        class_names = CIFAR10_CLASSES if c_dim == len(CIFAR10_CLASSES) else tuple(f"class_{k}" for k in range(c_dim))
    if device is None:
        try:
            device = next(generator.parameters()).device
        except (StopIteration, AttributeError):
            device = "cpu"
    extra = {
        "noise_mode": noise_mode,
        "latent": "N(0, I) via latent_for_index(seed, index)",
        "uint8_mapping": "(x * 127.5 + 128).clamp(0, 255)",
    }
    params = dict(
        generator_name=generator_name,
        generator_checksum=generator_checksum or model_checksum(generator),
        num_classes=c_dim,
        per_class=per_class,
        z_dim=generator.z_dim,
        image_size=generator.img_resolution,
        seed=seed,
        truncation_psi=truncation_psi,
        shard_size=shard_size,
        class_names=tuple(class_names),
    )
    t_setup, written, choice = time.perf_counter(), 0, None
    pending: list[tuple[int, int]] | None = None
    if (Path(root) / "manifest.json").is_file():  # resume: nothing to choose when nothing is missing
        writer = SyntheticDatasetWriter(root, extra=extra, **params)
        pending = writer.pending_shards(i, n, verify=True)  # a corrupted shard is written again
        recorded = writer.manifest.get("extra", {})
        if backend == "auto" and recorded.get("backend") in ("torch", "openvino") and pending:
            backend, precision = recorded["backend"], recorded.get("precision", precision)
    todo = -(-per_class * c_dim // n) if pending is None else sum(e - s for s, e in pending)
    if todo:
        choice = choose_backend(
            generator,
            backend,
            precision,
            device=device,
            batch_size=batch_size,
            images=todo,
            truncation_psi=truncation_psi,
            noise_mode=noise_mode,
            seed=seed,
            threads=threads,
        )
        extra.update(choice.manifest())
    if pending is None:
        writer = SyntheticDatasetWriter(root, extra=extra, **params)
        pending = writer.pending_shards(i, n, verify=True)
        todo = sum(e - s for s, e in pending)
    gen = generator if choice is None else choice.generator
    t0 = time.perf_counter()
    with tqdm(total=todo, unit="img", desc=f"sample {i}/{n}", disable=not progress or todo == 0) as bar:
        for start, stop in pending:
            z = latents_for_range(seed, start, stop, generator.z_dim)
            labels = writer.expected_labels(start, stop)
            images = generate_uint8(gen, z, labels, truncation_psi, noise_mode, batch_size, device)
            writer.write_shard(start, images, labels, z)
            written += stop - start
            bar.update(stop - start)
    seconds = time.perf_counter() - t0
    return SampleReport(
        str(root),
        written,
        seconds,
        written / seconds if written and seconds > 0 else 0.0,
        i,
        n,
        writer.is_complete(),
        choice.backend if choice else "",
        choice.precision if choice else "",
        choice.summary() if choice else "",
        t0 - t_setup,
    )


def generate_grid(
    model: Any,
    classes: Sequence[str | int] | str | int,
    per_class: int = 8,
    seed: int = 0,
    truncation_psi: float = 1.0,
    backend: str = "torch",
    class_names: Sequence[str] | None = None,
    ov_factory: Callable[[Any], Any] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Images of ``classes`` (rows) x ``per_class`` (columns) -> (uint8 grid [H', W', 3], row labels).

    ``model``: a protocol generator or a name for :func:`gsoc_helpers.models.registry.load_generator`.  Column j uses
    the latent ``latent_for_index(seed, j, z_dim)`` in every row, so rows differ by class only.
    ``backend='openvino'`` runs the OpenVINO twin (``ov_factory``, default
    :func:`~gsoc_helpers.openvino.twin_cache.openvino_generator`) with the same ψ.  Raises ValueError for bad input,
    BackendUnavailable if OpenVINO cannot run.
    """
    names = tuple(class_names or getattr(model, "class_names", None) or CIFAR10_CLASSES)
    idx = resolve_classes(classes, names)
    if not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"images per class must be at least 1, got {per_class!r}")
    if per_class > MAX_PER_CLASS or per_class * len(idx) > MAX_IMAGES:
        raise ValueError(
            f"too many images: {per_class} x {len(idx)} classes; at most {MAX_PER_CLASS} per class "
            f"and {MAX_IMAGES} in all"
        )
    lo, hi = TRUNCATION_PSI_RANGE
    if not lo <= float(truncation_psi) <= hi:
        raise ValueError(f"truncation psi must be within [{lo:g}, {hi:g}], got {truncation_psi}")
    from .openvino.sampler import BACKENDS

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    model = check_generator(load_generator(model, cache=True))
    c_dim = int(getattr(model, "c_dim", len(names)))
    if max(idx) >= c_dim:
        raise ValueError(f"class index {max(idx)} not supported by a generator with {c_dim} classes")
    runner = model if backend in ("auto", "torch") else (ov_factory or openvino_generator)(model)
    z = np.tile(latents_for_range(int(seed), 0, per_class, int(model.z_dim)), (len(idx), 1))
    labels = np.repeat(np.asarray(idx, dtype=np.int64), per_class)
    images = generate_uint8(runner, z, labels, float(truncation_psi), "const", batch_size=len(labels))
    return make_grid(images, nrow=per_class), [names[i] for i in idx]
