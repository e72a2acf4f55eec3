"""Original (2022) DiStyleGAN checkpoints load through load_generator, checked against an independent definition.

The reference below is written here from the published facts (ThanosM97/gsoc2022-openvino,
generation/model/network.py): keys project.*, fc.*, upsample1..3.*, img.*; one-hot class; no biases;
2,054,368 parameters at the defaults. It is saved the way the original saved it: torch.save(state_dict) +
config.json with the original's keys.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from gsoc_helpers.models.distylegan2022 import DiStyleGAN2022
from gsoc_helpers.models.registry import load_generator, save_generator

ORIGINAL_DEFAULTS = {
    "c_dim": 10,
    "z_dim": 512,
    "ngf": 256,
    "ndf": 128,
    "lambda_pixel": 0.2,
    "lambda_ganG": 0.01,
    "lambda_ganD": 0.2,
    "project_dim": 128,
    "nc": 3,
}


class ReferenceGenerator(nn.Module):
    """Independent transcription of the published architecture (forward written out step by step)."""

    def __init__(self, ngf: int, z_dim: int, c_dim: int, project_dim: int = 128, nc: int = 3) -> None:
        super().__init__()
        self.ngf = ngf
        self.project = nn.Sequential(nn.Linear(z_dim, 2 * project_dim, bias=False), nn.BatchNorm1d(2 * project_dim))
        self.fc = nn.Sequential(nn.Linear(project_dim + c_dim, 32 * ngf, bias=False), nn.BatchNorm1d(32 * ngf))
        for i, c in enumerate((ngf, ngf // 2, ngf // 4), start=1):
            # index 0 of the original Sequential is the parameter-free Upsample: keep the indices aligned
            setattr(
                self,
                f"upsample{i}",
                nn.Sequential(nn.Identity(), nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)),
            )
        self.img = nn.Sequential(nn.Conv2d(ngf // 8, nc, 3, padding=1, bias=False))

    @staticmethod
    def _glu(x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * torch.sigmoid(b)

    def forward(self, z: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self._glu(self.project(z)), onehot], 1)
        h = self._glu(self.fc(h)).reshape(-1, self.ngf, 4, 4)
        for i in (1, 2, 3):
            blk = getattr(self, f"upsample{i}")
            h = torch.nn.functional.interpolate(h, scale_factor=2.0, mode="nearest")
            h = self._glu(blk[2](blk[1](h)))
        return torch.tanh(self.img[0](h))


def _randomise_bn(model: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def _write_original(folder, ngf=32, z_dim=16, project_dim=8, seed=0, config=True):
    torch.manual_seed(seed)
    ref = ReferenceGenerator(ngf, z_dim, 10, project_dim)
    _randomise_bn(ref, seed)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(ref.state_dict(), folder / "generator.pt")
    if config:
        cfg = dict(ORIGINAL_DEFAULTS, ngf=ngf, z_dim=z_dim, project_dim=project_dim)
        (folder / "config.json").write_text(json.dumps(cfg))
    return ref.eval()


def test_default_width_is_the_published_parameter_count():
    ref = ReferenceGenerator(256, 512, 10, 128)
    ours = DiStyleGAN2022()
    assert sum(p.numel() for p in ref.parameters()) == 2_054_368
    assert sum(p.numel() for p in ours.parameters()) == 2_054_368
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}


@pytest.mark.parametrize("ngf,z_dim,project_dim", [(32, 16, 8), (64, 24, 40)])
def test_original_folder_loads_and_matches_reference(tmp_path, ngf, z_dim, project_dim):
    ref = _write_original(tmp_path / "ckpt", ngf, z_dim, project_dim)
    g = load_generator(tmp_path / "ckpt")
    assert isinstance(g, DiStyleGAN2022) and not g.training
    z = torch.rand(6, z_dim)  # the original distilled on U[0,1) latents
    y = torch.tensor([0, 1, 4, 7, 9, 3])
    with torch.no_grad():
        want = ref(z, torch.nn.functional.one_hot(y, 10).float())
        got = g(z, y, truncation_psi=1.0, noise_mode="const")
    assert got.shape == (6, 3, 32, 32)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
    assert torch.equal(got, g(z, torch.nn.functional.one_hot(y, 10).float()))
    # the generator.pt alone (no config.json beside it) loads too: widths inferred from the shapes
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "generator.pt").write_bytes((tmp_path / "ckpt" / "generator.pt").read_bytes())
    assert torch.equal(load_generator(str(bare / "generator.pt"))(z, y), got)


def test_round_trip_through_the_project_format(tmp_path):
    _write_original(tmp_path / "ckpt")
    g = load_generator(str(tmp_path / "ckpt" / "generator.pt"))
    g2 = load_generator(save_generator(g, tmp_path / "g.safetensors"))
    z, y = torch.randn(3, 16), torch.tensor([2, 5, 8])
    assert isinstance(g2, DiStyleGAN2022) and torch.equal(g(z, y), g2(z, y))


def test_bad_checkpoints_name_the_first_mismatch(tmp_path):
    _write_original(tmp_path / "ok")
    # a config.json saying another width: one line naming the first mismatching key and its shapes
    cfg = json.loads((tmp_path / "ok" / "config.json").read_text())
    (tmp_path / "ok" / "config.json").write_text(json.dumps(dict(cfg, ngf=64)))
    with pytest.raises(ValueError, match=r"key 'fc.0.weight' has shape \(1024, 18\), expected \(2048, 18\)") as e:
        load_generator(tmp_path / "ok")
    assert "\n" not in str(e.value)
    # a state dict with an extra/missing key
    bad = tmp_path / "bad"
    _write_original(bad)
    sd = torch.load(bad / "generator.pt", weights_only=True)
    sd["residual.0.block.0.weight"] = torch.zeros(1)
    torch.save(sd, bad / "generator.pt")
    with pytest.raises(ValueError, match="unexpected key 'residual.0.block.0.weight'"):
        load_generator(bad)
    del sd["residual.0.block.0.weight"], sd["img.0.weight"]
    torch.save(sd, bad / "generator.pt")
    with pytest.raises(ValueError, match="missing key 'img.0.weight'"):
        load_generator(bad)
    # a pickle with code in it is refused by weights_only loading
    torch.save({"x": ReferenceGenerator(16, 4, 10, 4)}, bad / "generator.pt")
    with pytest.raises(ValueError, match="not a weights-only torch file"):
        load_generator(bad)
    with pytest.raises(FileNotFoundError, match="generator.pt"):
        load_generator(tmp_path)  # a folder without generator.pt


def test_cli_sample_from_original_checkpoint(tmp_path, capsys):
    from gsoc_helpers.cli import main

    _write_original(tmp_path / "ckpt")
    rc = main(
        [
            "sample",
            str(tmp_path / "ckpt"),
            "--out",
            str(tmp_path / "ds"),
            "--per-class",
            "2",
            "--shard",
            "0/1",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0, capsys.readouterr()
    from gsoc_helpers.data.synthetic import SyntheticDataset

    ds = SyntheticDataset(tmp_path / "ds")
    assert len(ds) == 20 and ds.z.shape == (20, 16)


def test_cli_export_original_checkpoint_to_openvino(tmp_path, capsys):
    from gsoc_helpers.cli import main
    from gsoc_helpers.openvino.generator import OpenVINOGenerator

    ref = _write_original(tmp_path / "ckpt")
    assert main(["export", str(tmp_path / "ckpt"), "--out", str(tmp_path / "ir")]) == 0, capsys.readouterr().err
    xml = capsys.readouterr().out.split("FP32 IR: ")[1].split()[0]
    z, y = torch.rand(4, 16), torch.tensor([0, 2, 4, 9])
    with torch.no_grad():
        want = ref(z, torch.nn.functional.one_hot(y, 10).float())
    assert torch.allclose(OpenVINOGenerator(xml)(z, y), want, atol=1e-4)


def test_panel_generates_from_original_checkpoint(tmp_path):
    from gsoc_helpers.sampling import generate_grid

    _write_original(tmp_path / "ckpt")
    assert isinstance(load_generator(str(tmp_path / "ckpt"), cache=True), DiStyleGAN2022)
    grid, labels = generate_grid(str(tmp_path / "ckpt"), ["cat", 9], per_class=3)
    assert grid.dtype == np.uint8 and grid.shape[-1] == 3 and grid.std() > 0 and len(labels) == 2
