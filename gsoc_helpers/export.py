"""Former home of the OpenVINO generator export; it lives in :mod:`gsoc_helpers.openvino.generator` now."""

from __future__ import annotations

from .openvino.generator import (  # noqa: F401  (re-exported for existing callers)
    INPUT_NAMES,
    OpenVINOGenerator,
    convert_generator,
    export_generator,
    psnr,
)
