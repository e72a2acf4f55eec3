"""What the notebook series runs, on two axes.

* **profile** -- where the inputs come from: ``quick`` (the data root's CIFAR-10 copies + the bundled models, CPU,
  offline) or ``full`` (NVIDIA's ``cifar10.pkl``, the official CIFAR-10 tarball, chenyaofo's zoo, torch-fidelity's
  Inception weights: all through :mod:`gsoc_helpers.download`, from a data root when one is set).
* **scale** -- how much work: ``smoke`` (seconds, the tests), ``quick`` (minutes on a CPU), ``full`` (the paper-size
  run, a GPU).  The default scale is ``$GSOC_SCALE``, else the profile's own name.

Notebooks read every size and list from :func:`run_sizes`; any field can be overridden by name
(``run_sizes("full", "smoke", quant_models="chenyaofo_resnet20,chenyaofo_resnet56")``, or from the command line with
``gsoc-helpers demo -p quant_models chenyaofo_resnet20,chenyaofo_resnet56``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..defaults import BN_MATCHING_STEPS, HELD_OUT_SIZE

DISTILLED = "distilled"  # the student notebook 02 trains (SeriesPaths.student_checkpoint)


@dataclass(frozen=True)
class ProfileInputs:
    """Where the series' inputs come from."""

    teacher: str  # generator name/path/URL used as the teacher; a registered name is also its calibration source
    student: str  # bundled student name/path, or DISTILLED
    real_source: str  # load_cifar10 source of real CIFAR-10 (02 reals, 03 reference, 05 'real')
    quant_models: tuple[str, ...]  # classifier names, smallest first
    quant_test_sets: tuple[str, ...]  # load_cifar10 test sources for accuracy / agreement / KL (quick without a
    # data root: "auto", the official test set downloaded with CIFAR-10)


@dataclass(frozen=True)
class ScaleSizes:
    """How much work each notebook does."""

    sample_per_class: int  # 01/02: synthetic images per class
    grid_per_class: int  # 01/03: images per class in the preview grids
    distill_steps: int  # 02: distillation steps
    distill_batch: int
    distill_ngf: int  # 02: student width
    distill_ndf: int  # 02: discriminator width
    fid_n: int  # 03: generated images per FID/KID
    fid_reference_n: int  # 03: real reference images
    speed_batches: tuple[int, ...]  # 03/05: batch sizes of the throughput tables
    speed_seconds: float  # 03/05: seconds per throughput measurement
    quant_model_count: int  # 05: first N of the profile's models (0: all)
    quant_sources: tuple[str, ...]
    quant_sizes: tuple[int, ...]
    quant_seeds: tuple[int, ...]
    quant_test_n: int  # 05: first N images of each test set (0: all)
    quant_test_set_count: int  # 05: first N of the profile's test sets (0: all)
    quant_bn_steps: int  # 05: optimisation steps of the data-free bn-matching source
    speed_calibration_n: int  # 05: calibration images of the INT8 model in the speed table
    quant_val_n: int  # 05: validation / held-out images of accuracy-aware PTQ and `quantize`
    any_model_sources: tuple[str, ...]  # 06: calibration sources (TEACHER: the profile's teacher)
    any_model_calibration_n: int  # 06: calibration images per source and seed
    any_model_seeds: tuple[int, ...]
    any_model_bn_steps: int  # 06: bn-matching steps at 224x224 (0: the recipe's own, bn_matching.LARGE_INPUT)
    any_model_cifar_test_n: int  # 06: CIFAR-10 test pictures (upsampled) agreement is measured on
    any_model_photo_views: int  # 06: crops per scikit-image photo agreement is measured on (20 photos)
    quant_bits: tuple[str, ...]  # 05: bit widths of the below-8-bit study (W<w>A<a>)
    quant_estimators: tuple[str, ...]  # 05: range estimators of the re-levelled models, and "nncf" (NNCF's call)
    finetune_steps: int  # 05: distillation steps of the W4A4 fine-tuning on student images
    any_model_finetune_steps: int  # 06: distillation steps of the data-free INT8 fine-tuning at 224x224


PROFILES: dict[str, ProfileInputs] = {
    "quick": ProfileInputs(
        teacher="offline-teacher",
        student="student",
        real_source="auto",
        quant_models=("akamaster_resnet20",),
        quant_test_sets=("exact", "jpeg"),
    ),
    "full": ProfileInputs(
        teacher="stylegan2-ada",  # NVIDIA's official CIFAR-10 snapshot ("cifar10")
        student=DISTILLED,
        real_source="auto",
        quant_models=(
            "chenyaofo_resnet20",
            "chenyaofo_resnet56",
            "chenyaofo_mobilenetv2_x1_4",
            "chenyaofo_shufflenetv2_x2_0",
            "chenyaofo_vgg16_bn",
            "chenyaofo_repvgg_a2",
        ),
        quant_test_sets=("auto",),
    ),
}

# The study's calibration sources; TEACHER stands for the profile's teacher (run_sizes puts its name in its place).
TEACHER = "teacher"
_STUDY_SOURCES = ("real", TEACHER, "student", "noise", "bn-matching")
_ANY_MODEL_SOURCES = ("real", TEACHER, "student", "noise", "fractal", "bn-matching")
SCALES: dict[str, ScaleSizes] = {
    "smoke": ScaleSizes(
        sample_per_class=2,
        grid_per_class=2,
        distill_steps=2,
        distill_batch=8,
        distill_ngf=16,
        distill_ndf=16,
        fid_n=20,
        fid_reference_n=20,
        speed_batches=(1, 4),
        speed_seconds=0.2,
        quant_model_count=1,
        quant_sources=("real", "noise"),
        quant_sizes=(20,),
        quant_seeds=(0,),
        quant_test_n=100,
        quant_test_set_count=1,
        quant_bn_steps=5,
        speed_calibration_n=20,
        quant_val_n=100,
        any_model_sources=("noise", "bn-matching"),
        any_model_calibration_n=4,
        any_model_seeds=(0,),
        any_model_bn_steps=2,
        any_model_cifar_test_n=10,
        any_model_photo_views=1,
        quant_bits=("W8A8", "W4A4"),
        quant_estimators=("minmax", "nncf"),
        finetune_steps=2,
        any_model_finetune_steps=1,
    ),
    # minutes on a CPU: `make demo` within 8 minutes cold on 2 quiet cores (benchmarks/bench_demo.py measures it;
    # RESULTS.md section 1: 4 min 48 s for `make docs` after these cuts, 12 min 12 s before).
    # Cuts: 03 FID/KID and class accuracy on 100 vs 200 images, speed at batch 64 for 0.5 s; 05 without the stand-in
    # teacher, 100 calibration images, the bit-exact test set only, bn-matching made once for both studies, 30
    # fine-tuning steps; 06 with the photos, student, noise, fractal and bn-matching, 16 calibration images, 100
    # CIFAR-10 pictures, 2 crops per photo, 2 fine-tuning steps.  The full scale and benchmarks/ give the full figures.
    "quick": ScaleSizes(
        sample_per_class=300,
        grid_per_class=8,
        distill_steps=60,
        distill_batch=64,
        distill_ngf=64,
        distill_ndf=64,
        fid_n=100,
        fid_reference_n=200,
        speed_batches=(64,),
        speed_seconds=0.5,
        quant_model_count=0,
        quant_sources=("real", "student", "noise", "bn-matching"),  # the stand-in teacher: the full scale
        quant_sizes=(100,),
        quant_seeds=(0,),
        quant_test_n=2000,  # the 1,017 bit-exact test images whole (no data root: the first 2,000 official ones)
        quant_test_set_count=1,  # the bit-exact set only (the JPEG copies: the full scale)
        quant_bn_steps=25,
        speed_calibration_n=300,
        quant_val_n=HELD_OUT_SIZE,
        any_model_sources=("student", "noise", "fractal", "bn-matching"),  # and the photos; upsampled CIFAR-10: full
        any_model_calibration_n=16,
        any_model_seeds=(0,),
        any_model_bn_steps=0,
        any_model_cifar_test_n=100,
        any_model_photo_views=2,
        quant_bits=("W4A4",),  # the full scale and benchmarks/bench_study.py sweep every width and estimator
        quant_estimators=("mse", "nncf"),
        finetune_steps=30,
        any_model_finetune_steps=2,
    ),
    # the 2022 run: 50,000 teacher images, batch 128, 150 epochs ~ 58,600 steps, ngf 256 / ndf 128
    "full": ScaleSizes(
        sample_per_class=5000,
        grid_per_class=8,
        distill_steps=58_600,
        distill_batch=128,
        distill_ngf=256,
        distill_ndf=128,
        fid_n=50_000,
        fid_reference_n=50_000,
        speed_batches=(1, 64, 256),
        speed_seconds=3.0,
        quant_model_count=0,
        quant_sources=_STUDY_SOURCES,
        quant_sizes=(1, 10, 100, 300, 1000),
        quant_seeds=(0, 1, 2),
        quant_test_n=0,
        quant_test_set_count=0,
        quant_bn_steps=BN_MATCHING_STEPS,
        speed_calibration_n=300,
        quant_val_n=HELD_OUT_SIZE,
        any_model_sources=_ANY_MODEL_SOURCES,
        any_model_calibration_n=128,
        any_model_seeds=(0, 1, 2),
        any_model_bn_steps=0,
        any_model_cifar_test_n=1000,
        any_model_photo_views=5,
        quant_bits=("W8A8", "W6A6", "W5A5", "W4A4", "W3A3", "W4A8", "W8A4"),
        quant_estimators=("minmax", "percentile", "mse", "nncf"),
        finetune_steps=2000,
        any_model_finetune_steps=300,
    ),
}


@dataclass(frozen=True)
class RunSizes(ProfileInputs, ScaleSizes):
    """One profile's inputs at one scale (the counts already applied to the lists), plus the two names."""

    profile: str = "quick"
    scale: str = "quick"


OVERRIDABLE = tuple(f.name for f in fields(RunSizes) if f.name not in ("profile", "scale"))


def get_scale(explicit: str | None = None, profile: str = "quick") -> str:
    """``explicit`` if given, else ``$GSOC_SCALE``, else the profile's own name; must be one of :data:`SCALES`.

    The variable lets any notebook runner (nbmake, nbconvert, a Colab ``%env``) pick the scale without editing the
    parameters cell."""
    import os

    from ..config import SCALE_ENV

    env = os.environ.get(SCALE_ENV) or None
    value = (explicit or env or profile).lower()
    if value not in SCALES:
        origin = "" if explicit or not env else f" (from ${SCALE_ENV})"
        raise ValueError(f"unknown scale {value!r}{origin}; expected one of {sorted(SCALES)}")
    return value


def parse_override(name: str, value: Any) -> Any:
    """``value`` (a string from the command line, or already typed) converted to the type of field ``name``.

    Tuples take comma-separated strings (``"1,10,100"``).  Raises ValueError naming the field for bad values."""
    types = {f.name: f.type for f in fields(RunSizes)}
    if name not in types or name in ("profile", "scale"):
        raise ValueError(f"unknown run size {name!r}; expected one of {', '.join(OVERRIDABLE)}")
    kind = str(types[name])
    try:
        if kind.startswith("tuple"):
            items = value.split(",") if isinstance(value, str) else list(value)
            items = [
                i.strip() if isinstance(i, str) else i for i in items if not (isinstance(i, str) and not i.strip())
            ]
            seq: tuple = tuple(int(i) for i in items) if "int" in kind else tuple(str(i) for i in items)
            if not seq:
                raise ValueError("empty list")
            return seq
        if kind == "int":
            whole = int(value)
            if whole < 0:
                raise ValueError("negative")
            return whole
        if kind == "float":
            real = float(value)
            if not real > 0:
                raise ValueError("not positive")
            return real
        return str(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"bad value {value!r} for {name} ({kind}): {err}") from None


def run_sizes(profile: str | None = None, scale: str | bool | None = None, **overrides: Any) -> RunSizes:
    """The inputs of ``profile`` (default ``$GSOC_PROFILE`` or quick) at ``scale`` (default ``$GSOC_SCALE``, else the
    profile's own;
    ``True`` means ``"smoke"``, ``False`` the default, for the notebooks' older ``SMOKE`` flag), with ``overrides``
    (field name -> value; strings are parsed like the command line's)."""
    from ..config import get_data_root, get_profile

    profile = get_profile(profile)
    scale = get_scale("smoke" if scale is True else (scale or None), profile)
    inputs, sizes = PROFILES[profile], SCALES[scale]
    parsed = {k: parse_override(k, v) for k, v in overrides.items()}
    values = {**dataclasses.asdict(inputs), **dataclasses.asdict(sizes), **parsed}
    for lst, count in (("quant_models", "quant_model_count"), ("quant_test_sets", "quant_test_set_count")):
        if values[count] and lst not in parsed:  # a list given explicitly is taken whole
            values[lst] = values[lst][: values[count]]
    for lst in ("quant_sources", "any_model_sources"):
        values[lst] = tuple(values["teacher"] if s == TEACHER else s for s in values[lst])
    if profile == "quick" and "quant_test_sets" not in parsed and get_data_root() is None:
        values["quant_test_sets"] = ("auto",)  # the exact/JPEG copies live in a data root: else the official test set
    return RunSizes(**values, profile=profile, scale=scale)


@dataclass(frozen=True)
class SeriesPaths:
    """Where each notebook writes (and the next one reads) under the output dir, one folder per profile and scale."""

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
    def student_checkpoint(self) -> Path:
        """The EMA student that notebook 02 writes (the full profile's student)."""
        return self.distill_run / "student_ema.safetensors"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def quantization(self) -> Path:
        return self.root / "quantization"

    @property
    def any_model(self) -> Path:
        """Notebook 06's cells (EfficientNet-Lite0 with every calibration source)."""
        return self.root / "any_model"


def series_paths(profile: str | None = None, scale: str | bool | None = None, output_dir=None) -> SeriesPaths:
    """``<output dir>/<profile>`` (scale = profile) or ``<output dir>/<profile>-<scale>``; the results folder is
    collected by ``gsoc-helpers demo``."""
    from ..config import get_output_dir, get_profile

    profile = get_profile(profile)
    scale = get_scale("smoke" if scale is True else (scale or None), profile)
    root = Path(get_output_dir(output_dir)) / (profile if scale == profile else f"{profile}-{scale}")
    root.mkdir(parents=True, exist_ok=True)
    return SeriesPaths(root)


def student_to_load(sizes: RunSizes, paths: SeriesPaths) -> str:
    """The student to load: the profile's bundled one, or the checkpoint notebook 02 wrote (:data:`DISTILLED`)."""
    if sizes.student != DISTILLED:
        return sizes.student
    if not paths.student_checkpoint.is_file():
        raise FileNotFoundError(
            f"the {sizes.profile} profile's student {str(paths.student_checkpoint)!r} does not "
            "exist yet; run notebook 02 (student distillation) with the same profile and scale"
        )
    return str(paths.student_checkpoint)
