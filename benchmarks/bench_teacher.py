"""Throughput of our StyleGAN2-ADA CIFAR-10 generator: PyTorch eager, OpenVINO FP32, and dataset sampling.

Usage::

    python benchmarks/bench_teacher.py [--source cifar10.pkl] [--device cpu|cuda] [--batches 1,64]
        [--threads 2] [--iters 3] [--no-openvino] [--sample-per-class 20] [--json out.json]

Without ``--source`` the full official configuration (20,215,315 parameters) with random weights is timed
(throughput does not depend on the weight values).  Prints a markdown table of images/s.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gsoc_helpers.models.stylegan2_ada import Generator, load_stylegan2_ada  # noqa: E402
from gsoc_helpers.sampling import sample_dataset  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_eager(g: Generator, batch: int, iters: int, device: torch.device) -> float:
    """images/s of g(z, labels) at ``batch`` (one warm-up call, then ``iters`` timed calls)."""
    z = torch.randn(batch, g.z_dim, device=device)
    c = torch.arange(batch, device=device) % g.c_dim
    with torch.no_grad():
        g(z, c)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(iters):
            g(z, c)
        _sync(device)
    return batch * iters / (time.perf_counter() - t0)


def time_openvino(g: Generator, batch: int, iters: int, threads: int) -> float:
    """images/s of the OpenVINO FP32 IR (CPU, f32 inference precision, dynamic batch)."""
    import openvino as ov

    z = torch.randn(batch, g.z_dim)
    c = torch.arange(batch) % g.c_dim
    with torch.no_grad():
        model = ov.convert_model(g.cpu(), example_input=(z[:1], c[:1]))
    cfg = {"INFERENCE_PRECISION_HINT": "f32"}
    if threads:
        cfg["INFERENCE_NUM_THREADS"] = threads
    compiled = ov.Core().compile_model(model, "CPU", cfg)
    compiled([z.numpy(), c.numpy()])
    t0 = time.perf_counter()
    for _ in range(iters):
        compiled([z.numpy(), c.numpy()])
    return batch * iters / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default=None, help="StyleGAN2-ADA .pkl / URL (default: random weights)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batches", default="1,64")
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = library default)")
    p.add_argument("--no-openvino", action="store_true")
    p.add_argument("--sample-per-class", type=int, default=10, help="images per class for the sampling run (0: skip)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    g = (load_stylegan2_ada(args.source) if args.source else Generator()).eval().requires_grad_(False).to(device)
    rows = []
    params = sum(p.numel() for p in g.parameters())
    for b in (int(x) for x in args.batches.split(",")):
        rows.append({"engine": f"torch eager ({device.type})", "batch": b,
                     "images_per_s": time_eager(g, b, args.iters, device)})
        if not args.no_openvino:
            rows.append({"engine": "OpenVINO FP32 (CPU)", "batch": b,
                         "images_per_s": time_openvino(g, b, args.iters, args.threads)})
            g.to(device)
    if args.sample_per_class:
        with tempfile.TemporaryDirectory() as tmp:
            rep = sample_dataset(g, Path(tmp) / "ds", generator_name="bench", generator_checksum="0" * 64,
                                 per_class=args.sample_per_class, batch_size=64, shard_size=50, device=device,
                                 progress=False)
        rows.append({"engine": f"sample_dataset ({device.type}, batch 64, incl. uint8 + shard writes)",
                     "batch": 64, "images_per_s": rep.images_per_second})
    print(f"generator parameters: {params:,}; torch threads: {torch.get_num_threads()}")
    print("| engine | batch | images/s |\n|---|---|---|")
    for r in rows:
        print(f"| {r['engine']} | {r['batch']} | {r['images_per_s']:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"parameters": params, "threads": torch.get_num_threads(),
                                               "device": str(device), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
