"""Server-side guards of the web app, loaded by the Voilà server process (see :func:`gsoc_helpers.app.voila_command`).

* :class:`CappedKernelManager` - at most ``max_kernels`` kernels (one per open page, ~800 MB each); a visitor over
  the cap, or a page requested by another web site (``Sec-Fetch-Site: cross-site``, e.g. a no-cors GET from a page
  the user visits), gets a short error page instead of a kernel.
* :class:`V1OnlyWebsocketConnection` - kernel websockets must speak ``v1.kernel.websocket.jupyter.org`` (what
  Voilà's own page uses).  Voilà 0.5's ``VoilaKernelWebsocketHandler.write_message`` parses every binary message
  with the v1 framing; a binary message of the legacy protocol (any widget message with buffers, e.g. the image's
  reply to ``request_state``) has a 4-byte big-endian header, so the first 8 bytes read as a huge little-endian
  count and the server builds an endless list in a loop that also blocks SIGTERM.  The legacy protocol is refused
  before the websocket opens.

Idle kernels (no page connected) are culled by jupyter_server's own culler (``MappingKernelManager.cull_*``).
Host headers are checked by jupyter_server's handlers (loopback addresses and ``local_hostnames`` only) once the
``allow_remote_access`` tornado setting, which Voilà sets to True, is turned off again: the manager, made by the Voilà
app as its child before the app applies ``Voila.tornado_settings``, puts its ``allow_remote_hosts`` there.
"""

from __future__ import annotations

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Bool, Integer, List, Unicode

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
DEFAULT_MAX_KERNELS = 4


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

    async def start_kernel(self, *args, kernel_id=None, **kwargs):
        if kernel_id is None:  # a new kernel (not a restart)
            request = _current_request()
            if request is not None and request.headers.get("Sec-Fetch-Site", "") == "cross-site":
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
        if self.subprotocol == V1_PROTOCOL:
            super().handle_incoming_message(incoming_msg)

    def handle_outgoing_message(self, stream, outgoing_msg) -> None:
        if self.subprotocol == V1_PROTOCOL:
            super().handle_outgoing_message(stream, outgoing_msg)
