"""Import the 2022 project's FakeCIFAR10 folder into the project's synthetic-dataset format.

FakeCIFAR10 (ThanosM97/gsoc2022-openvino, ``generation/create_dataset.py`` and ``generation/model/dataset.py``):
StyleGAN2-ADA CIFAR-10 samples laid out as ``class_<k>/image_<i>.png`` with ``class_<k>/noise_<i>.pt``; the
label is ``k`` from the folder name; each noise file is ``torch.save(z[i])`` of a latent row drawn from U[0, 1)
(a view: the file may carry its whole batch's storage, possibly as CUDA tensors). Each latent is read with
``torch.load(weights_only=True, map_location="cpu")`` and only its own row is kept.

The project's format wants image ``i`` to have label ``i % num_classes``, so the import interleaves the classes:
index ``i`` is the ``(i // C)``-th image (by numeric id) of class ``i % C``. ``per_class`` defaults to the smallest
class. The import is resumable (shards already written are skipped).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..progress import progress as tqdm  # tqdm's API; one final line in notebooks
from ..safety import refuse_overlap
from .cifar10 import load_image  # FakeCIFAR10 images are read like an image-folder CIFAR-10
from .dataset import CIFAR10_CLASSES, DataError
from .synthetic import SyntheticDatasetWriter

GENERATOR_NAME = "FakeCIFAR10 (2022 StyleGAN2-ADA CIFAR-10 samples)"
LATENT_NOTE = "U[0,1) latents of the 2022 FakeCIFAR10 (create_dataset.py used torch.rand)"
_CLASS_RE, _IMAGE_RE = re.compile(r"^class_(\d+)$"), re.compile(r"^image_(\d+)\.png$")


@dataclass
class ImportReport:
    root: Path
    per_class: int
    num_classes: int
    z_dim: int
    written: int
    skipped_per_class: dict[int, int]  # images left out because their class had more than per_class


def scan(src: str | os.PathLike) -> dict[int, list[int]]:
    """class index -> sorted image ids of ``src`` (each with its noise file); DataError for a bad layout."""
    root = Path(src)
    if not root.is_dir():
        raise FileNotFoundError(f"FakeCIFAR10 folder {str(root)!r} does not exist")
    classes: dict[int, Path] = {}
    for d in sorted(root.iterdir()):
        if d.is_dir() and (m := _CLASS_RE.match(d.name)):
            kept = classes.setdefault(int(m.group(1)), d)
            if kept != d:  # class_01 beside class_1: one class, two folders
                raise DataError(
                    f"{str(root)!r} holds both {kept.name} and {d.name}, the same class {int(m.group(1))}; "
                    "remove or rename one"
                )
    if not classes:
        raise DataError(f"{str(root)!r} has no class_<k> folders: not a FakeCIFAR10 layout")
    if sorted(classes) != list(range(len(classes))):
        raise DataError(
            f"{str(root)!r}: class folders must be class_0..class_{len(classes) - 1}, found {sorted(classes)}"
        )
    out = {}
    for k, folder in sorted(classes.items()):
        names: dict[int, str] = {}
        for f in sorted(folder.iterdir()):
            if m := _IMAGE_RE.match(f.name):
                other = names.setdefault(int(m.group(1)), f.name)
                if other != f.name:  # image_03.png beside image_3.png: one id, two images
                    raise DataError(
                        f"{str(folder)!r} holds both {other} and {f.name}, the same id "
                        f"{int(m.group(1))}; remove or rename one"
                    )
        ids = sorted(names)
        if not ids:
            raise DataError(f"{str(folder)!r} holds no image_<i>.png files")
        lonely = [i for i in ids if not (folder / f"noise_{i}.pt").is_file()]
        if lonely:
            raise DataError(
                f"{str(folder / f'image_{lonely[0]}.png')!r} has no noise_{lonely[0]}.pt beside it "
                f"({len(lonely)} such images in class_{k})"
            )
        out[k] = ids
    return out


def load_latent(path: Path) -> np.ndarray:
    """float32 [z_dim]: the one latent row in ``path`` (weights-only load on the CPU; any larger storage dropped)."""
    try:
        with warnings.catch_warnings():  # torch's note on validating sparse tensors: refused below anyway
            warnings.simplefilter("ignore", UserWarning)
            z = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # an empty file raises EOFError with no text
        why = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if path.stat().st_size == 0:
            why = "the file is empty"
        raise DataError(f"{str(path)!r} is not a weights-only torch tensor file: {why}") from None
    if not isinstance(z, torch.Tensor) or z.dim() not in (1, 2) or (z.dim() == 2 and z.shape[0] != 1):
        raise DataError(
            f"{str(path)!r} must hold one latent row [z_dim], got "
            f"{tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__}"
        )
    if z.layout != torch.strided:
        raise DataError(
            f"{str(path)!r} holds a {str(z.layout).replace('torch.', '')} tensor; expected a dense latent row"
        )
    if z.numel() == 0:
        raise DataError(f"{str(path)!r} holds an empty tensor; expected one latent row [z_dim]")
    if z.is_complex() or not (
        z.is_floating_point() or z.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
    ):
        raise DataError(f"{str(path)!r} holds a {str(z.dtype).replace('torch.', '')} tensor; expected real numbers")
    z = z.detach().reshape(-1).to(torch.float32)
    if not bool(torch.isfinite(z).all()):
        raise DataError(
            f"{str(path)!r} holds {int((~torch.isfinite(z)).sum())} NaN or infinite values; a latent must be finite"
        )
    return z.numpy().copy()


def import_fakecifar10(
    src: str | os.PathLike,
    out: str | os.PathLike,
    per_class: int | None = None,
    shard_size: int = 1000,
    progress: bool = True,
) -> ImportReport:
    """Write ``src`` (FakeCIFAR10 layout) as a synthetic dataset at ``out``; returns what was written."""
    src = Path(src)
    refuse_overlap(out, [("FakeCIFAR10 folder", src)])
    ids = scan(src)
    num_classes = len(ids)
    smallest = min(len(v) for v in ids.values())
    per_class = smallest if per_class is None else int(per_class)
    if not 1 <= per_class <= smallest:
        raise ValueError(f"per_class must be in [1, {smallest}] (the smallest class of {str(src)!r}), got {per_class}")
    z_dim = int(load_latent(src / "class_0" / f"noise_{ids[0][0]}.pt").shape[0])
    names = CIFAR10_CLASSES if num_classes == len(CIFAR10_CLASSES) else tuple(f"class_{k}" for k in range(num_classes))
    writer = SyntheticDatasetWriter(
        out,
        generator_name=GENERATOR_NAME,
        generator_checksum="unknown (imported)",
        num_classes=num_classes,
        per_class=per_class,
        z_dim=z_dim,
        seed=0,
        truncation_psi=1.0,
        shard_size=shard_size,
        class_names=names,
        extra={
            "imported_from": str(src.resolve()),
            "latent": LATENT_NOTE,
            "index_to_source": "index i -> class_{i % C}/image_{ids[i % C][i // C]}.png with ids sorted numerically",
        },
    )
    pending = writer.pending_shards()
    written = 0
    bar = tqdm(total=sum(e - s for s, e in pending), desc="import FakeCIFAR10", unit="img", disable=not progress)
    for start, stop in pending:
        imgs, zs = [], []
        for i in range(start, stop):
            k, j = i % num_classes, i // num_classes
            folder = src / f"class_{k}"
            imgs.append(load_image(folder / f"image_{ids[k][j]}.png"))
            z = load_latent(folder / f"noise_{ids[k][j]}.pt")
            if z.shape != (z_dim,):
                raise DataError(f"{str(folder / f'noise_{ids[k][j]}.pt')!r} has {z.shape[0]} values, expected {z_dim}")
            zs.append(z)
            bar.update(1)
        writer.write_shard(start, np.stack(imgs), writer.expected_labels(start, stop), np.stack(zs))
        written += stop - start
    bar.close()
    return ImportReport(
        Path(out),
        per_class,
        num_classes,
        z_dim,
        written,
        {k: len(v) - per_class for k, v in ids.items() if len(v) > per_class},
    )
