"""The 2022 GSoC DiStyleGAN generator, one-to-one with its published checkpoints (kind ``"distylegan2022"``).

Facts from ThanosM97/gsoc2022-openvino (``generation/model/network.py``, ``generation/distylegan.py``): a checkpoint
is a folder with ``config.json`` (``c_dim, z_dim, ngf, ndf, lambda_pixel, lambda_ganG, lambda_ganD, project_dim,
nc``) and ``generator.pt`` = ``torch.save(netG.state_dict())``. The generator::

  z [N, z_dim] -> project: Linear(z_dim -> 2*project_dim, no bias), BN1d, GLU -> [N, project_dim]
  cat(., one-hot class [N, c_dim]) -> fc: Linear(project_dim + c_dim -> ngf*4*4*2, no bias), BN1d, GLU
  -> [N, ngf, 4, 4] -> upsample1..3: nearest x2, Conv3x3 (c -> c, no bias), BN2d, GLU -> ngf/8 x 32 x 32
  -> img: Conv3x3 (ngf/8 -> nc, no bias), tanh -> float [N, nc, 32, 32] in [-1, 1]

Defaults (ngf 256, z 512, project 128, 10 classes): 2,054,368 parameters. Unlike the project's ``student`` presets,
the z-projection width is ``project_dim``, independent of ``ngf``.

Follows the generator protocol; ``truncation_psi`` scales z towards 0 and ``noise_mode`` is ignored, as for the
student. The original sampled z ~ N(0, I) in ``generate`` but distilled on the teacher's U[0, 1) latents.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import nn

from ..fileio import sha256_file
from .fit import check_state_fits
from .inputs import onehot_labels
from .registry import register_generator

CONFIG_FILE, WEIGHTS_FILE = "config.json", "generator.pt"


@dataclass
class DiStyleGAN2022Config:
    """The generator keys of the original ``config.json`` (the loss weights and ``ndf`` are training-only)."""

    z_dim: int = 512
    c_dim: int = 10
    ngf: int = 256
    project_dim: int = 128
    nc: int = 3

    def validate(self) -> None:
        if min(self.z_dim, self.c_dim, self.project_dim, self.nc) < 1 or self.ngf < 8 or self.ngf % 8:
            raise ValueError(f"z_dim, c_dim, project_dim, nc must be >= 1 and ngf a multiple of 8, got {self}")


def _glu_block(fc_in: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(fc_in, out * 2, bias=False), nn.BatchNorm1d(out * 2), nn.GLU(1))


def _up_block(channels: int) -> nn.Sequential:
    """[N, c, H, W] -> [N, c/2, 2H, 2W]."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
        nn.BatchNorm2d(channels),
        nn.GLU(1),
    )


@register_generator("distylegan2022")
class DiStyleGAN2022(nn.Module):
    """The original DiStyleGAN generator (see module docstring); state-dict keys equal the original's."""

    def __init__(self, config: DiStyleGAN2022Config | None = None) -> None:
        super().__init__()
        cfg = config or DiStyleGAN2022Config()
        cfg.validate()
        self.config = cfg
        self.z_dim, self.c_dim, self.img_resolution = cfg.z_dim, cfg.c_dim, 32
        ngf = cfg.ngf
        self.project = _glu_block(cfg.z_dim, cfg.project_dim)
        self.fc = _glu_block(cfg.project_dim + cfg.c_dim, ngf * 16)
        self.upsample1, self.upsample2, self.upsample3 = _up_block(ngf), _up_block(ngf // 2), _up_block(ngf // 4)
        self.img = nn.Sequential(nn.Conv2d(ngf // 8, cfg.nc, 3, 1, 1, bias=False), nn.Tanh())

    @classmethod
    def from_config(cls, config: dict) -> DiStyleGAN2022:
        known = {f.name for f in fields(DiStyleGAN2022Config)}
        return cls(DiStyleGAN2022Config(**{k: int(v) for k, v in config.items() if k in known}))

    def forward(
        self, z: torch.Tensor, labels: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "const"
    ) -> torch.Tensor:
        """z: float [N, z_dim]; labels: int64 [N] or one-hot [N, c_dim] -> float [N, nc, 32, 32] in [-1, 1]."""
        onehot = onehot_labels(z, labels, self.z_dim, self.c_dim)
        h = self.fc(torch.cat([self.project(z * truncation_psi), onehot], 1))
        h = h.view(z.shape[0], self.config.ngf, 4, 4)
        return self.img(self.upsample3(self.upsample2(self.upsample1(h))))


def is_original_checkpoint(path: str | os.PathLike) -> bool:
    """True for a folder holding ``generator.pt`` or for a ``.pt`` file (the original's layout)."""
    p = Path(path)
    return (p.is_dir() and (p / WEIGHTS_FILE).is_file()) or (p.suffix == ".pt" and p.is_file())


def infer_config(state: dict[str, torch.Tensor]) -> DiStyleGAN2022Config:
    """The widths a state dict implies (used when no config.json sits beside ``generator.pt``)."""
    need = ("project.0.weight", "fc.0.weight", "img.0.weight")
    for k in need:
        if k not in state or state[k].dim() < 2:
            raise ValueError(f"not an original DiStyleGAN generator state dict: key {k!r} missing or not a matrix")
    p2, z = state["project.0.weight"].shape
    fc_out, fc_in = state["fc.0.weight"].shape
    nc = state["img.0.weight"].shape[0]
    return DiStyleGAN2022Config(
        z_dim=int(z), c_dim=int(fc_in - p2 // 2), ngf=int(fc_out // 32), project_dim=int(p2 // 2), nc=int(nc)
    )


def load_original(path: str | os.PathLike) -> DiStyleGAN2022:
    """A :class:`DiStyleGAN2022` (eval mode, CPU) from an original checkpoint folder or its ``generator.pt``.

    The widths come from ``config.json`` beside the weights (else from the weights' shapes); the weights are read
    with ``torch.load(weights_only=True, map_location="cpu")``. Raises ValueError naming the first key or shape
    that does not fit.
    """
    p = Path(path)
    weights = p / WEIGHTS_FILE if p.is_dir() else p
    if not weights.is_file():
        raise FileNotFoundError(
            f"{str(weights)!r} not found (an original DiStyleGAN checkpoint is a folder with "
            f"{CONFIG_FILE} and {WEIGHTS_FILE})"
        )
    try:
        state = torch.load(weights, weights_only=True, map_location="cpu")
    except Exception as err:  # pickle/zip errors of any kind: a one-line user error
        raise ValueError(f"{str(weights)!r} is not a weights-only torch file: {str(err).splitlines()[0]}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{str(weights)!r} does not hold a state dict of tensors")
    cfg_path = weights.with_name(CONFIG_FILE)
    if cfg_path.is_file():
        try:
            config = DiStyleGAN2022.from_config(json.loads(cfg_path.read_text())).config
        except (json.JSONDecodeError, TypeError) as err:
            raise ValueError(f"{str(cfg_path)!r} is not a DiStyleGAN config: {err}") from None
    else:
        config = infer_config(state)
    model = DiStyleGAN2022(config)
    check_state_fits(
        model, state, f"{str(weights)!r} does not fit the original DiStyleGAN generator with {asdict(config)}"
    )
    model.load_state_dict(state)
    model.checkpoint_path, model.checksum = str(weights), sha256_file(weights)
    return model.eval()
