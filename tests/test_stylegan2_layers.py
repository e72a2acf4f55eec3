"""StyleGAN2-ADA blocks vs direct, unoptimised formulas written here from the paper's definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gsoc_helpers.models.stylegan2_ada import CIFAR10_NUM_PARAMS, Generator, StyleGAN2Config
from gsoc_helpers.models.stylegan2_ada.layers import (
    FullyConnectedLayer,
    SynthesisLayer,
    ToRGBLayer,
    bias_act,
    modulated_conv2d,
    setup_filter,
    upfirdn2d,
    upsample2d,
)

from official_fixtures import SMALL_KW

F1 = np.array([1.0, 3.0, 3.0, 1.0])
FIR = np.outer(F1, F1) / 64.0  # the normalised 2-D [1,3,3,1] filter


def naive_lrelu_act(x: np.ndarray, gain: float = math.sqrt(2), clamp: float | None = None) -> np.ndarray:
    y = np.where(x >= 0, x, 0.2 * x) * gain
    return np.clip(y, -clamp, clamp) if clamp is not None else y


def naive_fir_up2(x: np.ndarray) -> np.ndarray:
    """out[y, x] = 4 * sum_{u,v} FIR[y - 2u + 1, x - 2v + 1] * in[u, v] (each input pixel scatters 4x4 taps)."""
    n, c, h, w = x.shape
    out = np.zeros((n, c, 2 * h, 2 * w))
    for u in range(h):
        for v in range(w):
            for a in range(4):
                for b in range(4):
                    yy, xx = 2 * u - 1 + a, 2 * v - 1 + b
                    if 0 <= yy < 2 * h and 0 <= xx < 2 * w:
                        out[:, :, yy, xx] += 4 * FIR[a, b] * x[:, :, u, v]
    return out


def naive_modconv(
    x: np.ndarray, weight: np.ndarray, styles: np.ndarray, demod: bool = True, up: bool = False
) -> np.ndarray:
    """Per-sample weights W_n = W * s_n (over input channels), / sqrt(sum W_n^2 + 1e-8) per output channel.

    up=False: 'same' correlation (pad k//2).  up=True: zero-insert the input (x at even positions),
    true convolution with W_n (full), then 4x4 FIR with pad 1 and gain 4 -- the StyleGAN2 up-conv.
    """
    n, i, h, w = x.shape
    o, _, k, _ = weight.shape
    outs = []
    for s in range(n):
        wn = weight * styles[s][None, :, None, None]
        if demod:
            wn = wn / np.sqrt((wn**2).sum(axis=(1, 2, 3), keepdims=True) + 1e-8)
        if not up:
            p = k // 2
            xp = np.pad(x[s], ((0, 0), (p, p), (p, p)))
            y = np.zeros((o, h, w))
            for a in range(k):
                for b in range(k):
                    y += np.einsum("oi,ihw->ohw", wn[:, :, a, b], xp[:, a : a + h, b : b + w])
        else:
            z = np.zeros((i, 2 * h - 1, 2 * w - 1))
            z[:, ::2, ::2] = x[s]
            t = np.zeros((o, 2 * h + 1, 2 * w + 1))
            for a in range(k):
                for b in range(k):  # t[y] = sum_a W[a] z[y - a]
                    t[:, a : a + 2 * h - 1, b : b + 2 * w - 1] += np.einsum("oi,ihw->ohw", wn[:, :, a, b], z)
            tp = np.pad(t, ((0, 0), (1, 1), (1, 1)))
            y = np.zeros((o, 2 * h, 2 * w))
            for a in range(4):
                for b in range(4):
                    y += 4 * FIR[a, b] * tp[:, a : a + 2 * h, b : b + 2 * w]
        outs.append(y)
    return np.stack(outs)


def naive_fc(x: np.ndarray, w: np.ndarray, b: np.ndarray, lr: float = 1.0, act: str = "linear") -> np.ndarray:
    y = x @ (w * lr / math.sqrt(w.shape[1])).T + b * lr
    return naive_lrelu_act(y) if act == "lrelu" else y


def naive_norm(x: np.ndarray) -> np.ndarray:
    return x / np.sqrt((x**2).mean(axis=1, keepdims=True) + 1e-8)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def test_setup_filter_is_normalised_outer_product():
    np.testing.assert_allclose(setup_filter().numpy(), FIR, atol=0)


def test_upsample2d_matches_scatter_formula():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 4)
    y = upsample2d(x, setup_filter())
    assert y.shape == (2, 3, 10, 8)
    np.testing.assert_allclose(_np(y), naive_fir_up2(_np(x)), atol=1e-5)
    # a constant image stays constant in the interior (gain 4 compensates the zero insertion)
    c = upsample2d(torch.ones(1, 1, 6, 6), setup_filter())
    assert torch.allclose(c[..., 2:-2, 2:-2], torch.ones(1, 1, 8, 8))


def test_upfirdn2d_general_convolution_with_padding_crop_and_down():
    """Asymmetric filter: output = true convolution (flipped filter) of zero-inserted, padded input."""
    torch.manual_seed(1)
    x = torch.randn(1, 2, 5, 6)
    f = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    up, down, (px0, px1, py0, py1), gain = 2, 2, (2, -1, 1, 0), 3.0
    y = upfirdn2d(x, f, up=up, down=down, padding=(px0, px1, py0, py1), gain=gain)
    xn = _np(x)
    z = np.zeros((1, 2, 5 * up, 6 * up))
    z[:, :, ::up, ::up] = xn
    z = np.pad(z, ((0, 0), (0, 0), (py0, py1), (px0, 0)))[:, :, :, : px1 or None]
    fn, (kh, kw) = _np(f) * gain, f.shape
    oh, ow = z.shape[2] - kh + 1, z.shape[3] - kw + 1
    ref = np.zeros((1, 2, oh, ow))
    for yy in range(oh):
        for xx in range(ow):
            for a in range(kh):
                for b in range(kw):
                    ref[:, :, yy, xx] += fn[kh - 1 - a, kw - 1 - b] * z[:, :, yy + a, xx + b]
    np.testing.assert_allclose(_np(y), ref[:, :, ::down, ::down], atol=1e-5)


def test_bias_act_gain_and_clamp():
    x = torch.linspace(-300, 300, 61).reshape(1, 61)
    b = torch.tensor([2.0] * 61)
    y = bias_act(x, b, act="lrelu", gain=math.sqrt(2), clamp=256)
    np.testing.assert_allclose(_np(y), naive_lrelu_act(_np(x) + 2.0, clamp=256), atol=1e-4)
    assert float(y.max()) == 256.0 and float(y.min()) > -256
    assert torch.equal(bias_act(x, b), x + 2.0)


@pytest.mark.parametrize("act,lr", [("linear", 1.0), ("lrelu", 0.01)])
def test_fully_connected_equalized_lr(act, lr):
    torch.manual_seed(2)
    fc = FullyConnectedLayer(7, 5, activation=act, lr_multiplier=lr, bias_init=0.3)
    with torch.no_grad():
        fc.bias.normal_()
    x = torch.randn(4, 7)
    np.testing.assert_allclose(
        _np(fc(x)), naive_fc(_np(x), _np(fc.weight), _np(fc.bias), lr, act), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    "up,demod,fused", [(1, True, True), (1, True, False), (2, True, True), (2, True, False), (1, False, True)]
)
def test_modulated_conv_matches_direct_formula(up, demod, fused):
    torch.manual_seed(3)
    x, weight, styles = torch.randn(2, 3, 4, 4), torch.randn(5, 3, 3, 3), torch.randn(2, 3)
    y = modulated_conv2d(
        x, weight, styles, up=up, padding=1, resample_filter=setup_filter(), demodulate=demod, fused=fused
    )
    ref = naive_modconv(_np(x), _np(weight), _np(styles), demod=demod, up=up == 2)
    assert y.shape == ref.shape
    np.testing.assert_allclose(_np(y), ref, atol=2e-5, rtol=1e-5)


def test_synthesis_layer_noise_bias_act_clamp():
    torch.manual_seed(4)
    layer = SynthesisLayer(3, 4, w_dim=6, resolution=8, up=2, conv_clamp=0.7)
    with torch.no_grad():
        layer.noise_strength.fill_(0.5)
        layer.bias.normal_()
        layer.affine.bias.normal_()
    x, w = torch.randn(2, 3, 4, 4), torch.randn(2, 6)
    styles = naive_fc(_np(w), _np(layer.affine.weight), _np(layer.affine.bias))
    conv = naive_modconv(_np(x), _np(layer.weight), styles, up=True)
    for mode, noise in (("const", 0.5 * _np(layer.noise_const)), ("none", 0.0)):
        ref = naive_lrelu_act(conv + noise + _np(layer.bias)[None, :, None, None], clamp=0.7)
        np.testing.assert_allclose(_np(layer(x, w, noise_mode=mode)), ref, atol=2e-5)
    r1, r2 = layer(x, w, noise_mode="random"), layer(x, w, noise_mode="random")
    assert not torch.equal(r1, r2)
    with pytest.raises(ValueError, match="noise_mode"):
        layer(x, w, noise_mode="bogus")


def test_torgb_no_demodulation_style_gain():
    torch.manual_seed(5)
    rgb = ToRGBLayer(4, 3, w_dim=6, conv_clamp=256)
    with torch.no_grad():
        rgb.bias.normal_()
    x, w = torch.randn(2, 4, 5, 5), torch.randn(2, 6)
    styles = naive_fc(_np(w), _np(rgb.affine.weight), _np(rgb.affine.bias)) / math.sqrt(4)
    ref = (
        np.einsum("oi,ni,nihw->nohw", _np(rgb.weight)[:, :, 0, 0], styles, _np(x)) + _np(rgb.bias)[None, :, None, None]
    )
    np.testing.assert_allclose(_np(rgb(x, w)), ref, atol=1e-5)


SMALL = StyleGAN2Config(**SMALL_KW)  # the official-format fixtures' small network


def small_generator(seed: int = 0) -> Generator:
    """Small-channel generator with every parameter/buffer randomised (noise strengths and w_avg too)."""
    torch.manual_seed(seed)
    g = Generator(SMALL).eval()
    with torch.no_grad():
        for name, t in g.state_dict().items():
            if name.endswith("noise_strength") or name.endswith("bias") or name.endswith("w_avg"):
                t.copy_(torch.randn_like(t) * 0.5 + (1.0 if name.endswith("affine.bias") else 0.0))
    return g


def naive_generator(g: Generator, z: np.ndarray, c: np.ndarray, psi: float) -> np.ndarray:
    """Whole skip-architecture generator composed from the direct formulas above."""
    p = {k: _np(v) for k, v in g.state_dict().items()}
    x = naive_norm(z)
    y = naive_norm(naive_fc(c, p["mapping.embed.weight"], p["mapping.embed.bias"]))
    w = np.concatenate([x, y], axis=1)
    for i in range(2):
        w = naive_fc(w, p[f"mapping.fc{i}.weight"], p[f"mapping.fc{i}.bias"], lr=0.01, act="lrelu")
    w = p["mapping.w_avg"] + psi * (w - p["mapping.w_avg"])  # same w for all 8 ws (no cutoff)

    def layer(name: str, h: np.ndarray, up: bool) -> np.ndarray:
        s = naive_fc(w, p[name + ".affine.weight"], p[name + ".affine.bias"])
        out = naive_modconv(h, p[name + ".weight"], s, up=up)
        out = out + p[name + ".noise_strength"] * p[name + ".noise_const"]
        return naive_lrelu_act(out + p[name + ".bias"][None, :, None, None], clamp=256)

    def torgb(name: str, h: np.ndarray) -> np.ndarray:
        s = naive_fc(w, p[name + ".affine.weight"], p[name + ".affine.bias"]) / math.sqrt(h.shape[1])
        out = np.einsum("oi,ni,nihw->nohw", p[name + ".weight"][:, :, 0, 0], s, h)
        return np.clip(out + p[name + ".bias"][None, :, None, None], -256, 256)

    h = np.repeat(p["synthesis.b4.const"][None], z.shape[0], axis=0)
    h = layer("synthesis.b4.conv1", h, False)
    img = torgb("synthesis.b4.torgb", h)
    for res in (8, 16):
        h = layer(f"synthesis.b{res}.conv0", h, True)
        h = layer(f"synthesis.b{res}.conv1", h, False)
        img = naive_fir_up2(img) + torgb(f"synthesis.b{res}.torgb", h)
    return img


@pytest.mark.parametrize("psi", [1.0, 0.6])
def test_generator_matches_naive_composition(psi):
    g = small_generator(6)
    rng = np.random.default_rng(6)
    z = rng.standard_normal((2, 8)).astype(np.float32)
    labels = np.array([1, 3])
    out = g(torch.from_numpy(z), torch.from_numpy(labels), truncation_psi=psi)
    ref = naive_generator(g, z.astype(np.float64), np.eye(4)[labels], psi)
    assert out.shape == (2, 3, 16, 16) and out.dtype == torch.float32
    np.testing.assert_allclose(_np(out), ref, atol=1e-4)


def test_generator_label_forms_and_errors():
    g = small_generator(7)
    z = torch.randn(3, 8)
    a = g(z, torch.tensor([0, 2, 3]))
    b = g(z, torch.eye(4)[[0, 2, 3]])
    assert torch.equal(a, b)
    assert not torch.equal(a, g(z, torch.tensor([1, 2, 3])))
    assert g.num_ws == 6 and g.mapping(z, torch.eye(4)[:3]).shape == (3, 6, 6)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        g(z, torch.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match="z must be"):
        g(torch.randn(3, 5), torch.tensor([0, 1, 2]))


def test_truncation_cutoff_only_first_ws():
    g = small_generator(8)
    z, c = torch.randn(2, 8), torch.eye(4)[:2]
    full, cut = g.mapping(z, c), g.mapping(z, c, truncation_psi=0.5, truncation_cutoff=2)
    assert torch.allclose(cut[:, :2], g.mapping.w_avg + 0.5 * (full[:, :2] - g.mapping.w_avg))
    assert torch.equal(cut[:, 2:], full[:, 2:])


def test_full_cifar10_config_parameter_count_and_forward():
    torch.manual_seed(0)
    g = Generator().eval()
    assert sum(p.numel() for p in g.parameters()) == CIFAR10_NUM_PARAMS == 20_215_315
    assert g.num_ws == 8 and (g.z_dim, g.c_dim, g.img_resolution) == (512, 10, 32)
    with torch.no_grad():
        y = g(torch.randn(1, 512), torch.tensor([3]))
    assert y.shape == (1, 3, 32, 32) and torch.isfinite(y).all()
