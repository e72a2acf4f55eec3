"""Run sizes of the notebook series per profile: ``quick`` (CPU, offline, minutes), ``full`` (GPU, downloads),
and ``smoke`` (seconds, used by the tests).  Notebooks read every size from here instead of hard-coding it."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class RunSizes:
    teacher: str               # generator name/path/URL used as the teacher
    student: str               # generator name/path used as the student (bundled or freshly trained)
    sample_per_class: int      # 01: synthetic images per class
    distill_steps: int         # 02: steps of the demonstration distillation run
    distill_batch: int
    distill_ngf: int
    fid_n: int                 # 03: generated images per FID/KID
    fid_reference_n: int       # 03: real reference images
    fid_reference_source: str  # 03: load_cifar10 source of the reference
    speed_batches: tuple[int, ...]
    quant_models: tuple[str, ...]
    quant_sources: tuple[str, ...]
    quant_sizes: tuple[int, ...]
    quant_seeds: tuple[int, ...]
    quant_test_sets: tuple[str, ...]  # load_cifar10 test sources for accuracy / agreement / KL
    quant_bn_steps: int        # optimisation steps of the data-free bn-matching source


QUICK = RunSizes(
    teacher="offline-teacher", student="student", sample_per_class=300, distill_steps=60, distill_batch=64,
    distill_ngf=64, fid_n=250, fid_reference_n=500, fid_reference_source="exact", speed_batches=(1, 64),
    quant_models=("akamaster_resnet20",), quant_sources=("real", "teacher", "student", "noise", "bn-matching"),
    quant_sizes=(300,), quant_seeds=(0,), quant_test_sets=("exact", "jpeg"), quant_bn_steps=50,
)

FULL = RunSizes(
    teacher="cifar10",  # NVIDIA's official StyleGAN2-ADA snapshot, downloaded once
    student="outputs/student/student.safetensors", sample_per_class=5000,
    distill_steps=58_600, distill_batch=128, distill_ngf=256, fid_n=50_000, fid_reference_n=50_000,
    fid_reference_source="auto", speed_batches=(1, 64, 256),
    quant_models=("chenyaofo_resnet20", "chenyaofo_resnet56", "chenyaofo_vgg16_bn", "chenyaofo_mobilenetv2_x1_4",
                  "chenyaofo_shufflenetv2_x2_0", "chenyaofo_repvgg_a2"),
    quant_sources=("real", "teacher", "student", "noise", "bn-matching"),
    quant_sizes=(1, 10, 100, 300, 1000), quant_seeds=(0, 1, 2), quant_test_sets=("auto",), quant_bn_steps=200,
)

SMOKE = replace(
    QUICK, sample_per_class=2, distill_steps=2, distill_batch=8, distill_ngf=16, fid_n=40, fid_reference_n=40,
    speed_batches=(1, 4), quant_sources=("real", "noise"), quant_sizes=(20,), quant_test_sets=("exact",),
    quant_bn_steps=5,
)


def run_sizes(profile: str = "quick", smoke: bool = False) -> RunSizes:
    """The sizes for ``profile`` (``quick``/``full``); ``smoke=True`` shrinks everything to seconds."""
    if smoke:
        return SMOKE
    if profile == "quick":
        return QUICK
    if profile == "full":
        return FULL
    raise ValueError(f"unknown profile {profile!r}; expected 'quick' or 'full'")


@dataclass(frozen=True)
class SeriesPaths:
    """Where each notebook writes (and the next one reads) under the output dir, one folder per profile."""

    root: Path

    @property
    def teacher_dataset(self) -> Path:
        return self.root / "synthetic" / "teacher"

    @property
    def student_dataset(self) -> Path:
        return self.root / "synthetic" / "student"

    @property
    def distill_run(self) -> Path:
        return self.root / "distill"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def quantization(self) -> Path:
        return self.root / "quantization"


def series_paths(profile: str = "quick", smoke: bool = False, output_dir=None) -> SeriesPaths:
    """``<output dir>/<profile or 'smoke'>/...``; the results folder is also collected by ``gsoc-helpers demo``."""
    from pathlib import Path

    from .config import get_output_dir

    run_sizes(profile, smoke)  # validates the profile name
    root = Path(get_output_dir(output_dir)) / ("smoke" if smoke else profile)
    root.mkdir(parents=True, exist_ok=True)
    return SeriesPaths(root)
