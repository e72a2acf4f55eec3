"""The one door to generators: :func:`load_generator` turns a name, URL or checkpoint path into a generator.

Our own checkpoints are safetensors files whose metadata names the model kind and its config. A kind is a class
with a ``config`` dataclass attribute and a ``from_config(dict)`` classmethod, registered with
``@register_generator("kind")`` in its module; :data:`KIND_MODULES` lists the module of every built-in kind, so
loading a checkpoint imports just that module (a duplicate kind is refused). Nothing executable is ever read from
a checkpoint.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ..config import bundled_dir
from ..fileio import atomic_path
from .fit import check_state_fits

_GENERATORS: dict[str, Any] = {}  # kind -> class with from_config(dict)
# The module that registers each built-in generator kind (imported when a checkpoint of that kind is loaded).
KIND_MODULES = {
    "offline-teacher": "gsoc_helpers.models.offline_teacher",
    "student": "gsoc_helpers.models.student",
    "stylegan2-ada": "gsoc_helpers.models.stylegan2_ada.networks",
    "distylegan2022": "gsoc_helpers.models.distylegan2022",
}
# Bundled checkpoints in data/ by short name.
BUNDLED = {"offline-teacher": "offline_teacher.safetensors", "student": "student.safetensors"}
# Other names of a generator (the panel's and the CLI's short names) -> the name load_generator resolves.
ALIASES = {"stylegan2-ada": "cifar10"}
_CACHE: dict[tuple[str, str], nn.Module] = {}


def _same_definition(a: object, b: object) -> bool:
    """Same module and qualified name: the one definition imported again (a reload), not a clash."""
    return (getattr(a, "__module__", None), getattr(a, "__qualname__", None)) == (
        getattr(b, "__module__", None),
        getattr(b, "__qualname__", None),
    )


def register_generator(kind: str) -> Callable[[type], type]:
    """Class decorator: checkpoints whose metadata says ``kind`` load into this class.  A second, different
    class under the same kind raises ValueError (registries refuse duplicates)."""

    def wrap(cls: type) -> type:
        if not hasattr(cls, "from_config"):
            raise TypeError(f"{cls.__name__} needs a from_config(dict) classmethod to be registered")
        old = _GENERATORS.get(kind)
        if old is not None and not _same_definition(old, cls):
            raise ValueError(
                f"generator kind {kind!r} is already registered by {old.__module__}.{old.__qualname__}; "
                f"refusing {cls.__module__}.{cls.__qualname__}"
            )
        _GENERATORS[kind] = cls
        setattr(cls, "generator_kind", kind)  # noqa: B010  (cls is any class)
        return cls

    return wrap


def _kind_class(kind: str, path: Path) -> Any:
    """The class registered for ``kind``, importing its module from :data:`KIND_MODULES` first."""
    if kind not in _GENERATORS and kind in KIND_MODULES:
        importlib.import_module(KIND_MODULES[kind])
    if kind not in _GENERATORS:
        raise ValueError(
            f"{str(path)!r}: unknown generator kind {kind!r}; known: {sorted(set(KIND_MODULES) | set(_GENERATORS))}"
        )
    return _GENERATORS[kind]


def _config_dict(model: nn.Module) -> dict:
    cfg: Any = getattr(model, "config", None)
    if cfg is None:
        raise TypeError(f"{type(model).__name__} has no `config` attribute")
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type) else dict(cfg)


def save_generator(model: nn.Module, path: str | os.PathLike, extra_metadata: dict | None = None) -> Path:
    """Write ``model``'s weights and config to ``path`` (.safetensors), atomically."""
    kind = getattr(model, "generator_kind", None)
    if kind is None:
        raise TypeError(f"{type(model).__name__} is not a registered generator kind")
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {
        "format": "gsoc-generator-v1",
        "kind": kind,
        "config": json.dumps(_config_dict(model)),
        "extra": json.dumps(extra_metadata or {}),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def read_generator_metadata(path: str | os.PathLike) -> dict:
    """The metadata of a generator checkpoint: {'kind', 'config': dict, 'extra': dict}."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except Exception as err:
        raise ValueError(f"{str(path)!r} is not a readable safetensors file: {err}") from None
    if meta.get("format") != "gsoc-generator-v1" or "kind" not in meta:
        raise ValueError(
            f"{str(path)!r} is a safetensors file but not a gsoc_helpers generator checkpoint "
            "(no 'kind'/'config' metadata)"
        )
    return {"kind": meta["kind"], "config": json.loads(meta["config"]), "extra": json.loads(meta.get("extra", "{}"))}


def resolve_generator_path(path_or_name: str | os.PathLike) -> Path:
    name = str(path_or_name)
    if name in BUNDLED:
        path = bundled_dir() / BUNDLED[name]
        if not path.is_file():
            raise FileNotFoundError(f"bundled generator {name!r} not found at {str(path)!r}")
        return path
    path = Path(name).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"generator checkpoint {name!r} not found; expected a file path, a StyleGAN2-ADA "
            f".pkl, or one of the bundled names {sorted(BUNDLED)}"
        )
    return path


def canonical_name(name: str | os.PathLike) -> str:
    """``name`` with :data:`ALIASES` applied ("stylegan2-ada" -> "cifar10"); paths and URLs as given."""
    return ALIASES.get(str(name), str(name))


def load_generator(
    name: str | os.PathLike | nn.Module, device: str | torch.device = "cpu", cache: bool = False
) -> nn.Module:
    """A generator in eval mode on ``device`` from:

    * a bundled name (``"offline-teacher"``, ``"student"``);
    * ``"cifar10"`` or its alias ``"stylegan2-ada"`` (:data:`ALIASES`; NVIDIA's official StyleGAN2-ADA CIFAR-10 snapshot, downloaded once into the cache), a
      StyleGAN2-ADA ``.pkl`` path or URL;
    * a ``.safetensors`` checkpoint of a registered kind;
    * a 2022 DiStyleGAN checkpoint (its folder with config.json + generator.pt, or the generator.pt itself);
    * a module, returned as it is.

    With ``cache=True`` a generator is loaded once per (name, device) and the same object returned after (the
    panel, notebooks). Raises FileNotFoundError / ValueError for bad names or files.
    """
    if isinstance(name, nn.Module):
        return name
    key = (canonical_name(name), str(device))
    if cache and key in _CACHE:
        return _CACHE[key]
    model = _load(key[0]).to(device).eval()
    if cache:
        _CACHE[key] = model
    return model


def _load(name: str) -> nn.Module:
    if name == "cifar10" or name.endswith(".pkl") or name.startswith(("http://", "https://", "file://")):
        from .stylegan2_ada import load_stylegan2_ada  # kind modules import this registry: loaded when used

        return load_stylegan2_ada(name)
    if name not in BUNDLED and (Path(name).expanduser().is_dir() or name.endswith(".pt")):
        from .distylegan2022 import load_original

        return load_original(Path(name).expanduser())
    path = resolve_generator_path(name)
    meta = read_generator_metadata(path)
    cls = _kind_class(meta["kind"], path)

    try:
        model = cls.from_config(meta["config"])
    except (TypeError, KeyError, ValueError) as err:
        raise ValueError(
            f"{str(path)!r}: its stored config does not fit a {meta['kind']} generator "
            f"({type(err).__name__}: {' '.join(str(err).split())})"
        ) from None
    state = load_file(str(path))
    check_state_fits(model, state, f"{str(path)!r} does not fit a {meta['kind']} generator with its config")
    model.load_state_dict(state)
    model.checkpoint_path = str(path)
    return model
