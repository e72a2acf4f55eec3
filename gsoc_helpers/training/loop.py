"""The plumbing every trainer shares, so that the GAN teacher and the distilled student run folders behave alike.

:class:`RunFiles` owns a run folder's checkpoint (``checkpoint.pt``: plain tensors and dicts, written atomically
and read with ``weights_only=True``; the run's settings stored inside as a JSON string and compared on resume),
its metrics log (``metrics.jsonl``, one line per logged step, trimmed when a run restarts) and its sample grids
(``samples/step_XXXXXXX.png``). :class:`TimeBudget` is the wall-clock limit (``max_minutes``). Every trainer stops
for one of :data:`STOP_REASONS`. Under DDP only rank 0 writes (``writer=False`` elsewhere).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from ..fileio import atomic_path
from .run_folder import load_checkpoint_file, refuse_changed_config, trim_log

CHECKPOINT, METRICS, SAMPLES = "checkpoint.pt", "metrics.jsonl", "samples"
# "done": every planned step ran; "max_steps": a step limit below the plan; "max_minutes": the time budget.
STOP_REASONS = ("done", "max_steps", "max_minutes")


def settings_json(cfg: Any) -> dict:
    """A settings dataclass as the JSON-able dict stored in checkpoints (tuples become lists, as on reading)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


class RunFiles:
    """Checkpoint, settings check, metrics log and sample grids of the run folder ``out``."""

    def __init__(self, out: str | os.PathLike, cfg: Any, may_change: Iterable[str], writer: bool = True) -> None:
        self.out, self.cfg, self.may_change, self.writer = Path(out), cfg, tuple(may_change), writer

    @property
    def checkpoint(self) -> Path:
        return self.out / CHECKPOINT

    def save(self, state: dict) -> Path | None:
        """Write ``state`` plus the settings to ``checkpoint.pt`` atomically (writer only)."""
        if not self.writer:
            return None

        with atomic_path(self.checkpoint) as tmp:
            torch.save({**state, "config": json.dumps(settings_json(self.cfg))}, tmp)
        return self.checkpoint

    def load(self, path: str | os.PathLike | None = None, map_location: Any = "cpu") -> dict | None:
        """The checkpoint's state (``path``, default ``checkpoint.pt``), or None when there is none; ValueError
        naming every setting that differs from the stored one (except ``may_change``)."""
        path = Path(path) if path else self.checkpoint
        if not path.is_file():
            return None
        state = load_checkpoint_file(path, map_location=map_location)
        stored = _stored_settings(state)
        if stored is not None:
            refuse_changed_config(path, stored, settings_json(self.cfg), self.may_change)
        return state

    def trim_log(self, step: int) -> None:
        """Drop logged lines past ``step`` (a restart must not log its steps twice)."""
        if self.writer:
            trim_log(self.out / METRICS, step)

    def log(self, record: dict) -> None:
        """Append one JSON line to ``metrics.jsonl`` (flushed: a killed run keeps what it logged)."""
        if self.writer:
            self.out.mkdir(parents=True, exist_ok=True)
            with open(self.out / METRICS, "a") as fh:
                fh.write(json.dumps(record) + "\n")

    def sample_path(self, step: int) -> Path:
        return self.out / SAMPLES / f"step_{step:07d}.png"


# What every GAN-style trainer holds: generator, discriminator, EMA of G and both optimisers (attributes of the
# trainer under these names), plus ``step`` and torch's global RNG state.
TRAINER_PARTS = ("G", "D", "ema", "opt_g", "opt_d")


def trainer_state(trainer: Any) -> dict:
    """The state both trainers checkpoint: each of :data:`TRAINER_PARTS`, the step and torch's RNG state."""
    return {
        **{k: getattr(trainer, k).state_dict() for k in TRAINER_PARTS},
        "step": torch.tensor(trainer.step),
        "torch_rng": torch.get_rng_state(),
    }


def load_trainer_state(trainer: Any, state: dict) -> None:
    """Inverse of :func:`trainer_state` (the RNG state is moved to the CPU first, as torch requires)."""
    for k in TRAINER_PARTS:
        getattr(trainer, k).load_state_dict(state[k])
    trainer.step = int(state["step"])
    torch.set_rng_state(state["torch_rng"].cpu())


def _stored_settings(state: dict) -> dict | None:
    if isinstance(state.get("config"), str):
        return json.loads(state["config"])
    if "config_json" in state:  # distillation checkpoints written before the shared format: uint8 JSON bytes
        return json.loads(bytes(state["config_json"].cpu().tolist()).decode())
    return None


class TimeBudget:
    """Wall-clock budget of a run (``time.perf_counter``): ``expired()`` once ``max_minutes`` have passed; None or 0
    means no limit (the trainers' settings say so too)."""

    def __init__(self, max_minutes: float | None) -> None:
        self.max_minutes = float(max_minutes or 0.0)
        self.start = time.perf_counter()

    def minutes(self) -> float:
        return (time.perf_counter() - self.start) / 60

    def expired(self) -> bool:
        return self.max_minutes > 0 and self.minutes() >= self.max_minutes
