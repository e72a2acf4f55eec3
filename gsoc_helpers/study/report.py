"""``gsoc-helpers study-report``: write the generated blocks (:mod:`.answer`) into the README (its short answer),
RESULTS.md (the protocol, the full answer, the tables per regime and the PTQ search) and
notebooks 05/06, between the markers ``<!-- study-report:NAME -->`` and ``<!-- /study-report:NAME -->``; with
``check`` only list the files whose blocks differ from what the results files give (a test runs it)."""

from __future__ import annotations

import json
from pathlib import Path

from .answer import answer_block, detail_tables, regime_block, summary_block
from .choices import choices_block
from .lowbit_tables import lowbit_block
from .results import load_regimes
from .search import search_block
from .targets import targets_block
from .why_depthwise import depthwise_block
from .why_ranges import ranges_block

PROTOCOL = """The protocol (`gsoc_helpers.study.splits`, version p2): three disjoint image sets for every study.

| set | CIFAR-10 models | ImageNet-sized models (EfficientNet-Lite0) |
|---|---|---|
| calibration pool (the `real` / `photos` sources draw only from it) | the train split minus 10 % of each class held out (fixed seed): 45,000 of the official 50,000 (4,654 of the data root's 5,170 bit-exact images) | 12 photos (6 scikit-image, 6 foolbox ImageNet validation) |
| validation (every choice is made here) | 5,000 images of the *test* split, 500 per class (fixed seed), in no test set: with the data root, JPEG test images that are not JPEG copies of the 1,017 bit-exact test images (copies found by content); from the official test set, images of index ≥ 1,017 | 15 photos (7 scikit-image, 7 foolbox, 1 scikit-learn) and 1,000 held-out CIFAR-10 train pictures upsampled |
| test (touched once per final configuration) | the rest of the test split: the 1,017 bit-exact test images and the 5,000 JPEG test images not in validation (official test set: the other 5,000, indices 0-1,016 among them) | 16 photos (7 scikit-image, 7 foolbox, 1 scikit-learn, 1 matplotlib) and 1,000 CIFAR-10 test pictures upsampled |

Why CIFAR-10 validation comes from the test split: the classifiers were trained on the whole train split. The first
protocol (p1) validated on 516 held-out train images of the data root; FP32 top-1 on them was 100.0 %, and all 8
INT8 PTQ settings of the `select-ptq` stage agreed with FP32 on 99.6-100 % of them (ResNet-20; sources real,
offline-teacher, noise; 300 calibration images; seeds 0-2), three of them tied at exactly 100.00: images the
classifier was trained on cannot rank the settings. Cells measured under p1 are never reused (the protocol version is
in every cell key): the study's cells must be re-run under p2.

Photos are split by photo, never by crop (5 crops each). Selection code receives a view of the splits that refuses
the test images (`Splits.selection()`, tested). What is chosen on validation: the INT8 PTQ setting, bn-matching's
step count, the range estimator per source and bit width, the fine-tuning learning rate per source (on seed 0 alone:
12 fine-tunings of 600 steps, the step count fixed, not chosen; the chosen ones then run with 3 seeds),
EfficientNet-Lite0's PTQ setting (`benchmarks/bench_study.py`, stages `select-*`). Every number has at least 3 seeds
(mean ± std, sample std); each source is compared with `real` by a paired 95 % bootstrap interval over test images
and seeds (2,000 replicates, seeded), and called better or worse only when the interval excludes 0.
"""


def blocks(root: Path) -> dict[str, str]:
    """Block name -> generated text, from the results files under ``root/benchmarks``."""
    regimes = load_regimes(root / "benchmarks")
    return {
        "summary": summary_block(regimes),
        "answer": answer_block(regimes),
        "protocol": PROTOCOL,
        "regimes": detail_tables(regimes),
        "search": search_block(root / "benchmarks"),
        "ranges": ranges_block(root / "benchmarks"),
        "depthwise": depthwise_block(root / "benchmarks"),
        "choices": choices_block(root / "benchmarks"),
        "targets": targets_block(root / "benchmarks"),
        "lowbit": lowbit_block(root / "benchmarks"),
        "nb05-lowbit": "\n\n".join(
            regime_block(regimes, key, lead)
            for key, lead in (
                (
                    "w4a4-calibration",
                    "What the benchmark says below 8 bits (`benchmarks/bench_study.py`, not this notebook's smaller run), W4A4 calibration with each source's chosen range estimator:",
                ),
                ("w4a4-finetune", "W4A4 after distillation fine-tuning:"),
            )
        ),
        "nb06-answer": regime_block(
            regimes,
            "lite0-int8",
            "What the benchmark says (`benchmarks/bench_study.py`, 128 calibration images per source, not this notebook's smaller run):",
        ),
    }


FILES = {  # file -> the blocks it holds
    "README.md": ("summary",),
    "benchmarks/RESULTS.md": (
        "protocol",
        "choices",
        "answer",
        "regimes",
        "ranges",
        "targets",
        "search",
        "lowbit",
        "depthwise",
    ),
    "notebooks/05_quantization_experiments.ipynb": ("nb05-lowbit",),
    "notebooks/06_your_model_no_data.ipynb": ("nb06-answer",),
    # the executed copies a reader opens on GitHub: their conclusion cells follow the results too
    "docs/notebooks/05_quantization_experiments.ipynb": ("nb05-lowbit",),
    "docs/notebooks/06_your_model_no_data.ipynb": ("nb06-answer",),
}


def replace_block(text: str, name: str, body: str, where: str) -> str:
    start, end = f"<!-- study-report:{name} -->", f"<!-- /study-report:{name} -->"
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"{where}: no {start} ... {end} markers for the generated {name!r} block")
    return text[: i + len(start)] + "\n" + body.strip("\n") + "\n" + text[j:]


def _notebook(text: str, names: tuple[str, ...], made: dict[str, str], where: str) -> str:
    nb = json.loads(text)
    found = set()
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        for name in names:
            if f"<!-- study-report:{name} -->" in src:
                src = replace_block(src, name, made[name], where)
                found.add(name)
        lines = src.split("\n")
        cell["source"] = [ln + "\n" for ln in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    missing = sorted(set(names) - found)
    if missing:
        raise ValueError(f"{where}: no cell holds the markers of {missing}")
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def updated(root: str | Path) -> dict[Path, tuple[str, str]]:
    """path -> (current text, generated text) of every file with blocks."""
    root = Path(root)
    made = blocks(root)
    out = {}
    for rel, names in FILES.items():
        path = root / rel
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: run study-report in the repository's root (or --root)")
        text = path.read_text()
        if rel.endswith(".ipynb"):
            new = _notebook(text, names, made, rel)
        else:
            new = text
            for name in names:
                new = replace_block(new, name, made[name], rel)
        out[path] = (text, new)
    return out


def write(root: str | Path) -> list[Path]:
    """Rewrite the blocks; the paths that changed."""
    changed = []
    for path, (old, new) in updated(root).items():
        if old != new:
            path.write_text(new)
            changed.append(path)
    return changed


def check(root: str | Path) -> list[Path]:
    """The paths whose blocks differ from what the results files give (nothing written)."""
    return [path for path, (old, new) in updated(root).items() if old != new]
