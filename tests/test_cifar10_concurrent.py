"""Several processes unpacking the CIFAR-10 tarball into one cache at once all get the complete batches
(issue #21: 7 of 24 runs failed part-way before the unpacking took a lock)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import shutil
import traceback
from pathlib import Path

import numpy as np
import pytest

from official_fixtures import write_cifar10_tarball

PROCESSES, ROUNDS = 4, 3


def _worker(target: str, barrier, results) -> None:
    from gsoc_helpers.data import load_python_batches
    from gsoc_helpers.data.cifar10 import download_cifar10

    for _ in range(ROUNDS):
        barrier.wait(60)  # every process starts each round together
        try:
            folder = download_cifar10(target)
            n = len(load_python_batches(folder, "train")) + len(load_python_batches(folder, "test"))
            results.put(("ok", n))
        except BaseException as err:  # noqa: BLE001 (report any failure to the test)
            results.put(("error", f"{type(err).__name__}: {err} {traceback.format_exc(limit=3)}"))
        barrier.wait(60)
        if barrier.wait(60) == 0:  # one process clears the cache for the next round
            shutil.rmtree(Path(target) / "cifar-10-batches-py", ignore_errors=True)


def test_concurrent_unpacking_into_one_cache(tmp_path, monkeypatch):
    from gsoc_helpers import download as dl

    root = tmp_path / "root"
    root.mkdir()
    tarball = write_cifar10_tarball(root / "cifar-10-python.tar.gz", per_batch=400)  # ~7 MB: unpacking overlaps
    sums = tmp_path / "sums.json"
    sums.write_text(json.dumps({tarball.name: hashlib.sha256(tarball.read_bytes()).hexdigest()}))
    monkeypatch.setenv("GSOC_DATA_ROOT", str(root))
    monkeypatch.setenv(dl.CHECKSUMS_ENV, str(sums))
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path / "cache"), barrier, results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in range(PROCESSES * ROUNDS)]
    for p in procs:
        p.join(60)
    errors = [msg for kind, msg in got if kind != "ok"]
    assert errors == [], f"{len(errors)} of {len(got)} failed: {errors[0][:800]}"
    assert {n for _, n in got} == {6 * 400}
    leftovers = sorted(p.name for p in (tmp_path / "cache").iterdir() if p.name != "cifar-10-batches-py")
    assert all(name.startswith(".") and name.endswith(".lock") for name in leftovers), leftovers


def test_unpacking_waits_for_the_lock(tmp_path, monkeypatch):
    """While another process holds the lock, nothing is written; afterwards the folder is complete."""
    from gsoc_helpers import download as dl
    from gsoc_helpers.data.cifar10 import BATCH_FOLDER, download_cifar10
    from gsoc_helpers.file_lock import exclusive_lock

    root = tmp_path / "root"
    root.mkdir()
    tarball = write_cifar10_tarball(root / "cifar-10-python.tar.gz", per_batch=4)
    sums = tmp_path / "sums.json"
    sums.write_text(json.dumps({tarball.name: hashlib.sha256(tarball.read_bytes()).hexdigest()}))
    monkeypatch.setenv("GSOC_DATA_ROOT", str(root))
    monkeypatch.setenv(dl.CHECKSUMS_ENV, str(sums))
    target = tmp_path / "cache"
    target.mkdir()
    ctx = mp.get_context("fork")
    with exclusive_lock(target / f".{BATCH_FOLDER}.lock"):
        p = ctx.Process(target=download_cifar10, args=(str(target),))
        p.start()
        p.join(1.5)
        assert p.is_alive() and not (target / BATCH_FOLDER).exists()
    p.join(30)
    assert p.exitcode == 0 and (target / BATCH_FOLDER / "batches.meta").is_file()
    np.testing.assert_array_equal(
        sorted(x.name for x in (target / BATCH_FOLDER).iterdir()),
        sorted(
            [
                "batches.meta",
                "data_batch_1",
                "data_batch_2",
                "data_batch_3",
                "data_batch_4",
                "data_batch_5",
                "readme.html",
                "test_batch",
            ]
        ),
    )


pytestmark = pytest.mark.skipif(
    not hasattr(mp, "get_context") or "fork" not in mp.get_all_start_methods(), reason="needs the fork start method"
)
