"""What the web app's server checks, as plain functions and limits (no server needed): the v1 kernel websocket frame
(:func:`v1_frame_problem`), the kind of a page's message (:func:`message_kind`, :func:`comm_open_problem`), a rate
(:class:`RateLimit`), a kernel's memory (:func:`kernels_over`) and a template static path
(:func:`template_static_path_ok`). :mod:`gsoc_helpers.app.guard` applies them in the Voilà server.
"""

from __future__ import annotations

import json
import os
import time

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
V1_MIN_OFFSETS = 6  # channel + header, parent header, metadata, content
V1_MAX_OFFSETS = 1024  # ... + buffers: a widget message has a few
MAX_CONNECTIONS_PER_KERNEL = 2  # Voila's page opens one; a reload may overlap the old one briefly
MAX_QUEUED_BYTES = 16 * 2**20  # unsent bytes one connection may hold on the server (the image state is ~1 MB)
MAX_INCOMING_BYTES = 256 * 2**10  # a page sends widget values and small requests, never images
MAX_COMM_OPENS = 4  # per connection: the page opens the widget manager's control comm once
MAX_KERNEL_MB = 3072  # resident memory of one kernel (the panel with both models: ~800 MB) before it is stopped
MEMORY_CHECK_S = 2.0
# Widget model kinds the panel (gsoc_helpers.app.widgets.GeneratorPanel) is made of: the only ones a page may open.
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
    if any(b < a for a, b in zip(offsets, offsets[1:], strict=False)):
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


def template_static_path_ok(path: str) -> bool:
    """True for a decoded template static path ``<template>/static/<file>`` that stays so once normalised (no
    ``..`` part)."""
    parts = path.replace("\\", "/").split("/")
    norm = os.path.normpath(path).split(os.sep)
    return len(parts) >= 3 and parts[1] == "static" and ".." not in parts and len(norm) >= 3 and norm[1] == "static"
