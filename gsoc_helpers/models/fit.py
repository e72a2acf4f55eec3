"""Does a state dict fit a model? One check for every loader (our checkpoints, the 2022 DiStyleGAN, StyleGAN2-ADA
pickles, a user's classifier weights), so each error names the first key that does not fit."""

from __future__ import annotations

from collections.abc import Mapping

from torch import nn


def state_mismatches(model: nn.Module, state: Mapping[str, object]) -> list[str]:
    """Every misfit of ``state`` against ``model.state_dict()``: ``missing key 'k'``, then ``unexpected key 'k'``,
    then ``key 'k' has shape (a,), expected (b,)`` (each in key order); empty when it fits."""
    want = model.state_dict()
    # BatchNorm fills in a missing num_batches_tracked itself (checkpoints from before torch 0.4.1 lack it)
    out = [f"missing key {k!r}" for k in want if k not in state and not k.endswith(".num_batches_tracked")]
    out += [f"unexpected key {k!r}" for k in state if k not in want]
    for k, v in want.items():
        shape = tuple(getattr(state[k], "shape", ())) if k in state else tuple(v.shape)  # missing: listed above
        if shape != tuple(v.shape):
            out.append(f"key {k!r} has shape {shape}, expected {tuple(v.shape)}")
    return out


def check_state_fits(
    model: nn.Module, state: Mapping[str, object], what: str, error: type[Exception] = ValueError
) -> None:
    """Raise ``error(f"{what}: <first misfits> (and N more)")`` unless ``state`` fits ``model`` exactly; the
    message names the first three misfits in the model's key order."""
    bad = state_mismatches(model, state)
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise error(f"{what}: {'; '.join(bad[:3])}{more}")
