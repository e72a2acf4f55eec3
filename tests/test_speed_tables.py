"""Notebook 03's speed columns: every generator and backend measured in the same interleaved rounds; the CPU's ISA
and OpenVINO's default precision named (no speed is asserted)."""

from __future__ import annotations

import pytest
import torch
from torch import nn


class Lin(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.img_resolution = 4, 3, 4
        torch.manual_seed(width)
        self.lin = nn.Linear(4, 3 * 4 * 4)
        self.calls = 0

    def forward(self, z, labels, truncation_psi=1.0, noise_mode="const"):
        self.calls += 1
        return torch.tanh(self.lin(z)).reshape(-1, 3, 4, 4)


def test_generator_speeds_interleave_models_and_name_backends(tmp_path, monkeypatch):
    pytest.importorskip("openvino")
    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    from gsoc_helpers.metrics.report import generator_speeds, machine_description
    from gsoc_helpers.openvino.core import cpu_isa, default_precision

    models = {"teacher": Lin(1), "student": Lin(2)}
    speeds = generator_speeds(models, batches=(1, 2), openvino=True, min_seconds=0.0, rounds=3)
    cols = {f"PyTorch img/s b{b}" for b in (1, 2)} | {f"OpenVINO f32 img/s b{b}" for b in (1, 2)}
    if default_precision() != "f32":
        cols |= {f"OpenVINO {default_precision()} img/s b{b}" for b in (1, 2)}
    assert set(speeds) == {"teacher", "student"} and all(set(v) == cols for v in speeds.values())
    assert all(x > 0 for v in speeds.values() for x in v.values())
    eager = {"teacher": Lin(1), "student": Lin(2)}
    assert set(generator_speeds(eager, batches=(1, 2), openvino=False, min_seconds=0.0, rounds=3)["student"]) == {
        "PyTorch img/s b1",
        "PyTorch img/s b2",
    }
    assert eager["teacher"].calls == eager["student"].calls == 2 * (1 + 3)  # per batch: warm-up + 3 rounds
    assert cpu_isa() in machine_description("cpu") and default_precision() in machine_description("cpu")
