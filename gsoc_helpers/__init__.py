"""gsoc_helpers: synthetic data for model optimisation (teacher sampling, DiStyleGAN
distillation, evaluation, interactive generation, INT8 quantization with NNCF)."""

from __future__ import annotations

__version__ = "0.1.0"

from .config import get_data_root, seed_everything  # noqa: F401


def __getattr__(name: str):
    """``gsoc_helpers.load_stylegan2_ada`` imported on first use, so that importing the package (and every
    CLI call) does not pay for torch and the StyleGAN2 modules."""
    if name == "load_stylegan2_ada":
        from .models.stylegan2_ada import load_stylegan2_ada

        return load_stylegan2_ada
    raise AttributeError(f"module 'gsoc_helpers' has no attribute {name!r}")
