"""Official-format input files made by the tests: NVIDIA's StyleGAN2-ADA training snapshot pickle, CIFAR-10's python
batches and tarball, the 2022 project's FakeCIFAR10 folder, chenyaofo-layout classifier state dicts, torch-fidelity's Inception weights file -- and a
loopback HTTP server (127.0.0.1) that serves a folder of them as a download mirror."""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import http.server
import io
import json
import pickle
import sys
import tarfile
import tempfile
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from gsoc_helpers.data import CIFAR10_CLASSES

BUFFERS = ("resample_filter", "noise_const", "w_avg")
FAKE_MODULES = ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util")
# The generator's init_kwargs in NVIDIA's cifar10.pkl (StyleGAN2-ADA's `cifar` training config, conditional)
NVIDIA_CIFAR10_KWARGS: dict[str, Any] = dict(
    z_dim=512,
    c_dim=10,
    w_dim=512,
    img_resolution=32,
    img_channels=3,
    mapping_kwargs={"num_layers": 2},
    synthesis_kwargs={"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256},
)


def official_generator_shapes(
    z_dim: int = 512,
    c_dim: int = 10,
    w_dim: int = 512,
    res: int = 32,
    img_channels: int = 3,
    channel_base: int = 32768,
    channel_max: int = 512,
    map_layers: int = 2,
) -> dict:
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
    return {
        "mapping": "MappingNetwork",
        "synthesis": "SynthesisNetwork",
        "torgb": "ToRGBLayer",
        "affine": "FullyConnectedLayer",
        "embed": "FullyConnectedLayer",
    }.get(
        last,
        "SynthesisBlock"
        if last.startswith("b")
        else "SynthesisLayer"
        if last.startswith("conv")
        else "FullyConnectedLayer",
    )


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
        meta = dict(
            type="class",
            version=4,
            module_src=f"class {self.class_name}: raise SystemExit  # never run\n",
            class_name=self.class_name,
            state=self.state,
        )
        return self.fn, (meta,)


def _module_state(params: dict, buffers: dict, modules: dict, extra: dict) -> dict:
    state = {
        "training": False,
        "_parameters": collections.OrderedDict(params),
        "_buffers": collections.OrderedDict(buffers),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": collections.OrderedDict(),
        "_forward_hooks": collections.OrderedDict(),
        "_forward_pre_hooks": collections.OrderedDict(),
        "_state_dict_hooks": collections.OrderedDict(),
        "_load_state_dict_pre_hooks": collections.OrderedDict(),
        "_modules": collections.OrderedDict(modules),
    }
    state.update(extra)
    return state


def _tree(fn: Any, easy: type, sd: dict, prefix: str, init_kwargs: dict) -> _Persistent:
    own = {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix) and "." not in k[len(prefix) :]}
    children = sorted(
        {k[len(prefix) :].split(".")[0] for k in sd if k.startswith(prefix) and "." in k[len(prefix) :]},
        key=lambda s: (s != "synthesis", int(s[1:]) if s[1:].isdigit() and s[0] == "b" else 0, s),
    )
    params = {k: torch.nn.Parameter(v.clone(), requires_grad=False) for k, v in own.items() if k not in BUFFERS}
    buffers = {k: v.clone() for k, v in own.items() if k in BUFFERS}
    mods = {c: _tree(fn, easy, sd, prefix + c + ".", {}) for c in children}
    name = _class_name(prefix[:-1])
    extra: dict[str, Any] = {"_init_args": (), "_init_kwargs": easy(init_kwargs) if prefix == "" else {}}
    if name == "SynthesisLayer":
        extra["act_gain"] = np.float64(np.sqrt(2))  # a numpy scalar, as in the official files
    return _Persistent(fn, name, _module_state(params, buffers, mods, extra))


def write_fixture_pickle(
    path: Path, sd: dict[str, torch.Tensor], init_kwargs: dict, numpy1_names: bool = False
) -> Path:
    """Write ``{G, D, G_ema, augment_pipe, training_set_kwargs}`` like a stylegan2-ada-pytorch snapshot."""
    with fake_nvidia_globals() as (fn, easy):
        kw = dict(init_kwargs)
        kw["mapping_kwargs"] = easy(kw["mapping_kwargs"])
        kw["synthesis_kwargs"] = easy(kw["synthesis_kwargs"])
        g = _tree(fn, easy, sd, "", kw)
        d = _Persistent(
            fn,
            "Discriminator",
            _module_state(
                {"b32.fromrgb.weight": torch.nn.Parameter(torch.randn(4, 3, 1, 1), requires_grad=False)},
                {},
                {},
                {"_init_args": (), "_init_kwargs": easy(c_dim=10, architecture="orig")},
            ),
        )
        aug = _Persistent(
            fn,
            "AugmentPipe",
            _module_state(
                {},
                {"p": torch.tensor(0.3), "Hz_geom": torch.randn(12)},
                {},
                {"_init_args": (), "_init_kwargs": easy(xflip=1, rotate90=1)},
            ),
        )
        data = {
            "G": g,
            "D": d,
            "G_ema": g,
            "augment_pipe": aug,
            "training_set_kwargs": dict(
                class_name="training.dataset.ImageFolderDataset",
                path="cifar10.zip",
                use_labels=True,
                max_size=50000,
                xflip=False,
                resolution=32,
            ),
        }
        blob = pickle.dumps(data, protocol=3)
    if numpy1_names:
        blob = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    path.write_bytes(blob)
    return path


SMALL_KW = dict(
    z_dim=8,
    c_dim=4,
    w_dim=6,
    img_resolution=16,
    img_channels=3,
    mapping_kwargs={"num_layers": 2},
    synthesis_kwargs={"channel_base": 64, "channel_max": 8, "num_fp16_res": 4, "conv_clamp": 256},
)


def small_fixture(tmp_path: Path, seed: int = 0, **kw: Any) -> tuple[Path, dict]:
    g = torch.Generator().manual_seed(seed)
    shapes = official_generator_shapes(z_dim=8, c_dim=4, w_dim=6, res=16, channel_base=64, channel_max=8)
    sd = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    return write_fixture_pickle(tmp_path / "net.pkl", sd, SMALL_KW, **kw), sd


# ------------------------------------------------------------------ CIFAR-10 (python version)
def fake_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n, dtype=np.int64) % 10


def write_python_batches(root: Path, per_batch: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Write an official-format cifar-10-batches-py folder; return all train images/labels written."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": list(CIFAR10_CLASSES), "num_cases_per_batch": per_batch, "num_vis": 3072}, fh)
    all_imgs, all_labels = [], []
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        imgs, labels = fake_images(per_batch, seed=i)
        data = imgs.transpose(0, 3, 1, 2).reshape(per_batch, 3072)
        with open(root / name, "wb") as fh:
            pickle.dump(
                {
                    b"batch_label": name.encode(),
                    b"labels": labels.tolist(),
                    b"data": data,
                    b"filenames": [f"{j}.png".encode() for j in range(per_batch)],
                },
                fh,
                protocol=2,
            )
        if name != "test_batch":
            all_imgs.append(imgs)
            all_labels.append(labels)
    return np.concatenate(all_imgs), np.concatenate(all_labels)


def write_cifar10_tarball(path: Path, per_batch: int = 10) -> Path:
    """``cifar-10-python.tar.gz`` with the official layout (``cifar-10-batches-py/`` data_batch_1..5, test_batch,
    batches.meta, readme.html) holding ``per_batch`` random images per batch."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cifar-10-batches-py"
        write_python_batches(folder, per_batch)
        (folder / "readme.html").write_text("<html></html>")
        with tarfile.open(path, "w:gz") as tar:
            tar.add(folder, arcname="cifar-10-batches-py")
    return path


# ------------------------------------------------------------------ classifiers and Inception
def write_chenyaofo_weights(folder: Path, name: str, seed: int = 0) -> Path:
    """A state dict of chenyaofo's architecture ``name`` (random init), saved with torch.save under the release's
    file name (``cifar10_<name>-<sha256 prefix>.pt``; the prefix is the official one, not this file's)."""
    from gsoc_helpers.models.classifiers.chenyaofo import build, release_url

    torch.manual_seed(seed)
    path = folder / release_url(name).rsplit("/", 1)[-1]
    torch.save(build(name).state_dict(), path)
    return path


def write_akamaster_weights(folder: Path, name: str, seed: int = 0) -> Path:
    """akamaster's checkpoint format for ``name`` (random init): ``{'state_dict': keys prefixed 'module.',
    'best_prec1': float}`` under the official file name (whose sha256 prefix is the official one, not this file's)."""
    from gsoc_helpers.models.classifiers.akamaster import WEIGHTS, AkamasterResNet

    torch.manual_seed(seed)
    fname, _, depth, best = WEIGHTS[name]
    state = {f"module.{k}": v for k, v in AkamasterResNet(depth).state_dict().items()}
    path = folder / fname
    torch.save({"state_dict": state, "best_prec1": float(best)}, path)
    return path


def write_inception_weights(path: Path, seed: int = 0) -> Path:
    """torch-fidelity's InceptionV3 state dict (every key of ``weights-inception-2015-12-05-6726825d.pth``, with the
    1008-way fc), random (He) init."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _RandomInit(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):  # keep the random init
            return None

    buf = io.BytesIO()
    torch.save({}, buf)
    buf.seek(0)
    torch.manual_seed(seed)
    net = _RandomInit("fixture", ["2048"], feature_extractor_weights_path=buf)
    for m in net.modules():  # variance-preserving init: features that differ between images, like the real weights'
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    torch.save(net.state_dict(), path)
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_checksums(folder: Path, out: Path) -> Path:
    """JSON ``{file name: sha256}`` of every file in ``folder`` (for ``$GSOC_DOWNLOAD_CHECKSUMS``)."""
    out.write_text(json.dumps({p.name: sha256_of(p) for p in sorted(folder.iterdir()) if p.is_file()}))
    return out


# ------------------------------------------------------------------ loopback mirror
@contextlib.contextmanager
def loopback_mirror(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port) for the duration; yields (base URL, requested paths).
    Missing files answer 404, like a real mirror."""
    requested: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            requested.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# ------------------------------------------------------------------ NVIDIA StyleGAN2-ADA snapshot
CIFAR_SMOKE_KW = dict(
    z_dim=512,
    c_dim=10,
    w_dim=8,
    img_resolution=32,
    img_channels=3,
    mapping_kwargs={"num_layers": 2},
    synthesis_kwargs={"channel_base": 64, "channel_max": 8, "num_fp16_res": 4, "conv_clamp": 256},
)


def write_cifar10_snapshot(path: Path, seed: int = 0) -> Path:
    """A ``cifar10.pkl`` as NVIDIA writes it (G, D, G_ema, augment_pipe, training_set_kwargs) for a reduced
    CIFAR-10 generator: the official z_dim 512, 10 classes, 32x32, but 8 channels and w_dim 8 (seconds on a CPU)."""
    g = torch.Generator().manual_seed(seed)
    shapes = official_generator_shapes(z_dim=512, c_dim=10, w_dim=8, res=32, channel_base=64, channel_max=8)
    sd = {k: 0.5 * torch.randn(s, generator=g) for k, s in shapes.items()}
    return write_fixture_pickle(path, sd, CIFAR_SMOKE_KW)


FAKECIFAR10_Z_DIM, FAKECIFAR10_BATCH = 8, 4  # write_fakecifar10's latent size and batch


def write_fakecifar10(root: Path, per_class: tuple[int, ...] = (3,) * 10, seed: int = 0) -> dict:
    """The 2022 project's FakeCIFAR10 folder as its create_dataset.py wrote it: class_<k>/image_<i>.png +
    noise_<i>.pt, latents U[0,1) saved as views of their batch. Returns (class, index) -> (image, latent)."""
    g = torch.Generator().manual_seed(seed)
    truth = {}
    for k, n in enumerate(per_class):
        folder = root / f"class_{k}"
        folder.mkdir(parents=True)
        for b in range(0, n, FAKECIFAR10_BATCH):
            z = torch.rand(FAKECIFAR10_BATCH, FAKECIFAR10_Z_DIM, generator=g)  # each file saves the view z[i]
            imgs = torch.randint(0, 256, (FAKECIFAR10_BATCH, 32, 32, 3), generator=g, dtype=torch.uint8)
            for i in range(min(FAKECIFAR10_BATCH, n - b)):
                Image.fromarray(imgs[i].numpy(), "RGB").save(folder / f"image_{b + i}.png")
                torch.save(z[i], folder / f"noise_{b + i}.pt")
                truth[(k, b + i)] = (imgs[i].numpy(), z[i].clone().numpy())
    return truth
