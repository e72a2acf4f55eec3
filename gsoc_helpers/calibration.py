"""Calibration sources for post-training quantization: equal size, class-balanced, seeded.

Every source returns a :class:`CalibrationSet` with images float32 [N,3,32,32] in [0,1] and labels int64 [N]
(class ``c`` gets ``N//10`` or ``N//10 + 1`` images). Sources live in a registry: the table :data:`BUILTIN_SOURCES` at the end of this module, and
:func:`register_source` for more:

* ``real``        CIFAR-10 train images (``gsoc_helpers.data.load_cifar10``; ``train_source`` default "auto",
                  i.e. the official batches if present, else the bit-exact subset).
* ``offline-teacher`` / ``stylegan2-ada`` / ``student``  synthetic images: from a dataset folder (``dataset=``;
                  the synthetic format) or sampled on the fly from a generator following the generator protocol
                  (``generator=`` module or registry name; default the generator of the source's name: the bundled
                  CPU-trained stand-in teacher, NVIDIA's StyleGAN2-ADA CIFAR-10 snapshot, the bundled student).
* ``fractal``     FractalDB-style colourised IFS fractals, one IFS per class (``gsoc_helpers.fractals``).
* ``noise``       Gaussian N(0.5, 0.25^2) clipped to [0,1] (a floor; labels are nominal).
* ``bn-matching`` data-free images optimised so the classifier's BatchNorm inputs match its running statistics
                  (ZeroQ, Cai et al. 2020; DeepInversion, Yin et al. 2020), plus an optional cross-entropy term
                  towards the nominal label. Needs ``classifier=`` (a model taking [0,1] images).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import get_cache_dir, get_data_root
from .data import load_cifar10
from .data.dataset import balanced_labels
from .data.synthetic import SyntheticDataset, latents_for_range
from .defaults import BN_MATCHING_STEPS
from .fractals import fractal_images
from .models.registry import load_generator
from .pixels import to_uint8, uint8_to_unit
from .progress import progress as tqdm  # tqdm's API; one final line in notebooks

NUM_CLASSES = 10


@dataclass
class CalibrationSet:
    images: torch.Tensor  # float32 [N,3,32,32] in [0,1]
    labels: torch.Tensor  # int64 [N]
    source: str

    def __len__(self) -> int:
        return int(self.images.shape[0])


SourceFn = Callable[..., CalibrationSet]
_SOURCES: dict[str, SourceFn] = {}


def register_source(name: str) -> Callable[[SourceFn], SourceFn]:
    """Decorator: ``fn(size, seed, **options) -> CalibrationSet`` becomes available as ``name``."""

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
    """The keyword options ``source`` takes (beyond size and seed); a source passing ``**kw`` on names the function
    that takes them in its ``options_from`` attribute."""
    fn = _SOURCES[source]
    fn = getattr(fn, "options_from", fn)
    return tuple(
        n
        for n, p in inspect.signature(fn).parameters.items()
        if n not in ("kind", "size", "seed") and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
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


def get_calibration(source: str, size: int, seed: int = 0, **options) -> CalibrationSet:
    """``size`` class-balanced calibration images from ``source`` (see module doc), reproducible per seed."""
    if source not in _SOURCES:
        raise KeyError(f"unknown calibration source {source!r}; expected one of {sorted(_SOURCES)}")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"calibration size must be a positive integer, got {size!r}")
    check_source_options(source, options)
    out = _SOURCES[source](int(size), int(seed), **options)
    assert out.images.shape == (size, 3, 32, 32) and out.images.dtype == torch.float32
    return out


def _pick(labels: np.ndarray, want: np.ndarray, seed: int, what: str) -> np.ndarray:
    """Indices into ``labels`` giving ``want``'s class histogram, drawn without replacement (seeded)."""
    rng = np.random.default_rng(seed)
    out = []
    for c, k in zip(*np.unique(want, return_counts=True)):
        members = np.flatnonzero(labels == c)
        if len(members) < k:
            raise ValueError(f"{what}: class {c} has {len(members)} images, {k} requested")
        out.append(np.sort(rng.choice(members, size=k, replace=False)))
    return np.concatenate(out)


def _to_set(u8: np.ndarray, labels: np.ndarray, source: str) -> CalibrationSet:
    return CalibrationSet(uint8_to_unit(u8), torch.from_numpy(labels.astype(np.int64)), source)


@functools.lru_cache(maxsize=1)
def _cached_train(train_source: str, data_root: str | None, env_root: str | None, cache_dir: str):
    return load_cifar10("train", source=train_source, data_root=data_root)


def train_split(train_source: str = "auto", data_root=None):
    """CIFAR-10 train split (``load_cifar10``), kept in memory for the next call with the same source and root
    (a grid asks for it once per cell). Treat it as read-only."""
    root = str(data_root) if data_root is not None else None
    env = get_data_root()
    return _cached_train(train_source, root, str(env) if env else None, str(get_cache_dir()))


def real_source(size: int, seed: int, train_source: str = "auto", data_root=None) -> CalibrationSet:
    ds = train_split(train_source, data_root)
    idx = _pick(ds.labels, balanced_labels(size, seed), seed, f"CIFAR-10 train ({ds.source})")
    return _to_set(ds.images[idx], ds.labels[idx], f"real:{ds.source}")


def _synthetic(
    kind: str, size: int, seed: int, dataset=None, generator=None, truncation_psi: float = 1.0, batch_size: int = 64
) -> CalibrationSet:
    want = balanced_labels(size, seed)
    if dataset is not None:
        ds = SyntheticDataset(dataset)
        idx = _pick(ds.labels, want, seed, f"synthetic dataset {str(dataset)!r}")
        u8 = np.stack([ds.image(int(i)) for i in idx])
        return _to_set(u8, ds.labels[idx], f"{kind}:{dataset}")

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
    return _to_set(np.concatenate(imgs), want, f"{kind}:generator")


def _generator_source(name: str) -> SourceFn:
    """The calibration source of generator ``name`` (a :func:`load_generator` name)."""

    def source(size: int, seed: int, **kw) -> CalibrationSet:
        return _synthetic(name, size, seed, **kw)

    source.__qualname__ = source.__name__ = f"{name.replace('-', '_')}_source"
    source.options_from = _synthetic  # type: ignore[attr-defined]
    return source


def noise_source(size: int, seed: int, mean: float = 0.5, std: float = 0.25) -> CalibrationSet:
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(size, 3, 32, 32, generator=g) * std + mean).clamp_(0, 1)
    return CalibrationSet(x, torch.from_numpy(balanced_labels(size, seed)), "noise")


class BNStatsLoss:
    """Hooks every BatchNorm2d of ``model``; ``value()`` = sum over layers of ||mu_b - mu||^2 + ||var_b - var||^2
    between the batch statistics of the BN *inputs* and the running statistics (averaged over channels)."""

    def __init__(self, model: nn.Module) -> None:
        self.terms: list[torch.Tensor] = []
        self.handles = [
            m.register_forward_pre_hook(self._hook) for m in model.modules() if isinstance(m, nn.BatchNorm2d)
        ]
        if not self.handles:
            raise ValueError("bn-matching needs a classifier with BatchNorm2d layers")

    def _hook(self, bn: nn.BatchNorm2d, inputs: tuple) -> None:
        x = inputs[0]
        mu, var = x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=False)
        self.terms.append(F.mse_loss(mu, bn.running_mean) + F.mse_loss(var, bn.running_var))

    def value(self) -> torch.Tensor:
        out = torch.stack(self.terms).sum()
        self.terms = []
        return out

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def bn_loss(model: nn.Module, images: torch.Tensor) -> float:
    """The BN-statistics loss of ``images`` (float32 [N,3,32,32] in [0,1]) under ``model`` (eval mode)."""
    hooks = BNStatsLoss(model)
    try:
        with torch.no_grad():
            model.eval()(images)
        return float(hooks.value())
    finally:
        hooks.remove()


def bn_matching_source(
    size: int,
    seed: int,
    classifier: nn.Module | None = None,
    steps: int = BN_MATCHING_STEPS,
    lr: float = 0.1,
    ce_weight: float = 0.1,
    batch_size: int = 100,
    progress: bool = True,
) -> CalibrationSet:
    """Optimise logits ``p`` of images ``sigmoid(p)`` with Adam to match BN statistics (+ ``ce_weight`` * CE)."""
    if classifier is None:
        raise ValueError("the bn-matching source needs classifier= (a model taking [0,1] images)")

    labels = torch.from_numpy(balanced_labels(size, seed))
    g = torch.Generator().manual_seed(seed)
    init = torch.randn(size, 3, 32, 32, generator=g)
    model = classifier.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    hooks = BNStatsLoss(model)
    out = []
    try:
        batches = range(0, size, batch_size)
        bar = tqdm(total=len(batches) * steps, desc="bn-matching", disable=not progress, leave=False)
        for s in batches:
            param = init[s : s + batch_size].clone().requires_grad_(True)
            y = labels[s : s + batch_size]
            opt = torch.optim.Adam([param], lr=lr)
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                logits = model(torch.sigmoid(param))
                loss = hooks.value() + (ce_weight * F.cross_entropy(logits, y) if ce_weight > 0 else 0.0)
                loss.backward()
                opt.step()
                bar.update(1)
            hooks.terms = []
            out.append(torch.sigmoid(param.detach()))
        bar.close()
    finally:
        hooks.remove()
        for p in model.parameters():
            p.requires_grad_(True)
    return CalibrationSet(torch.cat(out).float(), labels, "bn-matching")


def fractal_source(size: int, seed: int, min_fill: float = 0.15, progress: bool = False) -> CalibrationSet:
    """FractalDB-style fractals (:mod:`gsoc_helpers.fractals`); labels name the IFS category, not a CIFAR-10 class."""
    images, labels = fractal_images(size, seed, float(min_fill), progress)
    return CalibrationSet(uint8_to_unit(images), torch.from_numpy(labels), "fractal")


# The built-in sources, in the order the tables list them; register_source adds more (refusing a taken name).
BUILTIN_SOURCES: dict[str, SourceFn] = {
    "real": real_source,
    "offline-teacher": _generator_source("offline-teacher"),
    "stylegan2-ada": _generator_source("stylegan2-ada"),
    "student": _generator_source("student"),
    "noise": noise_source,
    "bn-matching": bn_matching_source,
    "fractal": fractal_source,
}
for _name, _fn in BUILTIN_SOURCES.items():
    register_source(_name)(_fn)
