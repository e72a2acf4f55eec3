"""Our own generator checkpoints: safetensors files whose metadata names the model kind and its config.

``register_generator("student")`` on a class makes it loadable; the class has a ``config`` dataclass attribute
and a ``from_config(dict)`` classmethod.  Nothing executable is ever read from a checkpoint.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..config import bundled_dir

_GENERATORS: dict[str, type] = {}
_DISCOVERED = False
# Bundled checkpoints in data/ by short name.
BUNDLED = {"offline-teacher": "offline_teacher.safetensors", "student": "student.safetensors"}


def _same_definition(a: object, b: object) -> bool:
    """Same module and qualified name: the one definition imported again (a reload), not a clash."""
    return (getattr(a, "__module__", None), getattr(a, "__qualname__", None)) == \
        (getattr(b, "__module__", None), getattr(b, "__qualname__", None))


def register_generator(kind: str) -> Callable[[type], type]:
    """Class decorator: checkpoints whose metadata says ``kind`` load into this class.  A second, different
    class under the same kind raises ValueError (registries refuse duplicates)."""
    def wrap(cls: type) -> type:
        if not hasattr(cls, "from_config"):
            raise TypeError(f"{cls.__name__} needs a from_config(dict) classmethod to be registered")
        old = _GENERATORS.get(kind)
        if old is not None and not _same_definition(old, cls):
            raise ValueError(f"generator kind {kind!r} is already registered by {old.__module__}.{old.__qualname__}; "
                             f"refusing {cls.__module__}.{cls.__qualname__}")
        _GENERATORS[kind] = cls
        cls.generator_kind = kind
        return cls

    return wrap


def registered_kinds() -> list[str]:
    _import_kind_modules()
    return sorted(_GENERATORS)


def _import_kind_modules() -> None:
    """Import every module below ``gsoc_helpers.models`` once, so each generator kind registers itself
    (no hand-kept list of modules to forget one from)."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    import pkgutil

    package = importlib.import_module(__name__.rsplit(".", 1)[0])
    for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
        importlib.import_module(info.name)
    _DISCOVERED = True


def _config_dict(model: nn.Module) -> dict:
    cfg = getattr(model, "config", None)
    if cfg is None:
        raise TypeError(f"{type(model).__name__} has no `config` attribute")
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)


def save_generator(model: nn.Module, path: str | os.PathLike, extra_metadata: dict | None = None) -> Path:
    """Write ``model``'s weights and config to ``path`` (.safetensors), atomically."""
    from safetensors.torch import save_file

    kind = getattr(model, "generator_kind", None)
    if kind is None:
        raise TypeError(f"{type(model).__name__} is not a registered generator kind")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": "gsoc-generator-v1", "kind": kind, "config": json.dumps(_config_dict(model)),
            "extra": json.dumps(extra_metadata or {})}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)
    return path


def read_generator_metadata(path: str | os.PathLike) -> dict:
    """The metadata of a generator checkpoint: {'kind', 'config': dict, 'extra': dict}."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except Exception as err:
        raise ValueError(f"{str(path)!r} is not a readable safetensors file: {err}") from None
    if meta.get("format") != "gsoc-generator-v1" or "kind" not in meta:
        raise ValueError(f"{str(path)!r} is a safetensors file but not a gsoc_helpers generator checkpoint "
                         "(no 'kind'/'config' metadata)")
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
        raise FileNotFoundError(f"generator checkpoint {name!r} not found; expected a file path, a StyleGAN2-ADA "
                                f".pkl, or one of the bundled names {sorted(BUNDLED)}")
    return path


def load_generator(path_or_name: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """A generator in eval mode from a bundled name, a .safetensors checkpoint, a StyleGAN2-ADA .pkl/URL
    (``"cifar10"``: NVIDIA's official CIFAR-10 snapshot, downloaded once into the cache), or a 2022 DiStyleGAN
    checkpoint (its folder with config.json + generator.pt, or the generator.pt itself)."""
    name = str(path_or_name)
    if name == "cifar10" or name.endswith(".pkl") or name.startswith(("http://", "https://", "file://")):
        from .stylegan2_ada import load_stylegan2_ada

        return load_stylegan2_ada(name).to(device).eval()
    if name not in BUNDLED and (Path(name).expanduser().is_dir() or name.endswith(".pt")):
        from .distylegan2022 import load_original

        return load_original(Path(name).expanduser()).to(device).eval()
    path = resolve_generator_path(name)
    meta = read_generator_metadata(path)
    _import_kind_modules()
    if meta["kind"] not in _GENERATORS:
        raise ValueError(f"{str(path)!r}: unknown generator kind {meta['kind']!r}; known: {sorted(_GENERATORS)}")
    from safetensors.torch import load_file

    try:
        model = _GENERATORS[meta["kind"]].from_config(meta["config"])
    except (TypeError, KeyError, ValueError) as err:
        raise ValueError(f"{str(path)!r}: its stored config does not fit a {meta['kind']} generator "
                         f"({type(err).__name__}: {' '.join(str(err).split())})") from None
    state = load_file(str(path))
    ours = model.state_dict()
    bad = [k for k in state if k in ours and tuple(state[k].shape) != tuple(ours[k].shape)]
    if bad:
        k = bad[0]
        raise ValueError(f"{str(path)!r} does not fit a {meta['kind']} generator with its config: {k!r} has shape "
                         f"{tuple(state[k].shape)}, the model expects {tuple(ours[k].shape)}"
                         + (f" ({len(bad) - 1} more mismatches)" if len(bad) > 1 else ""))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{str(path)!r} does not fit a {meta['kind']} generator with its config: "
                         f"missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.checkpoint_path = str(path)
    return model.to(device).eval()


def generator_checksum(path: str | os.PathLike) -> str:
    """sha256 hex digest of a checkpoint file."""
    from ..download import sha256_file

    return sha256_file(path)
