"""Safe loading of NVIDIA-format StyleGAN2-ADA pickles (fixtures built here with the official structure)."""
from __future__ import annotations

import collections
import contextlib
import os
import pickle
import sys
import types
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import torch

from gsoc_helpers import load_stylegan2_ada
from gsoc_helpers.models.stylegan2_ada import CIFAR10_CONFIG, Generator, StyleGAN2PickleError, read_stylegan2_pickle

BUFFERS = ("resample_filter", "noise_const", "w_avg")
FAKE_MODULES = ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util")


def official_generator_shapes(z_dim: int = 512, c_dim: int = 10, w_dim: int = 512, res: int = 32, img_channels: int = 3,
                              channel_base: int = 32768, channel_max: int = 512, map_layers: int = 2) -> dict:
    """Independent table of the official generator's state-dict names and shapes ('skip' architecture)."""
    t: dict[str, tuple] = {}
    ch = lambda r: min(channel_base // r, channel_max)  # noqa: E731
    r, prev = 4, 0
    while r <= res:
        b = f"synthesis.b{r}."
        if r == 4:
            t[b + "const"] = (ch(4), 4, 4)
        t[b + "resample_filter"] = (4, 4)
        convs = ["conv1"] if r == 4 else ["conv0", "conv1"]
        for conv in convs:
            cin = prev if conv == "conv0" else ch(r)
            t[b + conv + ".weight"] = (ch(r), cin, 3, 3)
            t[b + conv + ".noise_strength"] = ()
            t[b + conv + ".bias"] = (ch(r),)
            t[b + conv + ".resample_filter"] = (4, 4)
            t[b + conv + ".noise_const"] = (r, r)
            t[b + conv + ".affine.weight"] = (cin, w_dim)
            t[b + conv + ".affine.bias"] = (cin,)
        t[b + "torgb.weight"] = (img_channels, ch(r), 1, 1)
        t[b + "torgb.bias"] = (img_channels,)
        t[b + "torgb.affine.weight"] = (ch(r), w_dim)
        t[b + "torgb.affine.bias"] = (ch(r),)
        prev, r = ch(r), r * 2
    t["mapping.embed.weight"] = (w_dim, c_dim)
    t["mapping.embed.bias"] = (w_dim,)
    feats = [z_dim + w_dim] + [w_dim] * map_layers
    for i in range(map_layers):
        t[f"mapping.fc{i}.weight"] = (feats[i + 1], feats[i])
        t[f"mapping.fc{i}.bias"] = (feats[i + 1],)
    t["mapping.w_avg"] = (w_dim,)
    return t


def _class_name(path: str) -> str:
    last = path.split(".")[-1] if path else ""
    if path == "":
        return "Generator"
    return {"mapping": "MappingNetwork", "synthesis": "SynthesisNetwork", "torgb": "ToRGBLayer",
            "affine": "FullyConnectedLayer", "embed": "FullyConnectedLayer"}.get(
        last, "SynthesisBlock" if last.startswith("b") else "SynthesisLayer" if last.startswith("conv")
        else "FullyConnectedLayer")


@contextlib.contextmanager
def fake_nvidia_globals() -> Iterator[tuple[Any, type]]:
    """Temporarily insert modules named like NVIDIA's so pickle records those global names (pickling only)."""
    saved = {k: sys.modules.get(k) for k in FAKE_MODULES}
    mods = {k: types.ModuleType(k) for k in FAKE_MODULES}

    def _reconstruct_persistent_obj(meta):  # never called: the loader must not use it
        raise AssertionError("fixture stand-in called")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    easy = type("EasyDict", (dict,), {"__module__": "dnnlib.util"})
    mods["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
    mods["dnnlib.util"].EasyDict = easy
    sys.modules.update(mods)
    try:
        yield _reconstruct_persistent_obj, easy
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class _Persistent:
    """Pickles as ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` like NVIDIA's decorator."""

    def __init__(self, fn: Any, class_name: str, state: dict) -> None:
        self.fn, self.class_name, self.state = fn, class_name, state

    def __reduce__(self):
        meta = dict(type="class", version=4, module_src=f"class {self.class_name}: raise SystemExit  # never run\n",
                    class_name=self.class_name, state=self.state)
        return self.fn, (meta,)


def _module_state(params: dict, buffers: dict, modules: dict, extra: dict) -> dict:
    state = {"training": False, "_parameters": collections.OrderedDict(params),
             "_buffers": collections.OrderedDict(buffers), "_non_persistent_buffers_set": set(),
             "_backward_hooks": collections.OrderedDict(), "_forward_hooks": collections.OrderedDict(),
             "_forward_pre_hooks": collections.OrderedDict(), "_state_dict_hooks": collections.OrderedDict(),
             "_load_state_dict_pre_hooks": collections.OrderedDict(), "_modules": collections.OrderedDict(modules)}
    state.update(extra)
    return state


def _tree(fn: Any, easy: type, sd: dict, prefix: str, init_kwargs: dict) -> _Persistent:
    own = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix) and "." not in k[len(prefix):]}
    children = sorted({k[len(prefix):].split(".")[0] for k in sd if k.startswith(prefix) and "." in k[len(prefix):]},
                      key=lambda s: (s != "synthesis", int(s[1:]) if s[1:].isdigit() and s[0] == "b" else 0, s))
    params = {k: torch.nn.Parameter(v.clone(), requires_grad=False) for k, v in own.items() if k not in BUFFERS}
    buffers = {k: v.clone() for k, v in own.items() if k in BUFFERS}
    mods = {c: _tree(fn, easy, sd, prefix + c + ".", {}) for c in children}
    name = _class_name(prefix[:-1])
    extra: dict[str, Any] = {"_init_args": (), "_init_kwargs": easy(init_kwargs) if prefix == "" else {}}
    if name == "SynthesisLayer":
        extra["act_gain"] = np.float64(np.sqrt(2))  # a numpy scalar, as in the official files
    return _Persistent(fn, name, _module_state(params, buffers, mods, extra))


def write_fixture_pickle(path: Path, sd: dict[str, torch.Tensor], init_kwargs: dict, numpy1_names: bool = False) -> Path:
    """Write ``{G, D, G_ema, augment_pipe, training_set_kwargs}`` like a stylegan2-ada-pytorch snapshot."""
    with fake_nvidia_globals() as (fn, easy):
        kw = dict(init_kwargs)
        kw["mapping_kwargs"] = easy(kw["mapping_kwargs"])
        kw["synthesis_kwargs"] = easy(kw["synthesis_kwargs"])
        g = _tree(fn, easy, sd, "", kw)
        d = _Persistent(fn, "Discriminator", _module_state(
            {"b32.fromrgb.weight": torch.nn.Parameter(torch.randn(4, 3, 1, 1), requires_grad=False)}, {}, {},
            {"_init_args": (), "_init_kwargs": easy(c_dim=10, architecture="orig")}))
        aug = _Persistent(fn, "AugmentPipe", _module_state({}, {"p": torch.tensor(0.3), "Hz_geom": torch.randn(12)}, {},
                                                           {"_init_args": (), "_init_kwargs": easy(xflip=1, rotate90=1)}))
        data = {"G": g, "D": d, "G_ema": g, "augment_pipe": aug,
                "training_set_kwargs": dict(class_name="training.dataset.ImageFolderDataset", path="cifar10.zip",
                                            use_labels=True, max_size=50000, xflip=False, resolution=32)}
        blob = pickle.dumps(data, protocol=3)
    if numpy1_names:
        blob = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    path.write_bytes(blob)
    return path


SMALL_KW = dict(z_dim=8, c_dim=4, w_dim=6, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 2},
                synthesis_kwargs={"channel_base": 64, "channel_max": 8, "num_fp16_res": 4, "conv_clamp": 256})


def small_fixture(tmp_path: Path, seed: int = 0, **kw: Any) -> tuple[Path, dict]:
    g = torch.Generator().manual_seed(seed)
    shapes = official_generator_shapes(z_dim=8, c_dim=4, w_dim=6, res=16, channel_base=64, channel_max=8)
    sd = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    return write_fixture_pickle(tmp_path / "net.pkl", sd, SMALL_KW, **kw), sd


def test_fixture_uses_official_globals_only(tmp_path):
    path, _ = small_fixture(tmp_path)
    blob = path.read_bytes()
    for name in (b"torch_utils.persistence\n_reconstruct_persistent_obj", b"dnnlib.util\nEasyDict",
                 b"torch.storage\n_load_from_bytes", b"torch._utils\n_rebuild_parameter\n", b"collections\nOrderedDict",
                 b"numpy._core.multiarray\nscalar"):
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
        "act_gain"] == pytest.approx(np.sqrt(2))


def test_full_cifar10_names_and_shapes_from_independent_table(tmp_path):
    shapes = official_generator_shapes()
    assert sum(int(np.prod(s)) for k, s in shapes.items() if not k.endswith(BUFFERS)) == 20_215_315
    ours = {k: tuple(v.shape) for k, v in Generator(CIFAR10_CONFIG).state_dict().items()}
    assert ours == shapes
    sd = {k: torch.zeros(s) for k, s in shapes.items()}
    sd["mapping.w_avg"] = torch.arange(512, dtype=torch.float32)
    kw = dict(z_dim=512, c_dim=10, w_dim=512, img_resolution=32, img_channels=3, mapping_kwargs={"num_layers": 2},
              synthesis_kwargs={"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256})
    g = load_stylegan2_ada(write_fixture_pickle(tmp_path / "cifar10.pkl", sd, kw))
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
    cached = cache / "stylegan2-ada" / "net.pkl"
    assert cached.is_file() and g.source == str(cached)
    assert (cache / "stylegan2-ada" / "net.pkl.sha256").read_text().split()[0] == g.checksum
    path.unlink()  # second call must use the cache
    assert load_stylegan2_ada(url, cache_dir=cache).checksum == g.checksum
    other = tmp_path / "n2.pkl"
    other.write_bytes(cached.read_bytes())
    with pytest.raises(StyleGAN2PickleError, match="checksum mismatch"):
        load_stylegan2_ada(other.as_uri(), cache_dir=cache, expected_sha256="0" * 64)
    assert not (cache / "stylegan2-ada" / "n2.pkl").exists()
    cached.write_bytes(b"corrupted")  # a corrupted cache entry is downloaded again (source gone -> clear error)
    with pytest.raises(OSError):
        load_stylegan2_ada(url, cache_dir=cache)


def test_official_alias_points_to_nvidia_url(monkeypatch, tmp_path):
    from gsoc_helpers.models.stylegan2_ada import pickle_loader

    seen = []
    monkeypatch.setattr(pickle_loader, "download", lambda url, *a, **k: seen.append(url) or tmp_path / "x.pkl")
    with pytest.raises(FileNotFoundError):
        load_stylegan2_ada("cifar10")
    assert seen == ["https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/cifar10.pkl"]


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
        return torch._utils._rebuild_tensor_v2, (self.storage, self.offset, self.size, self.stride, False,
                                                 collections.OrderedDict())


@pytest.mark.parametrize("offset,size,stride,why", [
    (0, (10_000_000_000,), (1,), "needs element"),        # 40 GB of float32 from a 16-byte storage
    (5, (1,), (1,), "needs element"),                      # offset past the end: would read unwritten memory
    (0, (2, 3), (3, 1), "needs element"),                 # 6 elements from 4
    (-1, (1,), (1,), "negative"),
])
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
    code = ("import sys; from gsoc_helpers.models.registry import load_generator; "
            "assert 'gsoc_helpers.models.stylegan2_ada' not in sys.modules; "
            f"g = load_generator({str(st)!r}); print(type(g).__name__, g.generator_kind)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["Generator", "stylegan2-ada"]
