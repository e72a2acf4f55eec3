"""The teacher on the CPU: NVIDIA's own code vs our port, PyTorch eager and the OpenVINO twin, and `sample` end to end.

Usage::

    python benchmarks/bench_teacher.py [--nvidia-src PATH/TO/stylegan2-ada-pytorch] [--threads 2] [--rounds 3]
        [--batches 1,64] [--sample-per-class 32] [--json out.json]

The network is the official CIFAR-10 configuration (20,215,315 parameters) with random weights, in NVIDIA's file
format: with ``--nvidia-src`` (a checkout of NVlabs/stylegan2-ada-pytorch, which stays outside this project) NVIDIA's
``training.networks.Generator`` is built and pickled by NVIDIA's own code, and both sides run that pickle; without it
the tests' writer of NVIDIA-format pickles makes it and the NVIDIA column is left out.  NVIDIA's generator runs with
``force_fp32=True`` and ``noise_mode='const'`` (its fp16 layers are a CUDA feature; f32 is what we compare).

Every engine is measured once per round, rounds interleaved (other load on the machine hits all of them alike),
and the median of the rounds is reported.  ``sample`` is the ``gsoc-helpers sample`` command run in-process: its
images/s counts the generation loop with uint8 conversion and shard writes; start-up (loading the pickle, choosing
and checking the backend) is reported separately.  Throughput depends on the weights' shapes only, not their values.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "tests"))  # the tests' writer of NVIDIA-format pickles and NVIDIA's CIFAR-10 config
from official_fixtures import NVIDIA_CIFAR10_KWARGS, official_generator_shapes, write_fixture_pickle  # noqa: E402


def nvidia_pickle(src: Path, path: Path, seed: int = 0) -> Any:
    """Build NVIDIA's generator (official CIFAR-10 config, random weights) with NVIDIA's code, pickle it as a
    training snapshot; returns the NVIDIA module."""
    sys.path.insert(0, str(src))
    import dnnlib  # noqa: E402  (NVIDIA's)
    from training import networks  # noqa: E402  (NVIDIA's)

    torch.manual_seed(seed)
    kw = dict(
        NVIDIA_CIFAR10_KWARGS,
        mapping_kwargs=dnnlib.EasyDict(NVIDIA_CIFAR10_KWARGS["mapping_kwargs"]),
        synthesis_kwargs=dnnlib.EasyDict(NVIDIA_CIFAR10_KWARGS["synthesis_kwargs"]),
    )
    g = networks.Generator(**kw).eval().requires_grad_(False)
    with open(path, "wb") as f:
        pickle.dump({"G": g, "D": None, "G_ema": g, "augment_pipe": None, "training_set_kwargs": None}, f)
    return g


def fixture_pickle(path: Path, seed: int = 0) -> None:
    """The same configuration written by the tests' NVIDIA-format pickle writer (no NVIDIA code needed)."""
    g = torch.Generator().manual_seed(seed)
    sd = {k: torch.randn(s, generator=g) for k, s in official_generator_shapes().items()}
    write_fixture_pickle(path, sd, NVIDIA_CIFAR10_KWARGS)


def run_sample(pkl: Path, out: Path, per_class: int, batch: int, threads: int, backend: str, precision: str) -> dict:
    """`gsoc-helpers sample` in-process -> {'images_per_s' (generation + shard writes), 'wall_s', 'startup_s'}."""
    from gsoc_helpers.cli import main

    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        rc = main(
            [
                "sample",
                str(pkl),
                "--out",
                str(out),
                "--per-class",
                str(per_class),
                "--batch-size",
                str(batch),
                "--threads",
                str(threads),
                "--backend",
                backend,
                "--precision",
                precision,
                "--shard-size",
                "64",
            ]
        )
    wall = time.perf_counter() - t0
    text = buf.getvalue()
    m = re.search(r"wrote (\d+) images .* in ([\d.]+) s \(([\d.]+) images/s", text)
    if rc != 0 or not m:
        raise RuntimeError(f"sample failed (rc {rc}):\n{text}")
    line = next((ln for ln in text.splitlines() if ln.startswith("backend ")), "")
    n, secs = int(m.group(1)), float(m.group(2))
    return {"images_per_s": n / secs, "wall_s": wall, "startup_s": wall - secs, "backend": line}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nvidia-src", default=None, help="checkout of NVlabs/stylegan2-ada-pytorch (NVIDIA column)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batches", default="1,64")
    p.add_argument("--min-seconds", type=float, default=2.0, help="per engine, batch and round")
    p.add_argument("--sample-per-class", type=int, default=32, help="images per class of each `sample` run (0: skip)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench_teacher_"))
    os.environ["GSOC_CACHE_DIR"] = str(work / "cache")  # the twin's IR and compiled blobs: fresh, then reused

    from gsoc_helpers.metrics.speed import rate  # the project's one timing loop
    from gsoc_helpers.models.stylegan2_ada import load_stylegan2_ada
    from gsoc_helpers.openvino.core import cpu_description, default_precision
    from gsoc_helpers.openvino.generator import OpenVINOGenerator

    pkl = work / "cifar10-random.pkl"
    nv = nvidia_pickle(Path(args.nvidia_src), pkl) if args.nvidia_src else None
    if nv is None:
        fixture_pickle(pkl)
    ours = load_stylegan2_ada(pkl)
    default = default_precision()
    engines: dict[str, Callable[[torch.Tensor, torch.Tensor], Any]] = {}
    if nv is not None:
        engines["NVIDIA (f32)"] = lambda z, c: nv(
            z, torch.nn.functional.one_hot(c, 10).float(), noise_mode="const", force_fp32=True
        )
    engines["ours eager"] = lambda z, c: ours(z, c)
    ov = {
        "f32": OpenVINOGenerator(ours, precision="f32", threads=args.threads),
        "bf16": OpenVINOGenerator(ours, precision="bf16", threads=args.threads),
    }
    engines["ours OpenVINO f32"] = lambda z, c: ov["f32"](z, c)
    if default != "f32":
        label = f"ours OpenVINO bf16{' (default here)' if default == 'bf16' else ''}"
        engines[label] = lambda z, c: ov["bf16"](z, c)
        if default != "bf16":
            ov["default"] = OpenVINOGenerator(ours, precision=None, threads=args.threads)
            engines[f"ours OpenVINO default ({default})"] = lambda z, c: ov["default"](z, c)
    else:
        engines["ours OpenVINO bf16"] = lambda z, c: ov["bf16"](z, c)
    batches = [int(b) for b in args.batches.split(",")]
    inputs = {
        b: (torch.randn(b, 512, generator=torch.Generator().manual_seed(b)), torch.arange(b) % 10) for b in batches
    }
    deviation: dict[str, float] = {}
    with torch.no_grad():
        z, c = inputs[max(batches)]
        outs = {k: torch.as_tensor(np.asarray(f(z, c))).float() for k, f in engines.items()}  # also the warm-up
        ref_name = next(iter(engines))
        for k, o in outs.items():
            deviation[k] = float((o - outs[ref_name]).abs().max())
        for b in batches:
            if b != max(batches):
                for f in engines.values():
                    f(*inputs[b])
    rates: dict[tuple[str, int], list[float]] = {}
    samples: dict[str, list[dict]] = {}
    sample_runs = (
        [
            ("sample f32 (auto)", 64, "auto", "f32"),
            ("sample bf16", 64, "auto", "bf16"),
            ("sample f32 (auto)", 1, "auto", "f32"),
        ]
        if args.sample_per_class
        else []
    )
    for r in range(args.rounds):
        for b in batches:
            z, c = inputs[b]
            for name, f in engines.items():
                time.sleep(0.5)  # let the previous engine's worker threads go idle
                with torch.no_grad():
                    rates.setdefault((name, b), []).append(rate(lambda f=f, z=z, c=c: f(z, c), b, args.min_seconds))
        for name, b, backend, prec in sample_runs:
            time.sleep(0.5)
            per_class = args.sample_per_class if b > 1 else max(1, args.sample_per_class // 4)
            res = run_sample(pkl, work / f"ds_{r}_{b}_{prec}", per_class, b, args.threads, backend, prec)
            samples.setdefault(f"{name} b{b}", []).append(res)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    base = "NVIDIA (f32)" if nv is not None else None
    print(
        f"CPU: {cpu_description()}; {args.threads} threads; {args.rounds} interleaved rounds, medians; "
        f"generator parameters: {sum(p.numel() for p in ours.parameters()):,}"
    )
    cols = [f"batch {b}" for b in batches]
    print("| engine | " + " | ".join(cols) + f" | max abs diff from {ref_name} (batch {max(batches)}) |")
    print("|---" * (len(cols) + 2) + "|")
    rows = []
    for name in engines:
        cells = []
        for b in batches:
            v = med[(name, b)]
            ratio = f" ({v / med[(base, b)]:.2f}x)" if base and name != base else ""
            cells.append(f"{v:.2f}{ratio}")
        print(f"| {name} | " + " | ".join(cells) + f" | {deviation[name]:.2g} |")
        rows.append({"engine": name, **{f"b{b}": med[(name, b)] for b in batches}, "max_abs_diff": deviation[name]})
    for key, runs in samples.items():
        b = int(key.rsplit("b", 1)[1])
        v = statistics.median(x["images_per_s"] for x in runs)
        start = statistics.median(x["startup_s"] for x in runs)
        ratio = f" ({v / med[(base, b)]:.2f}x NVIDIA at batch {b})" if base and (base, b) in med else ""
        print(f"| `{key}` (shards written; start-up {start:.1f} s) | {v:.2f}{ratio} | {runs[-1]['backend']} |")
        rows.append({"engine": key, "images_per_s": v, "startup_s": start, "backend": runs[-1]["backend"]})
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"cpu": cpu_description(), "threads": args.threads, "rounds": args.rounds, "rows": rows}, indent=2
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
