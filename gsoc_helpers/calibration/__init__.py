"""Calibration sources for post-training quantization: equal size, class-balanced, seeded, at the model's input.

Every source returns a :class:`CalibrationSet` with images float32 [N,3,S,S] in [0,1] (``S`` =
:attr:`InputContract.image_size`) and labels int64 [N] balanced over the classes the source draws from. Sources live in
a registry: the table :data:`BUILTIN_SOURCES` at the end of this module, and :func:`register_source` for more:

* ``real``        CIFAR-10 train images of the protocol's calibration pool (``gsoc_helpers.study.splits``: never
                  the validation images; ``train_source`` default "auto", i.e. the official batches if present,
                  else the bit-exact subset); 32-pixel pictures, upsampled (bilinear, antialiased) when the model
                  takes another size; CIFAR-10 labels.
* ``photos``      crops of the protocol's calibration photos (natural photos from installed wheels, split by photo:
                  never a validation or test photo) at the model's size; nominal labels.
* ``offline-teacher`` / ``stylegan2-ada`` / ``student``  synthetic CIFAR-10 images: from a dataset folder
                  (``dataset=``; the synthetic format) or sampled on the fly from a generator following the generator
                  protocol (``generator=`` module or registry name; default the generator of the source's name: the
                  bundled CPU-trained stand-in teacher, NVIDIA's StyleGAN2-ADA CIFAR-10 snapshot, the bundled
                  student); 32-pixel pictures, upsampled like ``real``.
* ``fractal``     FractalDB-style colourised IFS fractals rendered at the model's size, one IFS per class
                  (``gsoc_helpers.calibration.fractals``).
* ``noise``       Gaussian N(0.5, 0.25^2) clipped to [0,1] at the model's size (a floor; labels are nominal).
* ``bn-matching`` data-free images optimised at the model's size so the classifier's BatchNorm inputs match its
                  running statistics (:mod:`gsoc_helpers.calibration.bn_matching`). Needs ``classifier=`` (taking [0,1] images).

Where a source has no classes of its own (noise, fractal, bn-matching) its labels are balanced over
:attr:`InputContract.num_classes`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import get_cache_dir, get_data_root
from ..data import load_cifar10
from ..data.dataset import balanced_labels
from ..data.synthetic import SyntheticDataset, latents_for_range
from ..fileio import sha256_file
from ..models.contract import InputContract
from ..models.registry import canonical_name, load_generator, resolve_generator_path
from ..pixels import resize, to_uint8, uint8_to_unit
from ..study.splits import calibration_pool
from .bn_matching import invert, settings_for
from .fractals import fractal_images


@dataclass(frozen=True, eq=False)
class SourceContext:
    """What every calibration source may use beyond size and seed: the model's input, the classifier itself (a
    torch model taking [0,1] images; a source that optimises through it declares a ``classifier`` option) and
    whether to show progress (for a source with a ``progress`` option). General code passes the context; only the
    source knows what it needs."""

    model_input: InputContract = InputContract()
    classifier: nn.Module | None = None
    progress: bool = False


def needs_classifier(source: str) -> bool:
    """True when ``source`` makes its images through the classifier (it takes a ``classifier`` option)."""
    return "classifier" in source_option_names(source)


@dataclass
class CalibrationSet:
    images: torch.Tensor  # float32 [N,3,S,S] in [0,1]
    labels: torch.Tensor  # int64 [N]
    source: str  # what the images are (says "upsampled from 32x32" for CIFAR-10 pictures at another size)

    def __len__(self) -> int:
        return int(self.images.shape[0])


SourceFn = Callable[..., CalibrationSet]
_SOURCES: dict[str, SourceFn] = {}


def register_source(name: str) -> Callable[[SourceFn], SourceFn]:
    """Decorator: ``fn(size, seed, model_input, **options) -> CalibrationSet`` becomes available as ``name``."""

    def deco(fn: SourceFn) -> SourceFn:
        old = _SOURCES.get(name)
        if old is not None and (old.__module__, old.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(
                f"calibration source {name!r} is already registered by {old.__module__}."
                f"{old.__qualname__}; refusing {fn.__module__}.{fn.__qualname__}"
            )
        _SOURCES[name] = fn
        return fn

    return deco


def available_sources() -> tuple[str, ...]:
    return tuple(_SOURCES)


def source_option_names(source: str) -> tuple[str, ...]:
    """The keyword options ``source`` takes (beyond size, seed and model_input); a source passing ``**kw`` on names
    the function that takes them in its ``options_from`` attribute."""
    fn = _SOURCES[source]
    fn = getattr(fn, "options_from", fn)
    return tuple(
        n
        for n, p in inspect.signature(fn).parameters.items()
        if n not in ("kind", "size", "seed", "model_input") and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )


def check_source_options(source: str, options: dict) -> None:
    """ValueError (one line, naming the allowed keys) for an option ``source`` does not take."""
    if source not in _SOURCES:
        raise KeyError(f"unknown calibration source {source!r}; expected one of {sorted(_SOURCES)}")
    allowed = source_option_names(source)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"calibration source {source!r} has no option {', '.join(map(repr, unknown))}; its options "
            f"are {', '.join(allowed) or '(none)'}"
        )


def get_calibration(
    source: str,
    size: int,
    seed: int = 0,
    model_input: InputContract | None = None,
    context: SourceContext | None = None,
    **options,
) -> CalibrationSet:
    """``size`` class-balanced calibration images from ``source`` (see module doc) at the model's input
    (``model_input``, else ``context.model_input``, else CIFAR-10's 32x32 with 10 classes), reproducible per seed.
    ``context`` fills the ``classifier`` and ``progress`` options of a source that takes them (unless given)."""
    if source not in _SOURCES:
        raise KeyError(f"unknown calibration source {source!r}; expected one of {sorted(_SOURCES)}")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"calibration size must be a positive integer, got {size!r}")
    inp = model_input or (context.model_input if context is not None else InputContract())
    inp.validate()
    check_source_options(source, options)
    if context is not None:
        takes = source_option_names(source)
        if "classifier" in takes and context.classifier is not None:
            options.setdefault("classifier", context.classifier)
        if "progress" in takes:
            options.setdefault("progress", context.progress)
    out = _SOURCES[source](int(size), int(seed), inp, **options)
    side = inp.image_size
    if out.images.shape != (size, 3, side, side) or out.images.dtype != torch.float32:
        raise ValueError(
            f"calibration source {source!r} returned {out.images.dtype} {tuple(out.images.shape)}, "
            f"expected float32 {(size, 3, side, side)}"
        )
    return out


def _cifar_set(u8: np.ndarray, labels: np.ndarray, source: str, model_input: InputContract) -> CalibrationSet:
    """CIFAR-10 pictures uint8 [N,32,32,3] at the model's size; the source name says when they were upsampled."""
    side = model_input.image_size
    images = resize(uint8_to_unit(u8), side).clamp_(0, 1)
    if side != u8.shape[1]:
        source += f" ({u8.shape[1]}x{u8.shape[2]} CIFAR-10 pictures upsampled to {side}x{side})"
    return CalibrationSet(images.contiguous(), torch.from_numpy(labels.astype(np.int64)), source)


def _pick(labels: np.ndarray, want: np.ndarray, seed: int, what: str) -> np.ndarray:
    """Indices into ``labels`` giving ``want``'s class histogram, drawn without replacement (seeded)."""
    rng = np.random.default_rng(seed)
    out = []
    for c, k in zip(*np.unique(want, return_counts=True), strict=True):
        members = np.flatnonzero(labels == c)
        if len(members) < k:
            raise ValueError(f"{what}: class {c} has {len(members)} images, {k} requested")
        out.append(np.sort(rng.choice(members, size=k, replace=False)))
    return np.concatenate(out)


@functools.lru_cache(maxsize=1)
def _cached_train(train_source: str, data_root: str | None, env_root: str | None, cache_dir: str):
    return load_cifar10("train", source=train_source, data_root=data_root)


def train_split(train_source: str = "auto", data_root=None):
    """CIFAR-10 train split (``load_cifar10``), kept in memory for the next call with the same source and root
    (a grid asks for it once per cell). Treat it as read-only."""
    root = str(data_root) if data_root is not None else None
    env = get_data_root()
    return _cached_train(train_source, root, str(env) if env else None, str(get_cache_dir()))


def real_source(
    size: int, seed: int, model_input: InputContract, train_source: str = "auto", data_root=None
) -> CalibrationSet:
    ds = train_split(train_source, data_root)
    pool = calibration_pool(ds.labels)  # never a validation image
    idx = pool[
        _pick(ds.labels[pool], balanced_labels(size, seed), seed, f"CIFAR-10 train calibration pool ({ds.source})")
    ]
    return _cifar_set(ds.images[idx], ds.labels[idx], f"real:{ds.source}", model_input)


def photos_source(size: int, seed: int, model_input: InputContract) -> CalibrationSet:
    """``size`` crops (seeded) of the protocol's calibration photos at the model's size; nominal labels."""
    from ..quantization.photos import photo_views, split_photos

    photos = split_photos()["calibration"]
    if not photos:
        raise ValueError("the photos source needs scikit-image (pip install scikit-image; foolbox adds more photos)")
    views = -(-size // len(photos))
    images = photo_views(photos, model_input.image_size, views, seed)
    pick = np.sort(np.random.default_rng(seed).choice(len(images), size=size, replace=False))
    labels = torch.from_numpy(balanced_labels(size, seed, model_input.num_classes))
    return CalibrationSet(
        images[pick].contiguous(), labels, f"photos: {len(photos)} calibration photos, {views} crops each"
    )


def _synthetic(
    kind: str,
    size: int,
    seed: int,
    model_input: InputContract,
    dataset=None,
    generator=None,
    truncation_psi: float = 1.0,
    batch_size: int = 64,
) -> CalibrationSet:
    want = balanced_labels(size, seed)
    if dataset is not None:
        ds = SyntheticDataset(dataset)
        idx = _pick(ds.labels, want, seed, f"synthetic dataset {str(dataset)!r}")
        u8 = np.stack([ds.image(int(i)) for i in idx])
        return _cifar_set(u8, ds.labels[idx], f"{kind}:{dataset}", model_input)

    if generator is None or isinstance(generator, str):
        generator = load_generator(generator or kind)
    z = latents_for_range(seed, 0, size, generator.z_dim)
    imgs = []
    with torch.no_grad():
        for s in range(0, size, batch_size):
            out = generator(
                torch.from_numpy(z[s : s + batch_size]),
                torch.from_numpy(want[s : s + batch_size]),
                truncation_psi=truncation_psi,
                noise_mode="const",
            )
            imgs.append(to_uint8(out))
    return _cifar_set(np.concatenate(imgs), want, f"{kind}:generator", model_input)


@functools.lru_cache(maxsize=32)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    """sha256[:12] of a file, cached per (path, mtime, size)."""
    return sha256_file(path)[:12]


def _generator_identity(name: str, dataset=None, generator=None, **_) -> str:
    """``"weights=<sha256[:12]>"`` of the checkpoint file the source samples from ("" for a dataset folder, a module
    or a name not resolving to a local file): keys of stored results change when the weights do."""
    if dataset is not None or not (generator is None or isinstance(generator, str)):
        return ""
    try:
        path = resolve_generator_path(canonical_name(generator or name))
    except FileNotFoundError:
        return ""
    st = path.stat()
    return "weights=" + _file_digest(str(path.resolve()), st.st_mtime_ns, st.st_size)


def source_identity(source: str, options: dict | None = None) -> str:
    """What a source's images depend on beyond its name, size, seed and options, as a short string ("" for most
    sources; a generator source: its weights' digest). Study keys carry it, so results of other weights are never
    reused."""
    fn = getattr(_SOURCES.get(source), "identity", None)
    return fn(**dict(options or {})) if fn is not None else ""


def _generator_source(name: str) -> SourceFn:
    """The calibration source of generator ``name`` (a :func:`load_generator` name)."""

    def source(size: int, seed: int, model_input: InputContract, **kw) -> CalibrationSet:
        return _synthetic(name, size, seed, model_input, **kw)

    source.__qualname__ = source.__name__ = f"{name.replace('-', '_')}_source"
    source.options_from = _synthetic  # type: ignore[attr-defined]
    source.identity = functools.partial(_generator_identity, name)  # type: ignore[attr-defined]
    return source


def noise_source(
    size: int, seed: int, model_input: InputContract, mean: float = 0.5, std: float = 0.25
) -> CalibrationSet:
    g = torch.Generator().manual_seed(seed)
    side = model_input.image_size
    x = (torch.randn(size, 3, side, side, generator=g) * std + mean).clamp_(0, 1)
    return CalibrationSet(x, torch.from_numpy(balanced_labels(size, seed, model_input.num_classes)), "noise")


def bn_matching_source(
    size: int,
    seed: int,
    model_input: InputContract,
    classifier: nn.Module | None = None,
    steps: int | None = None,
    lr: float | None = None,
    ce_weight: float | None = None,
    tv_weight: float | None = None,
    l2_weight: float | None = None,
    jitter: float | None = None,
    flip: bool | None = None,
    warmup: float | None = None,
    batch_size: int | None = None,
    channels_last: bool | None = None,
    bf16: bool | None = None,
    cosine: bool | None = None,
    progress: bool = True,
) -> CalibrationSet:
    """Images at the model's input size optimised through ``classifier`` (a model taking [0,1] images, its own
    preprocessing inside) so its BatchNorm inputs match their running statistics (:mod:`gsoc_helpers.calibration.bn_matching`);
    the start is the model's mean/std in [0,1] plus Gaussian noise; nominal labels over the model's classes.
    Options left None take the recipe for the model's size (``bn_matching.settings_for``; ``bf16`` None: where the
    CPU has native bf16, if the recipe asks for it)."""
    if classifier is None:
        raise ValueError("the bn-matching source needs classifier= (a model taking [0,1] images)")
    side = model_input.image_size
    given: dict[str, Any] = dict(
        steps=steps, lr=lr, ce_weight=ce_weight, tv_weight=tv_weight, l2_weight=l2_weight, jitter=jitter, flip=flip,
        warmup=warmup, batch_size=batch_size, channels_last=channels_last, bf16=bf16, cosine=cosine,
    )  # fmt: skip
    s = replace(settings_for(side), **{k: v for k, v in given.items() if v is not None})
    labels = torch.from_numpy(balanced_labels(size, seed, model_input.num_classes))
    g = torch.Generator().manual_seed(seed)
    mean = torch.tensor(model_input.unit_mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(model_input.unit_std, dtype=torch.float32).view(1, -1, 1, 1)
    start = (mean + std * torch.randn(size, 3, side, side, generator=g)).clamp(0.01, 0.99)
    images = invert(classifier, torch.logit(start), labels, s, seed, progress)
    return CalibrationSet(images, labels, f"bn-matching at {side}x{side} ({s.steps} steps)")


def fractal_source(
    size: int, seed: int, model_input: InputContract, min_fill: float = 0.15, progress: bool = False
) -> CalibrationSet:
    """FractalDB-style fractals rendered at the model's size (:mod:`gsoc_helpers.calibration.fractals`); a label names an IFS
    category (one per class of the model), not a class of the model."""
    images, labels = fractal_images(
        size, seed, float(min_fill), progress, model_input.image_size, model_input.num_classes
    )
    return CalibrationSet(uint8_to_unit(images), torch.from_numpy(labels), "fractal")


# The built-in sources, in the order the tables list them; register_source adds more (refusing a taken name).
BUILTIN_SOURCES: dict[str, SourceFn] = {
    "real": real_source,
    "photos": photos_source,
    "offline-teacher": _generator_source("offline-teacher"),
    "stylegan2-ada": _generator_source("stylegan2-ada"),
    "student": _generator_source("student"),
    "noise": noise_source,
    "bn-matching": bn_matching_source,
    "fractal": fractal_source,
}
for _name, _fn in BUILTIN_SOURCES.items():
    register_source(_name)(_fn)
