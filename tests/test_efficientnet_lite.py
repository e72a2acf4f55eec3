"""EfficientNet-Lite0 (ImageNet, 224x224, 1,000 classes; the `efficientnet` extra) loaded strictly, classifying
scikit-image's bundled photos, and `gsoc-helpers quantize efficientnet-lite0 --calibration bn-matching` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gsoc_helpers.cli import main
from gsoc_helpers.models.classifiers import classifier_info, efficientnet_lite, get_classifier
from gsoc_helpers.pixels import resize, uint8_to_unit

CATS = range(281, 286)  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


def _centre_224(img: np.ndarray) -> torch.Tensor:
    h, w = img.shape[:2]
    s = min(h, w)
    crop = np.ascontiguousarray(img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s])
    return resize(uint8_to_unit(crop[None]), 224)


@pytest.fixture(scope="module")
def lite0():
    return get_classifier("efficientnet-lite0")


def test_registered_as_imagenet_224(lite0):
    info = classifier_info("efficientnet-lite0")
    assert (info.dataset, info.input.image_size, info.input.num_classes) == ("ImageNet", 224, 1000)
    assert lite0.image_size == 224
    state = torch.load(efficientnet_lite.weights_path(), map_location="cpu", weights_only=True)
    assert set(state) == set(lite0.net.state_dict())  # every key of the file used, none missing (296 tensors)
    assert len(state) == 296


@pytest.mark.slow
def test_classifies_bundled_photos(lite0):
    import skimage.data

    x = torch.cat([_centre_224(skimage.data.chelsea()), _centre_224(skimage.data.coffee())])
    with torch.no_grad():
        top = lite0(x).argmax(1).tolist()
    assert top[0] in CATS and top[1] == ESPRESSO, top


@pytest.mark.slow
def test_quantize_cli_bn_matching_at_224(tmp_path):
    out = tmp_path / "lite0"
    argv = ["quantize", "efficientnet-lite0", "--calibration", "bn-matching", "--out", str(out)]
    argv += ["--calibration-size", "8", "--source-option", "steps=2", "--source-option", "batch_size=8"]
    argv += ["--speed-batches", "1", "--speed-seconds", "0.05", "--threads", "1"]
    assert main(argv) == 0
    r = json.loads((out / "report.json").read_text())
    assert r["model"]["input"] == [-1, 3, 224, 224] and r["model"]["num_classes"] == 1000
    assert "bn-matching at 224x224" in r["calibration"]["description"]
    e = r["evaluation"]
    assert e["set"] == "natural photos" and e["images"] == 100
    assert 0 <= e["agreement"] <= 100 and e["kl"] >= 0 and 0 <= e["top5_overlap"] <= 100
    for name in ("model_fp32.xml", "model_int8.xml", "model_fp32.bin", "model_int8.bin", "report.md"):
        assert (out / name).is_file(), name
    assert r["size"]["int8_bytes"] < 0.5 * r["size"]["fp32_bytes"]  # 8-bit weights
