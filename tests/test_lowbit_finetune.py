"""Fine-tuning a b-bit model by distillation: BatchNorms folded by data flow, each layer's own forward quantized,
an interrupted run resuming exactly, and the OpenVINO IR it ends in agreeing with the PyTorch fake-quant."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from test_quantization import Tiny, separable, train_separable
from torch import nn

from gsoc_helpers.quantization import fake_quant
from gsoc_helpers.quantization.fake_quant import export_openvino, fold_batchnorms, quantize_modules
from gsoc_helpers.quantization.finetune import FinetuneConfig, finetune, init_activation_ranges
from gsoc_helpers.quantization.lowbit import BitWidth, activation_fakequantizes, weight_values


class Reordered(nn.Module):
    """conv1, conv2, bn1, bn2 registered in that order; data flows conv1 -> bn1 -> conv2 -> bn2 (folding by
    registration order would pair conv2 with bn1)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.conv1 = nn.Conv2d(3, 8, 3, 2, 1)
        self.conv2 = nn.Conv2d(8, 8, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)
        with torch.no_grad():  # non-trivial BN statistics and affine parameters
            for bn in (self.bn1, self.bn2):
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 2)
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.2, 0.2)

    def forward(self, x):
        x = torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))
        return self.fc(x.mean((2, 3))) * 10


def _batches(step: int) -> torch.Tensor:
    return separable(16, 100 + step)[0]


def _cfg(**kw) -> FinetuneConfig:
    return FinetuneConfig(
        **{"source": "test", "steps": 4, "batch_size": 16, "eval_every": 2, "checkpoint_every": 2, **kw}
    )


def test_fold_by_data_flow_keeps_outputs_and_refuses_a_wrong_fold(monkeypatch):
    model = Reordered().eval()
    x = separable(8, 3)[0]
    folded = fold_batchnorms(copy.deepcopy(model), x)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert torch.allclose(folded(x), model(x), atol=1e-4)
    monkeypatch.setattr(fake_quant, "conv_bn_pairs", lambda _m: [("conv2", "bn1"), ("conv1", "bn2")])
    with pytest.raises(ValueError, match="changed Reordered's outputs"):
        fold_batchnorms(copy.deepcopy(model), x)  # what pairing by registration order did: refused


def test_untraceable_model_is_refused():
    class DataDependent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)

        def forward(self, x):
            return self.bn(self.conv(x)) if x.sum() > 0 else x

    with pytest.raises(ValueError, match="torch.fx cannot trace DataDependent"):
        fold_batchnorms(DataDependent(), torch.ones(1, 3, 8, 8))


def test_fake_quant_has_b_bit_values_and_the_layers_own_forward_runs():
    model = fold_batchnorms(Tiny().eval(), separable(4, 3)[0])
    layers = quantize_modules(model, BitWidth(3, 3))
    assert len(layers) == 3 and all(
        type(m).forward in (nn.Conv2d.forward, nn.Linear.forward) for m in layers
    )  # own forward
    model.eval()
    for q in layers:
        w = q.weight.detach().reshape(len(q.weight), -1)
        assert max(len(torch.unique(row)) for row in w) <= 7
        q.input_quantizer.init(0.0, 1.0)
        assert len(torch.unique(q.input_quantizer(torch.linspace(-1, 2, 1000)))) == 8

    class Padded(nn.Conv2d):  # a subclass with its own forward, like EfficientNet's Conv2dStaticSamePadding
        def forward(self, x):
            return super().forward(nn.functional.pad(x, (1, 1, 1, 1)))

    padded = nn.Sequential(Padded(3, 4, 3))
    before = padded(torch.ones(1, 3, 6, 6)).shape
    quantize_modules(padded, BitWidth(8, 8))
    assert padded(torch.ones(1, 3, 6, 6)).shape == before == (1, 4, 6, 6)


def test_exported_ir_holds_the_fake_quant_grids():
    """The IR's weights are the fake-quant weights (int codes x per-channel scale) and its activation
    FakeQuantize ops have 2^b levels; a MatMul weight keeps its [out, in] layout."""
    x = separable(20, 1)[0]
    model = fold_batchnorms(Tiny().eval(), x[:4])
    layers = quantize_modules(model, BitWidth(4, 4))
    init_activation_ranges(model, layers, x, "mse")
    ir = export_openvino(model)
    assert len(activation_fakequantizes(ir)) == 3 and all(f.get_levels() == 16 for f in activation_fakequantizes(ir))
    got = sorted(weight_values(ir).values(), key=lambda w: w.size)
    want = sorted((q.weight.detach().numpy() for q in layers), key=lambda w: w.size)
    assert all(np.allclose(g.reshape(w.shape), w, atol=1e-6) for g, w in zip(got, want, strict=True))
    i4 = [
        op
        for op in ir.get_ordered_ops()
        if op.get_type_name() == "Constant" and op.get_element_type().get_type_name() == "i4"
    ]
    assert len(i4) == 3


def test_reordered_model_finetunes_and_its_ir_agrees(tmp_path):
    model = train_separable(Reordered())
    calib, test = separable(20, 1)[0], separable(300, 2)
    rec = finetune(model, _cfg(bits="W4A4"), tmp_path, _batches, calib, test, progress=False)
    assert (tmp_path / "model.xml").is_file() and (tmp_path / "model.bin").is_file()
    assert rec["ir_matches_fake_quant"] >= 99.7  # within 0.3 points on 300 images
    assert abs(rec["ir_agreement"] - rec["agreement_end"]) <= 0.3 and abs(rec["ir_top1"] - rec["top1_end"]) <= 0.3
    assert rec["top1_fp32"] > 90 and rec["agreement_end"] > 50


def test_interrupted_finetuning_resumes_to_the_same_model(tmp_path):
    calib, test = separable(20, 1)[0], separable(50, 2)
    straight = finetune(Tiny(), _cfg(), tmp_path / "a", _batches, calib, test, progress=False)
    assert [h["step"] for h in straight["history"]] == [0, 2, 4]

    def interrupted(step: int) -> torch.Tensor:
        if step == 3:
            raise KeyboardInterrupt
        return _batches(step)

    with pytest.raises(KeyboardInterrupt):
        finetune(Tiny(), _cfg(), tmp_path / "b", interrupted, calib, test, progress=False)
    assert (tmp_path / "b" / "checkpoint.pt").is_file() and not (tmp_path / "b" / "result.json").exists()
    resumed = finetune(Tiny(), _cfg(), tmp_path / "b", _batches, calib, test, progress=False)
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)
    assert [h["step"] for h in resumed["history"]] == [0, 2, 4]
    assert resumed["top1_end"] == pytest.approx(straight["top1_end"])
    key = "f.0.parametrizations.weight.original"
    fresh = fold_batchnorms(Tiny(), calib[:4])
    quantize_modules(fresh, BitWidth(4, 4))
    assert not torch.allclose(fresh.state_dict()[key], a[key])  # it trained
    with pytest.raises(ValueError, match="other settings"):
        finetune(Tiny(), _cfg(lr=1e-3), tmp_path / "b", _batches, calib, test, progress=False)


def test_a_finished_run_is_measured_on_other_images_as_if_trained_for_them(tmp_path):
    """The study's seed-0 test cell measures the model of the validation run the learning rate was chosen with:
    training never sees the evaluation images, so it equals a run made for the test images."""
    calib, val, test = separable(20, 1)[0], separable(50, 2), separable(50, 3)
    on_val = finetune(Tiny(), _cfg(), tmp_path / "val", _batches, calib, val, progress=False)
    fresh = finetune(Tiny(), _cfg(), tmp_path / "fresh", _batches, calib, test, progress=False)
    reused = finetune(
        Tiny(), _cfg(), tmp_path / "test", _batches, calib, test, progress=False, trained=tmp_path / "val"
    )
    for k in ("top1_start", "agreement_start", "top1_end", "agreement_end", "ir_top1", "ir_agreement"):
        assert reused[k] == pytest.approx(fresh[k]), k
    assert [h["step"] for h in reused["history"]] == [0, 4] and reused["trained_in"] == "val"
    assert reused["seconds_this_call"] == on_val["seconds_this_call"]
    assert reused["per_image_agreement"].shape == (50,)
    assert 100 * reused["per_image_agreement"].mean() == pytest.approx(reused["agreement_end"])
    again = finetune(Tiny(), _cfg(), tmp_path / "fresh", _batches, calib, test, progress=False)  # finished: measured
    assert again["seconds_this_call"] == fresh["seconds_this_call"] and again["top1_end"] == fresh["top1_end"]
    with pytest.raises(ValueError, match="no finished run of these settings"):
        finetune(Tiny(), _cfg(lr=1e-3), tmp_path / "x", _batches, calib, test, progress=False, trained=tmp_path / "val")


@pytest.mark.slow
def test_efficientnet_lite0_finetunes_data_free_and_its_int8_ir_agrees(tmp_path):
    """EfficientNet-Lite0 (Conv2dStaticSamePadding, 49 BatchNorms) at W8A8: 2 steps on fractal images, then the IR
    in OpenVINO predicts what the PyTorch fake-quant does on the 20 bundled photos."""
    pytest.importorskip("efficientnet_lite_pytorch")
    from gsoc_helpers.models.classifiers import get_classifier
    from gsoc_helpers.quantization.photos import natural_photos

    photos = natural_photos(224, views=1)[0]
    calib = torch.from_numpy(np.random.default_rng(0).random((4, 3, 224, 224), np.float32))
    cfg = FinetuneConfig(source="noise", bits="W8A8", steps=2, batch_size=2, eval_every=2, checkpoint_every=2)
    rec = finetune(
        get_classifier("efficientnet-lite0"),
        cfg,
        tmp_path,
        lambda k: calib[k : k + 2],
        calib,
        (photos, torch.full((len(photos),), -1)),
        progress=False,
    )
    assert rec["top1_fp32"] is None and rec["ir_top1"] is None  # photos have no ImageNet labels
    assert rec["ir_matches_fake_quant"] == 100.0  # 20 photos: within 0.3 points means all
    assert abs(rec["ir_agreement"] - rec["agreement_end"]) <= 0.3


def test_zero_steps_measure_the_calibrated_start_and_make_no_training_images(tmp_path):
    model = train_separable(Reordered())
    calib, test = separable(20, 1)[0], separable(100, 2)

    def never(step: int) -> torch.Tensor:
        raise AssertionError("a 0-step run drew a training batch")

    rec = finetune(model, _cfg(bits="W8A8", steps=0), tmp_path, never, calib, test, progress=False)
    assert rec["history"] == rec["history"][:1] and rec["agreement_end"] == rec["agreement_start"]
    assert (tmp_path / "model.xml").is_file() and abs(rec["ir_agreement"] - rec["agreement_end"]) <= 1.0
    with pytest.raises(ValueError, match="steps must be >= 0"):
        _cfg(steps=-1).validate()
