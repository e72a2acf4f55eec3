"""Every image loader reads every PIL mode correctly or refuses it in one line, refuses decompression bombs before
decoding, and warns about calibration sets that cannot calibrate (issue #21)."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gsoc_helpers.data import CIFAR10_CLASSES, DataError, load_image_folder
from gsoc_helpers.data.fakecifar10 import load_image
from gsoc_helpers.pil_images import MAX_PIXELS, read_rgb
from gsoc_helpers.quantization.user_images import load_folder, warn_if_degenerate

RAMP16 = (np.arange(32 * 32, dtype=np.int64).reshape(32, 32) * 64).astype(np.uint16)  # 0 .. 65472
RAMP16_AS_8BIT = ((RAMP16.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8)


def _save(path: Path, im: Image.Image) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` (8-bit RGB) with a few bytes of data: a decompression bomb
    as far as any loader that trusts the header can tell."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return path


def test_modes_converted_with_their_meaning(tmp_path):
    g16 = _save(tmp_path / "g16.png", Image.fromarray(RAMP16))
    assert Image.open(g16).mode == "I;16"
    assert float((np.asarray(Image.open(g16).convert("RGB")) == 255).mean()) > 0.99  # what PIL's convert does
    np.testing.assert_array_equal(read_rgb(g16), np.repeat(RAMP16_AS_8BIT[..., None], 3, -1))
    i32 = _save(tmp_path / "i32.tif", Image.fromarray(RAMP16.astype(np.int32)))
    assert Image.open(i32).mode == "I"
    np.testing.assert_array_equal(read_rgb(i32)[..., 0], RAMP16_AS_8BIT)

    pal = Image.new("P", (2, 1))
    pal.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.putpixel((1, 0), 1)
    assert read_rgb(_save(tmp_path / "p.png", pal)).tolist() == [[[10, 20, 30], [200, 100, 50]]]
    pal.info["transparency"] = 0  # index 0 transparent -> white
    assert read_rgb(_save(tmp_path / "pt.png", pal)).tolist() == [[[255, 255, 255], [200, 100, 50]]]

    rgba = Image.fromarray(np.array([[[0, 0, 0, 0], [10, 20, 30, 255], [100, 100, 100, 128]]], dtype=np.uint8))
    got = read_rgb(_save(tmp_path / "rgba.png", rgba))
    assert got[0, 0].tolist() == [255, 255, 255] and got[0, 1].tolist() == [10, 20, 30]
    assert abs(int(got[0, 2, 0]) - (100 * 128 + 255 * 127) // 255) <= 1  # composited onto white
    la = Image.fromarray(np.array([[[50, 0], [50, 255]]], dtype=np.uint8), "LA")
    assert read_rgb(_save(tmp_path / "la.png", la)).tolist() == [[[255, 255, 255], [50, 50, 50]]]
    cmyk = _save(tmp_path / "c.tif", Image.new("CMYK", (2, 2), (0, 255, 255, 0)))
    assert read_rgb(cmyk)[0, 0].tolist() == [255, 0, 0]
    assert read_rgb(_save(tmp_path / "bw.png", Image.new("1", (2, 2), 1)))[0, 0].tolist() == [255, 255, 255]


@pytest.mark.parametrize("kind", ["float", "over 16 bits", "bomb header", "over our limit", "not an image"])
def test_refused_in_one_line_naming_the_file(kind, tmp_path):
    path = {
        "float": lambda: _save(tmp_path / "f.tif", Image.fromarray(np.ones((4, 4), np.float32))),
        "over 16 bits": lambda: _save(tmp_path / "big.tif", Image.fromarray(np.full((4, 4), 70000, np.int32))),
        "bomb header": lambda: png_header_only(tmp_path / "bomb.png", 20000, 20000),
        "over our limit": lambda: png_header_only(tmp_path / "large.png", 8000, 8000),
        "not an image": lambda: (tmp_path / "x.png").write_bytes(b"no png") and tmp_path / "x.png",
    }[kind]()
    with pytest.raises(ValueError) as err:
        read_rgb(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg, msg
    if kind in ("bomb header", "over our limit"):
        assert "before decoding" in msg and f"{MAX_PIXELS:,}" in msg


def test_every_loader_uses_it(tmp_path):
    for name in CIFAR10_CLASSES:  # an image-folder CIFAR-10 whose every image is a 16-bit ramp
        _save(tmp_path / "tree" / name / "0.png", Image.fromarray(RAMP16))
    ds = load_image_folder(tmp_path / "tree")
    np.testing.assert_array_equal(ds.images[:, :, :, 1], np.stack([RAMP16_AS_8BIT] * 10))
    np.testing.assert_array_equal(load_image(tmp_path / "tree" / "cat" / "0.png")[..., 2], RAMP16_AS_8BIT)
    cal = load_folder(tmp_path / "tree", 32)
    assert torch.allclose(cal.images[:, 0], torch.from_numpy(RAMP16_AS_8BIT).float().div(255).expand(10, 32, 32))
    png_header_only(tmp_path / "tree" / "dog" / "1.png", 20000, 20000)
    with pytest.raises(DataError, match="1.png.*before decoding"):
        load_image_folder(tmp_path / "tree")
    with pytest.raises(DataError, match="1.png.*before decoding"):
        load_image(tmp_path / "tree" / "dog" / "1.png")
    with pytest.raises(ValueError, match="1.png.*before decoding"):
        load_folder(tmp_path / "tree", 32)


def test_calibration_warnings(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        _save(tmp_path / "big" / f"{i}.png", Image.fromarray(rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)))
    with pytest.warns(UserWarning, match=r"3 of 3 images .* are not the model's 32x32 \(e\.g\. 48x64\)"):
        load_folder(tmp_path / "big", 32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_degenerate(torch.rand(4, 3, 8, 8), "varied")  # fine: no warning
    with pytest.warns(UserWarning, match="only 1 image"):
        warn_if_degenerate(torch.rand(1, 3, 8, 8), "one")
    with pytest.warns(UserWarning, match="4 identical images"):
        warn_if_degenerate(torch.rand(1, 3, 8, 8).expand(4, 3, 8, 8), "copies")
    with pytest.warns(UserWarning, match="each one flat colour"):
        warn_if_degenerate(torch.rand(4, 3, 1, 1).expand(4, 3, 8, 8), "flat")


def test_quantize_warns_on_a_one_image_calibration_folder(tmp_path):
    from cli_checks import QUANTIZE_FAST
    from doubles import tiny_onnx

    from gsoc_helpers.cli import main

    _save(tmp_path / "cal" / "only.png", Image.fromarray(RAMP16))
    with pytest.warns(UserWarning, match="only 1 image"):
        assert (
            main(
                [
                    "quantize",
                    str(tiny_onnx(tmp_path / "m.onnx")),
                    "--calibration",
                    str(tmp_path / "cal"),
                    "--out",
                    str(tmp_path / "out"),
                    *QUANTIZE_FAST,
                ]
            )
            == 0
        )
