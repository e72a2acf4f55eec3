"""The bit-width axis of the study: (model, source, size, seed) x bit widths x range estimators, resumable, shardable.

One **group** = one NNCF calibration (model, calibration source, size, seed, at 8 bits, the project's PTQ setting)
and the activation samples it yields; every (bit width, range estimator) **cell** of the group is a re-levelled copy
of that model (:mod:`.lowbit`) measured against FP32. The estimator ``"nncf"`` (:data:`.lowbit.NNCF`) is NNCF's own
low-bit call instead (:func:`.lowbit.nncf_lowbit`, on the same calibration images), for the bit widths NNCF
expresses (:data:`.lowbit.NNCF_BIT_WIDTHS`; other bit widths have no ``nncf`` cell). Cells are appended to ``<out>/cells.jsonl`` in the format of
:mod:`.runner` (``config`` = ``"W4A4/mse"``), so :func:`.runner.summarize` tables them. ``shard=(i, n)`` runs the
groups ``i, i+n, i+2n, ...`` of the grid's fixed order: n workers (a SLURM array, ``torchrun``) write disjoint cells,
and concatenating their ``cells.jsonl`` files gives the whole grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..calibration import available_sources
from ..defaults import CALIBRATION_SIZE, SEEDS
from ..models.classifiers import get_classifier
from ..progress import progress as tqdm  # tqdm's API; one final line in notebooks
from .lowbit import LOWBIT_METHODS, NNCF, BitWidth, activation_samples, calibrate_for_relevel, nncf_lowbit, relevel
from .ptq import PTQConfig
from .runner import (
    append_cell,
    calibration_images,
    fp32_reference,
    load_cells,
    open_cells,
    options_key,
    shard_of,
)

BIT_WIDTHS = ("W8A8", "W6A6", "W5A5", "W4A4", "W3A3", "W4A8", "W8A4")


@dataclass
class LowBitGrid:
    models: list[str]
    sources: list[str]
    sizes: list[int] = field(default_factory=lambda: [CALIBRATION_SIZE])
    seeds: list[int] = field(default_factory=lambda: list(SEEDS))
    bits: list[str] = field(default_factory=lambda: list(BIT_WIDTHS))
    estimators: list[str] = field(default_factory=lambda: list(LOWBIT_METHODS))  # range estimators and/or "nncf"
    source_options: dict[str, dict] = field(default_factory=dict)  # per source: kwargs for get_calibration
    ptq: PTQConfig = field(default_factory=PTQConfig)  # the 8-bit calibration every group starts from

    def validate(self) -> None:
        for s in self.sources:
            if s not in available_sources():
                raise KeyError(f"unknown calibration source {s!r}; expected one of {sorted(available_sources())}")
        for b in self.bits:
            BitWidth.parse(b)
        for e in self.estimators:
            if e not in LOWBIT_METHODS:
                raise ValueError(f"unknown range estimator {e!r}; expected one of {LOWBIT_METHODS}")
        if any(int(n) < 1 for n in self.sizes):
            raise ValueError(f"calibration sizes must be >= 1, got {self.sizes}")

    def groups(self) -> list[tuple[str, str, int, int]]:
        """(model, source, size, seed) in the grid's fixed order (the order shards are dealt from)."""
        return [
            (m, s, int(n), int(seed))
            for m in self.models
            for s in self.sources
            for n in self.sizes
            for seed in self.seeds
        ]

    def cells(self) -> list[tuple[str, str]]:
        """(bit width, estimator) of every cell of a group: NNCF's own call only where it expresses the bit width."""
        return [(b, e) for b in self.bits for e in self.estimators if e != NNCF or BitWidth.parse(b).nncf_expressible]

    def cell_key(self, group: tuple[str, str, int, int], bits: str, estimator: str) -> str:
        m, s, n, seed = group
        extra = options_key(self.source_options.get(s))
        return f"{m}|{s}|{n}|{seed}|{BitWidth.parse(bits).name}/{estimator}|{self.ptq.key()}{extra}"


def run_lowbit_grid(
    grid: LowBitGrid,
    test_sets: dict[str, tuple[torch.Tensor, torch.Tensor]],
    out_dir: str | Path,
    model_factory: Callable[[str], torch.nn.Module] = get_classifier,
    threads: int | None = 1,
    progress: bool = True,
    shard: tuple[int, int] = (0, 1),
) -> list[dict]:
    """Run this shard's missing cells; return this shard's cells (cached + new). ``test_sets``: name -> (images
    [N,3,32,32] in [0,1], labels)."""
    grid.validate()
    path, done = open_cells(out_dir)
    mine = shard_of(grid.groups(), shard)
    keys = {grid.cell_key(g, b, e) for g in mine for b, e in grid.cells()}
    todo = [g for g in mine if any(grid.cell_key(g, b, e) not in done for b, e in grid.cells())]
    cache: dict[str, tuple] = {}
    for group in tqdm(todo, desc="low-bit study", disable=not progress):
        m, s, n, seed = group
        if m not in cache:
            cache = {m: fp32_reference(model_factory, m, test_sets, threads)}  # keep one model at a time
        model, fp32, ref = cache[m]
        calib = calibration_images(s, n, seed, grid.source_options.get(s), model)
        int8 = calibrate_for_relevel(fp32, calib.images, grid.ptq)
        samples = activation_samples(int8, calib.images, seed=seed)
        for b, e in grid.cells():
            key = grid.cell_key(group, b, e)
            if key in done:
                continue
            bw = BitWidth.parse(b)
            low = nncf_lowbit(fp32, calib.images, bw, grid.ptq) if e == NNCF else relevel(int8, bw, samples, e)
            rec: dict = {"key": key, "model": m, "source": s, "size": n, "seed": seed, "config": f"{bw.name}/{e}"}
            rec.update({"bits": bw.name, "weight_bits": bw.weights, "activation_bits": bw.activations})
            rec.update({"estimator": e, "config_key": grid.ptq.key()})
            append_cell(path, rec, low, ref, test_sets, threads)
    return [c for c in load_cells(path) if c["key"] in keys]
