"""A b-bit PyTorch classifier that trains (straight-through rounding, learnable step sizes) and exports to an OpenVINO IR.

* :func:`fold_batchnorms` folds each BatchNorm2d into the convolution whose output it takes, found by **data flow**
  (a ``torch.fx`` trace), and refuses (ValueError) when the folded model's outputs differ from the original's.
* :func:`quantize_modules` makes every Conv2d/Linear (subclasses included, e.g. EfficientNet's
  ``Conv2dStaticSamePadding``) b-bit **without replacing it**, so its own forward still runs: its weight goes through
  a ``torch.nn.utils.parametrize`` parametrization (:class:`WeightQuant`, per-output-channel symmetric narrow grid
  ``{-(2^(b-1)-1) .. 2^(b-1)-1} * scale``), its input through a forward pre-hook calling its
  ``input_quantizer`` (:class:`ActQuant`, per-tensor asymmetric ``levels = 2^b`` with an integer zero point).
* In eval mode both quantizers are ``torch.fake_quantize_per_channel_affine`` / ``..._per_tensor_affine``, which
  ``openvino.convert_model`` turns into FakeQuantize ops: :func:`export_openvino` gives the IR OpenVINO runs (weights
  compressed to int4/int8 codes by OpenVINO's ``compress_quantize_weights_transformation``). In training mode the
  same grids with straight-through rounding and LSQ gradient scaling (Esser et al. 2020).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from .ranges import weight_scales

EPS = 1e-8


def _grad_scale(x: torch.Tensor, g: float) -> torch.Tensor:
    return (x - x * g).detach() + x * g


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return (x.round() - x).detach() + x


class ActQuant(nn.Module):
    """Per-tensor asymmetric fake-quant: ``levels`` values ``(q - zp) * scale``, q in 0..levels-1, with the integer
    zero point ``zp = round(-low / scale)``; ``low`` stays 0 (not learnt) for non-negative inputs. Off (identity)
    until :meth:`init` sets the range."""

    def __init__(self, levels: int) -> None:
        super().__init__()
        self.levels = levels
        self.low = nn.Parameter(torch.zeros(()), requires_grad=False)
        self.scale = nn.Parameter(torch.ones(()))
        self.register_buffer("ready", torch.zeros((), dtype=torch.bool))  # saved with the checkpoint
        self.on = False  # ``ready`` as a Python bool (read while tracing without a TracerWarning)
        self.frozen: tuple[float, int] | None = None  # (scale, zero point) as constants while exporting
        self.register_load_state_dict_post_hook(_sync_on)

    def init(self, low: float, high: float) -> None:
        with torch.no_grad():
            self.low.fill_(low)
            self.scale.fill_((high - low) / (self.levels - 1))
        self.low.requires_grad_(low < 0)
        self.ready.fill_(True)
        self.on = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.on:
            return x
        top = self.levels - 1
        if self.frozen is not None:
            return torch.fake_quantize_per_tensor_affine(x, self.frozen[0], self.frozen[1], 0, top)
        if not self.training:
            s = self.scale.detach().abs() + EPS
            zp = torch.clamp(torch.round(-self.low.detach() / s), 0, top).int()
            return torch.fake_quantize_per_tensor_affine(x, s.float(), zp, 0, top)
        s = _grad_scale(self.scale, 1 / math.sqrt(x[0].numel() * top)).abs() + EPS
        zp = torch.clamp(_round_ste(-self.low / s), 0, top)
        return (torch.clamp(_round_ste(x / s) + zp, 0, top) - zp) * s


def _sync_on(module: nn.Module, _keys) -> None:
    module.on = bool(module.ready)


class WeightQuant(nn.Module):
    """Parametrization of a Conv2d/Linear weight [C_out, ...]: per-output-channel symmetric b-bit fake-quant with
    learnable scales, initialised by :func:`.ranges.weight_scales` (``mse`` or ``minmax``)."""

    def __init__(self, weight: torch.Tensor, bits: int, estimator: str) -> None:
        super().__init__()
        self.qmax = 2 ** (bits - 1) - 1
        w = weight.detach().cpu().numpy()
        self.scale = nn.Parameter(torch.from_numpy(weight_scales(w, bits, "mse" if estimator == "mse" else "minmax")))
        self.frozen: tuple[torch.Tensor, torch.Tensor] | None = None  # (scales, zero points) while exporting

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if self.frozen is not None:
            return torch.fake_quantize_per_channel_affine(w, *self.frozen, 0, -self.qmax, self.qmax)
        if not self.training:
            s = self.scale.detach().abs() + EPS
            zero = torch.zeros_like(s, dtype=torch.int32)
            return torch.fake_quantize_per_channel_affine(w, s.float(), zero, 0, -self.qmax, self.qmax)
        g = 1 / math.sqrt(w[0].numel() * self.qmax)
        s = (_grad_scale(self.scale, g).abs() + EPS).view(-1, *([1] * (w.ndim - 1)))
        return _round_ste(torch.clamp(w / s, -self.qmax, self.qmax)) * s


def _quantize_input(module: nn.Module, args: tuple) -> tuple:
    return (module.input_quantizer(args[0]), *args[1:])


def _trace(model: nn.Module):
    """A ``torch.fx`` graph of ``model`` keeping every Conv2d, Linear and BatchNorm2d (subclasses too) as one call."""
    import torch.fx as fx

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)) or super().is_leaf_module(m, qualname)

    return Tracer().trace(model)


def conv_bn_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """(convolution name, BatchNorm2d name) of every BatchNorm2d whose input is a Conv2d's output used by nothing
    else, each module called once, found on a ``torch.fx`` trace of ``model`` (ValueError when it cannot trace)."""
    try:
        graph = _trace(model)
    except Exception as err:  # fx raises several types (TraceError, TypeError, ...) on data-dependent code
        raise ValueError(f"cannot fold BatchNorms: torch.fx cannot trace {type(model).__name__} ({err})") from None
    modules = dict(model.named_modules())
    calls: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    pairs = []
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(modules[node.target], nn.BatchNorm2d):
            continue
        src = node.args[0]
        if (
            isinstance(src, torch.fx.Node)
            and src.op == "call_module"
            and isinstance(modules[src.target], nn.Conv2d)
            and len(src.users) == 1
            and calls[src.target] == calls[node.target] == 1
        ):
            pairs.append((str(src.target), str(node.target)))
    return pairs


def fold_batchnorms(model: nn.Module, example: torch.Tensor, tolerance: float = 1e-4) -> nn.Module:
    """``model`` (in place, eval) with every BatchNorm2d of :func:`conv_bn_pairs` folded into its convolution (the
    BatchNorm becomes Identity). ValueError when the outputs on ``example`` (a model input) move by more than
    ``tolerance`` times their largest magnitude."""
    from torch.nn.utils.fusion import fuse_conv_bn_weights

    model.eval()
    with torch.no_grad():
        before = model(example)
        modules = dict(model.named_modules())
        for conv_name, bn_name in conv_bn_pairs(model):
            conv, bn = modules[conv_name], modules[bn_name]
            assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
            assert bn.running_mean is not None and bn.running_var is not None
            conv.weight, conv.bias = fuse_conv_bn_weights(
                conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
            )
            parent, _, leaf = bn_name.rpartition(".")
            setattr(modules[parent] if parent else model, leaf, nn.Identity())
        after = model(example)
    change = float((after - before).abs().max())
    if change > tolerance * max(1.0, float(before.abs().max())):
        raise ValueError(f"folding BatchNorms changed {type(model).__name__}'s outputs by up to {change:.3g}; refused")
    return model


def quantize_modules(model: nn.Module, bits, estimator: str = "mse") -> list[nn.Module]:
    """Make every Conv2d/Linear of ``model`` (in place) b-bit (``bits``: a :class:`.lowbit.BitWidth`): weight
    parametrization and input pre-hook, the module itself kept. Returns the quantized modules in order."""
    layers = []
    for module in list(model.modules()):
        if not isinstance(module, (nn.Conv2d, nn.Linear)) or parametrize.is_parametrized(module):
            continue
        if isinstance(module, nn.Conv2d) and module.transposed:
            raise ValueError(f"{type(module).__name__}: transposed convolutions are not supported")
        parametrize.register_parametrization(module, "weight", WeightQuant(module.weight, bits.weights, estimator))
        module.add_module("input_quantizer", ActQuant(2**bits.activations))
        module.register_forward_pre_hook(_quantize_input)
        layers.append(module)
    return layers


def quantizer_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(the quantizers' step sizes and offsets, every other trainable parameter) of a :func:`quantize_modules` model."""
    quant: list[nn.Parameter] = []
    for m in model.modules():
        if isinstance(m, (ActQuant, WeightQuant)):
            quant += list(m.parameters(recurse=False))
    ids = {id(p) for p in quant}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return quant, rest


def set_quantizers_training(model: nn.Module, training: bool) -> None:
    """Straight-through training grids (True) or the exportable ``torch.fake_quantize_*`` ops (False) in every
    quantizer of ``model``; the rest of the model (dropout, stochastic depth, BatchNorms) stays as it is."""
    for m in model.modules():
        if isinstance(m, (ActQuant, WeightQuant)):
            m.train(training)


def export_openvino(model: nn.Module, image_size: int | None = None):
    """The ``openvino.Model`` of a :func:`quantize_modules` model in eval mode: FakeQuantize ops on activations,
    weights compressed to int4/int8 codes with scales (dynamic batch, input [N,3,S,S] in [0,1])."""
    from openvino._offline_transformations import compress_quantize_weights_transformation

    from ..openvino.classifier import to_openvino

    quantizers = [m for m in model.modules() if isinstance(m, (ActQuant, WeightQuant))]
    with torch.no_grad():
        for m in quantizers:  # constant ranges in the trace: FakeQuantize ops OpenVINO reads back the same
            s = m.scale.detach().abs() + EPS
            if isinstance(m, ActQuant):
                m.frozen = (float(s), int(torch.clamp(torch.round(-m.low / s), 0, m.levels - 1)))
            else:
                m.frozen = (s.float().clone(), torch.zeros_like(s, dtype=torch.int32))
    try:
        ov_model = to_openvino(model.eval(), image_size)
    finally:
        for m in quantizers:
            m.frozen = None
    compress_quantize_weights_transformation(ov_model)
    return ov_model
