"""The generator protocol, stated once: what every part of the package (sampling, FID, the panel, export) may call.

A generator has integer attributes ``z_dim``, ``c_dim`` and ``img_resolution`` and is called as
``G(z float [N, z_dim], labels int64 [N], truncation_psi=1.0, noise_mode="const") -> float [N, 3, R, R]`` in about
[-1, 1] (R = ``img_resolution``). :func:`check_generator` is the one check (ValueError naming what is missing);
:func:`is_generator` the same rule as a yes/no (to tell a generator from a folder or an image set).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

PROTOCOL_ATTRIBUTES = ("z_dim", "c_dim", "img_resolution")


@runtime_checkable
class Generator(Protocol):
    z_dim: int
    c_dim: int
    img_resolution: int

    def __call__(self, z: Any, labels: Any, truncation_psi: Any = 1.0, noise_mode: str = "const") -> Any: ...


def protocol_problem(obj: Any) -> str | None:
    """Why ``obj`` does not follow the generator protocol, or None when it does."""
    if not callable(obj):
        return f"{type(obj).__name__} is not callable"
    for attr in PROTOCOL_ATTRIBUTES:
        value = getattr(obj, attr, None)
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{type(obj).__name__} lacks integer attribute {attr!r} of the generator protocol"
    return None


def is_generator(obj: Any) -> bool:
    """True when ``obj`` follows the generator protocol (:func:`protocol_problem` finds nothing)."""
    return protocol_problem(obj) is None


def check_generator(obj: Any) -> Generator:
    """``obj`` itself if it follows the generator protocol, else ValueError saying what it lacks."""
    problem = protocol_problem(obj)
    if problem:
        raise ValueError(problem)
    return obj
