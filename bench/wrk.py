"""The load: wrk, one Lua script per scenario, and what wrk reports of a run."""

import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

AUTHORS, BOOKS = 500, 5000
PAGE = 50

SCRIPTS = {
    "get one": f"""
request = function()
  return wrk.format("GET", "/books/" .. math.random(1, {BOOKS}))
end
""",
    # Every name is new (per run, thread and request): no request meets the unique constraint.
    "create": """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  prefix = args[1] .. "-" .. id
end
counter = 0
request = function()
  counter = counter + 1
  local body = '{"name": "bench ' .. prefix .. ' ' .. counter .. '"}'
  return wrk.format("POST", "/authors", {["Content-Type"] = "application/json"}, body)
end
""",
    "list 50": f"""
request = function()
  return wrk.format("GET", "/books?limit={PAGE}&after=" .. math.random(0, {BOOKS - PAGE}))
end
""",
}
UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


@dataclass(frozen=True)
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers, connection errors and timeouts
    error_kinds: str  # what wrk said of them, or ""
    requests: int  # answered in the round, whatever their status


def find_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit(
            "The benchmark drives the service with wrk, which is not installed: "
            "apt-get install wrk (Debian, Ubuntu) or brew install wrk (macOS)."
        )
    return wrk


def milliseconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"wrk printed a latency this script does not understand: {text!r}")
    return float(match[1]) * UNIT_MS[match[2]]


def field(pattern: str, output: str) -> str:
    match = re.search(pattern, output)
    if match is None:
        raise SystemExit(f"wrk's output lacks {pattern!r}:\n{output}")
    return match[1]


def run(url: str, script: Path, *, seconds: int, connections: int) -> Result:
    threads = min(2, connections)
    command = [find_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    # The run's own id goes to the script (after "--"): the create scenario makes names from it.
    run_id = uuid.uuid4().hex
    output = subprocess.run(
        [*command, "-s", str(script), url, "--", run_id], capture_output=True, text=True, check=True
    ).stdout
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    kinds = [match[0] for match in (socket_errors, non_2xx) if match]
    return Result(
        requests_per_second=float(field(r"Requests/sec:\s+([\d.]+)", output)),
        p50_ms=milliseconds(field(r"\s50%\s+(\S+)", output)),
        p99_ms=milliseconds(field(r"\s99%\s+(\S+)", output)),
        errors=errors + (int(non_2xx[1]) if non_2xx else 0),
        error_kinds="; ".join(kinds),
        requests=int(field(r"(\d+) requests in", output)),
    )
