"""The web app: the generation panel (:class:`gsoc_helpers.app.widgets.GeneratorPanel`) served by Voilà.

``python -m gsoc_helpers app`` (or ``make app``) runs ``voila gsoc_helpers/app/app.ipynb`` on 127.0.0.1; open the
printed address.  The notebook ships inside the package, so an installed wheel serves the same page.

The server is guarded (:mod:`gsoc_helpers.app.guard`): at most ``max_sessions`` kernels (about 800 MB each), kernels
idle for ``idle_minutes`` (no messages; a page may still be connected) are culled, request headers must arrive
within ``HEADER_TIMEOUT_S``, only the v1 kernel websocket protocol with every frame checked before it is parsed, the
connections, queued bytes, state requests, widget openings and memory of each kernel bounded, and
Host headers other than 127.0.0.1/localhost are refused unless the app is served on another address (``--host``).  SIGTERM,
SIGINT and SIGHUP are passed on to Voilà, which stops its kernels; whatever is left after a grace period is killed.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..config import OUTPUT_DIR_ENV, get_output_dir

APP_NOTEBOOK = Path(__file__).with_name("app.ipynb")
MAX_SESSIONS = 4  # open pages (kernels) at a time
IDLE_MINUTES = 3.0  # a kernel idle this long (no messages, a page connected or not) is stopped
HEADER_TIMEOUT_S = 20.0  # a request's headers must arrive within this (tornado's default: an hour)
STOP_GRACE_S = 15.0  # after SIGTERM, how long Voilà may take to stop its kernels


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def voila_command(
    port: int = 8866,
    host: str = "127.0.0.1",
    max_sessions: int = MAX_SESSIONS,
    idle_minutes: float = IDLE_MINUTES,
    header_seconds: float = HEADER_TIMEOUT_S,
) -> list[str]:
    """The command line that serves the app (no browser opened, tracebacks hidden from the page), guarded as the
    module doc says; served on a non-loopback ``host``, any Host header is accepted (the user opted in)."""
    if not 0 <= int(port) <= 65535:
        raise ValueError(f"port must be within 0..65535, got {port}")
    if int(max_sessions) < 1:
        raise ValueError(f"max sessions must be >= 1, got {max_sessions}")
    if not idle_minutes > 0:
        raise ValueError(f"idle minutes must be > 0, got {idle_minutes}")
    if not header_seconds > 0:
        raise ValueError(f"header seconds must be > 0, got {header_seconds}")
    idle_s = max(1, round(float(idle_minutes) * 60))
    return [
        sys.executable,
        "-m",
        "voila",
        str(APP_NOTEBOOK),
        f"--port={int(port)}",
        f"--Voila.ip={host}",
        "--no-browser",
        "--VoilaConfiguration.show_tracebacks=False",
        "--Voila.port_retries=0",  # the port asked for, or an error (not a neighbour the user does not know)
        "--VoilaConfiguration.multi_kernel_manager_class=gsoc_helpers.app.guard.CappedKernelManager",
        f"--CappedKernelManager.max_kernels={int(max_sessions)}",
        f"--CappedKernelManager.allow_remote_hosts={not is_loopback(host)}",
        f"--CappedKernelManager.header_timeout={float(header_seconds)}",
        f"--MappingKernelManager.cull_idle_timeout={idle_s}",
        "--MappingKernelManager.cull_connected=True",  # a silent open websocket does not hold a slot forever
        "--MappingKernelManager.buffer_offline_messages=False",  # a closed page's replies are not kept for it
        f"--MappingKernelManager.cull_interval={max(1, min(60, idle_s // 3))}",
        "--Voila.kernel_websocket_connection_class=gsoc_helpers.app.guard.V1OnlyWebsocketConnection",
    ]


def app_environment(output_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """The server's (and so the kernel's) environment: saved grids go to an absolute output folder
    (``output_dir``, else the project's output folder as seen from here)."""
    env = dict(os.environ)
    env[OUTPUT_DIR_ENV] = str(get_output_dir(output_dir).resolve())
    return env


def check_port_free(host: str, port: int) -> None:
    """OSError (one line) when ``host:port`` cannot be bound, e.g. another server uses it; port 0 is always free."""
    if int(port) == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        if os.name == "posix":  # as tornado binds: connections of a stopped server in TIME_WAIT do not block it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, int(port)))
        except OSError as err:
            raise OSError(
                f"cannot serve on {host}:{port} ({err.strerror or err}); another program may use it: "
                "pick another with --port"
            ) from None


def _start_time(pid: int) -> str | None:
    """A process's start time as text (tells a reused pid apart), None when there is no such process."""
    try:
        import psutil
    except ImportError:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        except (OSError, IndexError):
            return None
    try:
        return str(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def descendants(pid: int) -> dict[int, str]:
    """pid -> start time of every process below ``pid`` (psutil if installed, else Linux /proc)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            kids = [p.pid for p in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            kids = []
    else:
        parent = {}
        for entry in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent[int(entry.parent.name)] = int(entry.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
        kids, todo = [], [pid]
        while todo:
            found = [c for c, pp in parent.items() if pp == todo.pop()]
            kids += found
            todo += found
    return {k: t for k in kids if (t := _start_time(k)) is not None}


def _kill_left(procs: dict[int, str]) -> None:
    """SIGKILL each pid still alive as the same process (a reused pid is left alone)."""
    for pid, start in procs.items():
        if _start_time(pid) == start:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def serve(
    host: str = "127.0.0.1", port: int = 8866, max_sessions: int = MAX_SESSIONS, idle_minutes: float = IDLE_MINUTES
) -> int:
    """Run the Voilà server in the foreground until it stops or this process gets SIGTERM/SIGINT/SIGHUP (passed
    on to Voilà, which stops its kernels; anything of it left after :data:`STOP_GRACE_S` is killed). Returns 0 when
    stopped by a signal, else Voilà's exit status."""
    try:
        import voila  # noqa: F401
    except ImportError:
        raise FileNotFoundError("the web app needs Voilà: pip install 'gsoc_helpers[notebooks]'") from None
    check_port_free(host, port)
    cmd = voila_command(port, host, max_sessions, idle_minutes)
    print(
        f"serving the generation panel at http://{host}:{port}/ (at most {max_sessions} open pages; Ctrl+C stops)",
        flush=True,
    )
    stop: list[int] = []
    proc = subprocess.Popen(cmd, env=app_environment(), start_new_session=True)  # signals reach it only from here

    def forward(signum, frame):
        stop.append(signum)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM if len(stop) == 1 else signal.SIGKILL)

    names = [s for s in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)) if s is not None]
    old = {s: signal.signal(s, forward) for s in names}
    seen: dict[int, str] = {}
    try:
        while proc.poll() is None:
            seen.update(descendants(proc.pid))  # kernels are re-parented once Voila exits: remember them now
            deadline = time.monotonic() + 1.0
            while proc.poll() is None and time.monotonic() < deadline and not stop:
                time.sleep(0.05)
            if stop:
                try:
                    proc.wait(STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _kill_left(seen)
    return 0 if stop else int(proc.returncode)
