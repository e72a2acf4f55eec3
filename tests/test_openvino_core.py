"""gsoc_helpers.openvino.core: ISA names, the INT8 verdict sentence, cached compilation (CPU-independent checks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

ov = pytest.importorskip("openvino")

from gsoc_helpers.openvino.core import (  # noqa: E402
    PRECISIONS,
    compile_model,
    cpu_isa,
    default_precision,
    int8_verdict,
    isa_from_flags,
)


@pytest.mark.parametrize(
    "flags,isa",
    [
        ({"avx2", "avx512f", "avx512_vnni", "amx_tile", "amx_int8"}, "AMX"),
        ({"avx2", "avx512f", "avx512_vnni", "avx512_bf16"}, "AVX-512 VNNI"),
        ({"avx2", "avx512f"}, "AVX-512"),
        ({"avx2", "avx_vnni"}, "AVX2 VNNI"),
        ({"avx2", "fma"}, "AVX2"),
        ({"sse4_2"}, "baseline"),
    ],
)
def test_isa_from_cpu_flags(flags, isa):
    assert isa_from_flags(flags) == isa


def test_this_cpu_is_named_and_default_precision_known():
    assert cpu_isa() in ("AMX", "AVX-512 VNNI", "AVX-512", "AVX2 VNNI", "AVX2", "baseline")
    assert default_precision() in PRECISIONS


def test_int8_verdict_claims_speed_only_where_int8_is_faster_than_the_default():
    amx = int8_verdict("AMX", 4.85, 1.01, 3.9, "bf16")
    assert "buys size (3.9x smaller weights) but no speed" in amx and "bf16" in amx and amx.startswith("On this AMX")
    vnni = int8_verdict("AVX-512 VNNI", 3.0, 2.5, 3.9, "bf16")
    assert "2.50x as fast as OpenVINO's default precision (bf16)" in vnni and "3.00x as fast as f32" in vnni


def test_compile_model_caches_blobs_in_the_project_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GSOC_CACHE_DIR", str(tmp_path / "cache"))
    from gsoc_helpers.openvino.classifier import to_openvino

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(10))
    net(torch.zeros(1, 3, 32, 32))
    model = to_openvino(net)
    x = np.random.default_rng(0).random((2, 3, 32, 32), dtype=np.float32)
    first = compile_model(model, 1)(x)[0]
    blobs = list((tmp_path / "cache" / "openvino").glob("*.blob"))
    assert blobs, "compiled blob not cached"
    again = compile_model(model, 1)(x)[0]  # read from the cache
    np.testing.assert_array_equal(first, again)
    assert compile_model(model, 1).get_property("INFERENCE_PRECISION_HINT") == ov.Type.f32
    with pytest.raises(ValueError, match="precision"):
        compile_model(model, 1, "int4")
