"""StyleGAN2-ADA generator (mapping + skip-architecture synthesis) in plain PyTorch.

Module, parameter and buffer names follow the official ``stylegan2-ada-pytorch`` checkpoints
(e.g. ``synthesis.b8.conv0.affine.weight``, ``mapping.fc0.weight``, ``mapping.w_avg``) so that a
state dict read from NVIDIA's pickle loads with ``strict=True``.  The official CIFAR-10 model
(``cifar10.pkl``, Karras et al. 2020, config 'cifar') is :data:`CIFAR10_CONFIG`; it has
20,215,315 generator parameters.  Everything runs in float32 (the original's fp16 layers
``num_fp16_res`` are recorded but computed in fp32).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..registry import register_generator
from .layers import FullyConnectedLayer, SynthesisLayer, ToRGBLayer, normalize_2nd_moment, setup_filter, upsample2d


@dataclass
class StyleGAN2Config:
    """Generator hyper-parameters (names as in the checkpoint's ``_init_kwargs``)."""

    z_dim: int = 512
    c_dim: int = 10
    w_dim: int = 512
    img_resolution: int = 32
    img_channels: int = 3
    mapping_kwargs: dict[str, Any] = field(default_factory=lambda: {"num_layers": 2})
    synthesis_kwargs: dict[str, Any] = field(
        default_factory=lambda: {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256}
    )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StyleGAN2Config:
        """Build from a (checkpoint ``_init_kwargs``) dict; unknown top-level keys raise KeyError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise KeyError(f"unknown StyleGAN2 generator options {sorted(unknown)}; expected {sorted(names)}")
        d = dict(d)
        for k in ("mapping_kwargs", "synthesis_kwargs"):
            if k in d:
                d[k] = dict(d[k])
        return cls(**d)


CIFAR10_CONFIG = StyleGAN2Config()
CIFAR10_NUM_PARAMS = 20_215_315

_MAPPING_KEYS = {"num_layers", "embed_features", "layer_features", "activation", "lr_multiplier", "w_avg_beta"}
_SYNTH_KEYS = {
    "channel_base",
    "channel_max",
    "num_fp16_res",
    "conv_clamp",
    "architecture",
    "resample_filter",
    "fp16_channels_last",
    "use_noise",
    "kernel_size",
}


class MappingNetwork(nn.Module):
    """z [N, z_dim], c one-hot [N, c_dim] -> w [N, num_ws, w_dim].

    x = norm2(z) ++ norm2(embed(c)); num_layers equalized-lr FC + lrelu (lr_multiplier 0.01);
    truncation: w = w_avg + psi * (w - w_avg) (all ws, or the first ``truncation_cutoff``).
    """

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 8,
        embed_features: int | None = None,
        layer_features: int | None = None,
        activation: str = "lrelu",
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
    ) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, c_dim, w_dim, num_ws, num_layers
        embed_features = w_dim if embed_features is None else embed_features
        embed_features = 0 if c_dim == 0 else embed_features
        layer_features = w_dim if layer_features is None else layer_features
        feats = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for i in range(num_layers):
            self.add_module(
                f"fc{i}",
                FullyConnectedLayer(feats[i], feats[i + 1], activation=activation, lr_multiplier=lr_multiplier),
            )
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self, z: torch.Tensor, c: torch.Tensor | None, truncation_psi: float = 1.0, truncation_cutoff: int | None = None
    ) -> torch.Tensor:
        parts = []
        if self.z_dim > 0:
            parts.append(normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim > 0:
            assert self.embed is not None and c is not None  # embed is built when c_dim > 0; c is then required
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if isinstance(truncation_psi, torch.Tensor) or truncation_psi != 1:  # a tensor ψ: an input of a traced graph
            if truncation_cutoff is None:
                x = self.w_avg.lerp(x, truncation_psi)
            else:
                x = torch.cat(
                    [self.w_avg.lerp(x[:, :truncation_cutoff], truncation_psi), x[:, truncation_cutoff:]], dim=1
                )
        return x


class SynthesisBlock(nn.Module):
    """One resolution of the 'skip' synthesis: (const | conv0 up-2x) -> conv1 -> torgb, img += upsample(img)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: str = "skip",
        conv_clamp: float | None = None,
        resample_filter: tuple[float, ...] = (1, 3, 3, 1),
        use_noise: bool = True,
    ) -> None:
        super().__init__()
        if architecture != "skip":
            raise ValueError(
                f"architecture {architecture!r} not supported; expected 'skip' (the official CIFAR-10 model)"
            )
        self.in_channels, self.resolution, self.is_last = in_channels, resolution, is_last
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.filter_taps = len(resample_filter)
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(
                in_channels,
                out_channels,
                w_dim,
                resolution,
                up=2,
                conv_clamp=conv_clamp,
                resample_filter=resample_filter,
                use_noise=use_noise,
            )
        self.conv1 = SynthesisLayer(
            out_channels,
            out_channels,
            w_dim,
            resolution,
            conv_clamp=conv_clamp,
            resample_filter=resample_filter,
            use_noise=use_noise,
        )
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_conv = 1 if in_channels == 0 else 2
        self.num_torgb = 1

    def forward(
        self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, noise_mode: str = "const"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """ws: [N, num_conv + 1, w_dim]; x: [N, I, R/2, R/2] or None; img: [N, C, R/2, R/2] or None."""
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = self.conv1(x, ws[:, 0], noise_mode=noise_mode)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode=noise_mode)
            x = self.conv1(x, ws[:, 1], noise_mode=noise_mode)
        y = self.torgb(x, ws[:, self.num_conv])
        img = y if img is None else upsample2d(img, self.resample_filter, taps=self.filter_taps) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> img [N, img_channels, R, R]; blocks b4 ... bR; channels min(base // res, max)."""

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        conv_clamp: float | None = None,
        architecture: str = "skip",
        resample_filter: tuple[float, ...] = (1, 3, 3, 1),
        use_noise: bool = True,
        fp16_channels_last: bool = False,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        log2 = int(img_resolution).bit_length() - 1
        if img_resolution < 4 or 2**log2 != img_resolution:
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        if kernel_size != 3:
            raise ValueError(f"kernel_size {kernel_size} not supported; expected 3")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.num_fp16_res = num_fp16_res  # recorded only: we compute in fp32
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        ch = {r: min(channel_base // r, channel_max) for r in self.block_resolutions}
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(
                ch[res // 2] if res > 4 else 0,
                ch[res],
                w_dim,
                res,
                img_channels,
                is_last=res == img_resolution,
                architecture=architecture,
                conv_clamp=conv_clamp,
                resample_filter=tuple(resample_filter),
                use_noise=use_noise,
            )
            self.num_ws += block.num_conv
            self.add_module(f"b{res}", block)
        self.num_ws += 1  # the last block's to-RGB

    def forward(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        x = img = None
        idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            x, img = block(x, img, ws[:, idx : idx + block.num_conv + 1], noise_mode=noise_mode)
            idx += block.num_conv
        return img


@register_generator("stylegan2-ada")
class Generator(nn.Module):
    """Class-conditional StyleGAN2-ADA generator following the project's generator protocol.

    forward(z float32 [N, z_dim] ~ N(0, I), labels int64 [N] or one-hot float [N, c_dim],
    truncation_psi=1.0, noise_mode='const'|'random'|'none') -> float32 [N, C, R, R], ≈[-1, 1], not clamped.
    """

    def __init__(self, config: StyleGAN2Config | None = None) -> None:
        super().__init__()
        self.config = config = config or StyleGAN2Config()
        mk, sk = dict(config.mapping_kwargs), dict(config.synthesis_kwargs)
        for name, keys, kw in (("mapping_kwargs", _MAPPING_KEYS, mk), ("synthesis_kwargs", _SYNTH_KEYS, sk)):
            if set(kw) - keys:
                raise KeyError(f"unknown {name} {sorted(set(kw) - keys)}; expected a subset of {sorted(keys)}")
        self.z_dim, self.c_dim, self.w_dim = config.z_dim, config.c_dim, config.w_dim
        self.img_resolution, self.img_channels = config.img_resolution, config.img_channels
        self.synthesis = SynthesisNetwork(config.w_dim, config.img_resolution, config.img_channels, **sk)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(config.z_dim, config.c_dim, config.w_dim, self.num_ws, **mk)

    @classmethod
    def from_config(cls, d: dict[str, Any]) -> Generator:
        return cls(StyleGAN2Config.from_dict(d))

    def set_fused_modconv(self, fused: bool) -> Generator:
        """Grouped-conv (NVIDIA's fp32 eval default) or activation-scaling modulated convs."""
        for m in self.modules():
            if hasattr(m, "fused"):
                m.fused = fused
        return self

    def labels_to_onehot(self, labels: torch.Tensor) -> torch.Tensor:
        """int64 [N] -> float32 one-hot [N, c_dim]; a float [N, c_dim] passes through."""
        if labels.ndim == 2 and labels.is_floating_point():
            if labels.shape[1] != self.c_dim:
                raise ValueError(f"one-hot labels have {labels.shape[1]} columns; expected c_dim={self.c_dim}")
            return labels.to(torch.float32)
        if labels.ndim != 1:
            raise ValueError(f"labels must be int64 [N] or one-hot [N, {self.c_dim}], got shape {tuple(labels.shape)}")
        if not torch.jit.is_tracing() and labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.c_dim):
            raise ValueError(
                f"labels must lie in [0, {self.c_dim}), got range [{int(labels.min())}, {int(labels.max())}]"
            )
        classes = torch.arange(self.c_dim, device=labels.device)
        return (labels.long().unsqueeze(1) == classes).to(torch.float32)

    def mapping_ws(
        self,
        z: torch.Tensor,
        labels: torch.Tensor | None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
    ) -> torch.Tensor:
        """z, labels -> ws [N, num_ws, w_dim]."""
        c = self.labels_to_onehot(labels) if self.c_dim > 0 else None
        return self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)

    def forward(
        self,
        z: torch.Tensor,
        labels: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        noise_mode: str = "const",
        truncation_cutoff: int | None = None,
    ) -> torch.Tensor:
        if not torch.jit.is_tracing() and (z.ndim != 2 or z.shape[1] != self.z_dim):
            raise ValueError(f"z must be [N, {self.z_dim}], got shape {tuple(z.shape)}")
        ws = self.mapping_ws(z, labels, truncation_psi, truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode)
