"""Accuracy-aware PTQ settings and the data it validates on.

NNCF's ``quantize_with_accuracy_control`` (the successor of POT's ``AccuracyAwareQuantization``) quantizes, then
reverts layers to FP32 until top-1 on a *validation* set drops by at most ``max_drop`` (absolute, fraction).
Which images it validates on matters:

* ``"heldout"`` (default): real CIFAR-10 **train** images held out of the calibration pool
  (:func:`gsoc_helpers.study.splits.validation_mask`: never in a calibration set, never a test image), class-balanced
  and seeded. The zoo's classifiers were trained on these images, so FP32
  scores ~100 % on them (measured: 99.8-100 % for akamaster ResNet-20) and the control in effect bounds how often
  the INT8 model disagrees with FP32 on real images, rather than its accuracy on unseen ones.
* ``"calibration"``: the calibration images themselves with their labels, the 2022 original's protocol (POT
  measured its metric on the calibration data loader). For synthetic or fractal calibration sets the labels are
  the generator's condition or a nominal fractal category, so the "accuracy" it controls is not CIFAR-10 accuracy.
"""

from __future__ import annotations

import numpy as np
import torch

from ..calibration import CalibrationSet, _pick, balanced_labels, train_split
from ..pixels import uint8_to_unit, unit_to_uint8
from ..study.splits import validation_mask
from .ptq import quantize_with_accuracy_control
from .settings import AccuracyControl


def heldout_validation(
    calibration: CalibrationSet, size: int, seed: int, train_source: str = "auto", data_root=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(images float32 [size,3,32,32] in [0,1], labels int64 [size]): class-balanced real CIFAR-10 train images of
    the held-out split (never calibration), none of them pixel-identical to a calibration image."""
    ds = train_split(train_source, data_root)
    used = {row.tobytes() for row in unit_to_uint8(calibration.images).reshape(len(calibration), -1)}
    val = np.flatnonzero(validation_mask(ds.labels))
    free = np.array([i for i in val if ds.images[i].tobytes() not in used])
    idx = free[
        _pick(
            ds.labels[free],
            balanced_labels(size, seed + 104729),
            seed + 104729,
            f"CIFAR-10 held-out train images ({ds.source})",
        )
    ]
    return uint8_to_unit(ds.images[idx]), torch.from_numpy(ds.labels[idx].astype(np.int64))


def validation_data(
    control: AccuracyControl, calibration: CalibrationSet, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    if control.validation == "calibration":
        return calibration.images, calibration.labels
    return heldout_validation(calibration, control.val_size, seed, control.train_source)


def quantize_accuracy_aware(
    fp32_ov_model, calibration: CalibrationSet, config, control: AccuracyControl, seed: int = 0
):
    """INT8 ``openvino.Model`` from NNCF accuracy control (see module doc); ``config``: a :class:`PTQConfig`."""
    control.validate()
    vx, vy = validation_data(control, calibration, seed)
    return quantize_with_accuracy_control(
        fp32_ov_model, calibration.images, vx, vy, max_drop=control.max_drop, config=config
    )
