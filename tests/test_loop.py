"""training.loop: the checkpoint, settings check, metrics log, sample names and time budget both trainers share."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
import torch

from gsoc_helpers.training.loop import STOP_REASONS, RunFiles, TimeBudget


@dataclass
class Settings:
    seed: int = 0
    steps: int = 10
    sizes: tuple = (1, 2)
    extra: dict = field(default_factory=dict)


def test_checkpoint_roundtrip_stores_the_settings_and_refuses_changed_ones(tmp_path):
    files = RunFiles(tmp_path / "run", Settings(), may_change=("steps",))
    assert files.load() is None  # no checkpoint yet: nothing to resume, not an error
    files.save({"w": torch.arange(3), "step": torch.tensor(4)})
    state = files.load()
    assert torch.equal(state["w"], torch.arange(3)) and json.loads(state["config"])["sizes"] == [1, 2]
    assert RunFiles(tmp_path / "run", Settings(steps=20), ("steps",)).load() is not None  # a budget may change
    with pytest.raises(ValueError, match=r"seed: 0 -> 1"):
        RunFiles(tmp_path / "run", Settings(seed=1), ("steps",)).load()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint.pt"]  # no temporary left


def test_reads_the_older_distillation_settings_format(tmp_path):
    legacy = {
        "step": torch.tensor(1),
        "config_json": torch.tensor(list(json.dumps({"seed": 5}).encode()), dtype=torch.uint8),
    }
    torch.save(legacy, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match=r"seed: 5 -> 0"):
        RunFiles(tmp_path, Settings(), ()).load()


def test_log_trim_samples_and_non_writers(tmp_path):
    from gsoc_helpers.safety import mark_output

    files = RunFiles(tmp_path, Settings(), ())
    for step in (1, 2, 3):
        files.log({"step": step})
    files.trim_log(2)  # the folder is not marked as this project's run: its log is not the project's to rewrite
    assert [json.loads(ln)["step"] for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]
    mark_output(tmp_path, "train-teacher", ["metrics.jsonl"])
    files.trim_log(2)
    assert [json.loads(ln)["step"] for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    assert files.sample_path(12).relative_to(tmp_path).as_posix() == "samples/step_0000012.png"
    other_rank = RunFiles(tmp_path / "r1", Settings(), (), writer=False)
    other_rank.log({"step": 1})
    assert other_rank.save({"step": torch.tensor(1)}) is None and not (tmp_path / "r1").exists()


def test_time_budget():
    assert not TimeBudget(None).expired() and not TimeBudget(0).expired()  # None or 0: no limit
    assert TimeBudget(1e-12).expired() and not TimeBudget(60).expired()
    assert STOP_REASONS == ("done", "max_steps", "max_minutes")
