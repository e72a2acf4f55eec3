"""Class accuracy of a generator's snapshots against training steps: the training curve of a model card.

Usage::

    python benchmarks/bench_training_curve.py SNAPSHOT [SNAPSHOT ...] [--n 1000] [--out outputs/training_curve]

Each ``SNAPSHOT`` is a generator file (anything ``load_generator`` reads) whose training step is in its metadata
(``train_steps``) or its name (``step_0012345.safetensors``). Class accuracy: ``--n`` class-balanced images (seed
0, ψ = 1) judged by the FP32 akamaster ResNet-56 (``defaults.JUDGE_CLASSIFIER``), which never sees training.
Writes ``<out>.jsonl`` (one row per snapshot: step, overall and per-class %) and ``<out>.png`` (overall and the
worst class against steps). ``--replot FILE.jsonl`` redraws ``FILE.png`` from such a file (rows without a step are
skipped; a row with a ``machine`` names the machine that measured it), e.g. the curve of a run measured in parts.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gsoc_helpers.data import CIFAR10_CLASSES  # noqa: E402
from gsoc_helpers.defaults import JUDGE_CLASSIFIER  # noqa: E402
from gsoc_helpers.metrics.class_accuracy import class_accuracy  # noqa: E402
from gsoc_helpers.metrics.report import machine_description  # noqa: E402
from gsoc_helpers.models.registry import load_generator  # noqa: E402


def snapshot_step(path: str) -> int:
    """The training step in a snapshot's file name (``step_0012345``); ValueError naming the file if none."""
    found = re.search(r"step_?(\d+)", Path(path).name)
    if not found:
        raise ValueError(f"{path}: no step in the file name (expected e.g. step_0012345.safetensors)")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("snapshots", nargs="*")
    p.add_argument("--replot", type=Path, default=None, help="redraw FILE.png from FILE.jsonl, measuring nothing")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = leave as is)")
    p.add_argument("--out", default="outputs/training_curve")
    args = p.parse_args(argv)
    if args.replot is not None:
        rows = [json.loads(line) for line in args.replot.read_text().splitlines() if line.strip()]
        machine = next((r["machine"] for r in rows if "machine" in r), None)
        _plot([r for r in rows if "step" in r], args.replot.with_suffix(".png"), machine)
        return 0
    if not args.snapshots:
        p.error("give SNAPSHOT files (or --replot FILE.jsonl)")
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for path in sorted(args.snapshots, key=snapshot_step):
        acc = class_accuracy(load_generator(path), n=args.n)
        rows.append(
            {
                "step": snapshot_step(path),
                "class_acc": round(100 * acc.accuracy, 1),
                "per_class": [acc.per_class_percent()[c] for c in CIFAR10_CLASSES],
                "n": args.n,
                "judge": JUDGE_CLASSIFIER,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    _plot(rows, out.with_suffix(".png"))
    return 0


def _plot(rows: list[dict], path: Path, machine: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=110)
    ax.plot(steps, [r["class_acc"] for r in rows], "o-", label="all classes")
    worst = [min(r["per_class"]) for r in rows]
    names = [CIFAR10_CLASSES[r["per_class"].index(min(r["per_class"]))] for r in rows]
    ax.plot(steps, worst, "s--", color="tab:red", label="worst class")
    ax.annotate(names[-1], (steps[-1], worst[-1]), textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.axhline(10, color="grey", lw=0.8, ls=":", label="chance (10 %)")
    ax.set_xlabel("training step (batch 32)")
    ax.set_ylabel("class accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"Images carry their class? {JUDGE_CLASSIFIER} judges {rows[0]['n']:,} per snapshot", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.text(0.99, 0.01, machine or machine_description(), ha="right", fontsize=6, color="grey")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
