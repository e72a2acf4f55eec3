"""Exponential moving average of a model's parameters (buffers are copied)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``module``, an averaged copy of a model: p_ema <- d * p_ema + (1 - d) * p.

    With ``warmup=True`` the effective decay is ``min(decay, (1 + n) / (10 + n))`` after n updates,
    so early averages are not dominated by the random initialisation.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = True) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        n = self.num_updates
        return min(self.decay, (1.0 + n) / (10.0 + n))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        for pe, p in zip(self.module.parameters(), model.parameters(), strict=True):
            pe.mul_(d).add_(p.detach(), alpha=1.0 - d)
        for be, b in zip(self.module.buffers(), model.buffers(), strict=True):
            be.copy_(b)
        self.num_updates += 1

    def state_dict(self) -> dict:
        return {
            "module": self.module.state_dict(),
            "num_updates": torch.tensor(self.num_updates),
            "decay": torch.tensor(self.decay, dtype=torch.float64),
        }

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.num_updates = int(state["num_updates"])
        self.decay = float(state["decay"])
