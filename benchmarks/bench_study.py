"""The calibration study under the protocol (gsoc_helpers.study): every choice made on validation images, every
final configuration measured once on the test images, 3 seeds. CPU. Every stage is resumable and takes
``--shard i/n``; cells live under ``$GSOC_OUTPUT_DIR/study/<stage>/cells.jsonl``.

  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_study.py plan     # every stage below, in order
  PYTHONPATH=. GSOC_DATA_ROOT=... python benchmarks/bench_study.py STAGE    # one stage
  PYTHONPATH=. python benchmarks/bench_study.py report                      # results -> benchmarks/study_results
  gsoc-helpers study-report                                                 # README, RESULTS, notebooks 05/06
  PYTHONPATH=. python benchmarks/bench_study.py restore --out DIR           # committed results -> a cell folder

``restore`` puts the committed ``benchmarks/study_results`` (every stage's cells and the choices) back into a cell
folder, so that a study cut off on one machine goes on from its committed cells on another; it never replaces a file
that is there.

A generator source's cells carry its weights' digest in their key (``|weights=<sha256[:12]>``): after a bundled
generator is retrained, every stage reruns that source's cells (``--sources offline-teacher,student`` runs only
those; a select stage on a subset records no choice, so rerun it without ``--sources`` to choose), and ``report``
moves cells of weights no longer installed to ``<stage>_superseded_cells.jsonl`` (kept, in no table).

Stages (``select-*`` read validation images only; the others read the test images with the choices made):
  select-ptq       the INT8 PTQ setting (SEARCH below) on ResNet-20, sources real/teacher/student/noise
  select-bn        bn-matching's step count (BN_RECIPES) on ResNet-20, chosen INT8 setting
  int8             the four akamaster ResNets x every source x {chosen setting, NNCF's defaults}, JPEG + exact test
  select-bits      the range estimator per source and bit width, ResNet-20
  bits             ResNet-20, every source x bit width with its chosen estimator (and NNCF's own call), exact test
  select-finetune  W4A4 fine-tuning learning rate per source (ft_lrs; 600 steps), ResNet-20, seed 0 only
  finetune         the chosen fine-tuning per source, 3 seeds, exact test
  select-lite0     EfficientNet-Lite0's PTQ setting (LITE0_SEARCH) on validation photos
  lite0            EfficientNet-Lite0 x every source x {chosen, NNCF's defaults}, test photos + CIFAR-10 upsampled
  lite0-fq         EfficientNet-Lite0 x photos/student/noise, the project's W8A8 fake-quant (the fine-tuning path's start,
                   0 steps, min/max ranges; every convolution INT8) as an OpenVINO IR, test photos

CIFAR-10 validation (protocol p2, gsoc_helpers.study.cifar_test_split) is 5,000 class-balanced images of the *test*
split that are in no test set: with the data root, JPEG test images that are not JPEG copies of the 1,017 bit-exact
test images (found by content); the JPEG test set is the other 5,000 JPEG test images, the exact test set all 1,017.
Why not held-out train images (p1): the classifiers were trained on them. On the data root's 516 held-out train
images ResNet-20's FP32 top-1 was 100.0 % and all 8 settings of ``select-ptq`` agreed with FP32 on 99.6-100 % of them
(sources real / offline-teacher / noise, 300 calibration images, seeds 0-2), three tied at exactly 100.00, so they
could not rank the settings. Cells carry the protocol version in their key: the study's cells must be re-run under
p2 (p1 cells are never reused).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from gsoc_helpers.calibration import available_sources, source_identity
from gsoc_helpers.config import get_output_dir
from gsoc_helpers.models.classifiers import OFFLINE_ZOO
from gsoc_helpers.quantization.ptq import NNCF_DEFAULTS, PTQConfig
from gsoc_helpers.sampling import distributed_shard, parse_shard
from gsoc_helpers.series.profiles import run_sizes
from gsoc_helpers.study import selection as sel
from gsoc_helpers.study.cells import load_cells, shard_of
from gsoc_helpers.study.engine import run_study
from gsoc_helpers.study.specs import BitsSpec, FinetuneSpec, Int8Spec
from gsoc_helpers.study.splits import cifar10_splits, photo_splits

RESULTS = Path(__file__).resolve().parent / "study_results"
SOURCES = list(run_sizes("quick", "full").any_model_sources)  # real, offline-teacher, student, noise, fractal, bn
LITE0_SOURCES = ["photos", *SOURCES]  # photos = the calibration photos: the real-data ceiling


def _cfg(preset: str | None, bc: str, rng: str | None = "minmax", of: str | None = None) -> PTQConfig:
    return PTQConfig(preset=preset, bias_correction=bc, activation_range=rng, overflow_fix=of)


SEARCH = {  # every setting spelled out, so that stored cells keep their keys when PTQConfig's defaults change
    "nncf-default": NNCF_DEFAULTS,
    "perf+fullbc": _cfg("performance", "full", None),
    "minmax+fastbc": _cfg("performance", "fast"),
    "minmax+fullbc": _cfg("performance", "full"),
    "minmax+nobc": _cfg("performance", "none"),
    "histogram+fullbc": _cfg("performance", "full", "histogram"),
    "mixed+minmax+fullbc": _cfg("mixed", "full"),
    "mixed+minmax+nobc": _cfg("mixed", "none"),
}
LITE0_SEARCH = {
    "nncf-default": NNCF_DEFAULTS,
    "mixed+minmax+nobc": _cfg("mixed", "none"),
    "mixed+minmax+fastbc": _cfg("mixed", "fast"),
    "mixed+meanminmax+nobc": _cfg("mixed", "none", None),
    "mixed+histogram+nobc": _cfg("mixed", "none", "histogram"),
    # depthwise convolutions left in floating point (NNCF's IgnoredScope by op type): added after the first test run,
    # when the fine-tuning probe on validation photos kept 89 % agreement with its own INT8 depthwise convolutions
    "mixed+minmax+nobc+dwfloat": replace(_cfg("mixed", "none"), ignored_types=["GroupConvolution"]),
    "mixed+minmax+fastbc+dwfloat": replace(_cfg("mixed", "fast"), ignored_types=["GroupConvolution"]),
    # every convolution in INT8 with one activation range per tensor (NNCF's CPU choice is per channel at depthwise
    # inputs): added after the second test run, when benchmarks/why_lite0_depthwise.py found that choice the cause
    "mixed+minmax+nobc+pt": replace(_cfg("mixed", "none"), activations_per_channel=False),
    "mixed+minmax+fastbc+pt": replace(_cfg("mixed", "fast"), activations_per_channel=False),
}
FT_SOURCES = ["student", "real", "noise", "bn-matching"]


@dataclass
class Plan:
    """The study's sizes; ``--smoke`` shrinks every one of them to check the whole pipeline in minutes."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    size: int = 300  # calibration images (CIFAR-10 models)
    lite0_size: int = 128
    zoo: list[str] = field(default_factory=lambda: list(OFFLINE_ZOO))
    search: list[str] = field(default_factory=lambda: list(SEARCH))
    lite0_search: list[str] = field(default_factory=lambda: list(LITE0_SEARCH))
    bn_recipes: dict[str, dict] = field(default_factory=lambda: {"steps50": {"steps": 50}, "steps200": {"steps": 200}})
    lite0_bn: dict = field(default_factory=dict)  # bn-matching options at 224 (default: the LARGE_INPUT recipe)
    # the fake-quant arm (about 2 min per cell on one core): the ceiling, the image-free source chosen on
    # validation photos and the source NNCF's per-channel ranges failed worst
    lite0_fq_sources: list[str] = field(default_factory=lambda: ["photos", "student", "noise"])
    ft_lrs: list[float] = field(default_factory=lambda: [3e-6, 1e-5, 3e-5])
    # fine-tuning: 600 steps, not chosen (a 300-step option would add 12 fine-tunings; each run's validation history
    # every 100 steps is kept in its cell), the learning rate chosen per source on seed 0 (12 fine-tunings)
    ft_steps: list[int] = field(default_factory=lambda: [600])
    ft_select_seeds: list[int] = field(default_factory=lambda: [0])
    # the training pool of real, noise and bn-matching images (the student is sampled afresh every step): 512, not
    # finetune's 2,048, since bn-matching makes 100 images in ~1.5 min on one core (2,048: ~31 min per seed)
    ft_options: dict = field(default_factory=lambda: {"pool_size": 512})
    test_n: int | None = None  # first N images of each CIFAR-10 test set (None: all)
    validation_n: int | None = None  # CIFAR-10 validation images from the test split (None: 5,000, class-balanced)
    views: int = 5
    cifar_n: int = 1000
    # --sources: only these calibration sources' cells (e.g. after a generator is retrained); None: every source.
    # A select stage run on a subset records no choice (it saw part of the cells), like a shard.
    sources: list[str] | None = None

    def keep(self, sources: list[str]) -> list[str]:
        return [s for s in sources if self.sources is None or s in self.sources]


SMOKE = Plan(
    seeds=[0],
    size=10,
    lite0_size=4,
    zoo=["akamaster_resnet20"],
    search=["nncf-default", "mixed+minmax+nobc"],
    lite0_search=["nncf-default", "mixed+minmax+nobc"],
    bn_recipes={"steps2": {"steps": 2}, "steps3": {"steps": 3}},
    lite0_bn={"steps": 2},
    ft_lrs=[1e-5],
    ft_steps=[2],
    ft_options={"batch_size": 8, "pool_size": 16},
    test_n=50,
    validation_n=50,
    views=1,
    cifar_n=10,
)
FOLDERS = {  # one cell store per kind of study: its validation and test cells (told apart by their role)
    "select-ptq": "int8",
    "select-bn": "int8",
    "int8": "int8",
    "select-bits": "bits",
    "bits": "bits",
    "select-finetune": "finetune",
    "finetune": "finetune",
    "select-lite0": "lite0",
    "lite0": "lite0",
    "lite0-fq": "lite0fq",
}
STAGES = list(FOLDERS)


def choices(out: Path) -> dict:
    path = out / "selection.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def record(out: Path, name: str, value, table, on: str, shard: tuple[int, int], p: Plan) -> None:
    """Keep a choice, what it was chosen on and its validation table in ``out/selection.json`` (not from a shard or
    a subset of the sources: it saw part of the cells)."""
    if shard != (0, 1) or p.sources is not None:
        return
    data = choices(out)
    data[name] = {"choice": value, "chosen_on": on, "table": table.to_dict(orient="records")}
    (out / "selection.json").write_text(json.dumps(data, indent=1, default=str))


def need(out: Path, name: str):
    data = choices(out)
    if name not in data:
        raise SystemExit(f"no choice {name!r} yet: run the select stage that makes it first")
    return data[name]["choice"]


def stage(what: str, out: Path, shard: tuple[int, int], p: Plan) -> None:
    cifar = cifar10_splits(test_sources=("jpeg", "exact"), validation_n=p.validation_n, test_n=p.test_n)
    search = {k: SEARCH[k] for k in p.search}
    SEEDS, SIZE = p.seeds, p.size  # noqa: N806
    kw = dict(progress=True, shard=shard)
    cache = out / "calibration"  # every CIFAR-10 stage's calibration sets and pools, made once (bn-matching: minutes)
    folder = out / FOLDERS[what]
    if what.startswith("select-") and shard != (0, 1):  # a worker runs its part of the validation cells only
        print(f"{what}: shard {shard[0]}/{shard[1]}; merge the cells and rerun without --shard to record the choice")
    bn = {"bn-matching": p.bn_recipes[choices(out).get("bn", {}).get("choice", next(iter(p.bn_recipes)))]}
    if what == "select-ptq":
        spec = Int8Spec(
            ["akamaster_resnet20"],
            p.keep(["real", "offline-teacher", "student", "noise"]),
            [SIZE],
            SEEDS,
            configs=search,
            calibration_cache=cache,
        )
        if not spec.sources:
            return
        name, table = sel.choose_setting(cifar.selection(), spec, folder, **kw)
        record(out, "ptq", name, table, cifar.selection().names("validation")[0], shard, p)
    elif what == "select-bn":
        if not p.keep(["bn-matching"]):
            return
        ptq = need(out, "ptq")
        spec = Int8Spec(
            ["akamaster_resnet20"], ["bn-matching"], [SIZE], SEEDS, configs={ptq: SEARCH[ptq]}, calibration_cache=cache
        )
        name, table = sel.choose_source_options(cifar.selection(), spec, "bn-matching", p.bn_recipes, folder, **kw)
        record(out, "bn", name, table, "val", shard, p)
    elif what == "int8":
        ptq = need(out, "ptq")
        configs = {"project": SEARCH[ptq], "nncf-default": NNCF_DEFAULTS}
        others = [s for s in p.keep(SOURCES) if s != "bn-matching"]  # bn-matching (minutes per set): ResNet-20 only
        zoo = Int8Spec(p.zoo, others, [SIZE], SEEDS, bn, configs=configs, calibration_cache=cache)
        run_study(zoo, cifar, "test", folder, **kw)
        if not p.keep(["bn-matching"]):
            return
        run_study(
            Int8Spec(
                ["akamaster_resnet20"], ["bn-matching"], [SIZE], SEEDS, bn, configs=configs, calibration_cache=cache
            ),
            cifar,
            "test",
            folder,
            **kw,
        )
    elif what == "select-bits":
        ptq = SEARCH[need(out, "ptq")]
        spec = BitsSpec(["akamaster_resnet20"], p.keep(SOURCES), [SIZE], SEEDS, bn, ptq=ptq, calibration_cache=cache)
        if not spec.sources:
            return
        choice, table = sel.choose_estimators(cifar.selection(), spec, folder, **kw)
        record(out, "estimators", {"|".join(k): v for k, v in choice.items()}, table, "val", shard, p)
    elif what == "bits":  # the test images see the chosen estimator per source and width, and NNCF's own call
        ptq, chosen = SEARCH[need(out, "ptq")], need(out, "estimators")
        spec = BitsSpec(
            ["akamaster_resnet20"], p.keep(SOURCES), [SIZE], SEEDS, bn, ptq=ptq, chosen=chosen, calibration_cache=cache
        )
        run_study(spec, cifar, "test", folder, **kw)
    elif what in ("select-finetune", "finetune"):
        est = {k.split("|")[1]: v for k, v in need(out, "estimators").items() if k.endswith("|W4A4")}
        common = dict(
            source_options=bn, estimators=est, eval_set="exact", options=p.ft_options, calibration_cache=cache
        )
        if what == "select-finetune":
            spec = FinetuneSpec(
                ["akamaster_resnet20"],
                p.keep(FT_SOURCES),
                [SIZE],
                p.ft_select_seeds,
                lrs=p.ft_lrs,
                steps=p.ft_steps,
                **common,
            )
            if not spec.sources:
                return
            choice, table = sel.choose_variant(cifar.selection(), spec, folder, **kw)
            record(out, "finetune", {"|".join(k): v for k, v in choice.items()}, table, "val", shard, p)
            return
        runs = [
            (key, variant, seed)
            for key, variant in need(out, "finetune").items()
            if p.keep([key.split("|")[1]])
            for seed in SEEDS
        ]
        for key, variant, seed in shard_of(runs, shard):  # one schedule per source: shard the (source, seed) runs
            _, lr, steps = variant.split("/")
            spec = FinetuneSpec(
                ["akamaster_resnet20"],
                [key.split("|")[1]],
                [SIZE],
                [seed],
                lrs=[float(lr[2:])],
                steps=[int(steps)],
                **common,
            )
            run_study(spec, cifar, "test", folder, progress=True)
    elif what in ("select-lite0", "lite0", "lite0-fq"):
        photos = photo_splits(224, views=p.views, cifar_n=p.cifar_n)
        lite = dict(
            calibration_cache=folder / "calibration", source_options={"bn-matching": p.lite0_bn} if p.lite0_bn else {}
        )
        if what == "select-lite0":
            spec = Int8Spec(
                ["efficientnet-lite0"],
                p.keep(["photos", "bn-matching", "student"]),
                [p.lite0_size],
                SEEDS,
                configs={k: LITE0_SEARCH[k] for k in p.lite0_search},
                **lite,
            )
            if not spec.sources:
                return
            name, table = sel.choose_setting(photos.selection(), spec, folder, **kw)
            record(out, "lite0_ptq", name, table, "photos", shard, p)
            return
        if what == "lite0-fq":  # not NNCF: the W8A8 start of finetune_lowbit, through the lite0 calibration cache
            sources = p.keep(p.lite0_fq_sources)
            spec = FinetuneSpec(
                ["efficientnet-lite0"],
                sources,
                [p.lite0_size],
                SEEDS,
                bits="W8A8",
                lrs=[0.0],
                steps=[0],
                estimators=dict.fromkeys(sources, "minmax"),
                eval_set="photos",
                calibration_cache=folder.parent / "lite0" / "calibration",
                source_options=lite["source_options"],
            )
            run_study(spec, photos, "test", folder, **kw)
            return
        configs = {"project": LITE0_SEARCH[need(out, "lite0_ptq")], "nncf-default": NNCF_DEFAULTS}
        run_study(
            Int8Spec(["efficientnet-lite0"], p.keep(LITE0_SOURCES), [p.lite0_size], SEEDS, configs=configs, **lite),
            photos,
            "test",
            folder,
            **kw,
        )
    else:
        raise SystemExit(f"unknown stage {what!r}")


def superseded(cell: dict) -> bool:
    """True for a cell of a generator source measured with other weights than the ones installed now (its key
    names another weights digest, or none: cells from before keys carried one)."""
    ident = source_identity(cell["source"]) if cell["source"] in available_sources() else ""
    return bool(ident) and not cell["key"].endswith("|" + ident)  # the digest ends every key that has one


def report(out: Path, results: Path) -> None:
    """Copy every stage's cells and the choices into ``results`` (the files ``gsoc-helpers study-report`` reads);
    cells of generator weights no longer installed go to ``<stage>_superseded_cells.jsonl`` beside them (kept, never
    in a table)."""
    results.mkdir(parents=True, exist_ok=True)
    current: dict[str, list[dict]] = {}
    for what in dict.fromkeys(FOLDERS.values()):
        cells, old = [], []
        for c in load_cells(out / what):
            (old if superseded(c) else cells).append(c)
        current[what] = cells
        if cells:
            (results / f"{what}_cells.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cells))
            print(f"{what}: {len(cells)} cells")
        if old:
            path = results / f"{what}_superseded_cells.jsonl"
            kept = {c["key"] for c in load_cells(path)}
            with open(path, "a") as fh:
                fh.writelines(json.dumps(c) + "\n" for c in old if c["key"] not in kept)
            print(f"{what}: {len(old)} cells of earlier generator weights -> {path.name}")
    if (out / "selection.json").is_file():
        (results / "selection.json").write_text((out / "selection.json").read_text())
    test_int8 = [c for c in current["int8"] if c.get("role") == "test"]
    if test_int8:  # the README's headline figure, from the INT8 test cells
        from gsoc_helpers.quantization.headline_plot import plot_headline
        from gsoc_helpers.study.tables import summarize

        test_sets = [k[: -len("_agreement")] for k in test_int8[0] if k.endswith("_agreement")]
        test_set = "jpeg" if "jpeg" in test_sets else test_sets[0]
        print("figure:", plot_headline(summarize(test_int8), results / "int8_headline.png", test_set))
    from gsoc_helpers.quantization.report import environment

    (results / "environment.json").write_text(json.dumps(environment(), indent=1) + "\n")


def restore(results: Path, out: Path) -> list[Path]:
    """Copy ``results``' cells and choices into the cell folder ``out`` where ``out`` has none yet; the files
    written (a file already in ``out`` is kept, and said so)."""
    pairs = [(results / f"{what}_cells.jsonl", out / what / "cells.jsonl") for what in dict.fromkeys(FOLDERS.values())]
    written = []
    for src, dst in [*pairs, (results / "selection.json", out / "selection.json")]:
        if not src.is_file():
            continue
        if dst.exists():
            print(f"kept {dst} (already there; {src} not copied)")
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
        written.append(dst)
        print(f"restored {dst} from {src}")
    return written


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=[*STAGES, "report", "plan", "restore"])
    p.add_argument("--out", type=Path, default=None, help="cell folder (default: $GSOC_OUTPUT_DIR/study)")
    p.add_argument("--results", type=Path, default=None, help=f"default {RESULTS} (with --smoke: <out>/results)")
    p.add_argument("--shard", default=None, help="i/n: this worker's part (default torchrun RANK/WORLD_SIZE or 0/1)")
    p.add_argument("--smoke", action="store_true", help="every size shrunk (SMOKE): the pipeline end to end in minutes")
    p.add_argument("--sources", default=None, help="comma-separated: only these sources' cells (no choice recorded)")
    args = p.parse_args(argv)
    plan = SMOKE if args.smoke else Plan()
    if args.sources:
        unknown = sorted(set(args.sources.split(",")) - set(LITE0_SOURCES))
        if unknown:
            raise SystemExit(f"--sources: unknown {', '.join(unknown)}; expected some of {', '.join(LITE0_SOURCES)}")
        plan = replace(plan, sources=args.sources.split(","))
    shard = parse_shard(args.shard) if args.shard else distributed_shard()
    torch.set_num_threads(1)
    out = args.out or get_output_dir() / ("study-smoke" if args.smoke else "study")
    out.mkdir(parents=True, exist_ok=True)
    if args.what == "restore":
        restore(args.results or RESULTS, out)
        return
    for what in [*STAGES, "report"] if args.what == "plan" else [args.what]:
        results = args.results or (out / "results" if args.smoke else RESULTS)  # a smoke run never replaces results
        report(out, results) if what == "report" else stage(what, out, shard, plan)


if __name__ == "__main__":
    main()
