"""The servers under test, each started as the container image starts the service."""

import json
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from harness.ports import free_port
from harness.project import Project, home, unprivileged
from harness.shipfiles import dockerfile, image_command

from .inprocess.cpu import cpu_seconds
from .wrk import BOOKS, PAGE

# What every server must answer alike before anything is measured.
SAME_ANSWERS = [
    "/books/1",
    f"/books/{BOOKS}",
    f"/books?limit={PAGE}&after=123",
    f"/books?limit={PAGE}&after={BOOKS - 10}",  # the last page: no next link
    f"/books/{BOOKS + 1}",
]


class Server:
    """The Dockerfile's CMD (uvicorn --factory APP ...) with another app, host and port, run with
    the project's virtual environment as the project's account, WEB_CONCURRENCY workers."""

    def __init__(self, name: str, project: Project, app: str, *, env: dict[str, str]) -> None:
        self.name = name
        self.project = project
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = self.image_command(app)
        self.env = {**project.env, **home(), **env}
        self.process: subprocess.Popen[bytes] | None = None
        self.log: Path | None = None

    def image_command(self, app: str) -> list[str]:
        argv = image_command(dockerfile(self.project))
        if argv[:2] != ["uvicorn", "--factory"]:
            raise SystemExit(f"The image runs {argv}; this benchmark knows uvicorn --factory only")
        replaced = {"--factory": app, "--host": "127.0.0.1", "--port": str(self.port)}
        for option, value in replaced.items():
            argv[argv.index(option) + 1] = value
        return [str(self.project.path / ".venv" / "bin" / "python"), "-m", *argv]

    def __enter__(self) -> "Server":
        # The access log is on, as in the image: a line a request, into a file of its own (in a
        # terminal it would bury the bench's table, and the terminal's speed would be measured).
        handle, log = tempfile.mkstemp(prefix="bench-server-", suffix=".log")
        self.log = Path(log)
        with open(handle, "wb") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.project.path,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                **unprivileged(),
            )
        try:
            self.wait_until_ready()
        except BaseException:
            self.__exit__(None, None, None)  # the message already quotes the log
            raise
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
        if self.log is not None:
            self.log.unlink(missing_ok=True)

    def last_lines(self, count: int = 20) -> str:
        """The end of what the server wrote: why it stopped, say."""
        if self.log is None or not self.log.is_file():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-count:])

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far: its process and its workers."""
        assert self.process is not None
        return cpu_seconds([self.process.pid], with_children=True)

    def wait_until_ready(self, seconds: float = 60) -> None:
        assert self.process is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"{self.name} exited with {self.process.returncode}:\n{self.last_lines()}"
                )
            try:
                if httpx.get(f"{self.url}/books/1", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise SystemExit(
            f"{self.name} did not answer GET /books/1 within {seconds} s:\n{self.last_lines()}"
        )


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


def without_request_id(body: Any) -> Any:
    """An error body with its request id blanked: each request gets its own."""
    return {**body, "request_id": ""} if isinstance(body, dict) and "request_id" in body else body


def disagreements(ceiling: Server, service: Server) -> list[str]:
    """How the two servers' answers to every scenario's requests differ (nothing if alike)."""
    differences = []
    for path in SAME_ANSWERS:
        first, second = (httpx.get(server.url + path) for server in (ceiling, service))
        answers = [(a.status_code, without_request_id(a.json())) for a in (first, second)]
        if answers[0] != answers[1]:
            differences.append(f"GET {path}: {first.text} <> {second.text}")
    # Names new to the database: the service is checked against each ceiling in turn.
    sent = [f"bench check {server.name} {uuid.uuid4().hex}" for server in (ceiling, service)]
    first, second = (
        httpx.post(f"{server.url}/authors", json={"name": name})
        for server, name in zip((ceiling, service), sent, strict=True)
    )
    names = [answer.json().pop("name", None) for answer in (first, second)]
    if (
        (first.status_code, second.status_code) != (201, 201)
        or names != sent
        or shape({**first.json(), "name": ""}) != shape({**second.json(), "name": ""})
    ):
        differences.append(f"POST /authors: {first.text} <> {second.text}")
    return differences
