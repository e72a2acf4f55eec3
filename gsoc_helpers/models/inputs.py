"""The generator protocol's inputs, checked in one place for every generator of this package."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..quiet import tracing


def onehot_labels(z: torch.Tensor, labels: torch.Tensor, z_dim: int, c_dim: int) -> torch.Tensor:
    """Check ``z`` float [N, z_dim] and ``labels`` (int [N] in [0, c_dim) or one-hot [N, c_dim]); return the labels
    one-hot, [N, c_dim] in ``z``'s dtype.  ValueError names the bad input.  Shape and range checks are skipped while
    tracing (traced shapes are tensors: checking them would bake the example's shapes into the graph)."""
    checking = not tracing()
    if z.dim() != 2 or (checking and z.shape[1] != z_dim):
        raise ValueError(f"expected z of shape [N, {z_dim}], got {tuple(z.shape)}")
    if labels.dim() == 1:
        if checking and labels.numel():
            lo, hi = int(labels.min()), int(labels.max())
            if lo < 0 or hi >= c_dim:
                raise ValueError(f"labels must be in [0, {c_dim}), got range [{lo}, {hi}]")
        onehot = F.one_hot(labels.long().clamp(0, c_dim - 1), c_dim)
    elif labels.dim() == 2:
        if checking and labels.shape[1] != c_dim:
            raise ValueError(f"one-hot labels need {c_dim} columns, got {tuple(labels.shape)}")
        onehot = labels
    else:
        raise ValueError(f"labels must be int64 [N] or one-hot [N, {c_dim}], got {tuple(labels.shape)}")
    if checking and onehot.shape[0] != z.shape[0]:
        raise ValueError(f"{z.shape[0]} latents but {onehot.shape[0]} labels")
    return onehot.to(z.dtype)
