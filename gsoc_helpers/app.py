"""The web app: the generation panel (:class:`gsoc_helpers.widgets.GeneratorPanel`) served by Voilà.

``python -m gsoc_helpers app`` (or ``make app``) runs ``voila gsoc_helpers/app.ipynb`` on 127.0.0.1; open the
printed address.  The notebook ships inside the package, so an installed wheel serves the same page.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APP_NOTEBOOK = Path(__file__).with_name("app.ipynb")


def voila_command(port: int = 8866, host: str = "127.0.0.1") -> list[str]:
    """The command line that serves the app (no browser opened, tracebacks hidden from the page)."""
    if not 0 <= int(port) <= 65535:
        raise ValueError(f"port must be within 0..65535, got {port}")
    return [sys.executable, "-m", "voila", str(APP_NOTEBOOK), f"--port={int(port)}", f"--Voila.ip={host}",
            "--no-browser", "--VoilaConfiguration.show_tracebacks=False"]


def app_environment(output_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """The server's (and so the kernel's) environment: saved grids go to an absolute output folder
    (``output_dir``, else the project's output folder as seen from here)."""
    from .config import OUTPUT_DIR_ENV, get_output_dir

    env = dict(os.environ)
    env[OUTPUT_DIR_ENV] = str(get_output_dir(output_dir).resolve())
    return env


def check_port_free(host: str, port: int) -> None:
    """OSError (one line) when ``host:port`` cannot be bound, e.g. another server uses it; port 0 is always free."""
    import socket

    if int(port) == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, int(port)))
        except OSError as err:
            raise OSError(f"cannot serve on {host}:{port} ({err.strerror or err}); another program may use it: "
                          "pick another with --port") from None


def serve(host: str = "127.0.0.1", port: int = 8866) -> int:
    """Run the Voilà server in the foreground until interrupted; returns its exit status."""
    try:
        import voila  # noqa: F401
    except ImportError:
        raise FileNotFoundError("the web app needs Voilà: pip install 'gsoc_helpers[notebooks]'") from None
    check_port_free(host, port)
    print(f"serving the generation panel at http://{host}:{port}/ (Ctrl+C stops)")
    try:
        return subprocess.call(voila_command(port, host), env=app_environment())
    except KeyboardInterrupt:
        return 0
