"""gsoc_helpers: synthetic data for model optimisation (teacher sampling, DiStyleGAN
distillation, evaluation, interactive generation, INT8 quantization with NNCF)."""
from __future__ import annotations

__version__ = "0.1.0"

from .config import ProjectConfig, get_data_root, seed_everything  # noqa: F401
from .models.stylegan2_ada import load_stylegan2_ada  # noqa: F401,E402
