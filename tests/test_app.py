"""The web app on 127.0.0.1 (free port) in a thread: page, one generated PNG, bad requests; CLI wiring."""
from __future__ import annotations

import io
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from gsoc_helpers import app as A
from gsoc_helpers.models.loading import BackendUnavailable

from test_widgets import FakeOpenVINO, RandomGenerator


@pytest.fixture
def served():
    models = {"student": RandomGenerator(seed=1), "teacher": RandomGenerator(seed=2)}
    calls = {"ov": 0}

    def ov(model):
        calls["ov"] += 1
        if model is models["teacher"]:
            raise BackendUnavailable("OpenVINO backend unavailable: test says no")
        return FakeOpenVINO(model)

    server = A.make_server("127.0.0.1", 0, A.GridService(loader=models.__getitem__, ov_factory=ov))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield base, calls
    server.shutdown()
    server.server_close()
    thread.join(5)


def _get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_page_and_png_over_http(served):
    from PIL import Image

    base, calls = served
    status, headers, body = _get(base + "/")
    assert status == 200 and "text/html" in headers["Content-Type"]
    page = body.decode()
    assert "<form" in page and 'value="airplane"' in page and "<option selected>openvino</option>" in page

    q = "classes=cat&classes=ship&per_class=3&seed=4&model=student&backend=openvino"
    status, headers, body = _get(f"{base}/?{q}")
    assert status == 200 and "/grid.png?" in body.decode() and calls["ov"] == 1
    status, headers, png = _get(f"{base}/grid.png?{q}")
    assert status == 200 and headers["Content-Type"] == "image/png"
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert img.shape[0] == 2 * (2 * 10 + 2)  # two class rows, upscaled x2
    assert img[:, -60:].std() > 10  # real image content, not a blank canvas


def test_openvino_unavailable_falls_back_with_note(served):
    base, _ = served
    q = "classes=dog&per_class=2&model=teacher&backend=openvino"
    status, headers, _ = _get(f"{base}/grid.png?{q}")
    assert status == 200 and "fell back to PyTorch" in headers.get("X-Backend-Note", "")
    status, _, body = _get(f"{base}/?{q}")
    assert status == 200 and "fell back to PyTorch" in body.decode()


@pytest.mark.parametrize("query, message", [
    ("per_class=3", "no class picked"), ("classes=cat&per_class=0", "between 1 and"),
    ("classes=cat&per_class=100000", "between 1 and"), ("classes=cat&model=ghost", "unknown model"),
    ("classes=unicorn", "unknown class"), ("classes=cat&seed=abc", "whole numbers"),
])
def test_bad_requests_answer_400_html(served, query, message):
    base, _ = served
    for path in ("/", "/grid.png"):
        status, headers, body = _get(f"{base}{path}?{query}")
        text = body.decode()
        assert status == 400 and "text/html" in headers["Content-Type"]
        assert message in text and "Traceback" not in text


def test_cli_registers_app_and_fid():
    from gsoc_helpers.cli import build_parser

    p = build_parser()
    args = p.parse_args(["app", "--port", "0"])
    assert (args.host, args.port) == ("127.0.0.1", 0) and callable(args.func)
    args = p.parse_args(["fid", "student", "--n", "100", "--metrics", "fid"])
    assert (args.candidate, args.n, args.split) == ("student", 100, "train")
