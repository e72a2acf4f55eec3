"""FID features through the OpenVINO f32 twin of torch-fidelity's Inception: equal to torch's (<= 1e-4 of their
largest magnitude) and the same FID within 0.1, on the data root's trunk; a twin that differs stays in PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gsoc_helpers.metrics import fidelity as F
from gsoc_helpers.metrics import inception as I

ov = pytest.importorskip("openvino")


def _extractor(root):
    from torch_fidelity.utils import create_feature_extractor

    choice = I.resolve_extractor(root)
    return create_feature_extractor(
        choice.name, ["2048"], cuda=False, verbose=False, feature_extractor_weights_path=choice.weights_path
    )


@pytest.mark.slow
def test_twin_features_and_fid_match_torch_fidelity(shared_data_root, tmp_path, monkeypatch):
    from gsoc_helpers.data import load_cifar10
    from gsoc_helpers.openvino.inception import FEATURE_RTOL, use_openvino_features

    if not (shared_data_root / "inception" / I.OFFLINE_INCEPTION_FILE).is_file():
        pytest.skip("offline Inception trunk not in the data root")
    from gsoc_helpers.openvino import inception

    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(inception, "_COMPILED", {})  # an earlier test may have compiled this twin in-process already
    test = load_cifar10("test", source="exact", data_root=shared_data_root)
    x = torch.from_numpy(np.ascontiguousarray(test.images[:12])).permute(0, 3, 1, 2).contiguous()
    torch_fe, ov_fe = _extractor(shared_data_root), _extractor(shared_data_root)
    assert use_openvino_features(ov_fe)
    with torch.no_grad():
        want = torch.cat([torch_fe(x[s : s + 6])[0] for s in (0, 6)]).numpy()
        got = torch.cat([ov_fe(x[s : s + 6])[0] for s in (0, 6)]).numpy()
    assert got.shape == want.shape == (12, 2048)
    assert np.abs(got - want).max() <= FEATURE_RTOL * np.abs(want).max()
    fid = {k: F.metrics_from_features(f[:6], f[6:], metrics=("fid",))["fid"] for k, f in (("torch", want), ("ov", got))}
    assert fid["torch"] > 1 and abs(fid["ov"] - fid["torch"]) < 0.1
    assert list((tmp_path / "cache" / "openvino" / "ir").glob("*.xml"))  # the conversion is kept for next time


@pytest.mark.slow
def test_twin_that_differs_stays_in_pytorch(shared_data_root, tmp_path, monkeypatch):
    from gsoc_helpers.openvino import inception

    if not (shared_data_root / "inception" / I.OFFLINE_INCEPTION_FILE).is_file():
        pytest.skip("offline Inception trunk not in the data root")
    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(inception, "FEATURE_RTOL", -1.0)  # nothing can pass: every twin is refused
    fe = _extractor(shared_data_root)
    torch_fe = _extractor(shared_data_root)
    assert inception.use_openvino_features(fe)
    x = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    with pytest.warns(UserWarning, match="stay in PyTorch"), torch.no_grad():
        got = fe(x)[0]
    with torch.no_grad():
        assert torch.equal(got, torch_fe(x)[0])


def test_only_the_2048_layer_goes_through_the_twin():
    from gsoc_helpers.openvino.inception import use_openvino_features

    class Fake(torch.nn.Module):
        features_list = ["2048", "logits_unbiased"]

    assert not use_openvino_features(Fake())
