"""Interactive class-conditional generation: ``generate_grid`` (plain function) and an ipywidgets panel.

The panel uses core widgets only (they render in JupyterLab, Colab and Voila)::

    from gsoc_helpers.widgets import GeneratorPanel
    GeneratorPanel().widget          # display it in a notebook cell

Rows of the grid are the chosen classes, columns the images per class; column j uses the same latent
``latent_for_index(seed, j, z_dim)`` in every row, so rows differ by class only.
"""
from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from .data import CIFAR10_CLASSES
from .data.synthetic import latent_for_index
from .images import make_grid, to_uint8

MODEL_NAMES = {"teacher": "offline-teacher", "student": "student"}  # panel name -> registry name
BACKENDS = ("pytorch", "openvino")
MAX_PER_CLASS = 32
MAX_IMAGES = 320


class BackendUnavailable(RuntimeError):
    """The requested backend (OpenVINO) cannot be used here; the message says why."""


def resolve_classes(classes: Sequence[str | int] | str | int, class_names: Sequence[str] = CIFAR10_CLASSES
                    ) -> list[int]:
    """Class names or indices -> indices; ValueError naming the bad entry and the valid names."""
    if isinstance(classes, (str, int)):
        classes = [classes]
    out = []
    for c in classes:
        if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            if not 0 <= int(c) < len(class_names):
                raise ValueError(f"class index {c} out of range 0..{len(class_names) - 1}")
            out.append(int(c))
        elif isinstance(c, str) and c.strip().lower() in class_names:
            out.append(list(class_names).index(c.strip().lower()))
        else:
            raise ValueError(f"unknown class {c!r}; expected one of {', '.join(class_names)} or an index")
    if not out:
        raise ValueError("no class picked: choose at least one class")
    return out


def load_model(name: str | nn.Module, device: str = "cpu", _cache: dict = {}) -> nn.Module:  # noqa: B006
    """'teacher' / 'student' / 'offline-teacher' / a checkpoint path -> generator (loaded once, cached)."""
    if isinstance(name, nn.Module):
        return name
    key = (MODEL_NAMES.get(str(name), str(name)), device)
    if key not in _cache:
        from .models.registry import load_generator

        _cache[key] = load_generator(key[0], device=device)
    return _cache[key]


def openvino_generator(model: nn.Module, _cache: dict = {}) -> Any:  # noqa: B006
    """The OpenVINO twin of ``model`` (gsoc_helpers.export.OpenVINOGenerator), converted once per model."""
    try:
        from .export import OpenVINOGenerator
    except ImportError as err:
        raise BackendUnavailable(f"OpenVINO backend unavailable: {err}") from err
    key = id(model)
    if key not in _cache:
        try:
            _cache[key] = (model, OpenVINOGenerator(model))
        except Exception as err:  # conversion problems are reported, not raised deep inside a widget
            raise BackendUnavailable(f"OpenVINO conversion failed: {type(err).__name__}: {err}") from err
    return _cache[key][1]


def generate_grid(model: nn.Module | str, classes: Sequence[str | int] | str | int, per_class: int = 8,
                  seed: int = 0, truncation_psi: float = 1.0, backend: str = "pytorch",
                  class_names: Sequence[str] | None = None,
                  ov_factory: Callable[[nn.Module], Any] | None = None) -> tuple[np.ndarray, list[str]]:
    """Images of ``classes`` (rows) x ``per_class`` (columns) -> (uint8 grid [H', W', 3], row labels).

    ``model``: a protocol generator or a name for :func:`load_model`.  ``backend='openvino'`` runs the OpenVINO
    twin (truncation fixed at 1 there); raises ValueError for bad input, BackendUnavailable if OpenVINO cannot run.
    """
    names = tuple(class_names or getattr(model, "class_names", None) or CIFAR10_CLASSES)
    idx = resolve_classes(classes, names)
    if not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"images per class must be at least 1, got {per_class!r}")
    if per_class > MAX_PER_CLASS or per_class * len(idx) > MAX_IMAGES:
        raise ValueError(f"too many images: {per_class} x {len(idx)} classes; at most {MAX_PER_CLASS} per class "
                         f"and {MAX_IMAGES} in all")
    if not 0.0 <= float(truncation_psi) <= 2.0:
        raise ValueError(f"truncation psi must be within [0, 2], got {truncation_psi}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    model = load_model(model)
    c_dim = int(getattr(model, "c_dim", len(names)))
    if max(idx) >= c_dim:
        raise ValueError(f"class index {max(idx)} not supported by a generator with {c_dim} classes")
    runner = model if backend == "pytorch" else (ov_factory or openvino_generator)(model)
    z_cols = np.stack([latent_for_index(int(seed), j, int(model.z_dim)) for j in range(per_class)])
    z = torch.from_numpy(np.tile(z_cols, (len(idx), 1)))
    labels = torch.tensor(np.repeat(idx, per_class), dtype=torch.int64)
    with torch.no_grad():
        x = runner(z, labels, truncation_psi=float(truncation_psi), noise_mode="const")
    images = to_uint8(torch.as_tensor(x))
    return make_grid(images, nrow=per_class), [names[i] for i in idx]


def grid_png(grid: np.ndarray, labels: Sequence[str], rows: int | None = None, scale: int = 2) -> bytes:
    """uint8 grid [H, W, 3] -> PNG bytes, upscaled ``scale`` x (nearest) with one class name per row on the left."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(np.asarray(grid, np.uint8))
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    if not labels:
        out = img
    else:
        margin = 8 + 7 * max(len(s) for s in labels)
        out = Image.new("RGB", (img.width + margin, img.height), "white")
        out.paste(img, (margin, 0))
        draw = ImageDraw.Draw(out)
        row_h = img.height / (rows or len(labels))
        for r, name in enumerate(labels):
            draw.text((4, int(r * row_h + row_h / 2 - 6)), name, fill=(0, 0, 0))
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    return buf.getvalue()


class GeneratorPanel:
    """ipywidgets panel around :func:`generate_grid` (core widgets only); ``.widget`` is the VBox to display.

    ``loader(name) -> generator`` and ``ov_factory(model) -> OpenVINO generator`` can be injected (tests).
    Any problem is shown as a message in the panel (``.message``), never as a traceback.
    """

    def __init__(self, loader: Callable[[str], nn.Module] | None = None,
                 ov_factory: Callable[[nn.Module], Any] | None = None, class_names: Sequence[str] = CIFAR10_CLASSES,
                 save_dir: str | Path | None = None, auto_update: bool = True) -> None:
        import ipywidgets as W

        self.loader = loader or load_model
        self.ov_factory = ov_factory
        self.class_names = tuple(class_names)
        self.save_dir = save_dir
        self.auto_update = auto_update
        self.last_grid: np.ndarray | None = None
        self.last_labels: list[str] = []
        self.last_png: bytes | None = None
        self.message = ""
        self.classes = W.SelectMultiple(options=self.class_names, value=self.class_names[:3], rows=10,
                                        description="classes")
        self.count = W.IntSlider(value=6, min=0, max=MAX_PER_CLASS, description="per class", continuous_update=False)
        self.seed = W.IntText(value=0, description="seed")
        self.new_seed = W.Button(description="new seed", icon="random")
        self.psi = W.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description="truncation ψ",
                                 continuous_update=False)
        self.model = W.Dropdown(options=["student", "teacher"], value="student", description="model")
        self.backend = W.Dropdown(options=list(BACKENDS), value="pytorch", description="backend")
        self.generate_button = W.Button(description="generate", button_style="primary")
        self.save_button = W.Button(description="save PNG", icon="save")
        self.status = W.HTML(value="")
        self.image = W.Image(format="png")
        self.new_seed.on_click(self.on_new_seed)
        self.generate_button.on_click(self.on_generate)
        self.save_button.on_click(self.on_save)
        if auto_update:
            for w in (self.classes, self.count, self.seed, self.psi, self.model, self.backend):
                w.observe(self.on_generate, names="value")
        controls = W.VBox([self.classes, self.count, W.HBox([self.seed, self.new_seed]), self.psi, self.model,
                           self.backend, W.HBox([self.generate_button, self.save_button])])
        self.widget = W.VBox([W.HBox([controls, self.image]), self.status])

    def _show(self, text: str, error: bool = False) -> None:
        import html

        self.message = text
        color = "#b00020" if error else "#333"
        self.status.value = f'<span style="color:{color}">{html.escape(text)}</span>'

    def on_new_seed(self, _: Any = None) -> None:
        """Pick a random seed (0 .. 2**31-1); regenerates through the seed observer."""
        self.seed.value = random.randrange(2**31 - 1)
        if not self.auto_update:
            self.on_generate()

    def on_generate(self, _: Any = None) -> bool:
        """Generate with the current settings; True on success (else a message is shown)."""
        try:
            if not self.classes.value:
                raise ValueError("no class picked: choose at least one class")
            model = self.loader(self.model.value)
            note = ""
            if self.backend.value == "openvino" and self.psi.value != 1.0:
                note = " (the OpenVINO model has truncation fixed at ψ=1)"
            grid, labels = generate_grid(model, list(self.classes.value), int(self.count.value), int(self.seed.value),
                                         float(self.psi.value), self.backend.value, self.class_names, self.ov_factory)
        except Exception as err:  # noqa: BLE001 - every problem becomes a message in the panel
            self._show(f"Cannot generate: {err}", error=True)
            return False
        self.last_grid, self.last_labels = grid, labels
        self.last_png = grid_png(grid, labels)
        self.image.value = self.last_png
        self._show(f"{self.model.value} on {self.backend.value}: {len(labels)} classes x {self.count.value} images, "
                   f"seed {self.seed.value}, ψ={self.psi.value:.2f}{note}")
        return True

    def on_save(self, _: Any = None) -> Path | None:
        """Write the last grid as PNG under ``save_dir`` (default get_output_dir()/widgets); returns the path."""
        if self.last_png is None:
            self._show("Nothing to save yet: generate a grid first", error=True)
            return None
        try:
            from .config import get_output_dir

            folder = Path(self.save_dir) if self.save_dir else get_output_dir() / "widgets"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"grid_{self.model.value}_{self.backend.value}_seed{self.seed.value}.png"
            path.write_bytes(self.last_png)
        except OSError as err:
            self._show(f"Cannot save: {err}", error=True)
            return None
        self._show(f"saved {path}")
        return path
