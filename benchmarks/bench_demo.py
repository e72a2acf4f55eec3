"""`make demo` cold: the quick profile's six notebooks from a fresh download cache and a fresh output folder.

Usage::

    python benchmarks/bench_demo.py [--make make] [--target demo] [--json out.json]

Runs ``make <target>`` in the repository with ``GSOC_CACHE_DIR`` and ``GSOC_OUTPUT_DIR`` pointed at new empty
folders (so nothing computed by an earlier run is reused; the virtualenv and ``$GSOC_DATA_ROOT``, if set, are kept:
the data root is the offline input, not a cache), then reads the per-notebook seconds from ``demo/SUMMARY.md``.
Prints the wall time, each notebook's seconds and the CPU; ``--json`` writes the same as a file.  The target the
project sets itself is 8 minutes on 2 quiet cores (README, benchmarks/RESULTS.md section 1).  Another load on the
machine slows every notebook: say "under load" when reporting a figure taken beside other jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 8 * 60
ROW = re.compile(r"^\| (\S+\.ipynb) \| (ok|FAILED[^|]*) \| (\d+) \|", re.MULTILINE)


def notebook_seconds(summary: str) -> dict[str, dict]:
    """``notebook -> {"status", "seconds"}`` from the run table of a demo's SUMMARY.md."""
    return {m[1]: {"status": m[2].strip(), "seconds": int(m[3])} for m in ROW.finditer(summary)}


def cpu_name() -> str:
    """The CPU's model name and the cores this process may use."""
    model = "unknown CPU"
    info = Path("/proc/cpuinfo")
    if info.is_file():
        found = re.search(r"^model name\s*:\s*(.+)$", info.read_text(), re.MULTILINE)
        model = found[1].strip() if found else model
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores"


def run(make: str, target: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        cache, outputs = Path(tmp) / "cache", Path(tmp) / "outputs"
        env = {**os.environ, "GSOC_CACHE_DIR": str(cache), "GSOC_OUTPUT_DIR": str(outputs)}
        start = time.perf_counter()
        # make docs runs the demo into DOCS_RUN (then renders its copies): point it at the fresh folder too
        extra = [f"DOCS_RUN={outputs / 'demo'}"] if target == "docs" else []
        done = subprocess.run([make, target, *extra], cwd=ROOT, env=env, check=False)
        wall = time.perf_counter() - start
        summary = outputs / "demo" / "SUMMARY.md"
        notebooks = notebook_seconds(summary.read_text()) if summary.is_file() else {}
    return {
        "command": f"{make} {target}",
        "returncode": done.returncode,
        "wall_seconds": round(wall, 1),
        "target_seconds": TARGET_SECONDS,
        "notebooks": notebooks,
        "cpu": cpu_name(),
        "data_root": os.environ.get("GSOC_DATA_ROOT", ""),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--make", default="make")
    ap.add_argument("--target", default="demo")
    ap.add_argument("--json", default=None, help="also write the result to this file")
    args = ap.parse_args(argv)
    result = run(args.make, args.target)
    minutes, seconds = divmod(round(result["wall_seconds"]), 60)
    print(
        f"{result['command']}: {minutes} min {seconds:02d} s (target {TARGET_SECONDS // 60} min), rc {result['returncode']}"
    )
    for name, row in result["notebooks"].items():
        print(f"  {name}: {row['seconds']} s ({row['status']})")
    print(f"CPU: {result['cpu']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
