"""A small web app over :func:`gsoc_helpers.widgets.generate_grid` (stdlib ``http.server``, no new dependency).

Start it with ``python -m gsoc_helpers app --port 8000`` and open http://127.0.0.1:8000/ .

Routes:
* ``GET /``            HTML form; with a query (``classes=cat&classes=dog&per_class=6&seed=0&psi=1&model=student
                        &backend=openvino``) the page also shows the grid.
* ``GET /grid.png?...`` the grid as PNG (class names on the left).
Bad input (no class, count 0 or too large, unknown model / class / backend) answers 400 with an HTML message.
The student runs on OpenVINO by default; if OpenVINO is unavailable the app falls back to PyTorch and says so.
"""
from __future__ import annotations

import html
import threading
from collections import OrderedDict
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode, urlparse

from torch import nn

from .data import CIFAR10_CLASSES
from .images import MAX_PER_CLASS, generate_grid, grid_png
from .models.loading import BackendUnavailable, load_model

APP_MODELS = ("student", "teacher")


@dataclass
class GridRequest:
    """Validated query parameters."""

    classes: list[str]
    per_class: int
    seed: int
    psi: float
    model: str
    backend: str

    def query(self) -> str:
        return urlencode({"classes": self.classes, "per_class": self.per_class, "seed": self.seed, "psi": self.psi,
                          "model": self.model, "backend": self.backend}, doseq=True)


def parse_request(qs: dict[str, list[str]]) -> GridRequest:
    """Query dict (parse_qs) -> GridRequest; ValueError with a user-facing message for bad input."""
    def one(key: str, default: str) -> str:
        return qs.get(key, [default])[-1].strip()

    classes = [c for v in qs.get("classes", []) for c in v.split(",") if c.strip()]
    if not classes:
        raise ValueError("no class picked: choose at least one class")
    bad = [c for c in classes if c.strip().lower() not in CIFAR10_CLASSES]
    if bad:
        raise ValueError(f"unknown class {bad[0]!r}; expected one of {', '.join(CIFAR10_CLASSES)}")
    try:
        per_class, seed, psi = int(one("per_class", "6")), int(one("seed", "0")), float(one("psi", "1"))
    except ValueError:
        raise ValueError("per_class and seed must be whole numbers and psi a number") from None
    model, backend = one("model", "student"), one("backend", "openvino")
    if model not in APP_MODELS:
        raise ValueError(f"unknown model {model!r}; expected one of {', '.join(APP_MODELS)}")
    if backend not in ("pytorch", "openvino"):
        raise ValueError(f"unknown backend {backend!r}; expected pytorch or openvino")
    if per_class < 1 or per_class > MAX_PER_CLASS:
        raise ValueError(f"images per class must be between 1 and {MAX_PER_CLASS}, got {per_class}")
    return GridRequest([c.strip().lower() for c in classes], per_class, seed, psi, model, backend)


class GridService:
    """Loads models once, renders PNGs, remembers the last few results; OpenVINO falls back to PyTorch."""

    def __init__(self, loader: Callable[[str], nn.Module] | None = None,
                 ov_factory: Callable[[nn.Module], Any] | None = None, cache_size: int = 16) -> None:
        self.loader = loader or load_model
        self.ov_factory = ov_factory
        self.lock = threading.Lock()  # one generation at a time: small CPU machines
        self.cache: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self.cache_size = cache_size

    def render(self, req: GridRequest) -> tuple[bytes, str]:
        """(PNG bytes, note) for a validated request; ValueError for input the model rejects."""
        key = req.query()
        with self.lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return self.cache[key]
            try:
                model = self.loader(req.model)
            except (FileNotFoundError, KeyError) as err:
                raise ValueError(f"model {req.model!r} cannot be loaded: {err}") from None
            note, backend = "", req.backend
            if backend == "openvino":
                try:
                    grid, labels = generate_grid(model, req.classes, req.per_class, req.seed, req.psi, "openvino",
                                                 ov_factory=self.ov_factory)
                    if req.psi != 1.0:
                        note = "OpenVINO model has truncation fixed at psi=1."
                except BackendUnavailable as err:
                    note = f"{err} - fell back to PyTorch."
                    backend = "pytorch"
            if backend == "pytorch":
                grid, labels = generate_grid(model, req.classes, req.per_class, req.seed, req.psi, "pytorch")
            result = (grid_png(grid, labels), note)
            self.cache[key] = result
            while len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
            return result


def render_page(req: GridRequest | None = None, note: str = "", error: str = "") -> str:
    """The HTML form (pre-filled from ``req``), plus the grid image or an error message."""
    r = req or GridRequest(list(CIFAR10_CLASSES[:3]), 6, 0, 1.0, "student", "openvino")
    boxes = "".join(
        f'<label><input type="checkbox" name="classes" value="{c}"{" checked" if c in r.classes else ""}> {c}</label> '
        for c in CIFAR10_CLASSES)

    def options(values, chosen):
        return "".join(f'<option{" selected" if v == chosen else ""}>{v}</option>' for v in values)

    body = [
        "<!doctype html><html><head><meta charset='utf-8'><title>gsoc_helpers generator</title>",
        "<style>body{font-family:sans-serif;margin:2em}label{margin-right:.6em}.err{color:#b00020}"
        ".note{color:#555}img{image-rendering:pixelated;border:1px solid #ccc}</style></head><body>",
        "<h1>Class-conditional CIFAR-10 generator</h1><form method='get' action='/'>",
        f"<p>{boxes}</p>",
        f"<p>images per class <input type='number' name='per_class' min='1' max='{MAX_PER_CLASS}' value='{r.per_class}'>",
        f" seed <input type='number' name='seed' value='{r.seed}'>",
        f" truncation &psi; <input type='number' name='psi' step='0.05' min='0' max='1' value='{r.psi}'></p>",
        f"<p>model <select name='model'>{options(APP_MODELS, r.model)}</select>",
        f" backend <select name='backend'>{options(('openvino', 'pytorch'), r.backend)}</select>",
        " <button type='submit'>generate</button></p></form>",
    ]
    if error:
        body.append(f"<p class='err'>{html.escape(error)}</p>")
    elif req is not None:
        if note:
            body.append(f"<p class='note'>{html.escape(note)}</p>")
        q = html.escape(req.query())
        body.append(f"<p><img alt='generated grid' src='/grid.png?{q}'></p><p><a href='/grid.png?{q}' "
                    "download='grid.png'>save PNG</a></p>")
    body.append("</body></html>")
    return "".join(body)


def make_handler(service: GridService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "gsoc-helpers-app/1"

        def log_message(self, fmt: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _html(self, status: int, text: str) -> None:
            self._send(status, text.encode("utf-8"), "text/html; charset=utf-8")

        def do_GET(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            qs = parse_qs(url.query)
            try:
                if url.path == "/":
                    if not qs:
                        return self._html(HTTPStatus.OK, render_page())
                    req = parse_request(qs)
                    _, note = service.render(req)
                    return self._html(HTTPStatus.OK, render_page(req, note))
                if url.path == "/grid.png":
                    req = parse_request(qs)
                    png, note = service.render(req)
                    return self._send(HTTPStatus.OK, png, "image/png", {"X-Backend-Note": note} if note else None)
                return self._html(HTTPStatus.NOT_FOUND, "<p>not found: try <a href='/'>/</a></p>")
            except ValueError as err:
                return self._html(HTTPStatus.BAD_REQUEST, render_page(None, error=f"Bad input: {err}"))
            except Exception as err:  # noqa: BLE001 - never a traceback to the browser
                return self._html(HTTPStatus.INTERNAL_SERVER_ERROR,
                                  render_page(None, error=f"Generation failed: {type(err).__name__}: {err}"))

    return Handler


def make_server(host: str = "127.0.0.1", port: int = 0, service: GridService | None = None) -> ThreadingHTTPServer:
    """A ready (not yet serving) server; ``port=0`` picks a free port (``server.server_address[1]``)."""
    return ThreadingHTTPServer((host, port), make_handler(service or GridService()))


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until interrupted (Ctrl+C)."""
    server = make_server(host, port)
    print(f"serving on http://{server.server_address[0]}:{server.server_address[1]}/  (Ctrl+C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
