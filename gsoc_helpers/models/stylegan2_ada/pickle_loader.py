"""Safe loading of NVIDIA's StyleGAN2-ADA network pickles into our own :class:`Generator`.

The official snapshot (``stylegan2-ada-pytorch``, e.g. ``cifar10.pkl``) is a plain pickle of a dict
with keys ``G``, ``D``, ``G_ema``, ``augment_pipe``, ``training_set_kwargs``.  Each network is a
*persistent object* rebuilt through ``torch_utils.persistence._reconstruct_persistent_obj(meta)``
where ``meta = {type: 'class', version, module_src, class_name, state}`` and ``state`` is the
module's ``__dict__`` (``_parameters``, ``_buffers``, ``_modules``, ``_init_kwargs``, ...).

Our :class:`RestrictedUnpickler` resolves only an allow-list of globals to *our own* harmless
stand-ins: the persistent-object constructor returns an inert :class:`PersistentObject` record
(``module_src`` is kept as text, never executed), ``dnnlib.util.EasyDict`` becomes a plain dict
subclass, tensors are rebuilt from torch's legacy storage bytes with ``torch.load(weights_only=True)``.
Any other global raises :class:`StyleGAN2PickleError` naming it.
"""

from __future__ import annotations

import collections
import hashlib
import io
import os
import pickle
import urllib.parse
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...download import NVIDIA_CIFAR10_PKL, OfficialFile, fetch_official
from ...fileio import sha256_file
from ..fit import check_state_fits
from .networks import Generator, StyleGAN2Config

OFFICIAL_CIFAR10_URL = NVIDIA_CIFAR10_PKL.url
ALIASES = {"cifar10": OFFICIAL_CIFAR10_URL}
CONFIG_KEYS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")


class StyleGAN2PickleError(ValueError):
    """The file is not a loadable StyleGAN2-ADA network pickle (message names the file and why)."""


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a dict with attribute access."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class PersistentObject:
    """Inert record of one persistent network object (the source text is never executed)."""

    class_name: str
    version: Any
    module_src_sha256: str
    state: dict[str, Any]

    def state_dict(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Flattened parameters + buffers with dotted names, like ``nn.Module.state_dict``."""
        out: dict[str, torch.Tensor] = {}
        for key in ("_parameters", "_buffers"):
            for name, t in (self.state.get(key) or {}).items():
                if t is not None:
                    out[prefix + name] = t.detach() if isinstance(t, torch.Tensor) else t
        for name, child in (self.state.get("_modules") or {}).items():
            if isinstance(child, PersistentObject):
                out.update(child.state_dict(prefix + name + "."))
            elif child is not None:
                raise StyleGAN2PickleError(
                    f"sub-module {prefix + name!r} is {type(child).__name__}, not a persistent object"
                )
        return out


def _reconstruct_persistent_obj(meta: Any) -> PersistentObject:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise StyleGAN2PickleError("persistent object meta is not a dict with type='class' and a state dict")
    src = meta.get("module_src") or ""
    return PersistentObject(
        class_name=str(meta.get("class_name")),
        version=meta.get("version"),
        module_src_sha256=hashlib.sha256(str(src).encode()).hexdigest(),
        state=meta["state"],
    )


def _load_from_bytes(data: bytes) -> Any:
    """A storage saved with torch's legacy serializer; loaded with ``weights_only=True``."""
    if not isinstance(data, (bytes, bytearray)):
        raise StyleGAN2PickleError("torch.storage._load_from_bytes got a non-bytes argument")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obj = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    if not isinstance(obj, (torch.TypedStorage, torch.UntypedStorage)):
        raise StyleGAN2PickleError(f"embedded storage bytes hold a {type(obj).__name__}, expected a torch storage")
    if obj.nbytes() > len(data):
        raise StyleGAN2PickleError(
            f"embedded storage claims {obj.nbytes()} bytes but its record holds only {len(data)}"
        )
    return obj


def _storage_elements(storage: torch.TypedStorage | torch.UntypedStorage) -> tuple[int, torch.dtype]:
    """(number of elements really held, dtype) of a storage; UntypedStorage counts bytes."""
    dtype = storage.dtype if isinstance(storage, torch.TypedStorage) else torch.uint8
    itemsize = torch.empty((), dtype=dtype).element_size()
    return storage.nbytes() // itemsize, dtype


def check_tensor_bounds(storage_elements: int, offset: int, size: tuple, stride: tuple) -> None:
    """Refuse a tensor view that reaches outside its storage (which would grow the storage or read memory
    nobody wrote).  ``size``/``stride`` in elements; raises :class:`StyleGAN2PickleError`."""
    if len(size) != len(stride):
        raise StyleGAN2PickleError(f"tensor with size {size} and stride {stride} of different lengths")
    if offset < 0 or any(s < 0 for s in size) or any(st < 0 for st in stride):
        raise StyleGAN2PickleError(f"tensor with negative offset/size/stride ({offset}, {size}, {stride})")
    if 0 in size:
        return
    last = offset + sum((s - 1) * st for s, st in zip(size, stride, strict=True))
    if last >= storage_elements:
        raise StyleGAN2PickleError(
            f"tensor of size {size}, stride {stride}, offset {offset} needs element {last} but its storage holds "
            f"only {storage_elements} elements (a crafted or corrupt pickle)"
        )


def _rebuild_tensor_v2(
    storage: Any,
    offset: int,
    size: tuple,
    stride: tuple,
    requires_grad: bool = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> torch.Tensor:
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise StyleGAN2PickleError(f"tensor built from a {type(storage).__name__}, expected a torch storage")
    try:
        offset, size, stride = int(offset), tuple(int(s) for s in size), tuple(int(s) for s in stride)
    except (TypeError, ValueError):
        raise StyleGAN2PickleError(
            f"tensor with non-integer offset/size/stride ({offset!r}, {size!r}, {stride!r})"
        ) from None
    check_tensor_bounds(_storage_elements(storage)[0], offset, size, stride)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch._utils._rebuild_tensor(storage, offset, size, stride)


def _rebuild_parameter(
    data: torch.Tensor, requires_grad: bool = False, backward_hooks: Any = None, state: Any = None
) -> nn.Parameter:
    if not isinstance(data, torch.Tensor):
        raise StyleGAN2PickleError("parameter rebuilt from a non-tensor")
    return nn.Parameter(data, requires_grad=False)


def _numpy_scalar(dtype: np.dtype, data: Any = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, (bytes, bytearray)):
        raise StyleGAN2PickleError(f"numpy scalar of dtype {dtype!r} refused (only plain numeric scalars allowed)")
    return np.frombuffer(bytes(data), dtype=dtype)[0]


def _numpy_dtype(*args: Any) -> np.dtype:
    if not args or not isinstance(args[0], str):
        raise StyleGAN2PickleError(f"numpy.dtype{args!r} refused")
    return np.dtype(args[0])


ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _numpy_dtype,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that maps an allow-list of globals to our own stand-ins and refuses the rest."""

    def __init__(self, file: Any, source: str = "<stream>") -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise StyleGAN2PickleError(
                f"{self.source}: refusing global '{module}.{name}' (not in the StyleGAN2-ADA allow-list; "
                "nothing from the file was executed)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise StyleGAN2PickleError(f"{self.source}: persistent ids are not part of the StyleGAN2-ADA pickle format")


def read_stylegan2_pickle(path: str | os.PathLike) -> dict[str, Any]:
    """Parse an official network pickle safely -> dict (networks as :class:`PersistentObject`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"StyleGAN2-ADA pickle {str(path)!r} not found")
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(0)
        if head.startswith(b"PK"):
            raise StyleGAN2PickleError(f"{path}: is a zip archive (a torch.save checkpoint?), not a StyleGAN2-ADA .pkl")
        if not head.startswith(b"\x80"):
            raise StyleGAN2PickleError(
                f"{path}: does not start with a pickle protocol header; not a StyleGAN2-ADA .pkl "
                "(safetensors / other format?)"
            )
        try:
            data = RestrictedUnpickler(f, str(path)).load()
        except StyleGAN2PickleError:
            raise
        except (
            EOFError,
            pickle.UnpicklingError,
            ValueError,
            TypeError,
            AttributeError,
            IndexError,
            RuntimeError,
            KeyError,
        ) as err:
            raise StyleGAN2PickleError(
                f"{path}: unreadable or truncated pickle ({type(err).__name__}: {err}); re-download the file"
            ) from err
    if not isinstance(data, dict) or "G_ema" not in data:
        keys = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise StyleGAN2PickleError(
            f"{path}: expected a dict with key 'G_ema' (G, D, G_ema, augment_pipe, training_set_kwargs), found {keys}"
        )
    return data


def generator_from_record(rec: Any, source: str = "<pickle>") -> Generator:
    """Build our :class:`Generator` from a persistent ``Generator`` record; names/shapes checked strictly."""
    if not isinstance(rec, PersistentObject) or rec.class_name != "Generator":
        name = rec.class_name if isinstance(rec, PersistentObject) else type(rec).__name__
        raise StyleGAN2PickleError(f"{source}: G_ema is {name!r}, expected a persistent 'Generator'")
    kwargs = dict(rec.state.get("_init_kwargs") or {})
    kwargs.pop("class_name", None)
    unknown = set(kwargs) - set(CONFIG_KEYS)
    if unknown:
        raise StyleGAN2PickleError(f"{source}: unsupported generator options {sorted(unknown)}")
    kwargs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in kwargs.items()}
    try:
        model = Generator(StyleGAN2Config.from_dict(kwargs))
    except (KeyError, ValueError, TypeError) as err:
        raise StyleGAN2PickleError(f"{source}: cannot build the generator from {kwargs}: {err}") from err
    sd = rec.state_dict()
    check_state_fits(
        model, sd, f"{source}: parameter names/shapes differ from the StyleGAN2-ADA generator", StyleGAN2PickleError
    )
    model.load_state_dict({k: v.to(torch.float32) for k, v in sd.items()}, strict=True)
    return model.eval().requires_grad_(False)


def download(url: str, cache_dir: str | os.PathLike | None = None, expected_sha256: str | None = None) -> Path:
    """Download a user's ``url`` once into ``<cache>/stylegan2-ada/url-<hash of url>/<name>`` through
    :func:`gsoc_helpers.download.fetch_official` (sha256 recorded beside it; a cached file that no longer matches is
    downloaded again).  The mirror setting does not apply: the file comes from ``url`` itself."""
    f = OfficialFile(
        url=url,
        cache_subdir="stylegan2-ada",
        data_root_path=None,
        sha256_prefix=expected_sha256,
        mirrored=False,
        file_name=Path(urllib.parse.urlparse(url).path).name or "network.pkl",
        kind="stylegan2-pickle",  # parsed as one before it is recorded, whatever the URL ends in
    )
    try:
        return fetch_official(f, cache_dir=cache_dir)
    except ValueError as err:  # checksum mismatch; network errors stay OSError
        raise StyleGAN2PickleError(str(err)) from err


def resolve_source(
    source: str | os.PathLike, cache_dir: str | os.PathLike | None = None, expected_sha256: str | None = None
) -> Path:
    """Alias ('cifar10'), URL (http/https/file, downloaded & cached) or local path -> local file."""
    s = str(source)
    s = ALIASES.get(s, s)
    if s == OFFICIAL_CIFAR10_URL:  # the official snapshot: data root, cache, mirror or NVIDIA (gsoc_helpers.download)
        path = fetch_official(NVIDIA_CIFAR10_PKL, cache_dir=cache_dir)
    elif urllib.parse.urlparse(s).scheme in ("http", "https", "file", "ftp"):
        return download(s, cache_dir, expected_sha256)  # checked against expected_sha256 while downloading
    else:
        path = Path(s).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"StyleGAN2-ADA pickle {s!r} not found; expected a .pkl path, a URL or one of {sorted(ALIASES)}"
            )
    if expected_sha256 is not None and sha256_file(path) != expected_sha256.lower():
        raise StyleGAN2PickleError(f"{path}: sha256 {sha256_file(path)} differs from expected {expected_sha256}")
    return path


def load_stylegan2_ada(
    source: str | os.PathLike = "cifar10",
    device: str | torch.device = "cpu",
    key: str = "G_ema",
    cache_dir: str | os.PathLike | None = None,
    expected_sha256: str | None = None,
) -> Generator:
    """Load NVIDIA's StyleGAN2-ADA network pickle (path, URL or 'cifar10') as our :class:`Generator`.

    Nothing from the file is executed.  Returns the eval-mode generator on ``device`` with attributes
    ``source`` (path) and ``checksum`` (sha256 of the pickle).
    """
    path = resolve_source(source, cache_dir, expected_sha256)
    data = read_stylegan2_pickle(path)
    if key not in data:
        raise KeyError(f"{path}: no network {key!r}; available {sorted(map(str, data))}")
    model = generator_from_record(data[key], str(path))
    model.source = str(path)
    model.checksum = sha256_file(path)
    return model.to(device)
