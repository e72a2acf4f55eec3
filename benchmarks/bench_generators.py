"""Student vs teacher in one run: parameters, MACs/image, images/s for PyTorch and OpenVINO FP32/INT8, batch 1 and 64.

Usage::

    python benchmarks/bench_generators.py [--student student|<.safetensors>|preset:default] [--no-teacher]
        [--batches 1,64] [--min-seconds 1.0] [--threads 2] [--no-openvino] [--no-int8] [--out results/bench]

Any generator following the protocol works (``--student`` / ``--teacher`` take registry names or paths);
the teacher defaults to the full StyleGAN2-ADA CIFAR-10 configuration with random weights (throughput does not
depend on the weight values), skipped with a message when gsoc_helpers.models.stylegan2_ada is unavailable.
Writes ``<out>.md`` and ``<out>.csv`` and prints the Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gsoc_helpers.metrics.complexity import count_macs, count_parameters  # noqa: E402
from gsoc_helpers.metrics.speed import images_per_second  # noqa: E402


def load_model(spec: str) -> torch.nn.Module:
    """'preset:<name>' (random-weight student), 'stylegan2-random' (full teacher config) or a registry name/path."""
    if spec.startswith("preset:"):
        from gsoc_helpers.models.student import StudentConfig, StudentGenerator

        torch.manual_seed(0)
        return StudentGenerator(StudentConfig.preset(spec.split(":", 1)[1])).eval()
    if spec == "stylegan2-random":
        from gsoc_helpers.models.stylegan2_ada import CIFAR10_CONFIG, Generator

        torch.manual_seed(0)
        return Generator(CIFAR10_CONFIG).eval()
    from gsoc_helpers.models.registry import load_generator

    return load_generator(spec)


def bench(
    name: str, model: torch.nn.Module, batches: list[int], min_seconds: float, openvino: bool, int8: bool
) -> dict:
    row: dict = {
        "model": name,
        "parameters": count_parameters(model),
        "MACs/image (M)": round(
            count_macs(model, torch.zeros(1, int(model.z_dim)), torch.zeros(1, dtype=torch.long)) / 1e6, 1
        ),
    }
    for b in batches:
        row[f"PyTorch b{b}"] = round(images_per_second(model, b, min_seconds), 1)
    if openvino:
        from gsoc_helpers.openvino.generator import OpenVINOGenerator, export_generator
        from gsoc_helpers.quantization.ptq import export_int8_generator

        with tempfile.TemporaryDirectory() as tmp:
            kinds = [("OV FP32", export_generator(model, tmp))]
            if int8:
                kinds.append(("OV INT8", export_int8_generator(model, tmp, calibration_size=64)))
            for label, xml in kinds:
                ovg = OpenVINOGenerator(xml)
                for b in batches:
                    row[f"{label} b{b}"] = round(images_per_second(ovg, b, min_seconds), 1)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--student", default="preset:default")
    p.add_argument("--teacher", default="stylegan2-random")
    p.add_argument("--no-teacher", action="store_true")
    p.add_argument("--batches", default="1,64")
    p.add_argument("--min-seconds", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = leave as is)")
    p.add_argument("--no-openvino", action="store_true")
    p.add_argument("--no-int8", action="store_true")
    p.add_argument("--out", default="outputs/bench_generators")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    batches = [int(b) for b in a.batches.split(",")]
    models = [("student " + a.student, a.student)] + ([] if a.no_teacher else [("teacher " + a.teacher, a.teacher)])
    rows = []
    for name, spec in models:
        try:
            model = load_model(spec)
        except (ImportError, FileNotFoundError, KeyError, ValueError) as err:
            print(f"skipping {name}: {err}")
            continue
        rows.append(bench(name, model, batches, a.min_seconds, not a.no_openvino, not a.no_int8))
    if not rows:
        return 1
    keys = list(dict.fromkeys(k for r in rows for k in r))
    if len(rows) == 2:  # speed-up of the student over the teacher per column
        ratio = {"model": "student / teacher"}
        for k in keys[3:]:
            if k in rows[0] and k in rows[1] and rows[1][k]:
                ratio[k] = round(rows[0][k] / rows[1][k], 1)
        rows.append(ratio)
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    table = "\n".join(lines)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(f"Images/s (CPU threads: {torch.get_num_threads()})\n\n{table}\n")
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
