"""Numbers that do not lie (issue #29): a model with NaN / inf outputs or outputs that never vary is refused in one
line naming it, probability outputs are warned about, reports are strict JSON, and nearly identical calibration
images are called degenerate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from cli_checks import QUANTIZE_FAST, assert_refused
from torch import nn

from gsoc_helpers.cli import main
from gsoc_helpers.quantization.report import write_report
from gsoc_helpers.quantization.user_images import warn_if_degenerate


class _Head(nn.Module):
    """A seeded tiny conv net for 32x32 RGB whose 10 outputs go through ``kind``."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(4, 10)
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.fc(self.net(x))
        if self.kind == "nan":
            return torch.sqrt(-1.0 - z.abs())  # NaN for every input
        if self.kind == "inf":
            return z / torch.zeros_like(z)  # +-inf
        if self.kind == "constant":
            return z * 0.0 + torch.arange(10.0)  # the same row for every input
        if self.kind == "argmax9":
            return z * 1e-3 + torch.arange(10.0)  # varies, but class 9 wins for every input
        if self.kind == "softmax":
            return torch.softmax(z, 1)
        if self.kind == "softmax99":
            return torch.softmax(z, 1) * 0.99  # probabilities that do not quite sum to 1
        return z


def _onnx(path: Path, kind: str) -> str:
    torch.onnx.export(_Head(kind).eval(), (torch.zeros(1, 3, 32, 32),), str(path), dynamo=False)
    return str(path)


@pytest.mark.parametrize(
    "kind, fragment",
    [
        ("nan", "non-finite"),
        ("inf", "non-finite"),
        ("constant", "the same FP32 outputs for every"),
        ("argmax9", "predicts class 9 for every one of 8 held-out images"),
    ],
)
def test_broken_outputs_are_refused_naming_the_model(kind, fragment, tmp_path, capsys):
    model = _onnx(tmp_path / f"{kind}.onnx", kind)
    capsys.readouterr()
    argv = ["quantize", model, "--calibration", "noise", "--out", str(tmp_path / "out"), *QUANTIZE_FAST]
    line = assert_refused(argv, capsys, fragment, untouched=[tmp_path / "out"], progress=True)
    assert f"{kind}.onnx" in line


@pytest.mark.parametrize("kind", ["softmax", "softmax99"])
def test_probability_outputs_warn_and_report_is_strict_json(kind, tmp_path, capsys):
    model = _onnx(tmp_path / f"{kind}.onnx", kind)
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="look like probabilities"):
        assert main(["quantize", model, "--calibration", "noise", "--out", str(out), *QUANTIZE_FAST]) == 0

    def refuse(name: str) -> None:
        raise AssertionError(f"report.json holds {name}")

    json.loads((out / "report.json").read_text(), parse_constant=refuse)


def test_report_refuses_non_finite_numbers(tmp_path):
    with pytest.raises(ValueError, match="Out of range float"):
        write_report({"evaluation": {"kl": math.nan}}, tmp_path)
    assert not (tmp_path / "report.json").exists()


def test_nearly_identical_calibration_images_are_degenerate():
    torch.manual_seed(0)
    one = torch.rand(1, 3, 32, 32)
    images = one.repeat(8, 1, 1, 1)
    images[1:, 0, 5, 5] = torch.linspace(0, 1, 7)  # eight images that differ by one pixel
    with pytest.warns(UserWarning, match="8 identical images"):
        warn_if_degenerate(images, "8 images")
    flat = torch.rand(8, 3, 1, 1).expand(8, 3, 32, 32).clone()
    flat[:, :, 0, 0] += 1 / 1000  # one flat colour each, give or take a rounding
    with pytest.warns(UserWarning, match="one flat colour"):
        warn_if_degenerate(flat, "8 images")
    noisy = (one * 255).round().repeat(8, 1, 1, 1)
    noisy = ((noisy + torch.randint(-2, 3, noisy.shape)).clamp(0, 255)) / 255  # copies within +-2 grey levels
    with pytest.warns(UserWarning, match="8 identical images"):
        warn_if_degenerate(noisy, "8 images")
    varied = torch.rand(8, 3, 32, 32)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_degenerate(varied, "8 images")  # a usable set: no warning


def test_outputs_that_hardly_measure_anything_are_warned_or_refused():
    import warnings

    import numpy as np

    from gsoc_helpers.quantization.evaluate import check_outputs

    rng = np.random.default_rng(0)
    z = rng.normal(size=(40, 10)).astype(np.float32) * 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_outputs(z, "fine.onnx", "FP32")  # varied logits: nothing said
        one_class = z + np.eye(10, dtype=np.float32)[3] * 100  # class 3 always wins ...
        check_outputs(one_class, "cats.onnx", "FP32", labels=np.full(40, 3))  # ... on images all of class 3: fine
    with pytest.warns(UserWarning, match=r"^model 'x.onnx' predicts class 3 for 40 of 40"):
        check_outputs(one_class, "x.onnx", "FP32", labels=np.arange(40) % 10)  # outputs vary: warned
    stuck = one_class * 1e-4 + np.arange(10, dtype=np.float32) * 10  # one class, outputs hardly move: refused
    with pytest.raises(ValueError, match=r"^model 'x.onnx' predicts class 9 for every one of 40 .* barely vary"):
        check_outputs(stuck, "x.onnx", "FP32")
    nearly = z.copy()
    nearly[1:, 5] += 100  # 39 of 40 images: class 5
    with pytest.warns(UserWarning, match="predicts class 5 for 39 of 40"):
        check_outputs(nearly, "x.onnx", "FP32")
    barely = np.tile(np.linspace(0, 1, 10, dtype=np.float32), (40, 1))
    barely[:, 8] = 1.0  # classes 8 and 9 tied: a little noise changes the top class, the outputs hardly change
    barely += z * 1e-4
    with pytest.warns(UserWarning, match="barely vary across held-out images"):
        check_outputs(barely * 5 + 3, "x.onnx", "FP32")
