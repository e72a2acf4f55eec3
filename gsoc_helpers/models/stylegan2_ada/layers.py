"""StyleGAN2-ADA building blocks in plain PyTorch (no custom CUDA ops), float32 only.

Written from the StyleGAN2 / StyleGAN2-ADA papers (Karras et al. 2020, "Analyzing and Improving
the Image Quality of StyleGAN" and "Training Generative Adversarial Networks with Limited Data")
and from the parameter/buffer names and shapes of the official ``stylegan2-ada-pytorch``
checkpoints.  Conventions reproduced exactly (facts about the published model):

* equalized learning rate: weights are stored un-scaled and multiplied at run time by
  ``lr_multiplier / sqrt(fan_in)``; biases by ``lr_multiplier``;
* bias + activation: ``clamp(act(x + b) * gain, -clamp, clamp)`` with leaky-ReLU slope 0.2 and
  default gain sqrt(2) for lrelu, 1 for linear;
* FIR re-sampling (``upfirdn2d``): 2-D filter ``outer(f, f) / sum``, zero-insertion up-sampling,
  padding ``[x0, x1, y0, y1]``, convolution with the flipped filter scaled by ``gain ** (ndim / 2)``;
* modulated convolution with demodulation ``rsqrt(sum(w^2) + 1e-8)`` over (in, kh, kw).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def setup_filter(taps: Sequence[float] = (1, 3, 3, 1)) -> torch.Tensor:
    """2-D FIR filter from 1-D taps: ``outer(f, f) / sum(outer(f, f))`` -> float32 [K, K]."""
    f = torch.as_tensor(list(taps), dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor,
    up: int = 1,
    down: int = 1,
    padding: Sequence[int] = (0, 0, 0, 0),
    gain: float = 1.0,
) -> torch.Tensor:
    """Up-sample (zero insertion), pad, FIR-filter, down-sample.

    x: [N, C, H, W]; f: [K, K]; padding: (x0, x1, y0, y1), may be negative (crop).
    Output: [N, C, (H*up + y0 + y1 - K + 1) // down, ...] (ceil for down > 1).
    """
    n, c, h, w = x.shape
    with warnings.catch_warnings():  # traced shapes -> constants (weights/filters have fixed sizes)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        px0, px1, py0, py1 = (int(p) for p in padding)
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    k = f.to(x.dtype) * (gain ** (f.ndim / 2))
    k = k.flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    x = F.conv2d(x, k, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2, taps: int | None = None) -> torch.Tensor:
    """FIR up-sampling with NVIDIA's padding: [N,C,H,W] -> [N,C,H*up,W*up], gain up**2 (taps = f's size)."""
    k = int(f.shape[-1]) if taps is None else taps
    p0, p1 = (k + up - 1) // 2, (k - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    act: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """``clamp(act(x + b) * gain)``; b broadcast along dim 1; act 'linear' | 'lrelu'.

    Without autograd the steps after the first run in place on the fresh intermediate (``x`` itself is never
    modified): one memory pass less per step on the teacher's [N, 512, 32, 32] activations."""
    inplace = not torch.is_grad_enabled()
    fresh = False  # True once x is an intermediate of ours
    if b is not None:
        x, fresh = x + b.reshape([1, -1] + [1] * (x.ndim - 2)), True
    if act == "lrelu":
        x = F.leaky_relu_(x, LRELU_SLOPE) if inplace and fresh else F.leaky_relu(x, LRELU_SLOPE)
        fresh, default_gain = True, LRELU_GAIN
    elif act == "linear":
        default_gain = 1.0
    else:
        raise ValueError(f"unknown activation {act!r}; expected 'linear' or 'lrelu'")
    g = default_gain if gain is None else gain
    if g != 1:
        x, fresh = (x.mul_(g) if inplace and fresh else x * g), True
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp) if inplace and fresh else x.clamp(-clamp, clamp)
    return x


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """``x / sqrt(mean(x^2) + eps)`` along ``dim``."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    fused: bool = False,
    filter_taps: int | None = None,
) -> torch.Tensor:
    """Modulated (and demodulated) convolution, optional FIR 2x up-sampling, plus noise.

    x: [N, I, H, W]; weight: [O, I, k, k] (raw parameter, no gain); styles: [N, I];
    noise: broadcastable to [N, O, H', W'].  up=2 is a stride-2 transposed convolution followed by
    ``upfirdn2d(pad=(K-2)//2+..., gain=4)`` exactly as NVIDIA's ``conv2d_resample``.

    Two formulations of the same function (they differ by float rounding only, ~1e-5 on the teacher's images):

    * ``fused=True``: NVIDIA's inference form -- per-image weights ``w[n] = weight * styles[n] * dcoefs[n]``
      [N, O, I, k, k] and one grouped convolution with one group per image (the reference of the sampler's
      exactness check);
    * ``fused=False`` (default): scale the activations by the styles, one shared-weight batched convolution,
      multiply by ``dcoefs``; ``dcoefs[n, o] = rsqrt(sum_i styles[n, i]^2 * sum_kk weight[o, i]^2 + 1e-8)`` is a
      [N, I] x [I, O] matrix product, so no per-image weight tensor is built.  Several times faster on CPUs, and
      batch-size independent (used for export).
    ``filter_taps``: the filter's size as a Python int (keeps traced graphs free of shape->int casts).
    """
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    if fused and not torch.jit.is_tracing():
        w = weight.unsqueeze(0) * styles.reshape(n, 1, in_ch, 1, 1)  # [N, O, I, k, k]
        if demodulate:
            w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(n, out_ch, 1, 1, 1)
        xg = x.reshape(1, n * in_ch, *x.shape[2:])
        if up == 1:
            y = F.conv2d(xg, w.reshape(n * out_ch, in_ch, kh, kw), padding=padding, groups=n)
        else:
            wt = w.transpose(1, 2).reshape(n * in_ch, out_ch, kh, kw)
            y = _up_tail(F.conv_transpose2d(xg, wt, stride=up, groups=n), resample_filter, up, padding, kw, filter_taps)
        y = y.reshape(n, out_ch, *y.shape[2:])
        return y if noise is None else y + noise
    y = x * styles.reshape(n, in_ch, 1, 1)
    if up == 1:
        y = F.conv2d(y, weight, padding=padding)
    else:
        y = _up_tail(
            F.conv_transpose2d(y, weight.transpose(0, 1), stride=up), resample_filter, up, padding, kw, filter_taps
        )
    if not demodulate:
        return y if noise is None else y + noise
    dcoefs = (styles.square().matmul(weight.square().sum(dim=[2, 3]).t()) + 1e-8).rsqrt()  # [N, O]
    dcoefs = dcoefs.reshape(n, out_ch, 1, 1)
    return y * dcoefs if noise is None else torch.addcmul(noise, y, dcoefs)


def _up_tail(
    y: torch.Tensor, f: torch.Tensor | None, up: int, padding: int, kw: int, taps: int | None = None
) -> torch.Tensor:
    """FIR filtering after the stride-``up`` transposed conv (padding as in conv2d_resample)."""
    if f is None:
        raise ValueError("up-sampling modulated_conv2d needs resample_filter")
    fw = int(f.shape[-1]) if taps is None else taps
    p0 = padding + (fw + up - 1) // 2 - (kw - 1)
    p1 = padding + (fw - up) // 2 - (kw - up)
    return upfirdn2d(y, f, padding=(p0, p1, p0, p1), gain=up * up)


class FullyConnectedLayer(nn.Module):
    """Equalized-lr linear layer: y = act(x @ (W * lr/sqrt(in)).T + b * lr). x: [N, in] -> [N, out]."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = None if self.bias is None else (self.bias * self.bias_gain if self.bias_gain != 1 else self.bias)
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (+2x FIR up-sampling) + per-pixel noise + bias + lrelu*sqrt(2) + clamp.

    forward(x [N, I, R/up, R/up], w [N, w_dim]) -> [N, O, R, R].
    Names: affine.{weight,bias}, weight [O,I,3,3], noise_strength [], bias [O],
    resample_filter [4,4], noise_const [R, R].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        conv_clamp: float | None = None,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        self.resolution, self.up, self.use_noise, self.conv_clamp = resolution, up, use_noise, conv_clamp
        self.padding = kernel_size // 2
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.filter_taps = len(resample_filter)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.fused = False  # True: NVIDIA's grouped-conv inference form (see modulated_conv2d)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            noise = (
                torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device) * self.noise_strength
            )
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        elif noise_mode not in ("none", "random", "const"):
            raise ValueError(f"noise_mode {noise_mode!r}; expected 'const', 'random' or 'none'")
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise,
            up=self.up,
            padding=self.padding,
            resample_filter=self.resample_filter,
            fused=self.fused,
            filter_taps=self.filter_taps,
        )
        return bias_act(x, self.bias, act="lrelu", gain=LRELU_GAIN, clamp=self.conv_clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv without demodulation + bias (+clamp); styles scaled by 1/sqrt(I).

    forward(x [N, I, R, R], w [N, w_dim]) -> [N, img_channels, R, R]. Names: affine.*, weight [C,I,1,1], bias [C].
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)
        self.fused = False  # True: NVIDIA's grouped-conv inference form (see modulated_conv2d)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=self.fused)
        return bias_act(x, self.bias, clamp=self.conv_clamp)
