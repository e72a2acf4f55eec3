"""gsoc_helpers: synthetic data for model optimisation (teacher sampling, DiStyleGAN distillation, evaluation,
interactive generation, INT8 quantization with OpenVINO + NNCF).

The tutorial's names are importable from here (``from gsoc_helpers import load_generator, quantize``); each is
imported from its defining module on first use (:data:`PUBLIC_API`), so ``import gsoc_helpers`` and every CLI call
stay free of torch, OpenVINO and NNCF until a name that needs them is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> defining module (relative to this package), in the order of the notebooks; README "Public API"
PUBLIC_API: dict[str, str] = {
    # settings and paths
    "run_sizes": ".profiles",
    "series_paths": ".profiles",
    "student_to_load": ".profiles",
    "resolve_device": ".config",
    "get_data_root": ".config",
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
    "GeneratorPanel": ".widgets",
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
}


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
