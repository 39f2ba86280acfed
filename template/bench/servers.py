"""The two servers under test, started as the container image starts the service."""

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .wrk import BOOKS, PAGE

# What both servers must answer alike before anything is measured.
SAME_ANSWERS = [
    "/books/1",
    f"/books/{BOOKS}",
    f"/books?limit={PAGE}&after=123",
    f"/books?limit={PAGE}&after={BOOKS - 10}",  # the last page: no next link
    f"/books/{BOOKS + 1}",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`uvicorn --factory APP` with WEB_CONCURRENCY workers, as the Dockerfile's CMD runs it."""

    def __init__(self, app: str, *, env: dict[str, str], workers: int) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "WEB_CONCURRENCY": str(workers)}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def command(self) -> list[str]:
        """The Dockerfile's CMD, but this app, host and port, and this virtual environment."""
        args = ["--factory", self.app, "--host", "127.0.0.1", "--port", str(self.port)]
        return [sys.executable, "-m", "uvicorn", *args]

    def __enter__(self) -> "Server":
        # The access log is on, as in the image; its lines are dropped, errors still show.
        self.process = subprocess.Popen(self.command, env=self.env, stdout=subprocess.DEVNULL)
        self.wait_until_ready()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def wait_until_ready(self, seconds: float = 60) -> None:
        assert self.process is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.app} exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/books/1", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.app} did not answer GET /books/1 within {seconds} s")


@contextmanager
def profile(server: Server, output: Path | None) -> Iterator[None]:
    """Sample the server's processes with py-spy while the block runs (nothing if no output)."""
    if output is None:
        yield
        return
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: uv tool install py-spy (or pip install py-spy).")
    assert server.process is not None
    output.parent.mkdir(parents=True, exist_ok=True)
    # Collapsed stacks, one line each: speedscope.app and flamegraph.pl read them.
    command = [spy, "record", "--subprocesses", "--nonblocking", "--format", "raw"]
    command += ["--pid", str(server.process.pid), "--output", f"{output}.txt"]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        recorder.wait(timeout=60)


def shape(body: Any) -> str:
    """The JSON with every digit a 0: ids and times may differ, their form may not."""
    return re.sub(r"\d", "0", json.dumps(body))


def agree(ceiling: Server, service: Server) -> None:
    """Refuse to measure unless both servers answer every scenario's request alike."""
    differences = []
    for path in SAME_ANSWERS:
        first, second = (httpx.get(server.url + path) for server in (ceiling, service))
        if (first.status_code, first.json()) != (second.status_code, second.json()):
            differences.append(f"GET {path}: {first.text} <> {second.text}")
    first, second = (
        httpx.post(f"{server.url}/authors", json={"name": f"bench check {name}"})
        for name, server in (("ceiling", ceiling), ("service", service))
    )
    names = [answer.json().pop("name", None) for answer in (first, second)]
    if (
        (first.status_code, second.status_code) != (201, 201)
        or names != ["bench check ceiling", "bench check service"]
        or shape({**first.json(), "name": ""}) != shape({**second.json(), "name": ""})
    ):
        differences.append(f"POST /authors: {first.text} <> {second.text}")
    if differences:
        report = "\n".join(differences)
        raise SystemExit(f"The ceiling and the service answer differently:\n{report}")
