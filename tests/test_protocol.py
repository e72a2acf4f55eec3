"""gsoc_helpers.models.protocol: the one check of the generator protocol (a ValueError naming what is missing) and
its yes/no form."""

from __future__ import annotations

import pytest
import torch
from doubles import LinearGenerator

from gsoc_helpers.models.protocol import Generator, check_generator, is_generator, protocol_problem


def test_a_protocol_generator_passes_and_is_returned():
    g = LinearGenerator()
    assert check_generator(g) is g and is_generator(g) and isinstance(g, Generator)
    assert protocol_problem(g) is None


class NoResolution(torch.nn.Module):
    z_dim, c_dim = 4, 10


class BoolDim(torch.nn.Module):
    z_dim, c_dim, img_resolution = True, 10, 32  # a bool is no integer attribute


class FloatResolution(torch.nn.Module):
    z_dim, c_dim, img_resolution = 4, 10, 32.0


@pytest.mark.parametrize(
    "bad,why",
    [
        (NoResolution(), "NoResolution lacks integer attribute 'img_resolution'"),
        (BoolDim(), "lacks integer attribute 'z_dim'"),
        (FloatResolution(), "'img_resolution'"),
        (object(), "object is not callable"),
    ],
)
def test_what_is_missing_is_named(bad, why):
    assert not is_generator(bad) and why in protocol_problem(bad)
    with pytest.raises(ValueError, match=why):
        check_generator(bad)
