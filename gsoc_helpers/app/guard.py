"""Server-side guards of the web app, loaded by the Voilà server process (see :func:`gsoc_helpers.app.server.voila_command`).

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
  before the websocket opens, and every incoming v1 frame is checked (:func:`gsoc_helpers.app.checks.v1_frame_problem`) before
  jupyter_server's parser sees it: the parser trusts the frame's 8-byte offset count, so one 16-byte frame counting
  4.6e18 offsets sent the server into the same loop.  A malformed frame is dropped with a warning.
* Bounds per kernel, not just per page (what one local page could otherwise make the server and kernel hold):
  at most ``MAX_CONNECTIONS_PER_KERNEL`` websockets per kernel; at most ``MAX_QUEUED_BYTES`` queued for one
  connection (a client that does not read is closed); incoming frames of at most ``MAX_INCOMING_BYTES``; the
  requests that make the kernel answer with widget state (``request_states``, ``request_state``) rate-limited
  per connection and widget (``STATE_RATE``); ``comm_open`` from the page only for the panel's widget kinds
  (``PANEL_MODELS``) and a few per connection; no messages buffered for a closed page; and each kernel stopped
  once its memory passes ``max_kernel_mb`` (limits and checks: :mod:`gsoc_helpers.app.checks`).

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

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from tornado.ioloop import PeriodicCallback
from traitlets import Bool, Float, Integer, List, Unicode

from .checks import (
    MAX_COMM_OPENS,
    MAX_CONNECTIONS_PER_KERNEL,
    MAX_INCOMING_BYTES,
    MAX_KERNEL_MB,
    MAX_QUEUED_BYTES,
    MAX_RATE_KEYS,
    MEMORY_CHECK_S,
    STATE_RATE,
    STATE_REQUESTS,
    V1_PROTOCOL,
    RateLimit,
    comm_open_problem,
    kernels_over,
    message_kind,
    template_static_path_ok,
    v1_frame_problem,
)
from .server import HEADER_TIMEOUT_S

DEFAULT_MAX_KERNELS = 4
ALLOWED_FETCH_SITES = ("", "same-origin", "none")  # no header: not a browser (or an old one)


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
        """Within the rate of ``method`` requests to the widget ``comm_id`` (``STATE_RATE``)?"""
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


def guard_template_static() -> None:
    """Answer 404 for a template static path Voilà cannot split , instead of the
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
