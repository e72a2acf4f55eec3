"""gsoc_helpers: synthetic data for model optimisation (teacher sampling, DiStyleGAN distillation, evaluation,
interactive generation, INT8 quantization with OpenVINO + NNCF).

The tutorial's names are importable from here (``from gsoc_helpers import load_generator, quantize``); each is
imported from its defining module on first use (:data:`PUBLIC_API`), so ``import gsoc_helpers`` and every CLI call
stay free of torch, OpenVINO and NNCF until a name that needs them is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> defining module (relative to this package), in the order of the notebooks; docs/reference.md "Public API"
PUBLIC_API: dict[str, str] = {
    # settings and paths
    "run_sizes": ".series.profiles",
    "series_paths": ".series.profiles",
    "student_to_load": ".series.profiles",
    "resolve_device": ".config",
    "get_data_root": ".config",
    "shown_path": ".config",
    "seed_everything": ".config",
    # 01 teacher sampling
    "load_generator": ".models.registry",
    "save_generator": ".models.registry",
    "register_generator": ".models.registry",
    "load_stylegan2_ada": ".models.stylegan2_ada.pickle_loader",
    "nvidia_uint8": ".pixels",
    "sample_dataset": ".sampling",
    "generate_grid": ".sampling",
    "SyntheticDataset": ".data.synthetic",
    "load_cifar10": ".data.cifar10",
    "CIFAR10_CLASSES": ".data.dataset",
    "make_grid": ".images",
    "grid_png": ".images",
    "count_parameters": ".metrics.complexity",
    "count_macs": ".metrics.complexity",
    # 02 distillation
    "StudentGenerator": ".models.student",
    "StudentConfig": ".models.student",
    "ProjectionDiscriminator": ".models.discriminator",
    "generator_loss": ".losses.distillation",
    "discriminator_loss": ".losses.distillation",
    "LambdaPixSchedule": ".losses.distillation",
    "DistillConfig": ".training.configs",
    "run_distill": ".training.distill",
    # 03 evaluation
    "resolve_extractor": ".metrics.inception",
    "UInt8Images": ".metrics.fidelity",
    "compute_fidelity": ".metrics.fidelity",
    "compare_generators": ".metrics.report",
    "class_accuracy": ".metrics.class_accuracy",
    # 04 image generation
    "GeneratorPanel": ".app.widgets",
    # 05 quantization
    "get_classifier": ".models.classifiers",
    "classifier_info": ".models.classifiers",
    "ClassifierInfo": ".models.classifiers",
    "register_classifier": ".models.classifiers",
    "CalibrationSet": ".calibration",
    "InputContract": ".models.contract",
    "get_calibration": ".calibration",
    "available_sources": ".calibration",
    "register_source": ".calibration",
    "to_openvino": ".openvino.classifier",
    "throughput": ".openvino.classifier",
    "PTQConfig": ".quantization.ptq",
    "NNCF_DEFAULTS": ".quantization.ptq",
    "nncf_kwargs": ".quantization.ptq",
    "quantize": ".quantization.ptq",
    "Int8Spec": ".study.specs",
    "BitsSpec": ".study.specs",
    "FinetuneSpec": ".study.specs",
    "run_study": ".study.engine",
    "cifar10_splits": ".study.splits",
    "photo_splits": ".study.splits",
    "summarize": ".study.tables",
    "compact_markdown": ".study.tables",
    "AccuracyControl": ".quantization.settings",
    "QuantizeOptions": ".quantization.settings",
    "quantize_model": ".quantization.tool",
    "cpu_description": ".openvino.core",
    "plot_closest": ".quantization.plots",
    "plot_vs_size": ".quantization.plots",
    # 05 below 8 bits and fine-tuning
    "BitWidth": ".quantization.lowbit",
    "ESTIMATORS": ".quantization.ranges",
    "best_estimator_markdown": ".quantization.lowbit_plots",
    "plot_bits": ".quantization.lowbit_plots",
    "FinetuneConfig": ".quantization.finetune",
    "finetune_lowbit": ".quantization.finetune",
    # 06 your model without its data: the photos it is measured on
    "natural_photos": ".quantization.photos",
}

# What a type checker or an IDE sees (the same names, imported eagerly only while type checking;
# tests/test_public_api.py keeps this block, PUBLIC_API and __all__ in step).
if TYPE_CHECKING:
    from .app.widgets import GeneratorPanel
    from .calibration import CalibrationSet, available_sources, get_calibration, register_source
    from .config import get_data_root, resolve_device, seed_everything, shown_path
    from .data.cifar10 import load_cifar10
    from .data.dataset import CIFAR10_CLASSES
    from .data.synthetic import SyntheticDataset
    from .images import grid_png, make_grid
    from .losses.distillation import LambdaPixSchedule, discriminator_loss, generator_loss
    from .metrics.class_accuracy import class_accuracy
    from .metrics.complexity import count_macs, count_parameters
    from .metrics.fidelity import UInt8Images, compute_fidelity
    from .metrics.inception import resolve_extractor
    from .metrics.report import compare_generators
    from .models.classifiers import ClassifierInfo, classifier_info, get_classifier, register_classifier
    from .models.contract import InputContract
    from .models.discriminator import ProjectionDiscriminator
    from .models.registry import load_generator, register_generator, save_generator
    from .models.student import StudentConfig, StudentGenerator
    from .models.stylegan2_ada.pickle_loader import load_stylegan2_ada
    from .openvino.classifier import throughput, to_openvino
    from .openvino.core import cpu_description
    from .pixels import nvidia_uint8
    from .quantization.finetune import FinetuneConfig, finetune_lowbit
    from .quantization.lowbit import BitWidth
    from .quantization.lowbit_plots import best_estimator_markdown, plot_bits
    from .quantization.photos import natural_photos
    from .quantization.plots import plot_closest, plot_vs_size
    from .quantization.ptq import NNCF_DEFAULTS, PTQConfig, nncf_kwargs, quantize
    from .quantization.ranges import ESTIMATORS
    from .quantization.settings import AccuracyControl, QuantizeOptions
    from .quantization.tool import quantize_model
    from .sampling import generate_grid, sample_dataset
    from .series.profiles import run_sizes, series_paths, student_to_load
    from .study.engine import run_study
    from .study.specs import BitsSpec, FinetuneSpec, Int8Spec
    from .study.splits import cifar10_splits, photo_splits
    from .study.tables import compact_markdown, summarize
    from .training.configs import DistillConfig
    from .training.distill import run_distill

__all__ = [
    "PUBLIC_API",
    "__version__",
    "run_sizes",
    "series_paths",
    "student_to_load",
    "resolve_device",
    "get_data_root",
    "shown_path",
    "seed_everything",
    "load_generator",
    "save_generator",
    "register_generator",
    "load_stylegan2_ada",
    "nvidia_uint8",
    "sample_dataset",
    "generate_grid",
    "SyntheticDataset",
    "load_cifar10",
    "CIFAR10_CLASSES",
    "make_grid",
    "grid_png",
    "count_parameters",
    "count_macs",
    "StudentGenerator",
    "StudentConfig",
    "ProjectionDiscriminator",
    "generator_loss",
    "discriminator_loss",
    "LambdaPixSchedule",
    "DistillConfig",
    "run_distill",
    "resolve_extractor",
    "UInt8Images",
    "compute_fidelity",
    "compare_generators",
    "class_accuracy",
    "GeneratorPanel",
    "get_classifier",
    "classifier_info",
    "ClassifierInfo",
    "register_classifier",
    "CalibrationSet",
    "InputContract",
    "get_calibration",
    "available_sources",
    "register_source",
    "to_openvino",
    "throughput",
    "PTQConfig",
    "NNCF_DEFAULTS",
    "nncf_kwargs",
    "quantize",
    "Int8Spec",
    "BitsSpec",
    "FinetuneSpec",
    "run_study",
    "cifar10_splits",
    "photo_splits",
    "summarize",
    "compact_markdown",
    "AccuracyControl",
    "QuantizeOptions",
    "quantize_model",
    "cpu_description",
    "plot_closest",
    "plot_vs_size",
    "BitWidth",
    "ESTIMATORS",
    "best_estimator_markdown",
    "plot_bits",
    "FinetuneConfig",
    "finetune_lowbit",
    "natural_photos",
]


def __getattr__(name: str) -> Any:
    """A :data:`PUBLIC_API` name, imported from its defining module on first use and kept."""
    module = PUBLIC_API.get(name)
    if module is None:
        raise AttributeError(f"module 'gsoc_helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *PUBLIC_API])
