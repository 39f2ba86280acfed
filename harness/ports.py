"""Ports on the loopback interface: one free to listen on, and waiting until a process listens."""

import socket
import subprocess
import time
from pathlib import Path
from typing import Any


class NotListeningError(RuntimeError):
    """The process exited, or did not listen in time; the message carries its output."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int,
    process: subprocess.Popen[Any],
    what: str,
    *,
    log: Path | None = None,
    timeout: float = 60,
) -> None:
    """Return once `process` accepts connections on `port`; its output comes from `log` if given,
    else from its stdout pipe."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text() if log else process.stdout.read() if process.stdout else ""
            raise NotListeningError(f"{what} exited with {process.returncode}:\n{output}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    output = log.read_text() if log else ""
    raise NotListeningError(
        f"{what} did not listen on port {port} within {timeout:.0f} s\n{output}"
    )
