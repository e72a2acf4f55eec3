"""Safe loading of NVIDIA-format StyleGAN2-ADA pickles (fixtures built here with the official structure)."""

from __future__ import annotations

import collections
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from gsoc_helpers import load_stylegan2_ada
from gsoc_helpers.models.stylegan2_ada import CIFAR10_CONFIG, Generator, StyleGAN2PickleError, read_stylegan2_pickle

from official_fixtures import (
    BUFFERS,
    NVIDIA_CIFAR10_KWARGS,
    SMALL_KW,
    official_generator_shapes,
    small_fixture,
    write_fixture_pickle,
)


def test_fixture_uses_official_globals_only(tmp_path):
    path, _ = small_fixture(tmp_path)
    blob = path.read_bytes()
    for name in (
        b"torch_utils.persistence\n_reconstruct_persistent_obj",
        b"dnnlib.util\nEasyDict",
        b"torch.storage\n_load_from_bytes",
        b"torch._utils\n_rebuild_parameter\n",
        b"collections\nOrderedDict",
        b"numpy._core.multiarray\nscalar",
    ):
        assert name in blob
    assert not any(m in sys.modules for m in ("torch_utils", "dnnlib"))


@pytest.mark.parametrize("numpy1", [False, True])
def test_load_small_fixture_exact_weights_and_outputs(tmp_path, numpy1):
    path, sd = small_fixture(tmp_path, numpy1_names=numpy1)
    g = load_stylegan2_ada(path)
    assert isinstance(g, Generator) and not g.training
    assert (g.z_dim, g.c_dim, g.img_resolution) == (8, 4, 16)
    ours = g.state_dict()
    assert set(ours) == set(sd) and all(torch.equal(ours[k], sd[k]) for k in sd)
    ref = Generator(g.config).eval()
    ref.load_state_dict(sd)
    z, c = torch.randn(3, 8), torch.tensor([0, 1, 3])
    assert torch.equal(g(z, c, truncation_psi=0.7), ref(z, c, truncation_psi=0.7))
    assert len(g.checksum) == 64 and g.source == str(path)
    raw = read_stylegan2_pickle(path)
    assert set(raw) == {"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"}
    assert raw["G_ema"].state["_modules"]["synthesis"].state["_modules"]["b8"].state["_modules"]["conv0"].state[
        "act_gain"
    ] == pytest.approx(np.sqrt(2))


def test_full_cifar10_names_and_shapes_from_independent_table(tmp_path):
    shapes = official_generator_shapes()
    assert sum(int(np.prod(s)) for k, s in shapes.items() if not k.endswith(BUFFERS)) == 20_215_315
    ours = {k: tuple(v.shape) for k, v in Generator(CIFAR10_CONFIG).state_dict().items()}
    assert ours == shapes
    sd = {k: torch.zeros(s) for k, s in shapes.items()}
    sd["mapping.w_avg"] = torch.arange(512, dtype=torch.float32)
    g = load_stylegan2_ada(write_fixture_pickle(tmp_path / "cifar10.pkl", sd, NVIDIA_CIFAR10_KWARGS))
    assert sum(p.numel() for p in g.parameters()) == 20_215_315
    assert torch.equal(g.mapping.w_avg, sd["mapping.w_avg"])


def test_malicious_global_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps({"G_ema": Evil()}, protocol=3))
    with pytest.raises(StyleGAN2PickleError, match=r"refusing global '(posix|os|nt)\.system'"):
        load_stylegan2_ada(bad)
    assert not marker.exists()
    bad.write_bytes(pickle.dumps({"G_ema": pickle.loads}, protocol=3))
    with pytest.raises(StyleGAN2PickleError, match="_pickle.loads"):
        load_stylegan2_ada(bad)


def test_truncated_and_foreign_files_give_clear_errors(tmp_path):
    path, sd = small_fixture(tmp_path)
    trunc = tmp_path / "trunc.pkl"
    trunc.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(StyleGAN2PickleError, match="truncated"):
        load_stylegan2_ada(trunc)
    zipped = tmp_path / "ours.pt"
    torch.save(sd, zipped)
    with pytest.raises(StyleGAN2PickleError, match="zip archive"):
        load_stylegan2_ada(zipped)
    st = tmp_path / "model.safetensors"
    st.write_bytes((16).to_bytes(8, "little") + b'{"a":1}         ')
    with pytest.raises(StyleGAN2PickleError, match="pickle protocol header"):
        load_stylegan2_ada(st)
    classifier = tmp_path / "classifier.pkl"
    classifier.write_bytes(pickle.dumps({"conv1.weight": 1, "fc.bias": 2}, protocol=3))
    with pytest.raises(StyleGAN2PickleError, match="expected a dict with key 'G_ema'"):
        load_stylegan2_ada(classifier)
    with pytest.raises(FileNotFoundError, match="missing.pkl"):
        load_stylegan2_ada(tmp_path / "missing.pkl")


def test_shape_mismatch_named(tmp_path):
    shapes = official_generator_shapes(z_dim=8, c_dim=4, w_dim=6, res=16, channel_base=64, channel_max=8)
    sd = {k: torch.randn(s) for k, s in shapes.items()}
    sd["synthesis.b8.conv0.weight"] = torch.randn(8, 8, 1, 1)
    del sd["mapping.fc1.bias"]
    path = write_fixture_pickle(tmp_path / "bad.pkl", sd, SMALL_KW)
    with pytest.raises(StyleGAN2PickleError, match=r"mapping\.fc1\.bias.*synthesis\.b8\.conv0\.weight"):
        load_stylegan2_ada(path)


def test_url_download_cached_with_checksum(tmp_path, monkeypatch):
    path, _ = small_fixture(tmp_path)
    cache = tmp_path / "cache"
    url = path.as_uri()
    g = load_stylegan2_ada(url, cache_dir=cache)
    cached = Path(g.source)  # keyed by the URL, apart from official files of the same name (issue #21)
    assert cached.is_file() and cached.name == "net.pkl" and cached.parent.parent == cache / "stylegan2-ada"
    assert cached.parent.name.startswith("url-")
    assert cached.with_name("net.pkl.sha256").read_text().split()[0] == g.checksum
    path.unlink()  # second call must use the cache
    assert load_stylegan2_ada(url, cache_dir=cache).checksum == g.checksum
    other = tmp_path / "n2.pkl"
    other.write_bytes(cached.read_bytes())
    with pytest.raises(StyleGAN2PickleError, match="checksum mismatch"):
        load_stylegan2_ada(other.as_uri(), cache_dir=cache, expected_sha256="0" * 64)
    assert not list((cache / "stylegan2-ada").rglob("n2.pkl"))
    cached.write_bytes(b"corrupted")  # a corrupted cache entry is downloaded again (source gone -> clear error)
    with pytest.raises(OSError):
        load_stylegan2_ada(url, cache_dir=cache)


def test_official_alias_fetched_through_mirror(tmp_path, monkeypatch):
    """'cifar10' resolves to NVIDIA's URL; with $GSOC_DOWNLOAD_MIRROR the file named cifar10.pkl comes from there."""
    from gsoc_helpers.download import NVIDIA_CIFAR10_PKL

    from official_fixtures import loopback_mirror, write_cifar10_snapshot

    assert NVIDIA_CIFAR10_PKL.url == "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/cifar10.pkl"
    (tmp_path / "mirror").mkdir()
    write_cifar10_snapshot(tmp_path / "mirror" / "cifar10.pkl")
    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GSOC_DATA_ROOT", raising=False)
    with loopback_mirror(tmp_path / "mirror") as (base, requested):
        monkeypatch.setenv("GSOC_DOWNLOAD_MIRROR", base)
        g = load_stylegan2_ada("cifar10")
        assert requested == ["/cifar10.pkl"] and (g.c_dim, g.img_resolution) == (10, 32)
        assert (tmp_path / "cache" / "stylegan2-ada" / "cifar10.pkl.sha256").read_text().split()[0] == g.checksum
        (tmp_path / "mirror" / "cifar10.pkl").write_bytes(b"changed upstream")
        assert load_stylegan2_ada("cifar10").checksum == g.checksum  # cached copy, recorded sha256 matches
        assert requested == ["/cifar10.pkl"]


def test_registry_roundtrip_and_pkl_dispatch(tmp_path):
    from gsoc_helpers.models.registry import load_generator, save_generator

    path, _ = small_fixture(tmp_path)
    g = load_generator(str(path))  # .pkl -> the StyleGAN2-ADA loader
    assert isinstance(g, Generator) and g.generator_kind == "stylegan2-ada"
    st = save_generator(g, tmp_path / "teacher.safetensors")
    g2 = load_generator(st)
    z, c = torch.randn(2, 8), torch.tensor([2, 3])
    assert isinstance(g2, Generator) and torch.equal(g(z, c), g2(z, c))


class _CraftedTensor:
    """Pickles as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride)`` with arbitrary numbers."""

    def __init__(self, storage: Any, offset: int, size: tuple, stride: tuple) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, (
            self.storage,
            self.offset,
            self.size,
            self.stride,
            False,
            collections.OrderedDict(),
        )


@pytest.mark.parametrize(
    "offset,size,stride,why",
    [
        (0, (10_000_000_000,), (1,), "needs element"),  # 40 GB of float32 from a 16-byte storage
        (5, (1,), (1,), "needs element"),  # offset past the end: would read unwritten memory
        (0, (2, 3), (3, 1), "needs element"),  # 6 elements from 4
        (-1, (1,), (1,), "negative"),
    ],
)
def test_tensor_outside_its_storage_is_refused(tmp_path, offset, size, stride, why):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        storage = torch.arange(4, dtype=torch.float32).storage()  # a legacy TypedStorage, as NVIDIA's pickles hold
    blob = pickle.dumps({"G_ema": _CraftedTensor(storage, offset, size, stride)}, protocol=3)
    assert len(blob) < 1000
    path = tmp_path / "crafted.pkl"
    path.write_bytes(blob)
    with pytest.raises(StyleGAN2PickleError, match=why):
        read_stylegan2_pickle(path)


def test_tensor_inside_its_storage_still_loads(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        storage = torch.arange(6, dtype=torch.float32).storage()
    blob = pickle.dumps({"G_ema": _CraftedTensor(storage, 2, (2, 2), (1, 2))}, protocol=3)
    (tmp_path / "ok.pkl").write_bytes(blob)
    t = read_stylegan2_pickle(tmp_path / "ok.pkl")["G_ema"]
    assert torch.equal(t, torch.tensor([[2.0, 4.0], [3.0, 5.0]]))


@pytest.mark.slow
def test_saved_stylegan2_teacher_loads_in_a_fresh_process(tmp_path):
    """The registry finds the 'stylegan2-ada' kind without the module having been imported beforehand."""
    import subprocess

    from gsoc_helpers.models.registry import load_generator, save_generator

    path, _ = small_fixture(tmp_path)
    st = save_generator(load_generator(str(path)), tmp_path / "teacher.safetensors")
    code = (
        "import sys; from gsoc_helpers.models.registry import load_generator; "
        "assert 'gsoc_helpers.models.stylegan2_ada' not in sys.modules; "
        f"g = load_generator({str(st)!r}); print(type(g).__name__, g.generator_kind)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["Generator", "stylegan2-ada"]
