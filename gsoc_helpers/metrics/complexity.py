"""Model size and compute: parameters and multiply-accumulates (MACs) per forward pass."""

from __future__ import annotations

import torch
from torch import nn


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, *example_inputs, **kwargs) -> int:
    """MACs of one ``model(*example_inputs, **kwargs)`` call, counted by torch's FlopCounterMode.

    FlopCounterMode counts 2 FLOPs per multiply-add of convolutions and matrix products (functional calls
    included, e.g. StyleGAN's grouped modulated convolutions); element-wise work is not counted.
    The count is for the whole batch: divide by the batch size for MACs per image.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*example_inputs, **kwargs)
    return int(counter.get_total_flops()) // 2
