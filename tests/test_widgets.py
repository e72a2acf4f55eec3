"""generate_grid (gsoc_helpers.sampling) / grid_png (gsoc_helpers.images), the model caches (load_generator,
openvino.twin_cache) and the ipywidgets panel,
driven headless with small generators; the OpenVINO backend is the real OpenVINO runtime on a tiny student."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from torch import nn

from gsoc_helpers import images as Im
from gsoc_helpers.app import widgets as Wd
from gsoc_helpers.models.student import StudentConfig, StudentGenerator
from gsoc_helpers.openvino import twin_cache as loading
from gsoc_helpers.sampling import generate_grid


class RandomGenerator(nn.Module):
    """Generator protocol, 8x8 outputs: class c paints channel c % 3 bright, latents add texture."""

    def __init__(self, z_dim: int = 6, c_dim: int = 10, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.z_dim, self.c_dim, self.img_resolution = z_dim, c_dim, 8
        self.lin = nn.Linear(z_dim, 3 * 64)
        self.calls: list[tuple[torch.Tensor, torch.Tensor, float]] = []

    def forward(self, z, labels, truncation_psi=1.0, noise_mode="const"):
        self.calls.append((z.clone(), labels.clone(), truncation_psi))
        x = 0.2 * torch.tanh(self.lin(z)).view(-1, 3, 8, 8) * truncation_psi - 0.8
        x[torch.arange(len(labels)), labels % 3] += 1.5
        return x


def tiny_student(seed: int) -> StudentGenerator:
    torch.manual_seed(seed)
    g = StudentGenerator(StudentConfig(z_dim=16, ngf=32))
    with torch.no_grad():
        g.to_rgb.weight.mul_(20.0)  # outputs spanning much of [-1, 1]
    return g.eval()


def _cell(grid: np.ndarray, r: int, c: int) -> np.ndarray:
    return grid[2 + r * 10 : 10 + r * 10, 2 + c * 10 : 10 + c * 10]


def test_generate_grid_layout_labels_and_determinism():
    g = RandomGenerator()
    grid, labels = generate_grid(g, ["cat", 1], per_class=3, seed=5)
    assert grid.dtype == np.uint8 and grid.shape == (2 * 10 + 2, 3 * 10 + 2, 3)
    assert labels == ["cat", "automobile"]
    # row 0 is cat (3 -> red channel bright), row 1 automobile (1 -> green bright)
    assert _cell(grid, 0, 0)[..., 0].mean() > 200 > _cell(grid, 0, 0)[..., 1].mean()
    assert _cell(grid, 1, 2)[..., 1].mean() > 200 > _cell(grid, 1, 2)[..., 0].mean()
    z, lab, _ = g.calls[-1]
    assert torch.equal(z[:3], z[3:]) and lab.tolist() == [3, 3, 3, 1, 1, 1]  # same latents per column
    again, _ = generate_grid(g, ["cat", 1], per_class=3, seed=5)
    other, _ = generate_grid(g, ["cat", 1], per_class=3, seed=6)
    assert np.array_equal(grid, again) and not np.array_equal(grid, other)
    generate_grid(g, "dog", per_class=1, truncation_psi=0.5)
    assert g.calls[-1][2] == 0.5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(classes=[]), "no class"),
        (dict(classes=["unicorn"]), "unknown class"),
        (dict(classes=[12]), "range"),
        (dict(per_class=0), "at least 1"),
        (dict(per_class=10_000), "too many"),
        (dict(backend="tpu"), "backend"),
        (dict(truncation_psi=5.0), "psi"),
    ],
)
def test_generate_grid_bad_input(kwargs, match):
    args = dict(classes=["cat"], per_class=2) | kwargs
    with pytest.raises(ValueError, match=match):
        generate_grid(RandomGenerator(), **args)


@pytest.mark.parametrize("psi", [1.0, 0.5, 0.0])
def test_generate_grid_openvino_matches_pytorch_for_every_psi(psi):
    pytest.importorskip("openvino")
    g = tiny_student(3)
    grid, labels = generate_grid(g, ["bird", "ship"], 3, seed=2, truncation_psi=psi, backend="openvino")
    ref, ref_labels = generate_grid(g, ["bird", "ship"], 3, seed=2, truncation_psi=psi)
    assert labels == ref_labels
    assert np.abs(grid.astype(int) - ref.astype(int)).max() <= 1  # f32 OpenVINO vs eager: rounding only
    assert loading.openvino_generator(g) is loading.openvino_generator(g)  # converted once, every psi
    if psi != 1.0:
        at_one, _ = generate_grid(g, ["bird", "ship"], 3, seed=2, backend="openvino")
        assert np.abs(at_one.astype(int) - grid.astype(int)).max() > 2  # psi reaches the OpenVINO model


def test_load_generator_caches_by_canonical_name(monkeypatch):
    from gsoc_helpers.models import registry

    calls = []

    def fake_load(name):
        calls.append(name)
        return RandomGenerator()

    monkeypatch.setattr(registry, "_load", fake_load)
    monkeypatch.setattr(registry, "_CACHE", {})
    a = registry.load_generator("stylegan2-ada", cache=True)  # the alias and its target share one cached model
    assert registry.load_generator("cifar10", cache=True) is a and calls == ["cifar10"]
    assert registry.load_generator(a) is a  # a module passes through
    assert registry.load_generator("stylegan2-ada") is not a and calls == ["cifar10"] * 2  # cache=False: fresh


def test_grid_png_has_label_margin():
    from PIL import Image

    grid, labels = generate_grid(RandomGenerator(), ["airplane", "truck"], 2)
    img = Image.open(io.BytesIO(Im.grid_png(grid, labels)))
    assert img.format == "PNG" and img.height == grid.shape[0] * 2 and img.width > grid.shape[1] * 2
    left = np.asarray(img.convert("RGB"))[:, :40]
    assert (left < 128).any()  # some text was drawn in the label margin


def _panel(tmp_path, **kw):
    models = {"student": tiny_student(1), "offline-teacher": tiny_student(2)}

    def loader(name):
        if name not in models:
            raise KeyError(f"unknown model {name!r}")
        return models[name]

    return Wd.GeneratorPanel(loader=loader, save_dir=tmp_path, **kw), models


def test_panel_callbacks_produce_images_and_save(tmp_path):
    from PIL import Image

    panel, models = _panel(tmp_path)
    panel.classes.value = ("deer", "ship")  # observer regenerates
    assert panel.last_labels == ["deer", "ship"] and panel.message.startswith("student on torch")
    panel.count.value = 4
    assert panel.last_grid.shape == (70, 138, 3)
    img = Image.open(io.BytesIO(panel.image.value))
    assert img.size[1] == 140
    before = panel.last_grid.copy()
    panel.model.value = "offline-teacher"
    assert not np.array_equal(before, panel.last_grid) and panel.message.startswith("offline-teacher on torch")
    seed0 = panel.seed.value
    panel.on_new_seed()
    assert panel.seed.value != seed0 and panel.message.endswith("ψ=1.00")
    panel.psi.value = 0.5
    eager = panel.last_grid.copy()
    panel.backend.value = "openvino"  # the real OpenVINO twin, any psi
    assert panel.message.startswith("offline-teacher on openvino") and panel.message.endswith("ψ=0.50")
    assert np.abs(panel.last_grid.astype(int) - eager.astype(int)).max() <= 1
    path = panel.on_save()
    assert path is not None and path.parent == tmp_path and Image.open(path).format == "PNG"
    assert str(path) in panel.message


def test_panel_bad_input_shows_message_not_traceback(tmp_path):
    panel, _ = _panel(tmp_path, auto_update=False)
    assert panel.on_save() is None and "Nothing to save" in panel.message
    panel.classes.value = ()
    assert panel.on_generate() is False and "no class picked" in panel.message and "b00020" in panel.status.value
    panel.classes.value = ("cat",)
    panel.count.value = 0
    assert panel.on_generate() is False and "at least 1" in panel.message
    panel.count.value = 3
    panel.model.options = ["student", "offline-teacher", "ghost"]
    panel.model.value = "ghost"
    assert panel.on_generate() is False and "unknown model" in panel.message
    panel.model.value = "student"

    def broken(model):
        raise loading.BackendUnavailable("OpenVINO backend unavailable: no export module")

    panel.ov_factory = broken
    panel.backend.value = "openvino"
    assert panel.on_generate() is False and "OpenVINO backend unavailable" in panel.message
    panel.backend.value = "torch"
    assert panel.on_generate() is True and panel.last_grid is not None


def test_panel_menu_loads_the_models_it_is_given(tmp_path):
    """Notebook 04 hands the panel its profile's models (e.g. the student notebook 02 trained), not the bundled pair."""
    asked = []

    def loader(name):
        asked.append(name)
        return tiny_student(3)

    panel = Wd.GeneratorPanel(
        loader=loader,
        save_dir=tmp_path,
        auto_update=False,
        models={"student": str(tmp_path / "student_ema.safetensors"), "teacher": "cifar10"},
    )
    assert list(panel.model.options) == ["student", "teacher"]
    assert panel.on_generate() and asked == [str(tmp_path / "student_ema.safetensors")]
    panel.model.value = "teacher"
    assert panel.on_generate() and asked[-1] == "cifar10"


def test_panel_saves_only_into_its_own_folder_and_within_its_quota(tmp_path, monkeypatch):
    from gsoc_helpers.safety import output_owner

    user = tmp_path / "user"
    user.mkdir()
    (user / "thesis.tex").write_text("mine")
    panel, _ = _panel(user, auto_update=False)
    assert panel.on_generate()
    assert panel.on_save() is None and "no .gsoc-helpers.json mark" in panel.message  # a user's folder: refused
    assert sorted(p.name for p in user.iterdir()) == ["thesis.tex"]
    panel.save_dir = tmp_path / "grids"
    first = panel.on_save()
    assert first is not None and output_owner(tmp_path / "grids") == "panel"
    assert panel.on_save() == first  # its own file: replaced
    other = tmp_path / "grids" / f"grid_student_torch_seed{panel.seed.value + 1}.png"
    other.write_bytes(b"a user's file of the name the next save would take")
    panel.seed.value += 1
    assert panel.on_generate() and panel.on_save() is None and "was not written by this project" in panel.message
    assert other.read_bytes().startswith(b"a user's file")
    monkeypatch.setattr(Wd, "MAX_SAVES", 3)
    panel.seed.value += 1
    assert panel.on_generate() and panel.on_save() is not None  # the third
    assert panel.on_save() is None and "limit" in panel.message  # past the quota: nothing written
    assert len(list((tmp_path / "grids").glob("*.png"))) == 3
