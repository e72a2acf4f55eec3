"""Server-side guards of the web app, loaded by the Voilà server process (see :func:`gsoc_helpers.app.voila_command`).

* :class:`CappedKernelManager` - at most ``max_kernels`` kernels (one per open page, ~800 MB each); a visitor over
  the cap, or a page requested by another web site (``Sec-Fetch-Site: cross-site``, e.g. a no-cors GET from a page
  the user visits, or ``same-site``, e.g. another localhost port), gets a short error page instead of a kernel;
  only ``same-origin``, ``none`` (typed address) or no header (not a browser) start one. It also sets the server's
  header-read timeout (``header_timeout``: a client that drips its request headers is cut off).
* :class:`V1OnlyWebsocketConnection` - kernel websockets must speak ``v1.kernel.websocket.jupyter.org`` (what
  Voilà's own page uses).  Voilà 0.5's ``VoilaKernelWebsocketHandler.write_message`` parses every binary message
  with the v1 framing; a binary message of the legacy protocol (any widget message with buffers, e.g. the image's
  reply to ``request_state``) has a 4-byte big-endian header, so the first 8 bytes read as a huge little-endian
  count and the server builds an endless list in a loop that also blocks SIGTERM.  The legacy protocol is refused
  before the websocket opens, and every incoming v1 frame is checked (:func:`v1_frame_problem`) before
  jupyter_server's parser sees it: the parser trusts the frame's 8-byte offset count, so one 16-byte frame counting
  4.6e18 offsets sent the server into the same loop.  A malformed frame is dropped with a warning.
* Bounds per kernel, not just per page (what one local page could otherwise make the server and kernel hold):
  at most ``MAX_CONNECTIONS_PER_KERNEL`` websockets per kernel; at most ``MAX_QUEUED_BYTES`` queued for one
  connection (a client that does not read is closed); incoming frames of at most ``MAX_INCOMING_BYTES``; the
  requests that make the kernel answer with widget state (``request_states``, ``request_state``) rate-limited
  per connection and widget (:data:`STATE_RATE`); ``comm_open`` from the page only for the panel's widget kinds
  (:data:`PANEL_MODELS`) and a few per connection; no messages buffered for a closed page; and each kernel stopped
  once its memory passes ``max_kernel_mb`` (:func:`kernels_over`).

* :func:`guard_template_static` - Voilà's template static handler answers 500 (an unhandled ValueError) for a path
  such as ``/voila/templates/lab/static/..%2fx``; such a path is answered 404 before Voilà splits it.

Idle kernels are culled by jupyter_server's own culler (``MappingKernelManager.cull_*``), connected or not
(``cull_connected``): a page that keeps its websocket open but sends nothing holds its session slot only for the idle
time.
Host headers are checked by jupyter_server's handlers (loopback addresses and ``local_hostnames`` only) once the
``allow_remote_access`` tornado setting, which Voilà sets to True, is turned off again: the manager, made by the Voilà
app as its child before the app applies ``Voila.tornado_settings``, puts its ``allow_remote_hosts`` there.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from tornado.ioloop import PeriodicCallback
from traitlets import Bool, Float, Integer, List, Unicode

from .app import HEADER_TIMEOUT_S

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
DEFAULT_MAX_KERNELS = 4
V1_MIN_OFFSETS = 6  # channel + header, parent header, metadata, content
V1_MAX_OFFSETS = 1024  # ... + buffers: a widget message has a few
ALLOWED_FETCH_SITES = ("", "same-origin", "none")  # no header: not a browser (or an old one)
MAX_CONNECTIONS_PER_KERNEL = 2  # Voila's page opens one; a reload may overlap the old one briefly
MAX_QUEUED_BYTES = 16 * 2**20  # unsent bytes one connection may hold on the server (the image state is ~1 MB)
MAX_INCOMING_BYTES = 256 * 2**10  # a page sends widget values and small requests, never images
MAX_COMM_OPENS = 4  # per connection: the page opens the widget manager's control comm once
MAX_KERNEL_MB = 3072  # resident memory of one kernel (the panel with both models: ~800 MB) before it is stopped
MEMORY_CHECK_S = 2.0
# Widget model kinds the panel (gsoc_helpers.widgets.GeneratorPanel) is made of: the only ones a page may open.
PANEL_MODELS = frozenset(
    {
        "VBoxModel",
        "HBoxModel",
        "LayoutModel",
        "SelectMultipleModel",
        "IntSliderModel",
        "IntTextModel",
        "FloatSliderModel",
        "DropdownModel",
        "ButtonModel",
        "HTMLModel",
        "ImageModel",
        "DescriptionStyleModel",
        "SliderStyleModel",
        "ButtonStyleModel",
        "HTMLStyleModel",
        "TextStyleModel",
    }
)
STATE_REQUESTS = ("request_states", "request_state")  # each makes the kernel send widget state (with the image)
STATE_RATE = (2, 0.2)  # per connection and widget (comm): 2 state requests at once, then one per 5 s
MAX_RATE_KEYS = 256  # widgets tracked per connection (the panel has about 30)


def v1_frame_problem(frame: object) -> str | None:
    """What is wrong with an incoming v1 kernel websocket frame, or None when jupyter_server may parse it.

    A v1 frame is ``count`` (8 bytes, little-endian), ``count`` offsets (8 bytes each, little-endian) into the
    frame, then the channel name and the message parts the offsets delimit: the first offset is the end of the
    offset table, the offsets never decrease and the last is at most the frame's length; ``count`` is within
    ``V1_MIN_OFFSETS..V1_MAX_OFFSETS`` (checked before the table is read)."""
    if not isinstance(frame, bytes | bytearray | memoryview):
        return "a text frame (v1 frames are binary)"
    size = len(frame)
    if size < 8:
        return f"{size} bytes, shorter than its offset count"
    count = int.from_bytes(frame[:8], "little")
    if not V1_MIN_OFFSETS <= count <= V1_MAX_OFFSETS:
        return f"offset count {count} outside {V1_MIN_OFFSETS}..{V1_MAX_OFFSETS}"
    table = 8 * (count + 1)
    if table > size:
        return f"{count} offsets need {table} bytes, the frame has {size}"
    offsets = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    if offsets[0] != table:
        return f"first offset {offsets[0]} is not the end of the offset table ({table})"
    if any(b < a for a, b in zip(offsets, offsets[1:])):
        return "offsets decrease"
    if offsets[-1] > size:
        return f"last offset {offsets[-1]} past the frame's {size} bytes"
    try:
        bytes(frame[offsets[0] : offsets[1]]).decode("utf-8")
    except UnicodeDecodeError:
        return "channel name is not UTF-8"
    return None


class RateLimit:
    """A token bucket: ``allow()`` is True for at most ``burst`` calls at once, refilled at ``per_second``."""

    def __init__(self, burst: float, per_second: float, clock=time.monotonic) -> None:
        self.burst, self.per_second, self.clock = float(burst), float(per_second), clock
        self.tokens, self.last = float(burst), clock()

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.per_second)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def message_kind(frame: bytes) -> tuple[str, str, dict]:
    """(msg_type, comm method or target, content) of a checked v1 frame (:func:`v1_frame_problem` is None);
    ("", "", {}) when its header or content is not JSON."""
    from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1

    try:
        _, parts = deserialize_msg_from_ws_v1(bytes(frame))
        msg_type = json.loads(parts[0]).get("msg_type", "")
        content = json.loads(parts[3]) if len(parts) > 3 else {}
    except (ValueError, IndexError, AttributeError):
        return "", "", {}
    if not isinstance(content, dict):
        return str(msg_type), "", {}
    data = _dict(content.get("data"))
    what = content.get("target_name", "") if msg_type == "comm_open" else data.get("method", "")
    return str(msg_type), str(what), content


def comm_open_problem(content: dict) -> str | None:
    """Why a page's ``comm_open`` is refused, or None: only the widget manager's control comm and widgets of the
    panel's own kinds (:data:`PANEL_MODELS`)."""
    target = content.get("target_name")
    if target == "jupyter.widget.control":
        return None
    if target != "jupyter.widget":
        return f"comm target {str(target)[:40]!r}"
    model = _dict(_dict(content.get("data")).get("state")).get("_model_name")
    return None if model in PANEL_MODELS else f"widget kind {str(model)[:40]!r}"


def process_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MB (psutil if installed, else Linux /proc); None when gone."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - psutil.Error: no such process (or not ours)
        return None
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def kernels_over(pids: dict[str, int], limit_mb: float) -> dict[str, float]:
    """kernel id -> MB for each kernel process (``pids``: kernel id -> pid) whose resident memory passes
    ``limit_mb``."""
    over = {}
    for kid, pid in pids.items():
        mb = process_mb(pid)
        if mb is not None and mb > limit_mb:
            over[kid] = mb
    return over


def _current_request():
    """The tornado request being handled (jupyter_server's CallContext), or None."""
    try:
        from jupyter_server.base.call_context import CallContext

        handler = CallContext.get(CallContext.JUPYTER_HANDLER)
    except Exception:  # outside a request
        return None
    return getattr(handler, "request", None)


def _refusal(status: int, text: str) -> web.HTTPError:
    """An HTTPError whose page (Voila's error.html shows the reason) says ``text``."""
    return web.HTTPError(status, text.replace("%", "%%"), reason=text)


class CappedKernelManager(AsyncMappingKernelManager):
    """A mapping kernel manager that starts at most ``max_kernels`` kernels at a time (HTTP 503 page past it)."""

    max_kernels = Integer(DEFAULT_MAX_KERNELS, config=True, help="most kernels (open app pages) at a time")
    allow_remote_hosts = Bool(False, config=True, help="accept any Host header (the app serves another address)")
    local_hostnames = List(Unicode(), ["localhost"], config=True, help="host names accepted besides loopback IPs")
    header_timeout = Float(HEADER_TIMEOUT_S, config=True, help="seconds a client may take to send a request's headers")
    max_kernel_mb = Float(MAX_KERNEL_MB, config=True, help="a kernel whose resident memory passes this is stopped")
    _starting = 0
    _memory_check: PeriodicCallback | None = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        app = self.parent
        if app is not None and hasattr(app, "tornado_settings"):  # applied by Voila.start() after this
            app.tornado_settings = {
                **app.tornado_settings,
                "allow_remote_access": bool(self.allow_remote_hosts),
                "local_hostnames": list(self.local_hostnames),
                "websocket_max_message_size": MAX_INCOMING_BYTES,  # tornado closes a connection sending more
            }
            app.listen = functools.partial(_listen_with_header_timeout, app, app.listen, float(self.header_timeout))

    async def start_kernel(self, *args, kernel_id=None, **kwargs):
        if kernel_id is None:  # a new kernel (not a restart)
            request = _current_request()
            site = request.headers.get("Sec-Fetch-Site", "") if request is not None else ""
            if site.strip().lower() not in ALLOWED_FETCH_SITES:  # cross-site, same-site (another port), ...
                raise _refusal(403, "Pages of other web sites may not open the app; open its address yourself")
            if len(self._kernels) + self._starting >= self.max_kernels:
                self.log.warning("refusing a kernel: %d running (cap %d)", len(self._kernels), self.max_kernels)
                raise _refusal(
                    503,
                    f"The app already serves {self.max_kernels} open pages, its limit (gsoc-helpers "
                    "app --max-sessions); close one of them or try again in a few minutes",
                )
        self._starting += 1
        try:
            started = await super().start_kernel(*args, kernel_id=kernel_id, **kwargs)
        finally:
            self._starting -= 1
        if self._memory_check is None:  # the server's loop runs now
            self._memory_check = PeriodicCallback(self._stop_kernels_over_ceiling, MEMORY_CHECK_S * 1000)
            self._memory_check.start()
        return started

    def kernel_pids(self) -> dict[str, int]:
        """kernel id -> process id of every running kernel (local kernels only)."""
        pids = {}
        for kid in list(self._kernels):
            pid = getattr(getattr(self._kernels[kid], "provisioner", None), "pid", None)
            if isinstance(pid, int):
                pids[kid] = pid
        return pids

    async def _stop_kernels_over_ceiling(self) -> None:
        for kid, mb in kernels_over(self.kernel_pids(), self.max_kernel_mb).items():
            self.log.warning("stopping kernel %s: %.0f MB, over its %.0f MB ceiling", kid, mb, self.max_kernel_mb)
            try:
                await self.shutdown_kernel(kid, now=True)
            except Exception as err:  # noqa: BLE001 - already gone
                self.log.warning("could not stop kernel %s: %s", kid, err)


def _listen_with_header_timeout(voila_app, listen, header_timeout: float) -> None:
    """Voilà's ``listen`` with the tornado HTTP server's header-read timeout (``idle_connection_timeout``: the
    headers of each request, the first and those of a kept-alive connection, must arrive within it)."""
    plain = voila_app.app.listen  # the tornado Application, made by Voila.start() just before listen()
    voila_app.app.listen = functools.partial(plain, idle_connection_timeout=header_timeout)
    listen()


class V1OnlyWebsocketConnection(ZMQChannelsWebsocketConnection):
    """Kernel websocket connection that refuses every protocol but v1 (HTTP 400 before the upgrade), a connection
    past ``MAX_CONNECTIONS_PER_KERNEL`` (HTTP 429), and bounds what each connection may ask and hold (module doc)."""

    max_connections = Integer(MAX_CONNECTIONS_PER_KERNEL, config=True, help="websockets per kernel")
    max_queued_bytes = Integer(MAX_QUEUED_BYTES, config=True, help="unsent bytes before a connection is closed")
    _refused = False
    _slow = False
    _comm_opens = 0
    _limits: dict[tuple[str, str], RateLimit] | None = None

    def _connections(self) -> int:
        return int(getattr(self.multi_kernel_manager, "_kernel_connections", {}).get(self.kernel_id, 0))

    def _offered(self) -> list[str]:
        header = self.websocket_handler.request.headers.get("Sec-WebSocket-Protocol", "")
        return [p.strip() for p in header.split(",") if p.strip()]

    async def prepare(self):
        if V1_PROTOCOL not in self._offered():
            self.log.warning("refused a kernel websocket without the %s protocol", V1_PROTOCOL)
            text = f"Only the {V1_PROTOCOL} kernel websocket protocol is served"
            self.websocket_handler.set_status(400, reason=text)
            raise web.Finish(text + "\n")  # a plain answer: the error template needs settings websockets lack
        if self._connections() >= self.max_connections:
            self.log.warning("refused a websocket: kernel %s has %d connections", self.kernel_id, self._connections())
            text = f"This page already has {self.max_connections} connections open; close one"
            self.websocket_handler.set_status(429, reason=text)
            raise web.Finish(text + "\n")
        self._limits = {}
        return await super().prepare()

    def connect(self):
        if self._connections() >= self.max_connections:  # several passed prepare() at once
            self._refused = True
            self.websocket_handler.close(1013, "too many connections to this page's kernel")
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)  # the handler awaits what connect() returns
            return done
        return super().connect()

    def disconnect(self):
        if not self._refused:  # a refused connection never counted itself
            super().disconnect()

    def _queued_bytes(self) -> int:
        stream = getattr(getattr(self.websocket_handler, "ws_connection", None), "stream", None)
        return len(getattr(stream, "_write_buffer", ()) or ())

    def _drop_slow_reader(self) -> bool:
        """Close this connection when more than ``MAX_QUEUED_BYTES`` wait to be sent to it; True when closed."""
        queued = self._queued_bytes()
        if self._slow or queued <= self.max_queued_bytes:
            return self._slow
        self._slow = True
        self.log.warning("closing a websocket that does not read: %d bytes queued", queued)
        stream = getattr(getattr(self.websocket_handler, "ws_connection", None), "stream", None)
        if stream is not None:
            stream.close()  # frees the queue now (a close frame would wait behind it)
        return True

    def _allowed(self, method: str, comm_id: str) -> bool:
        """Within the rate of ``method`` requests to the widget ``comm_id`` (:data:`STATE_RATE`)?"""
        limits = self._limits if self._limits is not None else {}
        key = (method, comm_id[:64])
        if key not in limits:
            if len(limits) >= MAX_RATE_KEYS:  # made-up comm ids
                return False
            limits[key] = RateLimit(*STATE_RATE)
        self._limits = limits
        return limits[key].allow()

    def _incoming_problem(self, frame) -> str | None:
        problem = v1_frame_problem(frame)
        if problem is not None:
            return f"malformed v1 frame: {problem}"
        if len(frame) > MAX_INCOMING_BYTES:
            return f"a frame of {len(frame)} bytes (at most {MAX_INCOMING_BYTES})"
        msg_type, what, content = message_kind(frame)
        if msg_type == "comm_msg" and what in STATE_REQUESTS and not self._allowed(what, str(content.get("comm_id"))):
            return f"{what} over its rate ({STATE_RATE[0]:g} at once, then one per {1 / STATE_RATE[1]:g} s per widget)"
        if msg_type == "comm_open":
            self._comm_opens += 1
            if self._comm_opens > MAX_COMM_OPENS:
                return f"comm_open number {self._comm_opens} (at most {MAX_COMM_OPENS} per connection)"
            return comm_open_problem(content)
        return None

    def handle_incoming_message(self, incoming_msg) -> None:
        if self.subprotocol != V1_PROTOCOL:
            return
        problem = self._incoming_problem(incoming_msg)
        if problem is not None:
            self.log.warning("dropped a kernel websocket frame: %s", problem)
            return
        super().handle_incoming_message(incoming_msg)

    def handle_outgoing_message(self, stream, outgoing_msg) -> None:
        if self.subprotocol == V1_PROTOCOL and not self._drop_slow_reader():
            super().handle_outgoing_message(stream, outgoing_msg)
            self._drop_slow_reader()  # what this message left queued counts at once


def template_static_path_ok(path: str) -> bool:
    """True for a decoded template static path ``<template>/static/<file>`` that stays so once normalised (no
    ``..`` part)."""
    parts = path.replace("\\", "/").split("/")
    norm = os.path.normpath(path).split(os.sep)
    return len(parts) >= 3 and parts[1] == "static" and ".." not in parts and len(norm) >= 3 and norm[1] == "static"


def guard_template_static() -> None:
    """Answer 404 for a template static path Voilà cannot split (:func:`template_static_path_ok`), instead of the
    500 of its unhandled ValueError; done once, in the server process that loads this module."""
    try:
        from voila.static_file_handler import TemplateStaticFileHandler
    except ImportError:  # no Voilà: nothing to guard
        return
    if getattr(TemplateStaticFileHandler, "_gsoc_guarded", False):
        return
    parse = TemplateStaticFileHandler.parse_url_path

    def parse_url_path(self, path):
        if not template_static_path_ok(path):
            raise web.HTTPError(404)
        return parse(self, path)

    TemplateStaticFileHandler.parse_url_path = parse_url_path  # type: ignore[method-assign]
    TemplateStaticFileHandler._gsoc_guarded = True  # type: ignore[attr-defined]


guard_template_static()
