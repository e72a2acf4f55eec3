"""The web app survives its visitors (issue #21), against the real Voilà server on 127.0.0.1: forged Host headers
and cross-site page loads start no kernel, a cap on open pages answers a clear 503 page, idle kernels are culled,
the legacy JSON kernel websocket (whose binary messages made Voilà 0.5 loop without end) is refused while the v1
protocol serves the image's ``request_state`` with bounded server memory, and SIGTERM/SIGINT leave nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from gsoc_helpers.app.checks import V1_PROTOCOL
from gsoc_helpers.app.server import app_environment, check_port_free, descendants, voila_command

pytest.importorskip("voila")
psutil = pytest.importorskip("psutil")


def test_command_line_guards():
    from gsoc_helpers.app.server import is_loopback

    cmd = voila_command(9000)
    for flag in (
        "--CappedKernelManager.max_kernels=4",
        "--CappedKernelManager.allow_remote_hosts=False",
        "--MappingKernelManager.cull_idle_timeout=180",
        "--MappingKernelManager.cull_connected=True",  # a silent open page does not hold its slot forever
        "--CappedKernelManager.header_timeout=20.0",
        "--Voila.kernel_websocket_connection_class=gsoc_helpers.app.guard.V1OnlyWebsocketConnection",
        "--VoilaConfiguration.multi_kernel_manager_class=gsoc_helpers.app.guard.CappedKernelManager",
    ):
        assert flag in cmd, flag
    assert "--CappedKernelManager.allow_remote_hosts=True" in voila_command(9000, "0.0.0.0")  # the user opted in
    assert [is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost", "0.0.0.0", "", "10.0.0.1")] == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    with pytest.raises(ValueError, match="max sessions"):
        voila_command(9000, max_sessions=0)
    with pytest.raises(ValueError, match="header seconds"):
        voila_command(9000, header_seconds=0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "the app server did not start"
            time.sleep(0.2)


def _kernels(pid: int) -> list[int]:
    """pids of the ipykernel processes below ``pid``."""
    out = []
    for k in descendants(pid):
        try:
            if "ipykernel" in " ".join(psutil.Process(k).cmdline()):
                out.append(k)
        except psutil.Error:
            pass
    return out


def _get(url: str, headers: dict | None = None, timeout: float = 120) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@contextlib.contextmanager
def serving(cmd: list[str], port: int, tmp_path) -> Iterator[subprocess.Popen]:
    """The Voilà server ``cmd`` (listening on ``port``, log in ``tmp_path/voila.log``) until the block ends; a
    server that ignores SIGTERM fails the test."""
    with open(tmp_path / "voila.log", "wb") as fh:
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=app_environment(tmp_path / "out"), cwd=tmp_path
        )
        try:
            _wait_listening(port, proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                pytest.fail("the Voilà server ignored SIGTERM")


@pytest.fixture
def guarded_server(tmp_path):
    """The app's Voilà server: at most 1 open page, kernels culled after 9 s without messages, request headers
    within 2 s."""
    port = _free_port()
    with serving(voila_command(port, max_sessions=1, idle_minutes=0.15, header_seconds=2), port, tmp_path) as proc:
        yield port, proc


def _ws_msg(msg_type: str, content: dict, session: str) -> dict:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "",
            "session": session,
            "date": "",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
    }


async def _guards(port: int, pid: int) -> dict:
    """Load a page, keep its kernel connected over the v1 websocket, meanwhile: the cap page, the legacy protocol,
    every widget's request_state; then close and wait for the culler."""
    from jupyter_server.services.kernels.connection.base import (
        deserialize_msg_from_ws_v1,
        serialize_msg_to_ws_v1,
    )
    from tornado.httpclient import HTTPClientError
    from tornado.websocket import websocket_connect

    base, server, result = f"http://127.0.0.1:{port}/", psutil.Process(pid), {}
    code, page = await asyncio.to_thread(_get, f"http://localhost:{port}/")
    assert code == 200 and len(_kernels(pid)) == 1
    kernel = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page).group(1)
    session = uuid.uuid4().hex
    url = f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels?session_id={session}"
    ws = await websocket_connect(url, subprotocols=[V1_PROTOCOL])  # what Voila's page does: the kernel stays
    assert ws.selected_subprotocol == V1_PROTOCOL
    t0 = time.monotonic()
    result["over_cap"] = await asyncio.to_thread(_get, base, None, 30)  # a clear page at once, not a hang
    result["over_cap_s"] = time.monotonic() - t0
    result["kernels_at_cap"] = len(_kernels(pid))
    try:  # the legacy JSON protocol: refused before the upgrade
        await websocket_connect(url)
        result["legacy"] = "accepted"
    except HTTPClientError as err:
        result["legacy"] = err.code

    def pack(msg: dict) -> bytes:
        parts = [json.dumps(msg[k]).encode() for k in ("header", "parent_header", "metadata", "content")]
        return serialize_msg_to_ws_v1(parts, "shell")

    rss0 = server.memory_info().rss
    for frame in _bad_frames(pack(_ws_msg("kernel_info_request", {}, session))):  # dropped before they are parsed
        await ws.write_message(frame, binary=True)
    await asyncio.sleep(2)
    growth = (server.memory_info().rss - rss0) / 2**20
    assert growth < 25, f"the server grew {growth:.0f} MB after malformed frames"  # unguarded: +25-38 MB/s
    result["after_bad_frames"] = await asyncio.to_thread(_get, base, None, 30)
    result["bad_frames_growth_mb"] = growth
    await ws.write_message(pack(_ws_msg("comm_info_request", {"target_name": "jupyter.widget"}, session)), binary=True)
    rss0 = server.memory_info().rss
    comms, replies, buffered = None, 0, 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (comms is None or replies < len(comms)):
        raw = await asyncio.wait_for(ws.read_message(), 30)
        channel, parts = deserialize_msg_from_ws_v1(raw)
        header, content = json.loads(parts[0]), json.loads(parts[3])
        if header["msg_type"] == "comm_info_reply":
            comms = list(content["comms"])
            for cid in comms:  # what the page asks each widget for; the image answers with a binary buffer
                await ws.write_message(
                    pack(_ws_msg("comm_msg", {"comm_id": cid, "data": {"method": "request_state"}}, session)),
                    binary=True,
                )
        elif header["msg_type"] == "comm_msg" and content["data"].get("method") == "update":
            replies += 1
            buffered += len(parts) > 4
    await asyncio.sleep(2)  # the loop of the legacy path grew ~30 MB/s here
    result.update(
        comms=len(comms or ()), replies=replies, buffered=buffered, growth_mb=(server.memory_info().rss - rss0) / 2**20
    )
    deadline = time.monotonic() + 40  # the page stays connected but silent: culled after 9 s idle all the same
    while _kernels(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    result["kernels_after_idle"] = len(_kernels(pid))
    ws.close()
    return result


def _bad_frames(good: bytes) -> list[bytes]:
    """Malformed v1 kernel websocket frames (and one text frame) made from the valid frame ``good``."""
    count = int.from_bytes(good[:8], "little")
    table = bytearray(good)
    table[8 * count : 8 * count + 8] = (len(good) + 1000).to_bytes(8, "little")  # last offset past the end
    zeros = bytearray(good)
    zeros[8 : 8 * (count + 1)] = bytes(8 * count)  # every offset zero
    backwards = bytearray(good)
    backwards[16:24], backwards[24:32] = good[24:32], good[16:24]  # offsets decrease
    return [
        b"\xff" * 7 + b"\x3f" + b"\0" * 8,  # an offset count of 4.6e18 in 16 bytes (issue #29)
        (2**31).to_bytes(8, "little") + good[8:],  # a count consistent with nothing
        good[:5],  # shorter than the count
        good[: 8 * count],  # the offset table cut short
        bytes(table),
        bytes(zeros),
        bytes(backwards),
        b"",
    ]


@pytest.mark.slow
def test_app_server_guards(guarded_server):
    port, proc = guarded_server
    base = f"http://127.0.0.1:{port}/"
    code, _ = _get(base, {"Host": f"evil.example:{port}"})  # DNS rebinding / forged Host
    assert code == 403 and _kernels(proc.pid) == []
    for site in ("cross-site", "same-site"):  # another site's <img>; a page on another localhost port
        code, page = _get(base, {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "no-cors"})
        assert code == 403 and "other web sites" in page and _kernels(proc.pid) == [], site
    r = asyncio.run(_guards(port, proc.pid))
    assert r["over_cap"][0] == 503 and "its limit" in r["over_cap"][1] and r["over_cap_s"] < 10, r
    assert r["kernels_at_cap"] == 1 and r["legacy"] == 400, r
    assert r["after_bad_frames"][0] == 503, r  # the server still answers (the cap page: the kernel is connected)
    assert r["comms"] > 0 and r["replies"] == r["comms"] and r["buffered"] >= 1 and r["growth_mb"] < 50, r
    assert r["kernels_after_idle"] == 0, r


@pytest.mark.slow
def test_dripped_headers_are_cut_off(guarded_server):
    """A few connections that send their request headers one byte at a time are closed by the server once the
    header timeout (2 s here) has passed; the server answers the next request."""
    port, _ = guarded_server
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(4)]
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode()
    closed: set[int] = set()
    deadline = time.monotonic() + 30
    for i in range(len(request) + 200):
        if len(closed) == len(socks) or time.monotonic() > deadline:
            break
        for k, s in enumerate(socks):
            if k in closed:
                continue
            try:
                s.sendall(request[i : i + 1] or b"x")
                s.settimeout(0.05)
                if s.recv(1024) == b"":
                    closed.add(k)
            except TimeoutError:
                pass
            except OSError:  # reset by the server
                closed.add(k)
        time.sleep(0.25)
    for s in socks:
        s.close()
    assert len(closed) == len(socks), f"{len(socks) - len(closed)} dripping connections were still open after 30 s"
    assert _get(f"http://127.0.0.1:{port}/", timeout=60)[0] in (200, 503)  # answered: a page or the cap page


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_app_command_leaves_nothing_after_a_signal(sig, tmp_path):
    port = _free_port()
    env = app_environment(tmp_path / "out")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gsoc_helpers", "app", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, proc)
        assert _get(f"http://127.0.0.1:{port}/")[0] == 200
        tree = descendants(proc.pid)
        assert len(_kernels(proc.pid)) == 1 and len(tree) >= 2  # Voilà and its kernel
        proc.send_signal(sig)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    left = [p for p in tree if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert left == []
    with socket.socket() as s:  # the port is free again: a server can listen on it (as tornado binds)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
    check_port_free("127.0.0.1", port)  # and `gsoc-helpers app` may start on it again at once


def test_v1_frame_check_accepts_what_jupyter_server_writes_and_nothing_it_cannot_parse():
    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

    from gsoc_helpers.app.checks import v1_frame_problem

    parts = [b'{"msg_type": "kernel_info_request"}', b"{}", b"{}", b"{}", b"buffer"]
    good = serialize_msg_to_ws_v1(parts, "shell")
    assert v1_frame_problem(good) is None and v1_frame_problem(bytearray(good)) is None
    for frame in [b"\xff" * 7 + b"\x3f" + b"\0" * 8, good[:5], good[:40], "text", b"", good[:-1]]:
        assert v1_frame_problem(frame) is not None, frame[:16]
