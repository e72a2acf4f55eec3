"""gsoc_helpers.models.fit: one state-dict fit check whose message names the first misfits in key order."""

from __future__ import annotations

import pytest
import torch

from gsoc_helpers.models.fit import check_state_fits, state_mismatches


def _model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))


def test_a_fitting_state_and_a_missing_num_batches_tracked_fit():
    model = _model()
    state = model.state_dict()
    assert state_mismatches(model, state) == []
    assert state_mismatches(model, {k: v for k, v in state.items() if "num_batches_tracked" not in k}) == []
    check_state_fits(model, state, "ckpt")  # no error


def test_the_first_misfits_are_named():
    model = _model()
    bad = {**model.state_dict(), "0.weight": torch.zeros(3, 5), "extra": torch.zeros(1)}
    del bad["0.bias"]
    with pytest.raises(
        ValueError,
        match=r"^ckpt: missing key '0.bias'; unexpected key 'extra'; key '0.weight' has "
        r"shape \(3, 5\), expected \(3, 2\)$",
    ):
        check_state_fits(model, bad, "ckpt")


def test_more_than_three_misfits_are_counted_and_the_error_type_is_the_callers():
    model = _model()
    with pytest.raises(
        KeyError,
        match=r"w: missing key '0.weight'; missing key '0.bias'; missing key '1.weight' "
        r"\(and 3 more\)",
    ):
        check_state_fits(model, {}, "w", error=KeyError)
    assert len(state_mismatches(model, {})) == 6  # 0.weight, 0.bias, 1.weight, 1.bias, running mean and var
