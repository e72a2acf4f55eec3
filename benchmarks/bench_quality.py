"""FID, KID and class accuracy of generator files under the model cards' protocol, one row per file.

Usage::

    python benchmarks/bench_quality.py GENERATOR [GENERATOR ...] [--n 1000] [--psi 1.0] [--floor]
        [--classifier akamaster_resnet56] [--reference-n N] [--threads 2] [--out outputs/bench_quality]

Protocol (data/offline_teacher.md, data/student.md): ``--n`` class-balanced images per generator (1,000, ψ = 1,
torch-fidelity seed 2020) against the data root's 1,017 bit-exact CIFAR-10 test images, FID Inception-v3; class
accuracy: the share of the same number of class-balanced images (seed 0) that the FP32 judge (default the akamaster
ResNet-56) assigns to the class they were drawn for, overall and per class. ``GENERATOR`` is anything
``load_generator`` reads (a registry name or a .safetensors file); several checkpoints of one run, given in order,
make a training curve. ``--floor`` adds the real images' row: the exact test images themselves (FID against
1,017 exact train images, class accuracy of the judge on them). Writes ``<out>.md``, ``<out>.csv`` and ``<out>.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gsoc_helpers.data import CIFAR10_CLASSES, load_cifar10  # noqa: E402
from gsoc_helpers.defaults import JUDGE_CLASSIFIER  # noqa: E402
from gsoc_helpers.metrics.class_accuracy import class_accuracy  # noqa: E402
from gsoc_helpers.metrics.complexity import count_parameters  # noqa: E402
from gsoc_helpers.metrics.fidelity import compute_fidelity  # noqa: E402
from gsoc_helpers.metrics.report import machine_description  # noqa: E402
from gsoc_helpers.models.registry import load_generator  # noqa: E402

TEST_EXACT = 1017  # bit-exact CIFAR-10 test images in the data root (PROVENANCE.md)


def row(name: str, candidate: Any, fidelity: dict[str, Any], acc_kwargs: dict[str, Any]) -> dict[str, Any]:
    """One table row: FID, KID x1e3, class accuracy (%), per class (%), the protocol and seconds."""
    t0 = time.perf_counter()
    res = compute_fidelity(candidate, metrics=("fid", "kid"), **fidelity)
    acc = class_accuracy(candidate, **acc_kwargs)
    p = res.protocol
    return {
        "generator": name,
        "parameters": count_parameters(candidate) if isinstance(candidate, torch.nn.Module) else "",
        "FID": round(res.values["fid"], 1),
        "KID x1e3": round(1e3 * res.values["kid"], 2),
        "class acc %": round(100 * acc.accuracy, 1),
        **{f"{c} %": v for c, v in acc.per_class_percent().items()},
        "protocol": f"{p['n_candidate']} vs {p['reference']} n={p['reference_n']}; {p['feature_extractor']}; "
        f"judge {acc.classifier} (FP32), {acc.n} images",
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("generators", nargs="+", help="registry names or generator files (.safetensors)")
    p.add_argument("--n", type=int, default=1000, help="images per generator (FID/KID and class accuracy)")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi")
    p.add_argument("--classifier", default=JUDGE_CLASSIFIER, help="the judge of class accuracy (registry name)")
    p.add_argument("--reference-n", type=int, default=None, help=f"exact test images (default all {TEST_EXACT})")
    p.add_argument("--floor", action="store_true", help="add the row of the real exact test images")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = leave as is)")
    p.add_argument("--out", default="outputs/bench_quality")
    a = p.parse_args(argv)
    if a.n < 1 or (a.reference_n is not None and a.reference_n < 1):
        p.error("--n and --reference-n must be >= 1")
    if a.threads:
        torch.set_num_threads(a.threads)
    fidelity = dict(n_generated=a.n, reference_split="test", reference_source="exact", reference_n=a.reference_n,
                    truncation_psi=a.psi)  # fmt: skip
    rows = []
    for spec in a.generators:
        model = load_generator(spec)
        rows.append(row(spec, model, fidelity, dict(n=a.n, truncation_psi=a.psi, classifier=a.classifier)))
        print({k: rows[-1][k] for k in ("generator", "FID", "KID x1e3", "class acc %", "seconds")}, flush=True)
    if a.floor:
        test = load_cifar10("test", source="exact")
        n = min(a.n, len(test))
        floor = dict(n_candidate=n, reference_split="train", reference_source="exact", reference_n=TEST_EXACT)
        # the subset FID measures (compute_fidelity draws candidate subsets with seed 1) is the one judged
        rows.append(row("real exact test images", test, floor, dict(n=n, seed=1, classifier=a.classifier)))
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    table = "\n".join(lines)
    machine = machine_description()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(
        f"FID / KID / class accuracy, psi={a.psi:g} (per class in {', '.join(CIFAR10_CLASSES)} order). "
        f"Machine: {machine}.\n\n{table}\n"
    )
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    out.with_suffix(".json").write_text(json.dumps({"machine": machine, "psi": a.psi, "rows": rows}, indent=1))
    print(table)
    print(f"wrote {out.with_suffix('.md')}, .csv, .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
