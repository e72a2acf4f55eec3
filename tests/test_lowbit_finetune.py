"""Fine-tuning a b-bit model by distillation: BN folding, fake-quant levels, and an interrupted run resuming exactly."""

from __future__ import annotations

import copy

import pytest
import torch
from test_quantization import Tiny, separable

from gsoc_helpers.quantization.finetune import FinetuneConfig, QuantLayer, finetune, fold_batchnorms, quantize_modules
from gsoc_helpers.quantization.lowbit import BitWidth


def _batches(step: int) -> torch.Tensor:
    return separable(16, 100 + step)[0]


def _cfg(**kw) -> FinetuneConfig:
    return FinetuneConfig(source="test", steps=4, batch_size=16, eval_every=2, checkpoint_every=2, **kw)


def test_fold_batchnorms_keeps_outputs_and_fake_quant_has_b_bit_values():
    model = Tiny().eval()
    with torch.no_grad():  # non-trivial BN statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2)
    x = separable(8, 3)[0]
    folded = fold_batchnorms(copy.deepcopy(model))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert torch.allclose(folded(x), model(x), atol=1e-4)
    layers = quantize_modules(folded, BitWidth(3, 3))
    assert len(layers) == 3 and all(isinstance(q, QuantLayer) for q in layers)
    for q in layers:
        w = q.quantized_weight().detach().reshape(len(q.layer.weight), -1)
        assert max(len(torch.unique(row)) for row in w) <= 8
        q.act.init(0.0, 1.0)
        assert len(torch.unique(q.act(torch.linspace(-1, 2, 1000)))) == 8


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
    fresh = fold_batchnorms(Tiny())
    quantize_modules(fresh, BitWidth(4, 4))
    assert not torch.allclose(fresh.state_dict()["f.0.layer.weight"], a["f.0.layer.weight"])  # it trained
    with pytest.raises(ValueError, match="other settings"):
        finetune(Tiny(), _cfg(lr=1e-3), tmp_path / "b", _batches, calib, test, progress=False)


def test_bad_config():
    with pytest.raises(ValueError, match="bit width"):
        _cfg(bits="W9").validate()
    with pytest.raises(ValueError, match="steps"):
        FinetuneConfig(steps=0).validate()
