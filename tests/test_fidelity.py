"""torch-fidelity metrics: offline Inception (golden features, FID sanity) and input plumbing (tiny extractor)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from doubles import LinearGenerator
from torch import nn

from gsoc_helpers.metrics import fidelity as F
from gsoc_helpers.metrics import inception as I

FIXTURES = Path(__file__).parent / "fixtures"


def _golden_images() -> np.ndarray:
    spec = importlib.util.spec_from_file_location("make_inception_golden", FIXTURES / "make_inception_golden.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.golden_images()


def _offline_root(shared_data_root: Path) -> Path:
    if not (shared_data_root / "inception" / I.OFFLINE_INCEPTION_FILE).is_file():
        pytest.skip("offline Inception trunk not in the data root")
    return shared_data_root


# ------------------------------------------------------------------------- real Inception (data root needed)


@pytest.mark.slow
def test_golden_inception_features(shared_data_root):
    root = _offline_root(shared_data_root)
    feats = F.extract_features(_golden_images(), data_root=root)
    golden = np.load(FIXTURES / "inception_golden.npy")
    assert feats.shape == golden.shape == (4, 2048)
    # fixture written on an AVX-512/VNNI CPU; an AVX2-only CPU differs by at most 4.8e-6 (|f| up to 9.3): the
    # bound leaves 20x for other kernels, while wrong weights or resizing move features by > 0.1
    np.testing.assert_allclose(feats, golden, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_fid_self_zero_and_real_halves_small(shared_data_root):
    from gsoc_helpers.data import load_cifar10

    root = _offline_root(shared_data_root)
    test = load_cifar10("test", source="exact", data_root=root)
    idx = np.random.default_rng(0).permutation(len(test))[:8]
    noise = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    feats = F.extract_features(np.concatenate([test.images[idx], noise]), data_root=root, batch_size=12)
    real, fake = feats[:8], feats[8:]
    self_fid = F.metrics_from_features(real, real, metrics=("fid",))["fid"]
    halves = F.metrics_from_features(real[:4], real[4:], metrics=("fid",))["fid"]
    vs_noise = F.metrics_from_features(real[:4], fake, metrics=("fid",))["fid"]
    assert abs(self_fid) < 1e-2
    assert 0 < halves < vs_noise  # disjoint real halves: positive, far below real-vs-noise


def test_offline_inception_refuses_inception_score(shared_data_root):
    root = _offline_root(shared_data_root)
    with pytest.raises(I.InceptionScoreUnavailable, match="classification"):
        F.compute_fidelity(np.zeros((4, 32, 32, 3), np.uint8), metrics=("isc",), data_root=str(root))
    cls = I.offline_extractor_class()
    with pytest.raises(I.InceptionScoreUnavailable, match="logits"):
        cls("x", ["logits_unbiased"], feature_extractor_weights_path=str(root / "inception" / I.OFFLINE_INCEPTION_FILE))


# ------------------------------------------------------------------------- no data root needed


def test_offline_weights_checked_by_sha256(tmp_path):
    bad = tmp_path / "inception" / I.OFFLINE_INCEPTION_FILE
    bad.parent.mkdir()
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="sha256"):
        I.load_offline_inception_state(bad)
    with pytest.raises(FileNotFoundError, match="not found"):
        I.load_offline_inception_state(tmp_path / "missing.pth")
    choice = I.resolve_extractor(tmp_path)  # file present -> offline extractor chosen (and registered)
    assert choice.name == I.OFFLINE_EXTRACTOR and not choice.has_fc


def test_resolve_extractor_without_data_root(monkeypatch, tmp_path):
    """No offline trunk: torch-fidelity's weights file comes through gsoc_helpers.download (here a loopback mirror)."""
    import json

    from gsoc_helpers.download import TORCH_FIDELITY_INCEPTION

    from official_fixtures import loopback_mirror, sha256_of

    monkeypatch.delenv("GSOC_DATA_ROOT", raising=False)
    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "mirror").mkdir()
    served = tmp_path / "mirror" / TORCH_FIDELITY_INCEPTION.name
    served.write_bytes(b"stand-in bytes; resolve_extractor only fetches")
    (tmp_path / "sums.json").write_text(json.dumps({served.name: sha256_of(served)}))
    monkeypatch.setenv("GSOC_DOWNLOAD_CHECKSUMS", str(tmp_path / "sums.json"))
    with loopback_mirror(tmp_path / "mirror") as (base, requested):
        monkeypatch.setenv("GSOC_DOWNLOAD_MIRROR", base)
        choice = I.resolve_extractor()
    assert choice.name == I.ONLINE_EXTRACTOR and choice.has_fc and requested == [f"/{served.name}"]
    assert choice.weights_path == str(tmp_path / "cache" / "inception" / served.name)
    with pytest.raises(FileNotFoundError, match="downloads are disabled"):
        I.resolve_extractor(tmp_path, allow_download=False)


def _register_tiny() -> str:
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    class Tiny(FeatureExtractorBase):
        """uint8 [N, 3, H, W] -> float32 [N, 48]: 4x4 average-pooled pixels (a stand-in for Inception)."""

        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)

        @staticmethod
        def get_provided_features_list():
            return ("tiny",)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return "tiny"

        def forward(self, x):
            assert x.dtype == torch.uint8 and x.shape[1] == 3
            return (nn.functional.adaptive_avg_pool2d(x.float() / 255, 4).flatten(1),)

    if "tiny-test" not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor("tiny-test", Tiny)
    return "tiny-test"


def TinyGenerator() -> LinearGenerator:
    """Generator protocol: z [N, 8], labels int64 [N] -> [N, 3, 8, 8] in ~[-1, 1]; records the labels it saw."""
    return LinearGenerator(z_dim=8, c_dim=10, res=8)


def test_compute_fidelity_generator_vs_cifar_reference_caches(data_root):
    name = _register_tiny()
    gen = TinyGenerator()
    res = F.compute_fidelity(
        gen,
        metrics=("fid", "kid", "prc"),
        n_generated=40,
        reference_split="train",
        reference_source="exact",
        reference_n=20,
        feature_extractor=name,
        batch_size=16,
    )
    assert set(res.values) >= {"fid", "kid", "precision", "recall"}
    assert res.values["fid"] > 0 and np.isfinite(res.values["fid"])
    p = res.protocol
    assert (p["n_candidate"], p["reference_n"], p["reference_split"], p["feature_extractor"]) == (40, 20, "train", name)
    assert p["candidate"].startswith("generator:LinearGenerator") and p["kid_subset_size"] == 20
    assert sorted(np.bincount(gen.seen)) == [4] * 10  # class-balanced labels
    cached = list((Path(data_root).parent / "cache" / "fidelity").glob("*train-n20*"))
    assert cached, "reference features/statistics should be cached per (dataset, split, n)"
    again = F.compute_fidelity(
        TinyGenerator(),
        metrics=("fid", "kid", "prc"),
        n_generated=40,
        reference_split="train",
        reference_source="exact",
        reference_n=20,
        feature_extractor=name,
        batch_size=16,
    )
    assert again.values["fid"] == pytest.approx(res.values["fid"], rel=1e-9)


def test_compute_fidelity_synthetic_folder_and_arrays(tmp_path, monkeypatch):
    from gsoc_helpers.data.synthetic import SyntheticDatasetWriter

    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    name = _register_tiny()
    rng = np.random.default_rng(0)
    w = SyntheticDatasetWriter(
        tmp_path / "syn",
        generator_name="fake",
        generator_checksum="0" * 64,
        num_classes=2,
        per_class=6,
        z_dim=4,
        shard_size=12,
        class_names=("a", "b"),
    )
    imgs = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    w.write_shard(0, imgs, np.arange(12, dtype=np.int64) % 2, np.zeros((12, 4), np.float32))
    res = F.compute_fidelity(str(tmp_path / "syn"), reference=imgs, metrics=("fid",), feature_extractor=name)
    assert abs(res.values["fid"]) < 1e-6  # same images
    assert res.protocol["candidate"] == "synthetic:syn" and res.protocol["n_candidate"] == 12
    other = rng.integers(0, 128, (12, 32, 32, 3), dtype=np.uint8)
    res2 = F.compute_fidelity(imgs, reference=other, metrics=("fid", "kid"), feature_extractor=name)
    assert res2.values["fid"] > 1e-3 and "kid" in res2.values and "12" in str(res2)
    with pytest.raises(ValueError, match="n=50"):
        F.compute_fidelity(imgs, reference=other, n_candidate=50, feature_extractor=name)
    with pytest.raises(ValueError, match="unknown metrics"):
        F.compute_fidelity(imgs, reference=other, metrics=("fjd",), feature_extractor=name)
    with pytest.raises(FileNotFoundError, match="manifest"):
        F.compute_fidelity(str(tmp_path), reference=other, feature_extractor=name)


class _RunsCode:
    """A pickle that, when loaded with weights_only=False, creates ``marker`` (stands in for os.system)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.slow
def test_poisoned_fidelity_cache_never_runs_code(data_root, tmp_path):
    """Files planted under every name torch-fidelity's cache would reload are ignored; the project's own
    ``.npz`` cache is checked against its sha256 sidecar and recomputed when tampered with."""
    import pickle

    from gsoc_helpers.metrics import feature_cache

    name = _register_tiny()
    kw = dict(
        metrics=("fid", "kid"),
        n_generated=20,
        reference_split="train",
        reference_source="exact",
        reference_n=20,
        feature_extractor=name,
        batch_size=16,
    )
    cache = Path(data_root).parent / "cache" / "fidelity"
    cache.mkdir(parents=True)
    marker = tmp_path / "pwned"
    stem = "gsoc-cifar10-exact-train-n20"
    for suffix in (f"-{name}-features-tiny", f"-{name}-stat-fid-tiny", f"-{name}-statistics-tiny"):
        (cache / f"{stem}{suffix}.pt").write_bytes(pickle.dumps(_RunsCode(marker)))
    first = F.compute_fidelity(TinyGenerator(), **kw)
    assert not marker.exists(), "a planted cache file was unpickled"
    npz = sorted(cache.glob("*.npz"))
    assert len(npz) == 1 and np.load(npz[0], allow_pickle=False)["features"].shape == (20, 48)
    # tamper with the cached features: the sidecar no longer matches, so they are recomputed, not trusted
    feature_cache.save_features(npz[0].with_name("other.npz"), np.zeros((20, 48), np.float32))
    npz[0].write_bytes(npz[0].with_name("other.npz").read_bytes())
    assert feature_cache.load_features(npz[0]) is None
    again = F.compute_fidelity(TinyGenerator(), **kw)
    assert again.values["fid"] == pytest.approx(first.values["fid"], rel=1e-9)
    assert feature_cache.load_features(npz[0]) is not None
