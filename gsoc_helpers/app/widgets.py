"""The class-conditional generation panel (ipywidgets, core widgets only: JupyterLab, Colab and Voilà).

    from gsoc_helpers.app.widgets import GeneratorPanel
    GeneratorPanel().widget          # display it in a notebook cell

The same panel is the web app (``gsoc_helpers/app/app.ipynb`` served by Voilà: ``gsoc-helpers app``, ``make app``).
Generation lives in :func:`gsoc_helpers.sampling.generate_grid`, rendering in :mod:`gsoc_helpers.images`, model
loading and caching in :func:`gsoc_helpers.models.registry.load_generator`.
"""

from __future__ import annotations

import html
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np
from torch import nn

from ..config import get_output_dir
from ..data.dataset import CIFAR10_CLASSES
from ..images import MAX_PER_CLASS, grid_png
from ..models.registry import load_generator
from ..openvino.sampler import BACKENDS
from ..sampling import generate_grid

DEFAULT_MODELS = {"student": "student", "offline-teacher": "offline-teacher"}  # menu entry -> load_generator name
MAX_SAVES = 20  # PNGs one panel (one page of the app) may save
SAVE_COMMAND = "panel"  # the command named in the save folder's mark


def _cached_loader(name: str) -> nn.Module:
    """The panel's model loader: :func:`load_generator` on the CPU, each model loaded once."""
    return load_generator(name, cache=True)


class GeneratorPanel:
    """ipywidgets panel around :func:`generate_grid` (core widgets only); ``.widget`` is the VBox to display.

    ``models`` maps the model menu's entries to what :func:`load_generator` loads (default: the bundled student and
    teacher; a notebook passes the profile's own, e.g. the student notebook 02 trained). ``loader(name) -> generator``
    and ``ov_factory(model) -> OpenVINO generator`` can be injected (tests).
    Any problem is shown as a message in the panel (``.message``), never as a traceback.
    """

    def __init__(
        self,
        loader: Callable[[str], nn.Module] | None = None,
        ov_factory: Callable[[nn.Module], Any] | None = None,
        class_names: Sequence[str] = CIFAR10_CLASSES,
        save_dir: str | Path | None = None,
        auto_update: bool = True,
        models: dict[str, str] | None = None,
    ) -> None:
        self.loader = loader or _cached_loader
        self.models = dict(models or DEFAULT_MODELS)
        self.ov_factory = ov_factory
        self.class_names = tuple(class_names)
        self.save_dir = save_dir
        self.auto_update = auto_update
        self.last_grid: np.ndarray | None = None
        self.last_labels: list[str] = []
        self.last_png: bytes | None = None
        self.saves = 0
        self.message = ""
        self.classes = W.SelectMultiple(
            options=self.class_names, value=self.class_names[:3], rows=10, description="classes"
        )
        self.count = W.IntSlider(value=6, min=0, max=MAX_PER_CLASS, description="per class", continuous_update=False)
        self.seed = W.IntText(value=0, description="seed")
        self.new_seed = W.Button(description="new seed", icon="random")
        self.psi = W.FloatSlider(
            value=1.0, min=0.0, max=1.0, step=0.05, description="truncation ψ", continuous_update=False
        )
        self.model = W.Dropdown(options=list(self.models), value=next(iter(self.models)), description="model")
        self.backend = W.Dropdown(options=[b for b in BACKENDS if b != "auto"], value="torch", description="backend")
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
        controls = W.VBox(
            [
                self.classes,
                self.count,
                W.HBox([self.seed, self.new_seed]),
                self.psi,
                self.model,
                self.backend,
                W.HBox([self.generate_button, self.save_button]),
            ]
        )
        self.widget = W.VBox([W.HBox([controls, self.image], layout=W.Layout(align_items="flex-start")), self.status])

    def _show(self, text: str, error: bool = False) -> None:
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
            model = self.loader(self.models.get(self.model.value, self.model.value))
            grid, labels = generate_grid(
                model,
                list(self.classes.value),
                int(self.count.value),
                int(self.seed.value),
                float(self.psi.value),
                self.backend.value,
                self.class_names,
                self.ov_factory,
            )
        except Exception as err:  # noqa: BLE001 - every problem becomes a message in the panel
            self._show(f"Cannot generate: {err}", error=True)
            return False
        self.last_grid, self.last_labels = grid, labels
        self.last_png = grid_png(grid, labels)
        self.image.value = self.last_png
        self._show(
            f"{self.model.value} on {self.backend.value}: {', '.join(labels)} x {self.count.value} images, "
            f"seed {self.seed.value}, ψ={self.psi.value:.2f}"
        )
        return True

    def on_save(self, _: Any = None) -> Path | None:
        """Write the last grid as PNG under ``save_dir`` (default get_output_dir()/widgets), a new folder or one the
        panel marked as its own (:func:`gsoc_helpers.safety.write_owned_file`: a user's file is never replaced), at
        most :data:`MAX_SAVES` times per panel; returns the path."""
        from ..safety import write_owned_file

        if self.last_png is None:
            self._show("Nothing to save yet: generate a grid first", error=True)
            return None
        if self.saves >= MAX_SAVES:
            self._show(f"Cannot save: this panel has saved its {MAX_SAVES} PNGs, the limit", error=True)
            return None
        try:
            folder = Path(self.save_dir) if self.save_dir else get_output_dir() / "widgets"
            name = f"grid_{self.model.value}_{self.backend.value}_seed{int(self.seed.value)}.png"
            path = write_owned_file(folder, SAVE_COMMAND, name, self.last_png, flag="save folder")
        except (OSError, ValueError) as err:
            self._show(f"Cannot save: {err}", error=True)
            return None
        self.saves += 1
        self._show(f"saved {path}")
        return path
