"""The sampler's backends: choice, the probe's exactness check against the reference forward, fallback, manifest,
reproducibility -- on a small StyleGAN2-ADA and on the NVIDIA-format pickle fixture (no speed is asserted)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gsoc_helpers.cli import main as cli_main
from gsoc_helpers.data.synthetic import SyntheticDataset
from gsoc_helpers.models.stylegan2_ada import Generator, StyleGAN2Config, load_stylegan2_ada
from gsoc_helpers.openvino.sampler import UINT8_TOLERANCE, auto_backend, choose_backend, reference_forward
from gsoc_helpers.sampling import sample_dataset

ov = pytest.importorskip("openvino")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))


def _small_stylegan() -> Generator:
    torch.manual_seed(0)
    cfg = StyleGAN2Config(
        z_dim=8,
        c_dim=4,
        w_dim=6,
        img_resolution=16,
        mapping_kwargs={"num_layers": 2},
        synthesis_kwargs={"channel_base": 64, "channel_max": 8, "num_fp16_res": 4, "conv_clamp": 256},
    )
    g = Generator(cfg).eval().requires_grad_(False)
    with torch.no_grad():
        for k, t in g.state_dict().items():
            if k.endswith(("noise_strength", "w_avg")):
                t.normal_()
    return g


class WrongFastPath(nn.Module):
    """A protocol generator whose fast (un-fused) form is off by 0.05 (~6 uint8 levels) from its reference form:
    what a broken optimisation looks like to the probe."""

    def __init__(self) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.img_resolution = 4, 3, 4
        torch.manual_seed(0)
        self.lin = nn.Linear(4 + 3, 3 * 4 * 4)
        self.fused = False

    def set_fused_modconv(self, fused: bool) -> WrongFastPath:
        self.fused = fused
        return self

    def forward(self, z, labels, truncation_psi: float = 1.0, noise_mode: str = "const"):
        c = nn.functional.one_hot(labels, self.c_dim).float()
        x = torch.tanh(self.lin(torch.cat([z, c], 1))).reshape(-1, 3, 4, 4)
        return x if self.fused else x + 0.05


class TracedDiffers(nn.Module):
    """A protocol generator that computes something else while traced, so its OpenVINO twin is wrong by 0.1."""

    def __init__(self) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.img_resolution = 4, 3, 4
        torch.manual_seed(1)
        self.lin = nn.Linear(4, 3 * 4 * 4)

    def forward(self, z, labels, truncation_psi=1.0, noise_mode: str = "const"):
        x = torch.tanh(self.lin(z)).reshape(-1, 3, 4, 4)
        return x + 0.1 if torch.jit.is_tracing() else x


def test_auto_rule():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert auto_backend(cuda, 64, 50_000, "const", "f32") == "torch"  # CUDA: torch, as before
    assert auto_backend(cpu, 64, 50_000, "const", "f32") == "openvino"
    assert auto_backend(cpu, 1, 50_000, "const", "f32") == "torch"  # small batches: eager
    assert auto_backend(cpu, 64, 200, "const", "f32") == "torch"  # too few images to repay the conversion
    assert auto_backend(cpu, 64, 50_000, "random", "f32") == "torch"  # the twin has const noise built in
    assert auto_backend(cpu, 1, 10, "const", "bf16") == "openvino"  # bf16 only through OpenVINO


def test_torch_backend_checked_and_model_left_as_it_was():
    g = _small_stylegan()
    choice = choose_backend(g, "torch", batch_size=4)
    assert (choice.backend, choice.precision, choice.probe_n) == ("torch", "f32", 4)
    assert choice.max_levels <= UINT8_TOLERANCE and choice.max_abs < 1e-4 and choice.generator is g
    assert not g.synthesis.b8.conv0.fused  # the probe's reference form was switched back
    with reference_forward(g):
        assert g.synthesis.b8.conv0.fused and g.synthesis.b4.torgb.fused
    assert not g.synthesis.b8.conv0.fused
    assert "max |diff|" in choice.summary() and choice.manifest()["backend"] == "torch"


def test_fast_path_that_differs_falls_back_to_the_reference(tmp_path):
    g = WrongFastPath()
    choice = choose_backend(g, "torch")
    assert choice.backend == "torch" and g.fused and "reference forward itself" in choice.note
    assert "uint8 levels" in choice.refused[0]
    rep = sample_dataset(
        WrongFastPath(), tmp_path / "ds", generator_name="w", per_class=2, progress=False, backend="torch"
    )
    ref = WrongFastPath().set_fused_modconv(True)
    with torch.no_grad():
        z = torch.from_numpy(SyntheticDataset(tmp_path / "ds").z[:1])
        want = (ref(z, torch.tensor([0])) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    assert np.array_equal(SyntheticDataset(tmp_path / "ds").image(0), want) and "reference" in rep.backend_summary


def test_openvino_twin_that_differs_is_refused():
    choice = choose_backend(TracedDiffers(), "openvino")
    assert choice.backend == "torch"
    assert "OpenVINO f32 differs from the reference by" in choice.note and "fell back to PyTorch" in choice.note


def test_openvino_backend_small_stylegan_exact_and_bf16_reported():
    g = _small_stylegan()
    choice = choose_backend(g, "openvino", batch_size=8)
    assert (choice.backend, choice.precision) == ("openvino", "f32") and choice.max_levels <= UINT8_TOLERANCE
    assert choice.refused == []
    bf16 = choose_backend(g, "auto", "bf16")
    assert (bf16.backend, bf16.precision) == ("openvino", "bf16")
    assert "deviation from the f32 reference" in bf16.summary()


def test_bad_combinations_are_one_line_errors(tmp_path, capsys):
    g = _small_stylegan()
    with pytest.raises(ValueError, match="bf16 runs through OpenVINO"):
        choose_backend(g, "torch", "bf16")
    with pytest.raises(ValueError, match="noise_mode 'const'"):
        choose_backend(g, "openvino", noise_mode="random")
    with pytest.raises(ValueError, match="runs on the CPU"):
        choose_backend(g, "openvino", device="cuda")
    with pytest.raises(ValueError, match="backend must be"):
        choose_backend(g, "onnx")


def test_cli_backends_on_the_nvidia_format_fixture(tmp_path, capsys):
    """`sample` on an NVIDIA-format snapshot: the twin is chosen and checked, the manifest records it, the same seed
    and backend give the same bytes, a resumed run keeps the recorded backend, and eager stays within 1 level."""
    from official_fixtures import write_cifar10_snapshot

    pkl = write_cifar10_snapshot(tmp_path / "cifar10.pkl")
    args = ["--per-class", "2", "--shard-size", "8", "--batch-size", "8", "--device", "cpu"]
    a, b, t = tmp_path / "a", tmp_path / "b", tmp_path / "t"
    assert cli_main(["sample", str(pkl), "--out", str(a), "--backend", "openvino", *args]) == 0
    out = capsys.readouterr().out
    assert "backend openvino f32: probe of 4 images" in out
    m = SyntheticDataset(a).manifest["extra"]
    assert (m["backend"], m["precision"]) == ("openvino", "f32") and m["probe_max_uint8_diff"] <= UINT8_TOLERANCE
    assert cli_main(["sample", str(pkl), "--out", str(b), "--backend", "openvino", *args]) == 0
    first = SyntheticDataset(a).image_array()
    assert np.array_equal(SyntheticDataset(b).image_array(), first)  # same seed + backend -> same bytes
    for f in (b / "shards").glob("shard_00001.*"):
        f.unlink()
    assert cli_main(["sample", str(pkl), "--out", str(b), *args]) == 0  # auto resumes with the recorded backend
    assert "backend openvino f32" in capsys.readouterr().out
    assert np.array_equal(SyntheticDataset(b).image_array(), first)
    assert cli_main(["sample", str(pkl), "--out", str(t), "--backend", "torch", *args]) == 0
    assert SyntheticDataset(t).manifest["extra"]["backend"] == "torch"
    diff = np.abs(SyntheticDataset(t).image_array().astype(int) - first.astype(int)).max()
    assert diff <= 2 * UINT8_TOLERANCE  # each within 1 level of the reference forward
    assert (
        cli_main(["sample", str(pkl), "--out", str(tmp_path / "x"), "--backend", "torch", "--precision", "bf16", *args])
        == 2
    )
    assert "bf16 runs through OpenVINO" in capsys.readouterr().err


def test_nvidia_fixture_eager_form_matches_reference_forward(tmp_path):
    """The NVIDIA-format fixture at the reduced CIFAR-10 config: the un-fused eager form computes the reference's
    function (float rounding only)."""
    from official_fixtures import write_cifar10_snapshot

    g = load_stylegan2_ada(write_cifar10_snapshot(tmp_path / "c.pkl"))
    z, c = torch.randn(5, 512), torch.arange(5) % 10
    with torch.no_grad():
        fast = g(z, c)
        with reference_forward(g):
            ref = g(z, c)
    scale = float(ref.abs().max())
    assert scale > 0.1
    assert float((fast - ref).abs().max()) <= 1e-5 * max(scale, 1.0) * 10  # float rounding: 1e-4 of the range
    levels = lambda x: (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).int()  # noqa: E731
    assert int((levels(fast) - levels(ref)).abs().max()) <= UINT8_TOLERANCE
