"""INT8 for a classifier that is not a CIFAR-10 one (any input size, any class count; EfficientNet-Lite0 at 224x224
with 1,000 ImageNet classes in notebook 06 and ``benchmarks/bench_any_model.py``): every calibration source at
the model's input, both PTQ settings, several seeds, measured against FP32 on images that fit the model.

Evaluation sets (never calibration images): ``photos`` = crops of scikit-image's natural photos
(:mod:`.photos`); ``cifar10-test`` = CIFAR-10 test pictures (32x32) upsampled to the model's size — the kind of
blurry, out-of-distribution picture on which a 1,000-class model is often unsure. Metrics per set
(:func:`.evaluate.compare`): top-1 agreement, agreement on images FP32 is confident about, top-5 overlap, FP32's
class in INT8's top-5, KL(FP32 || INT8). Finished cells are appended to ``cells.jsonl`` and never recomputed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..calibration import ModelInput, get_calibration
from ..models.classifiers import classifier_info, get_classifier
from ..openvino.classifier import to_openvino
from ..pixels import resize
from ..progress import progress as tqdm
from . import evaluate as ev
from .photos import natural_photos
from .plots import save_png
from .ptq import NNCF_DEFAULTS, PTQConfig, quantize
from .settings import PROJECT_DEFAULT

METRICS = ("agreement", "agreement_confident", "confident", "top5_overlap", "top1_in_top5", "kl")


@dataclass
class AnyModelStudy:
    """One registered classifier, the sources (registry names), seeds, calibration size and PTQ settings."""

    model: str = "efficientnet-lite0"
    sources: tuple[str, ...] = ("real", "student", "noise", "fractal", "bn-matching")
    seeds: tuple[int, ...] = (0, 1, 2)
    calibration_size: int = 128
    configs: dict[str, PTQConfig] = field(
        default_factory=lambda: {PROJECT_DEFAULT: PTQConfig(), "nncf-default": NNCF_DEFAULTS}
    )
    source_options: dict[str, dict] = field(default_factory=dict)  # per source: keyword options
    cifar_test_n: int = 300  # CIFAR-10 test pictures (0: none)
    photo_views: int = 5  # crops per scikit-image photo (0: none)
    threads: int | None = None


def model_input(name: str) -> ModelInput:
    info = classifier_info(name)
    return ModelInput(info.image_size, info.num_classes, tuple(info.mean), tuple(info.std))


def evaluation_sets(study: AnyModelStudy) -> dict[str, tuple[torch.Tensor, str]]:
    """name -> (float32 [N,3,S,S] in [0,1], description)."""
    side = model_input(study.model).image_size
    out = {}
    if study.photo_views:
        out["photos"] = natural_photos(side, views=study.photo_views)
    if study.cifar_test_n:
        from ..data import load_cifar10

        test = load_cifar10("test")
        x, _ = test.to_tensors()
        out["cifar10-test"] = (
            resize(x[: study.cifar_test_n], side).clamp(0, 1),
            f"{min(study.cifar_test_n, len(x))} CIFAR-10 test pictures ({test.source}) upsampled to {side}x{side}",
        )
    return out


def _key(study: AnyModelStudy, source: str, seed: int, config: str) -> str:
    opts = {k: v for k, v in sorted(study.source_options.get(source, {}).items()) if k != "progress"}
    return json.dumps(
        [study.model, source, seed, study.calibration_size, study.configs[config].key(), opts], default=str
    )


def load_cells(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip().endswith("}")]


def _calibration(study: AnyModelStudy, source: str, seed: int, net, out: Path, progress: bool):
    """(images, what, seconds) of one source and seed, kept in ``out/calibration/`` for the other PTQ settings and
    later runs (bn-matching at 224x224 takes minutes)."""
    import hashlib

    key = json.loads(_key(study, source, seed, next(iter(study.configs))))
    del key[4]  # the PTQ setting: the images do not depend on it
    path = out / "calibration" / (hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16] + ".pt")
    if path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        return saved["images"], saved["what"], float(saved["seconds"])
    opts = dict(study.source_options.get(source, {}))
    if source == "bn-matching":
        opts.setdefault("classifier", net)
        opts.setdefault("progress", progress)
    t0 = time.perf_counter()
    cal = get_calibration(source, study.calibration_size, seed, model_input(study.model), **opts)
    seconds = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"images": cal.images, "what": cal.source, "seconds": seconds}, path)
    return cal.images, cal.source, seconds


def run_study(study: AnyModelStudy, out_dir: str | Path, progress: bool = True) -> list[dict]:
    """Every (source, seed, setting) cell: calibration seconds, and METRICS on every evaluation set."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "cells.jsonl"
    done = {c["key"] for c in load_cells(path)}
    todo = [(s, seed, c) for s in study.sources for seed in study.seeds for c in study.configs]
    todo = [t for t in todo if _key(study, *t) not in done]
    if todo:
        net = get_classifier(study.model)
        fp32 = to_openvino(net)
        sets = evaluation_sets(study)
        ref = {k: ev.logits(fp32, x, threads=study.threads) for k, (x, _) in sets.items()}
        images: dict[tuple[str, int], tuple[torch.Tensor, str, float]] = {}
        for source, seed, config in tqdm(todo, desc="any-model study", disable=not progress):
            if (source, seed) not in images:
                images = {(source, seed): _calibration(study, source, seed, net, out, progress)}  # one at a time
            x_cal, what, seconds = images[(source, seed)]
            int8 = quantize(fp32, x_cal, study.configs[config])
            rec: dict = {
                "key": _key(study, source, seed, config),
                "model": study.model,
                "source": source,
                "what": what,
                "seed": seed,
                "config": config,
                "size": study.calibration_size,
                "calibration_seconds": seconds,
            }
            for k, (x, _) in sets.items():
                res = ev.compare(ref[k], ev.logits(int8, x, threads=study.threads), np.full(len(x), -1))
                rec.update({f"{k}_{m}": res[m] for m in METRICS})
            with open(path, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
    keys = {
        _key(study, *t) for t in ((s, seed, c) for s in study.sources for seed in study.seeds for c in study.configs)
    }
    return [c for c in load_cells(path) if c["key"] in keys]


def study_table(cells: list[dict]):
    """pandas DataFrame: one row per (source, config): mean and std over seeds of every metric, seed count."""
    import pandas as pd

    df = pd.DataFrame(cells)
    cols = [c for c in df.columns if any(c.endswith("_" + m) for m in METRICS)] + ["calibration_seconds"]
    g = df.groupby(["source", "config"], sort=False)
    mean, std = g[cols].mean(), g[cols].std(ddof=0)
    table = mean.join(std, rsuffix="_std")
    table["seeds"] = g["seed"].nunique()
    table["what"] = g["what"].first()
    return table.reset_index()


def plot_study(table, path: str | Path, eval_set: str = "photos") -> Path:
    """One figure: per calibration source (rows), top-1 agreement (left) and KL (right, log scale) on ``eval_set``
    for each PTQ setting (dots, bars = ± std over seeds), each agreement written beside its dot."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = list(dict.fromkeys(table["source"]))
    configs = list(dict.fromkeys(table["config"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.6 * len(sources) + 1.8), sharey=True)
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:red")
    for j, config in enumerate(configs):
        sub = table[table["config"] == config].set_index("source")
        y = np.arange(len(sources)) + (j - (len(configs) - 1) / 2) * 0.22
        for ax, metric in zip(axes, ("agreement", "kl"), strict=True):
            mean = np.array([sub.loc[s, f"{eval_set}_{metric}"] if s in sub.index else np.nan for s in sources])
            std = np.array([sub.loc[s, f"{eval_set}_{metric}_std"] if s in sub.index else np.nan for s in sources])
            ax.errorbar(mean, y, xerr=np.nan_to_num(std), fmt="o", color=colours[j % 4], label=config, capsize=3)
            if metric == "agreement":
                for xv, yv in zip(mean, y, strict=True):
                    if np.isfinite(xv):
                        ax.annotate(f"{xv:.1f}", (xv, yv), xytext=(6, -3), textcoords="offset points", fontsize=8)
    axes[0].set_yticks(np.arange(len(sources)))
    what = dict(zip(table["source"], table["what"], strict=True))
    axes[0].set_yticklabels([f"{s}\n(32 px, upsampled)" if "upsampled" in str(what.get(s)) else s for s in sources])
    axes[0].invert_yaxis()
    axes[0].set_xlabel(f"top-1 agreement INT8 vs FP32 on {eval_set} (%)")
    axes[0].set_xlim(0, 105)
    axes[1].set_xscale("log")
    axes[1].xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axes[1].xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    axes[1].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[1].set_xlabel(f"KL(FP32 ‖ INT8) on {eval_set} (nats, log)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, [f"PTQ: {x}" for x in labels], loc="upper right", ncol=len(configs), fontsize=8)
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("INT8 vs FP32 by calibration source", fontsize=11, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save_png(fig, path, dpi=110)
