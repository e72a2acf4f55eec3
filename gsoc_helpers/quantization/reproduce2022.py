"""Rerun the 2022 original's Part II grid and print it beside this project's protocol.

The 2022 experiment (ThanosM97/gsoc2022-openvino, ``optimization/``; facts, not code): five chenyaofo CIFAR-10
models, four calibration sets of 5,000 images (500 per class) -- CIFAR-10 train, StyleGAN2-ADA samples, DiStyleGAN
samples, Datumaro fractals -- quantized with POT ``DefaultQuantization`` (``target_device: ANY``: performance
preset, statistics over the whole calibration set, fast bias correction) and with ``AccuracyAwareQuantization``
(``maximal_drop 0.02``, accuracy measured on the calibration set itself), one run each, top-1 on the 10,000 test
images. Here POT's settings map onto ``nncf.quantize`` / ``nncf.quantize_with_accuracy_control`` (see
:data:`POT_DEFAULT`); the project's protocol runs the same models and sources at an equal, smaller size over
several seeds with the project's PTQ default and held-out accuracy control, and reports agreement and KL to FP32.

Offline, the original's models, teacher, student and full CIFAR-10 cannot be had; :func:`plan` then substitutes
the offline zoo, the bundled generators and the bit-exact CIFAR-10 subset, and lists each substitution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Models, data and the study engine (torch) are imported inside the functions that use them: building the command-line
# parser reads ORIGINAL_SIZE from this module and must not import torch.
from ..defaults import CALIBRATION_SIZE, SEEDS
from .ptq import PTQConfig
from .settings import AccuracyControl

ORIGINAL_MODELS = (
    "chenyaofo_resnet20",
    "chenyaofo_vgg16_bn",
    "chenyaofo_mobilenetv2_x1_4",
    "chenyaofo_shufflenetv2_x2_0",
    "chenyaofo_repvgg_a2",
)
SOURCE_NAMES = {"real": "CIFAR-10", "stylegan2-ada": "StyleGAN2-ADA", "student": "DiStyleGAN", "fractal": "Fractal"}
ORIGINAL_SIZE = 5000  # per calibration set, 500 per class (the README; the notebook fed all 50,000 real images)
# POT DefaultQuantization {target_device: ANY} == nncf.quantize(preset=PERFORMANCE, subset_size=N, fast bias corr.)
POT_DEFAULT = PTQConfig(preset="performance", bias_correction="fast", subset_size=None, activation_range=None)
POT_ACCURACY_AWARE = AccuracyControl(max_drop=0.02, validation="calibration")  # AccuracyAwareQuantization, 2022
ORIGINAL_CONFIGS = ("default(POT)", "accuracy-aware(POT, on calibration)")
PROJECT_CONFIGS = ("default", "accuracy-aware(held-out)")


@dataclass
class Plan:
    models: list[str]
    source_options: dict[str, dict]
    test_set: str
    original_size: int = ORIGINAL_SIZE
    project_size: int = CALIBRATION_SIZE
    seeds: list[int] = field(default_factory=lambda: list(SEEDS))
    substitutes: list[str] = field(default_factory=list)
    val_size: int = AccuracyControl.val_size  # held-out images of the project's accuracy control


def _original_available() -> str | None:
    """None if the original's classifiers and teacher load here (cache or download), else the reason."""
    from ..models.classifiers import get_classifier
    from ..models.registry import load_generator

    try:
        for m in ORIGINAL_MODELS:
            get_classifier(m)
        load_generator("cifar10")
    except (OSError, ValueError, RuntimeError) as err:
        return str(err).splitlines()[0][:160]
    return None


def plan(
    zoo: str = "auto",
    models: list[str] | None = None,
    original_size: int = ORIGINAL_SIZE,
    project_size: int = CALIBRATION_SIZE,
    seeds: list[int] | None = None,
    teacher: str | None = None,
    student: str | None = None,
    teacher_dataset: str | None = None,
    student_dataset: str | None = None,
    val_size: int = AccuracyControl.val_size,
) -> Plan:
    """What to run: ``zoo`` "original" (chenyaofo + NVIDIA's teacher, online), "offline" or "auto" (original if it
    loads). ``teacher``/``student``: generator names/paths (``student`` may be a 2022 DiStyleGAN folder);
    ``*_dataset``: synthetic-dataset folders instead (e.g. an imported FakeCIFAR10)."""
    if zoo not in ("auto", "original", "offline"):
        raise ValueError(f"zoo must be auto, original or offline, got {zoo!r}")
    if min(original_size, project_size) < 10:
        raise ValueError("calibration sizes must be >= 10 (one image per class at least)")
    subs: list[str] = []
    if zoo == "auto":
        reason = _original_available()
        zoo = "original" if reason is None else "offline"
        if reason:
            subs.append(f"original zoo unavailable ({reason}): offline substitutes used")
    if zoo == "original":
        chosen, teacher_gen, test = list(ORIGINAL_MODELS), teacher or "cifar10", "auto"
    else:
        from ..models.classifiers import OFFLINE_ZOO

        chosen, teacher_gen, test = list(OFFLINE_ZOO), teacher or "offline-teacher", "exact"
        subs += [
            f"models: chenyaofo {', '.join(m.split('_', 1)[1] for m in ORIGINAL_MODELS)} -> "
            f"{', '.join(models or OFFLINE_ZOO)} (offline zoo: akamaster, data root)",
            "CIFAR-10: full 50,000/10,000 train/test splits -> the data root's bit-exact subset",
        ]
        if teacher is None and teacher_dataset is None:
            subs.append("StyleGAN2-ADA teacher (NVIDIA CIFAR-10) -> bundled 'offline-teacher'")
        from ..data import load_cifar10

        most = 10 * int(np.bincount(load_cifar10("train").labels).min())  # largest class-balanced real set
        if original_size > most:
            subs.append(f"2022 calibration size {original_size} -> {most} (the largest class-balanced real set here)")
            original_size = most
    if student is None and student_dataset is None:
        subs.append("DiStyleGAN (published 2022 weights; pass --student FOLDER) -> bundled 'student'")
    subs.append(
        "fractals: Datumaro IFS + colorisation network -> gsoc_helpers.calibration.fractals (FractalDB-style, numpy/PIL)"
    )
    opts: dict[str, dict] = {
        "real": {},
        "fractal": {},
        "stylegan2-ada": {"dataset": teacher_dataset} if teacher_dataset else {"generator": teacher_gen},
        "student": {"dataset": student_dataset} if student_dataset else {"generator": student or "student"},
    }
    return Plan(
        list(models) if models else chosen,
        opts,
        test,
        int(original_size),
        int(project_size),
        list(seeds) if seeds is not None else list(SEEDS),
        subs,
        int(val_size),
    )


def grids(p: Plan):
    """(2022 grid, project grid) as :class:`~gsoc_helpers.study.specs.Int8Spec`."""
    from ..study.specs import Int8Spec

    sources = list(SOURCE_NAMES)
    original = Int8Spec(
        models=p.models,
        sources=sources,
        sizes=[p.original_size],
        seeds=[0],
        configs={ORIGINAL_CONFIGS[0]: POT_DEFAULT, ORIGINAL_CONFIGS[1]: POT_DEFAULT},
        source_options=p.source_options,
        accuracy_control={ORIGINAL_CONFIGS[1]: POT_ACCURACY_AWARE},
    )
    project = Int8Spec(
        models=p.models,
        sources=sources,
        sizes=[p.project_size],
        seeds=p.seeds,
        configs={PROJECT_CONFIGS[0]: PTQConfig(), PROJECT_CONFIGS[1]: PTQConfig()},
        source_options=p.source_options,
        accuracy_control={PROJECT_CONFIGS[1]: AccuracyControl(val_size=p.val_size)},
    )
    return original, project


def side_by_side(original_cells: list[dict], project_cells: list[dict], test_set: str):
    """DataFrame, one row per (model, source): the 2022 protocol's top-1/drop beside the project's agreement/KL."""
    import pandas as pd

    t = test_set
    rows: dict[tuple, dict] = {}
    for c in original_cells:
        tag = "2022 default" if c["config"] == ORIGINAL_CONFIGS[0] else "2022 acc-aware"
        r = rows.setdefault((c["model"], SOURCE_NAMES.get(c["source"], c["source"])), {})
        r["FP32 top-1"] = round(c[f"{t}_top1_fp32"], 2)
        r[f"{tag} INT8 top-1"] = round(c[f"{t}_top1_int8"], 2)
        r[f"{tag} drop"] = round(c[f"{t}_drop"], 2)
        if "n_fp32_layers" in c:
            r["2022 acc-aware FP32 layers"] = c["n_fp32_layers"]
    df = pd.DataFrame(project_cells)
    for (m, s, cfg), g in df.groupby(["model", "source", "config"]):
        tag = "ours default" if cfg == PROJECT_CONFIGS[0] else "ours acc-aware"
        r = rows.setdefault((m, SOURCE_NAMES.get(s, s)), {})
        a, k = g[f"{t}_agreement"], g[f"{t}_kl"] * 1000
        r[f"{tag} agreement"] = f"{a.mean():.2f} ± {a.std(ddof=1) if len(a) > 1 else 0:.2f}"
        r[f"{tag} KL(1e-3)"] = f"{k.mean():.2f} ± {k.std(ddof=1) if len(k) > 1 else 0:.2f}"
    out = pd.DataFrame.from_dict(rows, orient="index")
    order = (
        ["FP32 top-1"]
        + [f"2022 {c} {m}" for c in ("default", "acc-aware") for m in ("INT8 top-1", "drop")]
        + ["2022 acc-aware FP32 layers"]
        + [f"ours {c} {m}" for c in ("default", "acc-aware") for m in ("agreement", "KL(1e-3)")]
    )
    out = out[[c for c in order if c in out.columns]]
    out.index = pd.MultiIndex.from_tuples(out.index, names=["model", "calibration"])
    return out


def run(p: Plan, out_dir: str | Path, threads: int = 1, progress: bool = True, model_factory=None):
    """Run both grids (resumable caches under ``out_dir``); returns the side-by-side DataFrame, also saved as
    ``reproduce_2022.md`` and ``.csv`` with the substitutions listed."""
    from ..study.engine import run_study
    from ..study.splits import cifar10_splits

    out = Path(out_dir)
    original, project = grids(p)
    splits = cifar10_splits(test_sources=(p.test_set,))
    kw = {"model_factory": model_factory} if model_factory is not None else {}
    cells_2022 = run_study(
        original, splits, "test", out / "original_protocol", threads=threads, progress=progress, **kw
    )
    cells_ours = run_study(project, splits, "test", out / "project_protocol", threads=threads, progress=progress, **kw)
    table = side_by_side(cells_2022, cells_ours, p.test_set)
    n_test = len(splits.sets("test")[p.test_set])
    head = (
        f"# 2022 Part II grid beside this project's protocol\n\n2022 protocol: {p.original_size} calibration "
        f"images, one run, POT DefaultQuantization / AccuracyAware (max drop 2 points, on the calibration set) "
        f"via NNCF. Project protocol: {p.project_size} images, seeds {p.seeds}, project PTQ default / accuracy "
        f"control on held-out real images. Test set: {p.test_set} ({n_test} images).\n\nSubstitutes:\n"
        + "".join(f"- {s}\n" for s in p.substitutes or ["none"])
    )
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "reproduce_2022.csv")
    (out / "reproduce_2022.md").write_text(head + "\n" + table.to_markdown() + "\n")
    return table, head
