"""gsoc_helpers.pixels: the one pair of [0,1] <-> uint8 conversions and NVIDIA's [-1,1] -> uint8 mapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gsoc_helpers.pixels import nvidia_uint8, to_uint8, uint8_to_float, uint8_to_unit, unit_to_uint8


def test_nvidia_mapping_truncates_like_stylegan2_ada():
    x = torch.tensor([-1.0, -0.5, 0.0, 0.999, 1.0, 2.0]).view(1, 1, 1, 6).expand(1, 3, 1, 6)
    assert nvidia_uint8(x)[0, 0, 0].tolist() == [0, 64, 128, 255, 255, 255]  # (x * 127.5 + 128).clamp, truncated
    assert to_uint8(x).shape == (1, 1, 6, 3) and to_uint8(x).dtype == np.uint8


def test_round_trips():
    u = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 3), dtype=np.uint8)
    x = uint8_to_unit(u)
    assert x.shape == (2, 3, 4, 5) and x.dtype == torch.float32 and x.is_contiguous() and 0 <= x.min() <= x.max() <= 1
    np.testing.assert_array_equal(unit_to_uint8(x), u)
    y = uint8_to_float(u)
    assert -1 <= y.min() <= y.max() <= 1
    assert np.abs(to_uint8(y).astype(int) - u.astype(int)).max() <= 1  # NVIDIA's +128 offset: within one level


def test_read_only_arrays_convert_without_a_warning(recwarn):
    u = np.zeros((1, 2, 2, 3), np.uint8)
    u.flags.writeable = False  # memory-mapped datasets are read-only
    assert uint8_to_unit(u).shape == (1, 3, 2, 2) and uint8_to_float(u).shape == (1, 3, 2, 2)
    assert not [w for w in recwarn if "not writable" in str(w.message)]


def test_bad_layouts_are_refused():
    with pytest.raises(ValueError, match=r"\[N, H, W, 3\]"):
        uint8_to_unit(np.zeros((2, 3, 4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        to_uint8(torch.zeros(2, 4, 4, 3))
