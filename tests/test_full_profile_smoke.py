"""The full profile's code path end to end: ``demo --profile full --smoke`` with NO data root, every official file
served by a loopback mirror (127.0.0.1) in its official format, made here (reduced sizes, not the real weights)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gsoc_helpers.defaults import JUDGE_CLASSIFIER
from gsoc_helpers.download import CIFAR10_TARBALL, NVIDIA_CIFAR10_PKL, TORCH_FIDELITY_INCEPTION
from gsoc_helpers.series.notebooks import list_notebooks
from gsoc_helpers.series.profiles import run_sizes

from official_fixtures import (
    loopback_mirror,
    write_akamaster_weights,
    write_checksums,
    write_chenyaofo_weights,
    write_cifar10_snapshot,
    write_cifar10_tarball,
    write_inception_weights,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_demo_full_profile_smoke_against_loopback_mirror(tmp_path):
    sizes = run_sizes("full", "smoke")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    write_cifar10_snapshot(mirror / NVIDIA_CIFAR10_PKL.name)
    write_cifar10_tarball(mirror / CIFAR10_TARBALL.name, per_batch=40)  # 20 per class: 05 holds 10 out
    for model in sizes.quant_models:
        write_chenyaofo_weights(mirror, model.removeprefix("chenyaofo_"))
    write_inception_weights(mirror / TORCH_FIDELITY_INCEPTION.name)
    write_akamaster_weights(mirror, JUDGE_CLASSIFIER.removeprefix("akamaster_"))  # notebook 03's class-accuracy judge
    checksums = write_checksums(mirror, tmp_path / "checksums.json")  # fixtures stand in for the official files

    env = {k: v for k, v in os.environ.items() if k not in ("GSOC_DATA_ROOT", "GSOC_PROFILE")}
    env.update(
        GSOC_CACHE_DIR=str(tmp_path / "cache"),
        GSOC_OUTPUT_DIR=str(tmp_path / "outputs"),
        GSOC_DOWNLOAD_CHECKSUMS=str(checksums),
        MPLBACKEND="Agg",
    )
    with loopback_mirror(mirror) as (base, requested):
        env["GSOC_DOWNLOAD_MIRROR"] = base
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "gsoc_helpers",
                "demo",
                "--profile",
                "full",
                "--smoke",
                "--out",
                str(tmp_path / "demo"),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        seconds = time.perf_counter() - start
    summary = (tmp_path / "demo" / "SUMMARY.md").read_text()
    assert proc.returncode == 0, f"demo failed after {seconds:.0f} s:\n{summary}\n{proc.stderr[-3000:]}"
    status = [line for line in summary.splitlines() if line.startswith("| 0")]
    assert len(status) == len(list_notebooks()) and all("| ok |" in r for r in status), summary
    assert "full-profile" in summary and "'SCALE': 'smoke'" in summary
    # every official file came from the mirror, once each (cached afterwards), nothing else was asked for
    assert sorted(requested) == sorted(f"/{p.name}" for p in mirror.iterdir())
    run = tmp_path / "demo" / "full-smoke"
    assert (run / "distill" / "student_ema.safetensors").is_file()  # 02 wrote the student that 03-05 loaded
    evaluation = (run / "results" / "03_evaluation.md").read_text()
    assert "Teacher vs student (full profile, smoke scale)" in evaluation
    first_table = evaluation.split("\n| ", 1)[1].split("\n\n", 1)[0]  # the comparison (a per-class table follows)
    head, *rows = [
        [c.strip() for c in ln.split("|")] for ln in ("| " + first_table).splitlines() if ln.startswith("| ")
    ]
    fid = {r[1]: float(r[head.index("FID")]) for r in rows}
    assert set(fid) == {"teacher", "student"} and all(v > 0 for v in fid.values()), fid  # torch-fidelity's network
    assert "chenyaofo_resnet20" in (run / "results" / "05_quantization.md").read_text()
    per_notebook = ", ".join(f"{r.split('|')[1].strip()[:2]}: {r.split('|')[3].strip()} s" for r in status)
    print(f"demo --profile full --smoke: {seconds:.0f} s ({per_notebook})")
