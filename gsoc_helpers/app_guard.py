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

Idle kernels are culled by jupyter_server's own culler (``MappingKernelManager.cull_*``), connected or not
(``cull_connected``): a page that keeps its websocket open but sends nothing holds its session slot only for the idle
time.
Host headers are checked by jupyter_server's handlers (loopback addresses and ``local_hostnames`` only) once the
``allow_remote_access`` tornado setting, which Voilà sets to True, is turned off again: the manager, made by the Voilà
app as its child before the app applies ``Voila.tornado_settings``, puts its ``allow_remote_hosts`` there.
"""

from __future__ import annotations

import functools

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Bool, Float, Integer, List, Unicode

from .app import HEADER_TIMEOUT_S

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
DEFAULT_MAX_KERNELS = 4
V1_MIN_OFFSETS = 6  # channel + header, parent header, metadata, content
V1_MAX_OFFSETS = 1024  # ... + buffers: a widget message has a few
ALLOWED_FETCH_SITES = ("", "same-origin", "none")  # no header: not a browser (or an old one)


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
    if any(b < a for a, b in zip(offsets, offsets[1:], strict=False)):
        return "offsets decrease"
    if offsets[-1] > size:
        return f"last offset {offsets[-1]} past the frame's {size} bytes"
    try:
        bytes(frame[offsets[0] : offsets[1]]).decode("utf-8")
    except UnicodeDecodeError:
        return "channel name is not UTF-8"
    return None


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
    _starting = 0

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        app = self.parent
        if app is not None and hasattr(app, "tornado_settings"):  # applied by Voila.start() after this
            app.tornado_settings = {
                **app.tornado_settings,
                "allow_remote_access": bool(self.allow_remote_hosts),
                "local_hostnames": list(self.local_hostnames),
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
            return await super().start_kernel(*args, kernel_id=kernel_id, **kwargs)
        finally:
            self._starting -= 1


def _listen_with_header_timeout(voila_app, listen, header_timeout: float) -> None:
    """Voilà's ``listen`` with the tornado HTTP server's header-read timeout (``idle_connection_timeout``: the
    headers of each request, the first and those of a kept-alive connection, must arrive within it)."""
    plain = voila_app.app.listen  # the tornado Application, made by Voila.start() just before listen()
    voila_app.app.listen = functools.partial(plain, idle_connection_timeout=header_timeout)
    listen()


class V1OnlyWebsocketConnection(ZMQChannelsWebsocketConnection):
    """Kernel websocket connection that refuses every protocol but v1 (HTTP 400 before the upgrade)."""

    def _offered(self) -> list[str]:
        header = self.websocket_handler.request.headers.get("Sec-WebSocket-Protocol", "")
        return [p.strip() for p in header.split(",") if p.strip()]

    async def prepare(self):
        if V1_PROTOCOL not in self._offered():
            self.log.warning("refused a kernel websocket without the %s protocol", V1_PROTOCOL)
            text = f"Only the {V1_PROTOCOL} kernel websocket protocol is served"
            self.websocket_handler.set_status(400, reason=text)
            raise web.Finish(text + "\n")  # a plain answer: the error template needs settings websockets lack
        return await super().prepare()

    def handle_incoming_message(self, incoming_msg) -> None:
        if self.subprotocol != V1_PROTOCOL:
            return
        problem = v1_frame_problem(incoming_msg)
        if problem is not None:
            self.log.warning("dropped a malformed v1 kernel websocket frame: %s", problem)
            return
        super().handle_incoming_message(incoming_msg)

    def handle_outgoing_message(self, stream, outgoing_msg) -> None:
        if self.subprotocol == V1_PROTOCOL:
            super().handle_outgoing_message(stream, outgoing_msg)
